// `tern bench`: prompt-processing and generation speed in llama-bench's terms
// (ppN: N prompt tokens in batches; tgN: N tokens generated one at a time).
#include <cmath>
#include <random>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "git_commit.h"  // generated at build time (cmake/git_commit.cmake)
#include "tern/gguf.h"
#include "tern/diagnostics.h"
#include "tern/batch.h"
#include "tern/embed.h"
#include "tern/session.h"

namespace tern::cli {

namespace {

struct BenchOpts {
    ModelOpts m;
    std::vector<int64_t> pp{512};
    std::vector<int64_t> tg{128};
    std::vector<int> threads;
    std::vector<std::string> kernels{"auto"};
    std::vector<int> npl;  // sequences decoding together (llama-batched-bench's -npl)
    int reps = 5;
    std::string output = "md";
};

struct Result {
    std::string model, type, isa, kernel, test;
    uint64_t size = 0;
    int64_t params = 0;
    int threads = 0;
    double mean = 0, sd = 0;
    std::vector<double> samples;
};

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (auto& x : t) x = int32_t(rng() % uint64_t(vocab));
    return t;
}

std::string human_size(uint64_t b) {
    return b >= (1ull << 30) ? fmt::format("{:.2f} GiB", double(b) / double(1ull << 30))
                             : fmt::format("{:.2f} MiB", double(b) / double(1ull << 20));
}
std::string human_params(int64_t p) {
    return p >= 1000000000 ? fmt::format("{:.2f} B", p / 1e9) : fmt::format("{:.2f} M", p / 1e6);
}

// Times `run` (returns tokens processed) reps times after one warm-up.
void measure(Result& r, int reps, const std::function<int64_t()>& run) {
    run();
    for (int k = 0; k < reps; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        const int64_t n = run();
        r.samples.push_back(double(n) / std::max(seconds_since(t0), 1e-9));
    }
    double s = 0;
    for (double v : r.samples) s += v;
    r.mean = s / double(r.samples.size());
    double v2 = 0;
    for (double v : r.samples) v2 += (v - r.mean) * (v - r.mean);
    r.sd = r.samples.size() > 1 ? std::sqrt(v2 / double(r.samples.size() - 1)) : 0.0;
}

void print_results(const std::vector<Result>& results, const std::string& format) {
    const CpuInfo cpu = cpu_info();
    if (format == "md") {
        fmt::print("| model | size | params | type | isa | kernel | threads | test | t/s |\n");
        fmt::print("| --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |\n");
        for (const auto& r : results)
            fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} | {:.2f} ± {:.2f} |\n", r.model, human_size(r.size),
                       human_params(r.params), r.type, r.isa, r.kernel, r.threads, r.test, r.mean, r.sd);
        fmt::print("\ncpu: {}; tern {} ({})\n", cpu.model, TERN_VERSION, TERN_GIT_COMMIT);
    } else if (format == "csv") {
        fmt::print("model,size_bytes,params,type,isa,kernel,threads,test,tokens_per_s,stddev,cpu,tern_version,git_commit\n");
        for (const auto& r : results)
            fmt::print("\"{}\",{},{},{},{},{},{},{},{:.4f},{:.4f},\"{}\",{},{}\n", r.model, r.size, r.params, r.type, r.isa,
                       r.kernel, r.threads, r.test, r.mean, r.sd, cpu.model, TERN_VERSION, TERN_GIT_COMMIT);
    } else {
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const auto& r : results)
            out.push_back({{"model", r.model}, {"size_bytes", r.size}, {"params", r.params}, {"type", r.type},
                           {"isa", r.isa}, {"kernel", r.kernel}, {"threads", r.threads}, {"test", r.test},
                           {"tokens_per_s", r.mean}, {"stddev", r.sd}, {"samples", r.samples}, {"cpu", cpu.model},
                           {"tern_version", TERN_VERSION}, {"git_commit", TERN_GIT_COMMIT}});
        fmt::print("{}\n", out.dump(2));
    }
}

void bench(BenchOpts o) {
    install_interrupt_handler();
    if (o.threads.empty()) o.threads = {hardware_threads()};
    if (o.kernels.size() == 1 && o.kernels[0] == "all") o.kernels = {"i2s", "tl1", "tl2"};
    const int64_t max_pp = *std::max_element(o.pp.begin(), o.pp.end());
    const int64_t max_tg = *std::max_element(o.tg.begin(), o.tg.end());
    std::vector<Result> results;
    for (const std::string& kernel : o.kernels) {
        ModelOpts mo = o.m;
        mo.kernel = kernel;
        std::optional<Model> model;
        try {
            model.emplace(Model::load(mo.model, mo.load_options()));
        } catch (const Error& e) {
            if (o.kernels.size() > 1) {  // --kernel all: skip families this table lacks
                fmt::print(stderr, "skipping kernel {}: {}\n", kernel, e.what());
                continue;
            }
            throw;
        }
        const ModelInfo& hp = model->info();
        Result base;
        base.model = hp.name;
        base.size = hp.file_size;
        base.params = hp.n_params;
        base.type = hp.weight_type;
        base.isa = hp.kernel_table;
        base.kernel = kernel_family_name(hp.kernel_family);
        for (int threads : o.threads) {
            mo.threads = threads;
            mo.ctx = std::min<int64_t>(hp.n_ctx_train > 0 ? std::max(hp.n_ctx_train, max_pp + max_tg) : max_pp + max_tg,
                                       max_pp + max_tg);
            mo.batch = max_pp;
            // An embedding model (no output head) has prompt processing only:
            // its pp runs through the Embedder (one input of p tokens).
            const bool head = hp.has_output_head;
            std::optional<Session> s;
            std::optional<Embedder> e;
            if (head)
                s.emplace(*model, mo.session_options());
            else
                e.emplace(*model, EmbedOptions{.n_ctx = std::max<int64_t>(max_pp, 1), .n_batch = std::max<int64_t>(max_pp, 1),
                                               .n_threads = threads});
            for (int64_t p : o.pp) {
                if (p <= 0) continue;
                Result r = base;
                r.threads = threads;
                r.test = "pp" + std::to_string(p);
                fmt::print(stderr, "bench: {} kernel {} threads {} {} ...\n", base.isa, base.kernel, threads, r.test);
                const std::vector<std::vector<int32_t>> toks = {random_tokens(p, hp.n_vocab, 42)};
                measure(r, o.reps, [&] {
                    if (e) {
                        e->embed(toks);
                    } else {
                        s->reset();
                        s->eval(toks[0]);
                    }
                    return p;
                });
                results.push_back(r);
            }
            if (!head) {
                if (std::any_of(o.tg.begin(), o.tg.end(), [](int64_t n) { return n > 0; }) || !o.npl.empty())
                    fmt::print(stderr, "bench: {} is an embedding model (no output head): prompt processing only\n",
                               hp.name);
                continue;
            }
            for (int64_t n : o.tg) {
                if (n <= 0) continue;
                Result r = base;
                r.threads = threads;
                r.test = "tg" + std::to_string(n);
                fmt::print(stderr, "bench: {} kernel {} threads {} {} ...\n", base.isa, base.kernel, threads, r.test);
                const auto toks = random_tokens(n, hp.n_vocab, 7);
                measure(r, o.reps, [&] {
                    s->reset();
                    for (int64_t k = 0; k < n; ++k) s->eval(std::span<const int32_t>(&toks[size_t(k)], 1));
                    return n;
                });
                results.push_back(r);
            }
            // Batched decoding: P sequences, each after a 16-token prompt, one
            // token each per step through one forward pass; t/s is all P
            // sequences' tokens together (llama-batched-bench's S_TG).
            for (int P : o.npl) {
                const int64_t n = o.tg.empty() ? 128 : std::max<int64_t>(1, *std::max_element(o.tg.begin(), o.tg.end()));
                constexpr int64_t kPrompt = 16;
                Result r = base;
                r.threads = threads;
                r.test = fmt::format("tg{} x{}", n, P);
                fmt::print(stderr, "bench: {} kernel {} threads {} {} ...\n", base.isa, base.kernel, threads, r.test);
                BatchSession b(*model, {.n_seq = P, .n_ctx = kPrompt + n, .n_batch = std::max<int64_t>(P * kPrompt, 1),
                                        .n_threads = threads, .kv_f16 = mo.kv_f16});
                std::vector<std::vector<int32_t>> toks(static_cast<size_t>(P));
                for (int i = 0; i < P; ++i) toks[size_t(i)] = random_tokens(kPrompt + n, hp.n_vocab, 100 + uint64_t(i));
                for (int rep = 0; rep <= o.reps && !interrupted(); ++rep) {  // rep 0 warms up
                    std::vector<BatchSession::Item> items;
                    for (int i = 0; i < P; ++i) {
                        b.reset(i);
                        for (int64_t k = 0; k < kPrompt; ++k) items.push_back({i, toks[size_t(i)][size_t(k)], false});
                    }
                    b.eval(items);
                    const auto t0 = std::chrono::steady_clock::now();
                    for (int64_t k = 0; k < n; ++k) {
                        items.clear();
                        for (int i = 0; i < P; ++i) items.push_back({i, toks[size_t(i)][size_t(kPrompt + k)], true});
                        b.eval(items);
                    }
                    if (rep > 0) r.samples.push_back(double(n * P) / std::max(seconds_since(t0), 1e-9));
                }
                if (r.samples.empty()) break;
                double sum = 0, sq = 0;
                for (double v : r.samples) sum += v;
                r.mean = sum / double(r.samples.size());
                for (double v : r.samples) sq += (v - r.mean) * (v - r.mean);
                r.sd = r.samples.size() > 1 ? std::sqrt(sq / double(r.samples.size() - 1)) : 0.0;
                results.push_back(r);
            }
            if (interrupted()) break;
        }
    }
    print_results(results, o.output);
}

}  // namespace

void register_bench(CLI::App& app) {
    auto o = std::make_shared<BenchOpts>();
    CLI::App* cmd = app.add_subcommand("bench", "Measure prompt-processing (ppN) and generation (tgN) speed");
    cmd->add_option("-m,--model", o->m.model, "GGUF model file")->required();
    cmd->add_option("-p,--n-prompt", o->pp, "Prompt lengths to test, comma-separated (0: none)")->delimiter(',')->capture_default_str();
    cmd->add_option("-n,--n-gen", o->tg, "Generation lengths to test, comma-separated (0: none)")->delimiter(',')->capture_default_str();
    cmd->add_option("-t,--threads", o->threads, "Thread counts, comma-separated (default: all hardware threads)")->delimiter(',');
    cmd->add_option("-r,--repetitions", o->reps, "Timed repetitions after one warm-up")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--kernel", o->kernels, "Kernel families, comma-separated: auto, i2s, tl1, tl2, or all")
        ->delimiter(',')
        ->check(CLI::IsMember({"auto", "i2s", "tl1", "tl2", "all"}))
        ->capture_default_str();
    cmd->add_option("--npl", o->npl,
                    "Also measure batched decoding: numbers of sequences generating together, comma-separated "
                    "(also -npl, as llama-batched-bench); t/s counts all of them")
        ->delimiter(',')
        ->check(CLI::Range(1, 256));
    cmd->add_option("-o,--output", o->output, "Output format: md, csv, json")->check(CLI::IsMember({"md", "csv", "json"}))->capture_default_str();
    cmd->add_option("--ffn-act", o->m.ffn_act, "FFN activation for `bitnet` files: relu2 or silu")->check(CLI::IsMember({"relu2", "silu"}));
    cmd->callback([o] { bench(*o); });
}

}  // namespace tern::cli
