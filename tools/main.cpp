// `tern`: one binary, one subcommand per job.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "commands.h"
#include "common.h"
#include "git_commit.h"  // generated at build time (cmake/git_commit.cmake)
#include "llama_flags.h"
#include "tern/error.h"

namespace {

const char* kFooter = R"(Examples:
  tern run  -m model.gguf -p "The capital of France is" -n 64
  tern chat -m model.gguf -sys "You are a helpful assistant."
  tern convert bitnet-b1.58-2B-4T-bf16/ -o model.gguf
  tern bench -m model.gguf -p 512 -n 128 -t 1,2
  tern info model.gguf

Each command lists its options with --help (tern run --help). llama.cpp's
spellings work: -ngl/-fa are accepted and ignored on the CPU, -sys, -cnv, -ctk
and the like are translated; a repeated option takes its last value.

Environment:
  TERN_ISA=NAME  force a kernel table instead of the best one this CPU runs:
                 ref, avx2, avxvnni, avx512, avx512vnni (x86) or neon (Arm);
                 `tern info` lists them and the one chosen. A table the CPU
                 cannot run is an error, never a silent downgrade.
  NO_COLOR       no colour in `tern chat`, even on a terminal.)";

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tern: run 1.58-bit (ternary) BitNet language models on CPUs"};
    app.set_version_flag("--version", std::string("tern ") + TERN_VERSION + " (" + TERN_GIT_COMMIT + ")");
    app.footer(kFooter);
    app.require_subcommand(1);
    // llama.cpp's habit (wrapper scripts append overrides): the last value
    // of a repeated option wins. Set before the subcommands copy the defaults.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    tern::cli::register_info(app);
    tern::cli::register_run(app);
    tern::cli::register_chat(app);
    tern::cli::register_tokenize(app);
    tern::cli::register_convert(app);
    tern::cli::register_bench(app);
    tern::cli::register_perplexity(app);
    tern::cli::register_serve(app);
    tern::cli::register_embed(app);
    try {
        std::vector<std::string> args = tern::cli::translate_llama_flags(app, std::vector<std::string>(argv + 1, argv + argc));
        std::reverse(args.begin(), args.end());  // CLI11 takes its arguments last first
        app.parse(args);
        if (!tern::cli::interrupted()) tern::cli::check_stdout();  // Ctrl-C may have cut a write short
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::fflush(stdout);
        fmt::print(stderr, "tern: error: {}\n", e.what());
        return tern::cli::interrupted() ? 130 : 1;
    }
    return tern::cli::interrupted() ? 130 : 0;
}
