#include "common.h"

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/core.h>


namespace tern::cli {

void ModelOpts::add_to(CLI::App& cmd) {
    cmd.add_option("-m,--model", model, "GGUF model file")->required();
    cmd.add_option("-t,--threads", threads, "Threads (default: all hardware threads)");
    cmd.add_option("-c,--ctx-size", ctx, "Context size in tokens (default: the model's)");
    cmd.add_option("-b,--batch-size", batch, "Tokens per prompt-processing batch")->check(CLI::PositiveNumber);
    cmd.add_option("--ffn-act", ffn_act, "FFN activation for `bitnet` files: relu2 (2B4T) or silu (1bitLLM)")
        ->check(CLI::IsMember({"relu2", "silu"}));
    cmd.add_option("--kernel", kernel, "Ternary kernel family: auto, i2s, tl1, tl2")
        ->check(CLI::IsMember({"auto", "i2s", "tl1", "tl2"}));
    cmd.add_flag("--kv-f16", kv_f16, "Keep the KV cache in fp16 (half the memory)");
}

LoadOptions ModelOpts::load_options() const {
    LoadOptions o;
    if (!ffn_act.empty()) o.ffn_act = parse_ffn_act(ffn_act);
    if (kernel != "auto") o.kernel = parse_kernel_family(kernel);
    o.n_threads = threads;
    return o;
}

SessionOptions ModelOpts::session_options() const {
    SessionOptions o;
    o.n_ctx = ctx;
    o.n_batch = batch;
    o.n_threads = threads;
    o.kv_f16 = kv_f16;
    return o;
}

void add_sampling_options(CLI::App& cmd, SamplingParams& p, int64_t& seed) {
    cmd.add_option("-s,--seed", seed, "Random seed (-1: random)");
    cmd.add_option("--temp", p.temp, "Temperature (0: greedy)")->capture_default_str();
    cmd.add_option("--top-k", p.top_k, "Top-k sampling (0: off)")->capture_default_str();
    cmd.add_option("--top-p", p.top_p, "Top-p sampling (1.0: off)")->capture_default_str();
    cmd.add_option("--min-p", p.min_p, "Min-p sampling (0.0: off)")->capture_default_str();
    cmd.add_option("--repeat-penalty", p.repeat_penalty, "Penalty for repeated tokens (1.0: off)")->capture_default_str();
    cmd.add_option("--repeat-last-n", p.repeat_last_n, "Tokens the repetition penalty looks back at")->capture_default_str();
}

SamplingParams finish_sampling(SamplingParams p, int64_t seed) {
    if (seed < 0) {
        p.seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    } else {
        p.seed = uint64_t(seed);
    }
    return p;
}

std::optional<Tokenizer> load_tokenizer(const Model& model) {
    if (!model.info().has_tokenizer) return std::nullopt;
    return Tokenizer::from_model(model);
}

std::string read_text_file(const std::string& path) {
    if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open the prompt file");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void require_utf8(const std::string& s, const std::string& what) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + size_t(len) <= s.size();
        for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + size_t(k)]) >> 6) == 2;
        if (ok && len == 2) ok = c >= 0xC2;  // overlong
        if (!ok) throw Error(what + " is not valid UTF-8 (bad byte at offset " + std::to_string(i) + ")");
        i += size_t(len);
    }
}

std::vector<int32_t> parse_ids(const std::string& s) {
    std::vector<int32_t> ids;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        while (used < item.size() && item[used] == ' ') ++used;
        if (item.empty() || used != item.size() || v < 0 || v > INT32_MAX)
            throw Error("--prompt-tokens: '" + item + "' is not a token id (expected comma-separated non-negative integers)");
        ids.push_back(int32_t(v));
    }
    if (ids.empty()) throw Error("--prompt-tokens is empty");
    return ids;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) {
    if (g_interrupted) std::_Exit(130);
    g_interrupted = 1;
}
}  // namespace

void install_interrupt_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
}
bool interrupted() { return g_interrupted != 0; }
void clear_interrupt() { g_interrupted = 0; }

}  // namespace tern::cli
