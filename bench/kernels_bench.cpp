// Kernel microbenchmarks on real model shapes (issue: the kernels).
//
// What runs:
//   probe/read_bw/threads:T           memory read bandwidth over a buffer far
//                                     larger than the last-level cache
//   probe/int8_peak/ISA/threads:T     int8 dot-product peak (>= 14 independent
//                                     accumulator chains, no memory traffic)
//   probe/int8_accumulate/avx2/threads:T
//                                     pmaddubsw + paddw from L1: the ceiling of
//                                     a kernel without vpdpbusd (pct_peak)
//   FAMILY/TABLE/MODEL:ROWSxCOLS/N:n/threads:T
//                                     BitLinear::apply (the kernel plus the
//                                     beta/s scaling) as the forward pass calls
//                                     it, through tern's ThreadPool
//   output/TABLE/TYPE/128256x2560/N:n/threads:T
//                                     the 2B4T output projection as the forward
//                                     pass runs it (F16: float_matmul; Q8_0,
//                                     Q4_K, Q5_K, Q6_K: qdot_prepare + qdot_matmul)
//   output-f32/TABLE/TYPE/...         Q8_0 / Q6_K through float_matmul (before qdot)
//   attention/TABLE/D:128/tokens:16/keys:K/threads:1
//                                     one prefill attention task (scores and
//                                     values of 16 tokens of one head)
// Counters: GB/s of weight bytes, GMAC/s (ternary MACs = rows*cols*N), and the
// same as % of the probes measured in this process (pct_bw, pct_peak), so
// ratios come from one run on one (noisy) machine.
//
// Weights rotate through enough copies to fill TERN_BENCH_MB (default 512) of
// memory, so decode numbers are DRAM numbers, not cache numbers, like a real
// model whose weights never fit in cache.
//
// Noise: this 2-core machine is shared, so run with --benchmark_repetitions=5
// and read the "_max" rows (the best rate of the repetitions; a neighbour's
// process only ever lowers a rate).
//
// By default a short set runs (the best table, 2B4T shapes, N = 1 and 512, the
// output matrix, the probes). TERN_BENCH_ALL=1 registers every table x family x
// shape x N x threads; pick with --benchmark_filter, e.g.
//   TERN_BENCH_ALL=1 tern_bench --benchmark_filter='^(probe|i2s/avx512vnni/.*N:(1|512)/)'
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/formats.h"
#include "diagnostics/probes.h"
#include "kernels/kernels.h"
#include "model/bitlinear.h"
#include "runtime/thread_pool.h"
#if defined(__x86_64__)
#include "kernels/cpu_features.h"
#include "kernels/x86/x86.h"
#endif

namespace tern {
namespace {

using kernels::KernelTable;
using kernels::TernaryFamily;
using Clock = std::chrono::steady_clock;

struct Shape {
    const char* model;
    int64_t rows, cols;  // out_features, in_features
};

constexpr Shape kShapes[] = {
    {"2B4T", 2560, 2560}, {"2B4T", 640, 2560},  {"2B4T", 6912, 2560}, {"2B4T", 2560, 6912},
    {"3B", 3200, 3200},   {"3B", 8640, 3200},   {"3B", 3200, 8640},   {"8B", 4096, 4096},
    {"8B", 1024, 4096},   {"8B", 14336, 4096},  {"8B", 4096, 14336},
    // BitNet-embedding-0.6B (Qwen3): q, k/v, o, gate/up, down.
    {"0.6B", 2048, 1024}, {"0.6B", 1024, 1024}, {"0.6B", 1024, 2048}, {"0.6B", 3072, 1024}, {"0.6B", 1024, 3072},
};

size_t footprint_bytes() {
    const char* e = std::getenv("TERN_BENCH_MB");
    const long mb = e && *e ? std::atol(e) : 512;
    return size_t(mb > 16 ? mb : 16) << 20;
}

ThreadPool& pool(int threads) {
    static std::mutex mu;
    static std::map<int, std::unique_ptr<ThreadPool>> pools;
    std::lock_guard<std::mutex> lock(mu);
    auto& p = pools[threads];
    if (!p) p = std::make_unique<ThreadPool>(threads);
    return *p;
}

uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// ---------------------------------------------------------------- probes

struct ReadBuffer {
    AlignedBuffer buf;
    ReadBuffer() : buf(footprint_bytes()) {
        uint64_t seed = 1;
        auto* w = buf.as<uint64_t>();
        for (size_t i = 0; i < buf.size() / 8; i += 512) w[i] = splitmix(seed);  // touch every page
    }
};
ReadBuffer& read_buffer() {
    static ReadBuffer b;
    return b;
}

// One pass over the buffer split across the pool (probes::read_pass: 4
// sequential streams a thread with software prefetch); bytes / second.
double read_pass(int threads) {
    auto& b = read_buffer();
    return probes::read_pass(pool(threads), b.buf.as<uint64_t>(), b.buf.size() / 8);
}

// Best of several passes (bandwidth: noise only ever lowers it).
double probe_read_bw(int threads) {
    static std::mutex mu;
    static std::map<int, double> cache;
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(threads); it != cache.end()) return it->second;
    double best = 0;
    for (int i = 0; i < 6; ++i) best = std::max(best, read_pass(threads));
    return cache[threads] = best;
}

using probes::PeakProbe;
using probes::int8_peak_probes;

double peak_pass(const PeakProbe& p, int threads, int64_t iters) { return probes::peak_pass(pool(threads), p, iters); }

double probe_peak(const PeakProbe& p, int threads) {
    static std::mutex mu;
    static std::map<std::pair<std::string, int>, double> cache;
    std::lock_guard<std::mutex> lock(mu);
    const auto key = std::make_pair(std::string(p.isa), threads);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    double best = 0;
    for (int i = 0; i < 5; ++i) best = std::max(best, peak_pass(p, threads, 2'000'000));
    return cache[key] = best;
}

// The machine's int8 peak: the best probe of any table it runs.
double machine_peak(int threads) {
    double best = 0;
    for (const auto& p : int8_peak_probes()) best = std::max(best, probe_peak(p, threads));
    return best;
}

void BM_read_bw(benchmark::State& st, int threads) {
    double best = 0;
    for (auto _ : st) best = std::max(best, read_pass(threads));
    st.counters["GB/s"] = best / 1e9;
    st.counters["MB"] = double(footprint_bytes() >> 20);
}

void BM_peak(benchmark::State& st, PeakProbe p, int threads) {
    double best = 0;
    for (auto _ : st) best = std::max(best, peak_pass(p, threads, 2'000'000));
    st.counters["GMAC/s"] = best / 1e9;
}

// The products plus their adds into sums, from L1, on a table without
// vpdpbusd: the ceiling of its kernels, as % of its own peak probe.
struct AccumulateProbe {
    PeakProbe loop, peak;
};
std::vector<AccumulateProbe> accumulate_probes() {
    std::vector<AccumulateProbe> out;
#if defined(__x86_64__)
    for (const auto& p : int8_peak_probes())
        if (std::string(p.isa) == "avx2")
            out.push_back({{"avx2", kernels::avx2::int8_accumulate_probe, kernels::avx2::int8_accumulate_probe_macs}, p});
#endif
    return out;
}

void BM_accumulate(benchmark::State& st, AccumulateProbe p, int threads) {
    double best = 0;
    for (auto _ : st) best = std::max(best, peak_pass(p.loop, threads, 2'000'000));
    st.counters["GMAC/s"] = best / 1e9;
    st.counters["pct_peak"] = 100.0 * best / probe_peak(p.peak, threads);
}

// ---------------------------------------------------------------- ternary

const kernels::TernaryMatrix& matrix(const Shape& sh) {
    static std::mutex mu;
    static std::map<std::pair<int64_t, int64_t>, std::unique_ptr<kernels::TernaryMatrix>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto& m = cache[{sh.rows, sh.cols}];
    if (!m) {
        m = std::make_unique<kernels::TernaryMatrix>(sh.rows, sh.cols, 0.02f);
        // Random codes in {0, 1, 2} (a byte holds four), 40% zeros like a real
        // BitNet; the padding columns stay weight 0 (code 1).
        uint64_t seed = uint64_t(sh.rows * 7919 + sh.cols);
        for (int64_t r = 0; r < sh.rows; ++r) {
            uint8_t* row = m->row(r);
            for (int64_t b = 0; b < sh.cols / 4; ++b) {
                const uint64_t z = splitmix(seed);
                uint8_t v = 0;
                for (int k = 0; k < 4; ++k) {
                    const uint32_t u = uint32_t(z >> (16 * k)) & 0xffff;
                    v |= uint8_t((u < 19661 ? 0 : u < 45875 ? 1 : 2) << (2 * k));
                }
                row[b] = v;
            }
            for (int64_t c = sh.cols / 4 * 4; c < sh.cols; ++c) m->set(r, c, int(splitmix(seed) % 3) - 1);
        }
    }
    return *m;
}

void BM_ternary(benchmark::State& st, const KernelTable* T, TernaryFamily fam, Shape sh, int64_t n, int threads) {
    const kernels::TernaryMatrix& m = matrix(sh);
    const kernels::TernaryKernels& k = T->ternary[int(fam)];
    std::vector<kernels::PackedTernary> copies;
    copies.push_back(k.repack(m));
    const size_t bytes = copies[0].data.size();
    const size_t n_copies = std::max<size_t>(1, (footprint_bytes() + bytes - 1) / bytes);
    for (size_t i = 1; i < n_copies; ++i) {
        kernels::PackedTernary p;
        p.rows = copies[0].rows;
        p.cols = copies[0].cols;
        p.padded_cols = copies[0].padded_cols;
        p.scale = copies[0].scale;
        std::memcpy(p.param, copies[0].param, sizeof p.param);
        p.data = AlignedBuffer(bytes);
        std::memcpy(p.data.data(), copies[0].data.data(), bytes);
        copies.push_back(std::move(p));
    }
    std::vector<float> x(size_t(n * sh.cols));
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : x) v = nd(rng);
    BitLinear bl(*T, fam, pool(threads));
    QuantizedActs acts;
    bl.quantize(x.data(), n, sh.cols, acts);
    std::vector<float> y(size_t(n * sh.rows));
    bl.apply(copies[0], acts, y.data());  // warm-up: buffers sized, pages touched

    size_t i = 0;
    double secs = 0;
    for (auto _ : st) {
        const auto t0 = Clock::now();
        bl.apply(copies[i++ % n_copies], acts, y.data());
        secs += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    benchmark::DoNotOptimize(y.data());
    const double iters = double(st.iterations());
    const double gbps = double(bytes) * iters / secs / 1e9, gmacs = double(sh.rows * sh.cols * n) * iters / secs / 1e9;
    st.counters["GB/s"] = gbps;
    st.counters["GMAC/s"] = gmacs;
    st.counters["pct_bw"] = 100.0 * gbps * 1e9 / probe_read_bw(threads);
    if (const double peak = machine_peak(threads); peak > 0) st.counters["pct_peak"] = 100.0 * gmacs * 1e9 / peak;
    st.counters["weight_MB"] = double(bytes) / 1e6;
}

// ---------------------------------------------------------------- output projection

// In huge-page memory (AlignedBuffer), as load.cpp copies the engine's output
// matrix: from 4 KB pages Q6_K read ~10% slower here.
AlignedBuffer& output_matrix(GgmlType type, int64_t rows, int64_t cols, int64_t* row_bytes) {
    static std::mutex mu;
    static std::map<int, AlignedBuffer> cache;
    std::lock_guard<std::mutex> lock(mu);
    const auto traits = type_traits(uint32_t(type));
    *row_bytes = cols / traits->block_elems * traits->block_bytes;
    auto& v = cache[int(type)];
    if (v.size() == 0) {
        cache.clear();  // one at a time: these are hundreds of MB
        auto& w = cache[int(type)];
        w = AlignedBuffer(size_t(rows * *row_bytes));
        uint64_t seed = 42;
        for (size_t i = 0; i + 8 <= w.size(); i += 8) {
            uint64_t z = splitmix(seed);
            if (type == GgmlType::F16) z &= 0xbbffbbffbbffbbffull;  // exponents < 30: finite halves
            std::memcpy(w.data() + i, &z, 8);
        }
        // Small finite block scales (Q4_K / Q5_K: d and dmin); any other bytes are valid.
        const int64_t block = type == GgmlType::F16 ? 0 : traits->block_bytes;
        const int64_t d_off = type == GgmlType::Q6_K ? 208 : 0, n_d = type == GgmlType::Q4_K || type == GgmlType::Q5_K ? 2 : 1;
        if (block)
            for (size_t b = 0; b + size_t(block) <= w.size(); b += size_t(block))
                for (int64_t k = 0; k < n_d; ++k) {
                    const uint16_t d = 0x1c00;
                    std::memcpy(w.data() + b + size_t(d_off + 2 * k), &d, 2);
                }
        return w;
    }
    return v;
}

// As Forward::run applies it: Q8_0 / Q6_K through qdot (the tokens quantized
// to int16 first, inside the timing), other types and `float_path` through
// float_matmul (what Q8_0 / Q6_K used before qdot).
void BM_output(benchmark::State& st, const KernelTable* T, GgmlType type, int64_t n, int threads, bool float_path) {
    const int64_t rows = 128256, cols = 2560;
    int64_t row_bytes = 0;
    const auto& w = output_matrix(type, rows, cols, &row_bytes);
    std::vector<float> x(size_t(n * cols)), y(size_t(n * rows));
    std::mt19937 rng(4);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : x) v = nd(rng);
    ThreadPool& p = pool(threads);
    const bool qdot = !float_path && kernels::qdot_supports(type, cols);
    AlignedBuffer prep(size_t(n * kernels::qdot_prepared_bytes(cols)));
    auto body = [&](int, int64_t r0, int64_t r1) {
        if (qdot)
            T->qdot_matmul(type, w.data(), row_bytes, cols, prep.data(), n, y.data(), rows, r0, r1);
        else
            T->float_matmul(type, w.data(), row_bytes, cols, x.data(), n, cols, y.data(), rows, r0, r1);
    };
    auto run = [&] {
        if (qdot) T->qdot_prepare(x.data(), n, cols, cols, prep.data());
        p.parallel_for(rows, 64, body, n == 1 ? ThreadPool::kStreaming : ThreadPool::kBalanced);
    };
    run();
    double secs = 0;
    for (auto _ : st) {
        const auto t0 = Clock::now();
        run();
        secs += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    benchmark::DoNotOptimize(y.data());
    const double gbps = double(w.size()) * double(st.iterations()) / secs / 1e9;
    st.counters["GB/s"] = gbps;
    st.counters["pct_bw"] = 100.0 * gbps * 1e9 / probe_read_bw(threads);
    st.counters["weight_MB"] = double(w.size()) / 1e6;
}

// One prefill attention task as causal_attention runs it: 16 tokens of one
// head (head_dim 128) against `keys` keys of a float cache, key block by key
// block (scores, then the weighted values), on one thread. GMAC/s counts the
// products of both halves (2 x 16 x keys x 128 per call), per second.
void BM_attention(benchmark::State& st, const KernelTable* T, int64_t keys) {
    constexpr int64_t D = 128, m = 16, B = kernels::kAttnKeyBlock;
    const int64_t blocks = (keys + B - 1) / B;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> q(size_t(m * D)), kt(size_t(blocks * B * D)), v(size_t(keys * D)), s(size_t(m * keys)),
        out(size_t(m * D));
    for (auto* vec : {&q, &kt, &v}) for (auto& x : *vec) x = u(rng);
    for (auto& x : s) x = u(rng) / float(keys);
    for (auto _ : st) {
        for (int64_t p0 = 0; p0 < keys; p0 += B)
            T->attn_scores(q.data(), m, D, D, kt.data() + p0 * D, std::min(B, keys - p0), s.data() + p0, keys);
        for (int64_t p0 = 0; p0 < keys; p0 += B)
            T->attn_values(s.data() + p0, m, keys, v.data() + p0 * D, D, std::min(B, keys - p0), D, out.data(), D,
                           p0 > 0);
        benchmark::DoNotOptimize(out.data());
    }
    st.counters["GMAC"] = benchmark::Counter(double(2 * m * keys * D) * double(st.iterations()) / 1e9,
                                               benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------- registration

bool all_benchmarks() {
    const char* e = std::getenv("TERN_BENCH_ALL");
    return e && *e && std::string(e) != "0";
}

std::string shape_name(const Shape& s) {
    return std::string(s.model) + ":" + std::to_string(s.rows) + "x" + std::to_string(s.cols);
}

int register_all() {
    const bool all = all_benchmarks();
    for (int th : {1, 2}) {
        benchmark::RegisterBenchmark(("probe/read_bw/threads:" + std::to_string(th)).c_str(), BM_read_bw, th)
            ->UseRealTime()->Iterations(5)->Unit(benchmark::kMillisecond);
        for (const auto& p : int8_peak_probes())
            benchmark::RegisterBenchmark(("probe/int8_peak/" + std::string(p.isa) + "/threads:" + std::to_string(th)).c_str(),
                                         BM_peak, p, th)
                ->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);
        for (const auto& p : accumulate_probes())
            benchmark::RegisterBenchmark(
                ("probe/int8_accumulate/" + std::string(p.loop.isa) + "/threads:" + std::to_string(th)).c_str(),
                BM_accumulate, p, th)
                ->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);
    }
    std::vector<const KernelTable*> tables;
    // The scalar reference is an oracle, not a contender: left out.
    for (const auto& e : kernels::available_tables())
        if (e.runs_here && std::string(e.table->name) != "ref" && (all || e.table == &kernels::active_table()))
            tables.push_back(e.table);
    for (const KernelTable* T : tables)
        for (int f = 0; f < kernels::kTernaryFamilies; ++f) {
            if (!T->ternary[f].matmul) continue;
            if (!all && f != 0) continue;
            for (const Shape& sh : kShapes) {
                if (!all && std::string(sh.model) != "2B4T") continue;
                for (int64_t n : {1, 2, 4, 8, 16, 128, 512}) {
                    if (!all && n != 1 && n != 8 && n != 512) continue;
                    for (int th : {1, 2}) {
                        const std::string name = std::string(kernels::family_name(TernaryFamily(f))) + "/" + T->name +
                                                 "/" + shape_name(sh) + "/N:" + std::to_string(n) +
                                                 "/threads:" + std::to_string(th);
                        benchmark::RegisterBenchmark(name.c_str(), BM_ternary, T, TernaryFamily(f), sh, n, th)
                            ->UseRealTime()
                            ->Unit(benchmark::kMillisecond)
                            ->MinTime(n == 1 ? 0.3 : 0.5)
                            ->ComputeStatistics("max", [](const std::vector<double>& v) {
                                return *std::max_element(v.begin(), v.end());
                            });
                    }
                }
            }
        }
    for (const KernelTable* T : tables)
        for (GgmlType type : {GgmlType::F16, GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q4_K, GgmlType::Q5_K})
            for (bool float_path : {false, true})
            for (int64_t n : {1, 2, 4, 8, 16}) {
                if (float_path && type == GgmlType::F16) continue;  // F16 has only the float path
                if (!all && ((n != 1 && n != 8) || float_path)) continue;
                for (int th : {1, 2}) {
                    const std::string name = std::string(float_path ? "output-f32/" : "output/") + T->name + "/" +
                                             type_name(uint32_t(type)) + "/128256x2560/N:" + std::to_string(n) +
                                             "/threads:" + std::to_string(th);
                    benchmark::RegisterBenchmark(name.c_str(), BM_output, T, type, n, th, float_path)
                        ->UseRealTime()
                        ->Unit(benchmark::kMillisecond)
                        ->MinTime(0.5)
                        ->ComputeStatistics("max", [](const std::vector<double>& v) {
                            return *std::max_element(v.begin(), v.end());
                        });
                }
            }
    for (const KernelTable* T : tables)
        for (int64_t keys : {120, 512}) {
            if (!all && keys != 512) continue;
            benchmark::RegisterBenchmark(
                ("attention/" + std::string(T->name) + "/D:128/tokens:16/keys:" + std::to_string(keys) + "/threads:1")
                    .c_str(),
                BM_attention, T, keys)
                ->Unit(benchmark::kMicrosecond)
                ->MinTime(0.3);
        }
    return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace tern
