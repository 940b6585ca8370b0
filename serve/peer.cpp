#include "peer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

namespace tern::serve {

namespace {

// "ADDR", port of a socket address (IPv4 or IPv6), as httplib writes them.
bool same_endpoint(const sockaddr_storage& ss, const std::string& addr, int port) {
    char buf[INET6_ADDRSTRLEN] = {};
    int p = -1;
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        p = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        p = ntohs(a->sin6_port);
    } else {
        return false;
    }
    return p == port && addr == buf;
}

}  // namespace

PeerWatch::PeerWatch(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return;
    while (const dirent* e = readdir(d)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end) continue;
        sockaddr_storage mine{}, theirs{};
        socklen_t n1 = sizeof mine, n2 = sizeof theirs;
        // A TCP connection is the one socket with this address pair.
        if (getsockname(int(fd), reinterpret_cast<sockaddr*>(&mine), &n1) != 0) continue;
        if (!same_endpoint(mine, local_addr, local_port)) continue;
        if (getpeername(int(fd), reinterpret_cast<sockaddr*>(&theirs), &n2) != 0) continue;
        if (!same_endpoint(theirs, remote_addr, remote_port)) continue;
        fd_ = int(fd);
        break;
    }
    closedir(d);
}

bool PeerWatch::gone() const {
    if (fd_ < 0) return false;
    char c;
    const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;  // orderly shutdown
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace tern::serve
