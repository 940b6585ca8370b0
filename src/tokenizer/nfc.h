// Unicode Normalization Form C (UAX #15), for vocabularies whose text is normalised
// before tokenizing: a tokenizer.json with an NFC normalizer (Qwen2, Qwen3), and GGUF
// vocabularies with pre-tokenizer "qwen2" (the GGUF has no normalizer key; Hugging
// Face normalises these, llama.cpp does not, and tern follows Hugging Face).
// Data: unicode_tables.cpp (Unicode version in kUnicodeVersion).
#pragma once

#include <string>
#include <string_view>

namespace tern::unicode {

// The NFC form of UTF-8 text. When NFC cannot change the text (ASCII, or no
// character that UAX #15's quick check flags), `text` itself is returned and
// nothing is copied; otherwise the result is written to `storage` and a view of
// it returned. Bytes that are not valid UTF-8 are kept as they are, and nothing
// composes across them (a lone byte acts as a starter that combines with nothing).
std::string_view nfc(std::string_view text, std::string& storage);

inline std::string nfc(std::string_view text) {
    std::string storage;
    return std::string(nfc(text, storage));
}

// UAX #15's quick check: true only when nfc(text) == text. False means "maybe
// not": the text has a character that may change or combine with the one before.
bool nfc_quick_check(std::string_view text);

}  // namespace tern::unicode
