// llama.cpp's command-line spellings on tern's command line.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tern::cli {

// llama.cpp spells many options with one dash and several letters (-ngl,
// -ctk, -sys), which CLI11 would read as bundles of short options (-ngl 99
// as -n "gl"). Translates `args` (argv without the program name, in order)
// for `app`, whose subcommands are registered:
//  - an option tern has under another name becomes that name (-sys ->
//    --system-prompt, -ctk -> --cache-type-k, -cnv on `run` -> `chat`);
//  - one that cannot apply on a CPU engine (-ngl, -fa, -ub, ...) is dropped
//    with its value and a one-line note on stderr;
//  - one tern deliberately lacks (-hf: tern never downloads) is an error
//    saying what to do instead;
//  - any other single-dash word that is not a bundle of the command's own
//    short options is an error naming it, never a silent misparse.
// Values of options are never touched (-p -ngl is a prompt). Throws
// tern::Error; also names an unknown subcommand and lists the real ones.
std::vector<std::string> translate_llama_flags(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace tern::cli
