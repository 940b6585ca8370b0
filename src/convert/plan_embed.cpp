// config.json of a BitNet embedding model (Hugging Face model_type qwen3 or
// gemma3_text) -> ModelPlan for GGUF `qwen3` / `gemma3` (SPEC §8); the pooling
// from sentence-transformers' modules.json / 1_Pooling/config.json. Defaults
// for absent keys are transformers' (Qwen3Config, Gemma3TextConfig).
#include <filesystem>

#include <fmt/format.h>

#include "convert/convert_impl.h"

namespace tern::convert {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct EmbedType {
    const char* model_type;
    const char* arch;  // GGUF
    const char* classes[2];
};

constexpr EmbedType kTypes[] = {
    {"qwen3", "qwen3", {"Qwen3Model", "Qwen3ForCausalLM"}},
    {"gemma3_text", "gemma3", {"Gemma3TextModel", "Gemma3ForCausalLM"}},
};

const EmbedType& type_named(const std::string& model_type) {
    for (const EmbedType& t : kTypes)
        if (model_type == t.model_type) return t;
    throw Error("internal: embedding model type " + model_type);
}

bool ends_with(const std::string& s, std::string_view tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// sentence-transformers: the Pooling module listed in modules.json (else the
// folder 1_Pooling) and the one mode its config.json turns on. Modules that
// would change the vector after pooling (Dense, ...) are refused: tern does not
// apply them, and dropping one silently would give other embeddings. Returns
// SPEC §8's pooling_type, or -1 when the folder says nothing.
int read_pooling(const std::string& dir, const Options& opts) {
    const fs::path root(dir);
    fs::path pooling_dir = root / "1_Pooling";
    const fs::path modules = root / "modules.json";
    if (fs::exists(modules)) {
        const json m = read_json_file(modules.string());
        if (!m.is_array()) throw Error(modules.string() + ": not a list of modules");
        for (const json& mod : m) {
            const std::string type = mod.is_object() ? mod.value("type", std::string()) : std::string();
            const std::string path = mod.is_object() ? mod.value("path", std::string()) : std::string();
            if (ends_with(type, "Pooling")) {
                pooling_dir = root / path;
            } else if (!ends_with(type, "Transformer") && !ends_with(type, "Normalize")) {
                throw Error(fmt::format("{}: module '{}' ({}) is not supported: tern computes the transformer, the pooling "
                                        "and the normalisation only, and leaving it out would change every embedding",
                                        modules.string(), path, type.empty() ? std::string("no type") : type));
            }
        }
    }
    const fs::path cfg_path = pooling_dir / "config.json";
    if (!fs::exists(cfg_path)) {
        if (opts.on_warning)
            opts.on_warning(dir + " has no sentence-transformers pooling configuration (modules.json, 1_Pooling/config.json): "
                                  "the GGUF has no pooling_type, and tern embed pools the last token unless --pooling says otherwise");
        return -1;
    }
    const json j = read_json_file(cfg_path.string());
    if (!j.is_object()) throw Error(cfg_path.string() + ": not a JSON object");
    const auto on = [&](const char* key) { return j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); };
    for (const char* key : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens"})
        if (on(key))
            throw Error(fmt::format("{}: {} is not supported; tern pools by cls_token, mean_tokens or lasttoken", cfg_path.string(),
                                    key));
    int pooling = -1, n_on = 0;
    const std::pair<const char*, int> modes[] = {{"pooling_mode_cls_token", 2}, {"pooling_mode_mean_tokens", 1}, {"pooling_mode_lasttoken", 3}};
    for (const auto& [key, type] : modes)
        if (on(key)) pooling = type, ++n_on;
    if (n_on != 1)
        throw Error(fmt::format("{}: {} pooling modes are on; tern needs exactly one of pooling_mode_cls_token, "
                                "pooling_mode_mean_tokens and pooling_mode_lasttoken",
                                cfg_path.string(), n_on));
    return pooling;
}

// θ: rope_theta, or transformers 5's rope_parameters (per attention type in Gemma 3).
double rope_theta(const Cfg& c, const char* legacy_key, const char* attention_type, double dflt) {
    if (c.has(legacy_key)) return c.number_or(legacy_key, dflt);
    if (!c.has("rope_parameters")) return dflt;
    const json* rp = &c.j["rope_parameters"];
    if (rp->is_object() && rp->contains(attention_type)) rp = &(*rp)[attention_type];
    if (!rp->is_object()) throw Error(c.path + ": key 'rope_parameters' is not an object");
    const std::string type = rp->value("rope_type", std::string("default"));
    if (type != "default") throw Error(fmt::format("{}: rope_parameters {} are not supported by tern (plain RoPE only)", c.path, rp->dump()));
    const Cfg sub{*rp, c.path + " (rope_parameters)"};
    return sub.number_or("rope_theta", dflt);
}

void refuse_if(const Cfg& c, bool bad, const std::string& what) {
    if (bad) throw Error(fmt::format("{}: {} is not supported by tern's {} graph (SPEC §8)", c.path, what, c.string_or("model_type", "?")));
}

}  // namespace

std::string embedding_model_type(const json& config, const std::string& hf_arch) {
    if (config.is_object() && config.contains("model_type") && config["model_type"].is_string()) {
        const std::string mt = config["model_type"].get<std::string>();
        for (const EmbedType& t : kTypes)
            if (mt == t.model_type) return mt;
        return "";
    }
    for (const EmbedType& t : kTypes)
        for (const char* cls : t.classes)
            if (hf_arch == cls) return t.model_type;
    return "";
}

ModelPlan make_embedding_plan(const std::string& dir, const Cfg& c, const std::string& model_type, const Checkpoint& ck,
                              const Options& opts, ModelPlan p) {
    const EmbedType& t = type_named(model_type);
    const bool gemma = std::string(t.arch) == "gemma3";
    if (!p.hf_arch.empty() && p.hf_arch != t.classes[0] && p.hf_arch != t.classes[1])
        throw Error(fmt::format("{}: model_type {} with architecture '{}': tern converts {} as {} or {}", c.path, model_type, p.hf_arch,
                                model_type, t.classes[0], t.classes[1]));
    if (!opts.arch.empty() && opts.arch != t.arch)
        throw Error(fmt::format("--arch {} does not apply to a {} checkpoint, which is written as GGUF {}", opts.arch, model_type, t.arch));
    p.arch = t.arch;

    read_sizes(c, p);
    p.head_dim = c.integer_or("head_dim", gemma ? 256 : 128, 2, int64_t(1) << 24);
    p.n_ctx = c.integer_or("max_position_embeddings", gemma ? 131072 : 32768, 1, int64_t(1) << 31);
    p.rms_eps = float(c.number_or("rms_norm_eps", 1e-6));
    p.rope_theta = float(rope_theta(c, "rope_theta", "full_attention", gemma ? 1000000.0 : 10000.0));
    if (p.head_dim % 2 != 0) throw Error(fmt::format("{}: head_dim {} is odd; RoPE needs it even", c.path, p.head_dim));
    check_rope_scaling(c);
    p.sub_norms = false;

    // The activation: SiLU (Qwen3) or GELU with the tanh approximation (Gemma 3).
    const std::string act = c.has("hidden_activation") ? c.string_or("hidden_activation", "") : c.string_or("hidden_act", gemma ? "gelu_pytorch_tanh" : "silu");
    p.ffn_act = gemma ? "gelu" : "silu";
    const bool act_ok = gemma ? (act == "gelu_pytorch_tanh" || act == "gelu_tanh") : (act == "silu" || act == "swish");
    if (!act_ok)
        throw Error(fmt::format("{}: activation '{}' is not supported; tern's {} computes {}", c.path, act, p.arch,
                                gemma ? "gelu_pytorch_tanh (GELU, tanh approximation)" : "silu"));

    if (gemma) {
        p.norm_plus_one = true;  // Gemma3RMSNorm multiplies by (1 + w)
        refuse_if(c, c.boolean_or("use_bidirectional_attention", false), "use_bidirectional_attention (tern's attention is causal)");
        refuse_if(c, c.has("attn_logit_softcapping"), "attn_logit_softcapping");
        if (c.has("query_pre_attn_scalar") && c.number_or("query_pre_attn_scalar", 1) != double(p.head_dim))
            throw Error(fmt::format("{}: query_pre_attn_scalar {} differs from head_dim {}; tern scales attention scores by "
                                    "1/sqrt(head_dim)",
                                    c.path, c.j["query_pre_attn_scalar"].dump(), p.head_dim));
        p.swa_window = c.integer_or("sliding_window", 4096, 1, int64_t(1) << 31);
        p.rope_theta_swa = float(rope_theta(c, "rope_local_base_freq", "sliding_attention", 10000.0));
        if (c.has("layer_types")) {
            const json& lt = c.j["layer_types"];
            if (!lt.is_array() || int64_t(lt.size()) != p.n_layer)
                throw Error(fmt::format("{}: key 'layer_types' must list one attention type for each of the {} layers", c.path, p.n_layer));
            for (const json& e : lt) {
                const std::string s = e.is_string() ? e.get<std::string>() : e.dump();
                if (s != "sliding_attention" && s != "full_attention")
                    throw Error(fmt::format("{}: layer_types holds '{}'; expected sliding_attention or full_attention", c.path, s));
                p.swa_layers.push_back(s == "sliding_attention");
            }
        } else {
            p.swa_pattern = c.integer_or("sliding_window_pattern", 6, 1, 4096);
        }
    } else {
        refuse_if(c, c.boolean_or("use_sliding_window", false), "use_sliding_window");
        if (c.has("layer_types") && c.j["layer_types"].dump().find("sliding_attention") != std::string::npos)
            refuse_if(c, true, "a sliding_attention layer in layer_types");
    }

    // Tensor names with or without the "model." of a *ForCausalLM.
    if (ck.find("model.embed_tokens.weight")) p.prefix = "model.";
    else if (ck.find("embed_tokens.weight")) p.prefix = "";
    else
        throw Error(fmt::format("{}: the checkpoint has neither 'model.embed_tokens.weight' nor 'embed_tokens.weight'", dir));
    const std::string embd_name = p.prefix + "embed_tokens.weight";
    const StTensor& embd = ck.get(embd_name);
    if (embd.shape.size() != 2 || embd.shape[1] != p.n_embd || embd.shape[0] < 1)
        throw Error(fmt::format("{}: tensor '{}' has shape {}, expected [vocab_size, hidden_size = {}]", dir, embd_name,
                                embd.shape_string(), p.n_embd));
    p.n_vocab = embd.shape[0];
    if (c.has("vocab_size") && c.integer("vocab_size", 1, int64_t(1) << 31) != p.n_vocab)
        throw Error(fmt::format("{}: vocab_size is {} but tensor '{}' has {} rows", c.path, c.j["vocab_size"].dump(), embd_name, p.n_vocab));
    p.norm_in = ck.find(p.prefix + "layers.0.self_attn.q_proj.norm.weight") != nullptr;
    p.untied_output = false;  // an embedding model: no output head
    if ((ck.find("lm_head.weight") || ck.find(p.prefix + "lm_head.weight")) && !c.boolean_or("tie_word_embeddings", true) && opts.on_warning)
        opts.on_warning(dir + ": lm_head.weight is left out: an embedding model's GGUF has no output head (SPEC §8)");
    p.pooling = read_pooling(dir, opts);
    return p;
}

}  // namespace tern::convert
