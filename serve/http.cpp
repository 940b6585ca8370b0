#include "http.h"

#include <chrono>
#include <random>

#include <httplib.h>

#include "api_error.h"
#include "chat_html.h"  // generated from serve/chat.html
#include "openai.h"

namespace tern::serve {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void send_error(httplib::Response& res, int status, const std::string& type, const std::string& message) {
    res.status = status;
    res.set_content(dump(error_body(message, type, status)), "application/json");
}

void send_json(httplib::Response& res, const json& j) { res.set_content(dump(j), "application/json"); }

// Every handler answers a defect with its error body; nothing escapes to httplib.
template <typename F>
httplib::Server::Handler guarded(ServerState& st, const char* endpoint, F f) {
    return [&st, endpoint, f](const httplib::Request& req, httplib::Response& res) {
        st.metrics.count_request(endpoint);
        try {
            f(req, res);
        } catch (const ApiError& e) {
            send_error(res, e.status(), e.type(), e.what());
        } catch (const Error& e) {
            send_error(res, 400, "invalid_request_error", e.what());
        } catch (const std::exception& e) {
            send_error(res, 500, "server_error", e.what());
        }
    };
}

void require_ready(const ServerState& st) {
    if (!st.ready.load(std::memory_order_acquire)) throw ApiError(503, "unavailable_error", "the model is loading");
}

// A seed for requests that give none: distinct per request, like llama-server's -1.
uint64_t fresh_seed() {
    static std::atomic<uint64_t> n{std::random_device{}()};
    return n.fetch_add(0x9E3779B97F4A7C15ULL);
}

// The whole answer at once.
void answer_whole(const std::shared_ptr<Job>& job, const ResponseHead& head, httplib::Response& res) {
    std::string text;
    Update u;
    // The engine ends every job by its deadline (or at shutdown); the extra
    // margin only guards against a bug turning into a hung connection.
    const auto give_up = job->deadline + std::chrono::seconds(30);
    while (!u.done) {
        if (Clock::now() > give_up) {
            job->out.cancel();
            throw ApiError(500, "server_error", "the request did not finish in time");
        }
        u = job->out.take(std::chrono::milliseconds(200));
        text += u.text;
    }
    if (!u.error.empty()) throw ApiError(500, "server_error", u.error);
    send_json(res, completion_json(head, text, u.finish_reason, u.n_prompt, u.n_generated));
}

// Server-sent events: `data: {chunk}` per piece of text, the finish chunk, `data: [DONE]`.
void answer_stream(const std::shared_ptr<Job>& job, const ResponseHead& head, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [job, head](size_t, httplib::DataSink& sink) {
            auto send = [&](const std::string& payload) {
                const std::string s = "data: " + payload + "\n\n";
                return sink.write(s.data(), s.size());
            };
            bool first = true;
            if (head.endpoint == Endpoint::chat) {
                // OpenAI's first chunk carries the role.
                if (!send(dump(chunk_json(head, "", true)))) return false;
                first = false;
            }
            const auto give_up = job->deadline + std::chrono::seconds(30);
            for (;;) {
                const Update u = job->out.take(std::chrono::milliseconds(100));
                if (!u.text.empty()) {
                    if (!send(dump(chunk_json(head, u.text, first)))) return false;  // the releaser cancels
                    first = false;
                }
                if (u.done) {
                    if (!u.error.empty()) {
                        send(dump(error_body(u.error, "server_error", 500)));
                    } else {
                        send(dump(final_chunk_json(head, u.finish_reason)));
                        if (job->req.include_usage) send(dump(usage_chunk_json(head, u.n_prompt, u.n_generated)));
                    }
                    send("[DONE]");
                    sink.done();
                    return true;
                }
                if (!sink.is_writable() || Clock::now() > give_up) return false;
            }
        },
        // Called when the response ends; without success the client is gone:
        // the engine frees the slot at its next step.
        [job](bool success) {
            if (!success) job->out.cancel();
        });
}

void handle_generate(ServerState& st, Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    require_ready(st);
    if (st.draining) throw ApiError(503, "unavailable_error", "the server is shutting down");
    const json body = parse_body(req.body);
    const ParseContext ctx{*st.tok, *st.chat_template, st.engine->n_ctx(), fresh_seed()};
    auto job = std::make_shared<Job>();
    job->req = endpoint == Endpoint::chat ? parse_chat_request(body, ctx) : parse_completion_request(body, ctx);
    if (endpoint == Endpoint::chat) job->stop_tokens = st.chat_template->stop_tokens(*st.tok);
    job->deadline = Clock::now() + std::chrono::milliseconds(int64_t(st.opts.timeout_s * 1000));
    switch (st.engine->submit(job)) {
        case Engine::Submit::ok: break;
        case Engine::Submit::queue_full:
            throw ApiError(503, "unavailable_error", "the server is busy: every slot is in use and the queue is full");
        case Engine::Submit::closed: throw ApiError(503, "unavailable_error", "the server is shutting down");
    }
    const ResponseHead head = make_head(endpoint, st.model_name);
    if (job->req.stream) answer_stream(job, head, res);
    else answer_whole(job, head, res);
}

}  // namespace

void add_routes(httplib::Server& svr, ServerState& st) {
    // --api-key: everything but /health and the chat page needs the bearer
    // token. The page holds no data (a browser cannot attach a header when it
    // opens it); it sends the key the user types with its own requests.
    svr.set_pre_routing_handler([&st](const httplib::Request& req, httplib::Response& res) {
        const bool open = req.path == "/health" || (req.path == "/" && (req.method == "GET" || req.method == "HEAD"));
        if (st.opts.api_key.empty() || open) return httplib::Server::HandlerResponse::Unhandled;
        if (req.get_header_value("Authorization") == "Bearer " + st.opts.api_key)
            return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, 401, "authentication_error", "invalid or missing API key (send Authorization: Bearer KEY)");
        return httplib::Server::HandlerResponse::Handled;
    });
    // httplib calls this for every status >= 400; only fill in bodies nobody wrote (unknown routes).
    svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (res.body.empty())
            send_error(res, res.status, res.status == 404 ? "not_found_error" : "invalid_request_error",
                       res.status == 404 ? "no endpoint " + req.method + " " + req.path : "bad request");
    });

    // The chat page (serve/chat.html, compiled in).
    svr.Get("/", guarded(st, "/", [](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(reinterpret_cast<const char*>(kChatHtml), kChatHtmlSize, "text/html; charset=utf-8");
    }));
    svr.Get("/health", [&st](const httplib::Request&, httplib::Response& res) {
        if (st.ready.load(std::memory_order_acquire)) {
            send_json(res, {{"status", "ok"}});
        } else {
            res.status = 503;
            send_json(res, {{"status", "loading model"}});
        }
    });
    svr.Get("/v1/models", guarded(st, "/v1/models", [&st](const httplib::Request&, httplib::Response& res) {
        require_ready(st);
        const ModelInfo& info = st.model->info();
        const json m = {{"id", st.model_name},
                        {"object", "model"},
                        {"created", std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch()).count()},
                        {"owned_by", "tern"},
                        {"meta", {{"n_vocab", info.n_vocab}, {"n_ctx_train", info.n_ctx_train},
                                  {"n_ctx_slot", st.engine->n_ctx()}, {"n_params", info.n_params}}}};
        send_json(res, {{"object", "list"}, {"data", json::array({m})}});
    }));
    svr.Post("/v1/chat/completions", guarded(st, "/v1/chat/completions", [&st](const httplib::Request& req, httplib::Response& res) {
        handle_generate(st, Endpoint::chat, req, res);
    }));
    svr.Post("/v1/completions", guarded(st, "/v1/completions", [&st](const httplib::Request& req, httplib::Response& res) {
        handle_generate(st, Endpoint::completion, req, res);
    }));
    svr.Post("/tokenize", guarded(st, "/tokenize", [&st](const httplib::Request& req, httplib::Response& res) {
        require_ready(st);
        send_json(res, {{"tokens", parse_tokenize_request(parse_body(req.body), *st.tok)}});
    }));
    svr.Post("/detokenize", guarded(st, "/detokenize", [&st](const httplib::Request& req, httplib::Response& res) {
        require_ready(st);
        send_json(res, {{"content", st.tok->decode(parse_detokenize_request(parse_body(req.body), *st.tok))}});
    }));
    svr.Get("/metrics", guarded(st, "/metrics", [&st](const httplib::Request&, httplib::Response& res) {
        res.set_content(st.metrics.render(), "text/plain; version=0.0.4");
    }));
}

}  // namespace tern::serve
