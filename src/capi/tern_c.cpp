// The C API (include/tern/tern.h) over the public C++ headers. Every entry
// point runs its body inside guard(), which turns any exception into a
// tern_status and the thread's last-error message: nothing may unwind into C.
#include "tern/tern.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tern/chat.h"
#include "tern/embed.h"
#include "tern/generate.h"
#include "tern/model.h"
#include "tern/sampler.h"
#include "tern/session.h"
#include "tern/tokenizer.h"

#ifndef TERN_VERSION
#define TERN_VERSION "unknown"
#endif

// The handles: plain boxes around the C++ objects.
struct tern_model {
    tern::Model model;
};
struct tern_tokenizer {
    tern::Tokenizer tok;
};
struct tern_session {
    tern::Session session;  // neither copyable nor movable: built in place from a prvalue
};
struct tern_sampler {
    tern::Sampler sampler;
};
struct tern_embedder {
    tern::Embedder embedder;  // neither copyable nor movable: built in place from a prvalue
};

namespace {

thread_local std::string t_error;
// Set when even recording the message failed (out of memory).
thread_local const char* t_error_static = nullptr;

// A failure this layer detects itself (rather than the library), with its code.
struct CError : std::runtime_error {
    CError(tern_status s, const std::string& msg) : std::runtime_error(msg), status(s) {}
    tern_status status;
};

// Records "fn: prefix what" (or just `what` without fn) as the thread's last error.
tern_status fail(tern_status status, const char* fn, const char* what, const char* prefix = "") noexcept {
    try {
        t_error = fn ? std::string(fn) + ": " + prefix + what : std::string(what);
        t_error_static = nullptr;
    } catch (...) {
        t_error_static = "out of memory (while recording an error)";
    }
    return status;
}

// Runs `body` (which returns a tern_status); any exception becomes a status.
// The library's own messages (tern::Error) are passed on as they are: they
// already say what and where. This layer's are prefixed with the function.
template <class F>
tern_status guard(const char* fn, F&& body) noexcept {
    try {
        return body();
    } catch (const CError& e) {
        return fail(e.status, fn, e.what());
    } catch (const tern::Error& e) {
        return fail(TERN_ERR_FAILED, nullptr, e.what());
    } catch (const std::bad_alloc&) {
        return fail(TERN_ERR_OUT_OF_MEMORY, fn, "out of memory");
    } catch (const std::exception& e) {
        return fail(TERN_ERR_INTERNAL, fn, e.what(), "internal error: ");
    } catch (...) {
        return fail(TERN_ERR_INTERNAL, fn, "unknown exception", "internal error: ");
    }
}

[[noreturn]] void invalid(const std::string& msg) { throw CError(TERN_ERR_INVALID_ARGUMENT, msg); }

void need(bool ok, const char* what) {
    if (!ok) invalid(std::string(what) + " is NULL");
}

bool given(const char* s) { return s && *s; }

// Ids outside the vocabulary are the caller's mistake, not a library failure.
void check_ids(const int32_t* ids, size_t n, int64_t n_vocab) {
    for (size_t i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= n_vocab)
            invalid("token id " + std::to_string(ids[i]) + " (at " + std::to_string(i) + ") is outside the vocabulary [0, " +
                    std::to_string(n_vocab) + ")");
}

// The snprintf-like convention of tern_tokenize and tern_chat_render.
tern_status copy_ids(const std::vector<int32_t>& ids, int32_t* out, size_t max, size_t* n) {
    *n = ids.size();
    if (ids.size() > max)
        throw CError(TERN_ERR_BUFFER_TOO_SMALL, "the result has " + std::to_string(ids.size()) +
                                                    " tokens; the buffer holds " + std::to_string(max));
    if (!ids.empty()) std::memcpy(out, ids.data(), ids.size() * sizeof(int32_t));
    return TERN_OK;
}

// The options a session and an embedder share (tern_session_options /
// tern_embedder_options -> SessionOptions / EmbedOptions), checked.
template <class C, class Cpp>
void copy_run_options(const C& o, Cpp& out) {
    if (o.n_ctx < 0) invalid("n_ctx is " + std::to_string(o.n_ctx) + "; expected >= 0 (0: the trained context)");
    if (o.n_batch < 1) invalid("n_batch is " + std::to_string(o.n_batch) + "; expected >= 1");
    if (o.n_threads < 0) invalid("n_threads is " + std::to_string(o.n_threads) + "; expected >= 0 (0: all)");
    out.n_ctx = o.n_ctx;
    out.n_batch = o.n_batch;
    out.n_threads = o.n_threads;
    out.kv_f16 = o.kv_f16;
}

tern::SamplingParams to_cpp(const tern_sampling_params& p) {
    tern::SamplingParams s;
    s.temp = p.temp;
    s.top_k = p.top_k;
    s.top_p = p.top_p;
    s.min_p = p.min_p;
    s.repeat_penalty = p.repeat_penalty;
    s.repeat_last_n = p.repeat_last_n;
    s.seed = p.seed;
    try {
        s.validate();  // the library's message names the parameter and its range
    } catch (const tern::Error& e) {
        invalid(e.what());
    }
    return s;
}

tern_stop_reason to_c(tern::StopReason r) {
    switch (r) {
        case tern::StopReason::eos: return TERN_STOP_EOS;
        case tern::StopReason::length: return TERN_STOP_LENGTH;
        case tern::StopReason::stop_string: return TERN_STOP_STRING;
        case tern::StopReason::context_full: return TERN_STOP_CONTEXT_FULL;
        case tern::StopReason::cancelled: return TERN_STOP_CANCELLED;
    }
    return TERN_STOP_EOS;
}

}  // namespace

extern "C" {

// ---------------------------------------------------------------- errors

const char* tern_last_error(void) { return t_error_static ? t_error_static : t_error.c_str(); }

const char* tern_status_name(tern_status status) {
    switch (status) {
        case TERN_OK: return "TERN_OK";
        case TERN_ERR_INVALID_ARGUMENT: return "TERN_ERR_INVALID_ARGUMENT";
        case TERN_ERR_BUFFER_TOO_SMALL: return "TERN_ERR_BUFFER_TOO_SMALL";
        case TERN_ERR_FAILED: return "TERN_ERR_FAILED";
        case TERN_ERR_OUT_OF_MEMORY: return "TERN_ERR_OUT_OF_MEMORY";
        case TERN_ERR_INTERNAL: return "TERN_ERR_INTERNAL";
    }
    return "TERN_ERR_UNKNOWN";
}

const char* tern_version(void) { return TERN_VERSION; }

// ---------------------------------------------------------------- model

tern_model_options tern_model_options_default(void) { return tern_model_options{nullptr, nullptr, nullptr, 0}; }

tern_status tern_model_load(const char* path, const tern_model_options* options, tern_model** model) {
    return guard(__func__, [&] {
        need(model, "model");
        *model = nullptr;
        need(path, "path");
        const tern_model_options o = options ? *options : tern_model_options_default();
        tern::LoadOptions lo;
        if (given(o.kernel_table)) lo.table = o.kernel_table;
        if (given(o.kernel_family)) {
            lo.kernel = tern::parse_kernel_family(o.kernel_family);
            if (!lo.kernel) invalid(std::string("kernel_family '") + o.kernel_family + "' is not i2s, tl1 or tl2");
        }
        if (given(o.ffn_act)) {
            lo.ffn_act = tern::parse_ffn_act(o.ffn_act);
            if (!lo.ffn_act) invalid(std::string("ffn_act '") + o.ffn_act + "' is not relu2 or silu");
        }
        if (o.n_threads < 0) invalid("n_threads is " + std::to_string(o.n_threads) + "; expected >= 0 (0: all)");
        lo.n_threads = o.n_threads;
        *model = new tern_model{tern::Model::load(path, lo)};
        return TERN_OK;
    });
}

void tern_model_free(tern_model* model) { delete model; }

tern_status tern_model_get_info(const tern_model* model, tern_model_info* info) {
    return guard(__func__, [&] {
        need(model, "model");
        need(info, "info");
        const tern::ModelInfo& m = model->model.info();  // lives as long as the model: the strings point into it
        info->path = m.path.c_str();
        info->name = m.name.c_str();
        info->architecture = m.architecture.c_str();
        info->n_vocab = m.n_vocab;
        info->n_ctx_train = m.n_ctx_train;
        info->n_embd = m.n_embd;
        info->n_ff = m.n_ff;
        info->n_layer = m.n_layer;
        info->n_head = m.n_head;
        info->n_head_kv = m.n_head_kv;
        info->head_dim = m.head_dim;
        info->ffn_act = tern::ffn_act_name(m.ffn_act);
        info->weight_type = m.weight_type.c_str();
        info->kernel_table = m.kernel_table.c_str();
        info->kernel_family = tern::kernel_family_name(m.kernel_family);
        info->n_params = m.n_params;
        info->file_size = m.file_size;
        info->has_tokenizer = m.has_tokenizer;
        return TERN_OK;
    });
}

// ---------------------------------------------------------------- tokenizer

tern_status tern_tokenizer_from_model(const tern_model* model, tern_tokenizer** tokenizer) {
    return guard(__func__, [&] {
        need(tokenizer, "tokenizer");
        *tokenizer = nullptr;
        need(model, "model");
        *tokenizer = new tern_tokenizer{tern::Tokenizer::from_model(model->model)};
        return TERN_OK;
    });
}

void tern_tokenizer_free(tern_tokenizer* tokenizer) { delete tokenizer; }

tern_status tern_tokenize(const tern_tokenizer* tokenizer, const char* text, size_t text_len, bool add_bos,
                          bool parse_special, int32_t* tokens, size_t n_tokens_max, size_t* n_tokens) {
    return guard(__func__, [&] {
        need(tokenizer, "tokenizer");
        need(n_tokens, "n_tokens");
        need(text || text_len == 0, "text");
        need(tokens || n_tokens_max == 0, "tokens");
        const std::string_view sv = text ? std::string_view(text, text_len) : std::string_view();
        return copy_ids(tokenizer->tok.encode(sv, add_bos, parse_special), tokens, n_tokens_max, n_tokens);
    });
}

tern_status tern_detokenize(const tern_tokenizer* tokenizer, const int32_t* tokens, size_t n_tokens,
                            bool render_special, char* buf, size_t buf_size, size_t* text_len) {
    return guard(__func__, [&] {
        need(tokenizer, "tokenizer");
        need(text_len, "text_len");
        need(tokens || n_tokens == 0, "tokens");
        need(buf || buf_size == 0, "buf");
        check_ids(tokens, n_tokens, tokenizer->tok.n_vocab());
        const std::vector<int32_t> ids(tokens, tokens + n_tokens);
        const std::string text = tokenizer->tok.decode(ids, render_special);
        *text_len = text.size();
        if (text.size() + 1 > buf_size)
            throw CError(TERN_ERR_BUFFER_TOO_SMALL, "the text has " + std::to_string(text.size()) +
                                                        " bytes (+1 for the NUL); the buffer holds " +
                                                        std::to_string(buf_size));
        std::memcpy(buf, text.data(), text.size());
        buf[text.size()] = '\0';
        return TERN_OK;
    });
}

// The small getters cannot fail but for a NULL handle: -1 (or false) and a message.
#define TERN_TOKENIZER_GETTER(fn, expr)                            \
    int32_t fn(const tern_tokenizer* tokenizer) {                  \
        if (!tokenizer) {                                          \
            fail(TERN_ERR_INVALID_ARGUMENT, #fn, "tokenizer is NULL"); \
            return -1;                                             \
        }                                                          \
        return tokenizer->tok.expr;                                \
    }
TERN_TOKENIZER_GETTER(tern_tokenizer_n_vocab, n_vocab())
TERN_TOKENIZER_GETTER(tern_token_bos, bos())
TERN_TOKENIZER_GETTER(tern_token_eos, eos())
TERN_TOKENIZER_GETTER(tern_token_eot, eot())
#undef TERN_TOKENIZER_GETTER

bool tern_token_is_eog(const tern_tokenizer* tokenizer, int32_t token) {
    if (!tokenizer) {
        fail(TERN_ERR_INVALID_ARGUMENT, __func__, "tokenizer is NULL");
        return false;
    }
    return tokenizer->tok.is_eog(token);
}

// ---------------------------------------------------------------- session

tern_session_options tern_session_options_default(void) {
    const tern::SessionOptions d;
    return tern_session_options{d.n_ctx, d.n_batch, d.n_threads, d.kv_f16};
}

tern_status tern_session_create(const tern_model* model, const tern_session_options* options, tern_session** session) {
    return guard(__func__, [&] {
        need(session, "session");
        *session = nullptr;
        need(model, "model");
        const tern_session_options o = options ? *options : tern_session_options_default();
        tern::SessionOptions so;
        copy_run_options(o, so);
        *session = new tern_session{tern::Session(model->model, so)};
        return TERN_OK;
    });
}

void tern_session_free(tern_session* session) { delete session; }

tern_status tern_session_eval(tern_session* session, const int32_t* tokens, size_t n_tokens, bool all_logits) {
    return guard(__func__, [&] {
        need(session, "session");
        need(tokens || n_tokens == 0, "tokens");
        check_ids(tokens, n_tokens, session->session.n_vocab());
        session->session.eval(std::span<const int32_t>(tokens, n_tokens), all_logits);
        return TERN_OK;
    });
}

const float* tern_session_logits(const tern_session* session, int64_t i) {
    const float* p = nullptr;
    guard(__func__, [&] {
        need(session, "session");
        p = session->session.logits(i);
        return TERN_OK;
    });
    return p;
}

#define TERN_SESSION_GETTER(fn, expr)                            \
    int64_t fn(const tern_session* session) {                    \
        if (!session) {                                          \
            fail(TERN_ERR_INVALID_ARGUMENT, #fn, "session is NULL"); \
            return -1;                                           \
        }                                                        \
        return session->session.expr;                            \
    }
TERN_SESSION_GETTER(tern_session_n_past, n_past())
TERN_SESSION_GETTER(tern_session_n_ctx, n_ctx())
TERN_SESSION_GETTER(tern_session_n_vocab, n_vocab())
#undef TERN_SESSION_GETTER

tern_status tern_session_truncate(tern_session* session, int64_t n) {
    return guard(__func__, [&] {
        need(session, "session");
        const int64_t n_past = session->session.n_past();
        if (n < 0 || n > n_past)
            invalid("position " + std::to_string(n) + " is outside [0, n_past = " + std::to_string(n_past) + "]");
        session->session.truncate(n);
        return TERN_OK;
    });
}

tern_status tern_session_save(const tern_session* session, const char* path) {
    return guard(__func__, [&] {
        need(session, "session");
        need(path, "path");
        session->session.save(path);
        return TERN_OK;
    });
}

tern_status tern_session_load(tern_session* session, const char* path) {
    return guard(__func__, [&] {
        need(session, "session");
        need(path, "path");
        session->session.load(path);
        return TERN_OK;
    });
}

// ---------------------------------------------------------------- sampler

tern_sampling_params tern_sampling_params_default(void) {
    const tern::SamplingParams d;
    return tern_sampling_params{d.temp, d.top_k, d.top_p, d.min_p, d.repeat_penalty, d.repeat_last_n, d.seed};
}

tern_status tern_sampler_create(const tern_sampling_params* params, tern_sampler** sampler) {
    return guard(__func__, [&] {
        need(sampler, "sampler");
        *sampler = nullptr;
        need(params, "params");
        *sampler = new tern_sampler{tern::Sampler(to_cpp(*params))};
        return TERN_OK;
    });
}

void tern_sampler_free(tern_sampler* sampler) { delete sampler; }

tern_status tern_sampler_sample(tern_sampler* sampler, const float* logits, int64_t n_vocab, int32_t* token) {
    return guard(__func__, [&] {
        need(sampler, "sampler");
        need(logits, "logits");
        need(token, "token");
        if (n_vocab < 1 || n_vocab > INT32_MAX) invalid("n_vocab is " + std::to_string(n_vocab) + "; expected >= 1");
        *token = sampler->sampler.sample(logits, n_vocab);
        return TERN_OK;
    });
}

tern_status tern_sampler_accept(tern_sampler* sampler, int32_t token) {
    return guard(__func__, [&] {
        need(sampler, "sampler");
        sampler->sampler.accept(token);
        return TERN_OK;
    });
}

tern_status tern_sampler_reset(tern_sampler* sampler) {
    return guard(__func__, [&] {
        need(sampler, "sampler");
        sampler->sampler.reset();
        return TERN_OK;
    });
}

// ---------------------------------------------------------------- generation

const char* tern_stop_reason_name(tern_stop_reason reason) {
    switch (reason) {
        case TERN_STOP_EOS: return "eos";
        case TERN_STOP_LENGTH: return "length";
        case TERN_STOP_STRING: return "stop_string";
        case TERN_STOP_CONTEXT_FULL: return "context_full";
        case TERN_STOP_CANCELLED: return "cancelled";
    }
    return "?";
}

tern_generate_options tern_generate_options_default(void) {
    tern_generate_options o;
    o.n_predict = -1;
    o.sampling = tern_sampling_params_default();
    o.stop = nullptr;
    o.n_stop = 0;
    o.stop_tokens = nullptr;
    o.n_stop_tokens = 0;
    o.ignore_eos = false;
    o.render_special = false;
    return o;
}

tern_status tern_generate(tern_session* session, const tern_tokenizer* tokenizer, const int32_t* prompt,
                          size_t n_prompt, const tern_generate_options* options, tern_piece_callback callback,
                          void* user, tern_sampler* sampler, tern_generate_result* result) {
    return guard(__func__, [&] {
        need(session, "session");
        need(prompt || n_prompt == 0, "prompt");
        const tern_generate_options o = options ? *options : tern_generate_options_default();
        need(o.stop || o.n_stop == 0, "options->stop");
        need(o.stop_tokens || o.n_stop_tokens == 0, "options->stop_tokens");
        if (o.n_predict < -1)
            invalid("n_predict is " + std::to_string(o.n_predict) + "; expected -1 (until a stop) or >= 0");
        check_ids(prompt, n_prompt, session->session.n_vocab());

        tern::GenerateOptions g;
        g.n_predict = o.n_predict;
        g.sampling = to_cpp(o.sampling);
        for (size_t i = 0; i < o.n_stop; ++i) {
            need(o.stop[i], ("options->stop[" + std::to_string(i) + "]").c_str());
            g.stop.emplace_back(o.stop[i]);
        }
        g.stop_tokens.assign(o.stop_tokens, o.stop_tokens + o.n_stop_tokens);
        g.ignore_eos = o.ignore_eos;
        g.render_special = o.render_special;

        tern::OnPiece on_piece;
        if (callback)
            on_piece = [&](std::string_view piece, int32_t token) {
                return callback(piece.data(), piece.size(), token, user) != 0;
            };
        const tern::GenerateResult r =
            tern::generate(session->session, tokenizer ? &tokenizer->tok : nullptr,
                           std::span<const int32_t>(prompt, n_prompt), g, on_piece, sampler ? &sampler->sampler : nullptr);
        if (result) {
            result->reason = to_c(r.reason);
            result->n_prompt = r.n_prompt;
            result->n_generated = r.n_generated;
            result->prompt_seconds = r.prompt_seconds;
            result->generate_seconds = r.generate_seconds;
        }
        return TERN_OK;
    });
}

// ---------------------------------------------------------------- chat

tern_status tern_chat_render(const tern_model* model, const tern_tokenizer* tokenizer, const char* template_name,
                             const char* const* roles, const char* const* contents, size_t n_messages, int32_t* tokens,
                             size_t n_tokens_max, size_t* n_tokens) {
    return guard(__func__, [&] {
        need(tokenizer, "tokenizer");
        need(n_tokens, "n_tokens");
        need(tokens || n_tokens_max == 0, "tokens");
        need((roles && contents) || n_messages == 0, "roles or contents");
        std::vector<tern::ChatMessage> messages;
        for (size_t i = 0; i < n_messages; ++i) {
            need(roles[i] && contents[i], ("message " + std::to_string(i) + "'s role or content").c_str());
            messages.push_back({roles[i], contents[i]});
        }
        auto pick = [&] {
            if (!given(template_name)) {
                need(model, "model (needed when no template_name is given)");
                return tern::ChatTemplate::for_model(model->model, tokenizer->tok);
            }
            try {
                return tern::ChatTemplate::by_name(template_name);
            } catch (const tern::Error& e) {
                invalid(e.what());  // an unknown name: the message lists the known ones
            }
        };
        const tern::ChatTemplate t = pick();
        return copy_ids(tern::ChatTemplate::tokenize(tokenizer->tok, t.render(messages)), tokens, n_tokens_max,
                        n_tokens);
    });
}

// ---------------------------------------------------------------- embeddings

tern_embedder_options tern_embedder_options_default(void) {
    return tern_embedder_options{TERN_POOLING_DEFAULT, 2, 0, 512, 0, false};
}

tern_status tern_embedder_create(const tern_model* model, const tern_embedder_options* options,
                                 tern_embedder** embedder) {
    return guard(__func__, [&] {
        need(embedder, "embedder");
        *embedder = nullptr;
        need(model, "model");
        const tern_embedder_options o = options ? *options : tern_embedder_options_default();
        tern::EmbedOptions eo;
        // C may store any int in the enum field; C++ may not read one outside
        // the enumerators' range through the enum type (UBSan), so the int is read.
        int pooling;
        static_assert(sizeof pooling == sizeof o.pooling);
        std::memcpy(&pooling, &o.pooling, sizeof pooling);
        if (pooling != TERN_POOLING_DEFAULT) {
            if (pooling < TERN_POOLING_NONE || pooling > TERN_POOLING_LAST)
                invalid("pooling is " + std::to_string(pooling) + "; expected -1 (the file's) or 0..3");
            eo.pooling = tern::Pooling(pooling);  // the enums share their order (GGUF pooling_type)
        }
        copy_run_options(o, eo);
        eo.normalize = o.normalize;
        *embedder = new tern_embedder{tern::Embedder(model->model, eo)};
        return TERN_OK;
    });
}

void tern_embedder_free(tern_embedder* embedder) { delete embedder; }

int64_t tern_embedder_n_embd(const tern_embedder* embedder) { return embedder ? embedder->embedder.n_embd() : -1; }
int64_t tern_embedder_n_ctx(const tern_embedder* embedder) { return embedder ? embedder->embedder.n_ctx() : -1; }

tern_pooling tern_embedder_pooling(const tern_embedder* embedder) {
    return embedder ? tern_pooling(int(embedder->embedder.pooling())) : TERN_POOLING_DEFAULT;
}

const char* tern_pooling_name(tern_pooling pooling) {
    if (pooling < TERN_POOLING_NONE || pooling > TERN_POOLING_LAST) return "unknown";
    return tern::pooling_name(tern::Pooling(int(pooling)));
}

}  // extern "C"

namespace {

// The shared part of tern_embed_tokens and tern_embed_texts: the size check
// (before any work), the embedding, the copy out.
tern_status embed_into(tern::Embedder& e, const std::vector<std::vector<int32_t>>& inputs, float* out, size_t out_max,
                       size_t* n_out) {
    const auto H = size_t(e.n_embd());
    size_t n = 0;
    for (const auto& in : inputs) n += e.pooling() == tern::Pooling::none ? in.size() * H : H;
    *n_out = n;
    if (n > out_max)
        throw CError(TERN_ERR_BUFFER_TOO_SMALL, "the result has " + std::to_string(n) + " floats; the buffer holds " +
                                                    std::to_string(out_max));
    std::vector<std::vector<float>> result;
    try {
        result = e.embed(inputs);
    } catch (const tern::Error& err) {
        invalid(err.what());  // an empty input, one longer than n_ctx, an id outside the vocabulary
    }
    for (const auto& v : result) out = std::copy(v.begin(), v.end(), out);
    return TERN_OK;
}

}  // namespace

extern "C" {

tern_status tern_embed_tokens(tern_embedder* embedder, const int32_t* const* tokens, const size_t* n_tokens,
                              size_t n_inputs, float* out, size_t out_max, size_t* n_out) {
    return guard(__func__, [&] {
        need(embedder, "embedder");
        need(n_out, "n_out");
        need((tokens && n_tokens) || n_inputs == 0, "tokens or n_tokens");
        need(out || out_max == 0, "out");
        std::vector<std::vector<int32_t>> inputs(n_inputs);
        for (size_t i = 0; i < n_inputs; ++i) {
            need(tokens[i] || n_tokens[i] == 0, ("tokens[" + std::to_string(i) + "]").c_str());
            inputs[i].assign(tokens[i], tokens[i] + n_tokens[i]);
        }
        return embed_into(embedder->embedder, inputs, out, out_max, n_out);
    });
}

tern_status tern_embed_texts(tern_embedder* embedder, const tern_tokenizer* tokenizer, const char* const* texts,
                             size_t n_texts, float* out, size_t out_max, size_t* n_out) {
    return guard(__func__, [&] {
        need(embedder, "embedder");
        need(tokenizer, "tokenizer");
        need(n_out, "n_out");
        need(texts || n_texts == 0, "texts");
        need(out || out_max == 0, "out");
        std::vector<std::vector<int32_t>> inputs;
        for (size_t i = 0; i < n_texts; ++i) {
            need(texts[i], ("texts[" + std::to_string(i) + "]").c_str());
            if (!*texts[i]) invalid("texts[" + std::to_string(i) + "] is empty: there is nothing to embed");
            inputs.push_back(tern::embedding_tokens(tokenizer->tok, texts[i]));
        }
        return embed_into(embedder->embedder, inputs, out, out_max, n_out);
    });
}

float tern_cosine_similarity(const float* a, const float* b, size_t n) {
    if (!a || !b) return 0.0f;
    return tern::cosine_similarity(std::span<const float>(a, n), std::span<const float>(b, n));
}

}  // extern "C"
