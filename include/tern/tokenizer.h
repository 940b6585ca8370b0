// Text <-> token ids for the two vocabulary kinds BitNet models ship with:
//
//   "gpt2"  byte-level BPE (LLaMA-3, Falcon3, GPT-2): text is split by a
//           pre-tokenizer regex, each piece's bytes are spelled with GPT-2's
//           byte->unicode alphabet and merged by merge rank.
//   "llama" SentencePiece (LLaMA-2): spaces become U+2581 "▁", a leading
//           space is added, characters are merged by highest piece score,
//           anything left unknown falls back to <0xNN> byte tokens.
//
// Usage:
//   auto tok = tern::Tokenizer::from_model(model);          // the model's own vocabulary
//   std::vector<int32_t> ids = tok.encode("Hello", /*add_bos=*/true, /*parse_special=*/false);
//   std::string text = tok.decode(ids);                    // "Hello" (BOS renders as nothing)
//   tern::StreamDecoder out(tok);                          // while generating:
//   std::cout << out.push(id);  ...  std::cout << out.flush();
//
// The core knows nothing about GGUF: it is built from a plain TokenizerData,
// which comes from a GGUF file, a Hugging Face tokenizer.json, or a test.
// A Tokenizer is immutable once created; copies share it, and every const
// method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tern/error.h"

namespace tern {

class Model;
namespace gguf {
class File;
}

// GGUF's tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,      // <|begin_of_text|>, <|eot_id|>, <s>: only parsed from text when asked
    UserDefined = 4,  // added pieces: always matched as a whole in input text
    Unused = 5,
    Byte = 6,         // SentencePiece <0xNN>
};

// Everything a tokenizer is built from; mirrors GGUF's tokenizer.ggml.* keys.
struct TokenizerData {
    std::string model;                 // "gpt2" (byte-level BPE) or "llama" (SentencePiece)
    std::string pre;                   // gpt2 pre-tokenizer: "llama-bpe", "gpt-2", ...; "" = by vocab
    std::vector<std::string> tokens;   // id -> text
    std::vector<float> scores;         // llama: merge scores (empty = all 0); gpt2: unused
    std::vector<int32_t> token_types;  // TokenType values; empty = all Normal
    std::vector<std::string> merges;   // gpt2: "left right", by rank (first = merged first)
    std::optional<int32_t> bos_id, eos_id, eot_id, unk_id, pad_id;
    std::optional<bool> add_bos;           // default: llama yes; gpt2 only for LLaMA-3 vocabs
    std::optional<bool> add_eos;           // tokenizer.ggml.add_eos_token; default no (embedding models say yes)
    std::optional<bool> add_space_prefix;  // llama only; default yes
    // Unicode NFC before tokenizing (the text between special tokens), as a
    // tokenizer.json with an NFC normalizer asks; default: only for pre "qwen2".
    std::optional<bool> normalize_nfc;
};

class Tokenizer {
public:
    enum class Kind { BPE, SPM };

    // Validates `data` and builds the lookup tables. Throws tern::Error.
    static Tokenizer create(const TokenizerData& data);
    // The vocabulary a model file carries (tokenizer.ggml.*). Throws
    // tern::Error when the file has none (ModelInfo::has_tokenizer).
    static Tokenizer from_model(const Model& model);

    // add_bos: prepend BOS if the vocabulary wants one (add_bos_token) and has one.
    // parse_special: text of control tokens ("<|eot_id|>") becomes that token;
    // otherwise it is tokenized as plain text. User-defined tokens are always
    // matched (as llama.cpp and Hugging Face do). Invalid UTF-8 is encoded as bytes.
    // With normalizes_nfc(), the text between special tokens is put in NFC first.
    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

    // The bytes a token stands for. Control tokens give "" unless render_special.
    // Throws tern::Error for an id outside [0, n_vocab()).
    std::string token_to_piece(int32_t id, bool render_special = false) const;
    // Concatenated pieces; for SentencePiece the space that encode() adds in
    // front of the text (and after each special token) is removed again.
    std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

    int32_t n_vocab() const;
    std::optional<int32_t> token_id(std::string_view text) const;  // exact token text -> id
    const std::string& token_text(int32_t id) const;               // raw vocabulary text
    TokenType token_type(int32_t id) const;

    int32_t bos() const;  // -1 when the vocabulary has none
    int32_t eos() const;
    int32_t eot() const;
    int32_t unk() const;
    int32_t pad() const;
    bool is_eog(int32_t id) const;  // end of generation: eos, eot and known end-of-turn tokens
    bool adds_bos() const;          // whether encode(..., add_bos=true, ...) prepends BOS
    // Whether the vocabulary wants EOS after the text (add_eos_token, and it has
    // an EOS): embedding models pool the EOS row. encode() never appends it.
    bool adds_eos() const;

    Kind kind() const;
    const std::string& pre() const;  // resolved pre-tokenizer name ("" for SentencePiece)
    bool normalizes_nfc() const;     // encode() puts text in Unicode NFC first

    struct Impl;

private:
    explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
    friend class StreamDecoder;
};

// Turns ids into text as they come, emitting only whole UTF-8 characters: a
// character split across tokens comes out once complete; bytes that cannot
// start or continue a character come out as they are as soon as that is
// clear. With at_text_start, push()... + flush() == tokenizer.decode(ids).
// at_text_start = false is for ids that continue text already shown (the
// reply after a prompt): then a SentencePiece reply keeps its first space.
class StreamDecoder {
public:
    explicit StreamDecoder(Tokenizer tokenizer, bool render_special = false, bool at_text_start = true);
    std::string push(int32_t id);  // throws tern::Error for an id outside the vocabulary
    std::string flush();           // whatever is pending, complete or not; then starts afresh

private:
    Tokenizer tok_;
    bool render_special_;
    bool at_text_start_;
    bool strip_space_;  // SentencePiece: drop the space encode() added before the next text
    std::string pending_;
};

// tokenizer.ggml.* from a GGUF file. Throws tern::Error naming the missing key.
TokenizerData tokenizer_data_from_gguf(const gguf::File& file);
// A Hugging Face tokenizer.json (byte-level BPE). Reads tokenizer_config.json
// next to it, when present, for bos/eos/add_bos_token.
TokenizerData tokenizer_data_from_hf_json(const std::string& tokenizer_json_path);
// A SentencePiece tokenizer.model (protobuf: pieces with text, score and type;
// special ids and add_dummy_prefix from its specs). Reads tokenizer_config.json
// next to it, when present, for bos/eos/unk/pad tokens and add_bos_token.
TokenizerData tokenizer_data_from_spm_model(const std::string& tokenizer_model_path);
// The same from bytes in memory, without the tokenizer_config.json overlay;
// `name` is used in errors. Throws tern::Error for a malformed model.
TokenizerData tokenizer_data_from_spm_bytes(const uint8_t* data, size_t size, const std::string& name);

}  // namespace tern
