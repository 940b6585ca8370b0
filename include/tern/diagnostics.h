// What this machine offers tern, and whether tern computes correctly on it:
// the CPU's features, every kernel table (and which one runs), and the
// self-test that checks each table's kernels against the reference bit for
// bit. This is what `tern info` shows.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tern/model.h"

namespace tern {

namespace gguf {
class File;
}

struct CpuInfo {
    std::string arch;                   // "x86_64", "aarch64", "other"
    std::string model;                  // brand string, e.g. "AMD EPYC ..."
    std::vector<std::string> features;  // e.g. {"avx2", "fma", "avx512f", ...}
};
CpuInfo cpu_info();

// Hardware threads this process may run on (the default for n_threads = 0).
int hardware_threads();

struct KernelTableInfo {
    std::string name;      // "ref", "avx2", "avx512vnni", "neon_dotprod", ...
    bool runs_here = false;
    std::string requires_;  // the CPU features it needs
};
// Every table built into this binary, best first.
std::vector<KernelTableInfo> kernel_tables();
// The table models load with: TERN_ISA if set, else the best that runs here.
// Throws tern::Error when TERN_ISA names a table this CPU cannot run.
std::string active_kernel_table();
std::string active_kernel_table_reason();

struct SelfTestResult {
    std::string table;
    std::string kernel;   // "quantize_rows", "i2s", "tl1", "tl2", "float_matmul", "attention", ...
    bool offered = true;  // false: the table has no such kernel (not a failure)
    bool passed = false;
    std::string detail;   // what differed first (empty when passed or not offered)
};
// Runs every kernel of `table` (a name from kernel_tables() that runs here)
// on random inputs against the reference. Throws tern::Error for an unknown
// table or one this CPU cannot run.
std::vector<SelfTestResult> self_test(const std::string& table);

// The FFN activation tern would use for a file and why (SPEC §1), without
// loading its weights. Throws tern::Error when the file is not runnable.
struct FfnChoice {
    FfnAct act;
    std::string reason;
};
FfnChoice ffn_act_for(const gguf::File& file);

// What an embedding model (qwen3 / gemma3 without output.weight, SPEC §8)
// pools with: the file's pooling_type ("none" ... "last"), "" when it has none.
// nullopt for a model with an output head. Throws like ffn_act_for.
std::optional<std::string> embedding_pooling(const gguf::File& file);

// The GGML type name of a type id: "F16", "I2_S", "Q6_K", or "type<N>".
std::string ggml_type_name(uint32_t type);

// This machine's limits, measured now on `threads` threads (0: all), to judge
// a speed as a ratio against limits measured in the same minutes (shared
// machines move by tens of percent from minute to minute):
//   read_bytes_per_s  memory read bandwidth: the best of a few passes over a
//                     256 MB buffer, far larger than the caches
//   int8_macs_per_s   the int8 multiply-add peak: the best of the kernel
//                     tables' peak probes that run here (independent
//                     dot-product chains, no memory traffic; x86 and arm64);
//                     0 on other CPUs
// About half a second. tern bench --probes reports speeds against them.
struct MachineLimits {
    double read_bytes_per_s = 0;
    double int8_macs_per_s = 0;
};
MachineLimits probe_machine(int threads);

}  // namespace tern
