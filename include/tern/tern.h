/* tern's C API: the engine for C and for foreign-function interfaces
 * (python/tern.py is a ctypes binding over it). C99; a thin layer over the
 * C++ API in the other headers of include/tern.
 *
 *   tern_model* model;
 *   if (tern_model_load("model.gguf", NULL, &model) != TERN_OK) {
 *       fprintf(stderr, "%s\n", tern_last_error());
 *       return 1;
 *   }
 *   tern_tokenizer* tok;  tern_tokenizer_from_model(model, &tok);
 *   tern_session* s;      tern_session_create(model, NULL, &s);
 *   int32_t ids[256];     size_t n;
 *   tern_tokenize(tok, "Once upon a time", 16, true, false, ids, 256, &n);
 *   tern_generate_options o = tern_generate_options_default();
 *   o.n_predict = 64;
 *   o.sampling.temp = 0;                                 (greedy)
 *   tern_generate(s, tok, ids, n, &o, on_piece, NULL, NULL, NULL);
 *   tern_session_free(s); tern_tokenizer_free(tok); tern_model_free(model);
 *
 * Errors: every function that can fail returns a tern_status. On failure
 * tern_last_error() gives the message (what is wrong, and where: the file,
 * key, tensor or parameter). No C++ exception ever crosses this API. A NULL
 * handle or a NULL required pointer is TERN_ERR_INVALID_ARGUMENT, never a
 * crash; the *_free functions accept NULL.
 *
 * Ownership: every handle made by a *_create / *_load / *_from_model function
 * belongs to the caller, who frees it with the matching *_free. A session or
 * tokenizer keeps the model's weights alive by itself, so the model handle
 * may be freed while they are still in use. Strings returned as const char*
 * belong to the library: see each function for how long they stay valid.
 *
 * Thread safety (as in the C++ API): a loaded model is immutable, and any
 * number of threads may use it at once, each through its own session. A
 * tokenizer may be used from several threads at once. A session or a sampler
 * is used by one thread at a time.
 */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define TERN_API __attribute__((visibility("default")))
#else
#define TERN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ errors */

typedef enum tern_status {
    TERN_OK = 0,
    /* A NULL handle or pointer, or a value out of its range (a sampling
     * parameter, an unknown kernel or template name, a bad token id). */
    TERN_ERR_INVALID_ARGUMENT = 1,
    /* The caller's buffer is too small: the count it needs was stored. */
    TERN_ERR_BUFFER_TOO_SMALL = 2,
    /* The library refused (a tern::Error): a file that cannot be read or is
     * malformed, a model without a vocabulary, a full context, ... */
    TERN_ERR_FAILED = 3,
    TERN_ERR_OUT_OF_MEMORY = 4,
    /* Anything else: a bug in tern. */
    TERN_ERR_INTERNAL = 5
} tern_status;

/* The message of the last failure on the calling thread ("" if none). Valid
 * until the next failing call on this thread; a successful call leaves it. */
TERN_API const char* tern_last_error(void);
/* "TERN_OK", "TERN_ERR_INVALID_ARGUMENT", ... (static storage). */
TERN_API const char* tern_status_name(tern_status status);
/* The library's version, e.g. "0.1.0" (static storage). */
TERN_API const char* tern_version(void);

/* ------------------------------------------------------------ handles */

typedef struct tern_model tern_model;
typedef struct tern_tokenizer tern_tokenizer;
typedef struct tern_session tern_session;
typedef struct tern_sampler tern_sampler;
typedef struct tern_embedder tern_embedder;

/* ------------------------------------------------------------ model */

typedef struct tern_model_options {
    const char* kernel_table;  /* "ref", "avx2", ...; NULL or "": TERN_ISA or the best for this CPU */
    const char* kernel_family; /* "i2s", "tl1", "tl2"; NULL or "": the fastest for the table */
    const char* ffn_act;       /* "relu2", "silu"; NULL or "": as the file says (the `bitnet` ambiguity) */
    int32_t n_threads;         /* threads used to repack the weights at load; 0: all */
} tern_model_options;

TERN_API tern_model_options tern_model_options_default(void);

/* Maps a GGUF file and repacks its ternary weights for this CPU. `options`
 * may be NULL (the defaults). On success *model is a new handle. */
TERN_API tern_status tern_model_load(const char* path, const tern_model_options* options, tern_model** model);
TERN_API void tern_model_free(tern_model* model);

/* What a loaded model is, as `tern info` shows it. The strings belong to the
 * model and stay valid until tern_model_free. */
typedef struct tern_model_info {
    const char* path;          /* the file it was loaded from */
    const char* name;          /* general.name, or the architecture */
    const char* architecture;  /* bitnet-b1.58, bitnet-25, bitnet, llama */
    int64_t n_vocab;
    int64_t n_ctx_train;       /* the trained context (the default n_ctx) */
    int64_t n_embd;
    int64_t n_ff;
    int64_t n_layer;
    int64_t n_head;
    int64_t n_head_kv;
    int64_t head_dim;
    const char* ffn_act;       /* "relu2" or "silu" */
    const char* weight_type;   /* the linears' GGUF type: I2_S, TQ1_0, TQ2_0, F16, ... */
    const char* kernel_table;  /* "avx512vnni", "avx2", "neon_dotprod", "ref", ... */
    const char* kernel_family; /* "i2s", "tl1" or "tl2" */
    int64_t n_params;          /* elements of every tensor in the file */
    uint64_t file_size;        /* bytes */
    bool has_tokenizer;        /* the file carries a vocabulary */
} tern_model_info;

TERN_API tern_status tern_model_get_info(const tern_model* model, tern_model_info* info);

/* ------------------------------------------------------------ tokenizer */

/* The model's own vocabulary. TERN_ERR_FAILED when the file has none. */
TERN_API tern_status tern_tokenizer_from_model(const tern_model* model, tern_tokenizer** tokenizer);
TERN_API void tern_tokenizer_free(tern_tokenizer* tokenizer);

/* Text (text_len bytes, need not be NUL-terminated) -> token ids.
 * add_bos: prepend BOS when the vocabulary wants one (as `tern run` does).
 * parse_special: text of control tokens ("<|eot_id|>") becomes that token.
 * *n_tokens receives the number of ids the text needs. If it is more than
 * n_tokens_max, nothing is written and TERN_ERR_BUFFER_TOO_SMALL is returned:
 * call again with a buffer that large (tokens may be NULL when n_tokens_max is
 * 0, to ask for the size). */
TERN_API tern_status tern_tokenize(const tern_tokenizer* tokenizer, const char* text, size_t text_len, bool add_bos,
                                   bool parse_special, int32_t* tokens, size_t n_tokens_max, size_t* n_tokens);

/* Token ids -> text (the pieces joined; SentencePiece's added leading space
 * removed; control tokens render as "" unless render_special). *text_len
 * receives the text's length in bytes. The text and a terminating NUL are
 * written when text_len + 1 <= buf_size; otherwise nothing is written and
 * TERN_ERR_BUFFER_TOO_SMALL is returned (buf may be NULL when buf_size is 0).
 * An id outside [0, n_vocab) is TERN_ERR_INVALID_ARGUMENT. */
TERN_API tern_status tern_detokenize(const tern_tokenizer* tokenizer, const int32_t* tokens, size_t n_tokens,
                                     bool render_special, char* buf, size_t buf_size, size_t* text_len);

/* -1 for a NULL tokenizer (or, for the ids, a vocabulary without one). */
TERN_API int32_t tern_tokenizer_n_vocab(const tern_tokenizer* tokenizer);
TERN_API int32_t tern_token_bos(const tern_tokenizer* tokenizer);
TERN_API int32_t tern_token_eos(const tern_tokenizer* tokenizer);
TERN_API int32_t tern_token_eot(const tern_tokenizer* tokenizer);
/* End of generation: eos, eot and known end-of-turn tokens. false for NULL. */
TERN_API bool tern_token_is_eog(const tern_tokenizer* tokenizer, int32_t token);

/* ------------------------------------------------------------ session */

typedef struct tern_session_options {
    int64_t n_ctx;     /* 0: the model's trained context */
    int64_t n_batch;   /* tokens per prefill step (default 512) */
    int32_t n_threads; /* 0: all hardware threads */
    bool kv_f16;       /* store the KV cache as fp16 (half the memory) */
} tern_session_options;

TERN_API tern_session_options tern_session_options_default(void);

/* One sequence being evaluated (its KV cache and logits). `options` may be
 * NULL. The session keeps the model's weights alive. */
TERN_API tern_status tern_session_create(const tern_model* model, const tern_session_options* options,
                                         tern_session** session);
TERN_API void tern_session_free(tern_session* session);

/* Appends the tokens at positions n_past ... and evaluates them. Logits are
 * kept for every token when all_logits, else for the last one only.
 * TERN_ERR_FAILED when the context would overflow or an id is out of range. */
TERN_API tern_status tern_session_eval(tern_session* session, const int32_t* tokens, size_t n_tokens, bool all_logits);
/* The n_vocab logits of row i of the last eval: one row per evaluated token
 * with all_logits, else one row (the last token's); i < 0 counts from the
 * end. NULL if there is no such row (see tern_last_error). Valid until the
 * session's next eval, truncate, load or free. */
TERN_API const float* tern_session_logits(const tern_session* session, int64_t i);
/* -1 for a NULL session. */
TERN_API int64_t tern_session_n_past(const tern_session* session);
TERN_API int64_t tern_session_n_ctx(const tern_session* session);
TERN_API int64_t tern_session_n_vocab(const tern_session* session);
/* Forgets positions >= n (0 <= n <= n_past): the next eval continues at n. */
TERN_API tern_status tern_session_truncate(tern_session* session, int64_t n);
/* The state (tokens, KV cache, last logits) to a file, and back. A load that
 * fails leaves the session as it was. */
TERN_API tern_status tern_session_save(const tern_session* session, const char* path);
TERN_API tern_status tern_session_load(tern_session* session, const char* path);

/* ------------------------------------------------------------ sampler */

/* Repetition penalty, then top-k, top-p, min-p, then temperature and a
 * seeded draw. Deterministic for a seed. */
typedef struct tern_sampling_params {
    float temp;             /* >= 0; 0: greedy */
    int32_t top_k;          /* >= 0; 0: off */
    float top_p;            /* in [0, 1]; 1: off */
    float min_p;            /* in [0, 1]; 0: off */
    float repeat_penalty;   /* > 0; 1: off */
    int32_t repeat_last_n;  /* >= 0: recent tokens the penalty sees */
    uint64_t seed;
} tern_sampling_params;

/* The library's defaults: temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat_penalty 1, repeat_last_n 64, seed 0. */
TERN_API tern_sampling_params tern_sampling_params_default(void);

/* TERN_ERR_INVALID_ARGUMENT, with a message naming the parameter and its
 * range, for a NaN, infinite or out-of-range value. */
TERN_API tern_status tern_sampler_create(const tern_sampling_params* params, tern_sampler** sampler);
TERN_API void tern_sampler_free(tern_sampler* sampler);
/* Chooses a token from logits[n_vocab] (not modified). */
TERN_API tern_status tern_sampler_sample(tern_sampler* sampler, const float* logits, int64_t n_vocab, int32_t* token);
/* Tells the sampler a token joined the sequence (for the repetition window). */
TERN_API tern_status tern_sampler_accept(tern_sampler* sampler, int32_t token);
TERN_API tern_status tern_sampler_reset(tern_sampler* sampler);

/* ------------------------------------------------------------ generation */

typedef enum tern_stop_reason {
    TERN_STOP_EOS = 0,          /* an end-of-generation or stop token was sampled (not emitted) */
    TERN_STOP_LENGTH = 1,       /* n_predict tokens were generated */
    TERN_STOP_STRING = 2,       /* a stop string appeared (the text ends before it) */
    TERN_STOP_CONTEXT_FULL = 3, /* the session's context is full */
    TERN_STOP_CANCELLED = 4     /* the callback returned 0 */
} tern_stop_reason;

/* "eos", "length", "stop_string", "context_full", "cancelled" (static storage). */
TERN_API const char* tern_stop_reason_name(tern_stop_reason reason);

/* Called once per generated token with the text that became final (len may be
 * 0 while a UTF-8 character or a possible stop string is pending; the piece is
 * not NUL-terminated and valid only during the call). Return nonzero to go on,
 * 0 to stop. A last call with token -1 passes what was pending at the end (its
 * return value is ignored). */
typedef int (*tern_piece_callback)(const char* piece, size_t len, int32_t token, void* user);

typedef struct tern_generate_options {
    int64_t n_predict;               /* tokens to generate at most; -1: until a stop or a full context */
    tern_sampling_params sampling;   /* used when no sampler is passed */
    const char* const* stop;         /* n_stop stop strings (never emitted); may be NULL when n_stop is 0 */
    size_t n_stop;
    const int32_t* stop_tokens;      /* n_stop_tokens more end-of-generation ids */
    size_t n_stop_tokens;
    bool ignore_eos;                 /* do not stop at end-of-generation tokens */
    bool render_special;             /* stream special tokens' text too */
} tern_generate_options;

/* n_predict -1, tern_sampling_params_default(), no stop strings or tokens. */
TERN_API tern_generate_options tern_generate_options_default(void);

typedef struct tern_generate_result {
    tern_stop_reason reason;
    int64_t n_prompt;         /* prompt tokens evaluated */
    int64_t n_generated;      /* tokens generated (an end-of-generation id not counted) */
    double prompt_seconds;    /* prefill time */
    double generate_seconds;  /* sampling + decode time */
} tern_generate_result;

/* Evaluates the prompt after what the session holds, then samples and streams
 * the continuation to `callback` (may be NULL). `tokenizer` may be NULL (then
 * no text: pieces are empty, and stop strings are refused). `options` may be
 * NULL (the defaults). `sampler` may be NULL: one is made from
 * options->sampling and fed the session's tokens; a sampler passed keeps its
 * state across calls. `result` may be NULL. A cancelled generation is
 * TERN_OK with reason TERN_STOP_CANCELLED. */
TERN_API tern_status tern_generate(tern_session* session, const tern_tokenizer* tokenizer, const int32_t* prompt,
                                   size_t n_prompt, const tern_generate_options* options, tern_piece_callback callback,
                                   void* user, tern_sampler* sampler, tern_generate_result* result);

/* ------------------------------------------------------------ chat */

/* Renders a conversation (n_messages roles — "system", "user", "assistant" —
 * and contents, ending in a user turn) with the generation prompt for the
 * assistant's reply, and tokenizes it: BOS and special tokens where the
 * template puts them, message text as plain text. template_name: "bitnet",
 * "llama3", "falcon3", "llama2", or NULL / "" for the model's own (then model
 * must not be NULL; otherwise it may be). The buffer convention is
 * tern_tokenize's. */
TERN_API tern_status tern_chat_render(const tern_model* model, const tern_tokenizer* tokenizer,
                                      const char* template_name, const char* const* roles,
                                      const char* const* contents, size_t n_messages, int32_t* tokens,
                                      size_t n_tokens_max, size_t* n_tokens);

/* ------------------------------------------------------------ embeddings */

/* An embedding model (Microsoft's BitNet-embedding files, GGUF architectures
 * qwen3 / gemma3 without an output head) gives one vector per text, as `tern
 * embed` prints them; any other model gives its output-normed hidden states.
 *
 *   tern_embedder* e;  tern_embedder_create(model, NULL, &e);
 *   const char* texts[2] = {"a cat", "a kitten"};
 *   float* v = malloc(2 * tern_embedder_n_embd(e) * sizeof(float));   size_t n;
 *   tern_embed_texts(e, tok, texts, 2, v, 2 * tern_embedder_n_embd(e), &n);
 *   float sim = tern_cosine_similarity(v, v + tern_embedder_n_embd(e), tern_embedder_n_embd(e));
 */

typedef enum tern_pooling {
    TERN_POOLING_DEFAULT = -1, /* the file's {arch}.pooling_type, else last */
    TERN_POOLING_NONE = 0,     /* one vector per token */
    TERN_POOLING_MEAN = 1,
    TERN_POOLING_CLS = 2,      /* the first token's row */
    TERN_POOLING_LAST = 3      /* the last token's row (the EOS the vocabulary appends) */
} tern_pooling;

typedef struct tern_embedder_options {
    tern_pooling pooling;
    int32_t normalize; /* llama-embedding's --embd-normalize: -1 none, 0 max-abs to the int16 range,
                          1 taxicab, 2 euclidean (default), > 2 p-norm */
    int64_t n_ctx;     /* the longest input in tokens; 0: the model's trained context */
    int64_t n_batch;   /* tokens per forward pass (default 512); inputs are packed into passes */
    int32_t n_threads; /* 0: all hardware threads */
    bool kv_f16;       /* the inputs' KV cache in fp16 */
} tern_embedder_options;

/* TERN_POOLING_DEFAULT, normalize 2, n_ctx 0, n_batch 512, n_threads 0, kv_f16 false. */
TERN_API tern_embedder_options tern_embedder_options_default(void);

/* `options` may be NULL. The embedder keeps the model's weights alive. Used
 * by one thread at a time; several embedders may share a model. */
TERN_API tern_status tern_embedder_create(const tern_model* model, const tern_embedder_options* options,
                                          tern_embedder** embedder);
TERN_API void tern_embedder_free(tern_embedder* embedder);
/* -1 for a NULL embedder. */
TERN_API int64_t tern_embedder_n_embd(const tern_embedder* embedder);
TERN_API int64_t tern_embedder_n_ctx(const tern_embedder* embedder);
/* The pooling in use (never TERN_POOLING_DEFAULT); TERN_POOLING_DEFAULT for NULL. */
TERN_API tern_pooling tern_embedder_pooling(const tern_embedder* embedder);
/* "none", "mean", "cls", "last" (static storage; "unknown" otherwise). */
TERN_API const char* tern_pooling_name(tern_pooling pooling);

/* Embeds n_inputs token lists (tokens[i] holds n_tokens[i] ids) together, in
 * as few forward passes as fit n_batch. The result is written to out: input
 * i's n_embd floats after input i-1's (with TERN_POOLING_NONE, n_tokens[i] rows
 * of n_embd). *n_out receives the number of floats; if it is more than
 * out_max, nothing is computed or written and TERN_ERR_BUFFER_TOO_SMALL is
 * returned (out may be NULL when out_max is 0, to ask for the size). An empty
 * input, an input longer than n_ctx (the message names the limit) or an id
 * outside the vocabulary is TERN_ERR_INVALID_ARGUMENT. */
TERN_API tern_status tern_embed_tokens(tern_embedder* embedder, const int32_t* const* tokens, const size_t* n_tokens,
                                       size_t n_inputs, float* out, size_t out_max, size_t* n_out);
/* The same for NUL-terminated texts, tokenized as `tern embed` does: BOS when
 * the vocabulary wants one, special-token text as the token, then the EOS
 * when the vocabulary appends one. An empty text is TERN_ERR_INVALID_ARGUMENT. */
TERN_API tern_status tern_embed_texts(tern_embedder* embedder, const tern_tokenizer* tokenizer,
                                      const char* const* texts, size_t n_texts, float* out, size_t out_max,
                                      size_t* n_out);

/* Cosine similarity of two n-float vectors as llama.cpp computes it (sums in
 * double; two zero vectors: 1, one zero vector: 0). 0 for NULL vectors. */
TERN_API float tern_cosine_similarity(const float* a, const float* b, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* TERN_TERN_H */
