// The machine limits speeds are judged against (bench/README.md: a shared,
// noisy machine is compared with itself, in the same minutes): memory read
// bandwidth and the int8 multiply-add peak. tern bench --probes (through
// tern/diagnostics.h) and bench/'s tern_bench measure with these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/thread_pool.h"

namespace tern::probes {

// One pass summing `words` 64-bit words over the pool's threads, each its
// share as 4 sequential streams with software prefetch (the fastest read
// pattern found for one core); bytes per second.
double read_pass(ThreadPool& pool, const uint64_t* buf, size_t words);

// A kernel table's int8 peak: `run` does `iters` iterations of independent
// dot-product chains with no memory traffic (returns a checksum), `macs`
// counts their multiply-adds.
struct PeakProbe {
    const char* isa;
    int64_t (*run)(int64_t iters, int32_t seed);
    int64_t (*macs)(int64_t iters);
};
// The probes of the kernel tables that run on this CPU (x86 and arm64).
std::vector<PeakProbe> int8_peak_probes();

// Multiply-adds per second of one pass of `p`, every thread of the pool running its own chains.
double peak_pass(ThreadPool& pool, const PeakProbe& p, int64_t iters);

}  // namespace tern::probes
