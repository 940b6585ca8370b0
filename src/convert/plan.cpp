// config.json -> ModelPlan: which GGUF architecture, which hyper-parameters,
// how the checkpoint names its sub-norms (SPEC §1), how packed weights scale (SPEC §7).
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "convert/convert_impl.h"

namespace tern::convert {

using nlohmann::json;

namespace {

constexpr int64_t kLlama3Vocab = 128256;
constexpr const char* kSupported =
    "tern convert supports BitNetForCausalLM (microsoft BitNet b1.58 2B4T), BitnetForCausalLM (1bitLLM "
    "bitnet_b1_58-large/3B) and LlamaForCausalLM checkpoints of ternary models whose config.json has "
    "quantization_config.quant_method \"bitnet\" (Llama3-8B-1.58, Falcon3-1.58bit); and the BitNet embedding models "
    "of model_type qwen3 (Qwen3Model, Qwen3ForCausalLM) and gemma3_text (Gemma3TextModel, Gemma3ForCausalLM)";

std::string default_ffn_act(const std::string& arch, int64_t n_vocab) {
    if (arch == "bitnet-b1.58" || arch == "bitnet-25") return "relu2";
    if (arch == "llama") return "silu";
    return n_vocab == kLlama3Vocab ? "relu2" : "silu";  // tern's reading of `bitnet` (SPEC §1)
}

}  // namespace

int64_t Cfg::integer(const char* key, int64_t lo, int64_t hi) const {
    if (!has(key)) throw Error(fmt::format("{}: key '{}' is missing", path, key));
    return integer_value(key, lo, hi);
}

int64_t Cfg::integer_or(const char* key, int64_t dflt, int64_t lo, int64_t hi) const {
    return has(key) ? integer_value(key, lo, hi) : dflt;
}

double Cfg::number_or(const char* key, double dflt) const {
    if (!has(key)) return dflt;
    if (!j[key].is_number()) throw Error(fmt::format("{}: key '{}' is not a number", path, key));
    const double v = j[key].get<double>();
    if (!std::isfinite(v) || v <= 0) throw Error(fmt::format("{}: key '{}' = {} must be positive", path, key, v));
    return v;
}

std::string Cfg::string_or(const char* key, const std::string& dflt) const {
    if (!has(key)) return dflt;
    if (!j[key].is_string()) throw Error(fmt::format("{}: key '{}' is not a string ({})", path, key, j[key].dump()));
    return j[key].get<std::string>();
}

bool Cfg::boolean_or(const char* key, bool dflt) const {
    if (!has(key)) return dflt;
    if (!j[key].is_boolean()) throw Error(fmt::format("{}: key '{}' is not true or false ({})", path, key, j[key].dump()));
    return j[key].get<bool>();
}

int64_t Cfg::integer_value(const char* key, int64_t lo, int64_t hi) const {
    const json& v = j[key];
    if (!v.is_number_integer()) throw Error(fmt::format("{}: key '{}' is not an integer ({})", path, key, v.dump()));
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) throw Error(fmt::format("{}: key '{}' = {} is out of range [{}, {}]", path, key, x, lo, hi));
    return x;
}

void read_sizes(const Cfg& c, ModelPlan& p) {
    constexpr int64_t kBig = int64_t(1) << 24;
    p.n_embd = c.integer("hidden_size", 1, kBig);
    p.n_ff = c.integer("intermediate_size", 1, kBig);
    p.n_layer = c.integer("num_hidden_layers", 1, 4096);
    p.n_head = c.integer("num_attention_heads", 1, 65536);
    p.n_head_kv = c.integer_or("num_key_value_heads", p.n_head, 1, 65536);
    if (p.n_head % p.n_head_kv != 0)
        throw Error(fmt::format("{}: num_attention_heads {} is not divisible by num_key_value_heads {}", c.path, p.n_head,
                                p.n_head_kv));
}

void check_rope_scaling(const Cfg& c) {
    if (!c.has("rope_scaling")) return;
    const json& rs = c.j["rope_scaling"];
    const std::string type = rs.is_object() ? rs.value("type", rs.value("rope_type", std::string())) : "";
    const bool identity = type == "default" ||
                          (type == "linear" && rs.contains("factor") && rs["factor"].is_number() && rs["factor"].get<double>() == 1.0);
    if (!identity) throw Error(fmt::format("{}: rope_scaling {} is not supported by tern (plain RoPE only)", c.path, rs.dump()));
}

ModelPlan make_plan(const std::string& dir, const json& config, const Checkpoint& ck, const Options& opts) {
    const std::string path = dir + "/config.json";
    if (!config.is_object()) throw Error(path + ": not a JSON object");
    const Cfg c{config, path};
    ModelPlan p;

    // Architecture.
    if (c.has("architectures")) {
        const json& a = config["architectures"];
        if (!a.is_array() || a.empty() || !a[0].is_string())
            throw Error(path + ": key 'architectures' is not a list of class names");
        p.hf_arch = a[0].get<std::string>();
    }
    if (const std::string mt = embedding_model_type(config, p.hf_arch); !mt.empty())
        return make_embedding_plan(dir, c, mt, ck, opts, std::move(p));
    const json* qc = c.has("quantization_config") ? &config["quantization_config"] : nullptr;
    if (qc && !qc->is_object()) throw Error(path + ": key 'quantization_config' is not an object");
    const bool bitnet_quant = qc && qc->contains("quant_method") && (*qc)["quant_method"] == "bitnet";
    std::string arch;
    if (p.hf_arch == "BitNetForCausalLM") {
        arch = "bitnet-b1.58";
    } else if (p.hf_arch == "BitnetForCausalLM") {
        arch = "bitnet";
    } else if (p.hf_arch == "LlamaForCausalLM") {
        if (!bitnet_quant && opts.arch.empty())
            throw Error(fmt::format("{}: a LlamaForCausalLM checkpoint without quantization_config.quant_method \"bitnet\" is "
                                    "not a ternary model; if it is one, say so with --arch llama. {}",
                                    path, kSupported));
        arch = "llama";
    } else if (opts.arch.empty()) {
        const std::string mt = c.has("model_type") && config["model_type"].is_string() ? config["model_type"].get<std::string>() : "";
        throw Error(fmt::format("{}: architecture '{}' is not supported{}. {}", path,
                                p.hf_arch.empty() ? std::string("(none given)") : p.hf_arch,
                                mt.empty() ? std::string() : " (model_type '" + mt + "')", kSupported));
    }
    if (!opts.arch.empty()) {
        if (opts.arch != "bitnet-b1.58" && opts.arch != "bitnet-25" && opts.arch != "bitnet" && opts.arch != "llama")
            throw Error("--arch '" + opts.arch + "' is not one tern writes; use bitnet-b1.58, bitnet-25, bitnet or llama");
        arch = opts.arch;
    }
    p.arch = arch;

    // Hyper-parameters.
    constexpr int64_t kBig = int64_t(1) << 24;
    read_sizes(c, p);
    p.n_ctx = c.integer_or("max_position_embeddings", 0, 1, int64_t(1) << 31);
    p.rms_eps = float(c.number_or("rms_norm_eps", 1e-6));
    p.rope_theta = float(c.number_or("rope_theta", 10000.0));
    if (p.n_embd % p.n_head != 0)
        throw Error(fmt::format("{}: hidden_size {} is not divisible by num_attention_heads {}", path, p.n_embd, p.n_head));
    p.head_dim = p.n_embd / p.n_head;
    if (c.has("head_dim") && c.integer("head_dim", 1, kBig) != p.head_dim)
        throw Error(fmt::format("{}: head_dim {} differs from hidden_size / num_attention_heads = {}; tern needs them equal",
                                path, config["head_dim"].dump(), p.head_dim));
    if (p.head_dim % 2 != 0) throw Error(fmt::format("{}: the head dimension {} is odd; RoPE needs it even", path, p.head_dim));
    check_rope_scaling(c);

    // Vocabulary: the embedding's rows, checked against vocab_size.
    const StTensor& embd = ck.get("model.embed_tokens.weight");
    if (embd.shape.size() != 2 || embd.shape[1] != p.n_embd)
        throw Error(fmt::format("{}: tensor 'model.embed_tokens.weight' has shape {}, expected [vocab_size, hidden_size = {}]",
                                dir, embd.shape_string(), p.n_embd));
    p.n_vocab = embd.shape[0];
    if (p.n_vocab < 1) throw Error(dir + ": tensor 'model.embed_tokens.weight' has no rows");
    if (c.has("vocab_size") && c.integer("vocab_size", 1, int64_t(1) << 31) != p.n_vocab)
        throw Error(fmt::format("{}: vocab_size is {} but tensor 'model.embed_tokens.weight' has {} rows", path,
                                config["vocab_size"].dump(), p.n_vocab));

    // Sub-norms: 2B4T names or 1bitLLM names, or none (llama layout).
    const std::string l0 = "model.layers.0.";
    if (ck.find(l0 + "self_attn.attn_sub_norm.weight")) {
        p.sub_norm_attn = "self_attn.attn_sub_norm";
        p.sub_norm_ffn = "mlp.ffn_sub_norm";
    } else if (ck.find(l0 + "self_attn.inner_attn_ln.weight")) {
        p.sub_norm_attn = "self_attn.inner_attn_ln";
        p.sub_norm_ffn = "mlp.ffn_layernorm";
    }
    p.sub_norms = arch != "llama";
    if (p.sub_norms && p.sub_norm_attn.empty())
        throw Error(fmt::format("{}: architecture {} needs sub-norms, but the checkpoint has neither "
                                "'{}self_attn.attn_sub_norm.weight' nor '{}self_attn.inner_attn_ln.weight'{}",
                                dir, arch, l0, l0, p.hf_arch == "LlamaForCausalLM" ? "" : " (for a llama-layout model use --arch llama)"));
    if (!p.sub_norms && !p.sub_norm_attn.empty())
        throw Error(fmt::format("{}: the checkpoint has sub-norms ('{}{}.weight') but architecture llama has none; use --arch "
                                "bitnet-b1.58 or --arch bitnet",
                                dir, l0, p.sub_norm_attn));
    // FFN activation: what the arch computes must be what the config says.
    p.ffn_act = default_ffn_act(arch, p.n_vocab);
    if (c.has("hidden_act")) {
        const json& ha = config["hidden_act"];
        std::string act = ha.is_string() ? ha.get<std::string>() : ha.dump();
        if (act == "swish") act = "silu";
        if (act != "relu2" && act != "silu")
            throw Error(fmt::format("{}: hidden_act '{}' is not supported; tern computes relu2 (squared ReLU) or silu", path, act));
        if (act != p.ffn_act)
            throw Error(fmt::format("{}: hidden_act is '{}' but tern's '{}' architecture computes {}{}", path, act, arch, p.ffn_act,
                                    act == "relu2" ? "; use --arch bitnet-b1.58" : "; use --arch bitnet or --arch llama"));
    }

    p.permute_qk = arch == "llama";

    // Packed weights: how weight_scale is applied (SPEC §7).
    if (qc) {
        if (qc->contains("linear_class")) {
            const json& lc = (*qc)["linear_class"];
            if (!lc.is_string() || (lc != "autobitlinear" && lc != "bitlinear"))
                throw Error(fmt::format("{}: quantization_config.linear_class {} is not autobitlinear or bitlinear", path, lc.dump()));
            p.linear_class = lc.get<std::string>();
        } else if (bitnet_quant) {
            p.linear_class = "bitlinear";  // transformers' default for BitNet quantization
        }
    }

    // Output projection: lm_head when it is there and not tied.
    const bool has_lm_head = ck.find("lm_head.weight") != nullptr;
    const std::optional<bool> tie =
        c.has("tie_word_embeddings") && config["tie_word_embeddings"].is_boolean() ? std::optional<bool>(config["tie_word_embeddings"].get<bool>())
                                                                                  : std::nullopt;
    if (tie == false && !has_lm_head)
        throw Error(fmt::format("{}: tie_word_embeddings is false but the checkpoint has no 'lm_head.weight'", dir));
    p.untied_output = has_lm_head && tie != true;
    return p;
}

}  // namespace tern::convert
