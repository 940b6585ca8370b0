// Each `tern` subcommand lives in its own file and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

namespace tern::cli {

void register_info(CLI::App& app);
void register_run(CLI::App& app);
void register_chat(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_convert(CLI::App& app);
void register_bench(CLI::App& app);
void register_perplexity(CLI::App& app);
void register_serve(CLI::App& app);
void register_embed(CLI::App& app);

}  // namespace tern::cli
