// `tern embed`: embeddings of texts, as llama-embedding prints them (its flags
// and its array / json / json+ formats). Every input goes through the model
// in as few forward passes as fit the batch (tern/embed.h).
#include <fmt/core.h>

#include "commands.h"
#include "common.h"
#include "tern/embed.h"

namespace tern::cli {

namespace {

struct EmbedCliOpts {
    ModelOpts m;
    std::string prompt, file, prompt_tokens;
    std::string separator = "\n";
    int normalize = 2;
    std::string format;  // "" (human-readable), array, json, json+
    std::string pooling;
    bool no_stats = false;
};

std::vector<std::string> split(const std::string& s, const std::string& sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t end; (end = s.find(sep, start)) != std::string::npos; start = end + sep.size())
        out.push_back(s.substr(start, end - start));
    out.push_back(s.substr(start));
    if (out.size() > 1 && out.back().empty()) out.pop_back();  // text ending with the separator (a file's last newline)
    return out;
}

std::string value(float v, int normalize, bool json) {
    if (normalize == 0) return json ? fmt::format("{:1.0f}", v) : fmt::format("{:6.0f}", v);
    return json ? fmt::format("{:1.7f}", v) : fmt::format("{:9.6f}", v);
}

// {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}, ...]}
// (json+: and "cosineSimilarity", the matrix), or with `array` just [[...], ...].
void print_json(const std::vector<std::vector<float>>& e, int normalize, const std::string& format) {
    const bool array = format == "array";
    std::string out = array ? "[" : "{\n  \"object\": \"list\",\n  \"data\": [\n";
    for (size_t j = 0; j < e.size(); ++j) {
        if (!array) out += fmt::format("    {{\n      \"object\": \"embedding\",\n      \"index\": {},\n      \"embedding\": ", j);
        out += "[";
        for (size_t i = 0; i < e[j].size(); ++i) out += (i ? "," : "") + value(e[j][i], normalize, true);
        out += array ? "]" : "]\n    }";
        if (j + 1 < e.size()) out += array ? "," : ",\n";
    }
    out += array ? "]\n" : "\n  ]";
    if (format == "json+" && e.size() > 1) {
        out += ",\n  \"cosineSimilarity\": [\n";
        for (size_t i = 0; i < e.size(); ++i) {
            out += "    [";
            for (size_t j = 0; j < e.size(); ++j) out += fmt::format("{}{:6.2f}", j ? ", " : "", cosine_similarity(e[i], e[j]));
            out += i + 1 < e.size() ? " ],\n" : " ]";
        }
        out += "\n  ]";
    }
    if (!array) out += "\n}\n";
    fmt::print("{}", out);
}

// llama-embedding's default output: the first values of each embedding (all
// of a single one), then the cosine-similarity matrix.
void print_text(const std::vector<std::vector<float>>& e, const std::vector<std::string>& labels, int normalize,
                bool per_token) {
    for (size_t j = 0; j < e.size(); ++j) {
        std::string line = fmt::format("embedding {}: ", j);
        const size_t n = e[j].size();
        if (per_token && n > 6) {
            for (size_t i = 0; i < 3; ++i) line += value(e[j][i], normalize, false) + " ";
            line += " ... ";
            for (size_t i = n - 3; i < n; ++i) line += value(e[j][i], normalize, false) + " ";
        } else {
            for (size_t i = 0; i < (e.size() > 1 ? std::min<size_t>(16, n) : n); ++i) line += value(e[j][i], normalize, false) + " ";
        }
        fmt::print("{}\n", line);
    }
    if (per_token || e.size() < 2) return;
    fmt::print("\ncosine similarity matrix:\n\n");
    for (const auto& l : labels) fmt::print("{:>6.6} ", l);
    fmt::print("\n");
    for (size_t i = 0; i < e.size(); ++i) {
        for (size_t j = 0; j < e.size(); ++j) fmt::print("{:6.2f} ", cosine_similarity(e[i], e[j]));
        fmt::print("{:.10}\n", labels[i]);
    }
}

void embed(const EmbedCliOpts& o) {
    const auto t0 = std::chrono::steady_clock::now();
    const Model model = Model::load(o.m.model, o.m.load_options());
    EmbedOptions eo;
    if (!o.pooling.empty()) eo.pooling = parse_pooling(o.pooling);
    eo.normalize = o.normalize;
    eo.n_ctx = o.m.ctx;
    eo.n_batch = o.m.batch;
    eo.n_threads = o.m.threads;
    eo.kv_f16 = o.m.kv_f16;

    std::vector<std::vector<int32_t>> inputs;
    std::vector<std::string> labels;
    if (!o.prompt_tokens.empty()) {
        for (const std::string& part : split(o.prompt_tokens, o.separator == "\n" ? ";" : o.separator)) {
            inputs.push_back(parse_ids(part));
            labels.push_back(part);
        }
    } else {
        const std::optional<Tokenizer> tok = load_tokenizer(model);
        if (!tok) throw Error(o.m.model + " has no tokenizer (no tokenizer.ggml.tokens): give token ids with --prompt-tokens");
        std::string text = o.prompt;
        if (!o.file.empty()) text = read_text_file(o.file);
        else if (o.prompt == "-") text = read_text_file("-");
        require_utf8(text, o.file.empty() ? "the prompt" : "prompt file " + o.file);
        if (text.empty()) throw Error("nothing to embed: give text with -p, -f or -p - (stdin), or ids with --prompt-tokens");
        for (const std::string& part : split(text, o.separator)) {
            std::vector<int32_t> ids = embedding_tokens(*tok, part);
            if (ids.empty())
                throw Error("input " + std::to_string(inputs.size()) + " is empty: nothing to embed between separators");
            inputs.push_back(std::move(ids));
            labels.push_back(part);
        }
    }
    Embedder embedder(model, eo);
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<std::vector<float>> e = embedder.embed(inputs);
    const double secs = seconds_since(t1);
    const bool per_token = embedder.pooling() == Pooling::none;
    if (per_token) {  // one embedding per token, as llama-embedding prints them
        std::vector<std::vector<float>> rows;
        std::vector<std::string> row_labels;
        const auto H = size_t(embedder.n_embd());
        for (size_t i = 0; i < e.size(); ++i)
            for (size_t r = 0; r < e[i].size(); r += H) {
                rows.emplace_back(e[i].begin() + long(r), e[i].begin() + long(r + H));
                row_labels.push_back(labels[i]);
            }
        e = std::move(rows);
        labels = std::move(row_labels);
    }
    if (o.format.empty())
        print_text(e, labels, o.normalize, per_token);
    else
        print_json(e, o.normalize, o.format);
    if (!o.no_stats) {
        int64_t n_tokens = 0;
        for (const auto& in : inputs) n_tokens += int64_t(in.size());
        fmt::print(stderr, "\nembed: {} inputs, {} tokens, {} dims, pooling {}, in {:.3f} s ({:.1f} tokens/s; load {:.2f} s)\n",
                   inputs.size(), n_tokens, embedder.n_embd(), pooling_name(embedder.pooling()), secs,
                   double(n_tokens) / std::max(secs, 1e-9), std::chrono::duration<double>(t1 - t0).count());
    }
}

}  // namespace

void register_embed(CLI::App& app) {
    auto o = std::make_shared<EmbedCliOpts>();
    CLI::App* cmd = app.add_subcommand("embed", "Print embeddings of texts (llama-embedding's formats)");
    o->m.add_to(*cmd);
    cmd->add_option("-p,--prompt", o->prompt, "Text to embed, inputs split on --embd-separator (\"-\": stdin)");
    cmd->add_option("-f,--file", o->file, "Read the text from a file");
    cmd->add_option("--prompt-tokens", o->prompt_tokens,
                    "Token ids instead of text: comma-separated, inputs separated by ';' (or --embd-separator)");
    cmd->add_option("--embd-separator", o->separator, "Separator between inputs (default: newline)");
    cmd->add_option("--embd-normalize", o->normalize,
                    "Normalisation: -1 none, 0 max-abs to int16 range, 1 taxicab, 2 euclidean, >2 p-norm")
        ->capture_default_str();
    cmd->add_option("--embd-output-format", o->format, "Output: array, json or json+ (adds the cosine-similarity matrix); "
                                                       "default: human-readable")
        ->check(CLI::IsMember({"", "array", "json", "json+"}));
    cmd->add_option("--pooling", o->pooling, "Pooling: none, mean, cls or last (default: the model's, else last)")
        ->check(CLI::IsMember({"none", "mean", "cls", "last"}));
    cmd->add_flag("--no-stats", o->no_stats, "Do not print statistics on stderr");
    cmd->callback([o] {
        if (!o->prompt.empty() + !o->file.empty() + !o->prompt_tokens.empty() != 1)
            throw Error("give exactly one of -p TEXT, -f FILE or --prompt-tokens IDS");
        if (o->separator.empty()) throw Error("--embd-separator must not be empty");
        embed(*o);
    });
}

}  // namespace tern::cli
