// A loaded model: weights mapped from a GGUF file and repacked once for the
// kernel table chosen on this CPU.
//
//   tern::Model model = tern::Model::load("model.gguf");
//   std::printf("%s, %lld tokens\n", model.info().architecture.c_str(), (long long)model.info().n_vocab);
//   tern::Session s(model);            // see tern/session.h
//
// Model is a cheap shared handle: copies share the weights, and every Session
// (and Tokenizer) opened on it keeps them alive, so the caller may move or
// destroy its Model while sessions still run.
//
// Thread safety: a loaded Model is immutable; any number of threads may use it
// (and its copies) at once, each through its own Session.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tern/error.h"

namespace tern {

struct ModelWeights;
namespace gguf {
class File;
}

// The feed-forward activation (SPEC §1): ReLU²(gate)·up for 2B4T, SiLU(gate)·up for most others,
// GELU-tanh(gate)·up for gemma3.
enum class FfnAct { relu2, silu, gelu };
const char* ffn_act_name(FfnAct a);                         // "relu2" | "silu" | "gelu"
std::optional<FfnAct> parse_ffn_act(const std::string& s);  // inverse of ffn_act_name

// How an embedding model pools its output rows into one vector per input
// (GGUF `{arch}.pooling_type` 0..3, llama.cpp's --pooling names).
enum class Pooling { none, mean, cls, last };
const char* pooling_name(Pooling p);                          // "none" | "mean" | "cls" | "last"
std::optional<Pooling> parse_pooling(const std::string& s);  // inverse of pooling_name

// The layout the ternary matrices are repacked into (see `tern bench --kernel all`).
enum class KernelFamily { i2s, tl1, tl2 };
const char* kernel_family_name(KernelFamily f);                    // "i2s" | "tl1" | "tl2"
std::optional<KernelFamily> parse_kernel_family(const std::string& s);  // inverse of kernel_family_name

struct LoadOptions {
    std::optional<FfnAct> ffn_act;  // settles the `bitnet` architecture's ambiguity (SPEC §1)
    std::optional<KernelFamily> kernel;  // unset: the fastest family for the table
    std::string table;              // kernel table by name ("ref", "avx2", ...); "" = TERN_ISA or the best
    int n_threads = 0;              // threads used to repack at load (0 = all)
    // The output matrix requantized at load into "f32", "f16", "q8_0",
    // "q4_k", "q5_k" or "q6_k" (speed without re-converting; the logits change a little);
    // "" = the file's own type.
    std::string output_type;
};

// What a loaded model is, as `tern info` shows it.
struct ModelInfo {
    std::string path;           // the file it was loaded from
    std::string name;           // general.name, or the architecture when the file has none
    std::string architecture;   // general.architecture: bitnet-b1.58, bitnet-25, bitnet, llama, qwen3, gemma3
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;    // the context the model was trained for (the default n_ctx)
    int64_t n_embd = 0;
    int64_t n_ff = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;
    FfnAct ffn_act = FfnAct::relu2;
    std::string ffn_act_reason;  // why that activation (the file said, or the vocabulary decided)
    std::string weight_type;     // the linears' GGUF type: I2_S, TQ1_0, TQ2_0, F16, ...
    std::string output_type;     // the output matrix's type in memory (LoadOptions::output_type); "" without one
    std::string kernel_table;    // "avx512vnni", "avx2", "neon_dotprod", "ref", ...
    KernelFamily kernel_family = KernelFamily::i2s;
    int64_t n_params = 0;        // elements of every tensor in the file
    uint64_t file_size = 0;      // bytes
    // What one token costs as loaded (the measure of tern bench --probes):
    // the weight bytes a generated token reads (every projection as packed
    // for the kernels, the output matrix in its loaded type, the norms; not
    // the embedding table, of which it reads one row, nor the KV cache), and
    // the multiply-adds of its ternary projections (a prompt's int8 work).
    uint64_t bytes_per_token = 0;
    int64_t ternary_macs_per_token = 0;
    bool has_tokenizer = false;  // the file carries a vocabulary (tokenizer.ggml.tokens)
    // false for an embedding model (qwen3/gemma3 without output.weight): it
    // has no logits, only embeddings (tern/embed.h); Session refuses it.
    bool has_output_head = true;
    std::optional<Pooling> pooling;  // the file's {arch}.pooling_type, if any
    uint64_t fingerprint = 0;    // identifies the file's contents (session files name it)
};

class Model {
public:
    // Maps the file, reads the hyper-parameters, checks every tensor's name,
    // shape and type, and repacks the ternary weights for the active kernel
    // table. Throws tern::Error naming the file and what is wrong.
    static Model load(const std::string& path, const LoadOptions& opts = {});

    const ModelInfo& info() const;
    // The GGUF file's metadata and tensor table (tern/gguf.h), e.g.
    // model.file().get_optional<std::string>("tokenizer.chat_template").
    const gguf::File& file() const;

private:
    friend struct ModelAccess;  // the library's own way in (src/model/weights.h)
    explicit Model(std::shared_ptr<const ModelWeights> w) : w_(std::move(w)) {}
    std::shared_ptr<const ModelWeights> w_;
};

}  // namespace tern
