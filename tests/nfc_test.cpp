// Unicode NFC (src/tokenizer/nfc.cpp) against Python's unicodedata.normalize:
// tests/data/nfc-vectors.txt, written by tools/dev/make_unicode_tables.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "tokenizer/nfc.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace {

using tern::unicode::nfc;
using tern::unicode::nfc_quick_check;

struct Vector {
    std::string source, expected, comment;
};

// "0065 0301;00E9 # comment" -> UTF-8 strings.
std::string from_hex(const std::string& field) {
    std::istringstream in(field);
    std::string out, word;
    while (in >> word) tern::utf8::append_codepoint(out, uint32_t(std::stoul(word, nullptr, 16)));
    return out;
}

std::string vectors_version;  // "(Unicode X)" of the vectors' header

std::vector<Vector> load_vectors() {
    const std::string path = std::string(TERN_TEST_DATA_DIR) + "/nfc-vectors.txt";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::vector<Vector> out;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind('#', 0) == 0) {
            const size_t at = line.find("(Unicode ");
            if (at != std::string::npos) vectors_version = line.substr(at + 9, line.find(')', at) - at - 9);
            continue;
        }
        const size_t semi = line.find(';'), hash = line.find(" # ");
        if (semi == std::string::npos || hash == std::string::npos || hash < semi)
            throw std::runtime_error(path + ": malformed line '" + line + "'");
        out.push_back({from_hex(line.substr(0, semi)), from_hex(line.substr(semi + 1, hash - semi - 1)),
                       line.substr(hash + 3)});
    }
    return out;
}

std::string hex(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        const size_t len = tern::utf8::valid_char_len(s, i);
        char buf[16];
        if (len == 0) {
            std::snprintf(buf, sizeof buf, " <%02X>", unsigned(static_cast<unsigned char>(s[i++])));
        } else {
            std::snprintf(buf, sizeof buf, " %04X", unsigned(tern::utf8::decode_at(s, i, len)));
            i += len;
        }
        out += buf;
    }
    return out;
}

TEST(Nfc, MatchesPythonUnicodedataOnTheVectors) {
    const auto vectors = load_vectors();
    ASSERT_GE(vectors.size(), 300u);
    for (const Vector& v : vectors) {
        EXPECT_EQ(hex(nfc(v.source)), hex(v.expected)) << v.comment;
        EXPECT_EQ(hex(nfc(v.expected)), hex(v.expected)) << "NFC is idempotent: " << v.comment;
        if (nfc_quick_check(v.source)) {
            EXPECT_EQ(hex(v.source), hex(v.expected)) << "quick check said yes: " << v.comment;
        }
    }
    // The tables and the vectors come from one run of the script.
    EXPECT_EQ(vectors_version, tern::unicode::kUnicodeVersion);
}

// Inside text: the part before the first character that may change is kept,
// the rest rebuilt, and nothing composes across the surrounding spaces.
TEST(Nfc, VectorsInsideOtherText) {
    const std::string before = "Größe 한국어 naïve ", after = " end\n";
    for (const Vector& v : load_vectors())
        EXPECT_EQ(hex(nfc(before + v.source + after)), hex(before + v.expected + after)) << v.comment;
}

TEST(Nfc, UnchangedTextIsNotCopied) {
    for (const std::string text : {"", "plain ASCII text, with 123 and \t\n", "Größere Straßen, 日本語, 한국어, Việt",
                                   "\xF0\x9F\x9A\x80 emoji", "bad \xFF byte"}) {
        std::string storage;
        const std::string_view out = nfc(text, storage);
        EXPECT_TRUE(nfc_quick_check(text)) << text;
        EXPECT_EQ(out.data(), text.data()) << text;
        EXPECT_TRUE(storage.empty()) << text;
    }
    // A character that may combine with the one before fails the quick check
    // even when nothing changes, and the text is rebuilt.
    const std::string text = "x\xCC\x81";  // x + U+0301: no composite
    std::string storage;
    EXPECT_FALSE(nfc_quick_check(text));
    EXPECT_EQ(nfc(text, storage), text);
    EXPECT_EQ(storage, text);
}

// Invalid UTF-8 is kept byte for byte, and marks do not reach across it.
TEST(Nfc, InvalidUtf8IsKeptAndBlocksComposition) {
    EXPECT_EQ(nfc("\xFF" "e\xCC\x81"), "\xFF\xC3\xA9");
    EXPECT_EQ(nfc("e\xFF\xCC\x81"), "e\xFF\xCC\x81");
    EXPECT_EQ(nfc("\xE2\x82" "e\xCC\x81 \xC3"), "\xE2\x82\xC3\xA9 \xC3");  // truncated characters
    EXPECT_EQ(nfc("\xED\xA0\x80\xCC\x81"), "\xED\xA0\x80\xCC\x81");      // a surrogate's bytes
    EXPECT_EQ(nfc(std::string("a\0\xCC\x81", 4)), std::string("a\0\xCC\x81", 4));
}

// Every code point on its own: the result is stable under NFC, and a quick-check
// "yes" is never wrong. (Whether the result is right is what the vectors check.)
TEST(Nfc, EveryCodePointIsStableAfterOneNormalisation) {
    size_t changed = 0;
    for (uint32_t cp = 1; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp < 0xE000) continue;
        std::string s;
        tern::utf8::append_codepoint(s, cp);
        const std::string once = nfc(s);
        ASSERT_EQ(hex(nfc(once)), hex(once)) << "U+" << std::hex << cp;
        if (nfc_quick_check(s)) {
            ASSERT_EQ(once, s) << "U+" << std::hex << cp;
        }
        changed += once != s;
    }
    // Exactly the singletons and the excluded pairs change (NFC_Quick_Check=No);
    // composites, Hangul syllables and everything else stay.
    size_t singletons = 0;
    for (size_t r = 0; r < tern::unicode::kSingletonRunCount; ++r) singletons += tern::unicode::kSingletonRuns[r].count;
    EXPECT_EQ(changed, singletons + tern::unicode::kCompositionExclusionCount);
    EXPECT_GT(singletons, 1000u);
}

// Random mixes of what makes NFC work hard (marks of many classes, jamo,
// composites, singletons, exclusions, invalid bytes): normalising twice gives
// the result of normalising once, and invalid bytes come out unchanged.
TEST(Nfc, RandomTextIsStable) {
    const uint32_t pool[] = {0x41,   0x65,   0x20,   0x300,  0x301,  0x316,  0x323,  0x327,  0x308,  0x345,
                             0x5B0,  0x5C1,  0x93C,  0xC5,   0xE9,   0x1EA0, 0x212B, 0x2126, 0x958,  0x344,
                             0xF73,  0x1100, 0x1112, 0x1161, 0x1175, 0x11A7, 0x11A8, 0x11C2, 0xAC00, 0xD55C,
                             0x3099, 0x309A, 0x304B, 0x30CF, 0xB47,  0xB3E,  0xDD9,  0xDCF,  0xDCA,  0x1D15E,
                             0x1D165, 0x11099, 0x110BA, 0xF900, 0x3B1, 0x313,  0x1FEE};
    std::mt19937 rng(16);
    for (int round = 0; round < 20000; ++round) {
        std::string s;
        size_t raw = 0;
        const int n = 1 + int(rng() % 12);
        for (int k = 0; k < n; ++k) {
            if (rng() % 10 == 0) {
                s += static_cast<char>(0xFF);  // never valid UTF-8
                ++raw;
            } else {
                tern::utf8::append_codepoint(s, pool[rng() % std::size(pool)]);
            }
        }
        const std::string once = nfc(s);
        ASSERT_EQ(hex(nfc(once)), hex(once)) << hex(s);
        ASSERT_EQ(size_t(std::count(once.begin(), once.end(), static_cast<char>(0xFF))), raw) << hex(s);
        if (nfc_quick_check(s)) {
            ASSERT_EQ(once, s) << hex(s);
        }
    }
}

}  // namespace
