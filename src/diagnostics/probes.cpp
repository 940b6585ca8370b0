#include "diagnostics/probes.h"

#include <chrono>
#include <string>

#include "kernels/dispatch.h"
#if defined(__x86_64__)
#include "kernels/x86/x86.h"
#elif defined(__aarch64__)
#include "kernels/arm/neon.h"
#endif

namespace tern::probes {

namespace {

// Baseline code already reads far faster than DRAM delivers, so this measures
// the memory (one stream, or 8, read 15-40 % slower on one core here).
uint64_t read_sum(const uint64_t* p, size_t n) {
    constexpr int kS = 4;
    const size_t q = n / kS;
    uint64_t s[kS][2] = {};
    for (size_t i = 0; i + 8 <= q; i += 8)
        for (int k = 0; k < kS; ++k) {
            const uint64_t* a = p + size_t(k) * q + i;
            __builtin_prefetch(a + 128);
            s[k][0] += a[0] + a[2] + a[4] + a[6];
            s[k][1] += a[1] + a[3] + a[5] + a[7];
        }
    uint64_t r = 0;
    for (int k = 0; k < kS; ++k) r += s[k][0] + s[k][1];
    return r;
}

}  // namespace

double read_pass(ThreadPool& pool, const uint64_t* buf, size_t words) {
    std::vector<uint64_t> sums(size_t(pool.size()));
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(
        int64_t(words), 4096,
        [&](int th, int64_t lo, int64_t hi) { sums[size_t(th)] += read_sum(buf + lo, size_t(hi - lo)); },
        ThreadPool::kStreaming);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile uint64_t keep = 0;
    for (uint64_t v : sums) keep = keep + v;
    return double(words * 8) / s;
}

std::vector<PeakProbe> int8_peak_probes() {
    std::vector<PeakProbe> out;
    using namespace kernels;
    auto has = [](const char* name) {
        for (const auto& e : available_tables())
            if (e.runs_here && std::string(e.table->name) == name) return true;
        return false;
    };
#if defined(__x86_64__)
    if (has("avx512vnni")) out.push_back({"avx512vnni", avx512vnni::int8_peak_probe, avx512vnni::int8_peak_probe_macs});
    if (has("avx512")) out.push_back({"avx512", avx512::int8_peak_probe, avx512::int8_peak_probe_macs});
    if (has("avxvnni")) out.push_back({"avxvnni", avxvnni::int8_peak_probe, avxvnni::int8_peak_probe_macs});
    if (has("avx2")) out.push_back({"avx2", avx2::int8_peak_probe, avx2::int8_peak_probe_macs});
#elif defined(__aarch64__)
    if (has("neon_dotprod"))
        out.push_back({"neon_dotprod", neon_dotprod::int8_peak_probe, neon_dotprod::int8_peak_probe_macs});
    if (has("neon")) out.push_back({"neon", neon::int8_peak_probe, neon::int8_peak_probe_macs});
#else
    (void)has;
#endif
    return out;
}

double peak_pass(ThreadPool& pool, const PeakProbe& p, int64_t iters) {
    std::vector<int64_t> sums(size_t(pool.size()));
    const auto t0 = std::chrono::steady_clock::now();
    pool.run_on_all([&](int th) { sums[size_t(th)] = p.run(iters, th + 1); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile int64_t keep = 0;
    for (int64_t v : sums) keep = keep + v;
    return double(p.macs(iters)) * pool.size() / s;
}

}  // namespace tern::probes
