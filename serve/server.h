// `tern serve`: an OpenAI-compatible HTTP server over one BatchSession
// (continuous batching). The only door into serve/ for the `tern` binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/model.h"

namespace tern::serve {

struct ServeOptions {
    std::string model_path;
    LoadOptions load;
    std::string host = "127.0.0.1";
    int port = 8080;             // 0: any free port (printed when ready)
    int n_parallel = 4;          // slots: sequences decoded together
    int64_t n_ctx = 0;           // positions per slot; 0 = the model's training context
    int64_t n_batch = 512;       // tokens per forward pass (decode tokens + prompt chunks)
    int n_threads = 0;           // 0 = all hardware threads
    bool kv_f16 = false;
    // Non-empty: every endpoint but /health and the page needs "Authorization: Bearer KEY" with one of them.
    std::vector<std::string> api_keys;
    std::string api_key_file;    // more keys, one per line
    double timeout_s = 600;      // a request's wall-time limit (queue + generation)
    std::string chat_template;   // "" = the model's
    size_t max_queue = 64;       // requests waiting for a slot; more get 503
    int rate_limit = 0;          // requests per minute per client (sliding 60 s window); 0 = off
    size_t max_request_bytes = size_t(8) << 20;  // larger bodies get 413
    std::string deny_regex_file; // PCRE2 patterns, one per line: matching prompts get 400 content_filter
    size_t cache_responses = 0;  // LRU entries for deterministic requests; 0 = off
    std::string log_format = "text";  // "text" | "json": one line per request on stderr
    bool log_prompts = false;    // also log prompts and answers (off: never)
};

// Binds, loads the model (GET /health answers 503 meanwhile), serves until
// SIGTERM or SIGINT, then finishes in-flight requests (a few seconds at
// most) and returns 0. Throws tern::Error when the address cannot be bound
// or the model cannot be loaded.
int run(const ServeOptions& opts);

}  // namespace tern::serve
