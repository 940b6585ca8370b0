// The HTTP side: routes, authentication, request -> Job -> JSON or SSE.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "engine.h"
#include "metrics.h"
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
    explicit ServerState(const ServeOptions& o) : opts(o) {}
    const ServeOptions& opts;
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
