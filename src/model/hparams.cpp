#include "model/hparams.h"

#include "tern/gguf.h"

namespace tern {

const char* ffn_act_name(FfnAct a) { return a == FfnAct::relu2 ? "relu2" : "silu"; }

std::optional<FfnAct> parse_ffn_act(const std::string& s) {
    if (s == "relu2") return FfnAct::relu2;
    if (s == "silu") return FfnAct::silu;
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
    } else {
        throw Error(f.path() + ": architecture '" + a +
                    "' is not supported; tern runs bitnet-b1.58, bitnet-25, bitnet and llama (ternary) models");
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

    if (hp.n_embd % hp.n_head != 0)
        throw Error(f.path() + ": embedding_length " + std::to_string(hp.n_embd) + " is not divisible by head_count " +
                    std::to_string(hp.n_head));
    if (hp.n_head % hp.n_head_kv != 0)
        throw Error(f.path() + ": head_count " + std::to_string(hp.n_head) + " is not divisible by head_count_kv " +
                    std::to_string(hp.n_head_kv));
    hp.head_dim = hp.n_embd / hp.n_head;
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
    if (o.ffn_act) {
        hp.ffn_act = *o.ffn_act;
        hp.ffn_act_reason = "set by --ffn-act";
    }
    return hp;
}

}  // namespace tern
