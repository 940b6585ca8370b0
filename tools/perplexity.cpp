// `tern perplexity`: perplexity of a text as llama-perplexity measures it.
// The text is tokenized once (with BOS), cut into chunks of c tokens whose
// first token is replaced by BOS, and in each chunk only the second half is
// scored: every scored token has at least c/2 tokens of context.
//
// --kl-divergence-base FILE also saves every scored position's
// log-probabilities in llama-perplexity's base file format (kl_divergence.h);
// --kl-divergence then compares this model against such a file (written by
// tern, llama.cpp or bitnet.cpp from the reference model) on the same tokens.
#include <cmath>

#include <fmt/core.h>

#include "commands.h"
#include "common.h"
#include "kl_divergence.h"

namespace tern::cli {

namespace {

struct PplOpts {
    ModelOpts m;
    std::string file;
    int64_t chunks = -1;
    std::string kl_base;
    bool kl = false;
};

constexpr int kInterrupted = 130;

// -log softmax(logits)[target], in double.
double nll(const float* logits, int64_t n_vocab, int32_t target) {
    double mx = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) mx = std::max(mx, double(logits[i]));
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i]) - mx);
    return std::log(sum) + mx - double(logits[target]);
}

// Evaluates one chunk (its first token replaced by BOS when the model adds one), all logits kept.
void eval_chunk(Session& s, const std::optional<Tokenizer>& tok, std::vector<int32_t> chunk) {
    if (tok && tok->adds_bos() && tok->bos() >= 0) chunk[0] = tok->bos();
    s.reset();
    s.eval(chunk, true);
}

void print_eta(std::chrono::steady_clock::time_point t0, int64_t n_chunks) {
    fmt::print(stderr, "(first chunk took {:.2f} s; about {:.0f} s in all)\n", seconds_since(t0),
               seconds_since(t0) * double(n_chunks));
}

int perplexity(const PplOpts& o) {
    if (o.file.empty()) throw Error("perplexity needs the text: -f FILE (or --kl-divergence to compare with a base file)");
    ModelOpts mo = o.m;
    // The output file first: a bad path fails before any work.
    std::optional<kld::BaseWriter> base;
    if (!o.kl_base.empty()) base.emplace(o.kl_base);
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
    Session session(model, mo.session_options(model.info()));
    const int64_t V = model.info().n_vocab;
    const int64_t first = n_ctx / 2;
    fmt::print(stderr, "perplexity: {} tokens, {} chunks of {}, scoring the last {} tokens of each\n", tokens.size(),
               n_chunks, n_ctx, n_ctx - 1 - first);
    std::vector<uint16_t> records;
    if (base) {
        base->header(int32_t(n_ctx), int32_t(V), std::span(tokens.data(), size_t(n_chunks * n_ctx)));
        records.resize(size_t(kld::scored_per_chunk(n_ctx) * kld::record_size(V)));
        fmt::print(stderr, "perplexity: saving the log-probabilities to {}\n", base->path());
    }

    double sum = 0, sum2 = 0;
    int64_t count = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t c = 0; c < n_chunks && !interrupted(); ++c) {
        const std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
        eval_chunk(session, tok, chunk);
        for (int64_t j = first; j < n_ctx - 1; ++j) {
            const int32_t next = chunk[size_t(j + 1)];
            const double v = base ? kld::encode(session.logits(j), V, next,
                                                &records[size_t((j - first) * kld::record_size(V))])
                                  : nll(session.logits(j), V, next);
            sum += v;
            sum2 += v * v;
            ++count;
        }
        if (base) base->records(records);
        fmt::print("[{}]{:.4f},", c + 1, std::exp(sum / double(count)));
        std::fflush(stdout);
        if (c == 0) print_eta(t0, n_chunks);
    }
    if (count == 0) {
        fmt::print(stderr, "\nperplexity: interrupted before the first chunk finished: no estimate\n");
        return kInterrupted;
    }
    const double mean = sum / double(count);
    const double var = count > 1 ? (sum2 / double(count) - mean * mean) / double(count - 1) : 0.0;
    const double ppl = std::exp(mean);
    fmt::print("\nFinal estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, ppl * std::sqrt(std::max(var, 0.0)));
    fmt::print(stderr, "scored {} tokens in {:.2f} s\n", count, seconds_since(t0));
    if (interrupted()) {
        fmt::print(stderr, "perplexity: interrupted: the estimate covers {} of {} chunks{}\n", count / (n_ctx - 1 - first),
                   n_chunks, base ? "; " + o.kl_base + " was not written" : "");
        return kInterrupted;
    }
    if (base) {
        base->commit();
        fmt::print(stderr, "perplexity: wrote {}\n", o.kl_base);
    }
    return 0;
}

int kl_divergence(const PplOpts& o) {
    if (o.kl_base.empty())
        throw Error("--kl-divergence compares against a base file: give it with --kl-divergence-base FILE");
    kld::BaseReader base(o.kl_base);
    ModelOpts mo = o.m;
    if (mo.ctx > 0 && mo.ctx != base.n_ctx())
        fmt::print(stderr, "perplexity: {} was computed with chunks of {} tokens: using -c {}\n", o.kl_base, base.n_ctx(),
                   base.n_ctx());
    mo.ctx = base.n_ctx();
    const Model model = Model::load(mo.model, mo.load_options());
    const int64_t V = model.info().n_vocab;
    if (V != base.n_vocab())
        throw Error(fmt::format("{} holds log-probabilities over {} tokens, but {} has a vocabulary of {}: compare models "
                                "that share a tokenizer",
                                o.kl_base, base.n_vocab(), mo.model, V));
    const auto tok = load_tokenizer(model);
    const int64_t n_ctx = base.n_ctx();
    int64_t n_chunks = base.n_chunk();
    if (o.chunks > 0) n_chunks = std::min(n_chunks, o.chunks);
    Session session(model, mo.session_options(model.info()));
    const int64_t first = n_ctx / 2;
    const int64_t rec = kld::record_size(V);
    fmt::print(stderr, "perplexity: comparing with {}: {} chunks of {}, scoring the last {} tokens of each\n", o.kl_base,
               n_chunks, n_ctx, n_ctx - 1 - first);

    kld::Comparison cmp;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t c = 0; c < n_chunks && !interrupted(); ++c) {
        const std::vector<uint16_t>& records = base.next_chunk();
        const std::vector<int32_t> chunk(base.tokens().begin() + c * n_ctx, base.tokens().begin() + (c + 1) * n_ctx);
        eval_chunk(session, tok, chunk);
        for (int64_t j = first; j < n_ctx - 1; ++j)
            cmp.add(session.logits(j), V, &records[size_t((j - first) * rec)], chunk[size_t(j + 1)]);
        if (c == 0) {
            print_eta(t0, n_chunks);
            kld::Comparison::print_chunk_header();
        }
        cmp.print_chunk(c + 1);
    }
    if (cmp.count() == 0) {
        fmt::print(stderr, "\nperplexity: interrupted before the first chunk finished: no statistics\n");
        return kInterrupted;
    }
    cmp.print_summary();
    if (interrupted()) {
        fmt::print(stderr, "perplexity: interrupted: the statistics cover {} of {} chunks\n",
                   int64_t(cmp.count()) / (n_ctx - 1 - first), n_chunks);
        return kInterrupted;
    }
    return 0;
}

}  // namespace

void register_perplexity(CLI::App& app) {
    auto o = std::make_shared<PplOpts>();
    CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a text file (llama-perplexity's method)");
    o->m.add_to(*cmd);
    cmd->add_option("-f,--file", o->file, "Text file");
    cmd->add_option("--chunks", o->chunks, "Evaluate at most this many chunks (default: all)");
    cmd->add_option("--kl-divergence-base", o->kl_base,
                    "Also save the log-probabilities to FILE (llama-perplexity's format); with --kl-divergence, "
                    "the file to compare against");
    cmd->add_flag("--kl-divergence", o->kl,
                  "Compare this model against --kl-divergence-base FILE: KL divergence, top-token agreement, "
                  "PPL ratio (the text comes from the file; -f is not needed)");
    cmd->footer(
        "Default context (-c): 512 tokens, or the model's training context if shorter.\n"
        "Examples:\n"
        "  tern perplexity -m model.gguf -f wiki.test.raw\n"
        "  tern perplexity -m reference.gguf -f wiki.test.raw --kl-divergence-base ref.kld\n"
        "  tern perplexity -m quantized.gguf --kl-divergence-base ref.kld --kl-divergence\n"
        "Ctrl-C stops after the running chunk and prints the estimate over the chunks finished (exit 130).");
    cmd->callback([o] {
        install_interrupt_handler();
        const int code = o->kl ? kl_divergence(*o) : perplexity(*o);
        if (code != 0) {
            std::fflush(stdout);
            std::exit(code);
        }
    });
}

}  // namespace tern::cli
