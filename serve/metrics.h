// Counters for GET /metrics (Prometheus text format). Updated by the HTTP
// threads and the engine thread; atomics and one mutex for the per-endpoint map.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace tern::serve {

class Metrics {
public:
    void count_request(const std::string& endpoint);
    std::atomic<int64_t> prompt_tokens{0};     // prompt tokens of admitted requests
    std::atomic<int64_t> cached_tokens{0};     // ... of which the prompt cache already held
    std::atomic<int64_t> generated_tokens{0};
    std::atomic<int64_t> cancelled{0};         // requests whose client went away
    std::atomic<int64_t> active{0};            // requests in a slot
    std::atomic<int64_t> queued{0};            // requests waiting for one
    std::atomic<int64_t> eval_us{0};           // time spent in forward passes

    std::string render() const;

private:
    mutable std::mutex m_;
    std::map<std::string, int64_t> requests_;
};

}  // namespace tern::serve
