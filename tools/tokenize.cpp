// `tern tokenize`: the token ids of a text, from the model's own vocabulary.
#include <fmt/core.h>

#include "commands.h"
#include "common.h"
#include "tern/gguf.h"

namespace tern::cli {

void register_tokenize(CLI::App& app) {
    struct Opts {
        std::string model, prompt, file;
        bool no_bos = false, pieces = false, special = false;
    };
    auto o = std::make_shared<Opts>();
    CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
    cmd->add_option("-m,--model", o->model, "GGUF model file (only its vocabulary is read)")->required();
    CLI::Option* p = cmd->add_option("-p,--prompt", o->prompt, "Text to tokenize (\"-\": stdin)");
    cmd->add_option("-f,--file", o->file, "Read the text from a file")->excludes(p);
    cmd->add_flag("--no-bos", o->no_bos, "Do not add the BOS token");
    cmd->add_flag("--pieces", o->pieces, "Print one `id<TAB>piece` per line");
    cmd->add_flag("--parse-special,--special", o->special, "Turn special-token text such as <|eot_id|> into those tokens (also -sp)");
    cmd->callback([o] {
        const gguf::File f = gguf::File::open(o->model);
        if (!f.has("tokenizer.ggml.tokens")) throw Error(o->model + " has no tokenizer (no tokenizer.ggml.tokens)");
        const Tokenizer tok = Tokenizer::create(tokenizer_data_from_gguf(f));
        std::string text = o->prompt;
        if (!o->file.empty()) text = read_text_file(o->file);
        else if (o->prompt == "-") text = read_text_file("-");
        const auto ids = tok.encode(text, !o->no_bos, o->special);
        if (o->pieces) {
            for (int32_t id : ids) fmt::print("{}\t{}\n", id, tok.token_to_piece(id, true));
        } else {
            std::string line;
            for (size_t k = 0; k < ids.size(); ++k) line += (k ? "," : "") + std::to_string(ids[k]);
            fmt::print("{}\n", line);
        }
    });
}

}  // namespace tern::cli
