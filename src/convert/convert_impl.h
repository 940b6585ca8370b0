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

// config.json + the checkpoint's tensor names -> architecture, hyper-parameters,
// naming (plan.cpp). Checks the configuration; tensors are checked later.
ModelPlan make_plan(const std::string& dir, const nlohmann::json& config, const Checkpoint& ck, const Options& opts);

// The tokenizer of `dir` into `w`'s tokenizer.* keys (vocab.cpp). `n_vocab` is
// the embedding's row count: a tokenizer with more tokens is an error, one
// with fewer is padded as llama.cpp does. Returns the file used ("" = none)
// and sets *n_tokens.
std::string write_tokenizer(const std::string& dir, const nlohmann::json& config, int64_t n_vocab, gguf::Writer& w,
                            const Options& opts, int64_t* n_tokens);

}  // namespace tern::convert
