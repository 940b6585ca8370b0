// Built against an installed tern (find_package or pkg-config): prints the
// greedy continuation of a prompt, as `tern run --temp 0` continues it.
// Usage: consumer MODEL PROMPT N
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tern/generate.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s MODEL PROMPT N\n", argv[0]);
        return 2;
    }
    try {
        const tern::Model model = tern::Model::load(argv[1]);
        const tern::Tokenizer tok = tern::Tokenizer::from_model(model);
        tern::Session session(model, {.n_ctx = 256});
        tern::GenerateOptions o;
        o.n_predict = std::atoi(argv[3]);
        o.sampling.temp = 0;
        tern::generate(session, &tok, tok.encode(argv[2], true, false), o, [](std::string_view piece, int32_t) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            return true;
        });
        std::printf("\n");
    } catch (const tern::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
