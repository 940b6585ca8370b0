// simple.cpp: the greedy continuation of a prompt, through tern's C++ API.
// Usage: simple_cpp MODEL PROMPT [N]   (N tokens, default 64)
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "tern/generate.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL PROMPT [N]\n", argv[0]);
        return 2;
    }
    try {
        const tern::Model model = tern::Model::load(argv[1]);
        const tern::Tokenizer tok = tern::Tokenizer::from_model(model);
        tern::Session session(model);
        tern::GenerateOptions o;
        o.n_predict = argc > 3 ? std::atoi(argv[3]) : 64;
        o.sampling.temp = 0;  // greedy
        // The prompt as `tern run` tokenizes it: with BOS, special-token text as plain text.
        tern::generate(session, &tok, tok.encode(argv[2], /*add_bos=*/true, /*parse_special=*/false), o,
                       [](std::string_view piece, int32_t) {
                           std::fwrite(piece.data(), 1, piece.size(), stdout);
                           std::fflush(stdout);
                           return true;  // go on
                       });
        std::printf("\n");
    } catch (const std::exception& e) {  // tern::Error says what and where
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
