// `tern perplexity`: perplexity of a text as llama-perplexity measures it.
// The text is tokenized once (with BOS), cut into chunks of c tokens whose
// first token is replaced by BOS, and in each chunk only the second half is
// scored: every scored token has at least c/2 tokens of context.
#include <cmath>

#include <fmt/core.h>

#include "commands.h"
#include "common.h"

namespace tern::cli {

namespace {

struct PplOpts {
    ModelOpts m;
    std::string file;
    int64_t chunks = -1;
};

// -log softmax(logits)[target], in double.
double nll(const float* logits, int64_t n_vocab, int32_t target) {
    double mx = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) mx = std::max(mx, double(logits[i]));
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i]) - mx);
    return std::log(sum) + mx - double(logits[target]);
}

void perplexity(const PplOpts& o) {
    install_interrupt_handler();
    ModelOpts mo = o.m;
    const Model model = Model::load(mo.model, mo.load_options());
    if (mo.ctx <= 0) mo.ctx = std::min<int64_t>(512, model.info().n_ctx_train);
    const auto tok = load_tokenizer(model);
    if (!tok) throw Error(mo.model + " has no tokenizer: perplexity needs one");
    const std::string text = read_text_file(o.file);
    require_utf8(text, "text file " + o.file);
    const std::vector<int32_t> tokens = tok->encode(text, true, false);
    const int64_t n_ctx = mo.ctx;
    if (n_ctx < 4) throw Error("-c must be at least 4 for perplexity");
    int64_t n_chunks = int64_t(tokens.size()) / n_ctx;
    if (o.chunks > 0) n_chunks = std::min(n_chunks, o.chunks);
    if (n_chunks == 0)
        throw Error(o.file + " has " + std::to_string(tokens.size()) + " tokens, fewer than one chunk of " +
                    std::to_string(n_ctx) + " (lower -c)");
    Session session(model, mo.session_options());
    const int64_t V = model.info().n_vocab;
    const int64_t first = n_ctx / 2;
    fmt::print(stderr, "perplexity: {} tokens, {} chunks of {}, scoring the last {} tokens of each\n", tokens.size(),
               n_chunks, n_ctx, n_ctx - 1 - first);

    double sum = 0, sum2 = 0;
    int64_t count = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t c = 0; c < n_chunks && !interrupted(); ++c) {
        std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
        if (tok->adds_bos() && tok->bos() >= 0) chunk[0] = tok->bos();
        session.reset();
        session.eval(chunk, true);
        for (int64_t j = first; j < n_ctx - 1; ++j) {
            const double v = nll(session.logits(j), V, chunk[size_t(j + 1)]);
            sum += v;
            sum2 += v * v;
            ++count;
        }
        fmt::print("[{}]{:.4f},", c + 1, std::exp(sum / double(count)));
        std::fflush(stdout);
        if (c == 0)
            fmt::print(stderr, "(first chunk took {:.2f} s; about {:.0f} s in all)\n", seconds_since(t0),
                       seconds_since(t0) * double(n_chunks));
    }
    const double mean = sum / double(count);
    const double var = count > 1 ? (sum2 / double(count) - mean * mean) / double(count - 1) : 0.0;
    const double ppl = std::exp(mean);
    fmt::print("\nFinal estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, ppl * std::sqrt(std::max(var, 0.0)));
    fmt::print(stderr, "scored {} tokens in {:.2f} s\n", count, seconds_since(t0));
}

}  // namespace

void register_perplexity(CLI::App& app) {
    auto o = std::make_shared<PplOpts>();
    CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a text file (llama-perplexity's method)");
    o->m.add_to(*cmd);
    cmd->add_option("-f,--file", o->file, "Text file")->required();
    cmd->add_option("--chunks", o->chunks, "Evaluate at most this many chunks (default: all)");
    cmd->footer("Default context (-c): 512 tokens, or the model's training context if shorter.");
    cmd->callback([o] { perplexity(*o); });
}

}  // namespace tern::cli
