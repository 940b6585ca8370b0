// `tern chat`: not implemented yet.
#include "commands.h"
#include "tern/error.h"

namespace tern::cli {

void register_chat(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("chat", "Interactive multi-turn chat with the model's chat template (not implemented yet)");
    cmd->allow_extras();
    cmd->callback([] { throw Error("`tern chat` is not implemented yet"); });
}

}  // namespace tern::cli
