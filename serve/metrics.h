// The registry GET /metrics prints (Prometheus text format 0.0.4), named in
// Prometheus' conventions (base units, _total counters, _seconds, _bytes).
// Updated by the HTTP threads and the engine thread: atomics, and one mutex
// for the labelled series.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tern::serve {

// A Prometheus histogram: cumulative counts per upper bound, the sum, the count.
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double v);
    // `labels` is "" or `name="value",...` (without braces).
    std::string render(const std::string& name, const std::string& labels) const;

private:
    std::vector<double> bounds_;
    std::vector<int64_t> counts_;  // per bucket, not cumulative; the last is +Inf
    double sum_ = 0;
    int64_t n_ = 0;
};

class Metrics {
public:
    Metrics();
    // One finished HTTP request: by endpoint and status, and its duration.
    void count_request(const std::string& endpoint, int status, double seconds);
    // A request refused before generation: rate_limit, too_large,
    // content_filter, queue_full, timeout, bad_request.
    void count_rejection(const std::string& reason);
    void observe_time_to_first_token(double seconds);

    std::atomic<int64_t> prompt_tokens{0};     // prompt tokens of admitted requests
    std::atomic<int64_t> cached_tokens{0};     // ... of which the prompt cache already held
    std::atomic<int64_t> generated_tokens{0};
    std::atomic<int64_t> cancelled{0};         // requests whose client went away
    std::atomic<int64_t> active{0};            // requests in a slot
    std::atomic<int64_t> queued{0};            // requests waiting for one
    std::atomic<int64_t> eval_us{0};           // time spent in forward passes
    std::atomic<int64_t> cache_hits{0};        // --cache-responses
    std::atomic<int64_t> cache_misses{0};
    std::atomic<int64_t> model_file_bytes{0};  // for the "RSS above the model" alert

    std::string render() const;

private:
    mutable std::mutex m_;
    std::map<std::pair<std::string, int>, int64_t> requests_;  // (endpoint, status)
    std::map<std::string, Histogram> durations_;               // by endpoint
    std::map<std::string, int64_t> rejections_;
    Histogram ttft_;
};

}  // namespace tern::serve
