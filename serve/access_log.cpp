#include "access_log.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace tern::serve {

namespace {

// RFC 3339 in UTC with milliseconds: 2026-01-31T12:00:00.123Z.
std::string utc_time(std::chrono::system_clock::time_point t) {
    const std::time_t s = std::chrono::system_clock::to_time_t(t);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z", buf, int(ms));
}

std::string quoted(const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string AccessLog::line(const RequestRecord& r, double seconds, std::chrono::system_clock::time_point now) const {
    nlohmann::ordered_json j;
    j["time"] = utc_time(now);
    j["method"] = r.method;
    j["endpoint"] = r.endpoint;
    j["status"] = r.status;
    j["client"] = r.client.empty() ? "-" : r.client;
    if (r.prompt_tokens >= 0) j["prompt_tokens"] = r.prompt_tokens;
    if (r.completion_tokens >= 0) j["completion_tokens"] = r.completion_tokens;
    j["duration_ms"] = std::round(seconds * 1e4) / 10;
    if (!r.cache.empty()) j["cache"] = r.cache;
    if (r.client_gone) j["client_gone"] = true;
    if (with_prompts_ && !r.prompt.empty()) j["prompt"] = r.prompt;
    if (with_prompts_ && r.status < 400 && !r.client_gone) j["answer"] = r.answer;
    if (format_ == LogFormat::json) return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    // text: the time, then key=value pairs; strings that may hold spaces are quoted.
    std::string out = j["time"].get<std::string>();
    for (auto it = std::next(j.begin()); it != j.end(); ++it) {
        out += ' ';
        out += it.key();
        out += '=';
        out += it->is_string() && (it.key() == "prompt" || it.key() == "answer") ? quoted(it->get<std::string>())
               : it->is_string()                                               ? it->get<std::string>()
                                                                               : it->dump();
    }
    return out;
}

void AccessLog::write(const RequestRecord& r, double seconds) {
    const std::string l = line(r, seconds, std::chrono::system_clock::now()) + "\n";
    std::lock_guard lk(m_);
    std::fwrite(l.data(), 1, l.size(), stderr);
    std::fflush(stderr);
}

}  // namespace tern::serve
