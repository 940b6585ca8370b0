// `tern run`: one prompt in, the continuation streamed out.
#include <cstdio>
#include <sstream>

#include <fmt/core.h>

#include "commands.h"
#include "common.h"
#include "kernels.h"
#include "model/hparams.h"
#include "runtime/npy.h"

namespace tern::cli {

namespace {

struct RunOpts {
    ModelOpts m;
    std::string prompt;
    std::string prompt_file;
    std::string prompt_tokens;
    int64_t n_predict = -1;
    SamplingParams sampling;
    int64_t seed = -1;
    std::string logits_out;
    bool print_ids = false;
    bool no_stats = false;
    bool no_bos = false;
    bool special = false;
    bool no_display_prompt = false;
};

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

void run(const RunOpts& o) {
    install_interrupt_handler();
    const auto t_load = std::chrono::steady_clock::now();
    const Model model = Model::load(o.m.model, o.m.load_options());
    std::optional<Tokenizer> tok;
    try {
        tok = load_tokenizer(model);
    } catch (const Error& e) {
        // Ids in, ids out still works without a usable tokenizer.
        if (o.prompt_tokens.empty()) throw;
        fmt::print(stderr, "warning: tokenizer not loaded ({}); printing token ids\n", e.what());
    }
    Session session(model, o.m.session_options());
    const double load_s = seconds_since(t_load);
    const HParams& hp = model.hparams();

    // The prompt: ids as given, or text through the tokenizer.
    std::vector<int32_t> prompt;
    if (!o.prompt_tokens.empty()) {
        prompt = parse_ids(o.prompt_tokens);
    } else {
        if (!tok)
            throw Error(o.m.model + " has no tokenizer (no tokenizer.ggml.tokens): give the prompt as ids with --prompt-tokens");
        std::string text = o.prompt;
        if (!o.prompt_file.empty()) text = read_text_file(o.prompt_file);
        else if (o.prompt == "-") text = read_text_file("-");
        require_utf8(text, o.prompt_file.empty() ? "the prompt" : "prompt file " + o.prompt_file);
        if (text.empty()) throw Error("the prompt is empty: give text with -p, -f or -p - (stdin), or ids with --prompt-tokens");
        prompt = tok->encode(text, !o.no_bos, false);
    }
    if (int64_t(prompt.size()) >= session.n_ctx())
        throw Error("the prompt has " + std::to_string(prompt.size()) + " tokens, which does not fit the context of " +
                    std::to_string(session.n_ctx()) + " (raise -c or shorten the prompt)");

    const bool keep_all = !o.logits_out.empty();
    std::vector<float> all_logits;
    const int64_t V = hp.n_vocab;

    const auto t_prompt = std::chrono::steady_clock::now();
    session.eval(prompt, keep_all);
    const double prompt_s = seconds_since(t_prompt);
    if (keep_all) all_logits.assign(session.logits(0), session.logits(0) + int64_t(prompt.size()) * V);

    Sampler sampler(finish_sampling(o.sampling, o.seed));
    for (int32_t t : prompt) sampler.accept(t);
    std::optional<StreamDecoder> out;
    if (tok) out.emplace(*tok, o.special, false);
    const bool show_ids = o.print_ids || !tok;

    // Echo a text prompt as llama.cpp does, so the output reads on from it.
    if (!show_ids && o.prompt_tokens.empty() && !o.no_display_prompt) {
        fmt::print("{}", tok->decode(prompt, o.special));
        std::fflush(stdout);
    }
    std::vector<int32_t> generated;
    std::string stop = "n_predict reached";
    const auto t_gen = std::chrono::steady_clock::now();
    const int64_t limit = o.n_predict < 0 ? INT64_MAX : o.n_predict;
    std::vector<float> last(session.logits(-1), session.logits(-1) + V);
    while (int64_t(generated.size()) < limit) {
        if (interrupted()) {
            stop = "interrupted";
            break;
        }
        const int32_t id = sampler.sample(last.data(), V);
        if (tok && tok->is_eog(id)) {
            stop = "end of text";
            break;
        }
        generated.push_back(id);
        sampler.accept(id);
        if (show_ids) {
            fmt::print("{}{}", generated.size() > 1 ? "," : "", id);
        } else {
            fmt::print("{}", out->push(id));
        }
        std::fflush(stdout);
        const bool more = int64_t(generated.size()) < limit;
        if (session.n_past() >= session.n_ctx()) {
            stop = "context full";
            break;
        }
        if (more || keep_all) {
            session.eval(std::span<const int32_t>(&id, 1), false);
            last.assign(session.logits(-1), session.logits(-1) + V);
            if (keep_all) all_logits.insert(all_logits.end(), last.begin(), last.end());
        }
    }
    const double gen_s = seconds_since(t_gen);
    if (out && !show_ids) fmt::print("{}", out->flush());
    fmt::print("\n");
    std::fflush(stdout);

    if (keep_all) {
        const int64_t rows = int64_t(all_logits.size()) / V;
        write_npy_f32(o.logits_out, all_logits.data(), {rows, V});
    }
    if (!o.no_stats) {
        fmt::print(stderr, "\n[stopped: {}]\n", stop);
        fmt::print(stderr, "load:       {:8.2f} s  ({}, {} weights, {} kernels on {}, ffn {})\n", load_s, hp.arch,
                   model.weight_type(), model.kernel_family(), model.table().name, ffn_act_name(hp.ffn_act));
        fmt::print(stderr, "prompt:     {:5} tokens in {:8.2f} s  = {:8.2f} tokens/s\n", prompt.size(), prompt_s,
                   prompt.size() / std::max(prompt_s, 1e-9));
        fmt::print(stderr, "generation: {:5} tokens in {:8.2f} s  = {:8.2f} tokens/s\n", generated.size(), gen_s,
                   generated.empty() ? 0.0 : generated.size() / std::max(gen_s, 1e-9));
    }
}

}  // namespace

void register_run(CLI::App& app) {
    auto o = std::make_shared<RunOpts>();
    CLI::App* cmd = app.add_subcommand("run", "Continue a prompt, streaming the text as it is generated");
    o->m.add_to(*cmd);
    cmd->add_option("-p,--prompt", o->prompt, "Prompt text (\"-\": read it from stdin)");
    cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from a file");
    cmd->add_option("--prompt-tokens", o->prompt_tokens,
                    "Prompt as comma-separated token ids (no tokenization, no BOS added)");
    cmd->add_option("-n,--n-predict", o->n_predict, "Tokens to generate (-1: until end of text or a full context)")->capture_default_str();
    add_sampling_options(*cmd, o->sampling, o->seed);
    cmd->add_option("--logits-out", o->logits_out,
                    "Write float32 logits [positions x vocab] to this .npy: every prompt position, then each "
                    "generated token's position");
    cmd->add_flag("--print-ids", o->print_ids, "Print generated token ids instead of text");
    cmd->add_flag("--no-stats", o->no_stats, "Do not print timings to stderr");
    cmd->add_flag("--no-bos", o->no_bos, "Do not add the BOS token to a text prompt");
    cmd->add_flag("--special", o->special, "Print special tokens' text");
    cmd->add_flag("--no-display-prompt", o->no_display_prompt, "Print only the continuation, not the prompt");
    cmd->callback([o] { run(*o); });
}

}  // namespace tern::cli
