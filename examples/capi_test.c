/* capi_test.c: the C API's contracts — error codes and messages, the buffer
 * conventions, NULL handles — on the bundled model, and the embedder's on an
 * embedding model (tests/data/models/qwen3_i2s_embd.gguf: 64 dims, last-token
 * pooling, a vocabulary of 97 tokens).
 * Usage: capi_test MODEL [EMBEDDING_MODEL]   (exit 0: all passed; prints each failed check) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n  last error: %s\n", __FILE__, \
                    __LINE__, #cond, tern_last_error());                             \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

/* st is the expected status and the last error mentions `word`. */
#define CHECK_ERR(call, st, word)                                    \
    do {                                                             \
        CHECK((call) == (st));                                       \
        CHECK(strstr(tern_last_error(), (word)) != NULL);            \
    } while (0)

static int count_calls(const char* piece, size_t len, int32_t token, void* user) {
    (void)piece, (void)len;
    int* n = (int*)user;
    if (token >= 0) ++*n;
    return *n < 3; /* cancel after the third token */
}

static void null_handles(void) {
    int32_t ids[4] = {1, 2, 3, 4};
    size_t n = 0;
    char buf[8];
    tern_model* model = (tern_model*)&n; /* must be reset to NULL on failure */
    tern_model_info info;
    tern_tokenizer* tok = NULL;
    tern_session* s = NULL;
    tern_sampler* sm = NULL;
    tern_sampling_params p = tern_sampling_params_default();
    float logits[4] = {0, 1, 2, 3};
    const char* roles[] = {"user"};
    const char* contents[] = {"Hi"};

    CHECK_ERR(tern_model_load(NULL, NULL, &model), TERN_ERR_INVALID_ARGUMENT, "path is NULL");
    CHECK(model == NULL);
    CHECK_ERR(tern_model_load("x.gguf", NULL, NULL), TERN_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(tern_model_get_info(NULL, &info), TERN_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(tern_tokenizer_from_model(NULL, &tok), TERN_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(tern_tokenize(NULL, "a", 1, true, false, ids, 4, &n), TERN_ERR_INVALID_ARGUMENT, "tokenizer is NULL");
    CHECK_ERR(tern_detokenize(NULL, ids, 4, false, buf, 8, &n), TERN_ERR_INVALID_ARGUMENT, "tokenizer is NULL");
    CHECK(tern_tokenizer_n_vocab(NULL) == -1 && tern_token_bos(NULL) == -1 && tern_token_eos(NULL) == -1);
    CHECK(tern_token_eot(NULL) == -1 && !tern_token_is_eog(NULL, 2));
    CHECK_ERR(tern_session_create(NULL, NULL, &s), TERN_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK_ERR(tern_session_eval(NULL, ids, 4, false), TERN_ERR_INVALID_ARGUMENT, "session is NULL");
    CHECK(tern_session_logits(NULL, -1) == NULL);
    CHECK(tern_session_n_past(NULL) == -1 && tern_session_n_ctx(NULL) == -1 && tern_session_n_vocab(NULL) == -1);
    CHECK_ERR(tern_session_truncate(NULL, 0), TERN_ERR_INVALID_ARGUMENT, "session is NULL");
    CHECK_ERR(tern_session_save(NULL, "x"), TERN_ERR_INVALID_ARGUMENT, "session is NULL");
    CHECK_ERR(tern_session_load(NULL, "x"), TERN_ERR_INVALID_ARGUMENT, "session is NULL");
    CHECK_ERR(tern_sampler_create(NULL, &sm), TERN_ERR_INVALID_ARGUMENT, "params is NULL");
    CHECK_ERR(tern_sampler_create(&p, NULL), TERN_ERR_INVALID_ARGUMENT, "sampler is NULL");
    CHECK_ERR(tern_sampler_sample(NULL, logits, 4, ids), TERN_ERR_INVALID_ARGUMENT, "sampler is NULL");
    CHECK_ERR(tern_sampler_accept(NULL, 1), TERN_ERR_INVALID_ARGUMENT, "sampler is NULL");
    CHECK_ERR(tern_sampler_reset(NULL), TERN_ERR_INVALID_ARGUMENT, "sampler is NULL");
    CHECK_ERR(tern_generate(NULL, NULL, ids, 4, NULL, NULL, NULL, NULL, NULL), TERN_ERR_INVALID_ARGUMENT,
              "session is NULL");
    CHECK_ERR(tern_chat_render(NULL, NULL, "llama2", roles, contents, 1, ids, 4, &n), TERN_ERR_INVALID_ARGUMENT,
              "tokenizer is NULL");
    tern_model_free(NULL);
    tern_tokenizer_free(NULL);
    tern_session_free(NULL);
    tern_sampler_free(NULL);
}

static void sampling_params(void) {
    tern_sampler* sm = NULL;
    tern_sampling_params p = tern_sampling_params_default();
    float logits[4] = {0, 3, 1, 2};
    int32_t id = -1;

    p.temp = NAN;
    CHECK_ERR(tern_sampler_create(&p, &sm), TERN_ERR_INVALID_ARGUMENT, "temp");
    CHECK(sm == NULL);
    p = tern_sampling_params_default();
    p.top_p = 2;
    CHECK_ERR(tern_sampler_create(&p, &sm), TERN_ERR_INVALID_ARGUMENT, "top_p");
    p = tern_sampling_params_default();
    p.repeat_penalty = 0;
    CHECK_ERR(tern_sampler_create(&p, &sm), TERN_ERR_INVALID_ARGUMENT, "repeat_penalty");

    p = tern_sampling_params_default();
    p.temp = 0;
    CHECK(tern_sampler_create(&p, &sm) == TERN_OK && sm != NULL);
    CHECK(tern_sampler_sample(sm, logits, 4, &id) == TERN_OK && id == 1); /* greedy: the argmax */
    CHECK_ERR(tern_sampler_sample(sm, logits, 0, &id), TERN_ERR_INVALID_ARGUMENT, "n_vocab");
    CHECK(tern_sampler_accept(sm, 1) == TERN_OK && tern_sampler_reset(sm) == TERN_OK);
    tern_sampler_free(sm);
}

static void with_model(const char* path) {
    const char* text = "Once upon a time";
    const size_t len = strlen(text);
    tern_model* model = NULL;
    tern_tokenizer* tok = NULL;
    tern_session *s = NULL, *s2 = NULL;
    tern_model_info info;
    int32_t ids[64];
    size_t n = 0, m = 0;
    char buf[64];

    CHECK_ERR(tern_model_load("/nonexistent/capi-test-missing.gguf", NULL, &model), TERN_ERR_FAILED,
              "/nonexistent/capi-test-missing.gguf");
    CHECK(model == NULL);
    tern_model_options mo = tern_model_options_default();
    mo.kernel_family = "xyz";
    CHECK_ERR(tern_model_load(path, &mo, &model), TERN_ERR_INVALID_ARGUMENT, "kernel_family 'xyz'");

    if (tern_model_load(path, NULL, &model) != TERN_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, tern_last_error());
        ++failures;
        return;
    }
    CHECK(tern_model_get_info(model, &info) == TERN_OK);
    CHECK(info.n_vocab == 4096 && info.n_layer == 4 && info.has_tokenizer);
    CHECK(strcmp(info.architecture, "bitnet-b1.58") == 0 && strcmp(info.weight_type, "I2_S") == 0);
    CHECK(strcmp(info.path, path) == 0 && info.kernel_table[0] && info.kernel_family[0] && info.file_size > 0);
    CHECK(tern_tokenizer_from_model(model, &tok) == TERN_OK);
    CHECK(tern_tokenizer_n_vocab(tok) == 4096 && tern_token_bos(tok) == 1 && tern_token_eos(tok) == 2);
    CHECK(tern_token_is_eog(tok, 2) && !tern_token_is_eog(tok, 100));

    /* tokenize: the count comes back with TERN_ERR_BUFFER_TOO_SMALL, and nothing is written. */
    CHECK(tern_tokenize(tok, text, len, true, false, NULL, 0, &n) == TERN_ERR_BUFFER_TOO_SMALL && n > 2);
    ids[0] = -7;
    CHECK_ERR(tern_tokenize(tok, text, len, true, false, ids, n - 1, &m), TERN_ERR_BUFFER_TOO_SMALL, "buffer");
    CHECK(m == n && ids[0] == -7);
    CHECK(tern_tokenize(tok, text, len, true, false, ids, 64, &m) == TERN_OK && m == n && ids[0] == 1);
    CHECK(tern_tokenize(tok, text, len, false, false, ids + 32, 32, &m) == TERN_OK && m == n - 1);

    /* detokenize: the length comes back; the buffer needs one more byte for the NUL. */
    CHECK(tern_detokenize(tok, ids, n, false, NULL, 0, &m) == TERN_ERR_BUFFER_TOO_SMALL && m == len);
    buf[0] = 'x';
    CHECK(tern_detokenize(tok, ids, n, false, buf, len, &m) == TERN_ERR_BUFFER_TOO_SMALL && buf[0] == 'x');
    CHECK(tern_detokenize(tok, ids, n, false, buf, len + 1, &m) == TERN_OK && strcmp(buf, text) == 0);
    ids[63] = 4096;
    CHECK_ERR(tern_detokenize(tok, ids + 63, 1, false, buf, 64, &m), TERN_ERR_INVALID_ARGUMENT, "4096");

    /* session: eval, logits, truncate, save and load. */
    tern_session_options so = tern_session_options_default();
    so.n_ctx = 32;
    CHECK(tern_session_create(model, &so, &s) == TERN_OK && tern_session_n_ctx(s) == 32);
    tern_model_free(model); /* the session keeps the weights alive */
    model = NULL;
    CHECK_ERR(tern_session_eval(s, ids + 63, 1, false), TERN_ERR_INVALID_ARGUMENT, "4096");
    CHECK(tern_session_eval(s, ids, n, false) == TERN_OK && tern_session_n_past(s) == (int64_t)n);
    CHECK(tern_session_logits(s, -1) != NULL);
    CHECK(tern_session_logits(s, 0) == tern_session_logits(s, -1)); /* only the last row is kept */
    CHECK(tern_session_logits(s, 1) == NULL && strstr(tern_last_error(), "out of range") != NULL);
    CHECK_ERR(tern_session_truncate(s, (int64_t)n + 1), TERN_ERR_INVALID_ARGUMENT, "n_past");
    CHECK(tern_session_save(s, "capi_test.session") == TERN_OK);
    CHECK(tern_session_create(NULL, &so, &s2) == TERN_ERR_INVALID_ARGUMENT);
    CHECK_ERR(tern_session_load(s, "/nonexistent/capi.session"), TERN_ERR_FAILED, "/nonexistent/capi.session");
    CHECK(tern_session_truncate(s, 1) == TERN_OK && tern_session_n_past(s) == 1);
    CHECK(tern_session_load(s, "capi_test.session") == TERN_OK && tern_session_n_past(s) == (int64_t)n);
    remove("capi_test.session");

    /* generate: bad options are refused; a callback can cancel. */
    tern_generate_options go = tern_generate_options_default();
    go.sampling.temp = NAN;
    CHECK_ERR(tern_generate(s, tok, ids, 1, &go, NULL, NULL, NULL, NULL), TERN_ERR_INVALID_ARGUMENT, "temp");
    go = tern_generate_options_default();
    go.sampling.temp = 0;
    int calls = 0;
    tern_generate_result r;
    CHECK(tern_session_truncate(s, 0) == TERN_OK);
    CHECK(tern_generate(s, tok, ids, n, &go, count_calls, &calls, NULL, &r) == TERN_OK);
    CHECK(r.reason == TERN_STOP_CANCELLED && r.n_generated == 3 && r.n_prompt == (int64_t)n && calls == 3);
    CHECK(strcmp(tern_stop_reason_name(r.reason), "cancelled") == 0);
    go.n_predict = 1000; /* more than the context holds */
    CHECK(tern_generate(s, tok, NULL, 0, &go, NULL, NULL, NULL, &r) == TERN_OK && r.reason == TERN_STOP_CONTEXT_FULL);
    CHECK_ERR(tern_generate(s, tok, ids, n, &go, NULL, NULL, NULL, &r), TERN_ERR_FAILED, "context");

    /* chat: the model's template, or one by name; an unknown name lists the known ones. */
    const char* roles[] = {"user"};
    const char* contents[] = {"Hi"};
    CHECK_ERR(tern_chat_render(NULL, tok, NULL, roles, contents, 1, ids, 64, &m), TERN_ERR_INVALID_ARGUMENT, "model");
    CHECK(tern_chat_render(NULL, tok, "llama2", roles, contents, 1, NULL, 0, &m) == TERN_ERR_BUFFER_TOO_SMALL);
    CHECK(tern_chat_render(NULL, tok, "llama2", roles, contents, 1, ids, 64, &m) == TERN_OK && m > 2 && ids[0] == 1);
    CHECK_ERR(tern_chat_render(NULL, tok, "nope", roles, contents, 1, ids, 64, &m), TERN_ERR_INVALID_ARGUMENT, "llama3");

    tern_session_free(s);
    tern_tokenizer_free(tok);
}

static void embedder(const char* path) {
    tern_model* model = NULL;
    tern_tokenizer* tok = NULL;
    tern_embedder* e = (tern_embedder*)&path; /* must be reset to NULL on failure */
    tern_embedder_options eo = tern_embedder_options_default();
    float out[256];
    size_t n = 0;
    const int32_t a[9] = {12, 25, 30, 40, 50, 60, 70, 80, 0}, bad[1] = {97};
    const int32_t* lists[2] = {a, a};
    size_t lens[2] = {3, 3};
    const char* texts[2] = {"a cat", "a cat"};

    CHECK_ERR(tern_embedder_create(NULL, NULL, &e), TERN_ERR_INVALID_ARGUMENT, "model is NULL");
    CHECK(e == NULL);
    CHECK_ERR(tern_embed_tokens(NULL, lists, lens, 1, out, 256, &n), TERN_ERR_INVALID_ARGUMENT, "embedder is NULL");
    CHECK_ERR(tern_embed_texts(NULL, NULL, texts, 1, out, 256, &n), TERN_ERR_INVALID_ARGUMENT, "embedder is NULL");
    CHECK(tern_embedder_n_embd(NULL) == -1 && tern_embedder_n_ctx(NULL) == -1);
    CHECK(tern_embedder_pooling(NULL) == TERN_POOLING_DEFAULT && strcmp(tern_pooling_name(TERN_POOLING_MEAN), "mean") == 0);
    CHECK(tern_cosine_similarity(NULL, out, 4) == 0.0f);
    tern_embedder_free(NULL);

    if (tern_model_load(path, NULL, &model) != TERN_OK || tern_tokenizer_from_model(model, &tok) != TERN_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, tern_last_error());
        ++failures;
        tern_model_free(model);
        return;
    }
    eo.pooling = (tern_pooling)7;
    CHECK_ERR(tern_embedder_create(model, &eo, &e), TERN_ERR_INVALID_ARGUMENT, "pooling");
    eo = tern_embedder_options_default();
    eo.n_ctx = 8;
    CHECK(tern_embedder_create(model, &eo, &e) == TERN_OK);
    tern_model_free(model); /* the embedder keeps the weights alive */
    CHECK(tern_embedder_n_embd(e) == 64 && tern_embedder_n_ctx(e) == 8 && tern_embedder_pooling(e) == TERN_POOLING_LAST);

    /* The size comes back with TERN_ERR_BUFFER_TOO_SMALL, and nothing is written. */
    CHECK(tern_embed_tokens(e, lists, lens, 2, NULL, 0, &n) == TERN_ERR_BUFFER_TOO_SMALL && n == 128);
    out[0] = -7;
    CHECK_ERR(tern_embed_tokens(e, lists, lens, 2, out, 127, &n), TERN_ERR_BUFFER_TOO_SMALL, "buffer");
    CHECK(n == 128 && out[0] == -7);
    CHECK(tern_embed_tokens(e, lists, lens, 2, out, 256, &n) == TERN_OK && n == 128);
    double sq = 0;
    for (int i = 0; i < 64; ++i) sq += (double)out[i] * out[i];
    CHECK(fabs(sq - 1.0) < 1e-5);                              /* euclidean normalisation */
    CHECK(memcmp(out, out + 64, 64 * sizeof(float)) == 0);     /* packing changes nothing */
    CHECK(fabsf(tern_cosine_similarity(out, out + 64, 64) - 1.0f) < 1e-6f);

    /* Bad inputs: what and where. */
    lens[1] = 0;
    CHECK_ERR(tern_embed_tokens(e, lists, lens, 2, out, 256, &n), TERN_ERR_INVALID_ARGUMENT, "input 1 has no tokens");
    lens[1] = 9;
    CHECK_ERR(tern_embed_tokens(e, lists, lens, 2, out, 256, &n), TERN_ERR_INVALID_ARGUMENT, "context of 8");
    lists[1] = bad;
    lens[1] = 1;
    CHECK_ERR(tern_embed_tokens(e, lists, lens, 2, out, 256, &n), TERN_ERR_INVALID_ARGUMENT, "97");

    /* Texts, tokenized as `tern embed` does. */
    CHECK(tern_embed_texts(e, tok, texts, 2, out, 256, &n) == TERN_OK && n == 128);
    CHECK(memcmp(out, out + 64, 64 * sizeof(float)) == 0);
    texts[1] = "";
    CHECK_ERR(tern_embed_texts(e, tok, texts, 2, out, 256, &n), TERN_ERR_INVALID_ARGUMENT, "texts[1] is empty");
    CHECK_ERR(tern_embed_texts(e, NULL, texts, 1, out, 256, &n), TERN_ERR_INVALID_ARGUMENT, "tokenizer is NULL");

    tern_embedder_free(e);
    tern_tokenizer_free(tok);
}

int main(int argc, char** argv) {
    if (argc != 2 && argc != 3) return fprintf(stderr, "usage: %s MODEL [EMBEDDING_MODEL]\n", argv[0]), 2;
    CHECK(tern_version()[0] != '\0' && strcmp(tern_status_name(TERN_OK), "TERN_OK") == 0);
    null_handles();
    sampling_params();
    with_model(argv[1]);
    if (argc == 3) embedder(argv[2]);
    if (failures) fprintf(stderr, "%d checks failed\n", failures);
    else printf("capi_test: all checks passed\n");
    return failures ? 1 : 0;
}
