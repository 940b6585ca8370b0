// `tern serve`: the OpenAI-compatible HTTP server (serve/).
#include <memory>

#include "commands.h"
#include "common.h"
#include "server.h"  // serve/: the server's one door
#include "tern/chat.h"

namespace tern::cli {

namespace {

struct ServeCliOpts {
    ModelOpts m;
    serve::ServeOptions s;
};

}  // namespace

void register_serve(CLI::App& app) {
    auto o = std::make_shared<ServeCliOpts>();
    CLI::App* cmd = app.add_subcommand("serve", "Serve an OpenAI-compatible HTTP API (continuous batching)");
    o->m.add_to(*cmd);  // -m, -t, -c (per slot), -b, --ffn-act, --kernel, --kv-f16
    cmd->add_option("--host", o->s.host, "Address to listen on")->capture_default_str();
    cmd->add_option("--port", o->s.port, "Port (0: any free port, printed when ready)")->capture_default_str();
    cmd->add_option("--parallel", o->s.n_parallel, "Slots: requests generated at once (also -np)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--api-key", o->s.api_key, "Require \"Authorization: Bearer KEY\" on every endpoint but /health");
    cmd->add_option("--timeout", o->s.timeout_s, "Seconds a request may take, queue included")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--chat-template", o->s.chat_template, "Chat template: bitnet, llama3, falcon3, llama2 (default: the model's)");
    cmd->add_option("--queue-size", o->s.max_queue, "Requests that may wait for a slot (more get 503)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->callback([o] {
        serve::ServeOptions s = o->s;
        s.model_path = o->m.model;
        s.load = o->m.load_options();
        s.n_ctx = o->m.ctx;
        s.n_batch = o->m.batch;
        s.n_threads = o->m.threads;
        s.kv_f16 = o->m.kv_f16;
        if (!s.chat_template.empty()) ChatTemplate::by_name(s.chat_template);  // a bad name fails before loading
        serve::run(s);
    });
}

}  // namespace tern::cli
