// `tern convert` of the BitNet embedding models' Hugging Face folders (model_type
// qwen3 / gemma3_text, SPEC §8), written by tools/reference/make_hf_checkpoint.py:
// the converted GGUF's embeddings equal what the numpy reference computes from the
// same HF weights, in both forms (bf16 masters -> I2_S with the BitLinear norms;
// the F16 teacher without them), with and without the "model." prefix; the
// metadata, pooling and tokenizer settings land where the loader reads them;
// configuration errors name the key and the file and leave nothing behind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "convert_util.h"
#include "kernels/formats.h"
#include "tern/convert.h"
#include "tern/embed.h"
#include "tern/gguf.h"
#include "tern/tokenizer.h"
#include "test_util.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
namespace hf = test::hf;
using test::have_python_numpy;
using test::join;
using test::kPython;
using test::kReference;
using test::sh;
using test::TempDir;

using Inputs = std::vector<std::vector<int32_t>>;

// A preset folder from make_hf_checkpoint.py, its weights large enough that
// every layer, norm and head moves the embedding (the defaults mimic trained
// 0.02-std weights, under which a wrong layer would hardly show).
std::string make_folder(const TempDir& tmp, const std::string& preset, const std::string& flags) {
    const std::string dir = tmp / "hf";
    std::string log;
    EXPECT_EQ(sh(kPython + " " + kReference + "/make_hf_checkpoint.py --preset " + preset + " --out " + dir +
                     " --linear-std 0.15 --embed-std 1.0 --norm-noise 0.3 " + flags,
                 &log),
              0)
        << log;
    return dir;
}

std::string tokens_arg(const Inputs& inputs) {
    std::string s;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (i) s += ';';
        s += join(inputs[i]);
    }
    return s;
}

// The reference's pooled, euclidean-normalised embeddings [inputs × H], run on
// the HF folder (projections ternarized, or in float with float_linears) or on a
// GGUF. With `safe`, the reference first redraws the inner tokens of each input
// for the largest distance of every activation from an int8 rounding boundary
// (run.py --safe-inputs) and *inputs becomes what it used: tiny ternary models
// move by ~1e-4 in cosine when one code flips, which a float32 implementation
// may cause on an arbitrary input.
std::vector<float> reference_embeddings(const std::string& path, Inputs* inputs, bool on_hf, bool float_linears = false,
                                        bool safe = false) {
    const std::string out = test::temp_path("ref_embd.npy");
    std::string log;
    const int rc = sh(kPython + " " + kReference + "/run.py " + (on_hf ? "--hf " : "") + path + " --tokens '" + tokens_arg(*inputs) +
                          "' --out " + out + (float_linears ? " --float-linears" : "") + (safe ? " --safe-inputs 100" : "") +
                          " --quiet",
                      &log);
    EXPECT_EQ(rc, 0) << log;
    if (rc != 0) return {};
    if (safe) {
        Inputs used;
        std::istringstream line(log.substr(0, log.find('\n')));
        for (std::string part; std::getline(line, part, ';');) {
            used.emplace_back();
            std::istringstream ids(part);
            for (std::string id; std::getline(ids, id, ',');) used.back().push_back(std::stoi(id));
        }
        EXPECT_EQ(used.size(), inputs->size()) << log;
        *inputs = used;
    }
    auto v = test::read_npy_f32(out);
    fs::remove(out);
    return v;
}

std::vector<float> tern_embeddings(const std::string& gguf, const Inputs& inputs) {
    EmbedOptions o;
    o.n_threads = 2;
    Embedder e(Model::load(gguf), o);  // pooling from the file, euclidean
    std::vector<float> all;
    for (const auto& v : e.embed(inputs)) all.insert(all.end(), v.begin(), v.end());
    return all;
}

void expect_close(const std::vector<float>& want, const std::vector<float>& got, size_t n, const std::string& what) {
    ASSERT_EQ(want.size(), got.size()) << what;
    const size_t H = want.size() / n;
    for (size_t i = 0; i < n; ++i) {
        const float c = cosine_similarity({&want[i * H], H}, {&got[i * H], H});
        EXPECT_GE(c, 0.9999f) << what << ": input " << i;
    }
}

// Inputs of random ids below n_tokens (the tokenizer's, not the padded rows),
// each ending with the EOS that last-token pooling reads; some longer than
// gemma3's sliding window of 4.
Inputs some_inputs(int64_t n_tokens, int32_t eos, std::optional<int32_t> bos, uint64_t seed) {
    hf::Rng rng(seed);
    Inputs in;
    for (size_t len : {7u, 3u, 12u, 5u}) {
        std::vector<int32_t> t;
        if (bos) t.push_back(*bos);
        while (t.size() + 1 < len) t.push_back(int32_t(rng.next() % uint64_t(n_tokens)));
        t.push_back(eos);
        in.push_back(t);
    }
    return in;
}

struct Case {
    std::string preset, flags;
    convert::Options opts;
    bool float_linears;
};

// Converts and checks tern == reference(HF) and reference(GGUF) == reference(HF):
// the second says the converter wrote the model the HF folder holds,
// independently of tern's forward pass. Returns the GGUF's path.
std::string convert_and_compare(const TempDir& tmp, const Case& c, Inputs inputs) {
    const std::string dir = make_folder(tmp, c.preset, c.flags);
    const std::string out = tmp / "model.gguf";
    convert::convert_checkpoint(dir, out, c.opts);
    const auto ref = reference_embeddings(dir, &inputs, true, c.float_linears, !c.float_linears);
    EXPECT_FALSE(ref.empty());
    if (ref.empty()) return out;
    expect_close(ref, tern_embeddings(out, inputs), inputs.size(), c.preset + " " + c.flags + ": tern vs reference on HF");
    expect_close(ref, reference_embeddings(out, &inputs, false), inputs.size(), c.preset + " " + c.flags + ": reference on GGUF vs on HF");
    return out;
}

constexpr int32_t kQwenEos = 266;   // <|endoftext|> of embed_checkpoint.py's Qwen-style tokenizer
constexpr int32_t kGemmaBos = 2, kGemmaEos = 1;

TEST(ConvertEmbed, Qwen3I2SWithBitLinearNormsMatchesReference) {
    if (!have_python_numpy()) GTEST_SKIP() << "needs /usr/bin/python3 with numpy for the reference";
    TempDir tmp("cembq");
    const auto inputs = some_inputs(266, kQwenEos, std::nullopt, 1);
    const std::string out = convert_and_compare(tmp, {"qwen3-tiny", "", {}, false}, inputs);

    const auto f = gguf::File::open(out);
    EXPECT_EQ(f.get<std::string>("general.architecture"), "qwen3");
    EXPECT_EQ(f.get<uint32_t>("qwen3.attention.key_length"), 32u);  // not hidden / heads = 16
    EXPECT_EQ(f.get<uint32_t>("qwen3.pooling_type"), 3u);             // 1_Pooling: lasttoken
    EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
    EXPECT_EQ(f.tensor("blk.1.attn_q.weight").type, uint32_t(GgmlType::I2_S));
    EXPECT_EQ(f.tensor("blk.1.ffn_down_norm_in.weight").type, uint32_t(GgmlType::F32));
    EXPECT_EQ(f.tensor("blk.0.attn_k_norm.weight").n_elements, 32);
    EXPECT_FALSE(f.has("qwen3.attention.sliding_window"));
    // Padding rows past the tokenizer, the EOS from the post-processor (not tokenizer_config's <|im_end|>).
    EXPECT_EQ(f.get<std::vector<std::string>>("tokenizer.ggml.tokens").size(), 320u);
    EXPECT_EQ(f.get<std::string>("tokenizer.ggml.pre"), "qwen2");
    EXPECT_EQ(f.get<uint32_t>("tokenizer.ggml.eos_token_id"), uint32_t(kQwenEos));
    EXPECT_TRUE(f.get<bool>("tokenizer.ggml.add_eos_token"));

    // Text through `tern embed`: the EOS appended, the vector the library gives for those ids.
    const Tokenizer tok = Tokenizer::from_model(Model::load(out));
    EXPECT_TRUE(tok.adds_eos());
    EXPECT_FALSE(tok.adds_bos());
    std::vector<int32_t> ids = tok.encode("the cat", true, true);
    ids.push_back(tok.eos());
    EXPECT_EQ(ids, (std::vector<int32_t>{257, 32, 260, kQwenEos}));  // "the" " " "cat" (the tiny merges), EOS
    std::string log;
    ASSERT_EQ(test::run_tern("embed -m " + out + " -p 'the cat' --embd-output-format array -t 2", &log), 0) << log;
    std::vector<float> cli;
    for (char& ch : log)
        if (ch == '[' || ch == ']' || ch == ',') ch = ' ';
    std::istringstream ss(log);
    for (float x; ss >> x;) cli.push_back(x);
    expect_close(tern_embeddings(out, {ids}), cli, 1, "tern embed -p vs the Embedder on the ids");
}

TEST(ConvertEmbed, Qwen3F16TeacherWithoutPrefixMatchesReference) {
    if (!have_python_numpy()) GTEST_SKIP() << "needs /usr/bin/python3 with numpy for the reference";
    TempDir tmp("cembqf");
    convert::Options o;
    o.linear_type = "f16";
    const auto inputs = some_inputs(266, kQwenEos, std::nullopt, 2);
    const std::string out = convert_and_compare(tmp, {"qwen3-tiny", "--no-model-prefix --no-norm-in --pooling mean", o, true}, inputs);
    const auto f = gguf::File::open(out);
    EXPECT_EQ(f.get<uint32_t>("qwen3.pooling_type"), 1u);
    EXPECT_EQ(f.tensor("blk.0.attn_output.weight").type, uint32_t(GgmlType::F16));
    EXPECT_EQ(f.find_tensor("blk.0.attn_q_norm_in.weight"), nullptr);
    EXPECT_EQ(f.get<uint32_t>("general.file_type"), 1u);
}

TEST(ConvertEmbed, Gemma3I2SWithBitLinearNormsMatchesReference) {
    if (!have_python_numpy()) GTEST_SKIP() << "needs /usr/bin/python3 with numpy for the reference";
    TempDir tmp("cembg");
    const auto inputs = some_inputs(363, kGemmaEos, kGemmaBos, 3);
    const std::string out = convert_and_compare(tmp, {"gemma3-tiny", "--pooling mean", {}, false}, inputs);
    const auto f = gguf::File::open(out);
    EXPECT_EQ(f.get<std::string>("general.architecture"), "gemma3");
    EXPECT_EQ(f.get<uint32_t>("gemma3.pooling_type"), 1u);
    EXPECT_EQ(f.get<uint32_t>("gemma3.attention.sliding_window"), 4u);
    EXPECT_EQ(f.get<uint32_t>("gemma3.attention.sliding_window_pattern"), 2u);
    EXPECT_FLOAT_EQ(f.get<float>("gemma3.rope.freq_base_swa"), 10000.0f);
    EXPECT_FLOAT_EQ(f.get<float>("gemma3.rope.freq_base"), 1e6f);
    for (const char* t : {"blk.2.post_attention_norm.weight", "blk.2.post_ffw_norm.weight", "blk.0.ffn_up_norm_in.weight"})
        EXPECT_NE(f.find_tensor(t), nullptr) << t;

    // Gemma's own norms hold 1 + w (HF's w is near 0 here), the BitLinear ones w itself (near 1).
    const auto mean_of = [&](const std::string& name) {
        const auto& t = f.tensor(name);
        double s = 0;
        for (int64_t i = 0; i < t.n_elements; ++i) {
            float v;
            std::memcpy(&v, t.data + 4 * i, 4);
            s += v;
        }
        return s / double(t.n_elements);
    };
    EXPECT_NEAR(mean_of("output_norm.weight"), 1.0, 0.15);
    EXPECT_NEAR(mean_of("blk.1.attn_q_norm.weight"), 1.0, 0.2);
    EXPECT_NEAR(mean_of("blk.1.attn_q_norm_in.weight"), 1.0, 0.15);

    // <bos> text <eos>, both from the post-processor.
    const Tokenizer tok = Tokenizer::from_model(Model::load(out));
    EXPECT_TRUE(tok.adds_bos());
    EXPECT_TRUE(tok.adds_eos());
    EXPECT_EQ(tok.eos(), kGemmaEos);
    const auto ids = tok.encode("the cat", true, true);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), kGemmaBos);
}

TEST(ConvertEmbed, Gemma3F16TeacherWithLayerTypesMatchesReference) {
    if (!have_python_numpy()) GTEST_SKIP() << "needs /usr/bin/python3 with numpy for the reference";
    TempDir tmp("cembgf");
    convert::Options o;
    o.linear_type = "f16";
    const auto inputs = some_inputs(363, kGemmaEos, kGemmaBos, 4);
    const std::string out = convert_and_compare(tmp, {"gemma3-tiny", "--no-model-prefix --no-norm-in --layer-types", o, true}, inputs);
    const auto f = gguf::File::open(out);
    const gguf::Value* pattern = f.find("gemma3.attention.sliding_window_pattern");
    ASSERT_NE(pattern, nullptr);
    ASSERT_EQ(pattern->type, gguf::ValueType::ARRAY);
    std::vector<bool> local;
    for (const auto& v : pattern->items) local.push_back(v.u != 0);
    EXPECT_EQ(local, (std::vector<bool>{true, false, true}));  // from layer_types
    EXPECT_EQ(f.tensor("blk.2.ffn_gate.weight").type, uint32_t(GgmlType::F16));
}

// Hugging Face's real vocabularies through the converter, beside a small model
// whose embedding has a row for each of their ids: Qwen3's tokenizer.json
// (given the post-processor Qwen3-Embedding has, appending <|endoftext|>) and
// Gemma 3's, converted, tokenize the multilingual test strings as
// transformers.js does; the EOS follows the post-processor, not
// tokenizer_config.json's eos_token.
TEST(ConvertEmbed, RealTokenizersTokenizeAsHuggingFace) {
    struct Real {
        std::string layout, folder, vectors;
        int64_t rows;
        int32_t eos;
        bool add_eos;
    };
    for (const Real& r : {Real{"qwen3", "qwen3", "hf-qwen3", 151680, 151643, true}, Real{"gemma3", "gemma3", "hf-gemma3", 262208, 106, false}}) {
        SCOPED_TRACE(r.layout);
        TempDir tmp("cembtok");
        const std::string dir = tmp / "hf", src = std::string(TERN_TEST_DATA_DIR) + "/external/" + r.folder;
        hf::write_checkpoint(dir, hf::Spec{.layout = r.layout, .hidden = 32, .ffn = 128, .layers = 1, .heads = 2, .kv_heads = 1,
                                           .vocab = r.rows, .head_dim = 64, .norm_in = false, .dtype = "F16"});
        fs::copy_file(src + "/tokenizer_config.json", dir + "/tokenizer_config.json");
        if (r.layout == "qwen3") {
            std::ifstream in(src + "/tokenizer.json");
            nlohmann::ordered_json j = nlohmann::ordered_json::parse(in);
            const nlohmann::ordered_json eos = {{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}};
            j["post_processor"] = {{"type", "Sequence"},
                                   {"processors", {j["post_processor"], {{"type", "TemplateProcessing"},
                                                                         {"single", {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, eos}},
                                                                         {"pair", nlohmann::ordered_json::array()},
                                                                         {"special_tokens", nlohmann::ordered_json::object()}}}}};
            hf::write_text(dir + "/tokenizer.json", j.dump());
        } else {
            fs::copy_file(src + "/tokenizer.json", dir + "/tokenizer.json");
        }
        convert::Options o;
        o.linear_type = "f16";
        const auto res = convert::convert_checkpoint(dir, tmp / "out.gguf", o);
        EXPECT_EQ(res.plan.tokenizer, "tokenizer.json");
        const auto f = gguf::File::open(tmp / "out.gguf");
        EXPECT_EQ(f.get<uint32_t>("tokenizer.ggml.eos_token_id"), uint32_t(r.eos));
        EXPECT_EQ(f.get<bool>("tokenizer.ggml.add_eos_token"), r.add_eos);
        const Tokenizer tok = Tokenizer::create(tokenizer_data_from_gguf(f));
        if (r.layout == "qwen3") {
            EXPECT_EQ(f.get<std::string>("tokenizer.ggml.pre"), "qwen2");
            EXPECT_EQ(tok.eot(), 151645);  // <|im_end|>, tokenizer_config's eos_token
        }
        const auto cases = test::load_tokenizer_cases(std::string(TERN_TEST_DATA_DIR) + "/tokenizer-tests/" + r.vectors);
        ASSERT_GE(cases.size(), 40u);
        for (const auto& c : cases) EXPECT_EQ(tok.encode(c.text, false, true), c.ids) << c.text;
    }
}

// ---------------------------------------------------------------- errors

void rewrite_json(const std::string& path, const std::function<void(nlohmann::json&)>& f) {
    std::ifstream in(path);
    nlohmann::json c = nlohmann::json::parse(in);
    in.close();
    f(c);
    hf::write_text(path, c.dump(2));
}

TEST(ConvertEmbed, BadFoldersAreClearErrorsAndWriteNothing) {
    struct Broken {
        std::string what, layout, expect;
        std::function<void(const std::string& dir)> damage;
        convert::Options opts = {};
    };
    const auto config = [](std::function<void(nlohmann::json&)> f) {
        return [f](const std::string& d) { rewrite_json(d + "/config.json", f); };
    };
    const auto pooling_cfg = [](std::function<void(nlohmann::json&)> f) {
        return [f](const std::string& d) {
            fs::create_directories(d + "/1_Pooling");
            nlohmann::json p = {{"pooling_mode_lasttoken", true}, {"pooling_mode_mean_tokens", false}};
            f(p);
            hf::write_text(d + "/1_Pooling/config.json", p.dump());
        };
    };
    const std::vector<Broken> cases = {
        {"unknown model_type names the list", "qwen3", "architecture 'MistralForCausalLM' is not supported (model_type 'mistral')",
         config([](auto& c) { c["model_type"] = "mistral", c["architectures"] = {"MistralForCausalLM"}; })},
        {"the list names both model types", "qwen3", "model_type qwen3 (Qwen3Model, Qwen3ForCausalLM) and gemma3_text",
         config([](auto& c) { c["model_type"] = "mistral", c["architectures"] = {"MistralForCausalLM"}; })},
        {"missing key names key and file", "qwen3", "/config.json: key 'num_hidden_layers' is missing",
         config([](auto& c) { c.erase("num_hidden_layers"); })},
        {"missing key, gemma3", "gemma3", "/config.json: key 'intermediate_size' is missing",
         config([](auto& c) { c.erase("intermediate_size"); })},
        {"class of another model type", "qwen3", "model_type qwen3 with architecture 'Gemma3TextModel'",
         config([](auto& c) { c["architectures"] = {"Gemma3TextModel"}; })},
        {"wrong activation", "qwen3", "activation 'gelu' is not supported", config([](auto& c) { c["hidden_act"] = "gelu"; })},
        {"head_dim that the tensors do not have", "qwen3", "self_attn.q_norm.weight' has shape [32], but config.json implies [16]",
         config([](auto& c) { c["head_dim"] = 16; })},
        {"attention scale", "gemma3", "query_pre_attn_scalar 256 differs from head_dim 32",
         config([](auto& c) { c["query_pre_attn_scalar"] = 256; })},
        {"bidirectional attention", "gemma3", "use_bidirectional_attention", config([](auto& c) { c["use_bidirectional_attention"] = true; })},
        {"layer_types of the wrong length", "gemma3", "'layer_types' must list one attention type for each of the 2 layers",
         config([](auto& c) { c["layer_types"] = {"full_attention"}; })},
        {"rope scaling", "qwen3", "rope_scaling", config([](auto& c) { c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; })},
        {"no embedding tensor", "qwen3", "neither 'model.embed_tokens.weight' nor 'embed_tokens.weight'",
         [](const std::string& d) {
             auto ts = hf::tensors_of(hf::Spec{.layout = "qwen3", .hidden = 64, .ffn = 128, .heads = 4, .kv_heads = 2, .vocab = 40, .head_dim = 32});
             std::erase_if(ts, [](const hf::Tensor& t) { return t.name == "model.embed_tokens.weight"; });
             hf::write_bytes(d + "/model.safetensors", hf::safetensors_bytes(ts));
         }},
        {"missing q_norm", "gemma3", "tensor 'model.layers.1.self_attn.k_norm.weight' is missing",
         [](const std::string& d) {
             auto ts = hf::tensors_of(hf::Spec{.layout = "gemma3", .hidden = 64, .ffn = 128, .heads = 4, .kv_heads = 2, .vocab = 40, .head_dim = 32});
             std::erase_if(ts, [](const hf::Tensor& t) { return t.name == "model.layers.1.self_attn.k_norm.weight"; });
             hf::write_bytes(d + "/model.safetensors", hf::safetensors_bytes(ts));
         }},
        {"a Dense module after pooling", "qwen3", "module '2_Dense' (sentence_transformers.models.Dense) is not supported",
         [](const std::string& d) {
             hf::write_text(d + "/modules.json", R"([{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
                 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
                 {"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}])");
         }},
        {"two pooling modes", "qwen3", "2 pooling modes are on", pooling_cfg([](auto& p) { p["pooling_mode_mean_tokens"] = true; })},
        {"max pooling", "qwen3", "pooling_mode_max_tokens is not supported", pooling_cfg([](auto& p) { p["pooling_mode_max_tokens"] = true; })},
        {"--arch on an embedding model", "qwen3", "--arch llama does not apply to a qwen3 checkpoint", [](const std::string&) {},
         convert::Options{.arch = "llama"}},
    };
    for (const Broken& b : cases) {
        SCOPED_TRACE(b.what);
        TempDir tmp("cembbad");
        const std::string dir = tmp / "hf";
        hf::write_checkpoint(dir, hf::Spec{.layout = b.layout, .hidden = 64, .ffn = 128, .heads = 4, .kv_heads = 2, .vocab = 40, .head_dim = 32});
        b.damage(dir);
        test::expect_convert_error(dir, tmp / "out.gguf", b.opts, b.expect);
    }
}

// Folders written here (no numpy needed) convert and load: without any
// sentence-transformers files a warning says the pooling is unknown; a bare
// 1_Pooling folder with cls_token gives pooling_type 2.
TEST(ConvertEmbed, FoldersWithoutPoolingOrTokenizerConvertAndLoad) {
    for (const char* layout : {"qwen3", "gemma3"}) {
        SCOPED_TRACE(layout);
        const bool gemma = std::string(layout) == "gemma3";
        TempDir tmp("cembbare");
        const hf::Spec s{.layout = layout, .hidden = 64, .ffn = 128, .heads = 4, .kv_heads = 2, .vocab = 40, .head_dim = 32, .prefix = false};
        hf::write_checkpoint(tmp / "hf", s);
        if (gemma) {
            fs::create_directories(tmp / "hf/1_Pooling");
            hf::write_text(tmp / "hf/1_Pooling/config.json", R"({"pooling_mode_cls_token": true, "pooling_mode_lasttoken": false})");
        }
        std::vector<std::string> warnings;
        convert::Options o;
        o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
        const auto r = convert::convert_checkpoint(tmp / "hf", tmp / "out.gguf", o);
        EXPECT_EQ(r.plan.prefix, "");
        EXPECT_TRUE(r.plan.norm_in);
        EXPECT_EQ(r.plan.pooling, gemma ? 2 : -1);
        ASSERT_EQ(warnings.size(), gemma ? 1u : 2u);
        if (!gemma) {
            EXPECT_NE(warnings[0].find("pooling"), std::string::npos) << warnings[0];
        }
        EXPECT_NE(warnings.back().find("no tokenizer"), std::string::npos) << warnings.back();
        const auto f = gguf::File::open(tmp / "out.gguf");
        EXPECT_EQ(f.has(std::string(layout) + ".pooling_type"), gemma);
        EXPECT_EQ(f.has("gemma3.attention.sliding_window"), gemma);
        const Model m = Model::load(tmp / "out.gguf");
        EXPECT_FALSE(m.info().has_output_head);
        EXPECT_EQ(tern_embeddings(tmp / "out.gguf", {{1, 2, 3}}).size(), 64u);
    }
}

}  // namespace
}  // namespace tern
