// Who a request comes from, and how often it may come: the API keys
// (--api-key, --api-key-file), the client identity (its key when keys are in
// use, else its remote address) and the per-client sliding-window rate limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tern::serve {

// The keys of --api-key-file: one per line as llama-server reads them (blank
// lines skipped, surrounding whitespace trimmed). Throws tern::Error naming
// the file when it cannot be read or holds no key.
std::vector<std::string> read_api_key_file(const std::string& path);

// The key of "Authorization: Bearer KEY" when it is one of `keys`, else "".
std::string matching_key(const std::string& authorization, const std::vector<std::string>& keys);

// What logs may say about a client: the first 16 hex digits of the SHA-256 of
// its key or address — stable enough to follow one client, useless to replay.
std::string client_hash(const std::string& identity);

// --rate-limit N: at most N requests per client in any 60 s. A request is
// counted only when admitted, so a client that keeps knocking is not locked
// out longer than its own traffic warrants.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    explicit RateLimiter(int per_minute) : limit_(per_minute) {}
    // 0: admitted (and counted). Otherwise whole seconds until the oldest
    // request in the window leaves it (at least 1): the Retry-After value.
    int64_t admit(const std::string& client, Clock::time_point now = Clock::now());

private:
    static constexpr std::chrono::seconds kWindow{60};
    int limit_;
    std::mutex m_;
    std::unordered_map<std::string, std::deque<Clock::time_point>> seen_;
    Clock::time_point last_sweep_{};
};

}  // namespace tern::serve
