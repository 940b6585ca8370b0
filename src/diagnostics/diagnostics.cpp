// tern/diagnostics.h over the kernel library's own CPU detection, dispatch and
// self-test (kernels/).
#include "tern/diagnostics.h"

#include <algorithm>

#include "diagnostics/probes.h"
#include "kernels/aligned_buffer.h"
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/formats.h"
#include "model/hparams.h"
#include "runtime/thread_pool.h"
#include "kernels/conformance.h"

namespace tern {

CpuInfo cpu_info() {
    const auto& f = kernels::cpu_features();
    return {f.arch, f.model, f.names()};
}

int hardware_threads() { return default_thread_count(); }

std::vector<KernelTableInfo> kernel_tables() {
    std::vector<KernelTableInfo> out;
    for (const auto& e : kernels::available_tables()) out.push_back({e.table->name, e.runs_here, e.requires_});
    return out;
}

std::string active_kernel_table() { return kernels::active_table().name; }

std::string active_kernel_table_reason() { return kernels::active_table_reason(); }

std::vector<SelfTestResult> self_test(const std::string& table) {
    const kernels::KernelTable* t = nullptr;
    for (const auto& e : kernels::available_tables())
        if (table == e.table->name) {
            if (!e.runs_here) throw Error("kernel table '" + table + "' needs " + e.requires_ + ", which this CPU lacks");
            t = e.table;
        }
    if (!t) throw Error("unknown kernel table '" + table + "'");
    std::vector<SelfTestResult> out;
    for (const auto& r : kernels::self_test(*t)) out.push_back({table, r.kernel, r.offered, r.passed, r.detail});
    return out;
}

FfnChoice ffn_act_for(const gguf::File& file) {
    const HParams h = read_hparams(file);
    return {h.ffn_act, h.ffn_act_reason};
}

std::optional<std::string> embedding_pooling(const gguf::File& file) {
    const HParams h = read_hparams(file);
    if (h.output_head) return std::nullopt;
    return h.pooling ? pooling_name(*h.pooling) : "";
}

std::string ggml_type_name(uint32_t type) { return type_name(type); }

MachineLimits probe_machine(int threads) {
    ThreadPool pool(threads > 0 ? threads : hardware_threads());
    MachineLimits m;
    // Noise only ever lowers a rate: the best of a few passes.
    constexpr size_t kReadBytes = size_t(256) << 20;
    AlignedBuffer buf(kReadBytes);
    auto* w = buf.as<uint64_t>();
    for (size_t i = 0; i < kReadBytes / 8; i += 512) w[i] = i;  // touch every page before timing
    for (int i = 0; i < 4; ++i) m.read_bytes_per_s = std::max(m.read_bytes_per_s, probes::read_pass(pool, w, kReadBytes / 8));
    for (const auto& p : probes::int8_peak_probes())
        for (int i = 0; i < 3; ++i) m.int8_macs_per_s = std::max(m.int8_macs_per_s, probes::peak_pass(pool, p, 2'000'000));
    return m;
}

}  // namespace tern
