// `tern`: one binary, one subcommand per job.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "commands.h"
#include "git_commit.h"  // generated at build time (cmake/git_commit.cmake)
#include "tern/error.h"

int main(int argc, char** argv) {
    CLI::App app{"tern: run 1.58-bit (ternary) BitNet language models on CPUs"};
    app.set_version_flag("--version", std::string("tern ") + TERN_VERSION + " (" + TERN_GIT_COMMIT + ")");
    app.require_subcommand(1);
    tern::cli::register_info(app);
    tern::cli::register_run(app);
    tern::cli::register_chat(app);
    tern::cli::register_tokenize(app);
    tern::cli::register_convert(app);
    tern::cli::register_bench(app);
    tern::cli::register_perplexity(app);
    tern::cli::register_serve(app);
    tern::cli::register_embed(app);
    // llama.cpp spells some options with one dash and several letters, which
    // CLI11 does not parse: translate them.
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 1; --i) {
        const std::string a = argv[i];
        args.push_back(a == "-sys" ? "--system-prompt" : a == "-np" ? "--parallel" : a == "-npl" ? "--npl" : a);
    }
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        fmt::print(stderr, "tern: error: {}\n", e.what());
        return 1;
    }
    return 0;
}
