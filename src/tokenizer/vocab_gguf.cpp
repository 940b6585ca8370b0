// TokenizerData from a GGUF file's tokenizer.ggml.* keys.
#include <limits>

#include "tern/gguf.h"
#include "tern/model.h"
#include "tern/tokenizer.h"

namespace tern {

namespace {

// A token id key; ids that cannot be token ids (some converters write
// 0xFFFFFFFF or -1 for "none") read as absent.
std::optional<int32_t> token_id_key(const gguf::File& f, std::string_view key) {
    const gguf::Value* v = f.find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer())
        throw Error(f.path() + ": key '" + std::string(key) + "' is " + gguf::value_type_name(v->type) +
                    ", expected an integer token id");
    const bool is_unsigned = v->type == gguf::ValueType::UINT8 || v->type == gguf::ValueType::UINT16 ||
                             v->type == gguf::ValueType::UINT32 || v->type == gguf::ValueType::UINT64;
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
    if (is_unsigned) {
        if (v->u >= kMax) return std::nullopt;
        return static_cast<int32_t>(v->u);
    }
    if (v->i < 0 || static_cast<uint64_t>(v->i) >= kMax) return std::nullopt;
    return static_cast<int32_t>(v->i);
}

}  // namespace

TokenizerData tokenizer_data_from_gguf(const gguf::File& f) {
    TokenizerData d;
    if (!f.has("tokenizer.ggml.model"))
        throw Error(f.path() + ": no tokenizer in this file (key 'tokenizer.ggml.model' is missing); "
                               "convert the model again with its tokenizer");
    d.model = f.get<std::string>("tokenizer.ggml.model");
    d.pre = f.get_optional<std::string>("tokenizer.ggml.pre").value_or("");
    d.tokens = f.get<std::vector<std::string>>("tokenizer.ggml.tokens");
    d.scores = f.get_optional<std::vector<float>>("tokenizer.ggml.scores").value_or(std::vector<float>{});
    d.token_types = f.get_optional<std::vector<int32_t>>("tokenizer.ggml.token_type").value_or(std::vector<int32_t>{});
    if (d.model == "gpt2") d.merges = f.get<std::vector<std::string>>("tokenizer.ggml.merges");
    d.bos_id = token_id_key(f, "tokenizer.ggml.bos_token_id");
    d.eos_id = token_id_key(f, "tokenizer.ggml.eos_token_id");
    d.eot_id = token_id_key(f, "tokenizer.ggml.eot_token_id");
    d.unk_id = token_id_key(f, "tokenizer.ggml.unknown_token_id");
    d.pad_id = token_id_key(f, "tokenizer.ggml.padding_token_id");
    d.add_bos = f.get_optional<bool>("tokenizer.ggml.add_bos_token");
    d.add_eos = f.get_optional<bool>("tokenizer.ggml.add_eos_token");
    d.add_space_prefix = f.get_optional<bool>("tokenizer.ggml.add_space_prefix");
    return d;
}

Tokenizer Tokenizer::from_model(const Model& model) {
    if (!model.info().has_tokenizer)
        throw Error(model.info().path + " has no tokenizer (no tokenizer.ggml.tokens): give token ids instead of text");
    return create(tokenizer_data_from_gguf(model.file()));
}

}  // namespace tern
