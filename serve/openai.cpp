#include "openai.h"

#include <atomic>
#include <chrono>

#include <fmt/core.h>

namespace tern::serve {

using nlohmann::json;

namespace {

const char* object_name(Endpoint e, bool chunk) {
    if (e == Endpoint::completion) return "text_completion";
    return chunk ? "chat.completion.chunk" : "chat.completion";
}

json head_json(const ResponseHead& h, bool chunk) {
    return {{"id", h.id}, {"object", object_name(h.endpoint, chunk)}, {"created", h.created}, {"model", h.model}};
}

}  // namespace

ResponseHead make_head(Endpoint endpoint, const std::string& model) {
    // Unique per process run: the start time and a counter.
    static const int64_t start = std::chrono::system_clock::now().time_since_epoch().count();
    static std::atomic<uint64_t> counter{0};
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    return {endpoint,
            fmt::format("{}-{:x}{:06x}", endpoint == Endpoint::chat ? "chatcmpl" : "cmpl", uint64_t(start) & 0xffffffffffULL,
                        ++counter),
            now, model};
}

json error_body(const std::string& message, const std::string& type, int code) {
    return {{"error", {{"message", message}, {"type", type}, {"code", code}}}};
}

json usage_json(int64_t n_prompt, int64_t n_generated) {
    return {{"prompt_tokens", n_prompt}, {"completion_tokens", n_generated}, {"total_tokens", n_prompt + n_generated}};
}

json completion_json(const ResponseHead& h, const std::string& text, const std::string& finish_reason, int64_t n_prompt,
                     int64_t n_generated) {
    json j = head_json(h, false);
    json choice = {{"index", 0}, {"finish_reason", finish_reason}};
    if (h.endpoint == Endpoint::chat) {
        choice["message"] = {{"role", "assistant"}, {"content", text}};
    } else {
        choice["text"] = text;
        choice["logprobs"] = nullptr;
    }
    j["choices"] = json::array({choice});
    j["usage"] = usage_json(n_prompt, n_generated);
    return j;
}

json chunk_json(const ResponseHead& h, const std::string& text, bool first) {
    json j = head_json(h, true);
    json choice = {{"index", 0}, {"finish_reason", nullptr}};
    if (h.endpoint == Endpoint::chat) {
        json delta = {{"content", text}};
        if (first) delta["role"] = "assistant";
        choice["delta"] = delta;
    } else {
        choice["text"] = text;
        choice["logprobs"] = nullptr;
    }
    j["choices"] = json::array({choice});
    return j;
}

json final_chunk_json(const ResponseHead& h, const std::string& finish_reason) {
    json j = head_json(h, true);
    json choice = {{"index", 0}, {"finish_reason", finish_reason}};
    if (h.endpoint == Endpoint::chat) {
        choice["delta"] = json::object();
    } else {
        choice["text"] = "";
        choice["logprobs"] = nullptr;
    }
    j["choices"] = json::array({choice});
    return j;
}

json usage_chunk_json(const ResponseHead& h, int64_t n_prompt, int64_t n_generated) {
    json j = head_json(h, true);
    j["choices"] = json::array();
    j["usage"] = usage_json(n_prompt, n_generated);
    return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace tern::serve
