// Model::load: bind every tensor by name, check its shape and type, decode the
// ternary linears from whatever format the file uses into the canonical
// TernaryMatrix, and repack them once for the active kernel table (I2_S in
// one step where the table can: TernaryKernels::repack_i2s).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>

#include "kernels/dispatch.h"
#include "model/weights.h"
#include "runtime/thread_pool.h"
#include "kernels/ternary_formats.h"
#include "tern/model.h"

namespace tern {

namespace {

std::string dims_string(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t k = 0; k < d.size(); ++k) s += (k ? ", " : "") + std::to_string(d[k]);
    return s + "]";
}

const gguf::TensorInfo& expect_tensor(const gguf::File& f, const std::string& name, std::vector<int64_t> dims) {
    const gguf::TensorInfo& t = f.tensor(name);
    if (t.dims != dims)
        throw Error(f.path() + ": tensor '" + name + "' has shape " + t.shape_string() + ", expected " + dims_string(dims) +
                    " from the hyper-parameters");
    return t;
}

bool is_float_type(uint32_t type) {
    return type == uint32_t(GgmlType::F32) || type == uint32_t(GgmlType::F16) || type == uint32_t(GgmlType::BF16);
}

std::vector<float> to_floats(const gguf::TensorInfo& t, int64_t rows, int64_t cols) {
    std::vector<float> out(size_t(rows * cols));
    const int64_t row_bytes = int64_t(*gguf::tensor_bytes(t.type, {cols}));
    for (int64_t r = 0; r < rows; ++r)
        kernels::table_ref()->dequantize_row(GgmlType(t.type), t.data + r * row_bytes, &out[size_t(r * cols)], cols);
    return out;
}

std::vector<float> load_norm(const gguf::File& f, const std::string& name, int64_t n) {
    const auto& t = expect_tensor(f, name, {n});
    if (!is_float_type(t.type))
        throw Error(f.path() + ": norm tensor '" + name + "' has type " + type_name(t.type) + "; expected F32, F16 or BF16");
    return to_floats(t, 1, n);
}

FloatMatrix bind_float_matrix(const gguf::File& f, const gguf::TensorInfo& t, int64_t rows, int64_t cols) {
    const kernels::FormatCodec* codec = kernels::format_codec(t.type);
    if (!codec || !codec->embedding)
        throw Error(f.path() + ": tensor '" + t.name + "' has type " + type_name(t.type) +
                    "; embedding/output matrices must be " +
                    kernels::format_names([](const kernels::FormatCodec& c) { return c.embedding; }));
    FloatMatrix m;
    m.type = GgmlType(t.type);
    m.data = t.data;
    m.rows = rows;
    m.cols = cols;
    m.row_bytes = int64_t(*gguf::tensor_bytes(t.type, {cols}));
    m.name = t.name;
    return m;
}

// Any supported file format -> the canonical ternary matrix (SPEC §3, §5).
void decode_linear(const gguf::File& f, const gguf::TensorInfo& t, int64_t rows, int64_t cols, kernels::TernaryMatrix& out) {
    const kernels::FormatCodec* codec = kernels::format_codec(t.type);
    if (!codec || !codec->decode_linear)
        throw Error(f.path() + ": tensor '" + t.name + "' has type " + type_name(t.type) + "; ternary linears must be " +
                    kernels::format_names([](const kernels::FormatCodec& c) { return c.decode_linear != nullptr; }));
    try {
        codec->decode_linear(t.data, t.n_bytes, rows, cols, out);
    } catch (const Error& e) {
        throw Error(f.path() + ": tensor '" + t.name + "': " + e.what());
    }
}

kernels::TernaryFamily pick_family(const kernels::KernelTable& table, std::optional<KernelFamily> kernel) {
    using kernels::TernaryFamily;
    auto offered = [&](TernaryFamily fam) { return table.ternary[int(fam)].matmul != nullptr; };
    if (!kernel) {
        // The family measured fastest for each table (tern_bench: FAMILY/TABLE/
        // shape/N:n rows; bench/README.md has the numbers). Decode (N = 1) is
        // what a user waits on, so that column decides; prefill agrees so far.
        // On the AMD EPYC (Zen 5) development machine, 2B4T 2560x6912, N = 1,
        // in-cache GMAC/s: avx512vnni i2s 223 / tl1 159 / tl2 153; avx512 i2s
        // 199 / tl2 153; avx2 i2s 105 / tl2 58; from DRAM i2s leads too (TL2
        // reads 17% fewer bytes but is compute-bound before memory-bound).
        // Tables not listed (or listing a family they lack) get I2_S, the
        // family every table has.
        static const struct {
            const char* table;
            TernaryFamily family;
        } kMeasured[] = {
            {"avx512vnni", TernaryFamily::i2s},
            {"avx512", TernaryFamily::i2s},
            {"avxvnni", TernaryFamily::i2s},
            {"avx2", TernaryFamily::i2s},
            {"ref", TernaryFamily::i2s},
        };
        for (const auto& m : kMeasured)
            if (std::string(table.name) == m.table && offered(m.family)) return m.family;
        return TernaryFamily::i2s;
    }
    const auto fam = TernaryFamily(int(*kernel));
    if (!offered(fam))
        throw Error(std::string("kernel family '") + kernel_family_name(*kernel) + "' is not available in the '" +
                    table.name + "' kernel table; use --kernel i2s or another TERN_ISA");
    return fam;
}

// A 64-bit FNV-1a over the file's header (metadata and tensor table) and 16
// evenly spaced 4 KB samples of its data: two files share it only if they
// hold the same model (session files are refused for any other).
// --output-type NAME: whether the output matrix `out` is to be requantized
// (false: it already has that type), and if so `out` takes the new type and
// row size. Errors name the file and what to do.
bool requantized_output(const std::string& name, const std::string& path, const HParams& hp, FloatMatrix& out) {
    const GgmlType type = kernels::writable_embedding_type(name, "--output-type");
    if (!hp.output_head) throw Error(path + ": --output-type: the model has no output matrix (an embedding model)");
    if (type == out.type) return false;
    const auto traits = type_traits(uint32_t(type));
    if (out.cols % traits->block_elems != 0)
        throw Error(path + ": --output-type " + name + " needs rows of a multiple of " +
                    std::to_string(traits->block_elems) + " elements; the output matrix has " + std::to_string(out.cols));
    out.type = type;
    out.row_bytes = out.cols / traits->block_elems * traits->block_bytes;
    return true;
}

uint64_t fingerprint(const gguf::File& f) {
    uint64_t h = 14695981039346656037ull;
    auto mix = [&](const uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    };
    const uint8_t* base = f.data();
    const uint64_t size = f.file_size();
    mix(base, size_t(std::min<uint64_t>(size, f.data_offset())));
    constexpr uint64_t kSample = 4096, kSamples = 16;
    if (size > f.data_offset())
        for (uint64_t k = 0; k < kSamples; ++k) {
            const uint64_t off = f.data_offset() + (size - f.data_offset()) * k / kSamples;
            mix(base + off, size_t(std::min(kSample, size - off)));
        }
    return h;
}

}  // namespace

const char* kernel_family_name(KernelFamily f) { return kernels::family_name(kernels::TernaryFamily(int(f))); }

std::optional<KernelFamily> parse_kernel_family(const std::string& s) {
    for (KernelFamily f : {KernelFamily::i2s, KernelFamily::tl1, KernelFamily::tl2})
        if (s == kernel_family_name(f)) return f;
    return std::nullopt;
}

const ModelInfo& Model::info() const { return w_->info; }
const gguf::File& Model::file() const { return w_->file; }

Model Model::load(const std::string& path, const LoadOptions& opts) {
    auto owned = std::make_shared<ModelWeights>();
    ModelWeights& w = *owned;
    w.file = gguf::File::open(path);
    const gguf::File& f = w.file;
    const uint64_t file_fingerprint = fingerprint(f);
    ModelOverrides ov;
    ov.ffn_act = opts.ffn_act;
    w.hp = read_hparams(f, ov);
    HParams& hp = w.hp;
    w.table = opts.table.empty() ? &kernels::active_table() : &kernels::table_by_name(opts.table);
    w.family = pick_family(*w.table, opts.kernel);

    // Embedding and output: vocabulary size comes from the embedding's shape.
    const gguf::TensorInfo& embd = f.tensor("token_embd.weight");
    if (embd.dims.size() != 2 || embd.dims[0] != hp.n_embd)
        throw Error(f.path() + ": tensor 'token_embd.weight' has shape " + embd.shape_string() + ", expected [" +
                    std::to_string(hp.n_embd) + ", n_vocab]");
    if (hp.n_vocab != 0 && hp.n_vocab != embd.dims[1])
        throw Error(f.path() + ": the vocabulary has " + std::to_string(hp.n_vocab) + " tokens but 'token_embd.weight' has " +
                    std::to_string(embd.dims[1]) + " rows");
    hp.n_vocab = embd.dims[1];
    w.tok_embd = bind_float_matrix(f, embd, hp.n_vocab, hp.n_embd);
    if (f.find_tensor("output.weight")) {
        expect_tensor(f, "output.weight", {hp.n_embd, hp.n_vocab});
        w.output = bind_float_matrix(f, f.tensor("output.weight"), hp.n_vocab, hp.n_embd);
    } else if (!hp.output_head) {
        // qwen3 / gemma3 without output.weight: an embedding model (SPEC §8)
    } else {
        w.output = w.tok_embd;  // tied (2B4T)
    }
    // The output matrix is read whole for every token (656 MB as F16 on
    // 2B4T): it is copied out of the file mapping into huge-page memory, which
    // streams faster and far more steadily here than 4 KB file pages. The
    // copy runs in chunks among the decode jobs below (memory-bound work next
    // to compute-bound work), and each chunk's file pages are released once
    // copied, so the file's copy and ours are never both resident in full.
    const size_t out_bytes = size_t(w.output.rows * w.output.row_bytes);
    const gguf::TensorInfo* out_tensor = nullptr;
    // --output-type: the output matrix requantized into that type instead,
    // row chunks among the same jobs (the tied embedding keeps the file's).
    const FloatMatrix file_output = w.output;
    const bool requantize = !opts.output_type.empty() && requantized_output(opts.output_type, path, hp, w.output);
    if (requantize) {
        w.output_copy = AlignedBuffer(size_t(w.output.rows * w.output.row_bytes));
    } else if (hp.output_head && out_bytes >= AlignedBuffer::kHugePage) {
        out_tensor = w.tok_embd.data == w.output.data ? &f.tensor("token_embd.weight") : &f.tensor("output.weight");
        w.output_copy = AlignedBuffer(out_bytes);
    }
    w.output_norm = load_norm(f, "output_norm.weight", hp.n_embd);

    // Collect every linear first (shape checks up front), then decode and
    // repack them in parallel: decoding 2B4T's 210 matrices is real work.
    const int64_t H = hp.n_embd, I = hp.n_ff, KV = hp.kv_dim(), Q = hp.q_dim(), D = hp.head_dim;
    struct Job {
        Linear* dst;
        const gguf::TensorInfo* t;
        int64_t rows, cols;
    };
    std::vector<Job> jobs;
    w.layers.resize(size_t(hp.n_layer));
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        Layer& L = w.layers[size_t(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        L.attn_norm = load_norm(f, p + "attn_norm.weight", H);
        L.ffn_norm = load_norm(f, p + "ffn_norm.weight", H);
        if (hp.sub_norms) {
            L.o.norm_in = load_norm(f, p + "attn_sub_norm.weight", Q);
            L.down.norm_in = load_norm(f, p + "ffn_sub_norm.weight", I);
        }
        if (hp.qk_norm) {
            L.q_norm = load_norm(f, p + "attn_q_norm.weight", D);
            L.k_norm = load_norm(f, p + "attn_k_norm.weight", D);
        }
        if (hp.post_norms) {
            L.post_attn_norm = load_norm(f, p + "post_attention_norm.weight", H);
            L.post_ffn_norm = load_norm(f, p + "post_ffw_norm.weight", H);
        }
        const struct {
            Linear* dst;
            const char* name;
            int64_t rows, cols;
        } linears[] = {{&L.q, "attn_q", Q, H},     {&L.k, "attn_k", KV, H},    {&L.v, "attn_v", KV, H},
                       {&L.o, "attn_output", H, Q}, {&L.gate, "ffn_gate", I, H}, {&L.up, "ffn_up", I, H},
                       {&L.down, "ffn_down", H, I}};
        for (const auto& lin : linears) {
            const std::string name = p + lin.name + ".weight";
            const gguf::TensorInfo& t = expect_tensor(f, name, {lin.cols, lin.rows});
            lin.dst->name = name;
            if (l == 0 && lin.dst == &L.q) w.linear_type = t.type;  // what `tern info` reports
            if (hp.norm_in && f.find_tensor(p + lin.name + "_norm_in.weight"))
                lin.dst->norm_in = load_norm(f, p + lin.name + "_norm_in.weight", lin.cols);
            const kernels::FormatCodec* codec = kernels::format_codec(t.type);
            if (hp.float_linears && is_float_type(t.type) && codec && codec->embedding) {
                lin.dst->f = bind_float_matrix(f, t, lin.rows, lin.cols);  // computed in float, read in place
                continue;
            }
            jobs.push_back({lin.dst, &t, lin.rows, lin.cols});
        }
    }
    const kernels::TernaryKernels& tk = w.table->ternary[int(w.family)];
    ThreadPool pool(opts.n_threads > 0 ? opts.n_threads : default_thread_count());
    // One canonical matrix per worker, reused matrix after matrix: fresh
    // pages for each would be faulted in and zeroed by the kernel every time.
    std::vector<kernels::TernaryMatrix> scratch(size_t(pool.size()));
    std::vector<std::function<void(int worker)>> tasks;
    constexpr size_t kCopyChunk = size_t(16) << 20;
    const size_t n_chunks = out_tensor ? (out_bytes + kCopyChunk - 1) / kCopyChunk : 0;
    constexpr int64_t kRequantRows = 1024;
    const size_t n_requant = requantize ? size_t((w.output.rows + kRequantRows - 1) / kRequantRows) : 0;
    std::vector<std::vector<float>> row_scratch(size_t(pool.size()));
    for (size_t i = 0; i < std::max({jobs.size(), n_chunks, n_requant}); ++i) {
        if (i < n_requant)
            tasks.push_back([&, i](int worker) {
                const kernels::FormatCodec* codec = kernels::format_codec(uint32_t(w.output.type));
                std::vector<float>& row = row_scratch[size_t(worker)];
                row.resize(size_t(w.output.cols));
                const int64_t r1 = std::min(w.output.rows, int64_t(i + 1) * kRequantRows);
                for (int64_t r = int64_t(i) * kRequantRows; r < r1; ++r) {
                    w.table->dequantize_row(file_output.type, file_output.data + r * file_output.row_bytes, row.data(),
                                            file_output.cols);
                    codec->encode_row(row.data(), w.output_copy.data() + r * w.output.row_bytes, w.output.cols);
                }
            });
        if (i < n_chunks)
            tasks.push_back([&, i](int) {
                gguf::TensorInfo part = *out_tensor;
                part.data = w.output.data + i * kCopyChunk;
                part.n_bytes = std::min(kCopyChunk, out_bytes - i * kCopyChunk);
                std::memcpy(w.output_copy.data() + i * kCopyChunk, part.data, part.n_bytes);
                f.release(part);
            });
        if (i < jobs.size())
            tasks.push_back([&, i](int worker) {
                const Job& job = jobs[i];
                // I2_S into a table that repacks it directly: one pass, no
                // canonical matrix (anything it declines is decoded, which
                // says what is wrong).
                const bool direct =
                    tk.repack_i2s && job.t->type == uint32_t(GgmlType::I2_S) &&
                    tk.repack_i2s(job.t->data, job.rows, job.cols,
                                  kernels::i2s_scale(job.t->data, job.t->n_bytes, job.rows, job.cols), job.dst->w);
                if (!direct) {
                    kernels::TernaryMatrix& m = scratch[size_t(worker)];
                    decode_linear(f, *job.t, job.rows, job.cols, m);
                    job.dst->w = tk.repack(m);
                }
                f.release(*job.t);  // repacked: the file's copy is not read again
            });
    }
    std::atomic<size_t> next{0};
    pool.run_on_all([&](int worker) {
        for (size_t j = next++; j < tasks.size(); j = next++) tasks[j](worker);
    });
    if (out_tensor) {
        if (w.tok_embd.data == w.output.data) w.tok_embd.data = w.output_copy.data();
        w.output.data = w.output_copy.data();
    }
    if (requantize) {
        w.output.data = w.output_copy.data();
        if (file_output.data != w.tok_embd.data) f.release(f.tensor("output.weight"));  // not read again
    }

    for (const auto& t : f.tensors()) w.n_params += t.n_elements;
    uint64_t bytes = 0;
    int64_t macs = 0;
    const auto norm = [&](const std::vector<float>& g) { bytes += g.size() * sizeof(float); };
    for (const Layer& l : w.layers) {
        for (const Linear* p : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
            norm(p->norm_in);
            if (p->is_float()) {
                bytes += uint64_t(p->f.rows * p->f.row_bytes);
            } else {
                bytes += p->w.data.size();
                macs += p->w.rows * p->w.cols;
            }
        }
        for (const auto* g : {&l.attn_norm, &l.q_norm, &l.k_norm, &l.post_attn_norm, &l.ffn_norm, &l.post_ffn_norm}) norm(*g);
    }
    norm(w.output_norm);
    if (hp.output_head) bytes += uint64_t(w.output.rows * w.output.row_bytes);

    ModelInfo& info = w.info;
    info.path = path;
    info.architecture = hp.arch;
    info.name = f.get_optional<std::string>("general.name").value_or(hp.arch);
    info.n_vocab = hp.n_vocab;
    info.n_ctx_train = hp.n_ctx_train;
    info.n_embd = hp.n_embd;
    info.n_ff = hp.n_ff;
    info.n_layer = hp.n_layer;
    info.n_head = hp.n_head;
    info.n_head_kv = hp.n_head_kv;
    info.head_dim = hp.head_dim;
    info.ffn_act = hp.ffn_act;
    info.ffn_act_reason = hp.ffn_act_reason;
    info.weight_type = type_name(w.linear_type);
    info.output_type = hp.output_head ? type_name(uint32_t(w.output.type)) : "";
    info.kernel_table = w.table->name;
    info.kernel_family = KernelFamily(int(w.family));
    info.n_params = w.n_params;
    info.file_size = f.file_size();
    info.bytes_per_token = bytes;
    info.ternary_macs_per_token = macs;
    info.has_tokenizer = f.has("tokenizer.ggml.tokens");
    info.has_output_head = hp.output_head;
    info.pooling = hp.pooling;
    info.fingerprint = file_fingerprint;
    return ModelAccess::wrap(std::move(owned));
}

}  // namespace tern
