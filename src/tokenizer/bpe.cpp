// Byte-level BPE: pre-tokenizer regexes (PCRE2), GPT-2 byte alphabet, merges by rank.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <queue>

#include <fmt/format.h>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace tern {

namespace detail {

Regex::Regex(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE err_off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw Error(fmt::format("tokenizer: pre-tokenizer regex does not compile at offset {}: {}", err_off,
                                reinterpret_cast<const char*>(msg)));
    }
    code_ = code;
    jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::split(std::string_view text, const std::function<void(size_t, size_t)>& piece) const {
    auto* code = static_cast<pcre2_code*>(code_);
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
        pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
    if (!md) throw std::bad_alloc();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    bool use_jit = jit_;
    while (pos < text.size()) {
        int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK | (use_jit ? 0 : PCRE2_NO_JIT),
                             md.get(), nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && use_jit) {
            use_jit = false;  // e.g. JIT stack exhausted on a huge run: the interpreter uses the heap
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            piece(pos, text.size());
            return;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            throw Error(fmt::format("tokenizer: pre-tokenizer regex failed at byte {}: {}", pos,
                                    reinterpret_cast<const char*>(msg)));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
        size_t begin = ov[0], end = ov[1];
        if (begin > pos) piece(pos, begin);  // text the pattern skipped stays a piece of its own
        if (end == begin) {                  // empty match: step over one character
            end = begin + std::max<size_t>(1, utf8::valid_char_len(text, begin));
        }
        piece(begin, end);
        pos = end;
    }
}

}  // namespace detail

namespace {

// Hugging Face / tiktoken pattern of LLaMA-3 (contractions spelled out so that
// only ASCII letters fold case, as llama.cpp does), with `digits` for numbers:
// "\\p{N}{1,3}" for LLaMA-3, "\\p{N}" (single digits) for Qwen2, which Qwen3 uses too.
std::string llama3_style_regex(const char* digits) {
    return std::string("(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
                       "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|") +
           digits +
           "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
           "|\\s*[\\r\\n]+"
           "|\\s+(?!\\S)"
           "|\\s+";
}

constexpr const char* kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

bool is_llama3_pre(const std::string& pre) {
    for (const char* name : {"llama-bpe", "llama3", "llama-v3", "falcon3", "falcon_e", "falcon-h1"})
        if (pre == name) return true;
    return false;
}

bool is_gpt2_pre(const std::string& pre) {
    for (const char* name : {"gpt-2", "gpt2", "default", "phi-2", "roberta-bpe"})
        if (pre == name) return true;
    return false;
}

}  // namespace

void init_bpe(Tokenizer::Impl& impl, const TokenizerData& data) {
    std::string pre = data.pre;
    if (pre.empty()) {
        // bitnet.cpp's converter writes no `pre` for BitNet-b1.58-2B-4T: its
        // 128256-token vocabulary is LLaMA-3's.
        const bool llama3 = impl.text.size() == 128256 && impl.index.count("<|begin_of_text|>");
        pre = llama3 ? "llama-bpe" : "gpt-2";
    }
    if (is_llama3_pre(pre)) {
        impl.regex = std::make_unique<detail::Regex>(llama3_style_regex("\\p{N}{1,3}"));
        impl.ignore_merges = true;
    } else if (pre == "qwen2") {
        impl.regex = std::make_unique<detail::Regex>(llama3_style_regex("\\p{N}"));
    } else if (is_gpt2_pre(pre)) {
        impl.regex = std::make_unique<detail::Regex>(kGpt2Regex);
    } else {
        throw Error(fmt::format(
            "tokenizer: unsupported pre-tokenizer '{}' (tokenizer.ggml.pre); tern knows llama-bpe, llama3, "
            "llama-v3, falcon3, falcon_e, falcon-h1, qwen2, gpt-2, gpt2, default, phi-2, roberta-bpe",
            pre));
    }
    impl.pre = pre;

    // Every byte is spelled by one character of the GPT-2 alphabet, normally a token.
    const auto& b2c = utf8::byte_to_codepoint();
    for (int b = 0; b < 256; ++b) {
        std::string ch;
        utf8::append_codepoint(ch, b2c[b]);
        auto it = impl.index.find(ch);
        impl.byte_token[b] = it == impl.index.end() ? -1 : it->second;
    }

    impl.merges.reserve(data.merges.size());
    std::string joined;
    for (size_t rank = 0; rank < data.merges.size(); ++rank) {
        const std::string& m = data.merges[rank];
        const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
        if (sp == std::string::npos)
            throw Error(fmt::format("tokenizer: merge {} '{}' is not two pieces separated by a space", rank, m));
        const std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
        joined.assign(left);
        joined.append(right);
        auto l = impl.index.find(left), r = impl.index.find(right), j = impl.index.find(joined);
        // A merge whose parts or result are not tokens can never lead to a
        // token (Hugging Face refuses such files); it is skipped.
        if (l == impl.index.end() || r == impl.index.end() || j == impl.index.end()) continue;
        const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(l->second)) << 32) |
                             static_cast<uint32_t>(r->second);
        impl.merges.try_emplace(key, Tokenizer::Impl::Merge{static_cast<int32_t>(rank), j->second});
    }
}

// One pre-tokenized piece (raw bytes) -> tokens.
void Tokenizer::Impl::bpe_piece(std::string_view piece, std::vector<int32_t>& out, std::string& scratch) const {
    const auto emit = [&](int32_t id) {
        if (id >= 0) out.push_back(id);
        else if (unk >= 0) out.push_back(unk);
    };
    if (piece.size() == 1) {
        emit(byte_token[static_cast<unsigned char>(piece[0])]);
        return;
    }
    if (ignore_merges) {
        scratch.clear();
        const auto& b2c = utf8::byte_to_codepoint();
        for (char c : piece) utf8::append_codepoint(scratch, b2c[static_cast<unsigned char>(c)]);
        auto it = index.find(scratch);
        if (it != index.end()) {
            out.push_back(it->second);
            return;
        }
    }

    struct Sym {
        int32_t id, prev, next;
    };
    struct Cand {
        int32_t rank, left, left_id, right_id, result;
        bool operator<(const Cand& o) const {  // priority_queue pops the largest: lowest rank, leftmost
            return rank != o.rank ? rank > o.rank : left > o.left;
        }
    };
    const int32_t n = static_cast<int32_t>(piece.size());
    std::vector<Sym> sym(n);
    for (int32_t i = 0; i < n; ++i) sym[i] = {byte_token[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};

    std::priority_queue<Cand> queue;
    const auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = sym[left].next;
        if (right < 0 || sym[left].id < 0 || sym[right].id < 0) return;
        const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(sym[left].id)) << 32) |
                             static_cast<uint32_t>(sym[right].id);
        auto it = merges.find(key);
        if (it != merges.end()) queue.push({it->second.rank, left, sym[left].id, sym[right].id, it->second.result});
    };
    for (int32_t i = 0; i + 1 < n; ++i) consider(i);

    while (!queue.empty()) {
        const Cand c = queue.top();
        queue.pop();
        Sym& l = sym[c.left];
        // Stale when the left symbol was absorbed (id -2) or either side changed.
        if (l.id != c.left_id || l.next < 0 || sym[l.next].id != c.right_id) continue;
        const int32_t r = l.next;
        l.id = c.result;
        l.next = sym[r].next;
        if (l.next >= 0) sym[l.next].prev = c.left;
        sym[r].id = -2;
        consider(l.prev);
        consider(c.left);
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) emit(sym[i].id);
}

void Tokenizer::Impl::encode_bpe(std::string_view fragment, std::vector<int32_t>& out) const {
    std::string scratch;
    size_t i = 0;
    while (i < fragment.size()) {
        // The longest valid UTF-8 run goes through the regex; each byte that
        // is not valid UTF-8 is a piece of its own (its byte token).
        size_t j = i;
        while (j < fragment.size()) {
            const size_t len = utf8::valid_char_len(fragment, j);
            if (len == 0) break;
            j += len;
        }
        if (j > i) {
            const std::string_view run = fragment.substr(i, j - i);
            regex->split(run, [&](size_t b, size_t e) { bpe_piece(run.substr(b, e - b), out, scratch); });
            i = j;
        } else {
            bpe_piece(fragment.substr(i, 1), out, scratch);
            ++i;
        }
    }
}

}  // namespace tern
