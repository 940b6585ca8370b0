// `tern perplexity --kl-divergence-base FILE` writes llama-perplexity's KL
// base file, `--kl-divergence` compares a model against one; Ctrl-C prints
// the estimate over the chunks finished.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <regex>

#include <gtest/gtest.h>

#include "child_process.h"
#include "test_util.h"

namespace tern {
namespace {

// The bundled TinyStories model: ReLU² feed-forward, a real BPE vocabulary.
const std::string kModel = std::string(TERN_SOURCE_DIR) + "/models/tern-tinystories-4m.gguf";
const std::string kOtherVocab = std::string(TERN_TEST_DATA_DIR) + "/models/b158_i2s_g4.gguf";
constexpr int kCtx = 64, kChunks = 3;

std::string text_file() {
    struct File {
        std::string path = test::temp_path("kld_text.txt");
        File() {
            const std::string t = test::corpus_text().substr(0, 20000);
            test::write_file(path, std::vector<uint8_t>(t.begin(), t.end()));
        }
        ~File() { std::filesystem::remove(path); }
    };
    static const File f;
    return f.path;
}

double number_after(const std::string& out, const std::string& label) {
    const size_t at = out.find(label);
    if (at == std::string::npos) return std::nan("");
    return std::stod(out.substr(at + label.size()));
}

// The base file written once per test process, with the run's final PPL.
struct Base {
    std::string path = test::temp_path("base.kld");
    double ppl = 0;
    int exit_code = -1;
    std::string out;
    Base() {
        exit_code = test::run_tern("perplexity -m " + kModel + " -f " + text_file() + " -c " + std::to_string(kCtx) +
                                       " --chunks " + std::to_string(kChunks) + " --kl-divergence-base " + path,
                                   &out);
        ppl = number_after(out, "Final estimate: PPL = ");
    }
    ~Base() { std::filesystem::remove(path); }
};
const Base& base() {
    static const Base b;
    return b;
}

std::vector<int32_t> ids_of(const std::string& csv) {
    std::vector<int32_t> ids;
    std::stringstream ss(csv);
    for (std::string t; std::getline(ss, t, ',');) ids.push_back(std::stoi(t));
    return ids;
}

// float32 [rows, cols] from a .npy file (format 1.0, as `tern run --logits-out` writes it).
std::vector<float> read_npy(const std::string& path) {
    const auto bytes = test::read_file(path);
    const size_t header = 10 + (size_t(bytes[8]) | (size_t(bytes[9]) << 8));
    std::vector<float> v((bytes.size() - header) / 4);
    std::memcpy(v.data(), &bytes[header], v.size() * 4);
    return v;
}

// The layout read back independently: header, the text's tokens, and per
// scored position a record that matches llama-perplexity's quantization of
// this model's own logits (from `tern run --logits-out` on the same chunk).
TEST(KlDivergence, BaseFileHasLlamaPerplexityLayout) {
    const Base& b = base();
    ASSERT_EQ(b.exit_code, 0) << b.out;
    EXPECT_FALSE(std::filesystem::exists(b.path + ".tmp"));
    const auto bytes = test::read_file(b.path);
    ASSERT_GT(bytes.size(), 20u);
    EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "_logits_");
    int32_t hdr[3];
    std::memcpy(hdr, &bytes[8], 12);
    EXPECT_EQ(hdr[0], kCtx);
    EXPECT_EQ(hdr[2], kChunks);
    const int64_t n_vocab = hdr[1], nv = 2 * ((n_vocab + 1) / 2) + 4, scored = kCtx - 1 - kCtx / 2;
    ASSERT_EQ(bytes.size(), size_t(20 + 4 * kCtx * kChunks + 2 * kChunks * scored * nv));

    std::string ids_text, no_bos;
    ASSERT_EQ(test::run_tern("tokenize -m " + kModel + " -f " + text_file(), &ids_text), 0);
    ASSERT_EQ(test::run_tern("tokenize -m " + kModel + " -f " + text_file() + " --no-bos", &no_bos), 0);
    const auto ids = ids_of(ids_text);
    const bool adds_bos = ids.size() == ids_of(no_bos).size() + 1;
    std::vector<int32_t> tokens(size_t(kCtx * kChunks));
    std::memcpy(tokens.data(), &bytes[20], tokens.size() * 4);
    EXPECT_EQ(tokens, std::vector<int32_t>(ids.begin(), ids.begin() + kCtx * kChunks));

    const uint8_t* rec = &bytes[20 + 4 * kCtx * kChunks];
    int clipped = 0;
    for (int c = 0; c < kChunks; ++c) {
        std::vector<int32_t> chunk(tokens.begin() + c * kCtx, tokens.begin() + (c + 1) * kCtx);
        if (adds_bos) chunk[0] = ids[0];
        std::string list;
        for (int32_t t : chunk) {
            if (!list.empty()) list += ',';
            list += std::to_string(t);
        }
        const std::string npy = test::temp_path("chunk.npy");
        std::string out;
        ASSERT_EQ(test::run_tern("run -m " + kModel + " --prompt-tokens " + list + " -n 0 --no-stats --logits-out " + npy, &out),
                  0);
        const auto logits = read_npy(npy);
        std::filesystem::remove(npy);
        ASSERT_EQ(logits.size(), size_t(kCtx * n_vocab));
        for (int j = kCtx / 2; j < kCtx - 1; ++j, rec += 2 * nv) {
            const float* row = &logits[size_t(j * n_vocab)];
            const float mx = *std::max_element(row, row + n_vocab);
            const float mn = std::max(*std::min_element(row, row + n_vocab), mx - 16.0f);
            double sum = 0;
            for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(double(row[i]) - mx);
            const double lse = std::log(sum);
            float scale, min_log_prob;
            std::memcpy(&scale, rec, 4);
            std::memcpy(&min_log_prob, rec + 4, 4);
            EXPECT_NEAR(scale, (mx - mn) / 65535.0f, 1e-6f * (mx - mn));
            EXPECT_NEAR(min_log_prob, mn - mx - lse, 1e-4);
            const int32_t target = chunk[size_t(j + 1)];
            uint16_t q;
            std::memcpy(&q, rec + 8 + 2 * target, 2);
            if (row[target] > mn) {
                EXPECT_NEAR(scale * q + min_log_prob, row[target] - mx - lse, scale + 1e-4);
            } else {
                EXPECT_EQ(q, 0);  // more than 16 nats below the top: stored as the floor
                ++clipped;
            }
        }
    }
    std::cerr << clipped << " of " << kChunks * scored << " targets below the 16-nat floor\n";
}

TEST(KlDivergence, OwnBaseGivesZero) {
    ASSERT_EQ(base().exit_code, 0) << base().out;
    std::string out;
    ASSERT_EQ(test::run_tern("perplexity -m " + kModel + " --kl-divergence-base " + base().path + " --kl-divergence", &out),
              0)
        << out;
    EXPECT_NE(out.find("chunk             PPL               ln(PPL(Q)/PPL(base))"), std::string::npos) << out;
    const double kl = number_after(out, "Mean    KLD: ");
    EXPECT_LT(std::fabs(kl), 1e-4) << out;
    EXPECT_LT(std::fabs(number_after(out, "Maximum KLD: ")), 1e-3) << out;
    EXPECT_EQ(number_after(out, "Same top p: "), 100.0) << out;
    EXPECT_NEAR(number_after(out, "Mean PPL(Q)                   : "), base().ppl, 1e-4 * base().ppl) << out;
    // The base keeps log-probabilities down to 16 nats below the top; a target
    // further down reads as that floor, so PPL(base) can only come out lower.
    const double ppl_base = number_after(out, "Mean PPL(base)                : ");
    EXPECT_LE(ppl_base, base().ppl * (1 + 1e-4)) << out;
    EXPECT_GT(ppl_base, 0.5 * base().ppl) << out;
}

TEST(KlDivergence, PerturbedModelDiverges) {
    ASSERT_EQ(base().exit_code, 0) << base().out;
    std::string out;
    ASSERT_EQ(test::run_tern("perplexity -m " + kModel + " --ffn-act silu --kl-divergence-base " + base().path +
                                 " --kl-divergence",
                             &out),
              0)
        << out;
    EXPECT_GT(number_after(out, "Mean    KLD: "), 0.01) << out;
    EXPECT_LT(number_after(out, "Same top p: "), 100.0) << out;
    EXPECT_NE(number_after(out, "Mean PPL(Q)/PPL(base)         : "), 1.0) << out;
}

TEST(KlDivergence, RejectsBadBaseFilesAndPaths) {
    std::string out;
    const std::string text = text_file();
    EXPECT_EQ(test::run_tern("perplexity -m " + kModel + " --kl-divergence-base " + text + " --kl-divergence", &out, true), 1);
    EXPECT_NE(out.find("is not a KL-divergence base file"), std::string::npos) << out;

    ASSERT_EQ(base().exit_code, 0);
    auto bytes = test::read_file(base().path);
    bytes.resize(bytes.size() - 2);
    const std::string cut = test::temp_path("cut.kld");
    test::write_file(cut, bytes);
    EXPECT_EQ(test::run_tern("perplexity -m " + kModel + " --kl-divergence-base " + cut + " --kl-divergence", &out, true), 1);
    EXPECT_NE(out.find("truncated or damaged"), std::string::npos) << out;
    std::filesystem::remove(cut);

    EXPECT_EQ(test::run_tern("perplexity -m " + kOtherVocab + " --kl-divergence-base " + base().path + " --kl-divergence",
                             &out, true),
              1);
    EXPECT_NE(out.find("has a vocabulary of"), std::string::npos) << out;

    EXPECT_EQ(test::run_tern("perplexity -m " + kModel + " --kl-divergence", &out, true), 1);
    EXPECT_NE(out.find("--kl-divergence-base FILE"), std::string::npos) << out;

    // Output paths are checked before the model loads.
    const std::string dir = test::temp_path("kld_dir");
    std::filesystem::create_directory(dir);
    EXPECT_EQ(test::run_tern("perplexity -m " + kModel + " -f " + text + " --kl-divergence-base " + dir, &out, true), 1);
    EXPECT_NE(out.find("is a directory"), std::string::npos) << out;
    EXPECT_EQ(test::run_tern("perplexity -m /nonexistent.gguf -f " + text + " --kl-divergence-base " + dir + "/no/such/x",
                             &out, true),
              1);
    EXPECT_NE(out.find("cannot create the KL-divergence base file"), std::string::npos) << out;
    std::filesystem::remove_all(dir);
}

// Ctrl-C after the first chunk: the estimate over the chunks finished (a
// number, never nan), exit 130, and no half-written base file left behind.
TEST(KlDivergence, InterruptedPerplexityPrintsTheEstimateSoFar) {
    const std::string text = test::temp_path("long.txt");
    const std::string corpus = test::corpus_text();
    test::write_file(text, std::vector<uint8_t>(corpus.begin(), corpus.end()));
    const std::string kld = test::temp_path("interrupted.kld");
    test::TernChild child("perplexity -m " + kModel + " -f " + text + " -c 256 -t 1 --kl-divergence-base " + kld);
    ASSERT_TRUE(child.wait_for_stderr("first chunk took")) << child.stderr_text();
    child.interrupt();
    EXPECT_EQ(child.wait(), 130) << child.stderr_text();
    const std::string out = child.stdout_text();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(Final estimate: PPL = ([0-9]+\.[0-9]+) \+/- ([0-9]+\.[0-9]+))")))
        << out;
    EXPECT_GT(std::stod(m[1]), 1.0);
    EXPECT_FALSE(std::filesystem::exists(kld));
    EXPECT_FALSE(std::filesystem::exists(kld + ".tmp"));
    EXPECT_NE(child.stderr_text().find("was not written"), std::string::npos) << child.stderr_text();
    std::filesystem::remove(text);
}

}  // namespace
}  // namespace tern
