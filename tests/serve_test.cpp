// `tern serve` end to end: the binary runs as a child process on 127.0.0.1
// (a free port it picks and prints), the tests talk to it over HTTP with
// httplib's client, and every server is stopped with SIGTERM and must exit 0.
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "serve_util.h"
#include "test_util.h"

namespace tern {
namespace {

using namespace serve_client;

// One server for the suite (starting it takes a moment); tests needing other
// flags start their own.
class Serve : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = new ServerProcess({}); }
    static void TearDownTestSuite() {
        EXPECT_EQ(server_->stop(), 0) << server_->stderr_text();
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override { ASSERT_GT(server_->port(), 0) << server_->stderr_text(); }
    static int port() { return server_->port(); }
    static ServerProcess* server_;
};
ServerProcess* Serve::server_ = nullptr;

TEST_F(Serve, HealthAndModels) {
    const Reply h = get(port(), "/health");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.body["status"], "ok");
    const Reply m = get(port(), "/v1/models");
    ASSERT_EQ(m.status, 200);
    EXPECT_EQ(m.body["object"], "list");
    ASSERT_EQ(m.body["data"].size(), 1u);
    EXPECT_EQ(m.body["data"][0]["id"], "tern-tinystories-4m.gguf");
    EXPECT_EQ(m.body["data"][0]["object"], "model");
}

TEST_F(Serve, GreedyCompletionMatchesGoldenTranscript) {
    const auto bytes = test::read_file(std::string(TERN_TEST_DATA_DIR) + "/tinystories_greedy48.txt");
    std::string golden(bytes.begin(), bytes.end());
    const std::string prompt = "Once upon a time";
    ASSERT_EQ(golden.rfind(prompt, 0), 0u);
    ASSERT_EQ(golden.back(), '\n');
    golden = golden.substr(prompt.size(), golden.size() - prompt.size() - 1);

    const Reply r = post_json(port(), "/v1/completions", greedy_completion(prompt, 48));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["object"], "text_completion");
    EXPECT_EQ(r.body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
    EXPECT_TRUE(r.body["created"].is_number_integer());
    EXPECT_EQ(r.body["model"], "tern-tinystories-4m.gguf");
    EXPECT_EQ(r.body["choices"][0]["text"], golden);
    EXPECT_EQ(r.body["choices"][0]["index"], 0);
    EXPECT_EQ(r.body["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(r.body["usage"]["completion_tokens"], 48);
    const Reply t = post_json(port(), "/tokenize", json{{"content", prompt}, {"add_special", true}});
    EXPECT_EQ(r.body["usage"]["prompt_tokens"], t.body["tokens"].size());
    EXPECT_EQ(r.body["usage"]["total_tokens"], 48 + t.body["tokens"].size());

    // The same prompt as token ids gives the same text.
    const Reply ids = post_json(port(), "/v1/completions", json{{"prompt", t.body["tokens"]}, {"max_tokens", 48}, {"temperature", 0}});
    ASSERT_EQ(ids.status, 200) << ids.body;
    EXPECT_EQ(ids.body["choices"][0]["text"], golden);
}

TEST_F(Serve, CompletionStreamEqualsWholeAnswer) {
    const json body = greedy_completion("The little dog", 40);
    const Reply whole = post_json(port(), "/v1/completions", body);
    ASSERT_EQ(whole.status, 200);
    json sbody = body;
    sbody["stream"] = true;
    sbody["stream_options"] = {{"include_usage", true}};
    const Sse s = post_stream(port(), "/v1/completions", sbody);
    EXPECT_EQ(s.status, 200);
    ASSERT_TRUE(s.done);
    ASSERT_GE(s.chunks.size(), 3u);
    std::string text;
    std::string finish;
    for (const json& c : s.chunks) {
        EXPECT_EQ(c["object"], "text_completion");
        if (c["choices"].empty()) continue;  // the usage chunk
        text += c["choices"][0]["text"].get<std::string>();
        if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(text, whole.body["choices"][0]["text"]);
    EXPECT_EQ(finish, whole.body["choices"][0]["finish_reason"]);
    const json& last = s.chunks.back();
    EXPECT_TRUE(last["choices"].empty());
    EXPECT_EQ(last["usage"], whole.body["usage"]);
}

TEST_F(Serve, ChatCompletionWholeAndStreamed) {
    const json msgs = json::array({{{"role", "system"}, {"content", "You tell stories."}},
                                   {{"role", "user"}, {"content", "Tell me about a cat."}}});
    const json body = {{"messages", msgs}, {"max_tokens", 40}, {"temperature", 0}};
    const Reply r = post_json(port(), "/v1/chat/completions", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["object"], "chat.completion");
    EXPECT_EQ(r.body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
    EXPECT_EQ(r.body["choices"][0]["message"]["role"], "assistant");
    const std::string content = r.body["choices"][0]["message"]["content"];
    EXPECT_FALSE(content.empty());
    const std::string finish = r.body["choices"][0]["finish_reason"];
    EXPECT_TRUE(finish == "stop" || finish == "length") << finish;
    EXPECT_GT(r.body["usage"]["prompt_tokens"].get<int>(), 5);

    // Content as a list of text parts is the same conversation.
    json parts = body;
    parts["messages"][1]["content"] = json::array({{{"type", "text"}, {"text", "Tell me "}}, {{"type", "text"}, {"text", "about a cat."}}});
    const Reply p = post_json(port(), "/v1/chat/completions", parts);
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_EQ(p.body["choices"][0]["message"]["content"], content);

    json sbody = body;
    sbody["stream"] = true;
    const Sse s = post_stream(port(), "/v1/chat/completions", sbody);
    EXPECT_EQ(s.status, 200);
    ASSERT_TRUE(s.done);
    ASSERT_GE(s.chunks.size(), 2u);
    EXPECT_EQ(s.chunks.front()["choices"][0]["delta"]["role"], "assistant");
    std::string text;
    for (const json& c : s.chunks) {
        EXPECT_EQ(c["object"], "chat.completion.chunk");
        const json& d = c["choices"][0]["delta"];
        if (d.contains("content")) text += d["content"].get<std::string>();
    }
    EXPECT_EQ(text, content);
    EXPECT_EQ(s.chunks.back()["choices"][0]["finish_reason"], finish);
    EXPECT_TRUE(s.chunks.back()["choices"][0]["delta"].empty());
}

TEST_F(Serve, StopStringEndsTheText) {
    const Reply whole = post_json(port(), "/v1/completions", greedy_completion("Once upon a time", 48));
    ASSERT_EQ(whole.status, 200);
    const std::string text = whole.body["choices"][0]["text"];
    const size_t at = text.find("Lily");
    ASSERT_NE(at, std::string::npos) << text;
    json body = greedy_completion("Once upon a time", 48);
    body["stop"] = json::array({"Lily", "zzz"});
    const Reply r = post_json(port(), "/v1/completions", body);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body["choices"][0]["text"], text.substr(0, at));
    EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
}

TEST_F(Serve, BatchedGreedyEqualsOneAtATime) {
    const std::vector<std::string> prompts = {"Once upon a time", "The dog", "Lily and Tom went", "One day, a bird",
                                              "The sun was", "Mom said", "There was a big tree", "A little fish"};
    auto body = [](const std::string& p) {
        return json{{"prompt", p}, {"max_tokens", 40}, {"temperature", 0}, {"ignore_eos", true}};
    };
    std::vector<std::string> alone;
    for (const auto& p : prompts) {
        const Reply r = post_json(port(), "/v1/completions", body(p));
        ASSERT_EQ(r.status, 200) << r.body;
        alone.push_back(r.body["choices"][0]["text"]);
    }
    std::vector<std::future<Reply>> futures;
    for (const auto& p : prompts)
        futures.push_back(std::async(std::launch::async, [&, p] { return post_json(port(), "/v1/completions", body(p)); }));
    for (size_t i = 0; i < prompts.size(); ++i) {
        const Reply r = futures[i].get();
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.body["choices"][0]["text"], alone[i]) << prompts[i];
        EXPECT_EQ(r.body["usage"]["completion_tokens"], 40);
    }
}

TEST_F(Serve, SeededSamplingIsReproducible) {
    const json body = {{"prompt", "The cat"}, {"max_tokens", 30}, {"temperature", 1.0}, {"seed", 1234}};
    const Reply a = post_json(port(), "/v1/completions", body);
    const Reply b = post_json(port(), "/v1/completions", body);
    ASSERT_EQ(a.status, 200);
    EXPECT_EQ(a.body["choices"][0]["text"], b.body["choices"][0]["text"]);
}

TEST_F(Serve, NextChatTurnReusesThePromptCache) {
    const json first = {{"messages", json::array({{{"role", "user"}, {"content", "Tell me a story about a frog."}}})},
                        {"max_tokens", 20}, {"temperature", 0}};
    const Reply r1 = post_json(port(), "/v1/chat/completions", first);
    ASSERT_EQ(r1.status, 200);
    const double cached0 = metric(get_text(port(), "/metrics"), "tern_prompt_tokens_cached_total");
    json second = first;
    second["messages"].push_back({{"role", "assistant"}, {"content", r1.body["choices"][0]["message"]["content"]}});
    second["messages"].push_back({{"role", "user"}, {"content", "What happened next?"}});
    const Reply r2 = post_json(port(), "/v1/chat/completions", second);
    ASSERT_EQ(r2.status, 200);
    const double cached1 = metric(get_text(port(), "/metrics"), "tern_prompt_tokens_cached_total");
    // At least the first turn's prompt was not evaluated again.
    EXPECT_GE(cached1 - cached0, r1.body["usage"]["prompt_tokens"].get<double>() - 1);
}

TEST_F(Serve, BadInputIs400AndTheServerKeepsWorking) {
    const std::string long_prompt = [] {
        std::string s;
        for (int i = 0; i < 300; ++i) s += "once upon a time ";
        return s;
    }();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"/v1/chat/completions", "{not json"},
        {"/v1/chat/completions", "[1, 2]"},
        {"/v1/chat/completions", "{}"},
        {"/v1/chat/completions", R"({"messages": "hi"})"},
        {"/v1/chat/completions", R"({"messages": []})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "robot", "content": "hi"}]})"},
        {"/v1/chat/completions", R"({"messages": [{"content": "hi"}]})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": 5}]})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "temperature": -1})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "top_p": 2})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "n": 2})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": "ten"})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "stop": 5})"},
        {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"})"},
        {"/v1/chat/completions", json{{"messages", json::array({{{"role", "user"}, {"content", long_prompt}}})}}.dump()},
        {"/v1/completions", R"({"max_tokens": 5})"},
        {"/v1/completions", R"({"prompt": 5})"},
        {"/v1/completions", R"({"prompt": [-1, 2]})"},
        {"/v1/completions", R"({"prompt": [1, 99999999]})"},
        {"/v1/completions", R"({"prompt": ["a", "b"]})"},
        {"/v1/completions", R"({"prompt": "hi", "min_p": 1.5})"},
        {"/v1/completions", R"({"prompt": "hi", "top_k": -3})"},
        {"/v1/completions", json{{"prompt", long_prompt}}.dump()},
        {"/tokenize", R"({"content": 5})"},
        {"/detokenize", R"({"tokens": ["a"]})"},
    };
    for (const auto& [path, body] : cases) {
        const Reply r = post_json(port(), path, body);
        EXPECT_EQ(r.status, 400) << path << " " << body << " -> " << r.body;
        ASSERT_TRUE(r.body.is_object()) << body;
        ASSERT_TRUE(r.body.contains("error")) << body;
        EXPECT_TRUE(r.body["error"]["message"].is_string()) << body;
        EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty()) << body;
        EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << body;
        EXPECT_EQ(r.body["error"]["code"], 400) << body;
    }
    // The range message is SamplingParams::validate's, naming the field.
    const Reply t = post_json(port(), "/v1/completions", std::string(R"({"prompt": "hi", "temperature": -1})"));
    EXPECT_NE(t.body["error"]["message"].get<std::string>().find("temp"), std::string::npos) << t.body;

    EXPECT_EQ(get(port(), "/health").status, 200);
    const Reply ok = post_json(port(), "/v1/completions", greedy_completion("Once upon a time", 8));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body["usage"]["completion_tokens"], 8);
}

// GET / is the chat page compiled into the binary: the file serve/chat.html
// byte for byte, with nothing loaded from elsewhere.
TEST_F(Serve, RootServesTheChatPage) {
    const std::string page = get_text(port(), "/");
    const auto want = test::read_file(std::string(TERN_SOURCE_DIR) + "/serve/chat.html");
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(page, std::string(want.begin(), want.end()));
    EXPECT_NE(page.find("/v1/chat/completions"), std::string::npos);
    EXPECT_EQ(page.find("http://"), std::string::npos);
    EXPECT_EQ(page.find("https://"), std::string::npos);
}

TEST_F(Serve, UnknownRouteIs404WithErrorBody) {
    const Reply r = get(port(), "/v1/nothing");
    EXPECT_EQ(r.status, 404);
    EXPECT_TRUE(r.body["error"]["message"].is_string());
}

TEST_F(Serve, TokenizeAndDetokenize) {
    const Reply t = post_json(port(), "/tokenize", json{{"content", "Once upon a time"}});
    ASSERT_EQ(t.status, 200) << t.body;
    ASSERT_TRUE(t.body["tokens"].is_array());
    EXPECT_GE(t.body["tokens"].size(), 3u);
    const Reply d = post_json(port(), "/detokenize", json{{"tokens", t.body["tokens"]}});
    ASSERT_EQ(d.status, 200) << d.body;
    EXPECT_EQ(d.body["content"], "Once upon a time");
}

TEST_F(Serve, MetricsCountRequestsAndTokens) {
    ASSERT_EQ(post_json(port(), "/v1/completions", greedy_completion("The bird", 5)).status, 200);
    const std::string m = get_text(port(), "/metrics");
    EXPECT_GE(metric(m, "tern_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"), 1) << m;
    EXPECT_GE(metric(m, "tern_prompt_tokens_total"), 2) << m;
    EXPECT_GE(metric(m, "tern_generated_tokens_total"), 5) << m;
    EXPECT_GE(metric(m, "tern_requests_active"), 0) << m;
    EXPECT_GE(metric(m, "tern_requests_queued"), 0) << m;
    EXPECT_GT(metric(m, "tern_tokens_per_second"), 0) << m;
}

TEST_F(Serve, ClientDisconnectMidStreamFreesTheSlot) {
    // As many hung-up streams as slots: were their slots not freed, the
    // request after them would wait forever.
    std::vector<std::future<Sse>> streams;
    for (int i = 0; i < 4; ++i)
        streams.push_back(std::async(std::launch::async, [&] {
            return post_stream(port(), "/v1/completions",
                               json{{"prompt", "Once upon a time"}, {"stream", true}, {"ignore_eos", true}, {"temperature", 0.8}},
                               /*stop_after=*/1);
        }));
    for (auto& f : streams) EXPECT_FALSE(f.get().done);
    const Reply r = post_json(port(), "/v1/completions", greedy_completion("Once upon a time", 8));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["usage"]["completion_tokens"], 8);
    double active = -1;
    for (int i = 0; i < 100 && active != 0; ++i) {
        active = metric(get_text(port(), "/metrics"), "tern_requests_active");
        if (active != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(active, 0);
}

TEST(ServeApiKey, V1NeedsTheBearerTokenHealthDoesNot) {
    ServerProcess s({"--api-key", "sekrit"});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    EXPECT_EQ(get(s.port(), "/health").status, 200);
    const Reply none = get(s.port(), "/v1/models");
    EXPECT_EQ(none.status, 401);
    EXPECT_TRUE(none.body["error"]["message"].is_string());
    EXPECT_EQ(get(s.port(), "/v1/models", "Bearer wrong").status, 401);
    EXPECT_EQ(get(s.port(), "/v1/models", "Bearer sekrit").status, 200);
    EXPECT_EQ(post_json(s.port(), "/v1/completions", greedy_completion("Hi", 2).dump()).status, 401);
    EXPECT_EQ(post_json(s.port(), "/v1/completions", greedy_completion("Hi", 2).dump(), "Bearer sekrit").status, 200);
    EXPECT_EQ(s.stop(), 0) << s.stderr_text();
}

TEST(ServeShutdown, SigtermFinishesInFlightStreamAndExitsZero) {
    ServerProcess s({});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    std::promise<void> started;
    auto fut = std::async(std::launch::async, [&] {
        // The first chunk arrives -> SIGTERM; the stream must still end properly.
        httplib::Client c = client_for(s.port());
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/completions";
        req.body = json{{"prompt", "Once upon a time"}, {"stream", true}, {"max_tokens", 150}, {"ignore_eos", true}}.dump();
        req.set_header("Content-Type", "application/json");
        std::string all;
        bool signalled = false;
        req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
            all.append(d, n);
            if (!signalled) {
                signalled = true;
                started.set_value();
            }
            return true;
        };
        httplib::Response res;
        httplib::Error err = httplib::Error::Success;
        c.send(req, res, err);
        if (!signalled) started.set_value();
        return all;
    });
    ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(s.stop(), 0) << s.stderr_text();
    const std::string all = fut.get();
    EXPECT_NE(all.find("data: [DONE]"), std::string::npos) << all;
    EXPECT_NE(all.find("\"finish_reason\":\"length\""), std::string::npos) << all;
}

}  // namespace
}  // namespace tern
