#include "llama_flags.h"

#include <cctype>
#include <cstdio>
#include <regex>
#include <string_view>

#include <fmt/core.h>

#include "tern/error.h"

namespace tern::cli {

namespace {

enum class Kind {
    rename,        // tern has the option under another name: `text`
    ignore,        // cannot apply on a CPU engine: dropped with a note saying `text`
    refuse,        // tern deliberately differs: an error saying `text`
    conversation,  // on `run`: becomes `chat`; elsewhere renamed to `text`
    no_conversation,  // on `run`: nothing to do; on `chat`: an error
};

enum class Values {
    none,    // a flag
    one,     // takes the next argument
    on_off,  // takes the next argument if it reads on/off/auto/1/0 (-fa, which older llama.cpp had bare)
};

struct Spelling {
    std::string_view names;  // space-separated
    Kind kind;
    std::string_view text;
    Values values = Values::none;
};

constexpr std::string_view kNoGpu = "tern runs on the CPU, there is nothing to offload";
constexpr std::string_view kDownload =
    "tern never downloads models: download the GGUF file first (for example `huggingface-cli download "
    "microsoft/bitnet-b1.58-2B-4T-gguf ggml-model-i2_s.gguf --local-dir .`, or with curl from "
    "https://huggingface.co/REPO/resolve/main/FILE.gguf) and give it with -m FILE.gguf";

// The single-dash words llama.cpp's tools accept (and a few long forms whose
// feature tern lacks), as llama.cpp users type them.
constexpr Spelling kSpellings[] = {
    {"-sys", Kind::rename, "--system-prompt"},
    {"-sysf", Kind::rename, "--system-prompt-file"},
    {"-np", Kind::rename, "--parallel"},
    {"-npl", Kind::rename, "--npl"},
    {"-pg", Kind::rename, "--pg"},
    {"-tb", Kind::rename, "--threads-batch"},
    {"-ctk", Kind::rename, "--cache-type-k"},
    {"-ctv", Kind::rename, "--cache-type-v"},
    {"-sp", Kind::rename, "--special"},
    {"-st", Kind::rename, "--single-turn"},
    {"-mli", Kind::rename, "--multiline-input"},
    {"-co", Kind::rename, "--color"},
    {"-cnv --conversation", Kind::conversation, "--conversation"},
    {"-i --interactive", Kind::conversation, "--interactive"},
    {"-if --interactive-first", Kind::conversation, "--interactive-first"},
    {"-no-cnv --no-conversation", Kind::no_conversation, ""},

    {"-ngl --n-gpu-layers --gpu-layers", Kind::ignore, kNoGpu, Values::one},
    {"-fa --flash-attn", Kind::ignore, "tern's attention runs on the CPU and has no flash-attention variant", Values::on_off},
    {"-ub --ubatch-size", Kind::ignore, "tern has one batch size, -b", Values::one},
    {"-nkvo --no-kv-offload -kvo --kv-offload", Kind::ignore, "the KV cache always stays in CPU memory"},
    {"-sm --split-mode -mg --main-gpu -ts --tensor-split -dev --device", Kind::ignore, kNoGpu, Values::one},
    {"-ot --override-tensor -ncmoe --n-cpu-moe", Kind::ignore, kNoGpu, Values::one},
    {"-cmoe --cpu-moe", Kind::ignore, kNoGpu},
    {"-fit -fitt --fit-target -fitc --fit-ctx", Kind::ignore, "there is no device memory to fit", Values::one},
    {"-Cr --cpu-range -Cb --cpu-mask-batch -Crb --cpu-range-batch", Kind::ignore, "tern does not pin threads to CPUs",
     Values::one},
    {"-mmp --mmap", Kind::ignore, "tern always memory-maps the model", Values::on_off},
    {"--no-mmap", Kind::ignore, "tern always memory-maps the model"},
    {"-dt --defrag-thold", Kind::ignore, "deprecated in llama.cpp too, no effect", Values::one},
    {"-cb --cont-batching -nocb --no-cont-batching", Kind::ignore, "tern serve always batches continuously"},
    {"-kvu --kv-unified", Kind::ignore, "tern's KV caches are per sequence"},
    {"-lv --verbosity", Kind::ignore, "tern has no log levels", Values::one},
    {"-ptc --print-token-count", Kind::ignore, "tern prints the counts at the end", Values::one},

    {"-hf -hfr --hf-repo -hff --hf-file -hft --hf-token -hfd -hfrd --hf-repo-draft -hfv -hfrv --hf-repo-v -hffv "
     "--hf-file-v -mu --model-url -dr --docker-repo",
     Kind::refuse, kDownload},
    {"-mm --mmproj -mmu --mmproj-url", Kind::refuse, "tern runs text models only: it has no multimodal projector"},
    {"-md --model-draft -ngld -cd -devd", Kind::refuse, "tern has no speculative decoding (draft models)"},
    {"-j -jf --json-schema --json-schema-file --grammar --grammar-file", Kind::refuse,
     "tern has no grammar-constrained sampling"},
    {"-lcs -lcd", Kind::refuse, "tern has no lookup decoding"},
    {"-gan -gaw", Kind::refuse, "tern has no group attention (self-extend)"},
    {"-bf --binary-file", Kind::refuse, "tern prompts are UTF-8 text: give the file with -f"},
};

const Spelling* find_spelling(std::string_view word) {
    for (const Spelling& s : kSpellings) {
        std::string_view names = s.names;
        while (!names.empty()) {
            const size_t sp = names.find(' ');
            if (names.substr(0, sp) == word) return &s;
            names = sp == std::string_view::npos ? std::string_view{} : names.substr(sp + 1);
        }
    }
    return nullptr;
}

bool is_number(std::string_view s) {
    static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
    return std::regex_match(s.begin(), s.end(), number);
}

bool is_on_off(std::string_view s) {
    static const std::regex on_off(R"(((on|off|auto|true|false|enabled|disabled|0|1),?)+)");
    return std::regex_match(s.begin(), s.end(), on_off);
}

// How many arguments after `opt` CLI11 takes whatever they look like.
int values_of(const CLI::Option* opt) { return opt ? std::max(0, opt->get_expected_min()) : 0; }

std::string commands_of(const CLI::App& app) {
    std::string list;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) list += (list.empty() ? "" : ", ") + sub->get_name();
    return list;
}

}  // namespace

std::vector<std::string> translate_llama_flags(const CLI::App& app, const std::vector<std::string>& args) {
    std::vector<std::string> out;
    const CLI::App* cmd = nullptr;  // the subcommand, once named
    size_t cmd_at = 0;              // its index in `out`
    int pending = 0;                // arguments still owed to the previous option
    bool rest = false;              // after "--"
    auto cmd_name = [&] { return cmd ? cmd->get_name() : std::string(); };
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (rest || pending > 0) {
            out.push_back(a);
            pending = std::max(0, pending - 1);
            continue;
        }
        if (a == "--") {
            rest = true;
            out.push_back(a);
            continue;
        }
        if (a.empty() || a[0] != '-' || a == "-" || is_number(a)) {
            if (!cmd && !a.empty() && a[0] != '-') {
                const auto subs = app.get_subcommands([&](const CLI::App* s) { return s->check_name(a); });
                if (subs.empty())
                    throw Error("unknown command '" + a + "'; tern's commands are " + commands_of(app) +
                                " (tern --help describes them)");
                cmd = subs[0];
                cmd_at = out.size();
            }
            out.push_back(a);
            continue;
        }
        const std::string word = a.substr(0, a.find('='));  // --name=value carries its value
        const bool has_value = word.size() != a.size();
        if (const Spelling* s = find_spelling(word)) {
            switch (s->kind) {
                case Kind::rename:
                    out.push_back(std::string(s->text) + a.substr(word.size()));
                    if (!has_value && cmd) pending = values_of(cmd->get_option_no_throw(std::string(s->text)));
                    continue;
                case Kind::conversation:
                    if (cmd_name() == "run") {
                        fmt::print(stderr, "tern: note: {}: conversation mode is `tern chat`, running that\n", word);
                        out[cmd_at] = "chat";
                        cmd = app.get_subcommand("chat");
                    } else {
                        out.push_back(cmd_name() == "chat" ? std::string(s->text) : a);
                    }
                    continue;
                case Kind::no_conversation:
                    if (cmd_name() == "chat")
                        throw Error(word + ": `tern chat` is conversation mode; for plain text completion use `tern run`");
                    if (cmd_name() != "run") out.push_back(a);  // let the command say it does not know it
                    continue;
                case Kind::ignore:
                    fmt::print(stderr, "tern: note: {} ignored: {}\n", word, s->text);
                    if (!has_value && i + 1 < args.size() &&
                        (s->values == Values::one || (s->values == Values::on_off && is_on_off(args[i + 1]))))
                        ++i;
                    continue;
                case Kind::refuse:
                    throw Error(word + ": " + std::string(s->text));
            }
        }
        if (!cmd) {  // --help, --version
            out.push_back(a);
            continue;
        }
        if (a.rfind("--", 0) == 0 || a.size() == 2) {
            if (!has_value) pending = values_of(cmd->get_option_no_throw(word));
            out.push_back(a);  // an unknown one is CLI11's to name
            continue;
        }
        // "-abc": an attached number (-n64, -t4) or a bundle of flags (-qe).
        const CLI::Option* first = cmd->get_option_no_throw(a.substr(0, 2));
        bool ok = first != nullptr;
        if (ok && values_of(first) > 0) {
            ok = is_number(a.substr(2));
        } else {
            for (size_t k = 1; ok && k < a.size(); ++k) {
                const CLI::Option* o = cmd->get_option_no_throw(std::string("-") + a[k]);
                ok = o != nullptr && values_of(o) == 0 && o->get_expected_max() == 0;
            }
        }
        if (!ok)
            throw Error("unknown option " + a + " for `tern " + cmd->get_name() + "` (options of several letters take two "
                        "dashes; tern " + cmd->get_name() + " --help lists them)");
        out.push_back(a);
    }
    return out;
}

}  // namespace tern::cli
