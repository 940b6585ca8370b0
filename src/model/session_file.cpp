// Session::save / Session::load: a session's state in a small binary file.
//
// Layout (little-endian), version 1:
//   "TERNSESS"  u32 version  u64 model fingerprint  u32 name length, name bytes
//   u64 n_vocab  u64 n_layer  u64 kv_dim  u32 kv element bytes (4 f32, 2 fp16)
//   u64 n_past   i32 tokens[n_past]
//   u64 n_logits (0 or n_vocab)  f32 logits[n_logits]   (the last token's)
//   per layer: K blocks covering positions < n_past, [ceil(n_past / B), kv_dim, B]
//              V rows of positions < n_past, [n_past, kv_dim]
// The fingerprint (ModelInfo::fingerprint) ties the file to the model that
// wrote it; the shape fields make a mismatch an error even without it.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "model/session_state.h"

namespace tern {

namespace {

constexpr char kMagic[8] = {'T', 'E', 'R', 'N', 'S', 'E', 'S', 'S'};
constexpr uint32_t kVersion = 1;

class Out {
public:
    void bytes(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
    template <class T>
    void put(T v) { bytes(&v, sizeof v); }
    const std::string& str() const { return buf_; }

private:
    std::string buf_;
};

class In {
public:
    In(const std::string& data, const std::string& path) : d_(data), path_(path) {}
    const char* bytes(size_t n, const char* what) {
        if (n > d_.size() - pos_)
            throw Error(path_ + ": session file is truncated (reading " + what + " at byte " + std::to_string(pos_) + ")");
        const char* p = d_.data() + pos_;
        pos_ += n;
        return p;
    }
    template <class T>
    T get(const char* what) {
        T v;
        std::memcpy(&v, bytes(sizeof v, what), sizeof v);
        return v;
    }
    bool at_end() const { return pos_ == d_.size(); }

private:
    const std::string& d_;
    const std::string& path_;
    size_t pos_ = 0;
};

}  // namespace

void Session::save(const std::string& path) const {
    const HParams& hp = hparams_of(model_);
    const Sequence& seq = st_->seq;
    const ModelInfo& info = model_.info();
    const KvCache& kv = seq.kv;
    const int64_t n_past = seq.n_past();
    const int64_t KV = kv.kv_dim();
    Out o;
    o.bytes(kMagic, sizeof kMagic);
    o.put(kVersion);
    o.put(info.fingerprint);
    o.put(uint32_t(info.name.size()));
    o.bytes(info.name.data(), info.name.size());
    o.put(uint64_t(hp.n_vocab));
    o.put(uint64_t(hp.n_layer));
    o.put(uint64_t(KV));
    o.put(uint32_t(kv.elem()));
    o.put(uint64_t(n_past));
    o.bytes(seq.tokens.data(), seq.tokens.size() * sizeof(int32_t));
    const bool have_logits = n_logits_ > 0 && n_past > 0;
    o.put(uint64_t(have_logits ? hp.n_vocab : 0));
    if (have_logits) o.bytes(logits(-1), size_t(hp.n_vocab) * sizeof(float));
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        o.bytes(kv.k_layer(l), kv.k_bytes(n_past));
        o.bytes(kv.v_layer(l), kv.v_bytes(n_past));
    }

    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw Error(path + ": cannot write the session file (check that the folder exists and is writable)");
        f.write(o.str().data(), std::streamsize(o.str().size()));
        f.flush();
        if (!f) {
            f.close();
            std::remove(tmp.c_str());
            throw Error(path + ": writing the session file failed (disk full?)");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw Error(path + ": cannot write the session file: " + ec.message());
    }
}

void Session::load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open the session file");
    const std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    In in(data, path);
    if (std::memcmp(in.bytes(sizeof kMagic, "the magic"), kMagic, sizeof kMagic) != 0)
        throw Error(path + ": not a tern session file (it does not start with TERNSESS)");
    const uint32_t version = in.get<uint32_t>("the version");
    if (version != kVersion)
        throw Error(path + ": session file version " + std::to_string(version) + "; this tern reads version " +
                    std::to_string(kVersion));
    const HParams& hp = hparams_of(model_);
    const ModelInfo& info = model_.info();
    KvCache& kv = st_->seq.kv;
    const int64_t KV = kv.kv_dim();
    const uint64_t fp = in.get<uint64_t>("the model fingerprint");
    const uint32_t name_len = in.get<uint32_t>("the model name");
    const std::string name(in.bytes(name_len, "the model name"), name_len);
    const uint64_t n_vocab = in.get<uint64_t>("n_vocab"), n_layer = in.get<uint64_t>("n_layer"),
                   kv_dim = in.get<uint64_t>("kv_dim");
    if (fp != info.fingerprint || n_vocab != uint64_t(hp.n_vocab) || n_layer != uint64_t(hp.n_layer) ||
        kv_dim != uint64_t(KV))
        throw Error(path + ": this session was saved with another model ('" + name + "'); it cannot be loaded into '" +
                    info.name + "' (" + info.path + ")");
    const uint32_t elem = in.get<uint32_t>("the KV cache type");
    if (elem != kv.elem())
        throw Error(path + ": this session's KV cache is " + (elem == 2 ? "fp16" : "f32") + "; open the session " +
                    (elem == 2 ? "with" : "without") + " kv_f16 (--kv-f16) to load it");
    const uint64_t n_past = in.get<uint64_t>("n_past");
    if (n_past > uint64_t(n_ctx_))
        throw Error(path + ": the session holds " + std::to_string(n_past) + " positions, more than this session's n_ctx " +
                    std::to_string(n_ctx_) + " (raise -c)");
    std::vector<int32_t> tokens(n_past);
    std::memcpy(tokens.data(), in.bytes(n_past * sizeof(int32_t), "the tokens"), n_past * sizeof(int32_t));
    for (int32_t t : tokens)
        if (t < 0 || t >= hp.n_vocab) throw Error(path + ": token id " + std::to_string(t) + " is outside the vocabulary");
    const uint64_t n_logits = in.get<uint64_t>("the logits count");
    if (n_logits != 0 && n_logits != uint64_t(hp.n_vocab)) throw Error(path + ": bad logits count " + std::to_string(n_logits));
    std::vector<float> last(n_logits);
    std::memcpy(last.data(), in.bytes(n_logits * sizeof(float), "the logits"), n_logits * sizeof(float));
    const size_t k_bytes = kv.k_bytes(int64_t(n_past)), v_bytes = kv.v_bytes(int64_t(n_past));
    std::vector<const char*> k_src(size_t(hp.n_layer)), v_src(size_t(hp.n_layer));
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        k_src[size_t(l)] = in.bytes(k_bytes, "the K cache");
        v_src[size_t(l)] = in.bytes(v_bytes, "the V cache");
    }
    if (!in.at_end()) throw Error(path + ": unexpected bytes after the KV cache (not a session file of this version)");

    // Everything checked: now replace the state.
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        std::memcpy(kv.k_layer(l), k_src[size_t(l)], k_bytes);
        std::memcpy(kv.v_layer(l), v_src[size_t(l)], v_bytes);
    }
    st_->seq.tokens = std::move(tokens);
    n_logits_ = n_logits ? 1 : 0;
    logits_ = std::move(last);
}

}  // namespace tern
