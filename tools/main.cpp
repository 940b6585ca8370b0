// `tern`: one binary, one subcommand per job.
#include <cstdio>
#include <exception>

#include <fmt/core.h>

#include "commands.h"
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
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        fmt::print(stderr, "tern: error: {}\n", e.what());
        return 1;
    }
    return 0;
}
