// Whether the client of a request has hung up while its answer is being
// computed. httplib 0.11 (Debian 12) hands handlers no socket and no
// "connection closed" test, so the connection is found by its address pair
// among the process' sockets, and peeked at.
#pragma once

#include <string>

namespace tern::serve {

class PeerWatch {
public:
    PeerWatch(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);
    // True once the peer has closed or reset the connection (pending
    // pipelined bytes count as alive). False when the socket was not found.
    bool gone() const;

private:
    int fd_ = -1;
};

}  // namespace tern::serve
