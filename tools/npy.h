// Writes float32 arrays as NumPy .npy files (format 1.0), through a temp file
// renamed on success.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tern {

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace tern
