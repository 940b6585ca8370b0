#include "openai.h"

#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>

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

std::string base64_encode(const void* data, size_t n) {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = static_cast<const unsigned char*>(data);
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t b = uint32_t(p[i]) << 16 | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out += kAlphabet[b >> 18];
        out += kAlphabet[(b >> 12) & 63];
        out += i + 1 < n ? kAlphabet[(b >> 6) & 63] : '=';
        out += i + 2 < n ? kAlphabet[b & 63] : '=';
    }
    return out;
}

json embeddings_json(const std::vector<std::vector<float>>& embeddings, bool base64, const std::string& model,
                     int64_t n_prompt) {
    // OpenAI's base64 is the float32 array's bytes in little-endian order, what this host holds.
    static_assert(std::endian::native == std::endian::little, "base64 embeddings assume a little-endian host");
    json data = json::array();
    for (size_t i = 0; i < embeddings.size(); ++i) {
        const std::vector<float>& e = embeddings[i];
        data.push_back({{"object", "embedding"},
                        {"index", i},
                        {"embedding", base64 ? json(base64_encode(e.data(), e.size() * sizeof(float))) : json(e)}});
    }
    return {{"object", "list"}, {"data", std::move(data)}, {"model", model},
            {"usage", {{"prompt_tokens", n_prompt}, {"total_tokens", n_prompt}}}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace tern::serve
