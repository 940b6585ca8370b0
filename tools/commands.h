// Each `tern` subcommand lives in its own file and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

namespace tern::cli {

void register_info(CLI::App& app);
void register_run(CLI::App& app);

}  // namespace tern::cli
