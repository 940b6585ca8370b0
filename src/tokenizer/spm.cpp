// SentencePiece (BPE-by-score, as LLaMA-2's tokenizer.model): U+2581 for
// spaces, adjacent pieces merged highest score first, <0xNN> byte fallback.
#include <algorithm>
#include <queue>

#include <fmt/format.h>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace tern {

namespace {
constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK
}

void init_spm(Tokenizer::Impl& impl, const TokenizerData& data) {
    impl.add_space_prefix = data.add_space_prefix.value_or(true);
    // Pieces a merge may produce: not control, unknown, byte or unused tokens
    // (SentencePiece never produces those from text).
    for (size_t id = 0; id < impl.text.size(); ++id) {
        const TokenType t = impl.type[id];
        if (t == TokenType::Control || t == TokenType::Unknown || t == TokenType::Byte || t == TokenType::Unused)
            continue;
        impl.spm_pieces.try_emplace(impl.text[id], static_cast<int32_t>(id));
    }
    for (int b = 0; b < 256; ++b) {
        auto it = impl.index.find(fmt::format("<0x{:02X}>", b));
        impl.byte_fallback[b] = it == impl.index.end() ? -1 : it->second;
    }
}

void Tokenizer::Impl::encode_spm(std::string_view fragment, bool prefix_space, std::vector<int32_t>& out) const {
    std::string escaped;
    escaped.reserve(fragment.size() + 8);
    if (prefix_space) escaped += kSpace;
    for (char c : fragment) {
        if (c == ' ') escaped += kSpace;
        else escaped += c;
    }

    // Symbols start as characters; a byte that is not valid UTF-8 stands alone.
    struct Sym {
        int32_t prev, next;
        uint32_t start, len;  // len 0: merged into its left neighbour
    };
    std::vector<Sym> sym;
    sym.reserve(escaped.size());
    for (size_t i = 0; i < escaped.size();) {
        const size_t len = std::max<size_t>(1, utf8::valid_char_len(escaped, i));
        const auto n = static_cast<int32_t>(sym.size());
        sym.push_back({n - 1, -1, static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
        if (n > 0) sym[n - 1].next = n;
        i += len;
    }

    struct Bigram {
        float score;
        int32_t left, right;
        uint32_t len;
        bool operator<(const Bigram& o) const {  // pops the highest score, then the leftmost
            return score != o.score ? score < o.score : left > o.left;
        }
    };
    std::priority_queue<Bigram> queue;
    const auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const uint32_t len = sym[left].len + sym[right].len;
        auto it = spm_pieces.find(std::string_view(escaped).substr(sym[left].start, len));
        if (it == spm_pieces.end()) return;
        queue.push({score[it->second], left, right, len});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) consider(i - 1, i);

    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Sym& l = sym[b.left];
        Sym& r = sym[b.right];
        // Stale when either side was merged away or has grown since.
        if (l.len == 0 || r.len == 0 || l.len + r.len != b.len || l.next != b.right) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (l.next >= 0) sym[l.next].prev = b.left;
        consider(l.prev, b.left);
        consider(b.left, l.next);
    }

    for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
        const std::string_view piece = std::string_view(escaped).substr(sym[i].start, sym[i].len);
        auto it = spm_pieces.find(piece);
        if (it != spm_pieces.end()) {
            out.push_back(it->second);
            continue;
        }
        // Byte fallback; a vocabulary without the needed <0xNN> tokens gives one <unk>.
        bool all_bytes = true;
        for (char c : piece) all_bytes = all_bytes && byte_fallback[static_cast<unsigned char>(c)] >= 0;
        if (all_bytes) {
            for (char c : piece) out.push_back(byte_fallback[static_cast<unsigned char>(c)]);
        } else if (unk >= 0) {
            out.push_back(unk);
        }
    }
}

}  // namespace tern
