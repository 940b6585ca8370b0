// Options and helpers shared by the subcommands that load a model.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tern/model.h"
#include "tern/sampler.h"
#include "tern/session.h"
#include "tern/tokenizer.h"

namespace tern::cli {

// --output-type's help, the same for every command that loads a model.
inline constexpr const char* kOutputTypeHelp =
    "Requantize the output matrix at load: f32, f16, q8_0, q4_k, q5_k or q6_k (default: the file's own type). "
    "Faster generation from an F16 output without re-converting; the logits change a little";

struct ModelOpts {
    std::string model;
    int threads = 0;        // 0: all hardware threads; more than there are is capped (with a warning)
    int threads_batch = 0;  // llama.cpp's -tb: accepted, tern uses -t for both phases
    int64_t ctx = 0;
    int64_t batch = 512;
    std::string ffn_act;
    std::string kernel = "auto";
    bool kv_f16 = false;
    std::string cache_type_k, cache_type_v;  // llama.cpp's -ctk/-ctv: f32 or f16 (= --kv-f16)
    std::string output_type;                  // --output-type: the output matrix requantized at load

    void add_to(CLI::App& cmd);
    LoadOptions load_options() const;
    SessionOptions session_options() const;
    // The same, checked against the model: a context beyond its training
    // length is a warning (as in llama.cpp), one whose KV cache would not fit
    // in this machine's memory an error saying how much it would need.
    SessionOptions session_options(const ModelInfo& info) const;
};

// A CLI11 check: the value is a finite number within [lo, hi] (an open end
// when lo_open/hi_open). `range` says it in words for the message, e.g.
// "a number >= 0 (0: greedy)".
CLI::Validator number_in(double lo, double hi, bool lo_open, bool hi_open, const std::string& range);

// Adds -s, --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n.
void add_sampling_options(CLI::App& cmd, SamplingParams& p, int64_t& seed);
// seed < 0: a random seed (from the clock; the stats print the one used).
SamplingParams finish_sampling(SamplingParams p, int64_t seed);

// -n/--n-predict (also llama.cpp's --predict): 0 or more, or -1 for no limit.
void add_n_predict(CLI::App& cmd, int64_t& n, const std::string& help);

// -r/--reverse-prompt: a stop string, repeatable (every one counts).
void add_reverse_prompts(CLI::App& cmd, std::vector<std::string>& stops, const std::string& help);

// --verbose-prompt: the prompt's text and its tokens on stderr, as llama.cpp prints them.
void print_prompt_tokens(const Tokenizer& tok, const std::string& text, const std::vector<int32_t>& ids);

// llama.cpp's -e: \n \r \t \\ \' \" and \xHH become the characters they
// name; any other backslash stays as it is.
std::string process_escapes(const std::string& s);

// The model's tokenizer, or nullopt when the file has none.
std::optional<Tokenizer> load_tokenizer(const Model& model);

// Reads a prompt: "-" = stdin (Ctrl-C while reading: an "interrupted" error).
// A directory or an unreadable file is an error.
std::string read_text_file(const std::string& path);
void require_utf8(const std::string& text, const std::string& what);

// --prompt-tokens: comma-separated token ids. Throws tern::Error naming a bad item.
std::vector<int32_t> parse_ids(const std::string& s);

double seconds_since(std::chrono::steady_clock::time_point t0);

// Ctrl-C: the first press sets the flag (generation stops cleanly), a second
// press while the flag is still set exits at once (status 130).
void install_interrupt_handler();
bool interrupted();
void clear_interrupt();

// A temporary file (an output being written) that must not outlive the
// process: SIGINT (unless install_interrupt_handler() took it), SIGTERM and
// SIGHUP unlink it before the process dies of the signal, and the second
// Ctrl-C's exit does too. One at a time; "" forgets it. Normal exits and
// errors remove their own temporaries.
void remove_on_signal(const std::string& path);

// Checks, before any work, that `path` can become an output file: not a
// directory, in an existing writable directory. `flag` names the option in
// the message.
void check_output_path(const std::string& path, const std::string& flag);

// Flushes stdout; false if that or any earlier write to it failed (a full
// disk). Streaming loops stop on false.
bool flush_stdout();
// The same, but throws tern::Error saying why: output that was lost is an
// error, not success.
void check_stdout();

}  // namespace tern::cli
