// convert_checkpoint: plan every tensor (names, shapes, types) up front, then
// let the GGUF writer pull them one at a time: read from the mapping, check,
// ternarize or convert, encode, release the input pages.
#include "tern/convert.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/stat.h>

#include <fmt/format.h>

#include "convert/convert_impl.h"
#include "kernels/formats.h"
#include "tern/gguf.h"
#include "kernels/ternary_formats.h"

namespace tern::convert {

namespace {

namespace fs = std::filesystem;
using kernels::TernaryMatrix;

// embedding: rows kept in float (token_embd, output, an embedding model's
// projections under --type f16); norm: an f32 gain; linear: ternarized.
enum class Kind { embedding, norm, linear };

struct Job {
    std::string gguf_name;
    Kind kind = Kind::norm;
    const StTensor* src = nullptr;
    const StTensor* scale = nullptr;  // packed linears: weight_scale
    int64_t rows = 0, cols = 0;       // out x in (embedding: vocab x hidden; norm: 1 x n)
    int64_t permute_heads = 0;        // llama q/k: rows are permuted per head (0 = no)
    uint32_t type = 0;                // GGML type written
    float shift = 0.0f;               // norm: added to every gain (gemma3: HF's w of (1 + w))
};

std::string dims_string(std::initializer_list<int64_t> d) {
    std::string s = "[";
    size_t k = 0;
    for (int64_t v : d) s += (k++ ? ", " : "") + std::to_string(v);
    return s + "]";
}

uint32_t parse_linear_type(const std::string& s) {
    if (s == "i2_s") return uint32_t(GgmlType::I2_S);
    if (s == "tq2_0") return uint32_t(GgmlType::TQ2_0);
    if (s == "tq1_0") return uint32_t(GgmlType::TQ1_0);
    if (s == "f16") return uint32_t(GgmlType::F16);
    throw Error("--type '" + s + "' is not known; use i2_s, tq2_0, tq1_0 or f16");
}

uint32_t parse_embd_type(const std::string& s) {
    if (s == "f16") return uint32_t(GgmlType::F16);
    if (s == "q8_0") return uint32_t(GgmlType::Q8_0);
    if (s == "f32") return uint32_t(GgmlType::F32);
    throw Error("--embd-type '" + s + "' is not known; use f16, q8_0 or f32");
}

[[noreturn]] void non_finite(const StTensor& t, int64_t flat, int64_t cols, float v) {
    throw Error(fmt::format("{}: tensor '{}' holds {} at row {}, column {}: the checkpoint is corrupt", t.file->path(), t.name,
                            std::isnan(v) ? "NaN" : "an infinity", flat / cols, flat % cols));
}

void check_finite(const StTensor& t, const float* x, int64_t n, int64_t flat0, int64_t cols) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) non_finite(t, flat0 + i, cols, x[i]);
}

// Converts elements [begin, begin + n) of `t` and drops their input pages.
void read_f32(const StTensor& t, int64_t begin, int64_t n, float* dst, int64_t cols) {
    t.to_f32(begin, n, dst);
    check_finite(t, dst, n, begin, cols);
    const int es = st_dtype_size(t.dtype);
    t.file->release(t.data + begin * es, uint64_t(n) * uint64_t(es));
}

// Rows of an embedding-like matrix: f32 rows converted in chunks of ~4 MB of input.
void produce_embedding(const Job& j, uint8_t* dst, size_t n_bytes) {
    const StTensor& t = *j.src;
    const int64_t cols = j.cols;
    const uint64_t row_bytes = *gguf::tensor_bytes(j.type, {cols});
    if (row_bytes * uint64_t(j.rows) != n_bytes) throw Error("internal: embedding size mismatch for " + j.gguf_name);
    const int64_t chunk_rows = std::max<int64_t>(1, (int64_t(4) << 20) / std::max<int64_t>(1, cols * st_dtype_size(t.dtype)));
    std::vector<float> buf(size_t(std::min(chunk_rows, j.rows) * cols));
    const auto* codec = kernels::format_codec(j.type);
    if (!codec || !codec->encode_row) throw Error("internal: embedding type");
    for (int64_t r0 = 0; r0 < j.rows; r0 += chunk_rows) {
        const int64_t nr = std::min(chunk_rows, j.rows - r0);
        read_f32(t, r0 * cols, nr * cols, buf.data(), cols);
        for (int64_t r = 0; r < nr; ++r) {
            codec->encode_row(&buf[size_t(r * cols)], dst + uint64_t(r0 + r) * row_bytes, cols);
        }
    }
}

void produce_norm(const Job& j, uint8_t* dst, size_t n_bytes) {
    if (n_bytes != size_t(j.cols) * 4) throw Error("internal: norm size mismatch for " + j.gguf_name);
    std::vector<float> buf(size_t(j.cols));
    read_f32(*j.src, 0, j.cols, buf.data(), j.cols);
    for (float& g : buf) g += j.shift;
    std::memcpy(dst, buf.data(), n_bytes);
}

// The packed 2B4T form (SPEC §7): uint8 [ceil(out/4), in], row i*R + r of the
// ternary matrix in bits 2i..2i+1 of packed row r; beta from weight_scale.
TernaryMatrix unpack_linear(const Job& j, const std::string& linear_class) {
    const StTensor& t = *j.src;
    const StTensor& s = *j.scale;
    const float ws = s.get_f32(0);
    if (!std::isfinite(ws) || ws <= 0.0f)
        throw Error(fmt::format("{}: tensor '{}' = {} is not a positive finite scale", s.file->path(), s.name, ws));
    const float beta = linear_class == "autobitlinear" ? ws : 1.0f / ws;
    TernaryMatrix m(j.rows, j.cols, beta);
    const int64_t R = t.shape[0];
    for (int64_t r = 0; r < R; ++r) {
        const uint8_t* row = t.data + r * j.cols;
        for (int i = 0; i < 4; ++i) {
            const int64_t out_row = i * R + r;
            if (out_row >= j.rows) break;
            for (int64_t c = 0; c < j.cols; ++c) {
                const int code = (row[c] >> (2 * i)) & 3;
                if (code == 3)
                    throw Error(fmt::format("{}: tensor '{}' holds the invalid 2-bit code 3 (not ternary) at packed row {}, column {}, "
                                            "bits {}-{}",
                                            t.file->path(), t.name, r, c, 2 * i, 2 * i + 1));
                m.set(out_row, c, code - 1);
            }
        }
    }
    t.file->release(t.data, t.n_bytes);
    return m;
}

TernaryMatrix ternarize_linear(const Job& j) {
    std::vector<float> w(size_t(j.rows * j.cols));
    read_f32(*j.src, 0, j.rows * j.cols, w.data(), j.cols);
    // Already-ternary floats keep beta = max|W| (SPEC §3); master weights take absmean.
    return kernels::looks_ternary(w.data(), j.rows * j.cols) ? kernels::from_ternary_floats(w.data(), j.rows, j.cols)
                                                              : kernels::ternarize_absmean(w.data(), j.rows, j.cols);
}

// llama.cpp's q/k permutation: within each head of D rows, row j*D/2 + i goes
// to 2i + j, so the file's NORM RoPE (pairs 2i, 2i+1) rotates what the
// checkpoint's NEOX RoPE (pairs i, i + D/2) rotates (SPEC §4).
TernaryMatrix permute_heads(const TernaryMatrix& m, int64_t n_heads) {
    TernaryMatrix out(m.rows, m.cols, m.scale);
    const int64_t D = m.rows / n_heads, half = D / 2, row_bytes = m.padded_cols / 4;
    for (int64_t h = 0; h < n_heads; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t jj = 0; jj < 2; ++jj)
                std::memcpy(out.row(h * D + 2 * i + jj), m.row(h * D + jj * half + i), size_t(row_bytes));
    return out;
}

void produce_linear(const Job& j, const std::string& linear_class, uint8_t* dst, size_t n_bytes) {
    TernaryMatrix m = j.scale ? unpack_linear(j, linear_class) : ternarize_linear(j);
    if (j.permute_heads) m = permute_heads(m, j.permute_heads);
    const auto* codec = kernels::format_codec(j.type);
    if (!codec || !codec->encode_linear) throw Error("internal: linear type");
    const std::vector<uint8_t> bytes = codec->encode_linear(m);
    if (bytes.size() != n_bytes)
        throw Error(fmt::format("internal: tensor '{}' encodes to {} bytes, its type needs {}", j.gguf_name, bytes.size(), n_bytes));
    std::memcpy(dst, bytes.data(), n_bytes);
}

// ---------------------------------------------------------------- planning the tensors

class Planner {
public:
    Planner(const Checkpoint& ck, const ModelPlan& p, uint32_t linear_type, uint32_t embd_type)
        : ck_(ck), p_(p), linear_type_(linear_type), embd_type_(embd_type) {}

    std::vector<Job> plan() {
        const bool embedding_model = p_.arch == "qwen3" || p_.arch == "gemma3";
        if (embedding_model) plan_embedding_model();
        else plan_bitnet();
        // The big matrices last: the GGUF writer keeps a buffer as large as the
        // largest tensor it has produced, so the linears run with a small one.
        if (p_.untied_output) embedding("output.weight", "lm_head.weight");
        else used_.insert(p_.prefix + "lm_head.weight");  // tied (transformers ignores a stored copy), or an embedding model
        used_.insert("lm_head.weight");
        embedding("token_embd.weight", p_.prefix + "embed_tokens.weight");

        // Every tensor of the checkpoint must have found a place.
        for (const std::string& name : ck_.names()) {
            if (used_.count(name)) continue;
            if (name.size() >= 19 && name.compare(name.size() - 19, 19, "rotary_emb.inv_freq") == 0) continue;  // 1bitLLM buffers
            throw Error(fmt::format("{}: tensor '{}' has no place in a {} model (tern convert knows the tensors of SPEC {}; "
                                    "biases and extra modules are not supported)",
                                    ck_.dir(), name, p_.arch, embedding_model ? "§8" : "§1"));
        }
        return std::move(jobs_);
    }

private:
    void plan_bitnet() {
        const int64_t H = p_.n_embd, I = p_.n_ff, D = p_.head_dim;
        for (int64_t l = 0; l < p_.n_layer; ++l) {
            const std::string hf = fmt::format("model.layers.{}.", l), gg = fmt::format("blk.{}.", l);
            norm(gg + "attn_norm.weight", hf + "input_layernorm.weight", H);
            linear(gg + "attn_q.weight", hf + "self_attn.q_proj", p_.n_head * D, H, p_.permute_qk ? p_.n_head : 0);
            linear(gg + "attn_k.weight", hf + "self_attn.k_proj", p_.n_head_kv * D, H, p_.permute_qk ? p_.n_head_kv : 0);
            linear(gg + "attn_v.weight", hf + "self_attn.v_proj", p_.n_head_kv * D, H, 0);
            if (p_.sub_norms) norm(gg + "attn_sub_norm.weight", hf + p_.sub_norm_attn + ".weight", H);
            linear(gg + "attn_output.weight", hf + "self_attn.o_proj", H, p_.n_head * D, 0);
            norm(gg + "ffn_norm.weight", hf + "post_attention_layernorm.weight", H);
            linear(gg + "ffn_gate.weight", hf + "mlp.gate_proj", I, H, 0);
            linear(gg + "ffn_up.weight", hf + "mlp.up_proj", I, H, 0);
            if (p_.sub_norms) norm(gg + "ffn_sub_norm.weight", hf + p_.sub_norm_ffn + ".weight", I);
            linear(gg + "ffn_down.weight", hf + "mlp.down_proj", H, I, 0);
        }
        norm("output_norm.weight", "model.norm.weight", H);
    }

    // qwen3 / gemma3 (SPEC §8): per-head q/k norms, gemma3's post-norms, and
    // each projection's optional BitLinear norm (`*_proj.norm.weight`). Gemma's
    // own RMSNorm gains are stored as w of (1 + w): the GGUF holds 1 + w. The
    // BitLinear norms are plain RMSNorm gains in both.
    void plan_embedding_model() {
        const bool gemma = p_.arch == "gemma3";
        const float shift = p_.norm_plus_one ? 1.0f : 0.0f;
        const int64_t H = p_.n_embd, I = p_.n_ff, D = p_.head_dim, Q = p_.n_head * D, KV = p_.n_head_kv * D;
        for (int64_t l = 0; l < p_.n_layer; ++l) {
            const std::string hf = fmt::format("{}layers.{}.", p_.prefix, l), gg = fmt::format("blk.{}.", l);
            norm(gg + "attn_norm.weight", hf + "input_layernorm.weight", H, shift);
            norm(gg + "attn_q_norm.weight", hf + "self_attn.q_norm.weight", D, shift);
            norm(gg + "attn_k_norm.weight", hf + "self_attn.k_norm.weight", D, shift);
            if (gemma) {
                norm(gg + "post_attention_norm.weight", hf + "post_attention_layernorm.weight", H, shift);
                norm(gg + "ffn_norm.weight", hf + "pre_feedforward_layernorm.weight", H, shift);
                norm(gg + "post_ffw_norm.weight", hf + "post_feedforward_layernorm.weight", H, shift);
            } else {
                norm(gg + "ffn_norm.weight", hf + "post_attention_layernorm.weight", H);
            }
            projection(gg + "attn_q", hf + "self_attn.q_proj", Q, H);
            projection(gg + "attn_k", hf + "self_attn.k_proj", KV, H);
            projection(gg + "attn_v", hf + "self_attn.v_proj", KV, H);
            projection(gg + "attn_output", hf + "self_attn.o_proj", H, Q);
            projection(gg + "ffn_gate", hf + "mlp.gate_proj", I, H);
            projection(gg + "ffn_up", hf + "mlp.up_proj", I, H);
            projection(gg + "ffn_down", hf + "mlp.down_proj", H, I);
        }
        norm("output_norm.weight", p_.prefix + "norm.weight", H, shift);
    }

    // A projection of an embedding model: its BitLinear norm when present, then
    // the weight, ternarized, or kept in float for --type f16 (a teacher file,
    // computed in float by SPEC §8).
    void projection(const std::string& gg, const std::string& hf, int64_t rows, int64_t cols) {
        if (ck_.find(hf + ".norm.weight")) norm(gg + "_norm_in.weight", hf + ".norm.weight", cols);
        if (linear_type_ != uint32_t(GgmlType::F16)) {
            linear(gg + ".weight", hf, rows, cols, 0);
            return;
        }
        const StTensor& t = need(hf + ".weight");
        expect_float(t);
        expect_shape(t, {rows, cols}, fmt::format("[out, in] = [{}, {}] for this projection", rows, cols).c_str());
        jobs_.push_back({gg + ".weight", Kind::embedding, &t, nullptr, rows, cols, 0, linear_type_});
    }
    const StTensor& need(const std::string& name) {
        const StTensor* t = ck_.find(name);
        if (!t) throw Error(fmt::format("{}: tensor '{}' is missing from the checkpoint", ck_.dir(), name));
        used_.insert(name);
        return *t;
    }

    void expect_shape(const StTensor& t, std::initializer_list<int64_t> dims, const char* what) {
        if (t.shape != std::vector<int64_t>(dims))
            throw Error(fmt::format("{}: tensor '{}' has shape {}, but config.json implies {} ({})", t.file->path(), t.name,
                                    t.shape_string(), dims_string(dims), what));
    }

    void expect_float(const StTensor& t) {
        if (!t.is_float())
            throw Error(fmt::format("{}: tensor '{}' has dtype {}; expected BF16, F16 or F32", t.file->path(), t.name,
                                    t.dtype_name));
    }

    void embedding(const std::string& gg, const std::string& hf) {
        const StTensor& t = need(hf);
        expect_float(t);
        expect_shape(t, {p_.n_vocab, p_.n_embd}, "[vocab, hidden_size]");
        if (embd_type_ == uint32_t(GgmlType::Q8_0) && p_.n_embd % 32 != 0)
            throw Error(fmt::format("--embd-type q8_0 needs hidden_size to be a multiple of 32 (it is {}); use f16", p_.n_embd));
        jobs_.push_back({gg, Kind::embedding, &t, nullptr, p_.n_vocab, p_.n_embd, 0, embd_type_});
    }

    void norm(const std::string& gg, const std::string& hf, int64_t n, float shift = 0.0f) {
        const StTensor& t = need(hf);
        expect_float(t);
        expect_shape(t, {n}, "a norm of that width");
        jobs_.push_back({gg, Kind::norm, &t, nullptr, 1, n, 0, uint32_t(GgmlType::F32), shift});
    }

    void linear(const std::string& gg, const std::string& hf_base, int64_t rows, int64_t cols, int64_t permute_heads) {
        const StTensor& t = need(hf_base + ".weight");
        const StTensor* scale = ck_.find(hf_base + ".weight_scale");
        const std::string what = fmt::format("[out, in] = [{}, {}] for this projection", rows, cols);
        if (t.dtype == StDtype::U8) {
            // Packed ternary weights (SPEC §7).
            expect_shape(t, {(rows + 3) / 4, cols}, ("packed uint8 [ceil(out/4), in] of " + what).c_str());
            if (!scale)
                throw Error(fmt::format("{}: tensor '{}' is packed uint8 but '{}.weight_scale' is missing", t.file->path(), t.name,
                                        hf_base));
            if (!scale->is_float() || scale->n_elements != 1)
                throw Error(fmt::format("{}: tensor '{}' has dtype {} and shape {}; expected one float (a per-tensor scale)",
                                        scale->file->path(), scale->name, scale->dtype_name, scale->shape_string()));
            if (!p_.linear_class)
                throw Error(fmt::format("{}: tensor '{}' is packed, but config.json has no quantization_config.linear_class to "
                                        "say whether weight_scale multiplies (autobitlinear) or divides (bitlinear)",
                                        ck_.dir(), t.name));
            used_.insert(scale->name);
        } else {
            expect_float(t);
            expect_shape(t, {rows, cols}, what.c_str());
            if (scale)
                throw Error(fmt::format("{}: tensor '{}' is {} but has a weight_scale; only packed uint8 weights carry one",
                                        t.file->path(), t.name, t.dtype_name));
            scale = nullptr;
        }
        std::string why;
        if (!gguf::tensor_bytes(linear_type_, {cols, rows}, &why))
            throw Error(fmt::format("tensor '{}' ({} x {}) cannot be stored as {}: {}{}", t.name, rows, cols, type_name(linear_type_),
                                    why, linear_type_ == uint32_t(GgmlType::I2_S) ? "" : "; use --type i2_s"));
        if (permute_heads && (rows % permute_heads != 0 || (rows / permute_heads) % 2 != 0))
            throw Error(fmt::format("tensor '{}': {} rows do not split into {} heads of even size", t.name, rows, permute_heads));
        jobs_.push_back({gg, Kind::linear, &t, scale, rows, cols, permute_heads, linear_type_});
    }

    const Checkpoint& ck_;
    const ModelPlan& p_;
    uint32_t linear_type_, embd_type_;
    std::vector<Job> jobs_;
    std::set<std::string> used_;
};

std::string model_name(const std::string& dir) {
    fs::path p = fs::path(dir).lexically_normal();
    std::string name = p.filename().string();
    if (name.empty() || name == ".") name = p.parent_path().filename().string();
    if (name.empty() || name == ".") name = fs::absolute(p).lexically_normal().parent_path().filename().string();
    return name.empty() ? "model" : name;
}

// Refuses, before any work, an output that would destroy an input or cannot
// be written: a directory, or (compared by device and inode, so hard links,
// symbolic links and other spellings of the same file are caught) any file
// of the checkpoint folder but an earlier .gguf; the same for the temporary
// file the writer fills first (out.tmp).
void check_output(const std::string& dir, const std::string& out) {
    std::error_code ec;
    if (out.empty()) throw Error("the output path is empty");
    if (fs::is_directory(out, ec)) throw Error(out + ": the output is a directory; give a file name such as " +
                                               (fs::path(out) / "model.gguf").string());
    const fs::path parent = fs::path(out).parent_path().empty() ? fs::path(".") : fs::path(out).parent_path();
    if (!fs::is_directory(parent, ec)) throw Error(out + ": the output's directory " + parent.string() + " does not exist");
    for (const std::string& target : {out, out + ".tmp"}) {
        struct stat t {};
        if (::stat(target.c_str(), &t) != 0) continue;  // does not exist yet: nothing to protect
        for (const auto& e : fs::directory_iterator(dir, ec)) {
            struct stat s {};
            if (e.path().extension() == ".gguf" || ::stat(e.path().c_str(), &s) != 0) continue;
            if (s.st_dev == t.st_dev && s.st_ino == t.st_ino)
                throw Error("the output " + target + " is the checkpoint's own file " + e.path().string() +
                            " (the same inode): writing it would destroy the input; choose another output path");
        }
    }
}

// SPEC §8's keys: the head size, pooling and gemma3's sliding window.
void write_embedding_keys(const ModelPlan& p, gguf::Writer& w) {
    const std::string& a = p.arch;
    w.set(a + ".attention.key_length", gguf::Value::u32(uint32_t(p.head_dim)));
    w.set(a + ".attention.value_length", gguf::Value::u32(uint32_t(p.head_dim)));
    if (p.pooling >= 0) w.set(a + ".pooling_type", gguf::Value::u32(uint32_t(p.pooling)));
    if (p.swa_window <= 0) return;
    w.set(a + ".attention.sliding_window", gguf::Value::u32(uint32_t(p.swa_window)));
    if (p.swa_layers.empty()) {
        w.set(a + ".attention.sliding_window_pattern", gguf::Value::u32(uint32_t(p.swa_pattern)));
    } else {
        std::vector<gguf::Value> local;
        for (bool b : p.swa_layers) local.push_back(gguf::Value::boolean(b));
        w.set(a + ".attention.sliding_window_pattern", gguf::Value::array(gguf::ValueType::BOOL, std::move(local)));
    }
    w.set(a + ".rope.freq_base_swa", gguf::Value::f32(p.rope_theta_swa));
}

}  // namespace

Result convert_checkpoint(const std::string& dir, const std::string& out, const Options& opts) {
    const uint32_t linear_type = parse_linear_type(opts.linear_type);
    const uint32_t embd_type = parse_embd_type(opts.embd_type);
    if (!fs::is_directory(dir)) throw Error(dir + ": not a directory (give the Hugging Face checkpoint folder)");
    check_output(dir, out);
    const fs::path cfg_path = fs::path(dir) / "config.json";
    if (!fs::exists(cfg_path)) throw Error(dir + ": config.json is missing; is this a Hugging Face checkpoint folder?");
    const nlohmann::json config = read_json_file(cfg_path.string());

    Result res;
    const Checkpoint ck = Checkpoint::open(dir);
    res.plan = make_plan(dir, config, ck, opts);
    const ModelPlan& p = res.plan;
    const std::string linear_class = p.linear_class.value_or("");
    std::vector<Job> jobs = Planner(ck, p, linear_type, embd_type).plan();

    gguf::Writer w;
    const std::string& a = p.arch;
    w.set("general.architecture", gguf::Value::str(a));
    w.set("general.name", gguf::Value::str(model_name(dir)));
    w.set("general.file_type", gguf::Value::u32(kernels::format_codec(linear_type)->file_type));
    w.set("general.quantization_version", gguf::Value::u32(2));
    w.set(a + ".vocab_size", gguf::Value::u32(uint32_t(p.n_vocab)));
    if (p.n_ctx > 0) w.set(a + ".context_length", gguf::Value::u32(uint32_t(p.n_ctx)));
    w.set(a + ".embedding_length", gguf::Value::u32(uint32_t(p.n_embd)));
    w.set(a + ".block_count", gguf::Value::u32(uint32_t(p.n_layer)));
    w.set(a + ".feed_forward_length", gguf::Value::u32(uint32_t(p.n_ff)));
    w.set(a + ".rope.dimension_count", gguf::Value::u32(uint32_t(p.head_dim)));
    w.set(a + ".attention.head_count", gguf::Value::u32(uint32_t(p.n_head)));
    w.set(a + ".attention.head_count_kv", gguf::Value::u32(uint32_t(p.n_head_kv)));
    w.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(p.rms_eps));
    w.set(a + ".rope.freq_base", gguf::Value::f32(p.rope_theta));
    if (p.arch == "qwen3" || p.arch == "gemma3") write_embedding_keys(p, w);
    int64_t n_tokens = 0;
    res.plan.tokenizer = write_tokenizer(dir, config, p.n_vocab, w, opts, &n_tokens);
    res.n_vocab_tokens = n_tokens;
#ifdef __GLIBC__
    malloc_trim(0);  // hand the tokenizer's parsing memory back before the weights stream through
#endif

    uint64_t total_in = 0;
    for (const Job& j : jobs) total_in += j.src->n_bytes + (j.scale ? j.scale->n_bytes : 0);
    uint64_t done_in = 0;
    std::vector<std::string> names;
    for (const Job& j : jobs) {
        names.push_back(j.gguf_name);
        const Job* jp = &j;
        const std::vector<int64_t> dims = j.kind == Kind::norm ? std::vector<int64_t>{j.cols} : std::vector<int64_t>{j.cols, j.rows};
        w.add_tensor(j.gguf_name, dims, j.type, [jp, &linear_class, &done_in](uint8_t* dst, size_t n) {
            switch (jp->kind) {
                case Kind::embedding: produce_embedding(*jp, dst, n); break;
                case Kind::norm: produce_norm(*jp, dst, n); break;
                case Kind::linear: produce_linear(*jp, linear_class, dst, n); break;
            }
            done_in += jp->src->n_bytes + (jp->scale ? jp->scale->n_bytes : 0);
        });
    }
    if (opts.on_progress)
        w.on_progress = [&](size_t k, size_t n, uint64_t) { opts.on_progress(k, n, done_in, total_in, names[k - 1]); };
    w.write(out);

    res.n_tensors = jobs.size();
    res.bytes_in = total_in;
    std::error_code ec;
    res.bytes_out = fs::file_size(out, ec);
    return res;
}

}  // namespace tern::convert
