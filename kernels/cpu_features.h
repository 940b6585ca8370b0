// What the CPU we run on can do, detected once (cpuid + xgetbv on x86,
// getauxval on Linux/arm64). The OS check matters: a CPU with AVX-512 whose
// kernel does not save ZMM state must not get AVX-512 code.
#pragma once

#include <string>
#include <vector>

namespace tern::kernels {

struct CpuFeatures {
    std::string arch;   // "x86_64", "aarch64", "other"
    std::string model;  // brand string, e.g. "Intel(R) Xeon(R) ..."
    // x86
    bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avxvnni = false;
    // arm64
    bool neon = false, dotprod = false, i8mm = false;

    std::vector<std::string> names() const;  // the flags that are set, e.g. {"avx2", "fma", ...}
};

const CpuFeatures& cpu_features();  // detected on first call, then cached

}  // namespace tern::kernels
