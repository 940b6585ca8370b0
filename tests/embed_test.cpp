// The embedding architectures (qwen3, gemma3; SPEC §8) against goldens from
// the numpy reference (tools/reference/make_test_models.py --embed), and the
// Embedder's packing, pooling and normalisation.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/dispatch.h"
#include "tern/embed.h"
#include "tern/session.h"
#include "tern/tokenizer.h"
#include "test_util.h"

namespace tern {
namespace {

const std::string kModels = std::string(TERN_TEST_DATA_DIR) + "/models/";

struct EmbedGolden {
    std::string name, file, arch, format, pooling;
    std::vector<std::vector<int32_t>> inputs;
    std::vector<std::vector<float>> rows;  // per input: [len, H] output-normed hidden rows
    int64_t n_embd = 0;
};

std::vector<EmbedGolden> load_embed_goldens() {
    std::ifstream f(kModels + "embed_manifest.json");
    const auto j = nlohmann::json::parse(f);
    std::vector<EmbedGolden> out;
    for (const auto& m : j["models"]) {
        EmbedGolden g;
        g.name = m["name"];
        g.file = kModels + m["file"].get<std::string>();
        g.arch = m["arch"];
        g.format = m["format"];
        g.pooling = m["pooling"];
        g.inputs = m["inputs"].get<std::vector<std::vector<int32_t>>>();
        g.n_embd = m["n_embd"];
        std::vector<int64_t> shape;
        const std::vector<float> all = test::read_npy_f32(kModels + m["golden"].get<std::string>(), &shape);
        EXPECT_EQ(shape.size(), 2u);
        EXPECT_EQ(shape[1], g.n_embd);
        size_t at = 0;
        for (const auto& in : g.inputs) {
            const size_t n = in.size() * size_t(g.n_embd);
            g.rows.emplace_back(all.begin() + long(at), all.begin() + long(at + n));
            at += n;
        }
        EXPECT_EQ(at, all.size());
        out.push_back(std::move(g));
    }
    return out;
}

double cosine(const float* a, const float* b, int64_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < n; ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
    return ab / std::sqrt(aa * bb);
}

EmbedOptions raw(Pooling p = Pooling::none) {
    EmbedOptions o;
    o.pooling = p;
    o.normalize = -1;
    o.n_threads = 2;
    return o;
}

// What pooling computes, from the unpooled rows (the Embedder sums means in double too).
std::vector<float> pool_rows(const std::vector<float>& rows, int64_t H, Pooling p) {
    const int64_t n = int64_t(rows.size()) / H;
    if (p == Pooling::cls) return {rows.begin(), rows.begin() + H};
    if (p == Pooling::last) return {rows.end() - H, rows.end()};
    std::vector<double> acc(size_t(H), 0.0);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t d = 0; d < H; ++d) acc[size_t(d)] += double(rows[size_t(t * H + d)]);
    std::vector<float> out(static_cast<size_t>(H));
    for (int64_t d = 0; d < H; ++d) out[size_t(d)] = float(acc[size_t(d)] * (1.0 / double(n)));
    return out;
}

TEST(Embed, GoldenHiddenRowsBothArchsBothForms) {
    const auto goldens = load_embed_goldens();
    ASSERT_EQ(goldens.size(), 4u);
    std::set<std::string> seen;
    for (const auto& g : goldens) {
        SCOPED_TRACE(g.name);
        const Model model = Model::load(g.file);
        EXPECT_EQ(model.info().architecture, g.arch);
        EXPECT_FALSE(model.info().has_output_head);
        ASSERT_TRUE(model.info().pooling.has_value());
        EXPECT_EQ(pooling_name(*model.info().pooling), g.pooling);
        seen.insert(g.arch + "/" + model.info().weight_type);
        Embedder e(model, raw());
        const auto got = e.embed(g.inputs);
        ASSERT_EQ(got.size(), g.inputs.size());
        double worst = 1.0;
        for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_EQ(got[i].size(), g.rows[i].size());
            for (size_t r = 0; r < got[i].size(); r += size_t(g.n_embd))
                worst = std::min(worst, cosine(&got[i][r], &g.rows[i][r], g.n_embd));
            // Pooled the file's way and normalised, it matches the reference pooled alike.
            const Pooling p = *model.info().pooling;
            Embedder pooled(model, [&] { EmbedOptions o = raw(p); o.normalize = 2; return o; }());
            const auto v = pooled.embed(std::span(&g.inputs[i], 1))[0];
            std::vector<float> want = pool_rows(g.rows[i], g.n_embd, p);
            normalize_embedding(want.data(), want.data(), g.n_embd, 2);
            EXPECT_GE(cosine(v.data(), want.data(), g.n_embd), 0.9999) << "input " << i;
        }
        EXPECT_GE(worst, 0.9999);
        ::testing::Test::RecordProperty(g.name + "_worst_cosine", std::to_string(worst));
    }
    EXPECT_EQ(seen, (std::set<std::string>{"qwen3/I2_S", "qwen3/F16", "gemma3/I2_S", "gemma3/F16"}));
}

TEST(Embed, PackingDoesNotChangeABit) {
    for (const auto& g : load_embed_goldens()) {
        SCOPED_TRACE(g.name);
        const Model model = Model::load(g.file);
        Embedder together(model, raw());  // every input in one pass
        const auto all = together.embed(g.inputs);
        for (int64_t nb : {1, 4, 9}) {  // inputs split over passes, groups of several
            EmbedOptions o = raw();
            o.n_batch = nb;
            o.n_threads = 1;
            Embedder split(model, o);
            EXPECT_EQ(split.embed(g.inputs), all) << "n_batch " << nb;
        }
        for (size_t i = 0; i < g.inputs.size(); ++i)
            EXPECT_EQ(together.embed(std::span(&g.inputs[i], 1))[0], all[i]) << "input " << i << " alone";
    }
}

// A pass of 64 tokens or more splits the tokens among the threads (in the
// chunks of bitlinear.h's token_chunk); a shorter one splits the rows. Inputs
// packed two to a pass of 64 tokens (the test models' context, so the most a
// pass holds) give the bits each gives alone.
TEST(Embed, LongPassesEqualShortOnesBitForBit) {
    for (const auto& g : load_embed_goldens()) {
        SCOPED_TRACE(g.name);
        const Model model = Model::load(g.file);
        std::vector<std::vector<int32_t>> inputs(4);
        for (size_t k = 0; k < inputs.size(); ++k)
            for (int i = 0; i < 32; ++i) inputs[k].push_back(int32_t((i * 37 + 11 * int(k) + 5) % 90));
        for (int threads : {1, 2, 3}) {
            EmbedOptions o = raw();
            o.n_threads = threads;
            Embedder e(model, o);
            const auto packed = e.embed(inputs);  // two passes of 64 tokens
            for (size_t k = 0; k < inputs.size(); ++k)
                EXPECT_EQ(packed[k], e.embed(std::span(&inputs[k], 1))[0]) << "input " << k << ", " << threads << " threads";
        }
    }
}

TEST(Embed, EveryKernelTableGivesTheSameBits) {
    for (const auto& g : load_embed_goldens()) {
        SCOPED_TRACE(g.name);
        LoadOptions ref;
        ref.table = "ref";
        const auto want = Embedder(Model::load(g.file, ref), raw()).embed(g.inputs);
        for (const auto& entry : kernels::available_tables()) {
            if (!entry.runs_here) continue;
            LoadOptions lo;
            lo.table = entry.table->name;
            EXPECT_EQ(Embedder(Model::load(g.file, lo), raw()).embed(g.inputs), want) << entry.table->name;
        }
    }
}

TEST(Embed, Fp16KvCacheStaysClose) {
    const auto g = load_embed_goldens()[2];
    const Model model = Model::load(g.file);
    EmbedOptions o = raw();
    const auto f32 = Embedder(model, o).embed(g.inputs);
    o.kv_f16 = true;
    const auto f16 = Embedder(model, o).embed(g.inputs);
    for (size_t i = 0; i < f32.size(); ++i)
        for (size_t r = 0; r < f32[i].size(); r += size_t(g.n_embd))
            EXPECT_GE(cosine(&f16[i][r], &f32[i][r], g.n_embd), 0.999) << "input " << i;
}

TEST(Embed, PoolingModesExactly) {
    const auto g = load_embed_goldens()[0];
    const Model model = Model::load(g.file);
    const auto rows = Embedder(model, raw()).embed(g.inputs);
    for (Pooling p : {Pooling::mean, Pooling::cls, Pooling::last}) {
        SCOPED_TRACE(pooling_name(p));
        const auto got = Embedder(model, raw(p)).embed(g.inputs);
        for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], pool_rows(rows[i], g.n_embd, p)) << "input " << i;
    }
    EXPECT_EQ(parse_pooling("last"), Pooling::last);
    EXPECT_FALSE(parse_pooling("max").has_value());
}

TEST(Embed, NormalisationAsLlamaEmbedding) {
    const float v[2] = {3.0f, -4.0f};
    float out[2];
    normalize_embedding(v, out, 2, -1);
    EXPECT_EQ(out[0], 3.0f);
    EXPECT_EQ(out[1], -4.0f);
    normalize_embedding(v, out, 2, 0);  // max-abs to the int16 range
    EXPECT_FLOAT_EQ(out[0], 3.0f * 32760.0f / 4.0f);
    EXPECT_FLOAT_EQ(out[1], -32760.0f);
    normalize_embedding(v, out, 2, 1);  // taxicab
    EXPECT_FLOAT_EQ(out[0], 3.0f / 7.0f);
    EXPECT_FLOAT_EQ(out[1], -4.0f / 7.0f);
    normalize_embedding(v, out, 2, 2);  // euclidean
    EXPECT_FLOAT_EQ(out[0], 0.6f);
    EXPECT_FLOAT_EQ(out[1], -0.8f);
    normalize_embedding(v, out, 2, 3);  // p-norm: (27 + 64)^(1/3)
    EXPECT_FLOAT_EQ(out[0], float(3.0 / std::cbrt(91.0)));
    const float zero[2] = {0.0f, 0.0f};
    normalize_embedding(zero, out, 2, 2);
    EXPECT_EQ(out[0], 0.0f);
    EXPECT_EQ(out[1], 0.0f);

    const std::vector<float> a = {1, 0}, b = {0, 2}, c = {2, 0}, z = {0, 0};
    EXPECT_FLOAT_EQ(cosine_similarity(a, b), 0.0f);
    EXPECT_FLOAT_EQ(cosine_similarity(a, c), 1.0f);
    EXPECT_EQ(cosine_similarity(z, z), 1.0f);
    EXPECT_EQ(cosine_similarity(a, z), 0.0f);

    // The default (euclidean) gives unit vectors.
    const auto g = load_embed_goldens()[2];
    EmbedOptions o;
    o.n_threads = 2;
    for (const auto& e : Embedder(Model::load(g.file), o).embed(g.inputs)) {
        double ss = 0;
        for (float x : e) ss += double(x) * x;
        EXPECT_NEAR(ss, 1.0, 1e-5);
    }
}

TEST(Embed, ErrorsNameTheProblem) {
    const auto g = load_embed_goldens()[0];
    const Model model = Model::load(g.file);
    EmbedOptions o = raw();
    o.n_ctx = 8;
    Embedder e(model, o);
    auto message = [&](std::vector<std::vector<int32_t>> in) {
        try {
            e.embed(in);
        } catch (const Error& err) {
            return std::string(err.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message({{1, 2}, {}}).find("input 1 has no tokens"), std::string::npos);
    EXPECT_NE(message({std::vector<int32_t>(9, 3)}).find("9 tokens, more than the context of 8"), std::string::npos);
    EXPECT_NE(message({{1, 100000}}).find("outside the vocabulary"), std::string::npos);
    // An embedding model has no logits: sessions refuse it with a pointer to the Embedder.
    try {
        Session s(model);
        FAIL() << "Session accepted an embedding model";
    } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("embedding model"), std::string::npos) << err.what();
    }
}

TEST(Embed, VocabularyAddsEos) {
    const auto g = load_embed_goldens()[2];  // gemma3: BOS and EOS
    const Tokenizer tok = Tokenizer::from_model(Model::load(g.file));
    EXPECT_TRUE(tok.adds_eos());
    EXPECT_TRUE(tok.adds_bos());
    EXPECT_EQ(tok.eos(), 0);
    // Special-token text is read as the token when asked (as llama-embedding does).
    EXPECT_EQ(tok.encode("a<|endoftext|>", false, true), (std::vector<int32_t>{tok.token_id("a").value(), 0}));
}

// ---- tern embed / info / bench / run on an embedding file

std::vector<int32_t> text_ids(const Tokenizer& tok, const std::string& text) {
    std::vector<int32_t> ids = tok.encode(text, true, true);
    if (tok.adds_eos()) ids.push_back(tok.eos());
    return ids;
}

TEST(EmbedCli, JsonFormatsMatchTheLibrary) {
    const auto g = load_embed_goldens()[2];  // gemma3 I2_S: BOS, EOS, sliding window
    const Model model = Model::load(g.file);
    const Tokenizer tok = Tokenizer::from_model(model);
    EmbedOptions eo;
    eo.n_threads = 2;
    const std::vector<std::vector<int32_t>> inputs = {text_ids(tok, "hello world"), text_ids(tok, "tern embeds text")};
    const auto want = Embedder(model, eo).embed(inputs);

    const std::string file = test::temp_path("embed_input.txt");
    const std::string two = "hello world\ntern embeds text\n";
    test::write_file(file, std::vector<uint8_t>(two.begin(), two.end()));
    std::string out;
    // Inputs from a file, one per line (its final newline ends the last one), or split on a separator.
    for (const std::string& input : {"-f " + file, std::string("-p 'hello world|tern embeds text' --embd-separator '|'")}) {
        ASSERT_EQ(test::run_tern("embed -m " + g.file + " -t 2 " + input + " --embd-output-format json+", &out), 0) << out;
        const auto j = nlohmann::json::parse(out);
        EXPECT_EQ(j["object"], "list");
        ASSERT_EQ(j["data"].size(), 2u);
        for (size_t i = 0; i < 2; ++i) {
            EXPECT_EQ(j["data"][i]["object"], "embedding");
            EXPECT_EQ(j["data"][i]["index"], i);
            const auto v = j["data"][i]["embedding"].get<std::vector<float>>();
            ASSERT_EQ(v.size(), want[i].size());
            for (size_t d = 0; d < v.size(); ++d) EXPECT_NEAR(v[d], want[i][d], 1e-6);
        }
        const auto cs = j["cosineSimilarity"];
        ASSERT_EQ(cs.size(), 2u);
        EXPECT_NEAR(cs[0][0].get<double>(), 1.0, 1e-9);
        EXPECT_NEAR(cs[0][1].get<double>(), std::round(cosine_similarity(want[0], want[1]) * 100) / 100, 1e-9);
    }
    std::filesystem::remove(file);

    // array: [[...], [...]]; ids in, raw mean pooling out.
    ASSERT_EQ(test::run_tern("embed -m " + g.file + " -t 2 --prompt-tokens '2,3,0;4,5,6,0' --pooling mean "
                             "--embd-normalize -1 --embd-output-format array",
                             &out),
              0);
    const auto arr = nlohmann::json::parse(out);
    const std::vector<std::vector<int32_t>> ids = {{2, 3, 0}, {4, 5, 6, 0}};
    const auto mean = Embedder(model, raw(Pooling::mean)).embed(ids);
    ASSERT_EQ(arr.size(), 2u);
    for (size_t i = 0; i < 2; ++i)
        for (size_t d = 0; d < mean[i].size(); ++d)
            EXPECT_NEAR(arr[i][d].get<float>(), mean[i][d], 1e-6 + 1e-6 * std::abs(mean[i][d]));
}

TEST(EmbedCli, SpecialTokenTextIsTheToken) {
    const auto g = load_embed_goldens()[0];
    std::string a, b;
    ASSERT_EQ(test::run_tern("embed -m " + g.file + " -t 1 -p 'ab<|endoftext|>' --embd-output-format array", &a), 0);
    const Tokenizer tok = Tokenizer::from_model(Model::load(g.file));
    const std::string ids = std::to_string(*tok.token_id("a")) + "," + std::to_string(*tok.token_id("b")) + ",0,0";
    ASSERT_EQ(test::run_tern("embed -m " + g.file + " -t 1 --prompt-tokens " + ids + " --embd-output-format array", &b), 0);
    EXPECT_EQ(a, b);
}

TEST(EmbedCli, ErrorsAndOtherCommands) {
    const auto g = load_embed_goldens()[1];
    std::string out;
    EXPECT_EQ(test::run_tern("embed -m " + g.file + " -c 4 -p 'hello world'", &out, true), 1);
    EXPECT_NE(out.find("more than the context of 4"), std::string::npos) << out;
    EXPECT_EQ(test::run_tern("embed -m " + g.file, &out, true), 1);
    EXPECT_NE(out.find("give exactly one of"), std::string::npos) << out;
    EXPECT_NE(test::run_tern("embed -m " + g.file + " -p x --pooling max", &out, true), 0);

    // Default (human-readable) output: the embeddings, then the similarity matrix.
    ASSERT_EQ(test::run_tern("embed -m " + g.file + " -t 1 -p 'one|two' --embd-separator '|'", &out), 0);
    EXPECT_NE(out.find("embedding 1: "), std::string::npos) << out;
    EXPECT_NE(out.find("cosine similarity matrix:"), std::string::npos) << out;

    // info and bench know it has no output head; run says so instead of crashing.
    ASSERT_EQ(test::run_tern("info " + g.file, &out), 0);
    EXPECT_NE(out.find("output head:     none: an embedding model (pooling mean"), std::string::npos) << out;
    ASSERT_EQ(test::run_tern("bench -m " + g.file + " -p 8 -n 4 -r 1 -t 1 -o json", &out), 0);
    const auto bench = nlohmann::json::parse(out);
    ASSERT_EQ(bench.size(), 1u) << out;
    EXPECT_EQ(bench[0]["test"], "pp8");
    EXPECT_EQ(test::run_tern("run -m " + g.file + " -p hi -n 1", &out, true), 1);
    EXPECT_NE(out.find("embedding model"), std::string::npos) << out;
}

}  // namespace
}  // namespace tern
