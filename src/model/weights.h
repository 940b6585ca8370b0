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

struct Linear {
    kernels::PackedTernary w;  // [out, in] in the kernel family's layout
    std::string name;
};

struct Layer {
    std::vector<float> attn_norm;      // [H]
    Linear q, k, v;                    // [H, H], [kv, H], [kv, H]
    std::vector<float> attn_sub_norm;  // [H] (empty without sub-norms)
    Linear o;                          // [H, H]
    std::vector<float> ffn_norm;       // [H]
    Linear gate, up;                   // [I, H]
    std::vector<float> ffn_sub_norm;   // [I] (empty without sub-norms)
    Linear down;                       // [H, I]
};

struct ModelWeights {
    ModelInfo info;
    gguf::File file;
    HParams hp;
    const kernels::KernelTable* table = nullptr;
    kernels::TernaryFamily family = kernels::TernaryFamily::i2s;
    uint32_t linear_type = 0;  // GGML type of the first linear in the file
    FloatMatrix tok_embd;      // [V, H]
    FloatMatrix output;        // [V, H]: output.weight, or token_embd when tied
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

}  // namespace tern
