// `tern info --self-test`: every kernel of a table against the reference table
// on random data, on the user's own CPU, so a kernel that computes garbage
// there (a compiler, OS or CPU surprise) says so instead of producing it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace tern::kernels {

struct SelfTestResult {
    std::string kernel;  // "quantize_rows", "i2s", "tl1", "tl2", "float_matmul", "dequantize_row", "qdot"
    bool passed = false;
    std::string detail;  // what differed first (empty when passed or not offered)
    bool offered = true; // false: the table has no such kernel (not a failure)
};

// Runs in well under a second per table. Bit-exact comparison, outputs
// poisoned first, odd shapes and extreme values included.
std::vector<SelfTestResult> self_test(const KernelTable& table, uint64_t seed = 1);

}  // namespace tern::kernels
