/* simple.c: the greedy continuation of a prompt, through tern's C API.
 * Usage: simple_c MODEL PROMPT [N]   (N tokens, default 64) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

static int print_piece(const char* piece, size_t len, int32_t token, void* user) {
    (void)token, (void)user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 1; /* go on */
}

int main(int argc, char** argv) {
    if (argc < 3) return fprintf(stderr, "usage: %s MODEL PROMPT [N]\n", argv[0]), 2;
    tern_model* model = NULL;
    tern_tokenizer* tok = NULL;
    tern_session* session = NULL;
    int32_t* ids = NULL;
    size_t n = 0;
    tern_generate_options o = tern_generate_options_default();
    o.n_predict = argc > 3 ? atoi(argv[3]) : 64;
    o.sampling.temp = 0; /* greedy */

    tern_status st = tern_model_load(argv[1], NULL, &model);
    if (st == TERN_OK) st = tern_tokenizer_from_model(model, &tok);
    if (st == TERN_OK) st = tern_session_create(model, NULL, &session);
    /* The prompt as `tern run` tokenizes it (with BOS; special-token text stays
     * text): ask for the count, then fill a buffer that large. */
    if (st == TERN_OK) st = tern_tokenize(tok, argv[2], strlen(argv[2]), true, false, NULL, 0, &n);
    if (st == TERN_ERR_BUFFER_TOO_SMALL && (ids = malloc(n * sizeof *ids)) != NULL)
        st = tern_tokenize(tok, argv[2], strlen(argv[2]), true, false, ids, n, &n);
    if (st == TERN_OK) st = tern_generate(session, tok, ids, n, &o, print_piece, NULL, NULL, NULL);

    if (st == TERN_OK) printf("\n");
    else fprintf(stderr, "error: %s\n", tern_last_error());
    free(ids);
    tern_session_free(session);
    tern_tokenizer_free(tok);
    tern_model_free(model);
    return st == TERN_OK ? 0 : 1;
}
