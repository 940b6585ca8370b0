// The server's service parts on their own (serve/, linked in directly): the
// sliding-window rate limit with a clock the test controls, the response
// cache's keys and LRU order, the deny list, the client hash, the log line,
// base64, and the engine's embedding mode driven directly.
#include <fstream>

#include <gtest/gtest.h>

#include "access_log.h"
#include "clients.h"
#include "deny_list.h"
#include "engine.h"
#include "openai.h"
#include "response_cache.h"
#include "tern/error.h"
#include "test_util.h"

namespace tern::serve {
namespace {

using namespace std::chrono_literals;

TEST(ServeParts, RateLimitWindowSlidesAndRetryAfterCountsToTheOldest) {
    RateLimiter rl(3);
    const auto t0 = RateLimiter::Clock::time_point{} + 1000s;
    EXPECT_EQ(rl.admit("a", t0), 0);
    EXPECT_EQ(rl.admit("a", t0 + 10s), 0);
    EXPECT_EQ(rl.admit("a", t0 + 20s), 0);
    // Full: the oldest (t0) leaves the window at t0 + 60 s.
    EXPECT_EQ(rl.admit("a", t0 + 30s), 30);
    EXPECT_EQ(rl.admit("a", t0 + 59s + 500ms), 1);  // half a second rounds up
    EXPECT_EQ(rl.admit("b", t0 + 30s), 0);          // another client has its own window
    // Refused requests were not counted: at t0 + 60 s one slot is free, then none until t0 + 70 s.
    EXPECT_EQ(rl.admit("a", t0 + 60s), 0);
    EXPECT_EQ(rl.admit("a", t0 + 61s), 9);
    EXPECT_EQ(rl.admit("a", t0 + 200s), 0);  // a quiet minute empties the window
    RateLimiter off(0);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(off.admit("a", t0), 0);
}

TEST(ServeParts, ClientHashIsTheSha256Prefix) {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad (FIPS 180-2).
    EXPECT_EQ(client_hash("abc"), "ba7816bf8f01cfea");
    EXPECT_EQ(client_hash("127.0.0.1").size(), 16u);
    EXPECT_NE(client_hash("127.0.0.1"), client_hash("127.0.0.2"));
}

TEST(ServeParts, ApiKeysFromFileAndBearerMatching) {
    const std::string path = test::temp_path("keys");
    std::ofstream(path) << "  k-one \r\n\n k-two\n";
    const auto keys = read_api_key_file(path);
    ASSERT_EQ(keys, (std::vector<std::string>{"k-one", "k-two"}));
    EXPECT_EQ(matching_key("Bearer k-two", keys), "k-two");
    EXPECT_EQ(matching_key("Bearer k-tw", keys), "");
    EXPECT_EQ(matching_key("k-one", keys), "");
    std::ofstream(path) << "\n \n";
    EXPECT_THROW(read_api_key_file(path), Error);
    std::remove(path.c_str());
}

TEST(ServeParts, ResponseCacheKeysAndEvictsLeastRecentlyUsed) {
    ResponseCache cache(2);
    GenRequest greedy;
    greedy.sampling.temp = 0;
    GenRequest sampled;
    sampled.sampling.temp = 0.8f;
    const nlohmann::json a = {{"prompt", "a"}, {"temperature", 0}};
    // Streaming or not: the same key; another endpoint or field: another.
    nlohmann::json a_stream = a;
    a_stream["stream"] = true;
    a_stream["stream_options"] = {{"include_usage", true}};
    EXPECT_EQ(cache.key(Endpoint::completion, a, greedy), cache.key(Endpoint::completion, a_stream, greedy));
    EXPECT_NE(cache.key(Endpoint::completion, a, greedy), cache.key(Endpoint::chat, a, greedy));
    EXPECT_NE(cache.key(Endpoint::completion, a, greedy), cache.key(Endpoint::completion, {{"prompt", "a"}, {"temperature", 0.0}}, greedy));
    // Sampling is cacheable only with a fixed seed.
    EXPECT_EQ(cache.key(Endpoint::completion, {{"prompt", "a"}}, sampled), "");
    EXPECT_EQ(cache.key(Endpoint::completion, {{"prompt", "a"}, {"seed", -1}}, sampled), "");
    EXPECT_NE(cache.key(Endpoint::completion, {{"prompt", "a"}, {"seed", 3}}, sampled), "");
    EXPECT_EQ(ResponseCache(0).key(Endpoint::completion, a, greedy), "");

    cache.put("k1", {"one", "stop", 1, 1});
    cache.put("k2", {"two", "stop", 2, 2});
    ASSERT_TRUE(cache.find("k1"));  // k1 is now the most recent: k2 goes next
    cache.put("k3", {"three", "length", 3, 3});
    EXPECT_FALSE(cache.find("k2"));
    ASSERT_TRUE(cache.find("k1"));
    EXPECT_EQ(cache.find("k1")->text, "one");
    ASSERT_TRUE(cache.find("k3"));
    EXPECT_EQ(cache.find("k3")->finish_reason, "length");
    EXPECT_EQ(cache.find("k3")->n_generated, 3);
}

TEST(ServeParts, DenyListMatchesAnywhereAndNamesBadLines) {
    const std::string path = test::temp_path("deny");
    std::ofstream(path) << "forbidden\n\n(?i)\\bsecret\\b\r\n";
    const DenyList d = DenyList::load(path);
    EXPECT_EQ(d.match("this is forbidden fruit"), 1);
    EXPECT_EQ(d.match("a SECRET plan"), 3);
    EXPECT_EQ(d.match("secretly"), 0);
    EXPECT_EQ(d.match("Forbidden"), 0);
    EXPECT_EQ(d.match(std::string("bad utf-8 \xff\xfe secret")), 3);
    std::ofstream(path) << "ok\n[z-a]\n";
    try {
        DenyList::load(path);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ":2:"), std::string::npos) << e.what();
    }
    std::remove(path.c_str());
}

TEST(ServeParts, LogLineHasTheFieldsAndPromptsOnlyWhenAsked) {
    RequestRecord r;
    r.method = "POST";
    r.endpoint = "/v1/completions";
    r.client = "0123456789abcdef";
    r.status = 200;
    r.prompt_tokens = 5;
    r.completion_tokens = 7;
    r.cache = "miss";
    r.prompt = "tell me a secret";
    r.answer = "no";
    const auto t = std::chrono::system_clock::time_point{} + std::chrono::seconds(1767225600) + 123ms;  // 2026-01-01
    EXPECT_EQ(AccessLog(LogFormat::text, false).line(r, 0.25, t),
              "2026-01-01T00:00:00.123Z method=POST endpoint=/v1/completions status=200 client=0123456789abcdef "
              "prompt_tokens=5 completion_tokens=7 duration_ms=250.0 cache=miss");
    EXPECT_EQ(AccessLog(LogFormat::json, true).line(r, 0.25, t),
              R"({"time":"2026-01-01T00:00:00.123Z","method":"POST","endpoint":"/v1/completions","status":200,)"
              R"("client":"0123456789abcdef","prompt_tokens":5,"completion_tokens":7,"duration_ms":250.0,"cache":"miss",)"
              R"("prompt":"tell me a secret","answer":"no"})");
}

TEST(ServeParts, Base64IsRfc4648) {
    // RFC 4648 section 10's vectors: every padding case.
    const std::vector<std::pair<std::string, std::string>> v = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"}};
    for (const auto& [in, out] : v) EXPECT_EQ(base64_encode(in.data(), in.size()), out) << in;
    const unsigned char high[3] = {0xfb, 0xff, 0xbf};  // the last two characters of the alphabet
    EXPECT_EQ(base64_encode(high, 3), "+/+/");
    // An embedding's bytes: 1.0f is 00 00 80 3f in little-endian order.
    const float one = 1.0f;
    EXPECT_EQ(base64_encode(&one, sizeof one), "AACAPw==");
}

// The engine on an embedding model: queued jobs are embedded as the library
// embeds them; a job whose deadline passed while it waited is ended early
// (counted as a timeout); the queue bound holds for embedding jobs too.
TEST(ServeParts, EngineEmbedsQueuedJobsAndEndsLateOnes) {
    const Model model = Model::load(std::string(TERN_TEST_DATA_DIR) + "/models/qwen3_i2s_embd.gguf");
    const Tokenizer tok = Tokenizer::from_model(model);
    Metrics metrics;
    EngineOptions eo;
    eo.n_seq = 2;
    eo.n_ctx = 32;
    eo.n_threads = 1;
    eo.max_queue = 2;
    const auto now = std::chrono::steady_clock::now();
    auto job_of = [&](std::vector<std::vector<int32_t>> inputs, std::chrono::steady_clock::time_point deadline) {
        auto job = std::make_shared<Job>();
        job->embed.emplace();
        job->embed->inputs = std::move(inputs);
        job->start = now;
        job->deadline = deadline;
        return job;
    };
    auto wait = [](Job& job) {
        Update u;
        for (int i = 0; i < 600 && !u.done; ++i) u = job.out.take(std::chrono::milliseconds(100));
        return u;
    };
    const std::vector<std::vector<int32_t>> inputs = {{12, 25, 0}, {57, 85, 40, 0}};
    EmbedOptions lo;
    lo.n_ctx = 32;
    lo.n_threads = 1;
    const std::vector<std::vector<float>> want = Embedder(model, lo).embed(inputs);
    {
        Engine engine(model, tok, eo, metrics);
        ASSERT_TRUE(engine.embedding());
        EXPECT_EQ(engine.n_embd(), 64);
        EXPECT_EQ(engine.n_ctx(), 32);
        const auto on_time = job_of(inputs, now + std::chrono::seconds(60));
        const auto late = job_of({{12, 0}}, now - std::chrono::seconds(1));
        ASSERT_EQ(engine.submit(on_time), Engine::Submit::ok);
        ASSERT_EQ(engine.submit(late), Engine::Submit::ok);
        const Update a = wait(*on_time);
        ASSERT_TRUE(a.done);
        EXPECT_TRUE(a.error.empty() && !a.cut_short) << a.error;
        EXPECT_EQ(a.n_prompt, 7);
        EXPECT_EQ(on_time->embeddings, want);
        const Update b = wait(*late);
        ASSERT_TRUE(b.done);
        EXPECT_TRUE(b.cut_short);
        EXPECT_TRUE(late->embeddings.empty());
    }
    EXPECT_NE(metrics.render().find("tern_rejections_total{reason=\"timeout\"} 1"), std::string::npos) << metrics.render();
    EXPECT_EQ(metrics.prompt_tokens, 7);
    EXPECT_EQ(metrics.active, 0);

    eo.max_queue = 0;  // nothing may wait: every submission is refused
    Engine full(model, tok, eo, metrics);
    EXPECT_EQ(full.submit(job_of(inputs, now + std::chrono::seconds(60))), Engine::Submit::queue_full);
}

}  // namespace
}  // namespace tern::serve
