/* embed.c: the embeddings of two texts and their cosine similarity, through
 * tern's C API. Usage: embed_c MODEL TEXT1 TEXT2
 * Prints each embedding as a JSON array (as `tern embed --embd-output-format
 * json` does), then "cosine similarity: S". */
#include <stdio.h>
#include <stdlib.h>

#include "tern/tern.h"

int main(int argc, char** argv) {
    if (argc != 4) return fprintf(stderr, "usage: %s MODEL TEXT1 TEXT2\n", argv[0]), 2;
    tern_model* model = NULL;
    tern_tokenizer* tok = NULL;
    tern_embedder* emb = NULL;
    float* v = NULL;
    size_t n = 0;
    const char* texts[2] = {argv[2], argv[3]};

    tern_status st = tern_model_load(argv[1], NULL, &model);
    if (st == TERN_OK) st = tern_tokenizer_from_model(model, &tok);
    if (st == TERN_OK) st = tern_embedder_create(model, NULL, &emb); /* the file's pooling, euclidean norm */
    /* Ask for the size, then embed both texts in one call (one forward pass). */
    if (st == TERN_OK) st = tern_embed_texts(emb, tok, texts, 2, NULL, 0, &n);
    if (st == TERN_ERR_BUFFER_TOO_SMALL && (v = malloc(n * sizeof *v)) != NULL)
        st = tern_embed_texts(emb, tok, texts, 2, v, n, &n);
    if (st == TERN_OK) {
        const size_t dim = n / 2;
        for (size_t t = 0; t < 2; ++t)
            for (size_t i = 0; i < dim; ++i) printf("%s%.7f%s", i ? "," : "[", v[t * dim + i], i + 1 < dim ? "" : "]\n");
        printf("cosine similarity: %.6f\n", tern_cosine_similarity(v, v + dim, dim));
    } else {
        fprintf(stderr, "error: %s\n", tern_last_error());
    }
    free(v);
    tern_embedder_free(emb);
    tern_tokenizer_free(tok);
    tern_model_free(model);
    return st == TERN_OK ? 0 : 1;
}
