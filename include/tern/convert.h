// Hugging Face checkpoint folder -> GGUF, one tensor at a time (`tern convert`).
//
//   tern::convert::Options o;            // I2_S linears, F16 embeddings
//   tern::convert::convert_checkpoint("bitnet-b1.58-2B-4T-bf16", "model.gguf", o);
//
// Reads config.json (architecture and hyper-parameters), the safetensors
// weights (bf16/f16/f32 master weights, or the packed uint8 2B4T form with
// weight_scale), and the tokenizer (tokenizer.json or a SentencePiece
// tokenizer.model, plus tokenizer_config.json). The BitNet embedding models
// (model_type qwen3 / gemma3_text) become GGUF `qwen3` / `gemma3` files
// without an output head (SPEC §8), their pooling read from
// sentence-transformers' modules.json / 1_Pooling. Writes SPEC §1's keys and
// tensor names; linears are ternarized (SPEC §3) and stored in the chosen
// format (SPEC §5). The input is memory-mapped and each tensor's pages are
// released once converted, so memory stays at about one tensor. The output
// file appears only when complete; on any error nothing is written and a
// tern::Error names the file, key or tensor at fault.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tern/error.h"

namespace tern::convert {

struct Options {
    std::string linear_type = "i2_s";  // i2_s | tq2_0 | tq1_0 | f16
    std::string embd_type = "f16";     // f16 | q8_0 | f32: token_embd and output
    std::string arch;                  // "" = from config.json; else bitnet-b1.58 | bitnet-25 | bitnet | llama
                                       // (qwen3 / gemma3 come from config.json's model_type only)
    // Called after each tensor is written: tensors done, tensor count, input
    // bytes read so far, total input bytes, name of the tensor just written.
    std::function<void(size_t, size_t, uint64_t, uint64_t, const std::string&)> on_progress;
    // Warnings (no tokenizer found, ...). Default: ignored.
    std::function<void(const std::string&)> on_warning;
};

// What the configuration says, resolved (see plan()).
struct ModelPlan {
    std::string hf_arch;  // config.json "architectures"[0]
    std::string arch;     // GGUF general.architecture
    std::string ffn_act;  // relu2 | silu
    int64_t n_vocab = 0, n_embd = 0, n_ff = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ctx = 0;
    float rms_eps = 1e-6f, rope_theta = 10000.0f;
    bool sub_norms = true;
    bool permute_qk = false;              // llama arch: NORM RoPE on the file = NEOX on the checkpoint
    std::string sub_norm_attn, sub_norm_ffn;  // HF names of the sub-norms ("" if none)
    std::optional<std::string> linear_class;  // quantization_config.linear_class (packed weights)
    bool untied_output = false;           // lm_head.weight is written as output.weight
    std::string tokenizer;                // "tokenizer.json", "tokenizer.model" or "" (none)

    // Embedding models (arch qwen3 / gemma3, SPEC §8).
    std::string prefix = "model.";        // of the HF tensor names: "" in a bare Qwen3Model / Gemma3TextModel
    bool norm_in = false;                 // BitLinear norms (*.q_proj.norm.weight, ...) -> blk.N.*_norm_in
    bool norm_plus_one = false;           // gemma3: HF stores w of RMSNorm's (1 + w); GGUF stores 1 + w
    int64_t swa_window = 0;               // gemma3 sliding window (0: none)
    int64_t swa_pattern = 0;              // every swa_pattern-th layer is global, or:
    std::vector<bool> swa_layers;         // per layer, true = local (from config.json's layer_types)
    float rope_theta_swa = 10000.0f;      // θ of the local layers (rope_local_base_freq)
    int pooling = -1;                     // {arch}.pooling_type (0 none, 1 mean, 2 cls, 3 last); -1: not given
};

struct Result {
    ModelPlan plan;
    size_t n_tensors = 0;
    uint64_t bytes_in = 0;   // weight bytes read
    uint64_t bytes_out = 0;  // size of the GGUF written
    int64_t n_vocab_tokens = 0;
};

// Converts `dir` into `out`. Throws tern::Error; on error `out` is untouched.
Result convert_checkpoint(const std::string& dir, const std::string& out, const Options& opts = {});

}  // namespace tern::convert
