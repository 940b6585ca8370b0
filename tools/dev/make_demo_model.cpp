// Writes a small random BitNet GGUF in bitnet.cpp's layout (arch bitnet-25,
// I2_S linears): the quick start's demo file until a trained model is bundled.
#include <cstdio>
#include <exception>

#include "../../tests/test_util.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT.gguf\n", argv[0]);
        return 2;
    }
    try {
        tern::test::write_bitnet_cpp_style_gguf(argv[1], tern::test::TinyShape{});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
