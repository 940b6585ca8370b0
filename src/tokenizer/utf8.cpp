#include "tokenizer/utf8.h"

namespace tern::utf8 {

namespace {

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Expected length from a lead byte, 0 for bytes that can never lead.
size_t lead_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    if (c < 0xF5) return 4;
    return 0;
}

// Allowed range of the second byte, which carries the overlong / surrogate /
// above-U+10FFFF restrictions; later bytes are plain continuations.
bool second_ok(unsigned char lead, unsigned char c) {
    switch (lead) {
        case 0xE0: return c >= 0xA0 && c <= 0xBF;
        case 0xED: return c >= 0x80 && c <= 0x9F;
        case 0xF0: return c >= 0x90 && c <= 0xBF;
        case 0xF4: return c >= 0x80 && c <= 0x8F;
        default: return is_cont(c);
    }
}

// How many bytes from s[i] agree with a character's prefix (at most its length).
size_t matched_prefix(std::string_view s, size_t i, size_t len) {
    const auto lead = static_cast<unsigned char>(s[i]);
    size_t k = 1;
    for (; k < len && i + k < s.size(); ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if (k == 1 ? !second_ok(lead, c) : !is_cont(c)) break;
    }
    return k;
}

std::array<uint32_t, 256> make_byte_map() {
    std::array<uint32_t, 256> m{};
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        m[b] = printable ? b : next++;
    }
    return m;
}

}  // namespace

size_t valid_char_len(std::string_view s, size_t i) {
    const size_t len = lead_len(static_cast<unsigned char>(s[i]));
    if (len <= 1) return len;
    return matched_prefix(s, i, len) == len ? len : 0;
}

size_t incomplete_char_len(std::string_view s, size_t i) {
    const size_t len = lead_len(static_cast<unsigned char>(s[i]));
    if (len <= 1) return 0;
    const size_t k = matched_prefix(s, i, len);
    // Incomplete only when every byte present fits and the text ran out.
    return (k < len && i + k == s.size()) ? k : 0;
}

void append_codepoint(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

const std::array<uint32_t, 256>& byte_to_codepoint() {
    static const std::array<uint32_t, 256> map = make_byte_map();
    return map;
}

int byte_of_codepoint(uint32_t cp) {
    // The alphabet is the identity on printable Latin-1 and U+0100..U+0143 otherwise.
    static const std::array<int16_t, 324> inverse = [] {
        std::array<int16_t, 324> inv{};
        inv.fill(-1);
        const auto& fwd = byte_to_codepoint();
        for (int b = 0; b < 256; ++b) inv[fwd[b]] = static_cast<int16_t>(b);
        return inv;
    }();
    return cp < inverse.size() ? inverse[cp] : -1;
}

uint32_t decode_at(std::string_view s, size_t i, size_t len) {
    const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
    switch (len) {
        case 1: return b(0);
        case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
        case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
        default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    }
}

}  // namespace tern::utf8
