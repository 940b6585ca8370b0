// GGUF reader. Every count, length, size and offset read from the file is
// checked against the bytes that remain before anything is allocated or read,
// so a malformed file is an error message, never a crash or a huge allocation.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "kernels/formats.h"
#include "runtime/mapped_file.h"
#include "tern/gguf.h"

namespace tern::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;        // arrays of arrays, bounded so a file cannot recurse forever

std::string hex_offset(uint64_t off) { return std::to_string(off); }

// A bounds-checked cursor over the file bytes.
class Cursor {
public:
    Cursor(const uint8_t* base, uint64_t size, const std::string& name) : base_(base), size_(size), name_(name) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    [[noreturn]] void fail(const std::string& what, uint64_t at) const {
        throw Error(name_ + ": malformed GGUF at byte offset " + hex_offset(at) + ": " + what);
    }

    template <class T>
    T read(const char* what) {
        if (remaining() < sizeof(T))
            fail(std::string("file ends while reading ") + what + " (" + std::to_string(sizeof(T)) + " bytes needed, " +
                     std::to_string(remaining()) + " left)",
                 pos_);
        T v;
        std::memcpy(&v, base_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    std::string read_string(const char* what) {
        const uint64_t at = pos_;
        const uint64_t len = read<uint64_t>(what);
        if (len > remaining())
            fail(std::string(what) + " has length " + std::to_string(len) + " but only " + std::to_string(remaining()) +
                     " bytes remain in the file",
                 at);
        std::string s(reinterpret_cast<const char*>(base_ + pos_), len);
        pos_ += len;
        return s;
    }

private:
    const uint8_t* base_;
    uint64_t size_;
    const std::string& name_;
    uint64_t pos_ = 0;
};

// Minimum bytes one array element of this type occupies in the file: used to
// reject counts that cannot fit before reserving memory for them.
uint64_t min_encoded_size(ValueType t) {
    switch (t) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
        case ValueType::STRING: return 8;   // the length prefix
        case ValueType::ARRAY: return 12;   // element type + count
    }
    return 1;
}

bool valid_type(uint32_t t) { return t <= uint32_t(ValueType::FLOAT64); }

Value read_value(Cursor& c, ValueType type, const std::string& key, int depth) {
    Value v;
    v.type = type;
    switch (type) {
        case ValueType::UINT8: v.u = c.read<uint8_t>("u8 value"); break;
        case ValueType::INT8: v.i = c.read<int8_t>("i8 value"); break;
        case ValueType::UINT16: v.u = c.read<uint16_t>("u16 value"); break;
        case ValueType::INT16: v.i = c.read<int16_t>("i16 value"); break;
        case ValueType::UINT32: v.u = c.read<uint32_t>("u32 value"); break;
        case ValueType::INT32: v.i = c.read<int32_t>("i32 value"); break;
        case ValueType::UINT64: v.u = c.read<uint64_t>("u64 value"); break;
        case ValueType::INT64: v.i = c.read<int64_t>("i64 value"); break;
        case ValueType::FLOAT32: v.f = c.read<float>("f32 value"); break;
        case ValueType::FLOAT64: v.f = c.read<double>("f64 value"); break;
        case ValueType::BOOL: {
            const uint64_t at = c.pos();
            const uint8_t b = c.read<uint8_t>("bool value");
            if (b > 1) c.fail("key '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1", at);
            v.u = b;
            break;
        }
        case ValueType::STRING: v.s = c.read_string("string value"); break;
        case ValueType::ARRAY: {
            const uint64_t at = c.pos();
            if (depth >= kMaxArrayDepth)
                c.fail("key '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayDepth), at);
            const uint32_t et = c.read<uint32_t>("array element type");
            if (!valid_type(et)) c.fail("key '" + key + "': unknown array element type " + std::to_string(et), at);
            v.elem_type = ValueType(et);
            const uint64_t count_at = c.pos();
            const uint64_t n = c.read<uint64_t>("array length");
            if (n > c.remaining() / min_encoded_size(v.elem_type))
                c.fail("key '" + key + "': array length " + std::to_string(n) + " cannot fit in the " +
                           std::to_string(c.remaining()) + " bytes that remain",
                       count_at);
            v.items.reserve(n);
            for (uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(c, v.elem_type, key, depth + 1));
            break;
        }
    }
    return v;
}

}  // namespace

File File::open(const std::string& path) {
    File f;
    f.path_ = path;
    f.mapping_ = std::make_unique<MappedFile>(MappedFile::open(path));
    f.base_ = f.mapping_->data();
    f.size_ = f.mapping_->size();
    f.parse_all();
    return f;
}

File File::parse(const uint8_t* data, size_t size, std::string name) {
    File f;
    f.path_ = std::move(name);
    f.base_ = data;
    f.size_ = size;
    f.parse_all();
    return f;
}

File::File() = default;
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

void File::parse_all() {
    Cursor c(base_, size_, path_);
    if (size_ < 4 || c.read<uint32_t>("magic") != kMagic)
        throw Error(path_ + ": not a GGUF file (the first 4 bytes are not 'GGUF')");
    const uint64_t ver_at = c.pos();
    version_ = c.read<uint32_t>("version");
    if (version_ == 1) c.fail("GGUF version 1 is not supported (only 2 and 3); re-convert the model", ver_at);
    if (version_ != 2 && version_ != 3)
        c.fail("unsupported GGUF version " + std::to_string(version_) + " (tern reads 2 and 3)", ver_at);

    const uint64_t nt_at = c.pos();
    const uint64_t n_tensors = c.read<uint64_t>("tensor count");
    const uint64_t nkv_at = c.pos();
    const uint64_t n_kv = c.read<uint64_t>("metadata count");
    // Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes; each
    // tensor info at least 8 + 4 + 8 + 4 + 8.
    if (n_kv > c.remaining() / 13)
        c.fail("metadata count " + std::to_string(n_kv) + " cannot fit in the file", nkv_at);
    if (n_tensors > c.remaining() / 32)
        c.fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file", nt_at);

    kv_.reserve(n_kv);
    for (uint64_t k = 0; k < n_kv; ++k) {
        const uint64_t at = c.pos();
        std::string key = c.read_string("metadata key");
        const uint64_t type_at = c.pos();
        const uint32_t t = c.read<uint32_t>("metadata value type");
        if (!valid_type(t)) c.fail("key '" + key + "' has unknown value type " + std::to_string(t), type_at);
        Value v = read_value(c, ValueType(t), key, 0);
        if (kv_index_.count(key)) c.fail("duplicate metadata key '" + key + "'", at);
        kv_index_.emplace(key, kv_.size());
        kv_.emplace_back(std::move(key), std::move(v));
    }

    if (const Value* a = find("general.alignment")) {
        if (!a->is_integer() || a->type == ValueType::BOOL)
            throw Error(path_ + ": key 'general.alignment' must be an integer, not " + value_type_name(a->type));
        const uint64_t al = a->u != 0 ? a->u : uint64_t(a->i);
        if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 20))
            throw Error(path_ + ": key 'general.alignment' = " + std::to_string(al) +
                        " is not a power of two between 1 and 1 MiB");
        alignment_ = al;
    }

    tensors_.reserve(n_tensors);
    for (uint64_t k = 0; k < n_tensors; ++k) {
        const uint64_t at = c.pos();
        TensorInfo t;
        t.name = c.read_string("tensor name");
        const uint64_t nd_at = c.pos();
        const uint32_t n_dims = c.read<uint32_t>("tensor n_dims");
        if (n_dims == 0 || n_dims > kMaxDims)
            c.fail("tensor '" + t.name + "' has n_dims " + std::to_string(n_dims) + " (must be 1.." +
                       std::to_string(kMaxDims) + ")",
                   nd_at);
        int64_t n_el = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t d_at = c.pos();
            const uint64_t dim = c.read<uint64_t>("tensor dimension");
            if (dim == 0 || dim > uint64_t(std::numeric_limits<int64_t>::max()))
                c.fail("tensor '" + t.name + "' has dimension " + std::to_string(d) + " = " + std::to_string(dim), d_at);
            if (__builtin_mul_overflow(n_el, int64_t(dim), &n_el))
                c.fail("tensor '" + t.name + "': element count overflows 63 bits", d_at);
            t.dims.push_back(int64_t(dim));
        }
        t.n_elements = n_el;
        t.type = c.read<uint32_t>("tensor type");
        const uint64_t off_at = c.pos();
        t.offset = c.read<uint64_t>("tensor offset");
        if (t.offset % alignment_ != 0)
            c.fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                       std::to_string(alignment_),
                   off_at);
        if (tensor_index_.count(t.name)) c.fail("duplicate tensor name '" + t.name + "'", at);
        std::string why;
        if (auto nb = tensor_bytes(t.type, t.dims, &why)) {
            t.n_bytes = *nb;
            t.known_type = true;
        } else if (type_traits(t.type)) {
            c.fail("tensor '" + t.name + "' " + t.shape_string() + " of type " + type_name(t.type) + ": " + why, at);
        }
        tensor_index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment.
    const uint64_t end_of_infos = c.pos();
    data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;
    if (n_tensors > 0 && data_offset_ > size_)
        c.fail("data section would start at " + std::to_string(data_offset_) + ", past the end of the file (" +
                   std::to_string(size_) + " bytes)",
               end_of_infos);
    const uint64_t data_size = data_offset_ <= size_ ? size_ - data_offset_ : 0;

    // Known-type tensors must lie inside the file and must not overlap.
    std::vector<std::pair<uint64_t, size_t>> spans;
    for (size_t k = 0; k < tensors_.size(); ++k) {
        TensorInfo& t = tensors_[k];
        if (!t.known_type) continue;
        if (t.offset > data_size || t.n_bytes > data_size - t.offset)
            throw Error(path_ + ": tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" +
                        std::to_string(t.n_bytes) + ") lies outside the data section (" + std::to_string(data_size) +
                        " bytes): the file is truncated or corrupt");
        t.data = base_ + data_offset_ + t.offset;
        spans.emplace_back(t.offset, k);
    }
    std::sort(spans.begin(), spans.end());
    for (size_t k = 1; k < spans.size(); ++k) {
        const TensorInfo& prev = tensors_[spans[k - 1].second];
        const TensorInfo& cur = tensors_[spans[k].second];
        if (prev.n_bytes > 0 && prev.offset + prev.n_bytes > cur.offset)
            throw Error(path_ + ": tensors '" + prev.name + "' and '" + cur.name + "' overlap in the data section");
    }
}

const Value* File::find(std::string_view key) const {
    auto it = kv_index_.find(std::string(key));
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(std::string(name));
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void File::release(const TensorInfo& t) const {
    if (mapping_ && t.data) mapping_->drop(t.data, t.n_bytes);
}

const TensorInfo& File::tensor(std::string_view name) const {
    const TensorInfo* t = find_tensor(name);
    if (!t) throw Error(path_ + ": tensor '" + std::string(name) + "' is missing; the file is incomplete or not a model tern supports");
    if (!t->known_type)
        throw Error(path_ + ": tensor '" + t->name + "' has type " + type_name(t->type) +
                    ", which tern cannot read; re-convert the model with `tern convert` or a supported --type");
    return *t;
}

}  // namespace tern::gguf
