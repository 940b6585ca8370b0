// `tern run`: one prompt in, the continuation streamed out.
#include <cstdio>
#include <sstream>

#include <fmt/core.h>

#include "commands.h"
#include "common.h"
#include "npy.h"
#include "tern/generate.h"

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
    std::vector<std::string> reverse_prompts;
    bool print_ids = false;
    bool no_stats = false;
    bool no_bos = false;
    bool special = false;        // -sp: special-token text in the prompt is parsed, and printed in the output
    bool parse_special = false;  // only the first half of that
    bool escape = true;
    bool ignore_eos = false;
    bool verbose_prompt = false;
    bool no_display_prompt = false;
};

void run(const RunOpts& o) {
    if (!o.logits_out.empty()) check_output_path(o.logits_out, "--logits-out");
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
    Session session(model, o.m.session_options(model.info()));
    const double load_s = seconds_since(t_load);
    const ModelInfo& info = model.info();

    // The prompt: ids as given, or text through the tokenizer.
    std::vector<int32_t> prompt;
    if (!o.prompt_tokens.empty()) {
        prompt = parse_ids(o.prompt_tokens);
    } else {
        if (!tok)
            throw Error(o.m.model + " has no tokenizer (no tokenizer.ggml.tokens): give the prompt as ids with --prompt-tokens");
        std::string text = o.escape ? process_escapes(o.prompt) : o.prompt;
        if (!o.prompt_file.empty()) text = read_text_file(o.prompt_file);
        else if (o.prompt == "-") text = read_text_file("-");
        require_utf8(text, o.prompt_file.empty() ? "the prompt" : "prompt file " + o.prompt_file);
        // An empty prompt continues from BOS alone, as llama.cpp does.
        prompt = tok->encode(text, !o.no_bos, o.special || o.parse_special);
        if (prompt.empty())
            throw Error("the prompt is empty and --no-bos leaves nothing to continue: give text with -p, -f or -p - "
                        "(stdin), or ids with --prompt-tokens");
        if (o.verbose_prompt) print_prompt_tokens(*tok, text, prompt);
    }
    if (int64_t(prompt.size()) >= session.n_ctx())
        throw Error("the prompt has " + std::to_string(prompt.size()) + " tokens, which does not fit the context of " +
                    std::to_string(session.n_ctx()) + " (raise -c or shorten the prompt)");

    const bool show_ids = o.print_ids || !tok;
    // Echo a text prompt as llama.cpp does, so the output reads on from it.
    if (!show_ids && o.prompt_tokens.empty() && !o.no_display_prompt) {
        fmt::print("{}", tok->decode(prompt, o.special));
        std::fflush(stdout);
    }

    GenerateOptions g;
    g.n_predict = o.n_predict;
    g.sampling = finish_sampling(o.sampling, o.seed);
    g.render_special = o.special;
    g.ignore_eos = o.ignore_eos;
    for (const std::string& r : o.reverse_prompts) g.stop.push_back(o.escape ? process_escapes(r) : r);
    std::vector<float> all_logits;
    if (!o.logits_out.empty()) {
        g.prompt_logits_all = true;
        g.on_logits = [&](const float* l, int64_t rows) { all_logits.insert(all_logits.end(), l, l + rows * info.n_vocab); };
    }
    int64_t n_shown = 0;
    const GenerateResult r = generate(session, tok ? &*tok : nullptr, prompt, g, [&](std::string_view piece, int32_t id) {
        if (show_ids) {
            if (id >= 0) fmt::print("{}{}", n_shown++ ? "," : "", id);
        } else {
            fmt::print("{}", piece);
        }
        // A failed write (a full disk) ends generation: main() reports it.
        return flush_stdout() && !interrupted();
    });
    fmt::print("\n");
    if (!interrupted()) check_stdout();

    if (!o.logits_out.empty()) write_npy_f32(o.logits_out, all_logits.data(), {int64_t(all_logits.size()) / info.n_vocab, info.n_vocab});
    if (!o.no_stats) {
        const char* why = r.reason == StopReason::eos            ? "end of text"
                          : r.reason == StopReason::length       ? "n_predict reached"
                          : r.reason == StopReason::context_full ? "context full"
                          : r.reason == StopReason::cancelled    ? "interrupted"
                                                                 : "stop string";
        fmt::print(stderr, "\n[stopped: {}]\n", why);
        fmt::print(stderr, "seed:       {}\n", g.sampling.seed);
        fmt::print(stderr, "load:       {:8.2f} s  ({}, {} weights, {} kernels on {}, ffn {})\n", load_s, info.architecture,
                   info.weight_type, kernel_family_name(info.kernel_family), info.kernel_table, ffn_act_name(info.ffn_act));
        fmt::print(stderr, "prompt:     {:5} tokens in {:8.2f} s  = {:8.2f} tokens/s\n", r.n_prompt, r.prompt_seconds,
                   r.n_prompt / std::max(r.prompt_seconds, 1e-9));
        fmt::print(stderr, "generation: {:5} tokens in {:8.2f} s  = {:8.2f} tokens/s\n", r.n_generated, r.generate_seconds,
                   r.tokens_per_second());
    }
}

}  // namespace

void register_run(CLI::App& app) {
    auto o = std::make_shared<RunOpts>();
    CLI::App* cmd = app.add_subcommand("run", "Continue a prompt, streaming the text as it is generated");
    o->m.add_to(*cmd);
    CLI::Option* p = cmd->add_option("-p,--prompt", o->prompt,
                                     "Prompt text (\"-\": read it from stdin; empty or none: generate from BOS)");
    CLI::Option* f = cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from a file")->excludes(p);
    cmd->add_option("--prompt-tokens", o->prompt_tokens, "Prompt as comma-separated token ids (no tokenization, no BOS added)")
        ->excludes(p)
        ->excludes(f);
    add_n_predict(*cmd, o->n_predict, "Tokens to generate (-1: until end of text or a full context)");
    add_sampling_options(*cmd, o->sampling, o->seed);
    cmd->add_option("--logits-out", o->logits_out,
                    "Write float32 logits [positions x vocab] to this .npy: every prompt position, then each "
                    "generated token's position");
    cmd->add_flag("--print-ids", o->print_ids, "Print generated token ids instead of text");
    cmd->add_flag("--no-stats", o->no_stats, "Do not print timings to stderr");
    cmd->add_flag("--no-bos", o->no_bos, "Do not add the BOS token to a text prompt");
    cmd->add_flag("--special", o->special,
                  "Special tokens: their text in the prompt (<|eot_id|>) is the token, and they are printed (also -sp)");
    cmd->add_flag("--parse-special", o->parse_special, "Read special-token text in the prompt as those tokens");
    cmd->add_flag("-e,--escape,!--no-escape", o->escape, "Process \\n \\t \\\\ \\' \\\" \\xHH in -p and -r (default: on)");
    add_reverse_prompts(*cmd, o->reverse_prompts, "Stop when this text appears (repeatable; not printed)");
    cmd->add_flag("--ignore-eos", o->ignore_eos, "Do not stop at end-of-text tokens");
    cmd->add_flag("--verbose-prompt", o->verbose_prompt, "Print the prompt and its tokens to stderr before generating");
    cmd->add_flag("--no-display-prompt", o->no_display_prompt, "Print only the continuation, not the prompt");
    cmd->callback([o] { run(*o); });
}

}  // namespace tern::cli
