#include "metrics.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/core.h>

namespace tern::serve {

namespace {

// Seconds: a quick answer from the cache up to a long generation.
const std::vector<double> kDurationBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
const std::vector<double> kTtftBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
const char* const kRejectionReasons[] = {"rate_limit", "too_large", "content_filter", "queue_full", "timeout", "bad_request"};

std::string join_labels(const std::string& a, const std::string& b) {
    if (a.empty()) return b;
    return a + "," + b;
}

std::string le(double bound) { return std::isinf(bound) ? "+Inf" : fmt::format("{}", bound); }

// Resident set size from /proc/self/statm (pages), in bytes; 0 if unreadable.
int64_t resident_bytes() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lld %lld", &size, &resident);
    std::fclose(f);
    return n == 2 ? int64_t(resident) * sysconf(_SC_PAGESIZE) : 0;
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

// The CPUs this process may run on (its affinity mask), for CPU-use alerts.
int cpu_count() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return int(sysconf(_SC_NPROCESSORS_ONLN));
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += v;
    ++n_;
}

std::string Histogram::render(const std::string& name, const std::string& labels) const {
    std::string out;
    int64_t cum = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
        cum += counts_[i];
        const double bound = i < bounds_.size() ? bounds_[i] : INFINITY;
        out += fmt::format("{}_bucket{{{}}} {}\n", name, join_labels(labels, "le=\"" + le(bound) + "\""), cum);
    }
    const std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, sum_, name, braces, n_);
    return out;
}

Metrics::Metrics() : ttft_(kTtftBounds) {
    for (const char* r : kRejectionReasons) rejections_[r] = 0;
}

void Metrics::count_request(const std::string& endpoint, int status, double seconds) {
    std::lock_guard lk(m_);
    ++requests_[{endpoint, status}];
    durations_.try_emplace(endpoint, kDurationBounds).first->second.observe(seconds);
}

void Metrics::count_rejection(const std::string& reason) {
    std::lock_guard lk(m_);
    ++rejections_[reason];
}

void Metrics::observe_time_to_first_token(double seconds) {
    std::lock_guard lk(m_);
    ttft_.observe(seconds);
}

std::string Metrics::render() const {
    std::string out;
    auto head = [&](const char* name, const char* type, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    auto one = [&](const char* name, const char* type, const char* help, auto value) {
        head(name, type, help);
        out += fmt::format("{} {}\n", name, value);
    };
    {
        std::lock_guard lk(m_);
        head("tern_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
        for (const auto& [k, n] : requests_)
            out += fmt::format("tern_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", k.first, k.second, n);
        head("tern_request_duration_seconds", "histogram", "Time from receiving a request to its last byte, by endpoint.");
        for (const auto& [ep, h] : durations_)
            out += h.render("tern_request_duration_seconds", "endpoint=\"" + ep + "\"");
        head("tern_time_to_first_token_seconds", "histogram", "Time from receiving a generation request to its first token.");
        out += ttft_.render("tern_time_to_first_token_seconds", "");
        head("tern_rejections_total", "counter", "Requests refused, by reason.");
        for (const auto& [r, n] : rejections_) out += fmt::format("tern_rejections_total{{reason=\"{}\"}} {}\n", r, n);
    }
    one("tern_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", prompt_tokens.load());
    one("tern_prompt_tokens_cached_total", "counter", "Prompt tokens the prompt cache already held.", cached_tokens.load());
    one("tern_generated_tokens_total", "counter", "Tokens generated.", generated_tokens.load());
    one("tern_requests_cancelled_total", "counter", "Requests whose client disconnected.", cancelled.load());
    one("tern_requests_active", "gauge", "Requests in a slot.", active.load());
    one("tern_requests_queued", "gauge", "Requests waiting for a slot.", queued.load());
    one("tern_response_cache_hits_total", "counter", "Requests answered from the response cache.", cache_hits.load());
    one("tern_response_cache_misses_total", "counter", "Cacheable requests the response cache did not hold.",
        cache_misses.load());
    // Generated tokens per second of forward-pass time: the engine's decode
    // speed, independent of idle time.
    const double s = double(eval_us.load()) / 1e6;
    one("tern_tokens_per_second", "gauge", "Generated tokens per second of evaluation time.",
        s > 0 ? double(generated_tokens.load()) / s : 0.0);
    one("tern_model_file_bytes", "gauge", "Size of the loaded model file.", model_file_bytes.load());
    one("tern_cpus", "gauge", "CPUs this process may run on.", cpu_count());
    one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", resident_bytes());
    one("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpu_seconds());
    return out;
}

}  // namespace tern::serve
