// Options and helpers shared by the subcommands that load a model.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "tern/model.h"
#include "tern/sampler.h"
#include "tern/session.h"
#include "tern/tokenizer.h"

namespace tern::cli {

struct ModelOpts {
    std::string model;
    int threads = 0;
    int64_t ctx = 0;
    int64_t batch = 512;
    std::string ffn_act;
    std::string kernel = "auto";
    bool kv_f16 = false;

    void add_to(CLI::App& cmd);
    LoadOptions load_options() const;
    SessionOptions session_options() const;
};

// Adds -s, --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n.
void add_sampling_options(CLI::App& cmd, SamplingParams& p, int64_t& seed);
// seed < 0: a random seed (from the clock), reported on stderr.
SamplingParams finish_sampling(SamplingParams p, int64_t seed);

// The model's tokenizer, or nullopt when the file has none.
std::optional<Tokenizer> load_tokenizer(const Model& model);

// Reads a prompt: "-" = stdin; checks UTF-8. `what` names the source in errors.
std::string read_text_file(const std::string& path);
void require_utf8(const std::string& text, const std::string& what);

// --prompt-tokens: comma-separated token ids. Throws tern::Error naming a bad item.
std::vector<int32_t> parse_ids(const std::string& s);

double seconds_since(std::chrono::steady_clock::time_point t0);

// Ctrl-C: the first press sets the flag (generation stops cleanly), a second
// press while the flag is still set exits at once.
void install_interrupt_handler();
bool interrupted();
void clear_interrupt();

}  // namespace tern::cli
