#include "metrics.h"

#include <fmt/core.h>

namespace tern::serve {

void Metrics::count_request(const std::string& endpoint) {
    std::lock_guard lk(m_);
    ++requests_[endpoint];
}

std::string Metrics::render() const {
    std::string out;
    out += "# HELP tern_requests_total Requests received, by endpoint.\n# TYPE tern_requests_total counter\n";
    {
        std::lock_guard lk(m_);
        for (const auto& [ep, n] : requests_) out += fmt::format("tern_requests_total{{endpoint=\"{}\"}} {}\n", ep, n);
    }
    auto one = [&](const char* name, const char* type, const char* help, auto value) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    one("tern_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", prompt_tokens.load());
    one("tern_prompt_tokens_cached_total", "counter", "Prompt tokens the prompt cache already held.", cached_tokens.load());
    one("tern_generated_tokens_total", "counter", "Tokens generated.", generated_tokens.load());
    one("tern_requests_cancelled_total", "counter", "Requests whose client disconnected.", cancelled.load());
    one("tern_requests_active", "gauge", "Requests in a slot.", active.load());
    one("tern_requests_queued", "gauge", "Requests waiting for a slot.", queued.load());
    // Generated tokens per second of forward-pass time: the engine's decode
    // speed, independent of idle time.
    const double s = double(eval_us.load()) / 1e6;
    one("tern_tokens_per_second", "gauge", "Generated tokens per second of evaluation time.",
        s > 0 ? double(generated_tokens.load()) / s : 0.0);
    return out;
}

}  // namespace tern::serve
