#include "http.h"

#include <chrono>
#include <random>

#include <fmt/core.h>
#include <httplib.h>

#include "api_error.h"
#include "chat_html.h"  // generated from serve/chat.html
#include "openai.h"
#include "peer.h"

namespace tern::serve {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using Record = std::shared_ptr<RequestRecord>;

// Who may call an endpoint: anyone; a holder of an API key (when keys are in
// use); a key holder within its --rate-limit.
enum class Access { open, key, limited };

void send_error(httplib::Response& res, int status, const std::string& type, const std::string& message) {
    res.status = status;
    res.set_content(dump(error_body(message, type, status)), "application/json");
}

void send_json(httplib::Response& res, const json& j) { res.set_content(dump(j), "application/json"); }

void send_api_error(ServerState& st, httplib::Response& res, const ApiError& e) {
    if (!e.reason().empty()) st.metrics.count_rejection(e.reason());
    send_error(res, e.status(), e.type(), e.what());
}

// The end of every request: its status and duration into the metrics, its line into the log.
void end_request(ServerState& st, RequestRecord& rec, int status) {
    rec.status = status;
    const double s = std::chrono::duration<double>(Clock::now() - rec.start).count();
    st.metrics.count_request(rec.endpoint, status, s);
    st.log.write(rec, s);
}

ApiError too_large(size_t limit) {
    return ApiError(413, "invalid_request_error",
                    fmt::format("the request body is larger than {} bytes (the server's --max-request-bytes)", limit),
                    "too_large");
}

size_t declared_length(const httplib::Request& req) {
    if (!req.has_header("Content-Length")) return 0;
    return req.get_header_value<uint64_t>("Content-Length");
}

// The body, up to --max-request-bytes: a larger declared Content-Length is
// refused before a byte of it is read, a chunked body once it passes the
// limit. Either way the rest stays unread, so the connection is closed.
std::string read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                      size_t limit) {
    std::string body;
    bool over = declared_length(req) > limit;
    if (!over)
        reader([&](const char* data, size_t n) {
            if (body.size() + n > limit) {
                over = true;
                return false;
            }
            body.append(data, n);
            return true;
        });
    if (over) {
        res.set_header("Connection", "close");
        throw too_large(limit);
    }
    return body;
}

// Authentication and the rate limit. Names the client in `rec` (by a hash).
void admit_client(ServerState& st, const httplib::Request& req, httplib::Response& res, RequestRecord& rec,
                  Access access) {
    if (!st.api_keys.empty()) {
        const std::string key = matching_key(req.get_header_value("Authorization"), st.api_keys);
        if (key.empty())
            throw ApiError(401, "authentication_error", "invalid or missing API key (send Authorization: Bearer KEY)");
        rec.client = client_hash(key);
    }
    if (access != Access::limited) return;
    // Keyed by the hash: the limiter never holds a key.
    if (const int64_t wait = st.limiter.admit(rec.client)) {
        res.set_header("Retry-After", std::to_string(wait));
        throw ApiError(429, "rate_limit_exceeded",
                       fmt::format("rate limit reached: {} requests per minute per client; retry in {} s",
                                   st.opts.rate_limit, wait),
                       "rate_limit");
    }
}

// Every handler: the client admitted, a defect answered with its error body
// (nothing escapes to httplib), the request counted and logged when it ends.
// The body (within the size limit) is read before the key and the rate limit
// are checked: httplib 0.11 keeps a connection open after any answer, and an
// unread body would be parsed as the connection's next request.
using Body = std::string;
template <typename F>
void run_guarded(ServerState& st, const char* endpoint, Access access, const httplib::Request& req,
                 httplib::Response& res, const httplib::ContentReader* reader, F f) {
    auto rec = std::make_shared<RequestRecord>();
    rec->method = req.method;
    rec->endpoint = endpoint;
    rec->client = client_hash(req.remote_addr);  // its key's hash once admitted, when keys are in use
    try {
        const Body body = reader ? read_body(req, res, *reader, st.opts.max_request_bytes) : Body();
        if (access != Access::open) admit_client(st, req, res, *rec, access);
        f(req, res, body, rec);
    } catch (const ApiError& e) {
        send_api_error(st, res, e);
    } catch (const Error& e) {
        send_api_error(st, res, bad_request(e.what()));
    } catch (const std::exception& e) {
        send_error(res, 500, "server_error", e.what());
    }
    if (!rec->answered_later) end_request(st, *rec, res.status <= 0 ? 200 : res.status);
}

template <typename F>
httplib::Server::Handler guarded(ServerState& st, const char* endpoint, Access access, F f) {
    return [&st, endpoint, access, f](const httplib::Request& req, httplib::Response& res) {
        run_guarded(st, endpoint, access, req, res, nullptr, f);
    };
}

template <typename F>
httplib::Server::HandlerWithContentReader guarded_post(ServerState& st, const char* endpoint, Access access, F f) {
    return [&st, endpoint, access, f](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) {
        run_guarded(st, endpoint, access, req, res, &reader, f);
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

// --deny-regex: any message (or the prompt, or an input) matching a pattern
// refuses the request; with --log-prompts the texts go into the request's log line.
void check_and_log_texts(const ServerState& st, const std::vector<std::string>& texts, RequestRecord& rec) {
    for (const std::string& text : texts)
        if (!st.deny.empty() && st.deny.match(text))
            throw ApiError(400, "content_filter", "the request was refused by the server's content filter",
                           "content_filter");
    if (st.log.with_prompts())
        for (const auto& t : texts) rec.prompt += (rec.prompt.empty() ? "" : "\n") + t;
}

// What a finished answer leaves behind: the record's numbers and, when it is
// whole and cacheable, the response cache entry.
void settle(ServerState& st, const std::string& cache_key, const Update& u, const std::string& text,
            RequestRecord& rec) {
    rec.prompt_tokens = u.n_prompt;
    rec.completion_tokens = u.n_generated;
    if (st.log.with_prompts()) rec.answer = text;
    if (!cache_key.empty() && u.error.empty() && !u.cut_short)
        st.cache.put(cache_key, {text, u.finish_reason, u.n_prompt, u.n_generated});
}

// Waits for the end of a job answered whole: its last update, with all its
// text in `text`. Nothing is written until the end, so a client that hangs up
// is noticed by watching its socket: its slot is freed at once, like a
// stream's. false: the client went away (and the job is cancelled).
bool await_end(const std::shared_ptr<Job>& job, const httplib::Request& req, httplib::Response& res,
               RequestRecord& rec, Update& u, std::string& text) {
    const PeerWatch peer(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
    // The engine ends every job by its deadline (or at shutdown); the extra
    // margin only guards against a bug turning into a hung connection.
    const auto give_up = job->deadline + std::chrono::seconds(30);
    while (!u.done) {
        if (Clock::now() > give_up) {
            job->out.cancel();
            throw ApiError(500, "server_error", "the request did not finish in time");
        }
        if (peer.gone()) {
            job->out.cancel();
            rec.client_gone = true;
            res.status = 200;  // never seen by anyone; logged as what would have been sent
            return false;
        }
        u = job->out.take(std::chrono::milliseconds(100));
        text += u.text;
    }
    if (!u.error.empty()) throw ApiError(500, "server_error", u.error);
    return true;
}

// The whole answer at once.
void answer_whole(ServerState& st, const std::shared_ptr<Job>& job, const ResponseHead& head,
                  const std::string& cache_key, const httplib::Request& req, httplib::Response& res, RequestRecord& rec) {
    std::string text;
    Update u;
    if (!await_end(job, req, res, rec, u, text)) return;
    settle(st, cache_key, u, text, rec);
    send_json(res, completion_json(head, text, u.finish_reason, u.n_prompt, u.n_generated));
}

// Server-sent events: `data: {chunk}` per piece of text, the finish chunk, `data: [DONE]`.
// `next` yields the answer's updates: the engine's channel, or one update from the cache.
void answer_stream(ServerState& st, std::function<Update()> next, std::function<void()> cancel,
                   const ResponseHead& head, bool include_usage, const std::string& cache_key, httplib::Response& res,
                   const Record& rec) {
    rec->answered_later = true;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [&st, next, head, include_usage, cache_key, rec](size_t, httplib::DataSink& sink) {
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
            std::string text;
            for (;;) {
                const Update u = next();
                if (!u.text.empty()) {
                    text += u.text;
                    if (!send(dump(chunk_json(head, u.text, first)))) return false;  // the releaser cancels
                    first = false;
                }
                if (u.done) {
                    if (!u.error.empty()) {
                        send(dump(error_body(u.error, "server_error", 500)));
                    } else {
                        settle(st, cache_key, u, text, *rec);
                        send(dump(final_chunk_json(head, u.finish_reason)));
                        if (include_usage) send(dump(usage_chunk_json(head, u.n_prompt, u.n_generated)));
                    }
                    send("[DONE]");
                    sink.done();
                    return true;
                }
                if (!sink.is_writable()) return false;
            }
        },
        // Called when the response ends; without success the client is gone:
        // the engine frees the slot at its next step.
        [&st, cancel, rec](bool success) {
            if (!success) {
                cancel();
                rec->client_gone = true;
            }
            end_request(st, *rec, 200);
        });
}

// Into the engine's queue, or 503.
void submit(ServerState& st, const std::shared_ptr<Job>& job) {
    switch (st.engine->submit(job)) {
        case Engine::Submit::ok: return;
        case Engine::Submit::queue_full:
            throw ApiError(503, "unavailable_error",
                           "the server is busy: every slot is in use and the queue is full; retry later",
                           "queue_full");
        case Engine::Submit::closed: throw ApiError(503, "unavailable_error", "the server is shutting down");
    }
}

void require_generation_model(const ServerState& st) {
    if (st.engine->embedding())
        throw bad_request("the model " + st.model_name +
                          " is an embedding model: it has no output head and cannot generate text; "
                          "use POST /v1/embeddings, or serve a text-generation model");
}

void handle_generate(ServerState& st, Endpoint endpoint, const httplib::Request& req, const std::string& raw,
                     httplib::Response& res, const Record& rec) {
    require_ready(st);
    if (st.draining) throw ApiError(503, "unavailable_error", "the server is shutting down");
    require_generation_model(st);
    const json body = parse_body(raw);
    const ParseContext ctx{*st.tok, *st.chat_template, st.engine->n_ctx(), fresh_seed()};
    auto job = std::make_shared<Job>();
    job->req = endpoint == Endpoint::chat ? parse_chat_request(body, ctx) : parse_completion_request(body, ctx);
    check_and_log_texts(st, job->req.texts, *rec);
    const ResponseHead head = make_head(endpoint, st.model_name);

    const std::string cache_key = st.cache.key(endpoint, body, job->req);
    if (!cache_key.empty()) {
        if (const auto hit = st.cache.find(cache_key)) {
            ++st.metrics.cache_hits;
            rec->cache = "hit";
            rec->prompt_tokens = hit->n_prompt;
            rec->completion_tokens = hit->n_generated;
            if (st.log.with_prompts()) rec->answer = hit->text;
            if (!job->req.stream) {
                send_json(res, completion_json(head, hit->text, hit->finish_reason, hit->n_prompt, hit->n_generated));
                return;
            }
            Update u{hit->text, true, hit->finish_reason, "", false, hit->n_prompt, hit->n_generated};
            answer_stream(st, [u] { return u; }, [] {}, head, job->req.include_usage, "", res, rec);
            return;
        }
        ++st.metrics.cache_misses;
        rec->cache = "miss";
    }

    if (endpoint == Endpoint::chat) job->stop_tokens = st.chat_template->stop_tokens(*st.tok);
    job->start = rec->start;
    job->deadline = Clock::now() + std::chrono::milliseconds(int64_t(st.opts.timeout_s * 1000));
    submit(st, job);
    if (!job->req.stream) {
        answer_whole(st, job, head, cache_key, req, res, *rec);
        return;
    }
    // The stream gives up on a bug the same way answer_whole does.
    const auto give_up = job->deadline + std::chrono::seconds(30);
    answer_stream(
        st,
        [job, give_up] {
            Update u = job->out.take(std::chrono::milliseconds(100));
            if (!u.done && Clock::now() > give_up) u.done = true, u.error = "the request did not finish in time";
            return u;
        },
        [job] { job->out.cancel(); }, head, job->req.include_usage, cache_key, res, rec);
}

// POST /v1/embeddings: scheduled like a completion (the queue, the slots, the
// timeout), answered whole.
void handle_embeddings(ServerState& st, const httplib::Request& req, const std::string& raw, httplib::Response& res,
                       const Record& rec) {
    require_ready(st);
    if (st.draining) throw ApiError(503, "unavailable_error", "the server is shutting down");
    if (!st.engine->embedding())
        throw bad_request("the model " + st.model_name +
                          " is a text-generation model, not an embedding model: /v1/embeddings needs a server "
                          "started with an embedding model (tern serve -m EMBEDDING.gguf)");
    if (st.engine->pooling() == Pooling::none)  // as llama-server: per-token vectors are not OpenAI's shape
        throw bad_request("the model " + st.model_name +
                          " pools nothing (pooling_type none: one vector per token), which /v1/embeddings cannot "
                          "return; use tern embed --pooling mean|cls|last, or a model that pools");
    auto job = std::make_shared<Job>();
    job->embed = parse_embedding_request(parse_body(raw), *st.tok, st.engine->n_ctx(), st.engine->n_embd());
    check_and_log_texts(st, job->embed->texts, *rec);
    job->start = rec->start;
    job->deadline = Clock::now() + std::chrono::milliseconds(int64_t(st.opts.timeout_s * 1000));
    submit(st, job);
    Update u;
    std::string unused;
    if (!await_end(job, req, res, *rec, u, unused)) return;
    rec->prompt_tokens = u.n_prompt;
    if (u.cut_short)  // the engine's only early end of an embedding request (shutdown is an error)
        throw ApiError(503, "unavailable_error",
                       fmt::format("the request waited for a slot longer than the server's --timeout of {} s; retry later",
                                   st.opts.timeout_s));
    send_json(res, embeddings_json(job->embeddings, job->embed->base64, st.model_name, u.n_prompt));
}

}  // namespace

void add_routes(httplib::Server& svr, ServerState& st) {
    // A client announcing a body over --max-request-bytes (curl does for
    // large ones) gets the 413 before it sends a byte of it.
    svr.set_expect_100_continue_handler([&st](const httplib::Request& req, httplib::Response& res) {
        if (declared_length(req) <= st.opts.max_request_bytes) return 100;
        RequestRecord rec;
        rec.method = req.method;
        rec.endpoint = "other";
        send_api_error(st, res, too_large(st.opts.max_request_bytes));
        res.set_header("Connection", "close");
        end_request(st, rec, 413);
        return 413;
    });
    // httplib calls this for every status >= 400; only fill in bodies nobody
    // wrote, and count the requests no handler saw (unknown routes, requests
    // httplib itself refused).
    svr.set_error_handler([&st](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        if (res.status == 413) {
            send_api_error(st, res, too_large(st.opts.max_request_bytes));
        } else {
            send_error(res, res.status, res.status == 404 ? "not_found_error" : "invalid_request_error",
                       res.status == 404 ? "no endpoint " + req.method + " " + req.path : "bad request");
        }
        RequestRecord rec;
        rec.method = req.method;
        rec.endpoint = "other";
        end_request(st, rec, res.status);
    });

    // The chat page (serve/chat.html, compiled in). It holds no data (and a
    // browser cannot attach a header when it opens it): the page sends the
    // key the user types with its own requests.
    svr.Get("/", guarded(st, "/", Access::open, [](const httplib::Request&, httplib::Response& res, const Body&, const Record&) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(reinterpret_cast<const char*>(kChatHtml), kChatHtmlSize, "text/html; charset=utf-8");
    }));
    svr.Get("/health", guarded(st, "/health", Access::open, [&st](const httplib::Request&, httplib::Response& res, const Body&, const Record&) {
        if (st.ready.load(std::memory_order_acquire)) {
            send_json(res, {{"status", "ok"}});
        } else {
            res.status = 503;
            send_json(res, {{"status", "loading model"}});
        }
    }));
    svr.Get("/v1/models", guarded(st, "/v1/models", Access::limited, [&st](const httplib::Request&, httplib::Response& res, const Body&, const Record&) {
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
    svr.Post("/v1/chat/completions", guarded_post(st, "/v1/chat/completions", Access::limited,
        [&st](const httplib::Request& req, httplib::Response& res, const Body& body, const Record& rec) {
            handle_generate(st, Endpoint::chat, req, body, res, rec);
        }));
    svr.Post("/v1/completions", guarded_post(st, "/v1/completions", Access::limited,
        [&st](const httplib::Request& req, httplib::Response& res, const Body& body, const Record& rec) {
            handle_generate(st, Endpoint::completion, req, body, res, rec);
        }));
    svr.Post("/v1/embeddings", guarded_post(st, "/v1/embeddings", Access::limited,
        [&st](const httplib::Request& req, httplib::Response& res, const Body& body, const Record& rec) {
            handle_embeddings(st, req, body, res, rec);
        }));
    svr.Post("/tokenize", guarded_post(st, "/tokenize", Access::limited,
        [&st](const httplib::Request&, httplib::Response& res, const Body& body, const Record&) {
            require_ready(st);
            send_json(res, {{"tokens", parse_tokenize_request(parse_body(body), *st.tok)}});
        }));
    svr.Post("/detokenize", guarded_post(st, "/detokenize", Access::limited,
        [&st](const httplib::Request&, httplib::Response& res, const Body& body, const Record&) {
            require_ready(st);
            send_json(res, {{"content", st.tok->decode(parse_detokenize_request(parse_body(body), *st.tok))}});
        }));
    // Prometheus scrapes are not client traffic: a key, but no rate limit.
    svr.Get("/metrics", guarded(st, "/metrics", Access::key, [&st](const httplib::Request&, httplib::Response& res, const Body&, const Record&) {
        res.set_content(st.metrics.render(), "text/plain; version=0.0.4");
    }));
}

}  // namespace tern::serve
