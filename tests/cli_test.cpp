// The tern binary end to end: tokenize, run, chat (piped), perplexity, and
// the bad-input messages users see (bench: bench_cli_test.cpp).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tern/gguf.h"
#include "test_util.h"

namespace tern {
namespace {

const std::string kGolden = std::string(TERN_TEST_DATA_DIR) + "/models/b158_i2s_g4.gguf";

// One byte-vocabulary copy of a golden model per test process, removed at exit.
const std::string& byte_model() {
    struct File {
        std::string path = test::write_byte_vocab_model(kGolden);
        ~File() { std::filesystem::remove(path); }
    };
    static const File f;
    return f.path;
}

std::string write_temp(const std::string& stem, const std::string& content) {
    const std::string p = test::temp_path(stem);
    test::write_file(p, std::vector<uint8_t>(content.begin(), content.end()));
    return p;
}

TEST(Cli, Tokenize) {
    std::string out;
    ASSERT_EQ(test::run_tern("tokenize -m " + byte_model() + " -p 'Hi!'", &out), 0);
    EXPECT_EQ(out, "256,72,105,33\n");
    ASSERT_EQ(test::run_tern("tokenize -m " + byte_model() + " -p 'Hi' --no-bos", &out), 0);
    EXPECT_EQ(out, "72,105\n");
    ASSERT_EQ(test::run_tern("tokenize -m " + byte_model() + " -p 'Hi' --pieces", &out), 0);
    EXPECT_EQ(out, "256\t<|begin_of_text|>\n72\tH\n105\ti\n");
    const std::string f = write_temp("text.txt", "a b");
    ASSERT_EQ(test::run_tern("tokenize -m " + byte_model() + " -f " + f + " --no-bos", &out), 0);
    EXPECT_EQ(out, "97,32,98\n");
    // Special-token text is text unless asked.
    ASSERT_EQ(test::run_tern("tokenize -m " + byte_model() + " -p '<|eot_id|>' --no-bos --parse-special", &out), 0);
    EXPECT_EQ(out, "258\n");
    ASSERT_EQ(test::run_tern("tokenize -m " + byte_model() + " -p '<|eot_id|>' --no-bos", &out), 0);
    EXPECT_EQ(out.substr(0, 7), "60,124,");
    std::filesystem::remove(f);
}

TEST(Cli, RunTextEqualsRunIds) {
    std::string by_text, by_ids;
    ASSERT_EQ(test::run_tern("run -m " + byte_model() + " -p 'Hello' -n 6 --temp 0 --no-stats --print-ids", &by_text), 0);
    ASSERT_EQ(test::run_tern("run -m " + byte_model() + " --prompt-tokens 256,72,101,108,108,111 -n 6 --temp 0 --no-stats "
                             "--print-ids",
                             &by_ids),
              0);
    EXPECT_EQ(by_text, by_ids);
    EXPECT_EQ(std::count(by_text.begin(), by_text.end(), ','), 5) << by_text;
    // Prompt from stdin.
    std::string from_stdin;
    ASSERT_EQ(test::run_tern("run -m " + byte_model() + " -p - -n 6 --temp 0 --no-stats --print-ids < " +
                                 write_temp("p.txt", "Hello"),
                             &from_stdin),
              0);
    EXPECT_EQ(from_stdin, by_text);
}

TEST(Cli, RunSeedsAreReproducible) {
    std::string a, b, c;
    const std::string cmd = "run -m " + byte_model() + " -p 'Hello' -n 12 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 --no-stats --print-ids";
    ASSERT_EQ(test::run_tern(cmd + " -s 5 -t 1", &a), 0);
    ASSERT_EQ(test::run_tern(cmd + " -s 5 -t 2", &b), 0);
    ASSERT_EQ(test::run_tern(cmd + " -s 6 -t 2", &c), 0);
    EXPECT_EQ(a, b);  // same seed, any thread count
    EXPECT_NE(a, c);
}

TEST(Cli, RunStopsAtContextAndSaysWhy) {
    std::string out;
    ASSERT_EQ(test::run_tern("run -m " + byte_model() + " -p 'Hello' -n -1 -c 24 --temp 0", &out, true), 0);
    EXPECT_NE(out.find("[stopped: context full]"), std::string::npos) << out;
    ASSERT_EQ(test::run_tern("run -m " + byte_model() + " -p 'Hello' -n 3 --temp 0", &out, true), 0);
    EXPECT_NE(out.find("[stopped: n_predict reached]"), std::string::npos) << out;
    EXPECT_NE(out.find("tokens/s"), std::string::npos);
}

TEST(Cli, RunBadInput) {
    struct Case {
        std::string args, expect;
    };
    const std::string bad_utf8 = write_temp("bad.txt", std::string("caf\xe9 ol\xff", 8));
    const std::string long_prompt = write_temp("long.txt", std::string(100, 'a'));
    const Case cases[] = {
        {"run -m " + byte_model() + " -p '' --no-bos", "the prompt is empty"},
        {"run -m " + byte_model() + " -f " + bad_utf8, "is not valid UTF-8"},
        {"run -m " + byte_model() + " -f " + long_prompt + " -c 32", "does not fit the context"},
        {"run -m " + byte_model() + " --prompt-tokens 1,x,3", "is not a token id"},
        {"run -m " + byte_model() + " --prompt-tokens 1,99999", "outside the vocabulary"},
        {"run -m /nonexistent.gguf -p hi", "cannot open"},
        {"run -p hi", "--model is required"},
        {"chat -m " + byte_model() + " --chat-template chatml", "unknown chat template"},
    };
    for (const auto& c : cases) {
        std::string out;
        EXPECT_NE(test::run_tern(c.args + " < /dev/null", &out, true), 0) << c.args;
        EXPECT_NE(out.find(c.expect), std::string::npos) << c.args << "\n" << out;
    }
    // A model with no tokenizer at all: text is refused, ids work.
    {
        const gguf::File f = gguf::File::open(kGolden);
        gguf::Writer w;
        for (const auto& [k, v] : f.metadata())
            if (k.rfind("tokenizer.", 0) != 0) w.set(k, v);
        for (const auto& t : f.tensors()) w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
        const std::string p = test::temp_path("notok.gguf");
        w.write(p);
        std::string out;
        EXPECT_NE(test::run_tern("run -m " + p + " -p hi", &out, true), 0);
        EXPECT_NE(out.find("has no tokenizer"), std::string::npos) << out;
        EXPECT_EQ(test::run_tern("run -m " + p + " --prompt-tokens 1,2 -n 2 --temp 0 --no-stats", &out), 0);
        EXPECT_EQ(std::count(out.begin(), out.end(), ','), 1) << out;
        EXPECT_NE(test::run_tern("tokenize -m " + p + " -p hi", &out, true), 0);
        EXPECT_NE(out.find("has no tokenizer"), std::string::npos) << out;
        std::filesystem::remove(p);
    }
    std::filesystem::remove(bad_utf8);
    std::filesystem::remove(long_prompt);
}

TEST(Cli, PipedChatSession) {
    const std::string turns = write_temp("turns.txt", "Hi\nTell me\\\nmore\n/help\n/reset\nAgain\n");
    std::string out;
    ASSERT_EQ(test::run_tern("chat -m " + byte_model() + " --temp 0 -n 5 -sys 'Be brief.' < " + turns, &out), 0) << out;
    // One reply line per message (3 messages; /help prints its text).
    EXPECT_NE(out.find("commands: /help"), std::string::npos) << out;
    std::string err;
    ASSERT_EQ(test::run_tern("chat -m " + byte_model() + " --temp 0 -n 5 < " + turns, &err, true), 0);
    EXPECT_NE(err.find("template bitnet"), std::string::npos) << err;
    EXPECT_NE(err.find("[conversation reset]"), std::string::npos) << err;
    EXPECT_NE(err.find("[chat ended]"), std::string::npos) << err;
    // The same first message after /reset gives the same reply as in a fresh chat.
    const std::string a = write_temp("a.txt", "Again\n");
    std::string fresh;
    ASSERT_EQ(test::run_tern("chat -m " + byte_model() + " --temp 0 -n 5 < " + a, &fresh), 0);
    std::string both;
    ASSERT_EQ(test::run_tern("chat -m " + byte_model() + " --temp 0 -n 5 < " + turns, &both), 0);
    EXPECT_EQ(both.substr(both.size() - fresh.size()), fresh);
    std::filesystem::remove(turns);
    std::filesystem::remove(a);
}

TEST(Cli, ChatDropsOldestTurnsWhenTheContextFills) {
    std::string msgs;
    for (int k = 0; k < 6; ++k) msgs += "message number " + std::to_string(k) + " with some padding text\n";
    const std::string turns = write_temp("long_turns.txt", msgs);
    std::string out;
    ASSERT_EQ(test::run_tern("chat -m " + byte_model() + " --temp 0 -n 8 -c 160 -sys S < " + turns, &out, true), 0) << out;
    EXPECT_NE(out.find("[context full: dropped the"), std::string::npos) << out;
    // A single message longer than the context is refused, and the chat goes on.
    const std::string huge = write_temp("huge.txt", std::string(300, 'x') + "\nok\n");
    ASSERT_EQ(test::run_tern("chat -m " + byte_model() + " --temp 0 -n 4 -c 128 < " + huge, &out, true), 0) << out;
    EXPECT_NE(out.find("not sent"), std::string::npos) << out;
    std::filesystem::remove(turns);
    std::filesystem::remove(huge);
}

std::vector<int32_t> parse_ids(const std::string& s) {
    std::vector<int32_t> ids;
    size_t p = 0;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
        size_t q = p;
        while (q < s.size() && std::isdigit(static_cast<unsigned char>(s[q]))) ++q;
        ids.push_back(std::stoi(s.substr(p, q - p)));
        p = q + 1;
    }
    return ids;
}

// Perplexity equals exp(mean NLL) over the second half of each chunk,
// computed here from logits of the independent numpy reference.
TEST(Cli, PerplexityMatchesReferenceLogits) {
    const std::string text = write_temp("ppl.txt", "The cat sat on the mat. The dog sat on the log. A bird flew by.");
    const int n_ctx = 16, chunks = 3;
    std::string out;
    ASSERT_EQ(test::run_tern("perplexity -m " + byte_model() + " -f " + text + " -c " + std::to_string(n_ctx) +
                                 " --chunks " + std::to_string(chunks),
                             &out),
              0)
        << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("Final estimate: PPL = ([0-9.]+) \\+/- ([0-9.]+)"))) << out;
    const double ppl = std::stod(m[1]);
    std::string ids_text;
    ASSERT_EQ(test::run_tern("tokenize -m " + byte_model() + " -f " + text, &ids_text), 0);
    const auto ids = parse_ids(ids_text);
    double sum = 0;
    int count = 0;
    for (int c = 0; c < chunks; ++c) {
        std::vector<int32_t> chunk(ids.begin() + c * n_ctx, ids.begin() + (c + 1) * n_ctx);
        chunk[0] = 256;  // BOS
        std::string list;
        for (size_t k = 0; k < chunk.size(); ++k) list.append(k ? "," : "").append(std::to_string(chunk[k]));
        const std::string npy = test::temp_path("ref.npy");
        const std::string cmd = "/usr/bin/python3 " + std::string(TERN_SOURCE_DIR) + "/tools/reference/run.py " +
                                byte_model() + " --tokens " + list + " --out " + npy + " > /dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        const auto bytes = test::read_file(npy);
        // float32 [n_ctx, vocab] after a header whose length is at bytes 8..9.
        const size_t header = 10 + (size_t(bytes[8]) | (size_t(bytes[9]) << 8));
        const size_t vocab = (bytes.size() - header) / 4 / n_ctx;
        const float* logits = reinterpret_cast<const float*>(&bytes[header]);
        for (int j = n_ctx / 2; j < n_ctx - 1; ++j) {
            const float* row = logits + size_t(j) * vocab;
            double mx = row[0], s = 0;
            for (size_t i = 0; i < vocab; ++i) mx = std::max(mx, double(row[i]));
            for (size_t i = 0; i < vocab; ++i) s += std::exp(double(row[i]) - mx);
            sum += std::log(s) + mx - row[chunk[size_t(j + 1)]];
            ++count;
        }
        std::filesystem::remove(npy);
    }
    EXPECT_EQ(count, chunks * (n_ctx - 1 - n_ctx / 2));
    EXPECT_NEAR(ppl, std::exp(sum / count), 1e-3 * ppl);
    std::filesystem::remove(text);
}

}  // namespace
}  // namespace tern
