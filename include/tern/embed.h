// Embeddings: one vector per text, from an embedding model (Microsoft's
// BitNet-embedding files, GGUF architectures qwen3 and gemma3; SPEC §8) or the
// hidden states of any other model.
//
//   tern::Model model = tern::Model::load("bitnet-embedding-0.6b.gguf");
//   tern::Tokenizer tok = tern::Tokenizer::from_model(model);
//   tern::Embedder emb(model);                     // pooling from the file, euclidean normalisation
//   std::vector<std::vector<int32_t>> inputs = {embedding_tokens(tok, "hello"),
//                                               embedding_tokens(tok, "bonjour")};
//   std::vector<std::vector<float>> e = emb.embed(inputs);   // 2 x n_embd
//   float sim = tern::cosine_similarity(e[0], e[1]);
//
// All inputs of one embed() call go through the model in as few forward
// passes as fit n_batch tokens: inputs are packed whole into a pass, each with
// its own positions and causal mask, and none sees another. An input's
// embedding does not depend on what it was packed with.
//
// Thread safety: an Embedder is used by one thread at a time; several
// Embedders may share one Model.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "tern/model.h"
#include "tern/tokenizer.h"

namespace tern {

struct EmbedOptions {
    std::optional<Pooling> pooling;  // unset: the file's {arch}.pooling_type, else last
    // llama-embedding's --embd-normalize: -1 none, 0 max-abs scaled to the
    // int16 range, 1 taxicab, 2 euclidean, > 2 p-norm.
    int normalize = 2;
    int64_t n_ctx = 0;      // the longest input, in tokens; 0 = the model's training context
    int64_t n_batch = 512;  // tokens per forward pass
    int n_threads = 0;      // 0 = all hardware threads
    bool kv_f16 = false;    // the inputs' KV cache in fp16 (half the memory; values move slightly)
};

class Embedder {
public:
    explicit Embedder(Model model, const EmbedOptions& opts = {});
    ~Embedder();
    Embedder(const Embedder&) = delete;
    Embedder& operator=(const Embedder&) = delete;

    // One result per input, normalised: n_embd floats, or with Pooling::none
    // one row of n_embd per token (tokens × n_embd). Throws tern::Error,
    // computing nothing, for an empty input, an input longer than n_ctx()
    // (the message names the limit) or a token id outside the vocabulary.
    std::vector<std::vector<float>> embed(std::span<const std::vector<int32_t>> inputs);

    int64_t n_embd() const;
    int64_t n_ctx() const { return n_ctx_; }
    Pooling pooling() const { return pooling_; }
    int normalize() const { return normalize_; }
    const Model& model() const { return model_; }

private:
    struct State;
    Model model_;
    Pooling pooling_ = Pooling::last;
    int normalize_ = 2;
    int64_t n_ctx_ = 0;
    std::unique_ptr<State> st_;
};

// The ids of a text as an embedding model reads it (`tern embed`, the
// server's /v1/embeddings and the C API all use this): BOS when the
// vocabulary wants one, special-token text read as the token (as Hugging Face
// and llama-embedding do), then the EOS when the vocabulary appends one, since
// last-token pooling reads that row. Empty only for an empty text without BOS/EOS.
std::vector<int32_t> embedding_tokens(const Tokenizer& tok, std::string_view text);

// out = in / norm(in) as llama-embedding's --embd-normalize `norm` computes
// it (see EmbedOptions::normalize); a zero vector stays zero. out may alias in.
void normalize_embedding(const float* in, float* out, int64_t n, int norm);

// Cosine similarity as llama.cpp computes it (sums in double; two zero
// vectors: 1, one zero vector: 0). a and b must have the same length.
float cosine_similarity(std::span<const float> a, std::span<const float> b);

}  // namespace tern
