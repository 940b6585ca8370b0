// libFuzzer target: the GGUF reader must turn any byte string into either a
// parsed file whose tensors lie inside the input, or a tern::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "tern/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const auto f = tern::gguf::File::parse(data, size, "fuzz");
        for (const auto& t : f.tensors()) {
            if (!t.known_type) continue;
            if (t.data < data || t.data + t.n_bytes > data + size) std::abort();
            (void)f.find(t.name);
        }
        if (auto arch = f.get_optional<std::string>("general.architecture")) (void)arch->size();
    } catch (const tern::Error&) {
    }
    return 0;
}
