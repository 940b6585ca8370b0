#include "common.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/core.h>


namespace tern::cli {

namespace {

int hardware_threads() { return std::max(1, int(std::thread::hardware_concurrency())); }

// -t/-tb: 1 .. any; more than the machine has is capped with a warning (as
// oversubscribed spinning threads only slow each other down).
CLI::Validator thread_count() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            const int hw = hardware_threads();
            long long v = 0;
            size_t used = 0;
            try {
                v = std::stoll(s, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != s.size() || v < 1)
                return "'" + s + "' is not a thread count: give 1 to " + std::to_string(hw) +
                       " (this machine's hardware threads), or leave it out for all of them";
            if (v > hw) {
                fmt::print(stderr, "warning: {} threads asked for, this machine has {}: using {}\n", v, hw, hw);
                s = std::to_string(hw);
            }
            return "";
        },
        "N");
}

// -ctk/-ctv: the KV cache types tern has.
CLI::Validator kv_type() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            if (s == "f32" || s == "f16") return "";
            return "'" + s + "': tern keeps the KV cache in f32 (default) or f16; quantized caches (q8_0, q4_0, ...) are not "
                             "supported";
        },
        "f32|f16");
}

std::string human_bytes(double b) {
    const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (b >= 1024 && u < 5) b /= 1024, ++u;
    return u ? fmt::format("{:.1f} {}", b, units[u]) : fmt::format("{:.0f} {}", b, units[u]);
}

}  // namespace

CLI::Validator number_in(double lo, double hi, bool lo_open, bool hi_open, const std::string& range) {
    return CLI::Validator(
        [=](std::string& s) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(s.c_str(), &end);
            const bool parsed = !s.empty() && end == s.c_str() + s.size();
            if (parsed && std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi)) return "";
            return "'" + s + "' is not " + range;
        },
        "N");
}

void ModelOpts::add_to(CLI::App& cmd) {
    cmd.add_option("-m,--model", model, "GGUF model file")->required();
    cmd.add_option("-t,--threads", threads, "Threads (default: all hardware threads)")->transform(thread_count());
    cmd.add_option("--threads-batch", threads_batch, "Threads for the prompt (llama.cpp's -tb; tern uses -t for both)")
        ->transform(thread_count());
    cmd.add_option("-c,--ctx-size", ctx, "Context size in tokens (default: the model's)")
        ->check(number_in(0, 1e18, false, false, "a context size: a number of tokens, or 0 for the model's"));
    cmd.add_option("-b,--batch-size", batch, "Tokens per prompt-processing batch")
        ->check(number_in(1, 1e18, false, false, "a batch size: 1 or more tokens"));
    cmd.add_option("--ffn-act", ffn_act, "FFN activation for `bitnet` files: relu2 (2B4T) or silu (1bitLLM)")
        ->check(CLI::IsMember({"relu2", "silu"}));
    cmd.add_option("--kernel", kernel, "Ternary kernel family: auto, i2s, tl1, tl2")
        ->check(CLI::IsMember({"auto", "i2s", "tl1", "tl2"}));
    cmd.add_option("--output-type", output_type, kOutputTypeHelp);
    cmd.add_flag("--kv-f16", kv_f16, "Keep the KV cache in fp16 (half the memory)");
    cmd.add_option("--cache-type-k", cache_type_k, "KV cache type for K (-ctk): f32 or f16 (f16 = --kv-f16)")->check(kv_type());
    cmd.add_option("--cache-type-v", cache_type_v, "KV cache type for V (-ctv): f32 or f16")->check(kv_type());
    // -ctk/-ctv become kv_f16 as soon as the command line is read, so every
    // command that reads kv_f16 honours them. One type for both K and V; f16
    // asked anywhere means f16, unless the other one is explicitly f32.
    cmd.parse_complete_callback([this] {
        const bool f16 = cache_type_k == "f16" || cache_type_v == "f16";
        if (f16 && (cache_type_k == "f32" || cache_type_v == "f32"))
            throw Error("--cache-type-k " + cache_type_k + " and --cache-type-v " + cache_type_v +
                        " differ: tern keeps K and V in the same type (f32, or f16 with both)");
        kv_f16 = kv_f16 || f16;
    });
}

LoadOptions ModelOpts::load_options() const {
    LoadOptions o;
    if (!ffn_act.empty()) o.ffn_act = parse_ffn_act(ffn_act);
    if (kernel != "auto") o.kernel = parse_kernel_family(kernel);
    o.n_threads = threads;
    o.output_type = output_type;
    if (threads_batch > 0 && threads_batch != threads)
        fmt::print(stderr, "note: --threads-batch {} ignored: tern runs the prompt and generation on the same -t threads\n",
                   threads_batch);
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

SessionOptions ModelOpts::session_options(const ModelInfo& info) const {
    SessionOptions o = session_options();
    const int64_t n_ctx = o.n_ctx > 0 ? o.n_ctx : info.n_ctx_train;
    if (info.n_ctx_train > 0 && n_ctx > info.n_ctx_train)
        fmt::print(stderr, "warning: -c {}: the model was trained on {} tokens; text past that may lose coherence\n", n_ctx,
                   info.n_ctx_train);
    const double per_token = 2.0 * double(info.n_layer) * double(info.n_head_kv) * double(info.head_dim) * (o.kv_f16 ? 2 : 4);
    const double kv = per_token * double(n_ctx);
    const double ram = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
    if (ram > 0 && kv > ram)
        throw Error(fmt::format("-c {}: the KV cache alone would need {} ({} per token{}), and this machine has {} of memory; "
                                "lower -c (the model was trained on {} tokens)",
                                n_ctx, human_bytes(kv), human_bytes(per_token), o.kv_f16 ? "" : ", half that with --kv-f16",
                                human_bytes(ram), info.n_ctx_train));
    return o;
}

void add_sampling_options(CLI::App& cmd, SamplingParams& p, int64_t& seed) {
    cmd.add_option("-s,--seed", seed, "Random seed (-1: random; the stats print the one used)")
        ->check(number_in(-1, 9.2e18, false, false, "a seed: 0 or more, or -1 for a random one"));
    cmd.add_option("--temp", p.temp, "Temperature (0: greedy)")
        ->check(number_in(0, HUGE_VAL, false, true, "a temperature: a number >= 0 (0: greedy)"))
        ->capture_default_str();
    cmd.add_option("--top-k", p.top_k, "Top-k sampling (0: off)")
        ->check(number_in(0, 2147483647, false, false, "a top-k: 0 (off) or more"))
        ->capture_default_str();
    cmd.add_option("--top-p", p.top_p, "Top-p sampling (1.0: off)")
        ->check(number_in(0, 1, false, false, "a top-p: a number from 0 to 1 (1: off)"))
        ->capture_default_str();
    cmd.add_option("--min-p", p.min_p, "Min-p sampling (0.0: off)")
        ->check(number_in(0, 1, false, false, "a min-p: a number from 0 to 1 (0: off)"))
        ->capture_default_str();
    cmd.add_option("--repeat-penalty", p.repeat_penalty, "Penalty for repeated tokens (1.0: off)")
        ->check(number_in(0, HUGE_VAL, true, true, "a repeat penalty: a number > 0 (1: off)"))
        ->capture_default_str();
    cmd.add_option("--repeat-last-n", p.repeat_last_n, "Tokens the repetition penalty looks back at (0: off)")
        ->check(number_in(0, 2147483647, false, false, "a token count: 0 (off) or more"))
        ->capture_default_str();
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

void add_n_predict(CLI::App& cmd, int64_t& n, const std::string& help) {
    cmd.add_option("-n,--n-predict,--predict", n, help)
        ->check(number_in(-1, 9.2e18, false, false, "a token count: 0 or more, or -1 for no limit"))
        ->capture_default_str();
}

void add_reverse_prompts(CLI::App& cmd, std::vector<std::string>& stops, const std::string& help) {
    cmd.add_option("-r,--reverse-prompt", stops, help)->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void print_prompt_tokens(const Tokenizer& tok, const std::string& text, const std::vector<int32_t>& ids) {
    fmt::print(stderr, "prompt: '{}'\nnumber of tokens in prompt = {}\n", text, ids.size());
    for (int32_t id : ids) fmt::print(stderr, "{:6} -> '{}'\n", id, tok.token_to_piece(id, true));
}

std::string process_escapes(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out += s[i];
            continue;
        }
        const char c = s[++i];
        switch (c) {
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case '\\': case '\'': case '"': out += c; break;
            case 'x':
                if (i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                    std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
                    out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
                    i += 2;
                    break;
                }
                [[fallthrough]];
            default: out += '\\', out += c;
        }
    }
    return out;
}

std::string read_text_file(const std::string& path) {
    if (path == "-") {
        std::string text(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
        if (interrupted()) throw Error("interrupted while reading the prompt from stdin");
        return text;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a prompt file");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open the prompt file: " + std::strerror(errno));
    std::stringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw Error(path + ": cannot read the prompt file");
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
// The temporary file to unlink on a fatal signal: a fixed buffer, since a
// signal handler may not allocate; g_temp_set says whether it is complete.
char g_temp_path[4096];
volatile std::sig_atomic_t g_temp_set = 0;

void unlink_temp() {
    if (g_temp_set) ::unlink(g_temp_path);
}
void on_fatal_signal(int sig) {
    unlink_temp();
    std::signal(sig, SIG_DFL);
    std::raise(sig);  // die of the signal, as the caller expects
}
void on_sigint(int) {
    if (g_interrupted) {
        unlink_temp();
        std::_Exit(130);
    }
    g_interrupted = 1;
}
void set_handler(int sig, void (*fn)(int)) {
    struct sigaction sa {};
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
}
bool g_sigint_is_interrupt = false;
}  // namespace

void install_interrupt_handler() {
    set_handler(SIGINT, on_sigint);
    g_sigint_is_interrupt = true;
}

void remove_on_signal(const std::string& path) {
    g_temp_set = 0;
    if (path.empty()) return;
    if (path.size() >= sizeof g_temp_path) return;  // no such path can be created anyway
    std::memcpy(g_temp_path, path.c_str(), path.size() + 1);
    g_temp_set = 1;
    set_handler(SIGTERM, on_fatal_signal);
    set_handler(SIGHUP, on_fatal_signal);
    if (!g_sigint_is_interrupt) set_handler(SIGINT, on_fatal_signal);
}

void check_output_path(const std::string& path, const std::string& flag) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (path.empty()) throw Error(flag + ": the output path is empty");
    if (fs::is_directory(path, ec)) throw Error(flag + " " + path + ": is a directory; give a file name");
    const fs::path parent = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
    if (!fs::is_directory(parent, ec)) throw Error(flag + " " + path + ": the directory " + parent.string() + " does not exist");
    if (::access(parent.c_str(), W_OK) != 0)
        throw Error(flag + " " + path + ": cannot write in " + parent.string() + ": " + std::strerror(errno));
}

namespace {
int g_stdout_errno = 0;  // why the first failed flush failed
}  // namespace

bool flush_stdout() {
    if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return true;
    if (!g_stdout_errno) g_stdout_errno = errno ? errno : EIO;
    return false;
}

void check_stdout() {
    if (!flush_stdout()) {
        std::clearerr(stdout);
        throw Error(std::string("cannot write the output to stdout: ") + std::strerror(g_stdout_errno));
    }
}
bool interrupted() { return g_interrupted != 0; }
void clear_interrupt() { g_interrupted = 0; }

}  // namespace tern::cli
