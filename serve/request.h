// Request bodies -> typed, validated requests. Runs on the HTTP threads, so
// the engine only ever sees requests it can serve; every defect becomes an
// ApiError (400) naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tern/chat.h"
#include "tern/sampler.h"
#include "tern/tokenizer.h"

namespace tern::serve {

enum class Endpoint { chat, completion };

struct GenRequest {
    Endpoint endpoint = Endpoint::completion;
    std::vector<int32_t> prompt;     // token ids, ready to evaluate
    SamplingParams sampling;         // validated
    int64_t max_tokens = -1;         // -1: until a stop or a full context
    std::vector<std::string> stop;   // stop strings
    bool stream = false;
    bool include_usage = false;      // stream_options.include_usage
    bool ignore_eos = false;
    // What the client wrote: each message's content, or the prompt (token ids
    // decoded): what --deny-regex checks and --log-prompts writes.
    std::vector<std::string> texts;
};

// POST /v1/embeddings: every input as token ids, ready to embed.
struct EmbedRequest {
    std::vector<std::vector<int32_t>> inputs;
    bool base64 = false;             // encoding_format "base64": little-endian float32 bytes
    std::vector<std::string> texts;  // the inputs as text (ids decoded): --deny-regex, --log-prompts
    int64_t n_tokens() const;
};

// What parsing needs from the loaded model.
struct ParseContext {
    const Tokenizer& tok;
    const ChatTemplate& chat_template;
    int64_t n_ctx;        // per slot: a prompt must leave room for one token
    uint64_t seed;        // used when the request gives none (or -1)
};

// The body as a JSON object, or 400.
nlohmann::json parse_body(const std::string& body);

GenRequest parse_chat_request(const nlohmann::json& body, const ParseContext& ctx);
GenRequest parse_completion_request(const nlohmann::json& body, const ParseContext& ctx);

// `input`: a string, a list of strings, a list of token ids, or a list of
// lists of token ids; each input fits `n_ctx` (the embedder's context).
EmbedRequest parse_embedding_request(const nlohmann::json& body, const Tokenizer& tok, int64_t n_ctx, int64_t n_embd);

// POST /tokenize {"content": string, "add_special"?: bool} -> ids.
std::vector<int32_t> parse_tokenize_request(const nlohmann::json& body, const Tokenizer& tok);
// POST /detokenize {"tokens": [ids]} -> ids (each inside the vocabulary).
std::vector<int32_t> parse_detokenize_request(const nlohmann::json& body, const Tokenizer& tok);

}  // namespace tern::serve
