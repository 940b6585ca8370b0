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
    CLI::App* cmd = app.add_subcommand("serve", "Serve an OpenAI-compatible HTTP API (continuous batching; /v1/embeddings on an embedding model)");
    o->m.add_to(*cmd);  // -m, -t, -c (per slot), -b, --ffn-act, --kernel, --kv-f16
    cmd->add_option("--host", o->s.host, "Address to listen on")->capture_default_str();
    cmd->add_option("--port", o->s.port, "Port (0: any free port, printed when ready)")->capture_default_str();
    cmd->add_option("--parallel", o->s.n_parallel, "Slots: requests generated at once (also -np)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--api-key", o->s.api_keys,
                    "Require \"Authorization: Bearer KEY\" on every endpoint but /health and the page (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--api-key-file", o->s.api_key_file, "File of API keys, one per line (with or instead of --api-key)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--timeout", o->s.timeout_s, "Seconds a request may take, queue included")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--chat-template", o->s.chat_template, "Chat template: bitnet, llama3, falcon3, llama2 (default: the model's)");
    cmd->add_option("--queue-size", o->s.max_queue, "Requests that may wait for a slot (more get 503)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--rate-limit", o->s.rate_limit,
                    "Requests per minute per client (its API key, else its address) over a sliding 60 s window; "
                    "more get 429 with Retry-After. 0: no limit")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_option("--max-request-bytes", o->s.max_request_bytes, "Largest request body; larger ones get 413")
        ->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--deny-regex", o->s.deny_regex_file,
                    "File of PCRE2 patterns, one per line: a prompt or message matching one gets 400 (content_filter)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--cache-responses", o->s.cache_responses,
                    "Answer repeated deterministic requests (temperature 0 or a fixed seed) from an LRU cache of N "
                    "entries, without generating. 0: off")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    cmd->add_option("--log-format", o->s.log_format, "One line per request on stderr: text or json")
        ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    cmd->add_flag("--log-prompts", o->s.log_prompts, "Also log prompts and answers (never logged otherwise)");
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
