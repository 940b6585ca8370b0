// NFC (UAX #15): canonical decomposition, canonical ordering by combining class,
// canonical composition (primary composites only), and Hangul syllables by
// arithmetic (Unicode chapter 3.12) rather than by table.
#include "tokenizer/nfc.h"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <vector>

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace tern::unicode {

namespace {

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;
constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// A byte that is not valid UTF-8 rides through the code point buffer as this
// plus the byte: above every code point, class 0, composes with nothing.
constexpr uint32_t kRawByte = 0x80000000u;

enum : uint8_t {
    kChanges = 1,       // NFC replaces it (quick check "No"): singletons and composition exclusions
    kCombinesBack = 2,  // may compose with the character before it (quick check "Maybe")
    kDecomposes = 4,    // has a canonical decomposition in the tables (Hangul syllables are arithmetic)
};

struct Props {
    uint8_t ccc = 0;  // canonical combining class
    uint8_t flags = 0;
};

// The generated tables expanded once into what the algorithm looks up: a
// two-stage table of Props per code point, decompositions by code point, and
// primary composites by their pair.
class Tables {
public:
    Tables() {
        index_.assign((kMaxCodePoint >> kBlockBits) + 1, 0);
        blocks_.emplace_back();  // block 0: every code point without properties
        for (size_t r = 0; r < kCombiningRunCount; ++r)
            for (uint32_t cp = kCombiningRuns[r].first; cp <= kCombiningRuns[r].last; ++cp)
                at(cp).ccc = kCombiningRuns[r].ccc;
        const uint32_t* excl = kCompositionExclusions;
        const uint32_t* excl_end = excl + kCompositionExclusionCount;
        size_t k = 0;
        for (size_t r = 0; r < kPairRunCount; ++r) {
            for (uint32_t i = 0; i < kPairRuns[r].count; ++i, ++k) {
                const uint32_t cp = kPairRuns[r].first + i, a = kPairParts[2 * k], b = kPairParts[2 * k + 1];
                decompositions_.push_back({cp, a, b});
                at(cp).flags |= kDecomposes;
                if (std::binary_search(excl, excl_end, cp)) {
                    at(cp).flags |= kChanges;
                } else {
                    composites_.emplace(pair_key(a, b), cp);
                    at(b).flags |= kCombinesBack;
                }
            }
        }
        k = 0;
        for (size_t r = 0; r < kSingletonRunCount; ++r) {
            for (uint32_t i = 0; i < kSingletonRuns[r].count; ++i, ++k) {
                const uint32_t cp = kSingletonRuns[r].first + i;
                decompositions_.push_back({cp, kSingletonTargets[k], 0});
                at(cp).flags |= kDecomposes | kChanges;
            }
        }
        std::sort(decompositions_.begin(), decompositions_.end(),
                  [](const Decomposition& x, const Decomposition& y) { return x.cp < y.cp; });
        // Hangul vowels and trailing consonants join the syllable before them.
        for (uint32_t cp = kVBase; cp < kVBase + kVCount; ++cp) at(cp).flags |= kCombinesBack;
        for (uint32_t cp = kTBase + 1; cp < kTBase + kTCount; ++cp) at(cp).flags |= kCombinesBack;
    }

    Props props(uint32_t cp) const {
        if (cp > kMaxCodePoint) return {};
        return blocks_[index_[cp >> kBlockBits]][cp & (kBlockSize - 1)];
    }

    // Appends the full canonical decomposition of cp to `out`.
    void decompose(uint32_t cp, std::vector<uint32_t>& out) const {
        if (cp - kSBase < kSCount) {
            const uint32_t s = cp - kSBase;
            out.push_back(kLBase + s / kNCount);
            out.push_back(kVBase + (s % kNCount) / kTCount);
            if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
            return;
        }
        if (!(props(cp).flags & kDecomposes)) {
            out.push_back(cp);
            return;
        }
        const auto it = std::lower_bound(decompositions_.begin(), decompositions_.end(), cp,
                                         [](const Decomposition& d, uint32_t c) { return d.cp < c; });
        decompose(it->first, out);
        if (it->second != 0) decompose(it->second, out);
    }

    // The primary composite of a followed by b, or 0 when they do not compose.
    uint32_t compose(uint32_t a, uint32_t b) const {
        if (a - kLBase < kLCount && b - kVBase < kVCount) return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
        if (a - kSBase < kSCount && (a - kSBase) % kTCount == 0 && b - kTBase - 1 < kTCount - 1) return a + (b - kTBase);
        if (a > kMaxCodePoint || !(props(b).flags & kCombinesBack)) return 0;
        const auto it = composites_.find(pair_key(a, b));
        return it == composites_.end() ? 0 : it->second;
    }

private:
    static constexpr int kBlockBits = 7;
    static constexpr uint32_t kBlockSize = 1u << kBlockBits;
    struct Decomposition {
        uint32_t cp, first, second;  // second is 0 for a singleton
    };

    static uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t(a) << 21) | b; }

    Props& at(uint32_t cp) {
        uint16_t& block = index_[cp >> kBlockBits];
        if (block == 0) {
            block = static_cast<uint16_t>(blocks_.size());
            blocks_.emplace_back();
        }
        return blocks_[block][cp & (kBlockSize - 1)];
    }

    std::vector<uint16_t> index_;                        // cp >> kBlockBits -> block
    std::vector<std::array<Props, kBlockSize>> blocks_;  // Props of each code point in a block
    std::vector<Decomposition> decompositions_;          // by cp
    std::unordered_map<uint64_t, uint32_t> composites_;  // pair_key(first, second) -> composite
};

const Tables& tables() {
    static const Tables t;
    return t;
}

// How far the quick check accepts `text`: the offset of the first character
// that may change or combine (text.size() when there is none). *boundary gets
// the offset of the last character before it that nothing after it can reach
// (class 0, quick check "Yes"): NFC leaves everything before that as it is.
size_t quick_check(std::string_view text, size_t* boundary) {
    const Tables* t = nullptr;  // looked up at the first non-ASCII character only
    uint8_t last_ccc = 0;
    size_t i = 0, safe = 0;
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            safe = i++;
            last_ccc = 0;
            continue;
        }
        const size_t len = utf8::valid_char_len(text, i);
        if (len == 0) {  // a raw byte: a starter nothing composes with
            safe = i++;
            last_ccc = 0;
            continue;
        }
        if (!t) t = &tables();
        const Props p = t->props(utf8::decode_at(text, i, len));
        if ((p.flags & (kChanges | kCombinesBack)) || (p.ccc != 0 && last_ccc > p.ccc)) break;
        if (p.ccc == 0) safe = i;
        last_ccc = p.ccc;
        i += len;
    }
    *boundary = safe;
    return i;
}

struct Char {
    uint32_t cp;
    uint8_t ccc;
};

// Appends NFC(text) to `out`.
void normalize(std::string_view text, std::string& out) {
    const Tables& t = tables();
    std::vector<uint32_t> decomposed;
    decomposed.reserve(text.size() + 8);
    for (size_t i = 0; i < text.size();) {
        const size_t len = utf8::valid_char_len(text, i);
        if (len == 0) {
            decomposed.push_back(kRawByte | static_cast<unsigned char>(text[i++]));
            continue;
        }
        t.decompose(utf8::decode_at(text, i, len), decomposed);
        i += len;
    }
    std::vector<Char> chars(decomposed.size());
    for (size_t i = 0; i < decomposed.size(); ++i) chars[i] = {decomposed[i], t.props(decomposed[i]).ccc};

    // Canonical ordering: each run of non-starters sorted by class, stably.
    for (size_t i = 0; i < chars.size();) {
        if (chars[i].ccc == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < chars.size() && chars[j].ccc != 0) ++j;
        std::stable_sort(chars.begin() + ptrdiff_t(i), chars.begin() + ptrdiff_t(j),
                         [](const Char& x, const Char& y) { return x.ccc < y.ccc; });
        i = j;
    }

    // Canonical composition, in place: a character joins the last starter when
    // nothing between them blocks it (a starter, or a mark of its class or higher).
    constexpr size_t kNone = size_t(-1);
    size_t starter = kNone, w = 0;
    int last = -1;  // class of the last character kept since the starter
    for (size_t r = 0; r < chars.size(); ++r) {
        const Char c = chars[r];
        if (starter != kNone && (last < c.ccc || (last == 0 && w == starter + 1))) {
            if (const uint32_t composite = t.compose(chars[starter].cp, c.cp)) {
                chars[starter].cp = composite;
                continue;
            }
        }
        if (c.ccc == 0) starter = w;
        last = c.ccc;
        chars[w++] = c;
    }

    for (size_t i = 0; i < w; ++i) {
        if (chars[i].cp >= kRawByte) out += static_cast<char>(chars[i].cp & 0xFF);
        else utf8::append_codepoint(out, chars[i].cp);
    }
}

}  // namespace

std::string_view nfc(std::string_view text, std::string& storage) {
    size_t boundary = 0;
    if (quick_check(text, &boundary) == text.size()) return text;
    storage.assign(text.substr(0, boundary));
    normalize(text.substr(boundary), storage);
    return storage;
}

bool nfc_quick_check(std::string_view text) {
    size_t boundary = 0;
    return quick_check(text, &boundary) == text.size();
}

}  // namespace tern::unicode
