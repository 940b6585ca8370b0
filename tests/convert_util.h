// Test helpers for `tern convert`: a small safetensors writer, synthetic
// Hugging Face checkpoint folders of any shape and naming, temporary folders
// and the numpy reference's location (header-only, used by convert_test.cpp
// and convert_embed_test.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/formats.h"
#include "tern/convert.h"
#include "test_util.h"

namespace tern::test {

// A temporary folder removed at the end of the test (kept with TERN_KEEP_TEST_DIRS).
struct TempDir {
    std::string path;
    explicit TempDir(const std::string& stem) : path(temp_path(stem)) { std::filesystem::create_directories(path); }
    ~TempDir() {
        if (std::getenv("TERN_KEEP_TEST_DIRS")) return;
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// The numpy reference (tools/reference) and the interpreter it needs.
inline const std::string kReference = std::string(TERN_SOURCE_DIR) + "/tools/reference";
inline const std::string kPython = "/usr/bin/python3";

// A shell command with stderr merged into *out; its exit status.
inline int sh(const std::string& cmd, std::string* out = nullptr) { return run_command(cmd, out, true); }

inline bool have_python_numpy() {
    static const bool ok = sh(kPython + " -c 'import numpy'") == 0;
    return ok;
}

// Converting `dir` into `out` must fail with a message holding `expect`, and
// leave neither `out` nor its temporary file behind.
inline void expect_convert_error(const std::string& dir, const std::string& out, const convert::Options& opts,
                                 const std::string& expect) {
    try {
        convert::convert_checkpoint(dir, out, opts);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
}

// "1,2,3"
inline std::string join(const std::vector<int32_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(v[i]);
    }
    return s;
}

}  // namespace tern::test

namespace tern::test::hf {

struct Tensor {
    std::string name;
    std::string dtype;  // "F32", "F16", "BF16", "U8", ...
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

// Deterministic, platform-independent numbers (splitmix64 + Box-Muller).
class Rng {
public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * 0x1p-53; }
    double normal() {
        const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

private:
    uint64_t s_;
};

inline std::vector<uint8_t> encode(const std::vector<float>& v, const std::string& dtype) {
    std::vector<uint8_t> b;
    if (dtype == "F32") {
        b.resize(v.size() * 4);
        std::memcpy(b.data(), v.data(), b.size());
    } else if (dtype == "F16" || dtype == "BF16") {
        b.resize(v.size() * 2);
        for (size_t i = 0; i < v.size(); ++i) {
            const uint16_t h = dtype == "F16" ? f32_to_fp16(v[i]) : f32_to_bf16(v[i]);
            std::memcpy(&b[2 * i], &h, 2);
        }
    } else {
        throw std::runtime_error("encode: dtype " + dtype);
    }
    return b;
}

inline Tensor float_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& v, const std::string& dtype) {
    return {std::move(name), dtype, std::move(shape), encode(v, dtype)};
}

// Header + data exactly as the format says (header padded with spaces to 8 bytes).
inline std::vector<uint8_t> safetensors_bytes(const std::vector<Tensor>& ts) {
    nlohmann::ordered_json h;
    h["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    for (const Tensor& t : ts) {
        h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
        off += t.bytes.size();
    }
    std::string hs = h.dump();
    while (hs.size() % 8) hs += ' ';
    std::vector<uint8_t> out(8 + hs.size() + off);
    for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(uint64_t(hs.size()) >> (8 * i));
    std::memcpy(out.data() + 8, hs.data(), hs.size());
    size_t pos = 8 + hs.size();
    for (const Tensor& t : ts) {
        if (!t.bytes.empty()) std::memcpy(out.data() + pos, t.bytes.data(), t.bytes.size());
        pos += t.bytes.size();
    }
    return out;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

inline void write_text(const std::string& path, const std::string& s) {
    std::ofstream f(path, std::ios::binary);
    f << s;
    if (!f) throw std::runtime_error("cannot write " + path);
}

// A checkpoint's shape and naming.
struct Spec {
    std::string layout = "bitnet";  // "bitnet" (2B4T names), "1bitllm" (inner_attn_ln, inv_freq), "llama" (no sub-norms),
                                    // "qwen3", "gemma3" (embedding models, SPEC §8: q/k norms, BitLinear norms)
    int64_t hidden = 128, ffn = 256, layers = 2, heads = 4, kv_heads = 2, vocab = 300;
    int64_t head_dim = 0;  // qwen3 / gemma3; 0 = hidden / heads
    bool prefix = true;    // qwen3 / gemma3: "model." before the names
    bool norm_in = true;   // qwen3 / gemma3: `<proj>.norm.weight` BitLinear gains
    std::string dtype = "BF16";
    bool untied = false;
    double rope_theta = 10000.0;
    uint64_t seed = 1;
    int shards = 1;  // > 1: model-0000k-of-0000n.safetensors + index
};

inline int64_t head_dim_of(const Spec& s) { return s.head_dim ? s.head_dim : s.hidden / s.heads; }

inline nlohmann::ordered_json config_of(const Spec& s) {
    nlohmann::ordered_json c;
    if (s.layout == "qwen3" || s.layout == "gemma3") {
        const bool gemma = s.layout == "gemma3";
        c["architectures"] = {gemma ? "Gemma3TextModel" : "Qwen3ForCausalLM"};
        c["model_type"] = gemma ? "gemma3_text" : "qwen3";
        c[gemma ? "hidden_activation" : "hidden_act"] = gemma ? "gelu_pytorch_tanh" : "silu";
        c["head_dim"] = head_dim_of(s);
        if (gemma) {
            c["query_pre_attn_scalar"] = head_dim_of(s);
            c["sliding_window"] = 4;
            c["sliding_window_pattern"] = 2;
            c["rope_local_base_freq"] = 10000.0;
        }
    } else if (s.layout == "bitnet") {
        c["architectures"] = {"BitNetForCausalLM"};
        c["model_type"] = "bitnet";
        c["hidden_act"] = "relu2";
        c["quantization_config"] = {{"quant_method", "bitnet"}, {"linear_class", "autobitlinear"}, {"quantization_mode", "online"}};
    } else if (s.layout == "1bitllm") {
        c["architectures"] = {"BitnetForCausalLM"};
        c["model_type"] = "llama";
        c["hidden_act"] = "silu";
    } else {
        c["architectures"] = {"LlamaForCausalLM"};
        c["model_type"] = "llama";
        c["hidden_act"] = "silu";
        c["quantization_config"] = {{"quant_method", "bitnet"}};
    }
    c["hidden_size"] = s.hidden;
    c["intermediate_size"] = s.ffn;
    c["num_hidden_layers"] = s.layers;
    c["num_attention_heads"] = s.heads;
    c["num_key_value_heads"] = s.kv_heads;
    c["max_position_embeddings"] = 256;
    c["rms_norm_eps"] = 1e-5;
    c["rope_theta"] = s.rope_theta;
    c["tie_word_embeddings"] = !s.untied;
    c["vocab_size"] = s.vocab;
    return c;
}

// Weights scaled so every layer matters: embeddings ~N(0, 1), linears
// ~N(0, 1/in), norm gains log-uniform in [0.5, 2].
inline std::vector<Tensor> tensors_of(const Spec& s) {
    Rng rng(s.seed);
    const int64_t H = s.hidden, I = s.ffn, D = head_dim_of(s), KV = s.kv_heads * D, Q = s.heads * D;
    std::vector<Tensor> ts;
    auto normal = [&](int64_t n, double std) {
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& x : v) x = float(rng.normal() * std);
        return v;
    };
    auto gains = [&](int64_t n) {
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& x : v) x = float(std::exp((rng.uniform() * 2 - 1) * std::log(2.0)));
        return v;
    };
    auto lin = [&](const std::string& name, int64_t out, int64_t in) {
        ts.push_back(float_tensor(name, {out, in}, normal(out * in, 1.0 / std::sqrt(double(in))), s.dtype));
    };
    auto nrm = [&](const std::string& name, int64_t n) { ts.push_back(float_tensor(name, {n}, gains(n), s.dtype)); };
    if (s.layout == "qwen3" || s.layout == "gemma3") {
        const std::string P = s.prefix ? "model." : "";
        ts.push_back(float_tensor(P + "embed_tokens.weight", {s.vocab, H}, normal(s.vocab * H, 1.0), s.dtype));
        for (int64_t l = 0; l < s.layers; ++l) {
            const std::string p = P + "layers." + std::to_string(l) + ".";
            nrm(p + "input_layernorm.weight", H);
            nrm(p + "post_attention_layernorm.weight", H);
            if (s.layout == "gemma3") {
                nrm(p + "pre_feedforward_layernorm.weight", H);
                nrm(p + "post_feedforward_layernorm.weight", H);
            }
            nrm(p + "self_attn.q_norm.weight", D);
            nrm(p + "self_attn.k_norm.weight", D);
            const std::tuple<const char*, int64_t, int64_t> projs[] = {{"self_attn.q_proj", Q, H}, {"self_attn.k_proj", KV, H},
                                                                       {"self_attn.v_proj", KV, H}, {"self_attn.o_proj", H, Q},
                                                                       {"mlp.gate_proj", I, H},     {"mlp.up_proj", I, H},
                                                                       {"mlp.down_proj", H, I}};
            for (const auto& [name, out, in] : projs) {
                lin(p + name + ".weight", out, in);
                if (s.norm_in) nrm(p + name + ".norm.weight", in);
            }
        }
        nrm(P + "norm.weight", H);
        return ts;
    }
    ts.push_back(float_tensor("model.embed_tokens.weight", {s.vocab, H}, normal(s.vocab * H, 1.0), s.dtype));
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        nrm(p + "input_layernorm.weight", H);
        lin(p + "self_attn.q_proj.weight", H, H);
        lin(p + "self_attn.k_proj.weight", KV, H);
        lin(p + "self_attn.v_proj.weight", KV, H);
        lin(p + "self_attn.o_proj.weight", H, H);
        nrm(p + "post_attention_layernorm.weight", H);
        lin(p + "mlp.gate_proj.weight", I, H);
        lin(p + "mlp.up_proj.weight", I, H);
        lin(p + "mlp.down_proj.weight", H, I);
        if (s.layout == "bitnet") {
            nrm(p + "self_attn.attn_sub_norm.weight", H);
            nrm(p + "mlp.ffn_sub_norm.weight", I);
        } else if (s.layout == "1bitllm") {
            nrm(p + "self_attn.inner_attn_ln.weight", H);
            nrm(p + "mlp.ffn_layernorm.weight", I);
            std::vector<float> inv(static_cast<size_t>(D / 2));
            for (int64_t i = 0; i < D / 2; ++i) inv[size_t(i)] = float(std::pow(s.rope_theta, -2.0 * double(i) / double(D)));
            ts.push_back(float_tensor(p + "self_attn.rotary_emb.inv_freq", {D / 2}, inv, "F32"));
        }
    }
    nrm("model.norm.weight", H);
    if (s.untied) ts.push_back(float_tensor("lm_head.weight", {s.vocab, H}, normal(s.vocab * H, 1.0), s.dtype));
    return ts;
}

// Writes config.json and the weights (single file or shards + index).
inline void write_checkpoint(const std::string& dir, const std::vector<Tensor>& ts, const nlohmann::ordered_json& config,
                             int shards = 1) {
    std::filesystem::create_directories(dir);
    write_text(dir + "/config.json", config.dump(2));
    if (shards <= 1) {
        write_bytes(dir + "/model.safetensors", safetensors_bytes(ts));
        return;
    }
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", 0}};
    const size_t per = (ts.size() + size_t(shards) - 1) / size_t(shards);
    for (int k = 0; k < shards; ++k) {
        char fn[64];
        std::snprintf(fn, sizeof fn, "model-%05d-of-%05d.safetensors", k + 1, shards);
        std::vector<Tensor> part(ts.begin() + std::min(ts.size(), k * per), ts.begin() + std::min(ts.size(), (k + 1) * per));
        for (const Tensor& t : part) index["weight_map"][t.name] = fn;
        write_bytes(dir + "/" + fn, safetensors_bytes(part));
    }
    write_text(dir + "/model.safetensors.index.json", index.dump(2));
}

inline void write_checkpoint(const std::string& dir, const Spec& s) { write_checkpoint(dir, tensors_of(s), config_of(s), s.shards); }

}  // namespace tern::test::hf
