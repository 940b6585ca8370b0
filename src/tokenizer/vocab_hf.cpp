// TokenizerData from a Hugging Face tokenizer.json (byte-level BPE: LLaMA-3, GPT-2, Falcon3).
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tern/tokenizer.h"
#include "runtime/json_file.h"
#include "tokenizer/utf8.h"

namespace tern {

namespace {

using nlohmann::json;

// LLaMA-3's Split pattern exactly as its tokenizer.json writes it.
constexpr std::string_view kLlama3HfPattern =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Qwen2's (and Qwen3's): the same with single digits.
constexpr std::string_view kQwen2HfPattern =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Calls f on every object in `j` (itself included) whose "type" is `type`.
template <class F>
void each_of_type(const json& j, std::string_view type, F&& f) {
    if (j.is_object()) {
        auto t = j.find("type");
        if (t != j.end() && t->is_string() && t->get<std::string>() == type) f(j);
        for (const auto& [k, v] : j.items()) each_of_type(v, type, f);
    } else if (j.is_array()) {
        for (const auto& v : j) each_of_type(v, type, f);
    }
}

// An added token the tokenizer matches in raw text (normalized: false) but
// whose content is spelled in the byte-level alphabet, e.g. Falcon3's "Ċ" for
// a newline: llama.cpp's converter stores what Hugging Face's decode gives for
// it ("\n"), so the GGUF holds the text the token stands for. Content that is
// not all alphabet characters, or whose bytes are not UTF-8, is kept as is.
std::string byte_level_text(const std::string& content) {
    std::string out;
    for (size_t i = 0; i < content.size();) {
        const size_t len = utf8::valid_char_len(content, i);
        if (len == 0) return content;
        const int b = utf8::byte_of_codepoint(utf8::decode_at(content, i, len));
        if (b < 0) return content;
        out += static_cast<char>(b);
        i += len;
    }
    for (size_t i = 0; i < out.size();) {
        const size_t len = utf8::valid_char_len(out, i);
        if (len == 0) return content;
        i += len;
    }
    return out;
}

// "<s>" or {"content": "<s>", ...}
std::optional<std::string> token_content(const json& cfg, const char* key) {
    auto it = cfg.find(key);
    if (it == cfg.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
        return (*it)["content"].get<std::string>();
    return std::nullopt;
}

std::optional<int32_t> find_token(const TokenizerData& d, const std::string& text) {
    for (size_t i = 0; i < d.tokens.size(); ++i)
        if (d.tokens[i] == text) return static_cast<int32_t>(i);
    return std::nullopt;
}

// GPT-2-style: the pre-tokenizer from the Split pattern (LLaMA-3's, Qwen2's) or ByteLevel's own.
void byte_level_pre(const json& j, const std::string& path, TokenizerData& d) {
    const int64_t n = int64_t(d.tokens.size());
    std::vector<std::string> patterns;
    bool byte_level_regex = false, punctuation = false, single_digits = false;
    if (j.contains("pre_tokenizer")) {
        each_of_type(j["pre_tokenizer"], "Split", [&](const json& s) {
            if (s.contains("pattern") && s["pattern"].is_object() && s["pattern"].contains("Regex"))
                patterns.push_back(s["pattern"]["Regex"].get<std::string>());
        });
        each_of_type(j["pre_tokenizer"], "ByteLevel",
                     [&](const json& b) { byte_level_regex = byte_level_regex || b.value("use_regex", true); });
        each_of_type(j["pre_tokenizer"], "Punctuation", [&](const json&) { punctuation = true; });
        each_of_type(j["pre_tokenizer"], "Digits",
                     [&](const json& digits) { single_digits = single_digits || digits.value("individual_digits", false); });
    }
    // Falcon's chains may end with a Split of digit triples, which single
    // digits make a no-op.
    std::erase(patterns, std::string("[0-9][0-9][0-9]"));
    const bool llama3_vocab = n == 128256 && find_token(d, "<|begin_of_text|>").has_value();
    // Falcon3's 131072 tokens open with Falcon's >>TITLE<< markers.
    const bool falcon3_vocab = n == 131072 && d.tokens[0] == ">>TITLE<<";
    if (patterns.size() == 1 && patterns[0] == kLlama3HfPattern) {
        d.pre = "llama-bpe";
    } else if (patterns.size() == 1 && patterns[0] == kQwen2HfPattern) {
        d.pre = "qwen2";
    } else if ((patterns.empty() && byte_level_regex && punctuation && single_digits) || falcon3_vocab) {
        // llama.cpp's converter names this "falcon3" and splits it with
        // LLaMA-3's pattern (a vocabulary without digit merges makes
        // "\p{N}{1,3}" pieces come out one digit per token all the same).
        d.pre = "falcon3";
    } else if (patterns.empty() && byte_level_regex && !punctuation) {
        d.pre = "gpt-2";
    } else if (llama3_vocab) {
        d.pre = "llama-bpe";
    } else {
        throw Error(fmt::format("{}: unsupported pre-tokenizer (Split patterns: {}); tern knows LLaMA-3's, "
                                "Qwen2's, GPT-2's and Falcon3's",
                                path, patterns.empty() ? std::string("none") : patterns[0]));
    }
}

// SentencePiece-style BPE: tern merges the adjacent pair whose concatenation is
// the highest-scoring piece (SPEC §6); a piece's score is minus the rank of the
// first merge that makes it, so merges happen in the file's order. Pieces no
// merge makes come last. "<0xNN>" pieces are bytes; a leading space only with
// a Prepend("▁") normalizer or a Metaspace that adds one.
void sentencepiece_scores(const json& j, TokenizerData& d) {
    std::unordered_map<std::string_view, int32_t> id_of;
    for (size_t i = 0; i < d.tokens.size(); ++i) id_of.emplace(d.tokens[i], int32_t(i));
    d.scores.assign(d.tokens.size(), -1e9f);
    const json& merges = j["model"]["merges"];
    for (size_t r = 0; r < merges.size(); ++r) {
        const json& m = merges[r];
        std::string piece;
        if (m.is_array()) {
            piece = m[0].get<std::string>() + m[1].get<std::string>();
        } else {
            piece = m.get<std::string>();
            if (const size_t sp = piece.find(' '); sp != std::string::npos) piece.erase(sp, 1);
        }
        auto it = id_of.find(piece);
        if (it != id_of.end() && d.scores[size_t(it->second)] == -1e9f) d.scores[size_t(it->second)] = -float(r);
    }
    for (size_t i = 0; i < d.tokens.size(); ++i) {
        const std::string& t = d.tokens[i];
        if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>') d.token_types[i] = 6;  // byte
    }
    d.merges.clear();
    bool prefix = false;
    if (j.contains("normalizer")) each_of_type(j["normalizer"], "Prepend", [&](const json&) { prefix = true; });
    if (j.contains("pre_tokenizer"))
        each_of_type(j["pre_tokenizer"], "Metaspace", [&](const json& m) {
            prefix = prefix || m.value("add_prefix_space", false) || m.value("prepend_scheme", std::string()) == "always";
        });
    d.add_space_prefix = prefix;
}

// Special ids and add_bos: tokenizer_config.json beside the file, then the post-processor.
void special_ids(const json& j, const std::string& path, TokenizerData& d) {
    const auto cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(cfg_path)) {
        const json cfg = read_json_file(cfg_path.string());
        if (auto t = token_content(cfg, "bos_token")) d.bos_id = find_token(d, *t);
        if (auto t = token_content(cfg, "eos_token")) d.eos_id = find_token(d, *t);
        if (auto t = token_content(cfg, "unk_token")) d.unk_id = find_token(d, *t);
        if (auto t = token_content(cfg, "pad_token")) d.pad_id = find_token(d, *t);
        if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
            d.add_bos = cfg["add_bos_token"].get<bool>();
    }
    if (j.contains("post_processor")) {
        each_of_type(j["post_processor"], "TemplateProcessing", [&](const json& tp) {
            if (!tp.contains("single") || !tp["single"].is_array() || tp["single"].empty()) return;
            const json& first = tp["single"][0];
            const bool starts_special = first.contains("SpecialToken");
            if (starts_special && !d.bos_id) d.bos_id = find_token(d, first["SpecialToken"].value("id", std::string()));
            if (!d.add_bos) d.add_bos = starts_special;
        });
    }
}

}  // namespace

TokenizerData tokenizer_data_from_hf_json(const std::string& path) {
    const json j = read_json_file(path);
    try {
        if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
            throw Error(path + ": no \"model\" object; is this a Hugging Face tokenizer.json?");
        const json& model = j["model"];
        const std::string type = model.value("type", std::string("BPE"));
        if (type != "BPE")
            throw Error(fmt::format("{}: model type '{}' is not supported; tern reads byte-level BPE tokenizer.json "
                                    "(SentencePiece models: use tokenizer.model)",
                                    path, type));
        bool byte_level = false;
        for (const char* part : {"pre_tokenizer", "decoder"})
            if (j.contains(part)) each_of_type(j[part], "ByteLevel", [&](const json&) { byte_level = true; });
        // SentencePiece-style BPE (Gemma 3): spaces as U+2581 by the normalizer, byte fallback.
        const bool sentencepiece = !byte_level && model.value("byte_fallback", false);
        if (!byte_level && !sentencepiece)
            throw Error(path + ": a BPE tokenizer without a ByteLevel pre-tokenizer or decoder, or byte fallback, is "
                               "not supported (SentencePiece models: use tokenizer.model)");

        TokenizerData d;
        d.model = sentencepiece ? "llama" : "gpt2";

        // id -> (text, type); the vocabulary, then added tokens over it.
        std::map<int64_t, std::pair<std::string, int32_t>> by_id;
        const json& vocab = model.at("vocab");
        if (!vocab.is_object()) throw Error(path + ": model.vocab is not an object of token -> id");
        for (const auto& [text, id] : vocab.items()) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0)
                throw Error(fmt::format("{}: model.vocab['{}'] is not a non-negative integer id", path, text));
            by_id[id.get<int64_t>()] = {text, 1};
        }
        if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
            for (const json& t : j["added_tokens"]) {
                const int64_t id = t.at("id").get<int64_t>();
                if (id < 0) throw Error(fmt::format("{}: added token id {} is negative", path, id));
                const bool special = t.value("special", false);
                std::string content = t.at("content").get<std::string>();
                if (!t.value("normalized", !special)) content = byte_level_text(content);
                by_id[id] = {std::move(content), special ? 3 : 4};
            }
        }
        if (by_id.empty()) throw Error(path + ": the vocabulary is empty");
        const int64_t n = by_id.rbegin()->first + 1;
        if (n > (int64_t(1) << 24))
            throw Error(fmt::format("{}: largest token id {} is implausible", path, n - 1));
        d.tokens.resize(n);
        d.token_types.assign(n, 5);  // holes become unused "[PAD<id>]" tokens
        for (int64_t i = 0; i < n; ++i) d.tokens[i] = fmt::format("[PAD{}]", i);
        for (auto& [id, tt] : by_id) {
            d.tokens[id] = std::move(tt.first);
            d.token_types[id] = tt.second;
        }

        const json& merges = model.at("merges");
        if (!merges.is_array()) throw Error(path + ": model.merges is not an array");
        d.merges.reserve(merges.size());
        for (const json& m : merges) {
            if (m.is_string()) {
                d.merges.push_back(m.get<std::string>());
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                d.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
            } else {
                throw Error(fmt::format("{}: merge {} is neither \"a b\" nor [\"a\", \"b\"]", path, d.merges.size()));
            }
        }

        if (sentencepiece) {
            sentencepiece_scores(j, d);
        } else {
            byte_level_pre(j, path, d);
        }
        special_ids(j, path, d);
        // Qwen2/Qwen3: {"type": "NFC"}, alone or in a Sequence.
        d.normalize_nfc = false;
        if (j.contains("normalizer")) each_of_type(j["normalizer"], "NFC", [&](const json&) { d.normalize_nfc = true; });
        return d;
    } catch (const json::exception& e) {
        throw Error(path + ": unexpected tokenizer.json structure: " + e.what());
    }
}

}  // namespace tern
