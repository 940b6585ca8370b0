// UTF-8 helpers shared by the tokenizers (internal).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::utf8 {

// Length of the valid UTF-8 character (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF) starting at s[i], or 0 when the bytes there are not
// one. This is exactly what PCRE2 accepts as UTF-8.
size_t valid_char_len(std::string_view s, size_t i);

// Of the bytes s[i..], how many form a character that is valid so far but
// incomplete (the text ended inside it): 0 when s[i] is complete or invalid.
size_t incomplete_char_len(std::string_view s, size_t i);

void append_codepoint(std::string& out, uint32_t cp);

// GPT-2's reversible byte -> printable code point alphabet: printable Latin-1
// bytes map to themselves, the other 68 bytes to U+0100.. in byte order.
const std::array<uint32_t, 256>& byte_to_codepoint();
// Inverse: code point -> byte, or -1 when the code point is not in the alphabet.
int byte_of_codepoint(uint32_t cp);

// Decodes one character from valid UTF-8 at s[i] (caller checked validity).
uint32_t decode_at(std::string_view s, size_t i, size_t len);

}  // namespace tern::utf8
