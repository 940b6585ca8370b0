#include "clients.h"

#include <openssl/sha.h>

#include <fstream>

#include <fmt/core.h>

#include "tern/error.h"

namespace tern::serve {

namespace {

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Compares without stopping at the first difference, so the time taken says
// nothing about how much of a guessed key was right.
bool same_key(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace

std::vector<std::string> read_api_key_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error("--api-key-file " + path + ": cannot open the file");
    std::vector<std::string> keys;
    std::string line;
    while (std::getline(in, line)) {
        const std::string k = trim(line);
        if (!k.empty()) keys.push_back(k);
    }
    if (keys.empty()) throw Error("--api-key-file " + path + ": no key in the file (one key per line)");
    return keys;
}

std::string matching_key(const std::string& authorization, const std::vector<std::string>& keys) {
    const std::string prefix = "Bearer ";
    if (authorization.compare(0, prefix.size(), prefix) != 0) return "";
    const std::string given = authorization.substr(prefix.size());
    std::string found;
    for (const auto& k : keys)
        if (same_key(given, k)) found = k;
    return found;
}

std::string client_hash(const std::string& identity) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(identity.data()), identity.size(), digest);
    std::string hex;
    for (int i = 0; i < 8; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

int64_t RateLimiter::admit(const std::string& client, Clock::time_point now) {
    if (limit_ <= 0) return 0;
    std::lock_guard lk(m_);
    // Forget clients idle for a whole window now and then, so the map holds
    // only the clients of the last minute.
    if (now - last_sweep_ > kWindow) {
        for (auto it = seen_.begin(); it != seen_.end();)
            it = !it->second.empty() && now - it->second.back() < kWindow ? std::next(it) : seen_.erase(it);
        last_sweep_ = now;
    }
    std::deque<Clock::time_point>& times = seen_[client];
    while (!times.empty() && now - times.front() >= kWindow) times.pop_front();
    if (int64_t(times.size()) < limit_) {
        times.push_back(now);
        return 0;
    }
    const auto wait = times.front() + kWindow - now;
    const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(wait + std::chrono::milliseconds(999)).count();
    return std::max<int64_t>(1, s);
}

}  // namespace tern::serve
