// GGUF v3 writer: header, metadata and tensor infos, then each tensor's bytes
// produced on demand, into PATH.tmp renamed to PATH on success, so a failure
// at any point leaves no partial output behind.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "kernels/formats.h"
#include "tern/gguf.h"

namespace tern::gguf {

namespace {

class Out {
public:
    Out(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
        if (!f_) throw Error(path + ": cannot create: " + std::strerror(errno));
    }
    ~Out() {
        if (f_) std::fclose(f_);
    }
    void bytes(const void* p, size_t n) {
        if (n && std::fwrite(p, 1, n, f_) != n) throw Error(path_ + ": write failed: " + std::strerror(errno));
        pos_ += n;
    }
    template <class T>
    void pod(T v) {
        bytes(&v, sizeof v);
    }
    void str(const std::string& s) {
        pod<uint64_t>(s.size());
        bytes(s.data(), s.size());
    }
    void pad_to(uint64_t align) {
        static const uint8_t zeros[64] = {};
        while (pos_ % align) bytes(zeros, std::min<uint64_t>(align - pos_ % align, sizeof zeros));
    }
    void close() {
        if (std::fflush(f_) != 0 || std::fclose(f_) != 0) {
            f_ = nullptr;
            throw Error(path_ + ": write failed: " + std::strerror(errno));
        }
        f_ = nullptr;
    }
    uint64_t pos() const { return pos_; }

private:
    std::string path_;
    std::FILE* f_;
    uint64_t pos_ = 0;
};

void write_value(Out& o, const Value& v) {
    switch (v.type) {
        case ValueType::UINT8: o.pod<uint8_t>(uint8_t(v.u)); break;
        case ValueType::INT8: o.pod<int8_t>(int8_t(v.i)); break;
        case ValueType::UINT16: o.pod<uint16_t>(uint16_t(v.u)); break;
        case ValueType::INT16: o.pod<int16_t>(int16_t(v.i)); break;
        case ValueType::UINT32: o.pod<uint32_t>(uint32_t(v.u)); break;
        case ValueType::INT32: o.pod<int32_t>(int32_t(v.i)); break;
        case ValueType::UINT64: o.pod<uint64_t>(v.u); break;
        case ValueType::INT64: o.pod<int64_t>(v.i); break;
        case ValueType::FLOAT32: o.pod<float>(float(v.f)); break;
        case ValueType::FLOAT64: o.pod<double>(v.f); break;
        case ValueType::BOOL: o.pod<uint8_t>(v.u ? 1 : 0); break;
        case ValueType::STRING: o.str(v.s); break;
        case ValueType::ARRAY:
            o.pod<uint32_t>(uint32_t(v.elem_type));
            o.pod<uint64_t>(v.items.size());
            for (const Value& item : v.items) {
                if (item.type != v.elem_type)
                    throw Error(std::string("GGUF writer: array item of type ") + value_type_name(item.type) +
                                " in an array of " + value_type_name(v.elem_type));
                write_value(o, item);
            }
            break;
    }
}

}  // namespace

void Writer::set(std::string key, Value v) {
    for (auto& [k, val] : kv_)
        if (k == key) {
            val = std::move(v);
            return;
        }
    kv_.emplace_back(std::move(key), std::move(v));
}

void Writer::set_alignment(uint32_t a) {
    if (a == 0 || (a & (a - 1)) != 0) throw Error("GGUF writer: alignment " + std::to_string(a) + " is not a power of two");
    alignment_ = a;
    set("general.alignment", Value::u32(a));
}

void Writer::add_tensor(std::string name, std::vector<int64_t> dims, uint32_t type, Producer produce) {
    std::string why;
    auto nb = tensor_bytes(type, dims, &why);
    if (!nb) throw Error("GGUF writer: tensor '" + name + "' of type " + type_name(type) + ": " + why);
    for (const auto& t : tensors_)
        if (t.name == name) throw Error("GGUF writer: duplicate tensor '" + name + "'");
    tensors_.push_back({std::move(name), std::move(dims), type, *nb, std::move(produce)});
}

void Writer::add_tensor(std::string name, std::vector<int64_t> dims, uint32_t type, std::vector<uint8_t> bytes) {
    auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    const std::string n = name;
    add_tensor(std::move(name), std::move(dims), type, [shared, n](uint8_t* dst, size_t size) {
        if (shared->size() != size)
            throw Error("GGUF writer: tensor '" + n + "' has " + std::to_string(shared->size()) + " bytes, its type and shape need " +
                        std::to_string(size));
        std::memcpy(dst, shared->data(), size);
    });
}

void Writer::write(const std::string& path) const {
    const std::string tmp = path + ".tmp";
    try {
        Out o(tmp);
        o.pod<uint32_t>(0x46554747);
        o.pod<uint32_t>(3);
        o.pod<uint64_t>(tensors_.size());
        o.pod<uint64_t>(kv_.size());
        for (const auto& [k, v] : kv_) {
            o.str(k);
            o.pod<uint32_t>(uint32_t(v.type));
            write_value(o, v);
        }
        uint64_t offset = 0;
        for (const auto& t : tensors_) {
            o.str(t.name);
            o.pod<uint32_t>(uint32_t(t.dims.size()));
            for (int64_t d : t.dims) o.pod<uint64_t>(uint64_t(d));
            o.pod<uint32_t>(t.type);
            o.pod<uint64_t>(offset);
            offset = (offset + t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
        }
        o.pad_to(alignment_);
        std::vector<uint8_t> buf;
        uint64_t done = 0;
        for (size_t k = 0; k < tensors_.size(); ++k) {
            const auto& t = tensors_[k];
            buf.assign(t.n_bytes, 0);
            t.produce(buf.data(), buf.size());
            o.bytes(buf.data(), buf.size());
            o.pad_to(alignment_);
            done += t.n_bytes;
            if (on_progress) on_progress(k + 1, tensors_.size(), done);
        }
        o.close();
        std::filesystem::rename(tmp, path);
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw;
    }
}

}  // namespace tern::gguf
