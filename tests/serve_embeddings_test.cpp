// `tern serve -m EMBEDDING.gguf`: POST /v1/embeddings against tern::Embedder
// on the same inputs (bit-equal: the same forward pass), batching, base64,
// every bad input, and the endpoints that do not fit the model's kind.
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "serve_util.h"
#include "tern/embed.h"
#include "tern/gguf.h"
#include "test_util.h"
#include "tern/tokenizer.h"

namespace tern {
namespace {

using namespace serve_client;

constexpr int kCtx = 32;  // -c: the longest input, in tokens

class ServeEmbeddings : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new ServerProcess({}, 2, kCtx, kEmbedModel);
        model_ = new Model(Model::load(kEmbedModel));
        tok_ = new Tokenizer(Tokenizer::from_model(*model_));
    }
    static void TearDownTestSuite() {
        EXPECT_EQ(server_->stop(), 0) << server_->stderr_text();
        delete server_;
        delete tok_;
        delete model_;
    }
    void SetUp() override { ASSERT_GT(server_->port(), 0) << server_->stderr_text(); }
    static int port() { return server_->port(); }

    // What the library gives for these inputs, each embedded alone (the
    // server's defaults: the file's pooling, euclidean normalisation).
    static std::vector<std::vector<float>> expected(const std::vector<std::vector<int32_t>>& inputs) {
        EmbedOptions o;
        o.n_threads = 1;
        o.n_ctx = kCtx;
        Embedder e(*model_, o);
        std::vector<std::vector<float>> out;
        for (const auto& in : inputs) out.push_back(e.embed({&in, 1})[0]);
        return out;
    }
    static std::vector<int32_t> ids(const std::string& text) { return embedding_tokens(*tok_, text); }

    static ServerProcess* server_;
    static Model* model_;
    static Tokenizer* tok_;
};
ServerProcess* ServeEmbeddings::server_ = nullptr;
Model* ServeEmbeddings::model_ = nullptr;
Tokenizer* ServeEmbeddings::tok_ = nullptr;

// data[i].embedding of an answer, as floats (JSON numbers or base64).
std::vector<float> embedding_of(const json& body, size_t i) {
    const json& e = body["data"][i]["embedding"];
    if (e.is_array()) return e.get<std::vector<float>>();
    static const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string s = e.get<std::string>();
    std::vector<unsigned char> bytes;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        if (c == '=') break;
        acc = acc << 6 | uint32_t(abc.find(c));
        if ((bits += 6) >= 8) bytes.push_back(uint8_t(acc >> (bits -= 8)));
    }
    EXPECT_EQ(bytes.size() % 4, 0u);
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

void expect_answer(const Reply& r, const std::vector<std::vector<float>>& want, int64_t n_tokens) {
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["object"], "list");
    EXPECT_EQ(r.body["model"], "qwen3_i2s_embd.gguf");
    EXPECT_EQ(r.body["usage"]["prompt_tokens"], n_tokens);
    EXPECT_EQ(r.body["usage"]["total_tokens"], n_tokens);
    ASSERT_EQ(r.body["data"].size(), want.size()) << r.body;
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(r.body["data"][i]["object"], "embedding");
        EXPECT_EQ(r.body["data"][i]["index"], i);
        const std::vector<float> got = embedding_of(r.body, i);
        ASSERT_EQ(got.size(), 64u);
        // Bit-equal: the same Embedder forward pass, and JSON numbers that round-trip a float.
        EXPECT_EQ(std::memcmp(got.data(), want[i].data(), got.size() * sizeof(float)), 0) << "input " << i;
    }
}

TEST_F(ServeEmbeddings, OneStringEqualsTheLibrary) {
    const auto in = ids("hello world");
    const Reply r = post_json(port(), "/v1/embeddings", json{{"input", "hello world"}, {"model", "anything"}});
    expect_answer(r, expected({in}), int64_t(in.size()));
    // Euclidean normalisation, and the EOS the vocabulary appends is counted.
    double sq = 0;
    for (float v : embedding_of(r.body, 0)) sq += double(v) * v;
    EXPECT_NEAR(sq, 1.0, 1e-5);
    EXPECT_EQ(in.back(), tok_->eos());
}

TEST_F(ServeEmbeddings, ListsOfStringsAndOfTokenIdsAreBatched) {
    const std::vector<std::string> texts = {"a cat", "the stock market fell 3%", "x", "a cat"};
    std::vector<std::vector<int32_t>> in;
    int64_t n = 0;
    for (const auto& t : texts) in.push_back(ids(t)), n += int64_t(in.back().size());
    const auto want = expected(in);
    expect_answer(post_json(port(), "/v1/embeddings", json{{"input", texts}}), want, n);
    // The same inputs as lists of token ids; one list alone is one input.
    expect_answer(post_json(port(), "/v1/embeddings", json{{"input", in}}), want, n);
    expect_answer(post_json(port(), "/v1/embeddings", json{{"input", in[1]}}), {want[1]}, int64_t(in[1].size()));
    EXPECT_NE(want[0], want[1]);  // different texts, different vectors (the check above can fail)
}

TEST_F(ServeEmbeddings, Base64IsTheFloatsLittleEndianBytes) {
    const std::vector<std::string> texts = {"base sixty-four", "floats"};
    const Reply f = post_json(port(), "/v1/embeddings", json{{"input", texts}, {"encoding_format", "float"}});
    const Reply b = post_json(port(), "/v1/embeddings", json{{"input", texts}, {"encoding_format", "base64"}});
    ASSERT_EQ(b.status, 200) << b.body;
    ASSERT_TRUE(b.body["data"][0]["embedding"].is_string());
    EXPECT_EQ(b.body["data"][0]["embedding"].get<std::string>().size(), 344u);  // 64 floats: 256 bytes
    expect_answer(b, {embedding_of(f.body, 0), embedding_of(f.body, 1)}, f.body["usage"]["prompt_tokens"]);
}

TEST_F(ServeEmbeddings, ConcurrentRequestsEachEqualAlone) {
    std::vector<std::string> texts;
    for (int i = 0; i < 8; ++i) texts.push_back("request " + std::to_string(i) + std::string(size_t(i), '!'));
    std::vector<std::future<Reply>> replies;
    for (const auto& t : texts)
        replies.push_back(std::async(std::launch::async, [t] { return post_json(port(), "/v1/embeddings", json{{"input", t}}); }));
    for (size_t i = 0; i < texts.size(); ++i) {
        const auto in = ids(texts[i]);
        expect_answer(replies[i].get(), expected({in}), int64_t(in.size()));
    }
    const std::string m = get_text(port(), "/metrics");
    EXPECT_GE(metric(m, "tern_requests_total{endpoint=\"/v1/embeddings\",status=\"200\"}"), 8) << m;
}

TEST_F(ServeEmbeddings, BadInputIs400NamingTheField) {
    const int64_t V = tok_->n_vocab();
    const std::vector<std::pair<json, std::string>> cases = {
        {json::object(), "'input' is required"},
        {json{{"input", 5}}, "'input' must be"},
        {json{{"input", nullptr}}, "'input' is required"},
        {json{{"input", ""}}, "'input' is an empty string"},
        {json{{"input", json::array()}}, "'input' is an empty list"},
        {json{{"input", json::array({"a", ""})}}, "'input[1]' is an empty string"},
        {json{{"input", json::array({json::array({1, 2}), json::array()})}}, "'input[1]' is an empty list of token ids"},
        {json{{"input", json::array({1, "a"})}}, "'input[1]' must be a token id"},
        {json{{"input", json::array({"a", 1})}}, "'input[1]' must be a string or a list of token ids"},
        {json{{"input", json::array({json::object()})}}, "'input[0]' must be a string or a list of token ids"},
        {json{{"input", json::array({1, V})}}, "outside the vocabulary [0, " + std::to_string(V) + ")"},
        {json{{"input", json::array({-1})}}, "token id -1"},
        {json{{"input", json::array({1.5})}}, "must be a token id"},
        {json{{"input", std::string(40, 'a')}}, "more than the context of 32 tokens"},
        {json{{"input", json::array({"ok", std::string(40, 'a')})}}, "'input[1]' has"},
        {json{{"input", "a"}, {"encoding_format", "hex"}}, "'encoding_format' must be"},
        {json{{"input", "a"}, {"dimensions", 16}}, "'dimensions' must be 64"},
    };
    for (const auto& [body, words] : cases) {
        const Reply r = post_json(port(), "/v1/embeddings", body);
        EXPECT_EQ(r.status, 400) << body.dump();
        EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << body.dump();
        EXPECT_NE(r.body["error"]["message"].get<std::string>().find(words), std::string::npos)
            << body.dump() << " -> " << r.body;
    }
    EXPECT_EQ(post_json(port(), "/v1/embeddings", std::string("{not json")).status, 400);
    // The longest input that fits is served; the server keeps working.
    const std::vector<int32_t> full(kCtx, 12);
    expect_answer(post_json(port(), "/v1/embeddings", json{{"input", full}}), expected({full}), kCtx);
}

TEST_F(ServeEmbeddings, GenerationEndpointsSayItIsAnEmbeddingModel) {
    for (const auto& [path, body] : std::vector<std::pair<std::string, json>>{
             {"/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}}},
             {"/v1/completions", json{{"prompt", "hi"}}}}) {
        const Reply r = post_json(port(), path, body);
        EXPECT_EQ(r.status, 400) << path;
        EXPECT_NE(r.body["error"]["message"].get<std::string>().find("is an embedding model"), std::string::npos)
            << r.body;
    }
}

TEST_F(ServeEmbeddings, HealthModelsAndTokenizeWork) {
    EXPECT_EQ(get(port(), "/health").body["status"], "ok");
    const Reply m = get(port(), "/v1/models");
    ASSERT_EQ(m.status, 200);
    EXPECT_EQ(m.body["data"][0]["id"], "qwen3_i2s_embd.gguf");
    EXPECT_EQ(m.body["data"][0]["meta"]["n_ctx_slot"], kCtx);
    const Reply t = post_json(port(), "/tokenize", json{{"content", "ab"}});
    ASSERT_EQ(t.status, 200);
    EXPECT_EQ(t.body["tokens"].size(), 2u);
}

TEST(ServeEmbeddingsOther, GenerationModelRefusesEmbeddings) {
    ServerProcess s({}, 1, 64);
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    const Reply r = post_json(s.port(), "/v1/embeddings", json{{"input", "hi"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find("not an embedding model"), std::string::npos) << r.body;
    EXPECT_EQ(s.stop(), 0) << s.stderr_text();
}

TEST(ServeEmbeddingsOther, PoolingNoneIsRefusedAsLlamaServerDoes) {
    // The embedding model with pooling_type 0 (none): one vector per token, not OpenAI's shape.
    const gguf::File f = gguf::File::open(kEmbedModel);
    gguf::Writer w;
    for (const auto& [k, v] : f.metadata()) w.set(k, v);
    w.set("qwen3.pooling_type", gguf::Value::u32(0));
    for (const auto& t : f.tensors()) w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
    const std::string path = test::temp_path("pooling_none.gguf");
    w.write(path);
    {
        ServerProcess s({}, 1, kCtx, path);
        ASSERT_GT(s.port(), 0) << s.stderr_text();
        const Reply r = post_json(s.port(), "/v1/embeddings", json{{"input", "hi"}});
        EXPECT_EQ(r.status, 400);
        EXPECT_NE(r.body["error"]["message"].get<std::string>().find("pooling_type none"), std::string::npos) << r.body;
        EXPECT_EQ(s.stop(), 0) << s.stderr_text();
    }
    std::filesystem::remove(path);
}

TEST(ServeEmbeddingsOther, ApiKeyAndRateLimitApply) {
    ServerProcess s({"--api-key", "sekrit", "--rate-limit", "2"}, 1, kCtx, kEmbedModel);
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    const std::string body = json{{"input", "hi"}}.dump();
    EXPECT_EQ(post_json(s.port(), "/v1/embeddings", body).status, 401);
    EXPECT_EQ(post_json(s.port(), "/v1/embeddings", body, "Bearer sekrit").status, 200);
    EXPECT_EQ(post_json(s.port(), "/v1/embeddings", body, "Bearer sekrit").status, 200);
    const Reply third = post_json(s.port(), "/v1/embeddings", body, "Bearer sekrit");
    EXPECT_EQ(third.status, 429);
    EXPECT_EQ(third.body["error"]["type"], "rate_limit_exceeded");
    EXPECT_EQ(s.stop(), 0) << s.stderr_text();
}

}  // namespace
}  // namespace tern
