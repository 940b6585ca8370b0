// Falcon3's tokenizer through `tern convert`: its tokenizer.json chain
// (Punctuation, ByteLevel, Digits one by one) becomes tokenizer.ggml.pre
// "falcon3", which llama.cpp (and tern) split with LLaMA-3's pattern; its
// added newline / tab tokens, spelled in the byte-level alphabet, become the
// text they stand for.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "convert_util.h"
#include "tern/convert.h"
#include "tern/gguf.h"
#include "tern/tokenizer.h"
#include "test_util.h"
#include "tokenizer/utf8.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// GPT-2's alphabet character for a byte.
std::string ch(int byte) {
    std::string s;
    utf8::append_codepoint(s, utf8::byte_to_codepoint()[size_t(byte)]);
    return s;
}

// A small tokenizer laid out as Falcon3's is: special markers at the low ids
// (>>TITLE<< 0, >>ABSTRACT<< 1, <|startoftext|> 10, <|endoftext|> 11), the
// newline and tab as added tokens 12 and 13 spelled "Ċ" / "ĉ", then every
// other byte (id = 14 + byte for bytes below 9, 12 + byte above 10), then
// merges (results from 268 on).
constexpr int32_t kFirstMerge = 268;
int32_t byte_id(int b) { return b < 9 ? 14 + b : 12 + b; }

ordered_json falcon3_tokenizer_json() {
    ordered_json vocab = ordered_json::object();
    ordered_json added = ordered_json::array();
    const auto special = [&](int id, const std::string& text) {
        added.push_back({{"id", id}, {"content", text}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                         {"normalized", false}, {"special", true}});
        vocab[text] = id;
    };
    special(0, ">>TITLE<<");
    special(1, ">>ABSTRACT<<");
    special(10, "<|startoftext|>");
    special(11, "<|endoftext|>");
    for (int b : {10, 9}) {  // "Ċ" 12, "ĉ" 13: added, not special, matched in raw text
        const int id = b == 10 ? 12 : 13;
        added.push_back({{"id", id}, {"content", ch(b)}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                         {"normalized", false}, {"special", false}});
        vocab[ch(b)] = id;
    }
    for (int b = 0; b < 256; ++b)
        if (b != 9 && b != 10) vocab[ch(b)] = byte_id(b);
    const std::vector<std::pair<std::string, std::string>> merges = {
        {ch(' '), "t"}, {"h", "e"}, {ch(' ') + "t", "he"}, {"1", "2"}, {ch(' '), "="}, {"l", "l"}, {"'", "ll"}, {"H", "i"}};
    ordered_json merge_list = ordered_json::array();
    int32_t id = kFirstMerge;
    for (const auto& [a, b] : merges) {
        vocab[a + b] = id++;
        merge_list.push_back({a, b});  // Falcon3 stores merges as pairs
    }
    ordered_json j;
    j["version"] = "1.0";
    j["added_tokens"] = added;
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Punctuation"}, {"behavior", "Contiguous"}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}},
          {{"type", "Digits"}, {"individual_digits", true}}}}};
    j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    j["model"] = {{"type", "BPE"},   {"dropout", nullptr}, {"unk_token", nullptr}, {"fuse_unk", false},
                  {"byte_fallback", false}, {"ignore_merges", false}, {"vocab", vocab}, {"merges", merge_list}};
    return j;
}

void write_json(const std::string& path, const ordered_json& j) {
    std::ofstream(path) << j.dump(1);
}

struct Converted {
    std::string dir = test::temp_path("falcon3");
    std::string gguf = dir + "/model.gguf";
    Converted() {
        test::hf::Spec spec;
        spec.layout = "llama";  // Falcon3-1.58bit: LlamaForCausalLM, quant_method bitnet
        spec.vocab = 300;
        test::hf::write_checkpoint(dir, spec);
        write_json(dir + "/tokenizer.json", falcon3_tokenizer_json());
        write_json(dir + "/tokenizer_config.json", {{"eos_token", "<|endoftext|>"}, {"add_bos_token", false}});
        convert::convert_checkpoint(dir, gguf);
    }
    ~Converted() { fs::remove_all(dir); }
};

TEST(Falcon3Tokenizer, ConvertWritesFalcon3PreAndNewlineTokens) {
    const Converted c;
    const auto f = gguf::File::open(c.gguf);
    EXPECT_EQ(f.get<std::string>("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(f.get<std::string>("tokenizer.ggml.pre"), "falcon3");
    const Tokenizer tok = Tokenizer::create(tokenizer_data_from_gguf(f));
    EXPECT_EQ(tok.token_text(0), ">>TITLE<<");
    EXPECT_EQ(tok.token_type(0), TokenType::Control);
    // The added "Ċ" / "ĉ" are stored as the text they stand for (as llama.cpp's converter does).
    EXPECT_EQ(tok.token_text(12), "\n");
    EXPECT_EQ(tok.token_text(13), "\t");
    EXPECT_EQ(tok.token_type(12), TokenType::UserDefined);
    EXPECT_EQ(tok.eos(), 11);
    EXPECT_EQ(tok.token_to_piece(12), "\n");
}

// Expected ids worked out by hand. "falcon3" splits with LLaMA-3's pattern,
// after the user-defined "\n" (12) and "\t" (13) are cut out of the text:
//   "Hi the 123 =x'll" -> "Hi" | " the" | " " | "123" | " =" | "x" | "'ll"
//     "Hi"    a letter run                         -> token "Hi" (merge 7: 275)
//     " the"  [^\r\n\p{L}\p{N}]?\p{L}+             -> "Ġthe" is a token (270): taken whole (ignore_merges)
//     " "     before a digit: only \s+ matches      -> byte ' ' (44)
//     "123"   \p{N}{1,3}                            -> not a token: merges "1 2" -> "12" (271), then "3" (63)
//     " ="    ` ?[^\s\p{L}\p{N}]+`                  -> "Ġ=" (272)
//     "x"     a letter run, stopped by the quote    -> byte 'x' (132)
//     "'ll"   the contraction '[lL][lL]             -> "'ll" (274)
//   "\n" -> 12, "\t" -> 13, "ok" -> no merge: 'o' (123), 'k' (119).
// (Hugging Face's own chain would cut "=" and "'" off as punctuation and
// "123" into digits; llama.cpp chose the LLaMA-3 split for "falcon3", and a
// GGUF from either converter must tokenize the same in tern and llama.cpp.)
TEST(Falcon3Tokenizer, TokenizesWithTheLlama3Split) {
    const Converted c;
    const Tokenizer tok = Tokenizer::create(tokenizer_data_from_gguf(gguf::File::open(c.gguf)));
    EXPECT_EQ(byte_id(' '), 44);
    EXPECT_EQ(tok.encode("Hi the 123 =x'll\n\tok", false, false),
              (std::vector<int32_t>{275, 270, 44, 271, 63, 272, 132, 274, 12, 13, 123, 119}));
    // Two newlines are two added tokens, never a merged piece.
    EXPECT_EQ(tok.encode("\n\n", false, false), (std::vector<int32_t>{12, 12}));
    // Markers are text unless special tokens are parsed.
    EXPECT_EQ(tok.encode(">>TITLE<<Hi", false, true), (std::vector<int32_t>{0, 275}));
    EXPECT_NE(tok.encode(">>TITLE<<Hi", false, false).front(), 0);
    // Round trip.
    std::string back;
    for (int32_t id : tok.encode("Hi the 123 =x'll\n\tok", false, false)) back += tok.token_to_piece(id);
    EXPECT_EQ(back, "Hi the 123 =x'll\n\tok");
}

// Falcon3's vocabulary is recognised by itself too (131072 ids, >>TITLE<< first),
// whatever spelling its pre-tokenizer has; Falcon-7B's chain (digit runs, not
// single digits) is not Falcon3's and stays refused.
TEST(Falcon3Tokenizer, RecognisedByVocabularyAndOldFalconRefused) {
    const std::string dir = test::temp_path("falcon3_json");
    fs::create_directories(dir);
    auto j = falcon3_tokenizer_json();
    j.erase("pre_tokenizer");
    j["added_tokens"].push_back({{"id", 131071}, {"content", ">>LAST<<"}, {"special", true}});
    write_json(dir + "/tokenizer.json", j);
    EXPECT_EQ(tokenizer_data_from_hf_json(dir + "/tokenizer.json").pre, "falcon3");

    auto old = falcon3_tokenizer_json();
    old["pre_tokenizer"]["pretokenizers"][2]["individual_digits"] = false;
    old["pre_tokenizer"]["pretokenizers"].push_back(
        {{"type", "Split"}, {"pattern", {{"Regex", "[0-9][0-9][0-9]"}}}, {"behavior", "Isolated"}, {"invert", false}});
    write_json(dir + "/tokenizer.json", old);
    try {
        (void)tokenizer_data_from_hf_json(dir + "/tokenizer.json");
        ADD_FAILURE() << "Falcon-7B's pre-tokenizer was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("unsupported pre-tokenizer"), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
}

}  // namespace
}  // namespace tern
