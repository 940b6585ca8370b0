// Internal state of a Tokenizer, shared by tokenizer.cpp, bpe.cpp and spm.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/tokenizer.h"

namespace tern {

namespace detail {

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// A compiled PCRE2 pre-tokenizer pattern (UTF + UCP, JIT when available).
class Regex {
public:
    explicit Regex(const std::string& pattern);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    // Calls piece(begin, end) for consecutive pieces covering all of `text`,
    // which must be valid UTF-8: the regex matches, and whatever lies between
    // them (a pattern need not cover every character).
    void split(std::string_view text, const std::function<void(size_t, size_t)>& piece) const;

private:
    void* code_ = nullptr;  // pcre2_code_8*
    bool jit_ = false;
};

}  // namespace detail

struct Tokenizer::Impl {
    Kind kind = Kind::BPE;
    std::string pre;
    std::vector<std::string> text;
    std::vector<float> score;
    std::vector<TokenType> type;
    detail::StringMap<int32_t> index;  // every token's text -> id (first id wins)

    int32_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;  // SPM
    bool nfc = false;               // Unicode NFC of each fragment before it is encoded
    std::vector<int32_t> eog;

    // Special tokens matched in input text, by first byte, longest first.
    std::array<std::vector<int32_t>, 256> special_by_byte;
    std::array<bool, 256> special_first{};

    // Byte-level BPE.
    std::unique_ptr<detail::Regex> regex;
    bool ignore_merges = false;  // LLaMA-3: a piece that is a token is not merged
    std::array<int32_t, 256> byte_token{};  // byte -> token of its GPT-2 character
    struct Merge {
        int32_t rank;
        int32_t result;
    };
    std::unordered_map<uint64_t, Merge> merges;  // (left id << 32 | right id)

    // SentencePiece.
    detail::StringMap<int32_t> spm_pieces;  // pieces the merge may produce
    std::array<int32_t, 256> byte_fallback{};  // byte -> <0xNN> token (or -1)

    bool valid(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < text.size(); }
    void encode_bpe(std::string_view fragment, std::vector<int32_t>& out) const;
    void encode_spm(std::string_view fragment, bool prefix_space, std::vector<int32_t>& out) const;
    void bpe_piece(std::string_view piece, std::vector<int32_t>& out, std::string& scratch) const;
};

// Built by bpe.cpp from TokenizerData (pre resolved, regex compiled, merges indexed).
void init_bpe(Tokenizer::Impl& impl, const TokenizerData& data);
void init_spm(Tokenizer::Impl& impl, const TokenizerData& data);

}  // namespace tern
