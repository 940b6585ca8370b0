// The OpenAI response shapes: whole completions, stream chunks, errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.h"

namespace tern::serve {

// Identifies one response: "chatcmpl-..." or "cmpl-...", the creation time and the model name.
struct ResponseHead {
    Endpoint endpoint;
    std::string id;
    int64_t created;
    std::string model;
};
ResponseHead make_head(Endpoint endpoint, const std::string& model);

nlohmann::json error_body(const std::string& message, const std::string& type, int code);
nlohmann::json usage_json(int64_t n_prompt, int64_t n_generated);

// The non-streaming response.
nlohmann::json completion_json(const ResponseHead& h, const std::string& text, const std::string& finish_reason,
                               int64_t n_prompt, int64_t n_generated);
// A stream chunk carrying `text` (and, for chat, the role on the first one).
nlohmann::json chunk_json(const ResponseHead& h, const std::string& text, bool first);
// The last chunk: empty delta, the finish reason.
nlohmann::json final_chunk_json(const ResponseHead& h, const std::string& finish_reason);
// With stream_options.include_usage: a chunk with no choices and the usage.
nlohmann::json usage_chunk_json(const ResponseHead& h, int64_t n_prompt, int64_t n_generated);

// POST /v1/embeddings' answer: {"object": "list", "data": [{"object": "embedding", "index": i,
// "embedding": [floats] or base64 of their little-endian float32 bytes}], "model", "usage"}.
nlohmann::json embeddings_json(const std::vector<std::vector<float>>& embeddings, bool base64, const std::string& model,
                               int64_t n_prompt);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(const void* data, size_t n);

// Serialized for the wire: invalid UTF-8 (a byte-fallback token mid-character) becomes U+FFFD rather than throwing.
std::string dump(const nlohmann::json& j);

}  // namespace tern::serve
