// `tern perplexity`: not implemented yet.
#include "commands.h"
#include "tern/error.h"

namespace tern::cli {

void register_perplexity(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("perplexity", "Measure perplexity on a text file (not implemented yet)");
    cmd->allow_extras();
    cmd->callback([] { throw Error("`tern perplexity` is not implemented yet"); });
}

}  // namespace tern::cli
