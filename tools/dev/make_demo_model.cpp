// Writes a random BitNet GGUF in bitnet.cpp's layout (arch bitnet-25, I2_S
// linears, F16 embedding): the quick start's demo file until a trained model
// is bundled, and (--preset 2b4t) a 2B4T-shape file for speed measurements.
#include <cstdio>
#include <cstring>
#include <exception>

#include "../../tests/test_util.h"

int main(int argc, char** argv) {
    if (argc < 2 || argc > 4 || (argc > 2 && (std::strcmp(argv[2], "--preset") != 0 || argc != 4))) {
        std::fprintf(stderr, "usage: %s OUT.gguf [--preset tiny|2b4t]\n", argv[0]);
        return 2;
    }
    tern::test::TinyShape shape;
    if (argc == 4) {
        if (std::strcmp(argv[3], "2b4t") == 0) {
            shape = {.vocab = 128256, .hidden = 2560, .ffn = 6912, .layers = 30, .heads = 20, .kv_heads = 5, .context = 4096};
        } else if (std::strcmp(argv[3], "tiny") != 0) {
            std::fprintf(stderr, "unknown preset %s (tiny, 2b4t)\n", argv[3]);
            return 2;
        }
    }
    try {
        tern::test::write_bitnet_cpp_style_gguf(argv[1], shape);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
