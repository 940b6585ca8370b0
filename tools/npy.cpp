#include "npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common.h"
#include "tern/error.h"

namespace tern {

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    int64_t count = 1;
    for (size_t k = 0; k < shape.size(); ++k) {
        dict += std::to_string(shape[k]) + (shape.size() == 1 ? "," : (k + 1 < shape.size() ? ", " : ""));
        count *= shape[k];
    }
    dict += "), }";
    // magic(6) + version(2) + header length(2) + dict, padded with spaces and a
    // newline to a multiple of 64 bytes.
    const size_t unpadded = 10 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict += '\n';
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error(path + ": cannot create: " + std::strerror(errno));
    cli::remove_on_signal(tmp);
    const uint16_t hlen = uint16_t(dict.size());
    bool ok = std::fwrite("\x93NUMPY\x01\x00", 1, 8, f) == 8 && std::fwrite(&hlen, 2, 1, f) == 1 &&
              std::fwrite(dict.data(), 1, dict.size(), f) == dict.size() &&
              (count == 0 || std::fwrite(data, sizeof(float), size_t(count), f) == size_t(count));
    ok = (std::fclose(f) == 0) && ok;
    std::error_code ec;
    if (ok) std::filesystem::rename(tmp, path, ec);
    const int err = ok ? ec.value() : errno;
    cli::remove_on_signal("");
    if (!ok || ec) {
        std::remove(tmp.c_str());
        throw Error(path + ": write failed: " + std::strerror(err));
    }
}

}  // namespace tern
