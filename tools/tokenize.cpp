// `tern tokenize`: not implemented yet.
#include "commands.h"
#include "tern/error.h"

namespace tern::cli {

void register_tokenize(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text (not implemented yet)");
    cmd->allow_extras();
    cmd->callback([] { throw Error("`tern tokenize` is not implemented yet"); });
}

}  // namespace tern::cli
