#include "kernels/dispatch.h"

#include <cstdlib>
#include <mutex>
#include "tern/error.h"

#include "kernels/cpu_features.h"

namespace tern::kernels {

namespace {

bool avx512dq() {
#if defined(TERN_EMULATE_AVX512)
    return true;  // tests/x86_emulated: SIMDe runs the AVX-512 tables there
#elif defined(__x86_64__) || defined(_M_X64)
    return __builtin_cpu_supports("avx512dq");
#else
    return false;
#endif
}

struct Candidate {
    const KernelTable* (*table)();
    bool (*runs)(const CpuFeatures&);
    const char* requires_;
};

// Best first. Each line names what the table's code was compiled for; the
// predicate must demand at least that, or the table would fault (SIGILL).
// Each architecture's lines sit in their own block so they can grow apart.
const Candidate kCandidates[] = {
#if defined(__x86_64__) || defined(_M_X64)
    // The avx512 files are compiled with -mavx512f/bw/vl/dq: DQ is asked of the
    // CPU too (cpu_features has no flag for it; GCC's check includes XCR0).
    {table_avx512vnni,
     [](const CpuFeatures& f) {
         return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.avx2 && f.fma && f.f16c &&
                avx512dq();
     },
     "avx512f+avx512bw+avx512vl+avx512dq+avx512vnni"},
    {table_avx512,
     [](const CpuFeatures& f) {
         return f.avx512f && f.avx512bw && f.avx512vl && f.avx2 && f.fma && f.f16c && avx512dq();
     },
     "avx512f+avx512bw+avx512vl+avx512dq"},
    {table_avxvnni, [](const CpuFeatures& f) { return f.avx2 && f.fma && f.f16c && f.avxvnni; },
     "avx2+fma+f16c+avxvnni"},
    {table_avx2, [](const CpuFeatures& f) { return f.avx2 && f.fma && f.f16c; }, "avx2+fma+f16c"},
#endif
#if defined(__aarch64__)
    // i2s_dotprod.cpp is compiled with -march=armv8.2-a+dotprod (SDOT: Cortex-A55/A76 and later,
    // Neoverse N1/V1, Apple M1); everything else in kernels/arm is baseline armv8-a (ASIMD: every
    // arm64 CPU, e.g. Cortex-A53/A72, the Raspberry Pi 3/4).
    {table_neon_dotprod, [](const CpuFeatures& f) { return f.neon && f.dotprod; }, "neon+dotprod"},
    {table_neon, [](const CpuFeatures& f) { return f.neon; }, "neon"},
#endif
    {table_ref, [](const CpuFeatures&) { return true; }, "nothing (portable C++)"},
};

struct Choice {
    const KernelTable* table = nullptr;
    std::string reason;
};

Choice choose() {
    if (const char* forced = std::getenv("TERN_ISA"); forced && *forced) {
        return {&table_by_name(forced), std::string("forced by TERN_ISA=") + forced};
    }
    for (const auto& e : available_tables())
        if (e.runs_here)
            return {e.table, std::string("best table this CPU runs (") + e.table->name + " needs " + e.requires_ + ")"};
    return {table_ref(), "fallback"};
}

const Choice& choice() {
    static const Choice c = choose();
    return c;
}

}  // namespace

std::vector<TableEntry> available_tables() {
    std::vector<TableEntry> out;
    for (const auto& c : kCandidates) out.push_back({c.table(), c.runs(cpu_features()), c.requires_});
    return out;
}

const KernelTable& table_by_name(const std::string& name) {
    std::string known;
    for (const auto& e : available_tables()) {
        if (name == e.table->name) {
            if (!e.runs_here)
                throw Error("kernel table '" + name + "' needs " + e.requires_ +
                                         ", which this CPU does not have; unset TERN_ISA or pick another table");
            return *e.table;
        }
        known += known.empty() ? "" : ", ";
        known += e.table->name;
    }
    throw Error("unknown kernel table '" + name + "'; this binary has: " + known);
}

const KernelTable& active_table() { return *choice().table; }
std::string active_table_reason() { return choice().reason; }

}  // namespace tern::kernels
