// `tern convert`: not implemented yet.
#include "commands.h"
#include "tern/error.h"

namespace tern::cli {

void register_convert(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face checkpoint into GGUF (not implemented yet)");
    cmd->allow_extras();
    cmd->callback([] { throw Error("`tern convert` is not implemented yet"); });
}

}  // namespace tern::cli
