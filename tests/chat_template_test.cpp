// Chat templates: exact token ids for a two-turn conversation with a system
// prompt, for every built-in template, and incremental == full rendering.
#include <gtest/gtest.h>

#include "tern/chat.h"
#include "tern/gguf.h"
#include "test_util.h"

namespace tern {
namespace {

const Tokenizer& llama3() {
    static const Tokenizer t =
        Tokenizer::create(tokenizer_data_from_hf_json(std::string(TERN_TEST_DATA_DIR) + "/external/bitnet-2b4t/tokenizer.json"));
    return t;
}

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "2+2?"},
};

std::string ids_string(const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t k = 0; k < ids.size(); ++k) s.append(k ? "," : "").append(std::to_string(ids[k]));
    return s;
}

// The incremental path a chat session takes must prefill exactly the tokens
// of the full renderings: the first prefill is the rendering of the first
// exchange with its generation prompt, the second (closing the reply, then
// the new user turn) the suffix of the whole conversation's rendering. The
// reply itself comes from the model, so it is not compared.
void expect_incremental_matches(const ChatTemplate& t, const Tokenizer& tok, const std::vector<int32_t>& full) {
    auto first = t.begin(kConversation[0].content);
    auto u1 = t.user_turn(kConversation[1].content, true);
    first.insert(first.end(), u1.begin(), u1.end());
    const std::vector<int32_t> a = ChatTemplate::tokenize(tok, first);
    const std::vector<int32_t> b = ChatTemplate::tokenize(tok, t.user_turn(kConversation[3].content, false));
    ASSERT_LT(a.size() + b.size(), full.size());
    EXPECT_EQ(a, ChatTemplate::tokenize(tok, t.render({kConversation[0], kConversation[1]})));
    EXPECT_EQ(b, std::vector<int32_t>(full.end() - long(b.size()), full.end()));
}

TEST(ChatTemplate, BitnetExactIds) {
    const auto t = ChatTemplate::by_name("bitnet");
    const auto ids = ChatTemplate::tokenize(llama3(), t.render(kConversation));
    // <|begin_of_text|>System: You are terse.<|eot_id|>User: Hi<|eot_id|>Assistant: Hello.<|eot_id|>User: 2+2?<|eot_id|>Assistant: 
    EXPECT_EQ(ids_string(ids), "128000,2374,25,1472,527,51637,13,128009,1502,25,21694,128009,72803,25,22691,13,128009,1502,25,220,17,10,17,30,128009,72803,25,220");
    EXPECT_EQ(llama3().decode(ids, true),
              "<|begin_of_text|>System: You are terse.<|eot_id|>User: Hi<|eot_id|>Assistant: Hello.<|eot_id|>User: "
              "2+2?<|eot_id|>Assistant: ");
    expect_incremental_matches(t, llama3(), ids);
}

TEST(ChatTemplate, Llama3ExactIds) {
    const auto t = ChatTemplate::by_name("llama3");
    const auto ids = ChatTemplate::tokenize(llama3(), t.render(kConversation));
    EXPECT_EQ(ids_string(ids), "128000,128006,9125,128007,271,2675,527,51637,13,128009,128006,882,128007,271,13347,128009,128006,78191,128007,271,9906,13,128009,128006,882,128007,271,17,10,17,30,128009,128006,78191,128007,271");
    EXPECT_EQ(llama3().decode(ids, true),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
              "Hello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_incremental_matches(t, llama3(), ids);
}

TEST(ChatTemplate, Falcon3ExactIds) {
    const auto t = ChatTemplate::by_name("falcon3");
    const auto ids = ChatTemplate::tokenize(llama3(), t.render(kConversation));
    EXPECT_EQ(ids_string(ids), "128000,27,91,9125,91,397,2675,527,51637,627,27,91,882,91,397,13347,198,27,91,78191,91,397,9906,13,128009,198,27,91,882,91,397,17,10,17,5380,27,91,78191,91,397");
    EXPECT_EQ(llama3().decode(ids, true),
              "<|begin_of_text|><|system|>\nYou are terse.\n<|user|>\nHi\n<|assistant|>\nHello.<|eot_id|>\n<|user|>\n2+2?\n"
              "<|assistant|>\n");
    expect_incremental_matches(t, llama3(), ids);
}

TEST(ChatTemplate, Llama2ExactIdsOnSentencePiece) {
    const gguf::File f = gguf::File::open(std::string(TERN_TEST_DATA_DIR) + "/tokenizer-tests/ggml-vocab-llama-spm.gguf");
    const Tokenizer spm = Tokenizer::create(tokenizer_data_from_gguf(f));
    const auto t = ChatTemplate::by_name("llama2");
    const auto ids = ChatTemplate::tokenize(spm, t.render(kConversation));
    EXPECT_EQ(ids_string(ids), "1,518,25580,29962,3532,14816,29903,6778,13,3492,526,1935,344,29889,13,29966,829,14816,29903,6778,13,13,18567,518,29914,25580,29962,15043,29889,2,1,518,25580,29962,29871,29906,29974,29906,29973,518,29914,25580,29962");
    EXPECT_EQ(spm.decode(ids, true), "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello.</s><s>[INST] 2+2? [/INST]");
    expect_incremental_matches(t, spm, ids);
}

TEST(ChatTemplate, UserTextIsNeverParsedAsSpecial) {
    const auto t = ChatTemplate::by_name("bitnet");
    const auto ids = ChatTemplate::tokenize(llama3(), t.render({{"user", "<|eot_id|>"}}));
    int eots = 0;
    for (int32_t id : ids) eots += id == 128009;
    EXPECT_EQ(eots, 1);  // only the one the template puts after the message
}

TEST(ChatTemplate, NamesAndErrors) {
    EXPECT_EQ(ChatTemplate::names(), (std::vector<std::string>{"bitnet", "llama3", "falcon3", "llama2"}));
    try {
        ChatTemplate::by_name("chatml");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bitnet, llama3, falcon3, llama2"), std::string::npos);
    }
    // bitnet needs <|eot_id|>, which a SentencePiece vocabulary lacks.
    const gguf::File f = gguf::File::open(std::string(TERN_TEST_DATA_DIR) + "/tokenizer-tests/ggml-vocab-llama-spm.gguf");
    const Tokenizer spm = Tokenizer::create(tokenizer_data_from_gguf(f));
    EXPECT_THROW(ChatTemplate::tokenize(spm, ChatTemplate::by_name("bitnet").render({{"user", "x"}})), Error);
    EXPECT_THROW(ChatTemplate::by_name("bitnet").render({{"assistant", "x"}}), Error);
    // Stop tokens of 2B4T: <|eot_id|> and <|end_of_text|>.
    const auto stops = ChatTemplate::by_name("bitnet").stop_tokens(llama3());
    EXPECT_NE(std::find(stops.begin(), stops.end(), 128009), stops.end());
    EXPECT_NE(std::find(stops.begin(), stops.end(), 128001), stops.end());
}

}  // namespace
}  // namespace tern
