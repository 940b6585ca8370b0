// `tern serve` as a production service (issue 17): API keys from a file, the
// per-client rate limit, the request size limit, the content filter, the
// response cache, the metrics (histograms, counters, process figures), the
// access log, and the Prometheus alert rules. Same harness as serve_test: the
// binary on a free loopback port, stopped with SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "clients.h"  // client_hash (checked against a SHA-256 test vector in serve_parts_test)
#include "serve_util.h"
#include "test_util.h"

namespace tern {
namespace {

using namespace serve_client;
using serve::client_hash;

std::string write_text(const std::string& stem, const std::string& text) {
    const std::string path = test::temp_path(stem);
    std::ofstream(path) << text;
    return path;
}

// A raw HTTP exchange: sends `request` as is and reads until the server
// closes, `quiet_ms` pass without a byte, or 10 s in all.
std::string raw_exchange(int port, const std::string& request, int quiet_ms = 3000) {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(s);
        return "";
    }
    if (write(s, request.data(), request.size()) != ssize_t(request.size())) {
        close(s);
        return "";
    }
    std::string out;
    char buf[4096];
    const auto until = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < until) {
        pollfd p{s, POLLIN, 0};
        if (poll(&p, 1, quiet_ms) <= 0) break;
        const ssize_t n = read(s, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, size_t(n));
    }
    close(s);
    return out;
}

// A request sent on a raw socket and left waiting for its answer; the
// destructor hangs up (the client going away).
class PendingRequest {
public:
    PendingRequest(int port, const json& body) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        const std::string b = body.dump();
        const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(b.size()) + "\r\n\r\n" + b;
        ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
              write(fd_, req.data(), req.size()) == ssize_t(req.size());
    }
    ~PendingRequest() { hang_up(); }
    bool ok() const { return ok_; }
    void hang_up() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
    bool ok_ = false;
};

// Long enough to hold a slot for seconds: thousands of tokens in a large context.
json long_request() {
    return {{"prompt", "Once upon a time"}, {"max_tokens", 4000}, {"ignore_eos", true}, {"temperature", 0}};
}

// Polls /metrics (5 s at most) until `name` reaches `want` (from below, or
// from above with `down`); returns the last value.
double metric_reaching(int port, const std::string& name, double want, bool down = false) {
    double v = -1;
    for (int i = 0; i < 100; ++i) {
        v = metric(get_text(port, "/metrics"), name);
        if (down ? v >= 0 && v <= want : v >= want) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return v;
}

// --- clients and the rate limit ---------------------------------------------

TEST(ServeService, SixthRequestInAMinuteIs429WhileAnotherKeyIsServed) {
    const std::string key_a = "alpha-key-7f3c91d2e5";
    const std::string key_b = "bravo-key-0a4b8c6d1e";
    const std::string keys = write_text("serve_keys", "\n" + key_a + "\n  " + key_b + "  \n\n");
    ServerProcess s({"--api-key-file", keys, "--rate-limit", "5"});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    const json body = greedy_completion("Once upon a time", 4);
    for (int i = 0; i < 5; ++i) {
        const Reply r = post_json(s.port(), "/v1/completions", body.dump(), "Bearer " + key_a);
        ASSERT_EQ(r.status, 200) << i << " " << r.body;
    }
    httplib::Client c = client_for(s.port());
    const auto sixth = c.Post("/v1/completions", {{"Authorization", "Bearer " + key_a}}, body.dump(), "application/json");
    ASSERT_TRUE(sixth);
    EXPECT_EQ(sixth->status, 429);
    ASSERT_TRUE(sixth->has_header("Retry-After"));
    const int retry = std::stoi(sixth->get_header_value("Retry-After"));
    EXPECT_GE(retry, 1);
    EXPECT_LE(retry, 60);
    const json err = json::parse(sixth->body);
    EXPECT_EQ(err["error"]["type"], "rate_limit_exceeded") << err;
    EXPECT_EQ(err["error"]["code"], 429);

    // The other key has its own window; a wrong key is still 401, not 429.
    EXPECT_EQ(post_json(s.port(), "/v1/completions", body.dump(), "Bearer " + key_b).status, 200);
    EXPECT_EQ(post_json(s.port(), "/v1/completions", body.dump(), "Bearer not-a-key").status, 401);
    // Health and metrics are not client traffic.
    EXPECT_EQ(get(s.port(), "/health").status, 200);
    const std::string m = get_text(s.port(), "/metrics", "Bearer " + key_a);
    EXPECT_EQ(metric(m, "tern_rejections_total{reason=\"rate_limit\"}"), 1) << m;
    EXPECT_EQ(metric(m, "tern_requests_total{endpoint=\"/v1/completions\",status=\"429\"}"), 1) << m;
    EXPECT_EQ(metric(m, "tern_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"), 6) << m;

    // The log names clients by hash only: never a key, never the prompt.
    EXPECT_EQ(s.stop(), 0);
    const std::string log = s.stderr_text();
    EXPECT_EQ(log.find(key_a), std::string::npos) << log;
    EXPECT_EQ(log.find(key_b), std::string::npos) << log;
    EXPECT_EQ(log.find("Once upon"), std::string::npos) << log;
    EXPECT_NE(log.find("client=" + client_hash(key_a)), std::string::npos) << log;
    EXPECT_NE(log.find("client=" + client_hash(key_b)), std::string::npos) << log;
    EXPECT_NE(log.find("endpoint=/v1/completions status=429"), std::string::npos) << log;
    std::remove(keys.c_str());
}

TEST(ServeService, RepeatedApiKeyFlagsAllWork) {
    ServerProcess s({"--api-key", "first-key", "--api-key", "second-key"});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    EXPECT_EQ(get(s.port(), "/v1/models", "Bearer first-key").status, 200);
    EXPECT_EQ(get(s.port(), "/v1/models", "Bearer second-key").status, 200);
    EXPECT_EQ(get(s.port(), "/v1/models", "Bearer third-key").status, 401);
    EXPECT_EQ(s.stop(), 0);
}

// --- slots and the queue (left from the server issue) ------------------------

TEST(ServeService, ClientDisconnectDuringWholeAnswerFreesTheSlot) {
    ServerProcess s({}, /*np=*/1, /*ctx=*/4096);
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    PendingRequest hung(s.port(), long_request());
    ASSERT_TRUE(hung.ok());
    ASSERT_EQ(metric_reaching(s.port(), "tern_requests_active", 1), 1);
    hung.hang_up();
    // Freed at once, long before its 4000 tokens: counted as cancelled.
    EXPECT_EQ(metric_reaching(s.port(), "tern_requests_cancelled_total", 1), 1);
    const std::string m = get_text(s.port(), "/metrics");
    EXPECT_EQ(metric(m, "tern_requests_active"), 0) << m;
    EXPECT_LT(metric(m, "tern_generated_tokens_total"), 4000) << m;
    const Reply r = post_json(s.port(), "/v1/completions", greedy_completion("Once upon a time", 8));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["usage"]["completion_tokens"], 8);
    EXPECT_EQ(s.stop(), 0);
}

TEST(ServeService, MoreRequestsThanSlotsAndQueueGet503) {
    ServerProcess s({"--queue-size", "1"}, /*np=*/1, /*ctx=*/4096);
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    PendingRequest running(s.port(), long_request());
    ASSERT_EQ(metric_reaching(s.port(), "tern_requests_active", 1), 1);
    PendingRequest waiting(s.port(), long_request());
    ASSERT_EQ(metric_reaching(s.port(), "tern_requests_queued", 1), 1);
    const Reply full = post_json(s.port(), "/v1/completions", greedy_completion("Once upon a time", 4));
    EXPECT_EQ(full.status, 503) << full.body;
    EXPECT_EQ(full.body["error"]["type"], "unavailable_error") << full.body;
    EXPECT_NE(full.body["error"]["message"].get<std::string>().find("queue is full"), std::string::npos) << full.body;
    EXPECT_EQ(metric(get_text(s.port(), "/metrics"), "tern_rejections_total{reason=\"queue_full\"}"), 1);
    // Both hang up: the slot and the queue empty, and the server answers again.
    running.hang_up();
    waiting.hang_up();
    EXPECT_EQ(metric_reaching(s.port(), "tern_requests_active", 0, /*down=*/true), 0);
    EXPECT_EQ(metric_reaching(s.port(), "tern_requests_queued", 0, /*down=*/true), 0);
    const Reply ok = post_json(s.port(), "/v1/completions", greedy_completion("Once upon a time", 4));
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(s.stop(), 0);
}

// --- size limit -------------------------------------------------------------

TEST(ServeService, LargerBodyIs413AndIsNotRead) {
    ServerProcess s({"--max-request-bytes", "1000"});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    // Just under the limit: an ordinary answer.
    json small = greedy_completion("Once upon a time", 2);
    small["user"] = std::string(1000 - small.dump().size() - 10, 'x');
    ASSERT_LE(small.dump().size(), 1000u);
    EXPECT_EQ(post_json(s.port(), "/v1/completions", small.dump()).status, 200);

    json big = greedy_completion("Once upon a time", 2);
    big["user"] = std::string(2000, 'x');
    const Reply r = post_json(s.port(), "/v1/completions", big.dump());
    EXPECT_EQ(r.status, 413) << r.body;
    EXPECT_TRUE(r.body["error"]["message"].is_string()) << r.body;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find("1000"), std::string::npos) << r.body;

    // Headers announcing 100 MB and no body at all: the answer comes without
    // waiting for a byte of it (were the server reading it, it would time out).
    const std::string declared = raw_exchange(
        s.port(), "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n");
    EXPECT_EQ(declared.rfind("HTTP/1.1 413", 0), 0u) << declared;
    EXPECT_NE(declared.find("\"error\""), std::string::npos) << declared;
    // curl's way for large bodies: Expect: 100-continue gets the 413 instead of "100 Continue".
    const std::string expect = raw_exchange(
        s.port(), "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(expect.rfind("HTTP/1.1 413", 0), 0u) << expect;
    // A chunked body (no length up front) is cut off at the limit: two chunks
    // of 600 bytes and no last chunk, so the answer can only come from the
    // limit. (Sent whole on a raw socket before the answer is read: a client
    // still writing when the server hangs up may lose the answer to a reset.)
    const std::string chunk = "258\r\n" + std::string(600, 'y') + "\r\n";
    const std::string chunked = raw_exchange(
        s.port(), "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n" + chunk + chunk);
    EXPECT_EQ(chunked.rfind("HTTP/1.1 413", 0), 0u) << chunked;

    EXPECT_EQ(metric(get_text(s.port(), "/metrics"), "tern_rejections_total{reason=\"too_large\"}"), 4);
    const Reply ok = post_json(s.port(), "/v1/completions", greedy_completion("The dog", 3));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body["usage"]["completion_tokens"], 3);
    EXPECT_EQ(s.stop(), 0);
}

// --- content filter -----------------------------------------------------------

TEST(ServeService, ContentFilterRefusesMatchesOnlyAndBadPatternIsAStartupError) {
    const std::string deny = write_text("serve_deny", "kill\\s+all\\s+humans\n\n(?i)secret\\s+plan\n");
    ServerProcess s({"--deny-regex", deny});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    auto chat = [](const std::string& text) {
        return json{{"messages", json::array({{{"role", "system"}, {"content", "Be kind."}},
                                              {{"role", "user"}, {"content", text}}})},
                    {"max_tokens", 3}, {"temperature", 0}};
    };
    const Reply hit = post_json(s.port(), "/v1/chat/completions", chat("please kill  all humans now"));
    EXPECT_EQ(hit.status, 400) << hit.body;
    EXPECT_EQ(hit.body["error"]["type"], "content_filter") << hit.body;
    const Reply hit2 = post_json(s.port(), "/v1/completions", json{{"prompt", "Our SECRET plan is"}, {"max_tokens", 3}});
    EXPECT_EQ(hit2.status, 400) << hit2.body;
    EXPECT_EQ(hit2.body["error"]["type"], "content_filter") << hit2.body;
    // Near misses: the first pattern is case-sensitive and wants "all humans".
    const Reply miss = post_json(s.port(), "/v1/chat/completions", chat("Kill all humans? Kill all the humans!"));
    EXPECT_EQ(miss.status, 200) << miss.body;
    const Reply miss2 = post_json(s.port(), "/v1/completions", json{{"prompt", "the secretly planned party"}, {"max_tokens", 3}});
    EXPECT_EQ(miss2.status, 200) << miss2.body;
    const std::string m = get_text(s.port(), "/metrics");
    EXPECT_EQ(metric(m, "tern_rejections_total{reason=\"content_filter\"}"), 2) << m;
    EXPECT_EQ(s.stop(), 0);

    // An invalid pattern stops the server before it listens, naming the line.
    const std::string bad = write_text("serve_deny_bad", "fine\n\n(unclosed\n");
    std::string out;
    const int rc = test::run_tern("serve -m " + kModel + " --port 0 --deny-regex " + bad, &out, true);
    EXPECT_NE(rc, 0) << out;
    EXPECT_NE(out.find(bad + ":3:"), std::string::npos) << out;
    EXPECT_EQ(out.find("listening"), std::string::npos) << out;
    std::remove(deny.c_str());
    std::remove(bad.c_str());
}

// --- response cache -----------------------------------------------------------

json without_id(json j) {
    j.erase("id");
    j.erase("created");
    return j;
}

TEST(ServeService, CacheHitIsIdenticalCountedAndGeneratesNothing) {
    ServerProcess s({"--cache-responses", "4"});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    const json chat = {{"messages", json::array({{{"role", "user"}, {"content", "Tell me about a red ball."}}})},
                       {"max_tokens", 24}, {"temperature", 0}};
    const Reply first = post_json(s.port(), "/v1/chat/completions", chat);
    ASSERT_EQ(first.status, 200) << first.body;
    std::string m = get_text(s.port(), "/metrics");
    const double generated = metric(m, "tern_generated_tokens_total");
    EXPECT_EQ(metric(m, "tern_response_cache_misses_total"), 1) << m;
    EXPECT_EQ(metric(m, "tern_response_cache_hits_total"), 0) << m;

    const Reply again = post_json(s.port(), "/v1/chat/completions", chat);
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_NE(again.body["id"], first.body["id"]);
    EXPECT_EQ(without_id(again.body), without_id(first.body));

    // Streamed, the same answer from the cache.
    json sbody = chat;
    sbody["stream"] = true;
    sbody["stream_options"] = {{"include_usage", true}};
    const Sse st = post_stream(s.port(), "/v1/chat/completions", sbody);
    ASSERT_TRUE(st.done);
    std::string text;
    for (const json& c : st.chunks)
        if (!c["choices"].empty() && c["choices"][0]["delta"].contains("content"))
            text += c["choices"][0]["delta"]["content"].get<std::string>();
    EXPECT_EQ(text, first.body["choices"][0]["message"]["content"]);
    EXPECT_EQ(st.chunks.back()["usage"], first.body["usage"]);

    m = get_text(s.port(), "/metrics");
    EXPECT_EQ(metric(m, "tern_response_cache_hits_total"), 2) << m;
    EXPECT_EQ(metric(m, "tern_generated_tokens_total"), generated) << "a hit ran the model";

    // Any sampling field changes the key; sampling without a seed is not cached at all.
    json other = chat;
    other["max_tokens"] = 23;
    EXPECT_EQ(post_json(s.port(), "/v1/chat/completions", other).status, 200);
    json random = chat;
    random["temperature"] = 0.9;
    EXPECT_EQ(post_json(s.port(), "/v1/chat/completions", random).status, 200);
    EXPECT_EQ(post_json(s.port(), "/v1/chat/completions", random).status, 200);
    m = get_text(s.port(), "/metrics");
    EXPECT_EQ(metric(m, "tern_response_cache_misses_total"), 2) << m;
    EXPECT_EQ(metric(m, "tern_response_cache_hits_total"), 2) << m;
    // A fixed seed is deterministic: the second one is a hit.
    const json seeded = {{"prompt", "The cat"}, {"max_tokens", 16}, {"temperature", 1.0}, {"seed", 7}};
    const Reply s1 = post_json(s.port(), "/v1/completions", seeded);
    const Reply s2 = post_json(s.port(), "/v1/completions", seeded);
    ASSERT_EQ(s2.status, 200);
    EXPECT_EQ(without_id(s1.body), without_id(s2.body));
    EXPECT_EQ(metric(get_text(s.port(), "/metrics"), "tern_response_cache_hits_total"), 3);
    EXPECT_EQ(s.stop(), 0);
}

// --- metrics and logs -----------------------------------------------------------

TEST(ServeService, MetricsHistogramsAndCountersMove) {
    ServerProcess s({"--log-format", "json"});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    const std::string dur = "tern_request_duration_seconds_count{endpoint=\"/v1/completions\"}";
    const std::string inf = "tern_request_duration_seconds_bucket{endpoint=\"/v1/completions\",le=\"+Inf\"}";
    const std::string ttft = "tern_time_to_first_token_seconds_count";
    const std::string ok = "tern_requests_total{endpoint=\"/v1/completions\",status=\"200\"}";
    const std::string bad = "tern_requests_total{endpoint=\"/v1/completions\",status=\"400\"}";
    const std::string m0 = get_text(s.port(), "/metrics");
    EXPECT_EQ(metric(m0, ttft), 0) << m0;
    EXPECT_EQ(metric(m0, "tern_rejections_total{reason=\"bad_request\"}"), 0) << m0;
    EXPECT_GT(metric(m0, "process_resident_memory_bytes"), 1e6) << m0;
    EXPECT_GT(metric(m0, "process_cpu_seconds_total"), 0) << m0;
    EXPECT_GT(metric(m0, "tern_model_file_bytes"), 1e6) << m0;

    for (int i = 0; i < 3; ++i) ASSERT_EQ(post_json(s.port(), "/v1/completions", greedy_completion("A bird", 4)).status, 200);
    EXPECT_EQ(post_json(s.port(), "/v1/completions", std::string("{nope")).status, 400);
    json stream = greedy_completion("A frog", 4);
    stream["stream"] = true;
    EXPECT_TRUE(post_stream(s.port(), "/v1/completions", stream).done);
    // A stream is counted when its last byte is written, after the client saw it.
    EXPECT_EQ(metric_reaching(s.port(), dur, 5), 5);
    const std::string m1 = get_text(s.port(), "/metrics");
    EXPECT_EQ(metric(m1, inf), 5) << m1;
    EXPECT_EQ(metric(m1, ok), 4) << m1;
    EXPECT_EQ(metric(m1, bad), 1) << m1;
    EXPECT_EQ(metric(m1, ttft), 4) << m1;
    EXPECT_EQ(metric(m1, "tern_rejections_total{reason=\"bad_request\"}"), 1) << m1;
    EXPECT_GT(metric(m1, "tern_request_duration_seconds_sum{endpoint=\"/v1/completions\"}"), 0) << m1;
    EXPECT_EQ(metric(m1, "tern_generated_tokens_total"), 16) << m1;

    // Prometheus' own linter accepts the exposition, when it is installed.
    if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
        const std::string file = write_text("serve_metrics", m1);
        std::string out;
        EXPECT_EQ(test::run_command("promtool check metrics < " + file, &out, true), 0) << out;
        std::remove(file.c_str());
    }

    // JSON log lines: one per request, with the fields and no prompt text.
    EXPECT_EQ(s.stop(), 0);
    int lines = 0;
    std::istringstream log(s.stderr_text());
    for (std::string line; std::getline(log, line);) {
        if (line.empty() || line[0] != '{') continue;
        const json j = json::parse(line);
        if (j["endpoint"] != "/v1/completions") continue;
        ++lines;
        EXPECT_EQ(j["client"], client_hash("127.0.0.1")) << line;
        EXPECT_TRUE(j["time"].is_string()) << line;
        EXPECT_TRUE(j["duration_ms"].is_number()) << line;
        if (j["status"] == 200) {
            EXPECT_EQ(j["completion_tokens"], 4) << line;
        }
        EXPECT_EQ(line.find("bird"), std::string::npos) << line;
        EXPECT_EQ(line.find("frog"), std::string::npos) << line;
        EXPECT_FALSE(j.contains("prompt")) << line;
    }
    EXPECT_EQ(lines, 5) << s.stderr_text();
}

TEST(ServeService, LogPromptsWritesPromptAndAnswer) {
    ServerProcess s({"--log-prompts"});
    ASSERT_GT(s.port(), 0) << s.stderr_text();
    const Reply r = post_json(s.port(), "/v1/completions", greedy_completion("The purple elephant", 6));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(s.stop(), 0);
    const std::string log = s.stderr_text();
    EXPECT_NE(log.find("prompt=\"The purple elephant\""), std::string::npos) << log;
    EXPECT_NE(log.find("answer=" + json(r.body["choices"][0]["text"]).dump()), std::string::npos) << log;
}

TEST(ServeService, AlertRulesPassPromtool) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed (Debian: prometheus)";
    const std::string dir = std::string(TERN_SOURCE_DIR) + "/deploy/prometheus";
    std::string out;
    EXPECT_EQ(test::run_command("promtool check rules " + dir + "/tern-alerts.yml", &out, true), 0) << out;
    EXPECT_NE(out.find("SUCCESS: 5 rules found"), std::string::npos) << out;
    // Each alert fires on a series past its threshold and not on one inside it.
    EXPECT_EQ(test::run_command("cd " + dir + " && promtool test rules tern-alerts.test.yml", &out, true), 0) << out;
}

}  // namespace
}  // namespace tern
