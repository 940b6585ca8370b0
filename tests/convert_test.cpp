// `tern convert`: Hugging Face checkpoints (synthetic, every naming, dtype,
// sharding and packing) -> GGUF -> tern's forward pass equals the numpy
// reference run on the checkpoint folder itself; tokenizers survive the trip;
// malformed inputs are clear errors that leave no file behind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tern/convert.h"
#include "convert/safetensors.h"
#include "convert_util.h"
#include "kernels/formats.h"
#include "tern/gguf.h"
#include "model/hparams.h"
#include "tern/model.h"
#include "tern/session.h"
#include "kernels/ternary_formats.h"
#include "test_util.h"
#include "tern/tokenizer.h"

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

const std::string kData = TERN_TEST_DATA_DIR;

// Logits [tokens, vocab] of the numpy reference run on the HF folder itself
// (or, with gguf = true, on a GGUF file).
std::vector<float> reference_logits(const std::string& path, const std::vector<int32_t>& tokens, bool gguf = false) {
    const std::string out = test::temp_path("ref.npy");
    std::string log;
    const int rc = sh(kPython + " " + kReference + "/run.py " + (gguf ? "" : "--hf ") + path + " --tokens " + join(tokens) +
                          " --out " + out + " --quiet",
                      &log);
    EXPECT_EQ(rc, 0) << log;
    if (rc != 0) return {};
    auto v = test::read_npy_f32(out);
    fs::remove(out);
    return v;
}

std::vector<float> tern_logits(const std::string& gguf, const std::vector<int32_t>& tokens) {
    const Model model = Model::load(gguf);
    Session s(model, {.n_ctx = 64, .n_batch = 512, .n_threads = 2});
    s.eval(tokens, true);
    const int64_t V = model.info().n_vocab;
    return std::vector<float>(s.logits(0), s.logits(0) + int64_t(tokens.size()) * V);
}

// Same criteria as the forward-pass goldens: same argmax everywhere, cosine >= 0.9999.
void expect_same_logits(const std::vector<float>& ref, const std::vector<float>& got, size_t n_tokens, const std::string& what,
                        double cos_min = 0.9999) {
    ASSERT_EQ(ref.size(), got.size()) << what;
    ASSERT_GT(n_tokens, 0u);
    const size_t V = ref.size() / n_tokens;
    double worst = 1.0;
    for (size_t t = 0; t < n_tokens; ++t) {
        const float* a = &got[t * V];
        const float* b = &ref[t * V];
        double dot = 0, na = 0, nb = 0;
        size_t am = 0, bm = 0;
        for (size_t i = 0; i < V; ++i) {
            dot += double(a[i]) * b[i];
            na += double(a[i]) * a[i];
            nb += double(b[i]) * b[i];
            if (a[i] > a[am]) am = i;
            if (b[i] > b[bm]) bm = i;
        }
        EXPECT_EQ(am, bm) << what << ": argmax differs at position " << t;
        worst = std::min(worst, dot / std::sqrt(na * nb));
    }
    EXPECT_GE(worst, cos_min) << what;
}

std::vector<int32_t> some_tokens(int64_t vocab, size_t n, uint64_t seed) {
    hf::Rng rng(seed);
    std::vector<int32_t> t(n);
    for (auto& x : t) x = int32_t(rng.next() % uint64_t(vocab));
    return t;
}

convert::Result convert_quiet(const std::string& dir, const std::string& out, convert::Options o = {}) {
    return convert::convert_checkpoint(dir, out, o);
}

// Converts, loads and compares with the reference run on the checkpoint.
// Lossy output formats (TQ1_0/TQ2_0 keep beta as fp16, Q8_0 embeddings) move
// the logits a little, and BitLinear's int8 activation rounding amplifies it:
// then tern must equal the reference run on the GGUF itself (the converter
// wrote what it meant to), and stay close to the checkpoint's logits.
void check_against_reference(const hf::Spec& spec, convert::Options opts, const std::string& what, bool lossy = false) {
    if (!have_python_numpy()) GTEST_SKIP() << "needs /usr/bin/python3 with numpy for the reference";
    TempDir tmp("conv");
    const std::string dir = tmp / "hf";
    hf::write_checkpoint(dir, spec);
    const std::string out = tmp / "model.gguf";
    const auto res = convert_quiet(dir, out, opts);
    EXPECT_EQ(res.plan.n_vocab, spec.vocab);
    const auto tokens = some_tokens(spec.vocab, 7, spec.seed + 100);
    const auto ref = reference_logits(dir, tokens);
    ASSERT_FALSE(ref.empty());
    const auto got = tern_logits(out, tokens);
    if (!lossy) {
        expect_same_logits(ref, got, tokens.size(), what);
        return;
    }
    const auto ref_gguf = reference_logits(out, tokens, true);
    ASSERT_FALSE(ref_gguf.empty());
    expect_same_logits(ref_gguf, got, tokens.size(), what + " (reference on the GGUF)");
    expect_same_logits(ref, got, tokens.size(), what + " (reference on the checkpoint)", 0.999);
}

// ---------------------------------------------------------------- logits vs reference

TEST(Convert, BitNet2B4TNamingBf16ShardedI2S) {
    hf::Spec s;
    s.layout = "bitnet";
    s.hidden = 128, s.ffn = 384, s.heads = 4, s.kv_heads = 1, s.vocab = 288, s.rope_theta = 500000;
    s.dtype = "BF16", s.shards = 3, s.seed = 11;
    check_against_reference(s, {}, "bitnet bf16 sharded i2_s");
}

TEST(Convert, BitNetF16Tq2AndQ8Embedding) {
    hf::Spec s;
    s.layout = "bitnet";
    s.hidden = 256, s.ffn = 512, s.heads = 8, s.kv_heads = 4, s.vocab = 272;
    s.dtype = "F16", s.seed = 12;
    convert::Options o;
    o.linear_type = "tq2_0";
    o.embd_type = "q8_0";
    check_against_reference(s, o, "bitnet f16 tq2_0 q8_0", true);
}

TEST(Convert, OneBitLlmNamingF32UntiedTq1) {
    hf::Spec s;
    s.layout = "1bitllm";
    s.hidden = 256, s.ffn = 256, s.heads = 4, s.kv_heads = 4, s.vocab = 264;
    s.dtype = "F32", s.untied = true, s.seed = 13;
    convert::Options o;
    o.linear_type = "tq1_0";
    o.embd_type = "f32";
    check_against_reference(s, o, "1bitLLM f32 untied tq1_0", true);
}

TEST(Convert, LlamaTernaryPermutesQK) {
    hf::Spec s;
    s.layout = "llama";
    s.hidden = 128, s.ffn = 256, s.heads = 4, s.kv_heads = 2, s.vocab = 300, s.rope_theta = 500000;
    s.dtype = "BF16", s.shards = 2, s.seed = 14;
    check_against_reference(s, {}, "llama bf16 i2_s (q/k permuted for NORM rope)");
}

TEST(Convert, F16TernaryLinears) {
    hf::Spec s;
    s.layout = "bitnet";
    s.hidden = 64, s.ffn = 128, s.heads = 2, s.kv_heads = 1, s.vocab = 288, s.seed = 15;
    convert::Options o;
    o.linear_type = "f16";
    check_against_reference(s, o, "bitnet bf16 -> f16 ternary floats", true);
}

// The real tiny preset (make_hf_checkpoint.py, 2B4T layout, LLaMA-3 vocabulary
// and tokenizer), through the command line; its tokenizer then passes
// llama.cpp's llama-bpe reference tokenizations.
TEST(Convert, TinyPresetThroughCliAndLlama3Tokenizer) {
    if (!have_python_numpy()) GTEST_SKIP() << "needs /usr/bin/python3 with numpy";
    TempDir tmp("tiny");
    const std::string dir = tmp / "hf";
    std::string log;
    ASSERT_EQ(sh(kPython + " " + kReference + "/make_hf_checkpoint.py --preset tiny --embed-std 1.0 --linear-std 0.05 --out " +
                     dir + " --tokenizer-dir " + kData + "/external/bitnet-2b4t",
                 &log),
              0)
        << log;
    const std::string out = tmp / "tiny.gguf";
    ASSERT_EQ(test::run_tern("convert " + dir + " -o " + out, &log, true), 0) << log;
    EXPECT_NE(log.find("wrote"), std::string::npos) << log;  // one summary line, no progress bar off a TTY
    EXPECT_EQ(log.find("\r"), std::string::npos) << log;

    const std::vector<int32_t> tokens = {128000, 791, 6864, 315, 9822, 374, 12366};
    const auto ref = reference_logits(dir, tokens);
    ASSERT_FALSE(ref.empty());
    expect_same_logits(ref, tern_logits(out, tokens), tokens.size(), "tiny preset");

    // Metadata as SPEC §1 / §6 say.
    const auto f = gguf::File::open(out);
    EXPECT_EQ(f.get<std::string>("general.architecture"), "bitnet-b1.58");
    EXPECT_EQ(f.get<uint32_t>("bitnet-b1.58.embedding_length"), 256u);
    EXPECT_EQ(f.get<uint32_t>("bitnet-b1.58.attention.head_count_kv"), 2u);
    EXPECT_EQ(f.get<uint32_t>("general.file_type"), 40u);
    EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, uint32_t(GgmlType::I2_S));
    EXPECT_EQ(f.tensor("token_embd.weight").type, uint32_t(GgmlType::F16));
    EXPECT_EQ(f.tensor("blk.3.ffn_sub_norm.weight").type, uint32_t(GgmlType::F32));
    EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
    EXPECT_EQ(f.get<std::string>("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(f.get<std::string>("tokenizer.ggml.pre"), "llama-bpe");
    EXPECT_EQ(f.get<uint32_t>("tokenizer.ggml.bos_token_id"), 128000u);
    EXPECT_EQ(f.get<uint32_t>("tokenizer.ggml.eot_token_id"), 128009u);
    EXPECT_TRUE(f.get<bool>("tokenizer.ggml.add_bos_token"));
    EXPECT_NE(f.get<std::string>("tokenizer.chat_template").find("capitalize"), std::string::npos);

    // The converted vocabulary tokenizes exactly as llama.cpp's references.
    const Tokenizer tok = Tokenizer::create(tokenizer_data_from_gguf(f));
    EXPECT_EQ(tok.n_vocab(), 128256);
    EXPECT_EQ(tok.eot(), 128009);
    const std::string base = kData + "/tokenizer-tests/ggml-vocab-llama-bpe.gguf";
    std::ifstream inp(base + ".inp", std::ios::binary), outp(base + ".out");
    ASSERT_TRUE(inp && outp);
    std::stringstream ss;
    ss << inp.rdbuf();
    const std::string all = ss.str(), sep = "\n__ggml_vocab_test__\n";
    size_t n_cases = 0;
    for (size_t pos = 0; pos < all.size();) {
        size_t end = all.find(sep, pos);
        if (end == std::string::npos) end = all.size();
        const std::string text = all.substr(pos, end - pos);
        pos = end + sep.size();
        std::string line;
        if (!std::getline(outp, line)) break;
        std::vector<int32_t> want;
        std::istringstream ls(line);
        for (int32_t id; ls >> id;) want.push_back(id);
        EXPECT_EQ(tok.encode(text, false, false), want) << "text: " << text;
        ++n_cases;
    }
    EXPECT_GE(n_cases, 20u);
}

// ---------------------------------------------------------------- packed uint8 (SPEC §7)

// Packed form of ternary trits [out, in]: uint8 [ceil(out/4), in].
std::vector<uint8_t> pack_2b4t(const std::vector<int8_t>& trits, int64_t out, int64_t in) {
    const int64_t R = (out + 3) / 4;
    std::vector<uint8_t> p(size_t(R * in), 0);
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t r = 0; r < R; ++r)
            for (int64_t c = 0; c < in; ++c) {
                const int64_t row = i * R + r;
                const int code = row < out ? trits[size_t(row * in + c)] + 1 : 1;
                p[size_t(r * in + c)] = uint8_t(p[size_t(r * in + c)] | (code << (2 * i)));
            }
    return p;
}

std::vector<uint8_t> tensor_bytes_of(const gguf::File& f, const std::string& name) {
    const auto& t = f.tensor(name);
    return {t.data, t.data + t.n_bytes};
}

// A checkpoint whose linears are exactly ternary (beta a power of two, so
// 1/beta is exact too), written as F32 ternary floats and in both packed
// classes: all three convert to byte-identical GGUF tensors.
TEST(Convert, PackedUint8FormsGiveIdenticalTensors) {
    TempDir tmp("packed");
    hf::Spec s;
    s.layout = "bitnet";
    s.hidden = 256, s.ffn = 256, s.heads = 4, s.kv_heads = 2, s.vocab = 256, s.dtype = "F32", s.seed = 21;
    const auto base = hf::tensors_of(s);
    std::vector<hf::Tensor> floats, packed_auto, packed_bit;
    hf::Rng rng(99);
    for (const auto& t : base) {
        const bool linear = t.name.find("_proj.weight") != std::string::npos;
        if (!linear) {
            floats.push_back(t);
            packed_auto.push_back(t);
            packed_bit.push_back(t);
            continue;
        }
        const int64_t out = t.shape[0], in = t.shape[1];
        const float beta = std::ldexp(1.0f, -int(rng.next() % 6) - 2);
        std::vector<int8_t> trits(size_t(out * in));
        std::vector<float> w(trits.size());
        for (size_t i = 0; i < trits.size(); ++i) {
            trits[i] = int8_t(int(rng.next() % 3) - 1);
            w[i] = beta * float(trits[i]);
        }
        floats.push_back(hf::float_tensor(t.name, t.shape, w, "F32"));
        const std::string base_name = t.name.substr(0, t.name.size() - 7);  // drop ".weight"
        for (auto* dst : {&packed_auto, &packed_bit}) {
            dst->push_back({t.name, "U8", {(out + 3) / 4, in}, pack_2b4t(trits, out, in)});
            const float ws = dst == &packed_auto ? beta : 1.0f / beta;
            dst->push_back(hf::float_tensor(base_name + ".weight_scale", {1}, {ws}, dst == &packed_auto ? "BF16" : "F32"));
        }
    }
    auto cfg = hf::config_of(s);
    hf::write_checkpoint(tmp / "float", floats, cfg);
    cfg["quantization_config"] = {{"quant_method", "bitnet"}, {"linear_class", "autobitlinear"}, {"quantization_mode", "offline"}};
    hf::write_checkpoint(tmp / "auto", packed_auto, cfg, 2);
    cfg["quantization_config"] = {{"quant_method", "bitnet"}, {"linear_class", "bitlinear"}};
    hf::write_checkpoint(tmp / "bit", packed_bit, cfg);

    for (const char* type : {"i2_s", "tq2_0"}) {
        convert::Options o;
        o.linear_type = type;
        convert_quiet(tmp / "float", tmp / "float.gguf", o);
        convert_quiet(tmp / "auto", tmp / "auto.gguf", o);
        convert_quiet(tmp / "bit", tmp / "bit.gguf", o);
        const auto a = gguf::File::open(tmp / "float.gguf");
        const auto b = gguf::File::open(tmp / "auto.gguf");
        const auto c = gguf::File::open(tmp / "bit.gguf");
        ASSERT_EQ(a.tensors().size(), b.tensors().size());
        for (const auto& t : a.tensors()) {
            SCOPED_TRACE(std::string(type) + " " + t.name);
            EXPECT_EQ(tensor_bytes_of(a, t.name), tensor_bytes_of(b, t.name));
            EXPECT_EQ(tensor_bytes_of(a, t.name), tensor_bytes_of(c, t.name));
        }
    }
}

// The reference's own packer (tools/reference/hf.py pack) on master weights:
// same ternary codes as converting the float checkpoint, same beta to float
// rounding, and the packed folder's reference logits match.
TEST(Convert, ReferencePackerMatchesFloatConversion) {
    if (!have_python_numpy()) GTEST_SKIP() << "needs /usr/bin/python3 with numpy";
    TempDir tmp("hfpack");
    hf::Spec s;
    s.layout = "bitnet";
    s.hidden = 128, s.ffn = 256, s.heads = 4, s.kv_heads = 2, s.vocab = 256, s.dtype = "BF16", s.seed = 31;
    hf::write_checkpoint(tmp / "float", s);
    std::string log;
    ASSERT_EQ(sh(kPython + " " + kReference + "/hf.py pack " + (tmp / "float") + " " + (tmp / "packed") + " --scale-dtype F32", &log),
              0)
        << log;
    convert_quiet(tmp / "float", tmp / "float.gguf");
    convert_quiet(tmp / "packed", tmp / "packed.gguf");
    const auto a = gguf::File::open(tmp / "float.gguf");
    const auto b = gguf::File::open(tmp / "packed.gguf");
    for (const auto& t : a.tensors()) {
        SCOPED_TRACE(t.name);
        const auto x = tensor_bytes_of(a, t.name), y = tensor_bytes_of(b, t.name);
        ASSERT_EQ(x.size(), y.size());
        if (t.type != uint32_t(GgmlType::I2_S)) {
            EXPECT_EQ(x, y);
            continue;
        }
        const size_t n = size_t(t.n_elements / 4);
        EXPECT_TRUE(std::equal(x.begin(), x.begin() + long(n), y.begin())) << "ternary codes differ";
        float bx, by;
        std::memcpy(&bx, &x[n], 4);
        std::memcpy(&by, &y[n], 4);
        EXPECT_NEAR(bx, by, 1e-6 * bx);  // numpy sums in another order
    }
    const auto tokens = some_tokens(s.vocab, 6, 5);
    const auto ref = reference_logits(tmp / "packed", tokens);
    ASSERT_FALSE(ref.empty());
    expect_same_logits(ref, tern_logits(tmp / "packed.gguf", tokens), tokens.size(), "packed");
}

// ---------------------------------------------------------------- SentencePiece

TEST(Convert, SentencePieceTokenizerRoundTrips) {
    TempDir tmp("spm");
    hf::Spec s;
    s.layout = "1bitllm";
    s.hidden = 64, s.ffn = 128, s.heads = 2, s.kv_heads = 2, s.vocab = 32002, s.dtype = "F16", s.layers = 1, s.seed = 41;
    const std::string dir = tmp / "hf";
    hf::write_checkpoint(dir, s);
    for (const char* f : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"})
        fs::copy_file(kData + "/tokenizers/llama2-spm/" + f, dir + "/" + f);
    const auto res = convert_quiet(dir, tmp / "spm.gguf");
    EXPECT_EQ(res.plan.tokenizer, "tokenizer.model");
    EXPECT_EQ(res.plan.arch, "bitnet");
    EXPECT_EQ(res.n_vocab_tokens, 32000);

    const auto f = gguf::File::open(tmp / "spm.gguf");
    const auto ref = gguf::File::open(kData + "/tokenizer-tests/ggml-vocab-llama-spm.gguf");
    EXPECT_EQ(f.get<std::string>("tokenizer.ggml.model"), "llama");
    // Same pieces, scores and types as llama.cpp's converter wrote, then two padding tokens.
    auto toks = f.get<std::vector<std::string>>("tokenizer.ggml.tokens");
    auto scores = f.get<std::vector<float>>("tokenizer.ggml.scores");
    auto types = f.get<std::vector<int32_t>>("tokenizer.ggml.token_type");
    ASSERT_EQ(toks.size(), 32002u);
    EXPECT_EQ(toks[32000], "[PAD32000]");
    EXPECT_EQ(types[32001], 5);
    toks.resize(32000), scores.resize(32000), types.resize(32000);
    EXPECT_EQ(toks, ref.get<std::vector<std::string>>("tokenizer.ggml.tokens"));
    EXPECT_EQ(scores, ref.get<std::vector<float>>("tokenizer.ggml.scores"));
    EXPECT_EQ(types, ref.get<std::vector<int32_t>>("tokenizer.ggml.token_type"));
    for (const char* k : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"})
        EXPECT_EQ(f.get<uint32_t>(k), ref.get<uint32_t>(k)) << k;
    EXPECT_TRUE(f.get<bool>("tokenizer.ggml.add_bos_token"));

    const Tokenizer tok = Tokenizer::create(tokenizer_data_from_gguf(f));
    const std::string base = kData + "/tokenizer-tests/ggml-vocab-llama-spm.gguf";
    std::ifstream inp(base + ".inp", std::ios::binary), outp(base + ".out");
    std::stringstream ss;
    ss << inp.rdbuf();
    const std::string all = ss.str(), sep = "\n__ggml_vocab_test__\n";
    size_t n_cases = 0;
    for (size_t pos = 0; pos < all.size();) {
        size_t end = all.find(sep, pos);
        if (end == std::string::npos) end = all.size();
        const std::string text = all.substr(pos, end - pos);
        pos = end + sep.size();
        std::string line;
        if (!std::getline(outp, line)) break;
        std::vector<int32_t> want;
        std::istringstream ls(line);
        for (int32_t id; ls >> id;) want.push_back(id);
        EXPECT_EQ(tok.encode(text, false, false), want) << "text: " << text;
        ++n_cases;
    }
    EXPECT_GE(n_cases, 20u);
    // And the model loads: bitnet arch, SiLU (not the LLaMA-3 vocabulary).
    const Model m = Model::load(tmp / "spm.gguf");
    EXPECT_EQ(m.info().ffn_act, FfnAct::silu);
    EXPECT_EQ(m.info().n_vocab, 32002);
}

// Every prefix length of a SentencePiece model either parses or throws
// tern::Error: never a crash or an out-of-bounds read (run under ASan).
TEST(Convert, TruncatedSentencePieceModelIsAnError) {
    const auto bytes = test::read_file(kData + "/tokenizers/llama2-spm/tokenizer.model");
    std::mt19937 rng(7);
    std::vector<size_t> cuts = {0, 1, 2, 3, 5, 13, 14, 15, 100, bytes.size() - 1, bytes.size() - 2, bytes.size() - 300};
    for (int i = 0; i < 40; ++i) cuts.push_back(rng() % bytes.size());
    for (size_t n : cuts) {
        try {
            (void)tokenizer_data_from_spm_bytes(bytes.data(), n, "cut");
        } catch (const Error&) {
        }
    }
    EXPECT_THROW(tokenizer_data_from_spm_bytes(bytes.data(), bytes.size() - 1, "cut"), Error);
    // Flipped bytes too.
    for (int i = 0; i < 40; ++i) {
        auto b = bytes;
        for (int k = 0; k < 4; ++k) b[rng() % b.size()] ^= uint8_t(1u << (rng() % 8));
        try {
            (void)tokenizer_data_from_spm_bytes(b.data(), b.size(), "flipped");
        } catch (const Error&) {
        }
    }
    const auto full = tokenizer_data_from_spm_bytes(bytes.data(), bytes.size(), "full");
    EXPECT_EQ(full.tokens.size(), 32000u);
    EXPECT_EQ(full.bos_id, 1);
    EXPECT_EQ(full.eos_id, 2);
    EXPECT_EQ(full.unk_id, 0);
    EXPECT_FALSE(full.pad_id.has_value());
}

// ---------------------------------------------------------------- safetensors reader

std::vector<uint8_t> with_header(const std::string& header, size_t data_bytes) {
    std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
    for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(uint64_t(header.size()) >> (8 * i));
    std::memcpy(out.data() + 8, header.data(), header.size());
    return out;
}

TEST(Convert, SafetensorsReaderChecksEverything) {
    using convert::SafetensorsFile;
    const std::string ok = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"__metadata__":{"x":"y"}})";
    {
        const auto b = with_header(ok, 24);
        const auto f = SafetensorsFile::parse(b.data(), b.size());
        ASSERT_EQ(f->tensors().size(), 1u);
        EXPECT_EQ(f->find("a")->shape, (std::vector<int64_t>{2, 3}));
        EXPECT_EQ(f->find("a")->n_bytes, 24u);
    }
    const std::vector<std::pair<std::string, size_t>> bad = {
        {ok, 23},                                                                            // data truncated
        {"{not json", 0},                                                                    // header not JSON
        {"[1,2]", 0},                                                                        // not an object
        {R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 24},                // size vs shape
        {R"({"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,24]}})", 24},                // dtype vs size
        {R"({"a":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,24]}})", 24},               // negative dim
        {R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[24,0]}})", 24},                // reversed
        {R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0]}})", 24},                   // one offset
        {R"({"a":{"dtype":"F32","shape":[2,3]}})", 24},                                      // no offsets
        {R"({"a":{"shape":[2,3],"data_offsets":[0,24]}})", 24},                              // no dtype
        {R"({"a":{"dtype":"F32","shape":"x","data_offsets":[0,24]}})", 24},                  // shape not a list
        {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,24]}})", 24},  // overflow
        {R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,18446744073709551615]}})", 24},
        {R"({"a":5})", 0},
    };
    for (const auto& [h, n] : bad) {
        SCOPED_TRACE(h);
        const auto b = with_header(h, n);
        EXPECT_THROW(SafetensorsFile::parse(b.data(), b.size()), Error);
    }
    // Header length past the end, and files too short to have one.
    std::vector<uint8_t> b = with_header(ok, 24);
    b[0] = 0xff, b[1] = 0xff;
    EXPECT_THROW(SafetensorsFile::parse(b.data(), b.size()), Error);
    b[7] = 0xff;
    EXPECT_THROW(SafetensorsFile::parse(b.data(), b.size()), Error);
    for (size_t n = 0; n < 8; ++n) EXPECT_THROW(SafetensorsFile::parse(b.data(), n), Error);
    // Every truncation of a real file either parses or throws.
    const auto real = hf::safetensors_bytes(hf::tensors_of(hf::Spec{.layers = 1, .vocab = 32}));
    for (size_t n = 0; n < real.size(); n += 97) {
        try {
            (void)SafetensorsFile::parse(real.data(), n);
        } catch (const Error&) {
        }
    }
}

// ---------------------------------------------------------------- errors leave nothing behind

struct Broken {
    std::string what;
    std::string expect;  // a piece of the error message
    std::function<void(const std::string& dir)> damage;
    convert::Options opts = {};
};

void rewrite_config(const std::string& dir, const std::function<void(nlohmann::json&)>& f) {
    std::ifstream in(dir + "/config.json");
    nlohmann::json c = nlohmann::json::parse(in);
    in.close();
    f(c);
    hf::write_text(dir + "/config.json", c.dump(2));
}

void rewrite_tensors(const std::string& dir, const hf::Spec& s, const std::function<void(std::vector<hf::Tensor>&)>& f) {
    auto ts = hf::tensors_of(s);
    f(ts);
    hf::write_bytes(dir + "/model.safetensors", hf::safetensors_bytes(ts));
}

TEST(Convert, BadInputsAreClearErrorsAndWriteNothing) {
    hf::Spec s;
    s.layout = "bitnet";
    s.hidden = 64, s.ffn = 128, s.heads = 2, s.kv_heads = 1, s.vocab = 40, s.layers = 2, s.seed = 51;
    auto set_value = [](std::vector<hf::Tensor>& ts, const std::string& name, float v) {
        for (auto& t : ts)
            if (t.name == name) {
                const auto enc = hf::encode({v}, t.dtype);
                std::memcpy(t.bytes.data() + 5 * enc.size(), enc.data(), enc.size());
            }
    };
    const std::vector<Broken> cases = {
        {"no config", "config.json is missing", [](const std::string& d) { fs::remove(d + "/config.json"); }},
        {"config not JSON", "not valid JSON", [](const std::string& d) { hf::write_text(d + "/config.json", "{\"hidden_size\": 6"); }},
        {"unknown architecture", "GPT2LMHeadModel' is not supported",
         [](const std::string& d) { rewrite_config(d, [](auto& c) { c["architectures"] = {"GPT2LMHeadModel"}; }); }},
        {"plain llama", "not a ternary model", [](const std::string& d) {
             rewrite_config(d, [](auto& c) {
                 c["architectures"] = {"LlamaForCausalLM"};
                 c.erase("quantization_config");
             });
         }},
        {"missing hidden_size", "'hidden_size' is missing", [](const std::string& d) { rewrite_config(d, [](auto& c) { c.erase("hidden_size"); }); }},
        {"vocab mismatch", "vocab_size is 41", [](const std::string& d) { rewrite_config(d, [](auto& c) { c["vocab_size"] = 41; }); }},
        {"ffn mismatch", "model.layers.0.mlp.gate_proj.weight' has shape [128, 64]",
         [](const std::string& d) { rewrite_config(d, [](auto& c) { c["intermediate_size"] = 192; }); }},
        {"activation mismatch", "hidden_act is 'silu'", [](const std::string& d) { rewrite_config(d, [](auto& c) { c["hidden_act"] = "silu"; }); }},
        {"missing tensor", "model.layers.1.mlp.up_proj.weight' is missing", [s](const std::string& d) {
             rewrite_tensors(d, s, [](auto& ts) { std::erase_if(ts, [](const hf::Tensor& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; }); });
         }},
        {"extra tensor", "model.layers.0.self_attn.q_proj.bias' has no place", [s](const std::string& d) {
             rewrite_tensors(d, s, [](auto& ts) { ts.push_back(hf::float_tensor("model.layers.0.self_attn.q_proj.bias", {64}, std::vector<float>(64), "F32")); });
         }},
        {"NaN weight", "model.layers.1.self_attn.k_proj.weight' holds NaN at row 0, column 5", [s, set_value](const std::string& d) {
             rewrite_tensors(d, s, [&](auto& ts) { set_value(ts, "model.layers.1.self_attn.k_proj.weight", NAN); });
         }},
        {"Inf norm", "model.norm.weight' holds an infinity", [s, set_value](const std::string& d) {
             rewrite_tensors(d, s, [&](auto& ts) { set_value(ts, "model.norm.weight", INFINITY); });
         }},
        {"Inf embedding", "model.embed_tokens.weight' holds an infinity at row 0, column 5", [s, set_value](const std::string& d) {
             rewrite_tensors(d, s, [&](auto& ts) { set_value(ts, "model.embed_tokens.weight", -INFINITY); });
         }},
        {"integer linear", "has dtype I32", [s](const std::string& d) {
             rewrite_tensors(d, s, [](auto& ts) {
                 for (auto& t : ts)
                     if (t.name == "model.layers.0.mlp.down_proj.weight") t.dtype = "I32", t.bytes.resize(t.bytes.size() * 2);
             });
         }},
        {"packed without scale", "weight_scale' is missing", [s](const std::string& d) {
             rewrite_tensors(d, s, [](auto& ts) {
                 for (auto& t : ts)
                     if (t.name == "model.layers.0.mlp.down_proj.weight") t = {t.name, "U8", {16, 128}, std::vector<uint8_t>(16 * 128, 0x55)};
             });
         }},
        {"packed code 3", "invalid 2-bit code 3", [s](const std::string& d) {
             rewrite_tensors(d, s, [](auto& ts) {
                 for (auto& t : ts)
                     if (t.name == "model.layers.0.mlp.down_proj.weight") {
                         t = {t.name, "U8", {16, 128}, std::vector<uint8_t>(16 * 128, 0x55)};
                         t.bytes[300] = 0xff;
                     }
                 ts.push_back(hf::float_tensor("model.layers.0.mlp.down_proj.weight_scale", {1}, {0.5f}, "BF16"));
             });
         }},
        {"truncated safetensors", "truncated", [](const std::string& d) {
             fs::resize_file(d + "/model.safetensors", fs::file_size(d + "/model.safetensors") - 10);
         }},
        {"garbage safetensors", "header length", [](const std::string& d) { hf::write_text(d + "/model.safetensors", "not a safetensors file at all"); }},
        {"index names a missing shard", "cannot open", [](const std::string& d) {
             hf::write_text(d + "/model.safetensors.index.json", R"({"weight_map": {"model.norm.weight": "model-00009-of-00009.safetensors"}})");
         }},
        {"index escapes the folder", "not a file name", [](const std::string& d) {
             hf::write_text(d + "/model.safetensors.index.json", R"({"weight_map": {"model.norm.weight": "../model.safetensors"}})");
         }},
        {"tokenizer.json not JSON", "tokenizer.json: not valid JSON", [](const std::string& d) { hf::write_text(d + "/tokenizer.json", "{\"model\": "); }},
        {"tokenizer.json not BPE", "model type 'WordPiece'", [](const std::string& d) {
             hf::write_text(d + "/tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
         }},
        {"tokenizer.model truncated", "not a valid SentencePiece model", [](const std::string& d) {
             auto b = test::read_file(kData + "/tokenizers/llama2-spm/tokenizer.model");
             b.resize(b.size() / 2 + 3);
             hf::write_bytes(d + "/tokenizer.model", b);
         }},
        {"more tokens than embedding rows", "has 32000 tokens but 'model.embed_tokens.weight' has only 40 rows", [](const std::string& d) {
             fs::copy_file(kData + "/tokenizers/llama2-spm/tokenizer.model", d + "/tokenizer.model");
         }},
        {"tq2_0 needs 256 columns", "cannot be stored as TQ2_0", [](const std::string&) {}, convert::Options{.linear_type = "tq2_0"}},
        {"unknown type", "--type 'q4_0'", [](const std::string&) {}, convert::Options{.linear_type = "q4_0"}},
        {"arch llama with sub-norms", "architecture llama has none", [](const std::string&) {}, convert::Options{.arch = "llama"}},
    };
    for (const Broken& b : cases) {
        SCOPED_TRACE(b.what);
        TempDir tmp("bad");
        const std::string dir = tmp / "hf";
        hf::write_checkpoint(dir, s);
        b.damage(dir);
        test::expect_convert_error(dir, tmp / "out.gguf", b.opts, b.expect);
    }
}

TEST(Convert, CliReportsErrorsWithNonZeroExit) {
    TempDir tmp("cli");
    hf::Spec s;
    s.layout = "bitnet";
    s.hidden = 64, s.ffn = 128, s.heads = 2, s.kv_heads = 1, s.vocab = 40, s.layers = 1;
    hf::write_checkpoint(tmp / "hf", s);
    std::string log;
    const std::string out = tmp / "out.gguf";
    EXPECT_NE(test::run_tern("convert " + (tmp / "nowhere") + " -o " + out, &log, true), 0);
    EXPECT_NE(log.find("not a directory"), std::string::npos) << log;
    EXPECT_NE(test::run_tern("convert " + (tmp / "hf") + " -o " + out + " --type q4_0", &log, true), 0);
    EXPECT_FALSE(fs::exists(out));
    // A good conversion without a tokenizer warns, and the file loads.
    ASSERT_EQ(test::run_tern("convert " + (tmp / "hf") + " -o " + out + " --embd-type q8_0 --arch bitnet-25", &log, true), 0) << log;
    EXPECT_NE(log.find("no tokenizer"), std::string::npos) << log;
    const Model m = Model::load(out);
    EXPECT_EQ(m.info().architecture, "bitnet-25");
    EXPECT_EQ(m.info().weight_type, "I2_S");
    ASSERT_EQ(test::run_tern("convert " + (tmp / "hf") + " -o " + out + " -q", &log, true), 0) << log;
    EXPECT_EQ(log, "");
}

}  // namespace
}  // namespace tern
