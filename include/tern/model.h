// The public C++ API: load a model, open a session, evaluate tokens, read logits.
//
//   tern::Model model = tern::Model::load("model.gguf", {});
//   tern::Session s(model, {.n_ctx = 2048, .n_threads = 4});
//   s.eval(tokens);                       // prefill (batched)
//   const float* logits = s.logits(-1);   // [n_vocab] for the last token
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tern/error.h"

namespace tern {

struct HParams;
struct ModelWeights;
class ThreadPool;
namespace gguf {
class File;
}
namespace kernels {
struct KernelTable;
}

struct LoadOptions {
    std::optional<std::string> ffn_act;  // "relu2" | "silu": settles the `bitnet` arch ambiguity
    std::string kernel = "auto";         // ternary kernel family: "i2s", "tl1", "tl2", "auto"
    std::string table;                   // kernel table by name ("ref", "avx2", ...); "" = TERN_ISA or the best
    int n_threads = 0;                   // threads used to repack at load (0 = all)
};

class Model {
public:
    // Maps the file, reads the hyper-parameters, checks every tensor's name,
    // shape and type, and repacks the ternary weights for the active kernel
    // table. Throws tern::Error naming the file and what is wrong.
    static Model load(const std::string& path, const LoadOptions& opts = {});

    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    const HParams& hparams() const;
    const gguf::File& file() const;
    const kernels::KernelTable& table() const;
    std::string kernel_family() const;  // "i2s", "tl1" or "tl2"
    std::string weight_type() const;    // the linears' file type, e.g. "I2_S"
    int64_t n_params() const;
    const ModelWeights& weights() const { return *w_; }

private:
    Model();
    std::unique_ptr<ModelWeights> w_;
};

struct SessionOptions {
    int64_t n_ctx = 0;      // 0 = the model's training context
    int64_t n_batch = 512;  // tokens per prefill step
    int n_threads = 0;      // 0 = all hardware threads
    bool kv_f16 = false;    // store the KV cache as fp16 (half the memory)
};

// One sequence: KV cache, activations, logits.
class Session {
public:
    Session(const Model& model, const SessionOptions& opts = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Appends `tokens` at positions n_past() ... and runs them through the
    // model in batches of n_batch. Logits are kept for every evaluated token
    // when `all_logits`, else only for the last one. Throws if the context
    // would overflow or a token id is out of range.
    void eval(std::span<const int32_t> tokens, bool all_logits = false);

    // Logits of evaluated token i of the last eval() call (i < 0 counts from
    // the end; with all_logits = false only -1 is valid). [n_vocab] floats.
    const float* logits(int64_t i = -1) const;
    int64_t n_logits() const;

    int64_t n_past() const { return n_past_; }
    int64_t n_ctx() const { return n_ctx_; }
    // Forgets positions >= n (n <= n_past): the next eval continues from n.
    void truncate(int64_t n);
    void reset() { truncate(0); }

    ThreadPool& pool();

private:
    struct State;
    void forward(const int32_t* tokens, int64_t n, bool want_logits, float* logits_out);
    void store_kv(int64_t layer, int64_t token);
    void attention(int64_t layer, int64_t n);
    int64_t k_ctx() const;  // n_ctx rounded up to whole key blocks of the K cache

    const Model& model_;
    int64_t n_ctx_ = 0;
    int64_t n_batch_ = 0;
    int64_t n_past_ = 0;
    std::unique_ptr<State> st_;
    std::vector<float> logits_;  // [n_logits, n_vocab]
    int64_t n_logits_ = 0;
};

}  // namespace tern
