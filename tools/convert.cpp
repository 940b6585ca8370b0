// `tern convert`: a Hugging Face checkpoint folder into one GGUF file.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <fmt/core.h>

#include "commands.h"
#include "common.h"
#include "tern/convert.h"

namespace tern::cli {

namespace {

struct ConvertOpts {
    std::string dir;
    std::string out;
    convert::Options c;
    bool quiet = false;
};

void run_convert(ConvertOpts& o) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool tty = !o.quiet && isatty(STDERR_FILENO);
    bool progress_shown = false;
    if (tty) {
        o.c.on_progress = [&](size_t k, size_t n, uint64_t in_done, uint64_t in_total, const std::string& name) {
            const double s = seconds_since(t0);
            fmt::print(stderr, "\r\033[2Kconverting: tensor {}/{} {:<28} {:>6.0f}/{:.0f} MB  {:.0f} MB/s", k, n, name,
                       double(in_done) / 1e6, double(in_total) / 1e6, s > 0 ? double(in_done) / 1e6 / s : 0.0);
            std::fflush(stderr);
            progress_shown = true;
        };
    }
    if (!o.quiet) o.c.on_warning = [](const std::string& w) { fmt::print(stderr, "warning: {}\n", w); };
    convert::Result r;
    // The writer fills OUT.tmp and renames it when complete (tern/gguf.h):
    // Ctrl-C or a kill must not leave tens of MB of it behind.
    remove_on_signal(o.out + ".tmp");
    try {
        r = convert::convert_checkpoint(o.dir, o.out, o.c);
    } catch (...) {
        remove_on_signal("");
        if (progress_shown) fmt::print(stderr, "\n");
        throw;
    }
    remove_on_signal("");
    if (progress_shown) fmt::print(stderr, "\n");
    if (!o.quiet) {
        const double s = seconds_since(t0);
        fmt::print(stderr, "wrote {}: {} ({}, {} tensors, {} linears as {}, tokenizer: {}), {:.1f} MB in {:.1f} s\n", o.out,
                   r.plan.arch, r.plan.hf_arch.empty() ? std::string("?") : r.plan.hf_arch, r.n_tensors, 7 * r.plan.n_layer,
                   o.c.linear_type, r.plan.tokenizer.empty() ? std::string("none") : r.plan.tokenizer, double(r.bytes_out) / 1e6, s);
    }
}

}  // namespace

void register_convert(CLI::App& app) {
    auto o = std::make_shared<ConvertOpts>();
    CLI::App* cmd = app.add_subcommand(
        "convert",
        "Convert a Hugging Face BitNet checkpoint (config.json, safetensors, tokenizer) into GGUF, one tensor at a time; "
        "also the BitNet embedding models (model_type qwen3 / gemma3_text, pooling from sentence-transformers' 1_Pooling)");
    cmd->add_option("dir", o->dir, "Checkpoint folder (config.json, model.safetensors or model.safetensors.index.json, "
                                   "tokenizer.json or tokenizer.model)")
        ->required();
    cmd->add_option("-o,--output", o->out, "GGUF file to write (appears only when complete)")->required();
    cmd->add_option("--type", o->c.linear_type,
                    "Format of the ternary linears (qwen3 / gemma3 embedding models: f16 keeps the projections in float, "
                    "for teacher files)")
        ->check(CLI::IsMember({"i2_s", "tq2_0", "tq1_0", "f16"}))
        ->capture_default_str();
    cmd->add_option("--embd-type", o->c.embd_type, "Format of token_embd (and output, if untied)")
        ->check(CLI::IsMember({"f16", "q8_0", "f32"}))
        ->capture_default_str();
    cmd->add_option("--arch", o->c.arch,
                    "GGUF architecture to write (default from config.json: BitNetForCausalLM -> bitnet-b1.58, "
                    "BitnetForCausalLM -> bitnet, LlamaForCausalLM -> llama; model_type qwen3 / gemma3_text -> qwen3 / gemma3)")
        ->check(CLI::IsMember({"bitnet-b1.58", "bitnet-25", "bitnet", "llama"}));
    cmd->add_flag("-q,--quiet", o->quiet, "No progress line, warnings or summary");
    cmd->callback([o] { run_convert(*o); });
}

}  // namespace tern::cli
