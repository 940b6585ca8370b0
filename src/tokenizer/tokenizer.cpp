// Tokenizer construction, special tokens, encode dispatch, decoding.
#include <algorithm>
#include <cstdio>
#include <limits>

#include <fmt/format.h>

#include "tokenizer/nfc.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace tern {

namespace {

// Text of tokens that end a turn in the vocabularies tern meets.
constexpr const char* kEndOfTurnTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"};
constexpr const char* kEndOfGenerationTexts[] = {"<|eot_id|>",    "<|end_of_text|>", "<|endoftext|>", "<|im_end|>",
                                                 "<|eom_id|>",    "<end_of_turn>",   "<|end|>"};

// Tokens matched as a whole in input text (control only when asked to).
bool is_special(TokenType t) { return t == TokenType::Control || t == TokenType::UserDefined; }

int32_t lookup(const Tokenizer::Impl& impl, std::string_view text) {
    auto it = impl.index.find(text);
    return it == impl.index.end() ? -1 : it->second;
}

int32_t resolve_id(const Tokenizer::Impl& impl, const std::optional<int32_t>& given, const char* key,
                   std::initializer_list<const char*> fallback_texts) {
    if (given) {
        if (!impl.valid(*given))
            throw Error(fmt::format("tokenizer: {} = {} is outside the vocabulary of {} tokens", key, *given,
                                    impl.text.size()));
        return *given;
    }
    for (const char* t : fallback_texts) {
        const int32_t id = lookup(impl, t);
        if (id >= 0) return id;
    }
    return -1;
}

// SentencePiece: encode() puts a space in front of the text and after every
// special token; decode() takes it away again at the same places.
bool strips_space(const Tokenizer::Impl& impl) { return impl.kind == Tokenizer::Kind::SPM && impl.add_space_prefix; }

void append_piece(const Tokenizer::Impl& impl, int32_t id, bool render_special, bool& strip, std::string& out) {
    const size_t before = out.size();
    const TokenType t = impl.type[id];
    // The piece, written straight into `out`.
    const std::string& text = impl.text[id];
    switch (t) {
        case TokenType::Control:
            if (render_special) out += text;
            break;
        case TokenType::Unknown:
            out += render_special ? std::string_view(text) : std::string_view("\xE2\x96\x85");  // U+2585
            break;
        case TokenType::Byte: {
            unsigned v = 0;
            if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>' &&
                std::sscanf(text.c_str() + 3, "%2x", &v) == 1) {
                out += static_cast<char>(v);
            } else {
                out += text;
            }
            break;
        }
        default:
            if (impl.kind == Tokenizer::Kind::SPM) {
                for (size_t i = 0; i < text.size();) {
                    if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
                        out += ' ';
                        i += 3;
                    } else {
                        out += text[i++];
                    }
                }
            } else if (t == TokenType::UserDefined) {
                out += text;
            } else {
                // GPT-2 alphabet back to bytes; characters outside it are kept.
                for (size_t i = 0; i < text.size();) {
                    const size_t len = utf8::valid_char_len(text, i);
                    if (len == 0) {
                        out += text[i++];
                        continue;
                    }
                    const int b = utf8::byte_of_codepoint(utf8::decode_at(text, i, len));
                    if (b >= 0) out += static_cast<char>(b);
                    else out.append(text, i, len);
                    i += len;
                }
            }
            break;
    }
    if (!strips_space(impl)) return;
    if (is_special(t)) {
        strip = true;
    } else {
        if (strip && out.size() > before && out[before] == ' ') out.erase(before, 1);
        strip = false;
    }
}

}  // namespace

Tokenizer Tokenizer::create(const TokenizerData& data) {
    auto impl = std::make_shared<Impl>();
    if (data.model == "gpt2") {
        impl->kind = Kind::BPE;
    } else if (data.model == "llama") {
        impl->kind = Kind::SPM;
    } else {
        throw Error(fmt::format("tokenizer: unsupported tokenizer model '{}' (tokenizer.ggml.model); tern reads "
                                "'gpt2' (byte-level BPE) and 'llama' (SentencePiece)",
                                data.model));
    }
    const size_t n = data.tokens.size();
    if (n == 0) throw Error("tokenizer: the vocabulary is empty (tokenizer.ggml.tokens)");
    if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw Error("tokenizer: the vocabulary has more than 2^31 tokens");
    if (!data.scores.empty() && data.scores.size() != n)
        throw Error(fmt::format("tokenizer: {} scores for {} tokens (tokenizer.ggml.scores)", data.scores.size(), n));
    if (!data.token_types.empty() && data.token_types.size() != n)
        throw Error(fmt::format("tokenizer: {} token types for {} tokens (tokenizer.ggml.token_type)",
                                data.token_types.size(), n));

    impl->text = data.tokens;
    impl->score = data.scores.empty() ? std::vector<float>(n, 0.0f) : data.scores;
    impl->type.resize(n, TokenType::Normal);
    for (size_t i = 0; i < data.token_types.size(); ++i) {
        const int32_t t = data.token_types[i];
        if (t < 0 || t > 6)
            throw Error(fmt::format("tokenizer: token {} has type {}, not one of 0..6 (tokenizer.ggml.token_type)", i, t));
        impl->type[i] = static_cast<TokenType>(t);
    }
    impl->index.reserve(n);
    for (size_t i = 0; i < n; ++i) impl->index.try_emplace(impl->text[i], static_cast<int32_t>(i));

    if (impl->kind == Kind::BPE) init_bpe(*impl, data);
    else init_spm(*impl, data);
    // A GGUF has no normalizer key: Qwen2/Qwen3 files say "qwen2", and Hugging
    // Face normalises their text (llama.cpp does not; tern follows Hugging Face).
    impl->nfc = data.normalize_nfc.value_or(impl->pre == "qwen2");

    const bool spm = impl->kind == Kind::SPM;
    impl->bos = resolve_id(*impl, data.bos_id, "tokenizer.ggml.bos_token_id",
                           spm ? std::initializer_list<const char*>{"<s>"} : std::initializer_list<const char*>{"<|begin_of_text|>"});
    impl->eos = resolve_id(*impl, data.eos_id, "tokenizer.ggml.eos_token_id",
                           spm ? std::initializer_list<const char*>{"</s>"}
                               : std::initializer_list<const char*>{"<|end_of_text|>", "<|endoftext|>"});
    impl->unk = resolve_id(*impl, data.unk_id, "tokenizer.ggml.unknown_token_id",
                           spm ? std::initializer_list<const char*>{"<unk>"} : std::initializer_list<const char*>{});
    impl->eot = resolve_id(*impl, data.eot_id, "tokenizer.ggml.eot_token_id", {});
    if (impl->eot < 0) {
        for (const char* t : kEndOfTurnTexts) {
            const int32_t id = lookup(*impl, t);
            if (id >= 0 && is_special(impl->type[id])) {  // older converters wrote user-defined
                impl->eot = id;
                break;
            }
        }
    }
    // Some files carry a padding id one past the vocabulary; it is never produced, so ignore it.
    impl->pad = data.pad_id && impl->valid(*data.pad_id) ? *data.pad_id : -1;

    const bool llama3 = impl->ignore_merges;
    impl->add_bos = data.add_bos.value_or(spm || llama3) && impl->bos >= 0;
    impl->add_eos = data.add_eos.value_or(false) && impl->eos >= 0;

    for (int32_t id : {impl->eos, impl->eot})
        if (id >= 0) impl->eog.push_back(id);
    for (const char* t : kEndOfGenerationTexts) {
        const int32_t id = lookup(*impl, t);
        if (id >= 0 && impl->type[id] != TokenType::Normal) impl->eog.push_back(id);
    }
    std::sort(impl->eog.begin(), impl->eog.end());
    impl->eog.erase(std::unique(impl->eog.begin(), impl->eog.end()), impl->eog.end());

    for (size_t i = 0; i < n; ++i) {
        if (!is_special(impl->type[i]) || impl->text[i].empty()) continue;
        const auto b = static_cast<unsigned char>(impl->text[i][0]);
        impl->special_by_byte[b].push_back(static_cast<int32_t>(i));
        impl->special_first[b] = true;
    }
    for (auto& list : impl->special_by_byte) {
        std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
            return impl->text[a].size() > impl->text[b].size();
        });
    }
    return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    const Impl& im = *impl_;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && im.add_bos) out.push_back(im.bos);

    bool after_special = true;  // SentencePiece: a space goes in front of the text and after specials
    std::string normalized;     // NFC of a fragment, when that changes it
    const auto fragment = [&](size_t b, size_t e) {
        if (e == b) return;
        // Normalised after the special tokens are cut out, as Hugging Face does
        // for added tokens that are not "normalized" (all of Qwen's).
        const std::string_view piece = im.nfc ? unicode::nfc(text.substr(b, e - b), normalized) : text.substr(b, e - b);
        if (im.kind == Kind::SPM) im.encode_spm(piece, im.add_space_prefix && after_special, out);
        else im.encode_bpe(piece, out);
        after_special = false;
    };

    // Special tokens are found leftmost first, longest first at a position
    // (as Hugging Face's added-token matcher does); the text between them is
    // tokenized on its own.
    size_t start = 0, pos = 0;
    while (pos < text.size()) {
        const auto c = static_cast<unsigned char>(text[pos]);
        int32_t match = -1;
        if (im.special_first[c]) {
            for (int32_t id : im.special_by_byte[c]) {
                if (!parse_special && im.type[id] != TokenType::UserDefined) continue;
                const std::string& t = im.text[id];
                if (text.compare(pos, t.size(), t) == 0) {
                    match = id;
                    break;
                }
            }
        }
        if (match < 0) {
            ++pos;
            continue;
        }
        fragment(start, pos);
        out.push_back(match);
        after_special = true;
        pos += im.text[match].size();
        start = pos;
    }
    fragment(start, text.size());
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
    if (!impl_->valid(id))
        throw Error(fmt::format("tokenizer: token id {} is outside the vocabulary of {} tokens", id, impl_->text.size()));
    std::string out;
    bool strip = false;
    append_piece(*impl_, id, render_special, strip, out);
    return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
    std::string out;
    bool strip = true;
    for (int32_t id : ids) {
        if (!impl_->valid(id))
            throw Error(fmt::format("tokenizer: token id {} is outside the vocabulary of {} tokens", id,
                                    impl_->text.size()));
        append_piece(*impl_, id, render_special, strip, out);
    }
    return out;
}

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->text.size()); }

std::optional<int32_t> Tokenizer::token_id(std::string_view text) const {
    const int32_t id = lookup(*impl_, text);
    if (id < 0) return std::nullopt;
    return id;
}

const std::string& Tokenizer::token_text(int32_t id) const {
    if (!impl_->valid(id))
        throw Error(fmt::format("tokenizer: token id {} is outside the vocabulary of {} tokens", id, impl_->text.size()));
    return impl_->text[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
    if (!impl_->valid(id))
        throw Error(fmt::format("tokenizer: token id {} is outside the vocabulary of {} tokens", id, impl_->text.size()));
    return impl_->type[id];
}

int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
int32_t Tokenizer::eot() const { return impl_->eot; }
int32_t Tokenizer::unk() const { return impl_->unk; }
int32_t Tokenizer::pad() const { return impl_->pad; }
bool Tokenizer::adds_bos() const { return impl_->add_bos; }
bool Tokenizer::adds_eos() const { return impl_->add_eos; }
Tokenizer::Kind Tokenizer::kind() const { return impl_->kind; }
const std::string& Tokenizer::pre() const { return impl_->pre; }
bool Tokenizer::normalizes_nfc() const { return impl_->nfc; }

bool Tokenizer::is_eog(int32_t id) const {
    return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id);
}

// ---------------------------------------------------------------- streaming

StreamDecoder::StreamDecoder(Tokenizer tokenizer, bool render_special, bool at_text_start)
    : tok_(std::move(tokenizer)), render_special_(render_special), at_text_start_(at_text_start),
      strip_space_(at_text_start) {}

std::string StreamDecoder::push(int32_t id) {
    const Tokenizer::Impl& im = *tok_.impl_;
    if (!im.valid(id))
        throw Error(fmt::format("tokenizer: token id {} is outside the vocabulary of {} tokens", id, im.text.size()));
    append_piece(im, id, render_special_, strip_space_, pending_);

    // Emit every complete character and every byte that cannot become one;
    // keep a valid-so-far character the text ends inside.
    size_t i = 0;
    while (i < pending_.size()) {
        const size_t len = utf8::valid_char_len(pending_, i);
        if (len > 0) {
            i += len;
        } else if (utf8::incomplete_char_len(pending_, i) > 0) {
            break;
        } else {
            ++i;
        }
    }
    std::string out = pending_.substr(0, i);
    pending_.erase(0, i);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    out.swap(pending_);
    strip_space_ = at_text_start_;
    return out;
}

}  // namespace tern
