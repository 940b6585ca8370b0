// Architecture and hyper-parameters of a model, read from GGUF metadata and
// checked for consistency before any weight is touched (SPEC §1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tern/model.h"

namespace tern {
namespace gguf {
class File;
}

enum class RopeStyle { neox, norm };  // pairs (i, i + D/2) vs (2i, 2i + 1)

struct HParams {
    std::string arch;        // general.architecture as in the file
    int64_t n_vocab = 0;     // V
    int64_t n_embd = 0;      // H
    int64_t n_ff = 0;        // I
    int64_t n_layer = 0;     // L
    int64_t n_head = 0;      // nh
    int64_t n_head_kv = 0;   // nkv
    int64_t head_dim = 0;    // D: H / nh, or {arch}.attention.key_length (qwen3, gemma3)
    int64_t rope_dim = 0;    // rotated dimensions per head (= D for every supported model)
    int64_t n_ctx_train = 0;
    float rms_eps = 1e-5f;
    float rope_theta = 10000.0f;
    FfnAct ffn_act = FfnAct::relu2;
    std::string ffn_act_reason;  // why this activation was chosen (shown by `tern info`)
    RopeStyle rope = RopeStyle::neox;
    bool sub_norms = true;   // attn_sub_norm / ffn_sub_norm required (the bitnet archs)

    // The embedding architectures (qwen3, gemma3; SPEC §8). All off for the others.
    bool norm_in = false;        // optional blk.N.*_norm_in.weight in front of every projection
    bool qk_norm = false;        // per-head RMSNorm of q and k before RoPE
    bool post_norms = false;     // gemma3: post_attention_norm / post_ffw_norm before each residual add
    bool float_linears = false;  // F32/F16/BF16 projections stay float (teacher files), not ternarized
    float embd_scale = 0.0f;     // x = E[token] * embd_scale when > 0 (gemma3: sqrt(H))
    int64_t swa_window = 0;      // sliding-window size of local layers (0: none)
    std::vector<bool> swa_layers;  // [L] true: local layer (window, rope_theta_swa)
    float rope_theta_swa = 10000.0f;
    std::optional<Pooling> pooling;  // {arch}.pooling_type
    bool output_head = true;         // false: qwen3 / gemma3 without output.weight, an embedding model

    int64_t q_dim() const { return n_head * head_dim; }
    bool local_layer(int64_t l) const { return swa_window > 0 && swa_layers[size_t(l)]; }
    int64_t kv_dim() const { return n_head_kv * head_dim; }
    int64_t gqa_group() const { return n_head / n_head_kv; }
};

struct ModelOverrides {
    std::optional<FfnAct> ffn_act;  // settles the `bitnet` ambiguity (SPEC §1)
};

// Throws tern::Error naming the key or the inconsistency.
HParams read_hparams(const gguf::File& f, const ModelOverrides& o = {});

}  // namespace tern
