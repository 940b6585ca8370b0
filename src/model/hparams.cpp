#include "model/hparams.h"

#include <cmath>

#include "tern/gguf.h"

namespace tern {

const char* ffn_act_name(FfnAct a) {
    switch (a) {
        case FfnAct::relu2: return "relu2";
        case FfnAct::silu: return "silu";
        case FfnAct::gelu: return "gelu";
    }
    return "?";
}

std::optional<FfnAct> parse_ffn_act(const std::string& s) {
    for (FfnAct a : {FfnAct::relu2, FfnAct::silu, FfnAct::gelu})
        if (s == ffn_act_name(a)) return a;
    return std::nullopt;
}

const char* pooling_name(Pooling p) {
    switch (p) {
        case Pooling::none: return "none";
        case Pooling::mean: return "mean";
        case Pooling::cls: return "cls";
        case Pooling::last: return "last";
    }
    return "?";
}

std::optional<Pooling> parse_pooling(const std::string& s) {
    for (Pooling p : {Pooling::none, Pooling::mean, Pooling::cls, Pooling::last})
        if (s == pooling_name(p)) return p;
    return std::nullopt;
}

namespace {

constexpr int64_t kLlama3Vocab = 128256;

int64_t positive(const gguf::File& f, const std::string& key) {
    const int64_t v = f.get<int64_t>(key);
    if (v <= 0 || v > (int64_t(1) << 31))
        throw Error(f.path() + ": key '" + key + "' = " + std::to_string(v) + " is out of range");
    return v;
}

// qwen3 / gemma3: embedding scale, sliding window, pooling (SPEC §8).
void read_embedding_hparams(const gguf::File& f, HParams& hp) {
    const std::string& a = hp.arch;
    hp.output_head = f.find_tensor("output.weight") != nullptr;  // none: an embedding model
    if (a == "gemma3") hp.embd_scale = float(std::sqrt(double(hp.n_embd)));
    if (const auto factor = f.get_optional<float>(a + ".rope.scaling.factor"); factor && *factor != 1.0f)
        throw Error(f.path() + ": rope.scaling.factor " + std::to_string(*factor) + " is not supported");
    if (f.has(a + ".attention.sliding_window")) {
        hp.swa_window = positive(f, a + ".attention.sliding_window");
        hp.rope_theta_swa = f.get_optional<float>(a + ".rope.freq_base_swa").value_or(10000.0f);
        if (!(hp.rope_theta_swa > 0.0f)) throw Error(f.path() + ": rope.freq_base_swa must be positive");
        hp.swa_layers.assign(size_t(hp.n_layer), false);
        const std::string pk = a + ".attention.sliding_window_pattern";
        const gguf::Value* pv = f.find(pk);
        if (pv && pv->type == gguf::ValueType::ARRAY) {
            // One flag per layer (true: local), as some converters write it.
            if (int64_t(pv->items.size()) != hp.n_layer)
                throw Error(f.path() + ": key '" + pk + "' has " + std::to_string(pv->items.size()) + " entries for " +
                            std::to_string(hp.n_layer) + " layers");
            for (size_t l = 0; l < pv->items.size(); ++l) hp.swa_layers[l] = pv->items[l].u != 0 || pv->items[l].i != 0;
        } else {
            // Every `pattern`-th layer is global: l % pattern == pattern - 1 (Gemma 3: 6).
            const int64_t pattern = pv ? positive(f, pk) : 6;
            for (int64_t l = 0; l < hp.n_layer; ++l) hp.swa_layers[size_t(l)] = l % pattern != pattern - 1;
        }
    }
    const std::string pk = a + ".pooling_type";
    if (f.has(pk)) {
        const int64_t p = f.get<int64_t>(pk);
        if (p < 0 || p > 3)
            throw Error(f.path() + ": key '" + pk + "' = " + std::to_string(p) + "; expected 0 none, 1 mean, 2 cls or 3 last");
        hp.pooling = Pooling(p);
    }
}

}  // namespace

HParams read_hparams(const gguf::File& f, const ModelOverrides& o) {
    HParams hp;
    hp.arch = f.get<std::string>("general.architecture");
    const std::string& a = hp.arch;
    if (a == "bitnet-b1.58" || a == "bitnet-25") {
        hp.ffn_act = FfnAct::relu2;
        hp.ffn_act_reason = "architecture " + a + " (BitNet b1.58 2B4T)";
    } else if (a == "bitnet") {
        hp.ffn_act = FfnAct::silu;
        hp.ffn_act_reason = "architecture bitnet (1bitLLM large/3B)";
    } else if (a == "llama") {
        hp.ffn_act = FfnAct::silu;
        hp.ffn_act_reason = "architecture llama";
        hp.sub_norms = false;
        hp.rope = RopeStyle::norm;
    } else if (a == "qwen3" || a == "gemma3") {
        // Microsoft's BitNet embedding models (SPEC §8).
        const bool gemma = a == "gemma3";
        hp.ffn_act = gemma ? FfnAct::gelu : FfnAct::silu;
        hp.ffn_act_reason = "architecture " + a;
        hp.sub_norms = false;
        hp.norm_in = hp.qk_norm = hp.float_linears = true;
        hp.post_norms = gemma;
    } else {
        throw Error(f.path() + ": architecture '" + a +
                    "' is not supported; tern runs bitnet-b1.58, bitnet-25, bitnet and llama (ternary) models, and "
                    "qwen3 / gemma3 (BitNet embedding) models");
    }
    hp.n_embd = positive(f, a + ".embedding_length");
    hp.n_ff = positive(f, a + ".feed_forward_length");
    hp.n_layer = positive(f, a + ".block_count");
    hp.n_head = positive(f, a + ".attention.head_count");
    hp.n_head_kv = f.has(a + ".attention.head_count_kv") ? positive(f, a + ".attention.head_count_kv") : hp.n_head;
    hp.n_ctx_train = f.has(a + ".context_length") ? positive(f, a + ".context_length") : 4096;
    hp.rms_eps = f.get_optional<float>(a + ".attention.layer_norm_rms_epsilon").value_or(1e-5f);
    hp.rope_theta = f.get_optional<float>(a + ".rope.freq_base").value_or(10000.0f);
    if (!(hp.rms_eps > 0.0f) || !(hp.rope_theta > 0.0f))
        throw Error(f.path() + ": rms epsilon and rope.freq_base must be positive");

    if (hp.n_embd % hp.n_head != 0 && !hp.qk_norm)
        throw Error(f.path() + ": embedding_length " + std::to_string(hp.n_embd) + " is not divisible by head_count " +
                    std::to_string(hp.n_head));
    if (hp.n_head % hp.n_head_kv != 0)
        throw Error(f.path() + ": head_count " + std::to_string(hp.n_head) + " is not divisible by head_count_kv " +
                    std::to_string(hp.n_head_kv));
    hp.head_dim = hp.n_embd / hp.n_head;
    if (hp.qk_norm) {
        // qwen3 / gemma3 heads need not tile H (0.6B: 16 heads of 128 over H = 1024).
        const std::string kl = a + ".attention.key_length", vl = a + ".attention.value_length";
        if (f.has(kl)) hp.head_dim = positive(f, kl);
        if (f.has(vl) && positive(f, vl) != hp.head_dim)
            throw Error(f.path() + ": attention.value_length " + std::to_string(positive(f, vl)) +
                        " differs from key_length " + std::to_string(hp.head_dim) + "; tern needs them equal");
    }
    if (hp.head_dim % 2 != 0) throw Error(f.path() + ": head dimension " + std::to_string(hp.head_dim) + " is odd");
    hp.rope_dim = f.has(a + ".rope.dimension_count") ? positive(f, a + ".rope.dimension_count") : hp.head_dim;
    if (hp.rope_dim != hp.head_dim)
        throw Error(f.path() + ": rope.dimension_count " + std::to_string(hp.rope_dim) + " differs from the head dimension " +
                    std::to_string(hp.head_dim) + "; partial rotary embeddings are not supported");

    if (f.has(a + ".vocab_size")) {
        hp.n_vocab = positive(f, a + ".vocab_size");
    } else if (const gguf::Value* toks = f.find("tokenizer.ggml.tokens")) {
        hp.n_vocab = int64_t(toks->items.size());
    }  // else: taken from token_embd at load

    if (a == "bitnet" && !o.ffn_act) {
        // Mainline llama.cpp labels 2B4T `bitnet` too; its LLaMA-3 vocabulary gives it away.
        const int64_t vocab = hp.n_vocab ? hp.n_vocab : 0;
        if (vocab == kLlama3Vocab) {
            hp.ffn_act = FfnAct::relu2;
            hp.ffn_act_reason = "architecture bitnet with the 128256-token LLaMA-3 vocabulary: 2B4T";
        }
    }
    if (hp.qk_norm) read_embedding_hparams(f, hp);
    if (o.ffn_act) {
        hp.ffn_act = *o.ffn_act;
        hp.ffn_act_reason = "set by --ffn-act";
    }
    return hp;
}

}  // namespace tern
