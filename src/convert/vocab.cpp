// The checkpoint's tokenizer -> GGUF tokenizer.ggml.* keys, as llama.cpp's
// converter writes them (SPEC §6): byte-level BPE from tokenizer.json
// (model "gpt2", tokens, token_type, merges, pre) or SentencePiece from
// tokenizer.model (model "llama", tokens, scores, token_type), special ids,
// add_bos_token, add_eos_token (and the EOS) from a post-processor that appends
// a special token, and tokenizer_config.json's chat template.
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "convert/convert_impl.h"
#include "tern/gguf.h"
#include "tern/tokenizer.h"

namespace tern::convert {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int32_t kUnused = 5, kControl = 3, kUserDefined = 4;

// A SentencePiece model is a protobuf whose first field is a piece (field 1,
// length-delimited: byte 0x0a). tiktoken "tokenizer.model" files are base64 text.
bool looks_like_spm(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    char c = 0;
    return in.get(c) && static_cast<unsigned char>(c) == 0x0a;
}

std::optional<int32_t> find_token(const TokenizerData& d, const std::string& text) {
    for (size_t i = 0; i < d.tokens.size(); ++i)
        if (d.tokens[i] == text) return int32_t(i);
    return std::nullopt;
}

// config.json's bos_token_id / eos_token_id: an integer or a list of them.
std::optional<int32_t> config_id(const json& config, const char* key, size_t n) {
    if (!config.is_object() || !config.contains(key)) return std::nullopt;
    const json* v = &config[key];
    if (v->is_array() && !v->empty()) v = &(*v)[0];
    if (!v->is_number_integer()) return std::nullopt;
    const int64_t id = v->get<int64_t>();
    if (id < 0 || uint64_t(id) >= n) return std::nullopt;
    return int32_t(id);
}

// Added tokens beyond the SentencePiece pieces (added_tokens.json, or
// tokenizer_config.json's added_tokens_decoder), as llama.cpp adds them.
void add_spm_added_tokens(const fs::path& dir, TokenizerData& d, int64_t n_vocab) {
    std::map<int64_t, std::pair<std::string, bool>> extra;  // id -> (text, special)
    const fs::path added = dir / "added_tokens.json";
    if (fs::exists(added)) {
        const json j = read_json_file(added.string());
        if (!j.is_object()) throw Error(added.string() + ": not an object of token -> id");
        for (const auto& [text, id] : j.items()) {
            if (!id.is_number_integer()) throw Error(fmt::format("{}: the id of '{}' is not an integer", added.string(), text));
            extra[id.get<int64_t>()] = {text, false};
        }
    }
    const fs::path cfg = dir / "tokenizer_config.json";
    if (fs::exists(cfg)) {
        const json j = read_json_file(cfg.string());
        if (j.is_object() && j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object()) {
            for (const auto& [key, t] : j["added_tokens_decoder"].items()) {
                int64_t id = -1;
                try {
                    size_t used = 0;
                    id = std::stoll(key, &used);
                    if (used != key.size()) id = -1;
                } catch (const std::exception&) {
                    id = -1;
                }
                if (id < 0 || !t.is_object() || !t.contains("content") || !t["content"].is_string())
                    throw Error(fmt::format("{}: added_tokens_decoder['{}'] is not {{\"content\": ...}} under a token id",
                                            cfg.string(), key));
                extra[id] = {t["content"].get<std::string>(), t.value("special", false)};
            }
        }
    }
    for (const auto& [id, tok] : extra) {
        if (id < int64_t(d.tokens.size())) continue;  // the model's own piece
        if (id >= n_vocab)
            throw Error(fmt::format("{}: added token '{}' has id {}, but the embedding has only {} rows", dir.string(), tok.first,
                                    id, n_vocab));
        while (int64_t(d.tokens.size()) < id) {
            d.tokens.push_back(fmt::format("[PAD{}]", d.tokens.size()));
            d.scores.push_back(-1000.0f);
            d.token_types.push_back(kUnused);
        }
        d.tokens.push_back(tok.first);
        d.scores.push_back(-1000.0f);
        d.token_types.push_back(tok.second ? kControl : kUserDefined);
    }
}

// tokenizer_config.json's chat_template: a string, or a list of {name, template}.
std::optional<std::string> chat_template(const fs::path& dir) {
    const fs::path cfg = dir / "tokenizer_config.json";
    if (!fs::exists(cfg)) return std::nullopt;
    const json j = read_json_file(cfg.string());
    if (!j.is_object() || !j.contains("chat_template")) return std::nullopt;
    const json& t = j["chat_template"];
    if (t.is_string()) return t.get<std::string>();
    if (t.is_array()) {
        for (const json& e : t)
            if (e.is_object() && e.value("name", std::string()) == "default" && e.contains("template") && e["template"].is_string())
                return e["template"].get<std::string>();
        if (!t.empty() && t[0].is_object() && t[0].contains("template") && t[0]["template"].is_string())
            return t[0]["template"].get<std::string>();
    }
    if (t.is_null()) return std::nullopt;
    throw Error(cfg.string() + ": chat_template is neither a string nor a list of {name, template}");
}

// The special token tokenizer.json's TemplateProcessing puts after a single
// text (Qwen3-Embedding: <|endoftext|>, not tokenizer_config's eos_token): the
// EOS that an embedding model's last-token pooling reads. The vocabulary and
// merges are skipped while parsing.
std::optional<std::string> template_trailing_special(const fs::path& tokenizer_json) {
    std::ifstream in(tokenizer_json, std::ios::binary);
    if (!in) return std::nullopt;  // read_json_file has read it already: cannot happen but on a race
    const auto skip_big = [](int depth, json::parse_event_t ev, json& parsed) {
        return !(ev == json::parse_event_t::key && depth == 1 && (parsed == "model" || parsed == "added_tokens"));
    };
    const json j = json::parse(in, skip_big, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("post_processor")) return std::nullopt;
    const json& pp = j["post_processor"];
    std::vector<const json*> templates;
    if (pp.is_object() && pp.value("type", std::string()) == "TemplateProcessing") templates.push_back(&pp);
    if (pp.is_object() && pp.value("type", std::string()) == "Sequence" && pp.contains("processors") && pp["processors"].is_array())
        for (const json& q : pp["processors"])
            if (q.is_object() && q.value("type", std::string()) == "TemplateProcessing") templates.push_back(&q);
    for (const json* t : templates) {
        const json& single = (*t).contains("single") ? (*t)["single"] : json();
        if (!single.is_array() || single.empty() || !single.back().is_object()) continue;
        const json& last = single.back();
        if (last.contains("SpecialToken") && last["SpecialToken"].is_object() && last["SpecialToken"].contains("id") &&
            last["SpecialToken"]["id"].is_string())
            return last["SpecialToken"]["id"].get<std::string>();
    }
    return std::nullopt;
}

// add_eos_token and the EOS: the post-processor's trailing special token, else
// tokenizer_config.json's add_eos_token.
void eos_settings(const fs::path& dir, const std::string& used, TokenizerData& d) {
    if (used == "tokenizer.json") {
        if (auto text = template_trailing_special(dir / "tokenizer.json")) {
            const auto id = find_token(d, *text);
            if (!id)
                throw Error(fmt::format("{}: the post-processor appends '{}', which is not a token", (dir / "tokenizer.json").string(),
                                        *text));
            d.eos_id = id;
            d.add_eos = true;
            return;
        }
    }
    const fs::path cfg = dir / "tokenizer_config.json";
    if (!fs::exists(cfg)) return;
    const json j = read_json_file(cfg.string());
    if (j.is_object() && j.contains("add_eos_token") && j["add_eos_token"].is_boolean()) d.add_eos = j["add_eos_token"].get<bool>();
}

}  // namespace

std::string write_tokenizer(const std::string& dir_s, const json& config, int64_t n_vocab, gguf::Writer& w, const Options& opts,
                            int64_t* n_tokens) {
    const fs::path dir(dir_s);
    const fs::path spm = dir / "tokenizer.model", hf = dir / "tokenizer.json";
    TokenizerData d;
    std::string used;
    if (fs::exists(spm) && looks_like_spm(spm)) {
        d = tokenizer_data_from_spm_model(spm.string());
        used = "tokenizer.model";
        add_spm_added_tokens(dir, d, n_vocab);
    } else if (fs::exists(hf)) {
        d = tokenizer_data_from_hf_json(hf.string());
        used = "tokenizer.json";
    } else {
        if (fs::exists(spm))
            throw Error(spm.string() + " is not a SentencePiece model (a tiktoken file?) and there is no tokenizer.json; "
                                       "tern convert reads tokenizer.json (byte-level BPE) or a SentencePiece tokenizer.model");
        if (opts.on_warning)
            opts.on_warning(dir_s + " has no tokenizer.json or tokenizer.model: the GGUF will have no vocabulary "
                                    "(prompts must then be given as token ids)");
        *n_tokens = 0;
        return "";
    }

    const int64_t n_tok = int64_t(d.tokens.size());
    if (n_tok > n_vocab)
        throw Error(fmt::format("{}: {} has {} tokens but 'model.embed_tokens.weight' has only {} rows (vocab_size)", dir_s, used,
                                n_tok, n_vocab));
    // Fewer tokens than embedding rows: unused padding tokens, as llama.cpp writes.
    if (d.token_types.empty()) d.token_types.assign(d.tokens.size(), 1);
    for (int64_t i = n_tok; i < n_vocab; ++i) {
        d.tokens.push_back(fmt::format("[PAD{}]", i));
        d.token_types.push_back(kUnused);
        if (!d.scores.empty()) d.scores.push_back(-1000.0f);
    }

    eos_settings(dir, used, d);
    // Special ids the tokenizer files did not give: config.json, then known texts.
    const size_t n = d.tokens.size();
    if (!d.bos_id) d.bos_id = config_id(config, "bos_token_id", n);
    if (!d.eos_id) d.eos_id = config_id(config, "eos_token_id", n);
    if (!d.eot_id) {
        for (const char* t : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"})
            if (auto id = find_token(d, t); id && d.token_types[size_t(*id)] == kControl) {
                d.eot_id = id;
                break;
            }
    }

    // The vocabulary must load in tern's own tokenizer.
    try {
        (void)Tokenizer::create(d);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: the tokenizer from {} does not load: {}", dir_s, used, e.what()));
    }

    w.set("tokenizer.ggml.model", gguf::Value::str(d.model));
    if (d.model == "gpt2" && !d.pre.empty()) w.set("tokenizer.ggml.pre", gguf::Value::str(d.pre));
    w.set("tokenizer.ggml.tokens", gguf::Value::strings(d.tokens));
    if (d.model == "llama") w.set("tokenizer.ggml.scores", gguf::Value::f32s(d.scores));
    w.set("tokenizer.ggml.token_type", gguf::Value::i32s(d.token_types));
    if (d.model == "gpt2") w.set("tokenizer.ggml.merges", gguf::Value::strings(d.merges));
    const auto id_key = [&](const char* key, const std::optional<int32_t>& id) {
        if (id) w.set(key, gguf::Value::u32(uint32_t(*id)));
    };
    id_key("tokenizer.ggml.bos_token_id", d.bos_id);
    id_key("tokenizer.ggml.eos_token_id", d.eos_id);
    id_key("tokenizer.ggml.eot_token_id", d.eot_id);
    id_key("tokenizer.ggml.unknown_token_id", d.unk_id);
    id_key("tokenizer.ggml.padding_token_id", d.pad_id);
    if (d.add_bos) w.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(*d.add_bos));
    if (d.add_eos) w.set("tokenizer.ggml.add_eos_token", gguf::Value::boolean(*d.add_eos));
    if (d.model == "llama") w.set("tokenizer.ggml.add_space_prefix", gguf::Value::boolean(d.add_space_prefix.value_or(true)));
    if (auto t = chat_template(dir)) w.set("tokenizer.chat_template", gguf::Value::str(*t));
    *n_tokens = n_tok;
    return used;
}

}  // namespace tern::convert
