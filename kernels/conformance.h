// The kernel conformance harness: one list of cases, each checking one kernel
// of a table against the scalar reference (kernels/ref) on given shapes,
// values and seeds, bit for bit, outputs poisoned first (DESIGN.md,
// verification ladder, rung 1). Four clients run the same cases:
// - `tern info --self-test` (self_test below): quick sizes, on the tables
//   this CPU runs, so a kernel that computes garbage there says so;
// - tests/kernels_x86_test.cpp: full sizes, one GoogleTest per table and case;
// - tests/arm/arm_kernels_test.cpp: full sizes under qemu-aarch64;
// - tests/x86_emulated: full sizes, the AVX-512 / AVX-VNNI tables on SIMDe.
// Baseline code: it only calls through a table's function pointers. Steps
// that only one ISA's layout has (the TL table build and lookup, repacked
// layouts decoded back) stay in that ISA's test.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace tern::kernels {

enum class CaseSize { quick, full };

class Check;  // a case's view of the table under test (conformance.cpp)

struct ConformanceCase {
    std::string kernel;  // the entry checked: quantize_rows, i2s, tl1, tl2, float_matmul, dequantize_row, qdot, attention, rowops
    std::string name;    // what the case varies ("odd shapes", "F16", ...); kernel + name is unique
    std::function<void(Check&, CaseSize)> run;
};

// What one case found: every comparison counts once. A failure names the
// table, kernel, case, shape and first differing element, e.g.
//   "avx2 tl1 odd shapes: 17x300 n=3 rows [1, 16): differs from ref first at token 0, row 5: got 12, want 13"
struct CaseResult {
    bool offered = true;  // false: the table has a null entry for this kernel
    int64_t passed = 0;
    int64_t failed = 0;
    std::vector<std::string> failures;  // the first few
};

// Every case, grouped by kernel in the order above.
const std::vector<ConformanceCase>& conformance_cases();

// Whether `table` has every entry `kernel` needs.
bool table_offers(const KernelTable& table, const std::string& kernel);

// Runs one case on `table`; the random inputs depend on `seed` and the case
// only, so a case gives the same inputs whatever ran before it. An exception
// is a failure. A kernel the table does not offer is one failure.
CaseResult run_case(const ConformanceCase& c, const KernelTable& table, CaseSize size, uint64_t seed = 1);

// Inputs the ISA-specific tests share with the cases (TL steps, layouts
// decoded back): a ternary matrix (scale 0.75) and int8 activations
// ([n, stride], zero past cols, one spare zero byte at the end).
enum class WeightFill { random, plus, minus, zero, checker, sparse };
enum class ActFill { random, max, min, alternating, minus127, small };
TernaryMatrix test_matrix(std::mt19937_64& rng, int64_t rows, int64_t cols, WeightFill fill);
std::vector<int8_t> test_activations(std::mt19937_64& rng, int64_t n, int64_t cols, int64_t stride, ActFill fill);

// The two TL steps of one ISA's table layout, checked apart (DESIGN.md,
// families): the table one token builds equals ref's entries, and the
// table's TL1/TL2 matmul over a table converted from ref's equals ref's
// lookups. What tests/kernels_x86_test.cpp and tests/arm pass for their layouts.
struct TlLayout {
    void (*tl1_build)(const int8_t* a, int64_t padded_cols, uint8_t* table);
    int64_t (*tl1_bytes)(int64_t padded_cols);
    void (*tl1_from_ref)(const int16_t* ref_table, int64_t padded_cols, uint8_t* table);
    int16_t (*tl1_entry)(const uint8_t* table, int64_t pair, int idx);  // idx < 16 (9 used, the rest 0)
    void (*tl2_build)(const int8_t* a, int64_t padded_cols, uint8_t* table);
    int64_t (*tl2_bytes)(int64_t padded_cols);
    void (*tl2_from_ref)(const int16_t* ref_table, int64_t padded_cols, uint8_t* table);
    int16_t (*tl2_entry)(const uint8_t* table, int64_t group, int idx);  // idx < tl2_width (14 used per 16)
    int64_t (*tl2_groups)(int64_t padded_cols);  // groups a table holds (those past ref's are 0)
    int tl2_width;  // 16, or 32 when entries 16..31 are the negatives of 0..15
};
CaseResult check_tl_steps(const KernelTable& table, const TlLayout& layout, uint64_t seed = 1);

// `tern info --self-test`: every kernel of `table`, quick sizes.
struct SelfTestResult {
    std::string kernel;   // as ConformanceCase::kernel
    bool passed = false;
    std::string detail;   // the first failure (empty when passed or not offered)
    bool offered = true;  // false: the table has no such kernel (not a failure)
};
std::vector<SelfTestResult> self_test(const KernelTable& table, uint64_t seed = 1);

}  // namespace tern::kernels
