// `tern bench`: not implemented yet.
#include "commands.h"
#include "tern/error.h"

namespace tern::cli {

void register_bench(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("bench", "Measure prompt-processing and generation speed (not implemented yet)");
    cmd->allow_extras();
    cmd->callback([] { throw Error("`tern bench` is not implemented yet"); });
}

}  // namespace tern::cli
