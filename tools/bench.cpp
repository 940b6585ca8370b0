// `tern bench`: prompt-processing and generation speed in llama-bench's terms
// (ppN: N prompt tokens in batches; tgN: N tokens generated one at a time;
// ppP+tgT: both, timed together; "@ dD": after D tokens already in the
// context). The output speaks llama-bench's formats (md, csv, json, jsonl)
// with its field names, so scripts written for llama-bench read it unchanged;
// tern's own columns (kernel table, kernel family, batched sequences) follow
// llama-bench's.
#include <atomic>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "git_commit.h"  // generated at build time (cmake/git_commit.cmake)
#include "tern/batch.h"
#include "tern/diagnostics.h"
#include "tern/embed.h"
#include "tern/session.h"

namespace tern::cli {

namespace {

struct BenchOpts {
    std::vector<std::string> models;
    std::string ffn_act;
    std::string output_type;  // --output-type: the output matrix requantized at load
    std::vector<int64_t> pp{512};
    std::vector<int64_t> tg{128};
    std::vector<std::string> pg;  // "PP,TG" pairs
    std::vector<int64_t> depth{0};
    std::vector<int64_t> batch{2048};
    std::vector<int> threads;
    std::vector<std::string> kernels{"auto"};
    std::vector<int> npl;  // sequences decoding together (llama-batched-bench's -npl)
    bool kv_f16 = false;
    bool progress = false;
    bool probes = false;  // --probes: the machine's limits measured before each test, and each speed against its own
    int reps = 5;
    std::string output = "md";
};

// One measurement: n_prompt tokens in one eval, then n_gen tokens one at a
// time, after n_depth tokens already in the context. n_seq > 0: batched
// decoding of n_seq sequences (tern's own test, --npl).
struct Test {
    int64_t n_prompt = 0, n_gen = 0, n_depth = 0;
    int n_seq = 0;

    int64_t tokens() const { return (n_prompt + n_gen) * std::max(n_seq, 1); }
    std::string label() const {
        std::string s = n_gen == 0 ? fmt::format("pp{}", n_prompt)
                        : n_prompt == 0 ? fmt::format("tg{}", n_gen)
                                        : fmt::format("pp{}+tg{}", n_prompt, n_gen);
        if (n_seq > 0) return s + fmt::format(" x{}", n_seq);
        if (n_depth > 0) s += fmt::format(" @ d{}", n_depth);
        return s;
    }
};

// What every row of one model (and kernel family) shares.
struct ModelDesc {
    std::string filename, type, table, kernel;
    uint64_t size = 0;
    int64_t params = 0;
    uint64_t bytes_per_token = 0;       // ModelInfo's: what a generated token reads
    int64_t ternary_macs_per_token = 0;  // and a prompt token's int8 work
};

struct Row {
    ModelDesc model;
    Test test;
    int64_t n_batch = 0;
    int n_threads = 0;
    std::string type_kv;  // "f32" or "f16": tern's KV cache (llama.cpp's type_k / type_v)
    std::string test_time;
    std::vector<uint64_t> samples_ns;
    std::optional<MachineLimits> limits;  // --probes: measured just before the test

    // --probes: the test's speed as % of the limit that bounds it — a prompt
    // against the int8 peak (ternary multiply-adds per token), generation of
    // one sequence against the read bandwidth (weight bytes per token); nullopt
    // for the others (prompt plus generation, batched decoding, a context
    // filled beforehand: its attention and KV reads are in neither count) or
    // without a probe.
    enum class Bound { none, int8_peak, read_bandwidth };
    Bound bound() const {
        if (!limits || test.n_depth > 0) return Bound::none;
        if (test.n_gen == 0 && limits->int8_macs_per_s > 0 && model.ternary_macs_per_token > 0) return Bound::int8_peak;
        if (test.n_prompt == 0 && test.n_seq == 0 && limits->read_bytes_per_s > 0) return Bound::read_bandwidth;
        return Bound::none;
    }
    std::optional<double> pct_limit() const {
        switch (bound()) {
            case Bound::int8_peak: return 100.0 * mean_ts() * double(model.ternary_macs_per_token) / limits->int8_macs_per_s;
            case Bound::read_bandwidth: return 100.0 * mean_ts() * double(model.bytes_per_token) / limits->read_bytes_per_s;
            case Bound::none: break;
        }
        return std::nullopt;
    }
    double mean_ts() const;

    std::vector<double> samples_ts() const {
        std::vector<double> ts;
        for (uint64_t ns : samples_ns) ts.push_back(1e9 * double(test.tokens()) / double(std::max<uint64_t>(ns, 1)));
        return ts;
    }
};

// Mean and sample standard deviation (Bessel's correction; 0 for one sample), as llama-bench reports them.
template <class T>
std::pair<double, double> mean_sd(const std::vector<T>& v) {
    if (v.empty()) return {0.0, 0.0};
    double s = 0;
    for (T x : v) s += double(x);
    const double mean = s / double(v.size());
    double q = 0;
    for (T x : v) q += (double(x) - mean) * (double(x) - mean);
    return {mean, v.size() > 1 ? std::sqrt(q / double(v.size() - 1)) : 0.0};
}

std::string utc_now() {  // RFC 3339, as llama-bench's test_time
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (auto& x : t) x = int32_t(rng() % uint64_t(vocab));
    return t;
}

// "2B", "700M": the size word of llama.cpp's model description.
std::string size_word(int64_t params) {
    if (params >= 1000000000) return fmt::format("{:.1f}B", double(params) / 1e9);
    if (params >= 1000000) return fmt::format("{}M", (params + 500000) / 1000000);
    return fmt::format("{}K", (params + 500) / 1000);
}

double Row::mean_ts() const { return mean_sd(samples_ts()).first; }

// ---- output: llama-bench's formats -------------------------------------

// llama-bench's fields, in its order, then tern's own.
const std::vector<std::string> kFields = {
    "build_commit", "build_number", "cpu_info",  "model_filename", "model_type", "model_size", "model_n_params",
    "n_batch",      "n_threads",    "type_k",    "type_v",         "n_prompt",   "n_gen",      "n_depth",
    "test_time",    "avg_ns",       "stddev_ns", "avg_ts",         "stddev_ts",  "samples_ns", "samples_ts",
    "table",        "kernel",       "n_seq",     "test"};

// With --probes, after them: the limits measured before the test and the
// speed as % of the one that bounds it (Row::pct_limit; empty when none does).
const std::vector<std::string> kProbeFields = {"probe_read_gbps", "probe_int8_gmacs", "pct_limit"};

// tern has no build counter; 0 says so (llama-bench's build_number is an integer).
constexpr int kBuildNumber = 0;

nlohmann::ordered_json to_json(const Row& r, const std::string& cpu) {
    const auto [avg_ns, sd_ns] = mean_sd(r.samples_ns);
    const auto ts = r.samples_ts();
    const auto [avg_ts, sd_ts] = mean_sd(ts);
    nlohmann::ordered_json j;
    j["build_commit"] = TERN_GIT_COMMIT;
    j["build_number"] = kBuildNumber;
    j["cpu_info"] = cpu;
    j["model_filename"] = r.model.filename;
    j["model_type"] = r.model.type;
    j["model_size"] = r.model.size;
    j["model_n_params"] = r.model.params;
    j["n_batch"] = r.n_batch;
    j["n_threads"] = r.n_threads;
    j["type_k"] = r.type_kv;
    j["type_v"] = r.type_kv;
    j["n_prompt"] = r.test.n_prompt;
    j["n_gen"] = r.test.n_gen;
    j["n_depth"] = r.test.n_depth;
    j["test_time"] = r.test_time;
    j["avg_ns"] = uint64_t(std::llround(avg_ns));
    j["stddev_ns"] = uint64_t(std::llround(sd_ns));
    j["avg_ts"] = avg_ts;
    j["stddev_ts"] = sd_ts;
    j["samples_ns"] = r.samples_ns;
    j["samples_ts"] = ts;
    j["table"] = r.model.table;
    j["kernel"] = r.model.kernel;
    j["n_seq"] = r.test.n_seq;
    j["test"] = r.test.label();
    if (r.limits) {
        j["probe_read_gbps"] = r.limits->read_bytes_per_s / 1e9;
        j["probe_int8_gmacs"] = r.limits->int8_macs_per_s / 1e9;
        const auto pct = r.pct_limit();
        j["pct_limit"] = pct ? nlohmann::ordered_json(*pct) : nlohmann::ordered_json(nullptr);
    }
    return j;
}

class Printer {
public:
    virtual ~Printer() = default;
    virtual void begin() {}
    virtual void row(const Row& r) = 0;
    virtual void end() {}
};

// CSV as llama-bench writes it: a plain header, every value in double quotes;
// the sample lists as space-separated numbers.
class CsvPrinter : public Printer {
public:
    CsvPrinter(std::string cpu, bool probes) : cpu_(std::move(cpu)), fields_(kFields) {
        if (probes) fields_.insert(fields_.end(), kProbeFields.begin(), kProbeFields.end());
    }
    void begin() override {
        std::string h;
        for (const auto& f : fields_) h += (h.empty() ? "" : ",") + f;
        fmt::print("{}\n", h);
    }
    void row(const Row& r) override {
        const auto j = to_json(r, cpu_);
        std::string line;
        for (const auto& f : fields_) {
            const auto& v = j[f];
            std::string s;
            if (v.is_null()) {
            } else if (v.is_string()) {
                s = v.get<std::string>();
            } else if (v.is_array()) {
                for (const auto& x : v) s += (s.empty() ? "" : " ") + number(x);
            } else {
                s = number(v);
            }
            std::string q = "\"";
            for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            line += (line.empty() ? "" : ",") + q + "\"";
        }
        fmt::print("{}\n", line);
        std::fflush(stdout);
    }

private:
    static std::string number(const nlohmann::ordered_json& v) {
        return v.is_number_float() ? fmt::format("{:.6f}", v.get<double>()) : v.dump();
    }
    std::string cpu_;
    std::vector<std::string> fields_;
};

// JSON: an array of objects, written as each test finishes (and closed on Ctrl-C).
class JsonPrinter : public Printer {
public:
    explicit JsonPrinter(std::string cpu) : cpu_(std::move(cpu)) {}
    void begin() override { fmt::print("["); }
    void row(const Row& r) override {
        std::string obj = to_json(r, cpu_).dump(2);
        std::string indented = "  ";
        for (char c : obj) indented += c == '\n' ? std::string("\n  ") : std::string(1, c);
        fmt::print("{}\n{}", first_ ? "" : ",", indented);
        first_ = false;
        std::fflush(stdout);
    }
    void end() override { fmt::print("\n]\n"); }

private:
    std::string cpu_;
    bool first_ = true;
};

class JsonlPrinter : public Printer {
public:
    explicit JsonlPrinter(std::string cpu) : cpu_(std::move(cpu)) {}
    void row(const Row& r) override {
        fmt::print("{}\n", to_json(r, cpu_).dump());
        std::fflush(stdout);
    }

private:
    std::string cpu_;
};

// llama-bench's markdown table: model | size | params | backend | threads |
// (n_batch, type_k, type_v when not the defaults) | test | t/s, then tern's
// table and kernel columns. Widths as llama-bench's (negative: left-aligned).
class MdPrinter : public Printer {
public:
    MdPrinter(std::string cpu, bool show_batch, bool show_kv, bool probes) : cpu_(std::move(cpu)) {
        cols_ = {{"model", -30}, {"size", 10}, {"params", 10}, {"backend", -10}, {"threads", 7}};
        if (show_batch) cols_.push_back({"n_batch", 7});
        if (show_kv) cols_.insert(cols_.end(), {{"type_k", 6}, {"type_v", 6}});
        cols_.insert(cols_.end(), {{"test", 15}, {"t/s", 20}, {"table", -10}, {"kernel", -6}});
        if (probes) cols_.insert(cols_.end(), {{"limit", 23}, {"% limit", 7}});
    }
    void begin() override {
        std::vector<std::string> names, rules;
        for (const auto& [name, w] : cols_) {
            names.push_back(name);
            rules.push_back(w < 0 ? std::string(size_t(-w), '-') : std::string(size_t(w - 1), '-') + ":");
        }
        line(names);
        std::string rule = "|";
        for (const auto& s : rules) rule += " " + s + " |";
        fmt::print("{}\n", rule);
    }
    void row(const Row& r) override {
        const auto [avg, sd] = mean_sd(r.samples_ts());
        std::vector<std::string> v;
        for (const auto& [name, w] : cols_) {
            if (name == "model") v.push_back(r.model.type);
            else if (name == "size")
                v.push_back(r.model.size >= (1ull << 30) ? fmt::format("{:.2f} GiB", double(r.model.size) / double(1ull << 30))
                                                         : fmt::format("{:.2f} MiB", double(r.model.size) / double(1ull << 20)));
            else if (name == "params")
                v.push_back(r.model.params >= 1000000000 ? fmt::format("{:.2f} B", double(r.model.params) / 1e9)
                                                         : fmt::format("{:.2f} M", double(r.model.params) / 1e6));
            else if (name == "backend") v.push_back("CPU");
            else if (name == "threads") v.push_back(std::to_string(r.n_threads));
            else if (name == "n_batch") v.push_back(std::to_string(r.n_batch));
            else if (name == "type_k" || name == "type_v") v.push_back(r.type_kv);
            else if (name == "test") v.push_back(r.test.label());
            else if (name == "t/s") v.push_back(fmt::format("{:.2f} ± {:.2f}", avg, sd));
            else if (name == "table") v.push_back(r.model.table);
            else if (name == "kernel") v.push_back(r.model.kernel);
            else if (name == "limit") v.push_back(limit_text(r));
            else v.push_back(r.pct_limit() ? fmt::format("{:.1f}", *r.pct_limit()) : "");
        }
        line(v);
        std::fflush(stdout);
    }
    void end() override { fmt::print("\nbuild: {} ({})\ncpu: {}; tern {}\n", TERN_GIT_COMMIT, kBuildNumber, cpu_, TERN_VERSION); }

private:
    // The limit the % column is against ("read 41.2 GB/s", "int8 408 GMAC/s"), or both when neither bounds the test.
    static std::string limit_text(const Row& r) {
        if (!r.limits) return "";
        const double gbps = r.limits->read_bytes_per_s / 1e9, gmacs = r.limits->int8_macs_per_s / 1e9;
        switch (r.bound()) {
            case Row::Bound::int8_peak: return fmt::format("int8 {:.0f} GMAC/s", gmacs);
            case Row::Bound::read_bandwidth: return fmt::format("read {:.1f} GB/s", gbps);
            case Row::Bound::none: break;
        }
        return fmt::format("{:.1f} GB/s, {:.0f} GMAC/s", gbps, gmacs);
    }
    void line(const std::vector<std::string>& values) {
        std::string s = "|";
        for (size_t i = 0; i < values.size(); ++i) {
            const int w = cols_[i].second;
            s += " " + (w < 0 ? fmt::format("{:<{}}", values[i], -w) : fmt::format("{:>{}}", values[i], w)) + " |";
        }
        fmt::print("{}\n", s);
    }
    std::string cpu_;
    std::vector<std::pair<std::string, int>> cols_;
};

// ---- validation ---------------------------------------------------------

template <class T>
void require_range(const std::vector<T>& values, const char* flag, int64_t lo, int64_t hi) {
    for (T v : values)
        if (int64_t(v) < lo || int64_t(v) > hi)
            throw Error(fmt::format("{} must be between {} and {} (got {})", flag, lo, hi, v));
}

// "512,128" -> {512, 128}.
std::pair<int64_t, int64_t> parse_pg(const std::string& s) {
    const size_t comma = s.find(',');
    try {
        size_t used1 = 0, used2 = 0;
        if (comma == std::string::npos) throw std::invalid_argument("no comma");
        const int64_t p = std::stoll(s.substr(0, comma), &used1);
        const int64_t g = std::stoll(s.substr(comma + 1), &used2);
        if (used1 != comma || used2 != s.size() - comma - 1 || p < 0 || g < 0 || p + g == 0 || p > (1 << 20) ||
            g > (1 << 20))
            throw std::invalid_argument("range");
        return {p, g};
    } catch (const std::logic_error&) {
        throw Error("--pg takes PROMPT,GEN: two token counts from 0 to 1048576, not both 0 (got '" + s + "')");
    }
}

// ---- running ------------------------------------------------------------

// Ctrl-C: a watcher thread closes the output over the rows finished so far
// and exits with 130 — at once, not after the running test (which may take
// minutes on a big model).
class InterruptWatch {
public:
    InterruptWatch(std::mutex& out, Printer& printer) : out_(out), printer_(printer), th_([this] { watch(); }) {}
    // Called with `out` locked, after the output is complete.
    void finished() { done_ = true; }
    ~InterruptWatch() {
        done_ = true;
        th_.join();
    }

private:
    void watch() {
        while (!done_) {
            if (interrupted()) {
                std::lock_guard<std::mutex> lock(out_);
                if (done_) return;
                printer_.end();
                std::fflush(stdout);
                fmt::print(stderr, "bench: interrupted; the output holds the tests that finished\n");
                std::_Exit(130);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    std::mutex& out_;
    Printer& printer_;
    std::atomic<bool> done_{false};
    std::thread th_;
};

class Runner {
public:
    Runner(const BenchOpts& o, Printer& p, std::mutex& out) : o_(o), printer_(p), out_(out) {}

    void model(const std::string& path, const std::string& kernel) {
        LoadOptions lo;
        if (!o_.ffn_act.empty()) lo.ffn_act = parse_ffn_act(o_.ffn_act);
        if (kernel != "auto") lo.kernel = parse_kernel_family(kernel);
        lo.output_type = o_.output_type;
        std::optional<Model> model;
        try {
            model.emplace(Model::load(path, lo));
        } catch (const Error& e) {
            if (o_.kernels.size() > 1) {  // --kernel all: skip families this table lacks
                fmt::print(stderr, "skipping kernel {}: {}\n", kernel, e.what());
                return;
            }
            throw;
        }
        const ModelInfo& hp = model->info();
        // A requantized output matrix is part of what is measured: the model
        // type says so ("... I2_S out:Q6_K").
        const std::string out = o_.output_type.empty() ? "" : " out:" + hp.output_type;
        desc_ = {path,
                 fmt::format("{} {} {}{}", hp.architecture, size_word(hp.n_params), hp.weight_type, out),
                 hp.kernel_table,
                 kernel_family_name(hp.kernel_family),
                 hp.file_size,
                 hp.n_params,
                 hp.bytes_per_token,
                 hp.ternary_macs_per_token};
        vocab_ = hp.n_vocab;
        if (!hp.has_output_head) {
            // An embedding model: prompt processing only, through the Embedder.
            if (std::any_of(o_.tg.begin(), o_.tg.end(), [](int64_t n) { return n > 0; }) || !o_.pg.empty() ||
                !o_.npl.empty())
                fmt::print(stderr, "bench: {} is an embedding model (no output head): prompt processing only\n",
                           hp.name);
            for (int threads : o_.threads) embedding(*model, threads);
            return;
        }
        for (int64_t b : o_.batch)
            for (int threads : o_.threads) {
                if (interrupted()) return;
                single(*model, b, threads);
                if (b == o_.batch.front()) batched(*model, threads);
            }
    }

private:
    std::vector<Test> tests(int64_t depth) const {
        std::vector<Test> t;
        for (int64_t p : o_.pp)
            if (p > 0) t.push_back({p, 0, depth});
        for (int64_t n : o_.tg)
            if (n > 0) t.push_back({0, n, depth});
        for (const auto& s : o_.pg) {
            const auto [p, n] = parse_pg(s);
            t.push_back({p, n, depth});
        }
        return t;
    }

    void progress(const Row& r, const std::string& what) const {
        if (o_.progress)
            fmt::print(stderr, "bench: {} {}/{} t{} {}: {}\n", desc_.filename, r.model.table, r.model.kernel, r.n_threads,
                       r.test.label(), what);
    }

    void emit(const Row& r) {
        std::lock_guard<std::mutex> lock(out_);
        printer_.row(r);
    }

    // --probes: the machine's limits on the test's threads, just before it runs.
    void probe(Row& r) const {
        if (!o_.probes) return;
        progress(r, "probing the machine's limits");
        r.limits = probe_machine(r.n_threads);
    }

    // pp / tg / pg tests on one Session, every depth.
    void single(const Model& model, int64_t n_batch, int threads) {
        int64_t n_ctx = 1;
        for (int64_t d : o_.depth)
            for (const Test& t : tests(d)) n_ctx = std::max(n_ctx, d + t.n_prompt + t.n_gen);
        SessionOptions so;
        so.n_ctx = n_ctx;
        so.n_batch = std::min(n_batch, n_ctx);
        so.n_threads = threads;
        so.kv_f16 = o_.kv_f16;
        Session s(model, so);
        for (int64_t depth : o_.depth) {
            // The context before every test: `depth` tokens, evaluated once;
            // each run truncates back to them.
            s.reset();
            bool filled = false;
            for (const Test& t : tests(depth)) {
                Row r{desc_, t, n_batch, threads, o_.kv_f16 ? "f16" : "f32", utc_now(), {}};
                if (interrupted()) return;
                fmt::print(stderr, "bench: {} {}/{} threads {} {} ...\n", desc_.filename, desc_.table, desc_.kernel, threads,
                           t.label());
                if (!filled && depth > 0) {
                    progress(r, "filling the context");
                    s.eval(random_tokens(depth, vocab_, 3));
                }
                filled = true;
                const auto prompt = random_tokens(t.n_prompt, vocab_, 42);
                const auto gen = random_tokens(t.n_gen, vocab_, 7);
                auto run = [&](int64_t n_gen) {
                    s.truncate(depth);
                    if (!prompt.empty()) s.eval(prompt);
                    for (int64_t k = 0; k < n_gen; ++k) s.eval(std::span<const int32_t>(&gen[size_t(k)], 1));
                };
                probe(r);
                progress(r, "warm-up");
                run(std::min<int64_t>(t.n_gen, 1));  // the prompt, one generated token
                for (int k = 0; k < o_.reps; ++k) {
                    progress(r, fmt::format("run {}/{}", k + 1, o_.reps));
                    const auto t0 = std::chrono::steady_clock::now();
                    run(t.n_gen);
                    r.samples_ns.push_back(uint64_t(std::max<int64_t>(
                        1, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count())));
                }
                emit(r);
            }
        }
    }

    // pp tests of an embedding model: one input of p tokens per run.
    void embedding(const Model& model, int threads) {
        for (int64_t p : o_.pp) {
            if (p <= 0 || interrupted()) continue;
            const Test t{p, 0, 0};
            Row r{desc_, t, p, threads, o_.kv_f16 ? "f16" : "f32", utc_now(), {}};
            fmt::print(stderr, "bench: {} {}/{} threads {} {} ...\n", desc_.filename, desc_.table, desc_.kernel, threads,
                       t.label());
            Embedder e(model, EmbedOptions{.n_ctx = p, .n_batch = p, .n_threads = threads, .kv_f16 = o_.kv_f16});
            const std::vector<std::vector<int32_t>> toks = {random_tokens(p, vocab_, 42)};
            probe(r);
            progress(r, "warm-up");
            e.embed(toks);
            for (int k = 0; k < o_.reps && !interrupted(); ++k) {
                progress(r, fmt::format("run {}/{}", k + 1, o_.reps));
                const auto t0 = std::chrono::steady_clock::now();
                e.embed(toks);
                r.samples_ns.push_back(uint64_t(std::max<int64_t>(
                    1, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count())));
            }
            emit(r);
        }
    }

    // Batched decoding: P sequences, each after a 16-token prompt, one token
    // each per step through one forward pass; t/s is all P sequences' tokens
    // together (llama-batched-bench's S_TG).
    void batched(const Model& model, int threads) {
        const int64_t n = o_.tg.empty() ? 128 : std::max<int64_t>(1, *std::max_element(o_.tg.begin(), o_.tg.end()));
        constexpr int64_t kPrompt = 16;
        for (int P : o_.npl) {
            if (interrupted()) return;
            Row r{desc_, {0, n, kPrompt, P}, P * kPrompt, threads, o_.kv_f16 ? "f16" : "f32", utc_now(), {}};
            fmt::print(stderr, "bench: {} {}/{} threads {} {} ...\n", desc_.filename, desc_.table, desc_.kernel, threads,
                       r.test.label());
            BatchSession b(model, {.n_seq = P, .n_ctx = kPrompt + n, .n_batch = std::max<int64_t>(P * kPrompt, 1),
                                   .n_threads = threads, .kv_f16 = o_.kv_f16});
            std::vector<std::vector<int32_t>> toks(static_cast<size_t>(P));
            for (int i = 0; i < P; ++i) toks[size_t(i)] = random_tokens(kPrompt + n, vocab_, 100 + uint64_t(i));
            probe(r);
            for (int rep = 0; rep <= o_.reps; ++rep) {  // rep 0 warms up
                progress(r, rep == 0 ? "warm-up" : fmt::format("run {}/{}", rep, o_.reps));
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
                if (rep > 0)
                    r.samples_ns.push_back(uint64_t(std::max<int64_t>(
                        1, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count())));
            }
            emit(r);
        }
    }

    const BenchOpts& o_;
    Printer& printer_;
    std::mutex& out_;
    ModelDesc desc_;
    int64_t vocab_ = 0;
};

void bench(BenchOpts o) {
    // Every number is checked before the first model loads.
    require_range(std::vector<int>{o.reps}, "-r/--repetitions", 1, 1000000);
    require_range(o.batch, "-b/--batch-size", 1, 1 << 20);
    require_range(o.pp, "-p/--n-prompt", 0, 1 << 20);
    require_range(o.tg, "-n/--n-gen", 0, 1 << 20);
    require_range(o.depth, "-d/--n-depth", 0, 1 << 20);
    require_range(o.threads, "-t/--threads", 1, 4096);
    for (const auto& s : o.pg) parse_pg(s);
    if (o.threads.empty()) o.threads = {hardware_threads()};
    if (o.kernels.size() == 1 && o.kernels[0] == "all") o.kernels = {"i2s", "tl1", "tl2"};
    install_interrupt_handler();

    const std::string cpu = cpu_info().model;
    std::unique_ptr<Printer> printer;
    if (o.output == "csv") printer = std::make_unique<CsvPrinter>(cpu, o.probes);
    else if (o.output == "json") printer = std::make_unique<JsonPrinter>(cpu);
    else if (o.output == "jsonl") printer = std::make_unique<JsonlPrinter>(cpu);
    else printer = std::make_unique<MdPrinter>(cpu, o.batch.size() > 1 || o.batch[0] != 2048, o.kv_f16, o.probes);

    std::mutex out;
    for (const std::string& m : o.models)
        if (!std::filesystem::is_regular_file(m)) throw Error("-m " + m + ": no such file");
    printer->begin();
    {
        InterruptWatch watch(out, *printer);
        Runner runner(o, *printer, out);
        // A model that fails to load ends the run, but the rows before it
        // stay a complete document (a closed JSON array).
        const auto close = [&] {
            std::lock_guard<std::mutex> lock(out);
            watch.finished();
            printer->end();
        };
        try {
            for (const std::string& m : o.models)
                for (const std::string& kernel : o.kernels) runner.model(m, kernel);
        } catch (...) {
            close();
            throw;
        }
        close();
    }
    std::fflush(stdout);
    if (interrupted()) {
        fmt::print(stderr, "bench: interrupted\n");
        std::exit(130);
    }
}

}  // namespace

void register_bench(CLI::App& app) {
    auto o = std::make_shared<BenchOpts>();
    CLI::App* cmd = app.add_subcommand("bench", "Measure prompt-processing (ppN) and generation (tgN) speed, as llama-bench");
    cmd->add_option("-m,--model", o->models, "GGUF model files (several: -m A -m B, or comma-separated)")
        ->required()
        ->delimiter(',');
    cmd->add_option("-p,--n-prompt", o->pp, "Prompt lengths to test, comma-separated (0: none)")->delimiter(',')->capture_default_str();
    cmd->add_option("-n,--n-gen", o->tg, "Generation lengths to test, comma-separated (0: none)")->delimiter(',')->capture_default_str();
    cmd->add_option("--pg", o->pg,
                    "Prompt then generation, timed together: PROMPT,GEN (repeatable; llama-bench's -pg)");
    cmd->add_option("-d,--n-depth", o->depth,
                    "Tokens already in the context before each test, comma-separated (\"@ dN\" in the test name)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-b,--batch-size", o->batch, "Tokens per prompt-processing step, comma-separated")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-t,--threads", o->threads, "Thread counts, comma-separated (default: all hardware threads)")->delimiter(',');
    cmd->add_option("-r,--repetitions", o->reps, "Timed repetitions after one warm-up")->capture_default_str();
    cmd->add_option("--kernel", o->kernels, "Kernel families, comma-separated: auto, i2s, tl1, tl2, or all")
        ->delimiter(',')
        ->check(CLI::IsMember({"auto", "i2s", "tl1", "tl2", "all"}))
        ->capture_default_str();
    cmd->add_option("--npl", o->npl,
                    "Also measure batched decoding: numbers of sequences generating together, comma-separated "
                    "(also -npl, as llama-batched-bench); t/s counts all of them")
        ->delimiter(',')
        ->check(CLI::Range(1, 256));
    cmd->add_flag("--kv-f16", o->kv_f16, "Keep the KV cache in fp16 (type_k/type_v f16; default f32)");
    cmd->add_option("-o,--output", o->output, "Output format: md, csv, json, jsonl (llama-bench's fields)")
        ->check(CLI::IsMember({"md", "csv", "json", "jsonl"}))
        ->capture_default_str();
    cmd->add_flag("--progress", o->progress, "Print each test's warm-up and runs on stderr");
    cmd->add_flag("--probes", o->probes,
                  "Measure the machine's limits before each test (memory read bandwidth, int8 multiply-add peak; ~0.5 s) "
                  "and report each speed as % of the one that bounds it: a prompt against the int8 peak, generation "
                  "against the read bandwidth over the weight bytes a token reads");
    cmd->add_option("--ffn-act", o->ffn_act, "FFN activation for `bitnet` files: relu2 or silu")->check(CLI::IsMember({"relu2", "silu"}));
    cmd->add_option("--output-type", o->output_type, kOutputTypeHelp);
    cmd->footer(
        "Examples:\n"
        "  tern bench -m model.gguf                      pp512 and tg128, 5 runs each\n"
        "  tern bench -m model.gguf -p 0 -n 128 -d 0,4096  generation with an empty and a 4096-token context\n"
        "  tern bench -m a.gguf -m b.gguf --pg 512,128 -o csv\n"
        "Ctrl-C stops at once, prints the tests finished so far and exits with 130.");
    cmd->callback([o] { bench(*o); });
}

}  // namespace tern::cli
