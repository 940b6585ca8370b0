// The HTTP side: routes, authentication, request -> Job -> JSON or SSE.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "access_log.h"
#include "clients.h"
#include "deny_list.h"
#include "engine.h"
#include "metrics.h"
#include "response_cache.h"
#include "server.h"
#include "tern/chat.h"
#include "tern/model.h"
#include "tern/tokenizer.h"

namespace httplib {
class Server;
}

namespace tern::serve {

// What the handlers share. The model parts are set once, before `ready`
// turns true (release), and read only after seeing it (acquire).
struct ServerState {
    ServerState(const ServeOptions& o, std::vector<std::string> keys, DenyList deny_list)
        : opts(o),
          api_keys(std::move(keys)),
          deny(std::move(deny_list)),
          limiter(o.rate_limit),
          cache(o.cache_responses),
          log(o.log_format == "json" ? LogFormat::json : LogFormat::text, o.log_prompts) {}
    const ServeOptions& opts;
    const std::vector<std::string> api_keys;  // --api-key and --api-key-file; empty: no key needed
    const DenyList deny;
    RateLimiter limiter;
    ResponseCache cache;
    AccessLog log;
    std::string model_name;
    Metrics metrics;
    std::atomic<bool> ready{false};
    std::atomic<bool> draining{false};
    std::optional<Model> model;
    std::optional<Tokenizer> tok;
    std::optional<ChatTemplate> chat_template;
    std::unique_ptr<Engine> engine;
};

void add_routes(httplib::Server& svr, ServerState& st);

}  // namespace tern::serve
