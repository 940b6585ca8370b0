// A loaded model's weights: ternary linears repacked for the active kernel
// table, norms as f32, the full-precision embedding left in the mapping
// (the output matrix is copied to huge pages when large, see load.cpp).
#pragma once

#include <string>
#include <vector>

#include "tern/gguf.h"
#include "kernels/kernels.h"
#include "model/hparams.h"
#include "tern/model.h"

namespace tern {

// A full-precision matrix [rows, cols] read in place from the file (F32, F16,
// BF16, Q8_0, Q6_K), rows `row_bytes` apart.
struct FloatMatrix {
    GgmlType type = GgmlType::F32;
    const uint8_t* data = nullptr;
    int64_t rows = 0, cols = 0, row_bytes = 0;
    std::string name;
};

// One projection: ternary (repacked), or a float matrix read in place (the
// embedding architectures' teacher files, HParams::float_linears).
struct Linear {
    kernels::PackedTernary w;  // [out, in] in the kernel family's layout (ternary)
    FloatMatrix f;             // [out, in] float projection when f.data is set
    // The RMSNorm gain in front of this projection (SPEC §2's sub-norms are
    // attn_output's and ffn_down's; qwen3/gemma3 may have one before every
    // projection, *_norm_in). Empty: the input goes in as it is.
    std::vector<float> norm_in;
    std::string name;
    bool is_float() const { return f.data != nullptr; }
    int64_t rows() const { return is_float() ? f.rows : w.rows; }
};

struct Layer {
    std::vector<float> attn_norm;       // [H]
    Linear q, k, v;                     // [nh·D, H], [kv, H], [kv, H]
    std::vector<float> q_norm, k_norm;  // [D] per-head RMSNorm gains (qwen3, gemma3; else empty)
    Linear o;                           // [H, nh·D]
    std::vector<float> post_attn_norm;  // [H] gemma3 (else empty)
    std::vector<float> ffn_norm;        // [H]
    Linear gate, up;                    // [I, H]
    Linear down;                        // [H, I]
    std::vector<float> post_ffn_norm;   // [H] gemma3 (else empty)
};

struct ModelWeights {
    ModelInfo info;
    gguf::File file;
    HParams hp;
    const kernels::KernelTable* table = nullptr;
    kernels::TernaryFamily family = kernels::TernaryFamily::i2s;
    uint32_t linear_type = 0;  // GGML type of the first linear in the file
    FloatMatrix tok_embd;      // [V, H]
    FloatMatrix output;        // [V, H]: output.weight, or token_embd when tied (none: hp.output_head false)
    AlignedBuffer output_copy; // the output matrix's bytes when copied out of the mapping (load.cpp)
    std::vector<float> output_norm;
    std::vector<Layer> layers;
    int64_t n_params = 0;
};

// The library's way from a public Model handle to its weights.
struct ModelAccess {
    static const ModelWeights& weights(const Model& m) { return *m.w_; }
    static std::shared_ptr<const ModelWeights> shared(const Model& m) { return m.w_; }
    static Model wrap(std::shared_ptr<const ModelWeights> w) { return Model(std::move(w)); }
};
inline const HParams& hparams_of(const Model& m) { return ModelAccess::weights(m).hp; }

// Sessions compute logits: an embedding model (no output head) goes through tern::Embedder instead.
inline void require_output_head(const Model& m) {
    if (!hparams_of(m).output_head)
        throw Error(m.info().path + ": '" + m.info().architecture +
                    "' model without output.weight is an embedding model: it has no logits (use tern embed / "
                    "tern::Embedder)");
}

}  // namespace tern
