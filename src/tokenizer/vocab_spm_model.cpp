// TokenizerData from a SentencePiece tokenizer.model (LLaMA-2, 1bitLLM).
//
// The file is a serialized protobuf `ModelProto`; we need only a few fields,
// so it is decoded by hand (wire format: varint keys `field << 3 | wire type`;
// wire types 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32):
//
//   ModelProto      1: repeated SentencePiece pieces, 2: TrainerSpec, 3: NormalizerSpec
//   SentencePiece   1: string piece, 2: float score, 3: Type (1 normal, 2 unknown,
//                   3 control, 4 user defined, 5 unused, 6 byte; default normal)
//   TrainerSpec     3: model_type (1 unigram, 2 BPE, 3 word, 4 char),
//                   40/41/42/43: unk/bos/eos/pad id (int32, -1 = none)
//   NormalizerSpec  3: add_dummy_prefix (default true)
//
// The piece types are GGUF's token types (TokenType) one for one. Every read
// is bounds-checked: a truncated or corrupt file is a tern::Error.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tern/tokenizer.h"
#include "runtime/json_file.h"

namespace tern {

namespace {

class PbReader {
public:
    PbReader(const uint8_t* p, size_t n, const std::string& where) : p_(p), end_(p + n), where_(where) {}
    bool done() const { return p_ >= end_; }
    size_t offset_in(const uint8_t* base) const { return size_t(p_ - base); }

    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (p_ >= end_) fail("truncated varint");
            const uint8_t b = *p_++;
            if (shift == 63 && (b & 0x7e)) fail("varint longer than 64 bits");
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("varint longer than 10 bytes");
    }
    uint32_t fixed32() {
        if (end_ - p_ < 4) fail("truncated fixed32");
        const uint32_t v = uint32_t(p_[0]) | uint32_t(p_[1]) << 8 | uint32_t(p_[2]) << 16 | uint32_t(p_[3]) << 24;
        p_ += 4;
        return v;
    }
    // A length-delimited field's bytes.
    std::pair<const uint8_t*, size_t> bytes() {
        const uint64_t n = varint();
        if (n > uint64_t(end_ - p_)) fail(fmt::format("length {} runs past the end of its message", n));
        const uint8_t* b = p_;
        p_ += n;
        return {b, size_t(n)};
    }
    void skip(uint32_t wire) {
        switch (wire) {
            case 0: varint(); break;
            case 1:
                if (end_ - p_ < 8) fail("truncated fixed64");
                p_ += 8;
                break;
            case 2: bytes(); break;
            case 5: fixed32(); break;
            default: fail(fmt::format("unsupported protobuf wire type {}", wire));
        }
    }
    [[noreturn]] void fail(const std::string& why) const {
        throw Error(fmt::format("{}: not a valid SentencePiece model: {}", where_, why));
    }

private:
    const uint8_t* p_;
    const uint8_t* end_;
    const std::string& where_;
};

float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// int32 fields are written as sign-extended 64-bit varints.
int64_t as_int32(uint64_t v) { return int64_t(int32_t(uint32_t(v))); }

std::optional<int32_t> id_or_none(int64_t v, size_t n_pieces) {
    if (v < 0 || uint64_t(v) >= n_pieces) return std::nullopt;
    return int32_t(v);
}

// "<s>" or {"content": "<s>", ...}
std::optional<std::string> token_content(const nlohmann::json& cfg, const char* key) {
    auto it = cfg.find(key);
    if (it == cfg.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
    return std::nullopt;
}

}  // namespace

TokenizerData tokenizer_data_from_spm_bytes(const uint8_t* data, size_t size, const std::string& name) {
    TokenizerData d;
    d.model = "llama";
    PbReader top(data, size, name);
    int64_t unk = 0, bos = 1, eos = 2, pad = -1;  // TrainerSpec defaults
    uint64_t model_type = 1;                       // UNIGRAM by default
    bool add_dummy_prefix = true;
    while (!top.done()) {
        const uint64_t key = top.varint();
        const uint32_t field = uint32_t(key >> 3), wire = uint32_t(key & 7);
        if (field == 1 && wire == 2) {
            auto [b, n] = top.bytes();
            PbReader pr(b, n, name);
            std::string piece;
            float score = 0.0f;
            uint64_t type = 1;
            bool have_piece = false;
            while (!pr.done()) {
                const uint64_t k = pr.varint();
                const uint32_t f = uint32_t(k >> 3), w = uint32_t(k & 7);
                if (f == 1 && w == 2) {
                    auto [pb, pn] = pr.bytes();
                    piece.assign(reinterpret_cast<const char*>(pb), pn);
                    have_piece = true;
                } else if (f == 2 && w == 5) {
                    score = float_of(pr.fixed32());
                } else if (f == 3 && w == 0) {
                    type = pr.varint();
                } else {
                    pr.skip(w);
                }
            }
            if (!have_piece) top.fail(fmt::format("piece {} has no text", d.tokens.size()));
            if (type < 1 || type > 6) top.fail(fmt::format("piece {} ('{}') has unknown type {}", d.tokens.size(), piece, type));
            if (d.tokens.size() >= (size_t(1) << 24)) top.fail("more than 16M pieces");
            d.tokens.push_back(std::move(piece));
            d.scores.push_back(score);
            d.token_types.push_back(int32_t(type));
        } else if (field == 2 && wire == 2) {  // TrainerSpec
            auto [b, n] = top.bytes();
            PbReader tr(b, n, name);
            while (!tr.done()) {
                const uint64_t k = tr.varint();
                const uint32_t f = uint32_t(k >> 3), w = uint32_t(k & 7);
                if (w != 0) {
                    tr.skip(w);
                    continue;
                }
                const uint64_t v = tr.varint();
                if (f == 3) model_type = v;
                else if (f == 40) unk = as_int32(v);
                else if (f == 41) bos = as_int32(v);
                else if (f == 42) eos = as_int32(v);
                else if (f == 43) pad = as_int32(v);
            }
        } else if (field == 3 && wire == 2) {  // NormalizerSpec
            auto [b, n] = top.bytes();
            PbReader nr(b, n, name);
            while (!nr.done()) {
                const uint64_t k = nr.varint();
                const uint32_t f = uint32_t(k >> 3), w = uint32_t(k & 7);
                if (f == 3 && w == 0) add_dummy_prefix = nr.varint() != 0;
                else nr.skip(w);
            }
        } else {
            top.skip(wire);
        }
    }
    if (d.tokens.empty()) top.fail("no pieces");
    if (model_type != 2)
        throw Error(fmt::format("{}: SentencePiece model type {} is not supported; tern's SentencePiece tokenizer is the BPE kind "
                                "(model_type 2) that LLaMA-2 uses",
                                name, model_type == 1 ? "UNIGRAM" : std::to_string(model_type)));
    d.unk_id = id_or_none(unk, d.tokens.size());
    d.bos_id = id_or_none(bos, d.tokens.size());
    d.eos_id = id_or_none(eos, d.tokens.size());
    d.pad_id = id_or_none(pad, d.tokens.size());
    d.add_space_prefix = add_dummy_prefix;
    return d;
}

TokenizerData tokenizer_data_from_spm_model(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    TokenizerData d = tokenizer_data_from_spm_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);

    // tokenizer_config.json beside it: special tokens by text, add_bos_token.
    const auto cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(cfg_path)) {
        const nlohmann::json cfg = read_json_file(cfg_path.string());
        if (cfg.is_object()) {
            const auto find_id = [&](const std::string& text) -> std::optional<int32_t> {
                for (size_t i = 0; i < d.tokens.size(); ++i)
                    if (d.tokens[i] == text) return int32_t(i);
                return std::nullopt;
            };
            const auto overlay = [&](const char* key, std::optional<int32_t>& id) {
                if (auto t = token_content(cfg, key))
                    if (auto found = find_id(*t)) id = found;
            };
            overlay("bos_token", d.bos_id);
            overlay("eos_token", d.eos_id);
            overlay("unk_token", d.unk_id);
            overlay("pad_token", d.pad_id);
            if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) d.add_bos = cfg["add_bos_token"].get<bool>();
        }
    }
    return d;
}

}  // namespace tern
