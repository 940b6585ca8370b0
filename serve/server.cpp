// The server's life: bind, load (GET /health says 503 meanwhile), serve,
// and on SIGTERM/SIGINT drain in-flight requests and exit cleanly.
#include "server.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <thread>

#include <fmt/core.h>
#include <httplib.h>

#include "http.h"

namespace tern::serve {

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    // A client that disconnects mid-stream must not kill the server: the
    // failed write is handled (the slot is freed) instead.
    std::signal(SIGPIPE, SIG_IGN);
}

std::string base_name(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int run(const ServeOptions& opts) {
    if (opts.n_parallel < 1) throw Error("--parallel must be at least 1");
    if (opts.log_format != "text" && opts.log_format != "json")
        throw Error("--log-format must be text or json, not '" + opts.log_format + "'");
    // Every file named on the command line is read before the port is bound:
    // a bad one is a startup error, not a half-working server.
    std::vector<std::string> keys = opts.api_keys;
    if (!opts.api_key_file.empty()) {
        const auto more = read_api_key_file(opts.api_key_file);
        keys.insert(keys.end(), more.begin(), more.end());
    }
    DenyList deny = opts.deny_regex_file.empty() ? DenyList() : DenyList::load(opts.deny_regex_file);
    install_signal_handlers();

    ServerState st(opts, std::move(keys), std::move(deny));
    st.model_name = base_name(opts.model_path);
    std::error_code ec;
    const auto model_bytes = std::filesystem::file_size(opts.model_path, ec);
    st.metrics.model_file_bytes = ec ? 0 : int64_t(model_bytes);
    httplib::Server svr;
    add_routes(svr, st);
    // The POST routes read their bodies themselves up to the limit; this
    // bounds what httplib reads for any other request.
    svr.set_payload_max_length(opts.max_request_bytes);
    // Each request holds an HTTP thread while it waits in the queue or
    // streams, so the pool covers every slot and a queue's worth besides.
    const size_t n_http = std::max<size_t>(8, size_t(opts.n_parallel) * 2 + 8);
    svr.new_task_queue = [n_http] { return new httplib::ThreadPool(n_http); };
    svr.set_keep_alive_timeout(2);

    int port = opts.port;
    if (port == 0) port = svr.bind_to_any_port(opts.host);
    else if (!svr.bind_to_port(opts.host, port)) port = -1;
    if (port <= 0) throw Error(fmt::format("cannot listen on {}:{} (address in use, or not an address of this host?)",
                                           opts.host, opts.port));
    std::thread http([&svr] { svr.listen_after_bind(); });
    auto stop_http = [&] {
        svr.stop();
        http.join();
    };

    try {
        st.model.emplace(Model::load(opts.model_path, opts.load));
        if (!st.model->info().has_tokenizer) throw Error(opts.model_path + " has no tokenizer: the server needs text in and out");
        st.tok.emplace(Tokenizer::from_model(*st.model));
        // An embedding model answers no chat: it gets no template.
        if (st.model->info().has_output_head)
            st.chat_template.emplace(opts.chat_template.empty() ? ChatTemplate::for_model(*st.model, *st.tok)
                                                                : ChatTemplate::by_name(opts.chat_template));
        EngineOptions eo;
        eo.n_seq = opts.n_parallel;
        eo.n_ctx = opts.n_ctx;
        eo.n_batch = opts.n_batch;
        eo.n_threads = opts.n_threads;
        eo.kv_f16 = opts.kv_f16;
        eo.max_queue = opts.max_queue;
        st.engine = std::make_unique<Engine>(*st.model, *st.tok, eo, st.metrics);
    } catch (...) {
        stop_http();
        throw;
    }
    st.ready.store(true, std::memory_order_release);
    if (st.engine->embedding())
        fmt::print(stderr, "tern serve: {} ({} slots x {} tokens, embedding model: {} dims, POST /v1/embeddings)\n",
                   st.model_name, opts.n_parallel, st.engine->n_ctx(), st.engine->n_embd());
    else
        fmt::print(stderr, "tern serve: {} ({} slots x {} tokens, chat template {})\n", st.model_name, opts.n_parallel,
                   st.engine->n_ctx(), st.chat_template->name());
    fmt::print(stderr, "listening on http://{}:{}\n", opts.host, port);
    std::fflush(stderr);

    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));

    // New generation requests get 503 from here on; running ones finish.
    fmt::print(stderr, "tern serve: shutting down\n");
    st.draining = true;
    st.engine->drain(std::chrono::seconds(5));
    stop_http();
    return 0;
}

}  // namespace tern::serve
