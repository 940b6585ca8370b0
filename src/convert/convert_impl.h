// Internals of the converter shared by its .cpp files (not a public API).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tern/convert.h"
#include "convert/safetensors.h"
#include "runtime/json_file.h"

namespace tern::gguf {
class Writer;
}

namespace tern::convert {

// config.json's keys, read with errors that name the file and the key.
struct Cfg {
    const nlohmann::json& j;
    std::string path;

    bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }
    int64_t integer(const char* key, int64_t lo, int64_t hi) const;  // required
    int64_t integer_or(const char* key, int64_t dflt, int64_t lo, int64_t hi) const;
    double number_or(const char* key, double dflt) const;  // positive and finite
    std::string string_or(const char* key, const std::string& dflt) const;
    bool boolean_or(const char* key, bool dflt) const;

private:
    int64_t integer_value(const char* key, int64_t lo, int64_t hi) const;
};

// config.json + the checkpoint's tensor names -> architecture, hyper-parameters,
// naming (plan.cpp). Checks the configuration; tensors are checked later.
ModelPlan make_plan(const std::string& dir, const nlohmann::json& config, const Checkpoint& ck, const Options& opts);

// hidden_size, intermediate_size, num_hidden_layers, num_attention_heads
// (required), num_key_value_heads (default: the heads), checked.
void read_sizes(const Cfg& c, ModelPlan& p);

// rope_scaling absent, null or the identity; anything else is refused.
void check_rope_scaling(const Cfg& c);

// The Hugging Face model types of the embedding models (SPEC §8) and their
// planning (plan_embed.cpp): `config.json`'s model_type, or the class in
// "architectures" when it has none; "" when neither is one of them.
std::string embedding_model_type(const nlohmann::json& config, const std::string& hf_arch);
ModelPlan make_embedding_plan(const std::string& dir, const Cfg& c, const std::string& model_type, const Checkpoint& ck,
                              const Options& opts, ModelPlan p);

// The tokenizer of `dir` into `w`'s tokenizer.* keys (vocab.cpp). `n_vocab` is
// the embedding's row count: a tokenizer with more tokens is an error, one
// with fewer is padded as llama.cpp does. Returns the file used ("" = none)
// and sets *n_tokens.
std::string write_tokenizer(const std::string& dir, const nlohmann::json& config, int64_t n_vocab, gguf::Writer& w,
                            const Options& opts, int64_t* n_tokens);

}  // namespace tern::convert
