// Helpers for read-only file mappings (GGUF models, safetensors checkpoints).
#pragma once

#include <cstdint>

namespace tern {

// Drops the whole pages of [p, p + n) from a read-only, file-backed mapping
// [base, base + size) so they stop counting against the process's memory
// (rounded outward: a dropped page that is touched again is simply re-read
// from the file). Used once a tensor has been converted or copied elsewhere.
// No-op for a range outside the mapping or for n = 0.
void drop_mapped_pages(const uint8_t* base, uint64_t size, const uint8_t* p, uint64_t n);

}  // namespace tern
