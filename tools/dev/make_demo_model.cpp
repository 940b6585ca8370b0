// Writes a random BitNet GGUF in bitnet.cpp's layout (arch bitnet-25, I2_S
// linears, F16 embedding): the quick start's demo file until a trained model
// is bundled, and (--preset 2b4t) a 2B4T-shape file for speed measurements;
// --embd-type q8_0|q4_k|q5_k|q6_k writes the tied embedding / output matrix in that type
// (random valid blocks), as llama.cpp's quantizers do.
#include <cctype>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "../../tests/test_util.h"
#include "tern/diagnostics.h"

int main(int argc, char** argv) {
    auto usage = [&] {
        std::fprintf(stderr, "usage: %s OUT.gguf [--preset tiny|2b4t] [--embd-type f16|q8_0|q4_k|q5_k|q6_k]\n", argv[0]);
        return 2;
    };
    if (argc < 2 || argc % 2 != 0 || argv[1][0] == '-') return usage();
    tern::test::TinyShape shape;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string opt = argv[i], val = argv[i + 1];
        if (opt == "--preset") {
            if (val == "2b4t") {
                const uint32_t embd = shape.embd_type;
                shape = {.vocab = 128256, .hidden = 2560, .ffn = 6912, .layers = 30, .heads = 20, .kv_heads = 5,
                         .context = 4096};
                shape.embd_type = embd;
            } else if (val != "tiny") {
                std::fprintf(stderr, "unknown preset %s (tiny, 2b4t)\n", val.c_str());
                return 2;
            }
        } else if (opt == "--embd-type") {
            // The types TinyShape writes (F16, Q8_0, Q4_K, Q5_K, Q6_K), by their GGML names in lower case.
            bool known = false;
            for (uint32_t type : {1u, 8u, 12u, 13u, 14u}) {
                std::string name = tern::ggml_type_name(type);
                for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
                if (val == name) shape.embd_type = type, known = true;
            }
            if (!known) {
                std::fprintf(stderr, "unknown --embd-type %s (f16, q8_0, q4_k, q5_k, q6_k)\n", val.c_str());
                return 2;
            }
        } else {
            return usage();
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
