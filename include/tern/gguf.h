// GGUF v2/v3: a memory-mapped reader that checks every count, length, size and
// offset before use, and a writer that produces a complete file or none.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tern/error.h"

namespace tern {
class MappedFile;  // the library's own (src/runtime/mapped_file.h)
}

namespace tern::gguf {

enum class ValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
    BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);

// One metadata value. Scalars of every width are kept in the widest field of
// their kind, with `type` telling what the file said.
struct Value {
    ValueType type = ValueType::UINT8;
    uint64_t u = 0;     // UINT8..UINT64, BOOL
    int64_t i = 0;      // INT8..INT64
    double f = 0.0;     // FLOAT32, FLOAT64
    std::string s;      // STRING
    ValueType elem_type = ValueType::UINT8;  // ARRAY: type of the items
    std::vector<Value> items;                // ARRAY

    static Value u8(uint8_t v) { return scalar_u(ValueType::UINT8, v); }
    static Value u16(uint16_t v) { return scalar_u(ValueType::UINT16, v); }
    static Value u32(uint32_t v) { return scalar_u(ValueType::UINT32, v); }
    static Value u64(uint64_t v) { return scalar_u(ValueType::UINT64, v); }
    static Value i8(int8_t v) { return scalar_i(ValueType::INT8, v); }
    static Value i16(int16_t v) { return scalar_i(ValueType::INT16, v); }
    static Value i32(int32_t v) { return scalar_i(ValueType::INT32, v); }
    static Value i64(int64_t v) { return scalar_i(ValueType::INT64, v); }
    static Value f32(float v) { Value x; x.type = ValueType::FLOAT32; x.f = v; return x; }
    static Value f64(double v) { Value x; x.type = ValueType::FLOAT64; x.f = v; return x; }
    static Value boolean(bool v) { return scalar_u(ValueType::BOOL, v ? 1 : 0); }
    static Value str(std::string v) { Value x; x.type = ValueType::STRING; x.s = std::move(v); return x; }
    static Value array(ValueType elem, std::vector<Value> items);
    static Value strings(const std::vector<std::string>& v);
    static Value f32s(const std::vector<float>& v);
    static Value i32s(const std::vector<int32_t>& v);

    bool is_integer() const;
    bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }

private:
    static Value scalar_u(ValueType t, uint64_t v) { Value x; x.type = t; x.u = v; return x; }
    static Value scalar_i(ValueType t, int64_t v) { Value x; x.type = t; x.i = v; return x; }
};

struct TensorInfo {
    std::string name;
    std::vector<int64_t> dims;  // innermost first, as GGUF stores them
    uint32_t type = 0;          // GGML type id (formats.h GgmlType)
    uint64_t offset = 0;        // from the start of the data section
    int64_t n_elements = 0;
    uint64_t n_bytes = 0;       // 0 when the type is unknown
    bool known_type = false;
    const uint8_t* data = nullptr;  // into the mapping; null when the type is unknown

    std::string shape_string() const;  // "[2560, 6912]"
};

class File {
public:
    // Map and parse a file. Throws tern::Error naming the file and what is wrong.
    static File open(const std::string& path);
    // Parse bytes someone else owns (tests, fuzzing). `name` is used in errors.
    static File parse(const uint8_t* data, size_t size, std::string name = "<memory>");

    File();  // empty: no metadata, no tensors
    File(File&&) noexcept;
    File& operator=(File&&) noexcept;
    ~File();

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t file_size() const { return size_; }
    uint64_t data_offset() const { return data_offset_; }
    const uint8_t* data() const { return base_; }  // the whole file's bytes

    // Metadata in file order.
    const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
    const Value* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed access: T is an integer type, float, double, bool, std::string,
    // std::vector<std::string>, std::vector<float>, std::vector<int32_t>.
    // Integers convert between widths when the value fits; a missing key or
    // a value of the wrong type throws tern::Error naming the key.
    template <class T>
    T get(std::string_view key) const;
    template <class T>
    std::optional<T> get_optional(std::string_view key) const {
        if (!has(key)) return std::nullopt;
        return get<T>(key);
    }

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;
    // Throws when absent or of a type tern does not know ("what to do" included).
    const TensorInfo& tensor(std::string_view name) const;

    // Lets the OS drop a tensor's pages from this process once it has been
    // repacked or copied (it stays readable: pages are re-read on access).
    // No-op for borrowed bytes.
    void release(const TensorInfo& t) const;

private:
    void parse_all();

    std::string path_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    std::unique_ptr<MappedFile> mapping_;  // null when parsing borrowed bytes
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, Value>> kv_;
    std::unordered_map<std::string, size_t> kv_index_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string, size_t> tensor_index_;
};

// Writes GGUF v3. Metadata and tensor infos are collected first; tensor bytes
// are produced one tensor at a time during write() (so a converter holds one
// tensor in memory), into `path`.tmp, renamed to `path` only on success.
class Writer {
public:
    void set(std::string key, Value v);  // replaces an existing key, keeps first position
    void set_alignment(uint32_t a);     // also writes general.alignment

    // `produce` must fill exactly `n_bytes` bytes (type and dims give the size).
    using Producer = std::function<void(uint8_t* dst, size_t n_bytes)>;
    void add_tensor(std::string name, std::vector<int64_t> dims, uint32_t type, Producer produce);
    void add_tensor(std::string name, std::vector<int64_t> dims, uint32_t type, std::vector<uint8_t> bytes);

    // Called after each tensor is written (progress bars): index, count, bytes so far.
    std::function<void(size_t, size_t, uint64_t)> on_progress;

    void write(const std::string& path) const;

private:
    struct PendingTensor {
        std::string name;
        std::vector<int64_t> dims;
        uint32_t type;
        uint64_t n_bytes;
        Producer produce;
    };
    uint32_t alignment_ = 32;
    std::vector<std::pair<std::string, Value>> kv_;
    std::vector<PendingTensor> tensors_;
};

// Byte size of a tensor of `type` with `dims`, checked for overflow; nullopt
// when the type is unknown, the innermost dim is not a multiple of the block
// size, or the size does not fit in 63 bits.
std::optional<uint64_t> tensor_bytes(uint32_t type, const std::vector<int64_t>& dims, std::string* why = nullptr);

}  // namespace tern::gguf
