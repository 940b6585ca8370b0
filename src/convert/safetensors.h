// Hugging Face safetensors, read through a memory map.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {...}}), then the tensor bytes; offsets are relative to the
// end of the header. Every length, shape and offset is checked before use: a
// malformed or truncated file is a tern::Error naming the file and tensor,
// never an out-of-bounds read.
//
// A Checkpoint is a Hugging Face model folder's weights: `model.safetensors`,
// or the shards listed by `model.safetensors.index.json`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/mapped_file.h"
#include "tern/error.h"

namespace tern::convert {

enum class StDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, Other };

const char* st_dtype_name(StDtype t);
int st_dtype_size(StDtype t);  // bytes per element; 0 for Other

class SafetensorsFile;

struct StTensor {
    std::string name;
    StDtype dtype = StDtype::Other;
    std::string dtype_name;      // as the header spells it ("BF16", "F8_E4M3", ...)
    std::vector<int64_t> shape;  // outermost first, as safetensors (and torch) write it
    int64_t n_elements = 0;
    const uint8_t* data = nullptr;  // into the mapping
    uint64_t n_bytes = 0;
    const SafetensorsFile* file = nullptr;

    std::string shape_string() const;  // "[2560, 6912]"
    bool is_float() const { return dtype == StDtype::F32 || dtype == StDtype::F16 || dtype == StDtype::BF16 || dtype == StDtype::F64; }
    // Element i as float (float dtypes only; the caller checks i < n_elements).
    float get_f32(int64_t i) const;
    // Elements [begin, begin + n) as floats into dst (float dtypes only; throws otherwise).
    void to_f32(int64_t begin, int64_t n, float* dst) const;
};

class SafetensorsFile {
public:
    // Maps and parses a file. Throws tern::Error naming the file and what is wrong.
    static std::unique_ptr<SafetensorsFile> open(const std::string& path);
    // Parses bytes someone else owns (tests). `name` is used in errors.
    static std::unique_ptr<SafetensorsFile> parse(const uint8_t* data, size_t size, std::string name = "<memory>");

    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    uint64_t file_size() const { return size_; }
    const std::vector<StTensor>& tensors() const { return tensors_; }
    const StTensor* find(std::string_view name) const;

    // Tells the kernel we are done with [p, p + n) of this file's mapping, so
    // its pages leave our resident set (they stay in the page cache and are
    // read again if touched). No-op for borrowed bytes.
    void release(const uint8_t* p, uint64_t n) const;

private:
    SafetensorsFile() = default;
    void parse_header();

    std::string path_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    MappedFile mapping_;  // empty when parsing borrowed bytes
    std::vector<StTensor> tensors_;
    std::map<std::string, size_t, std::less<>> index_;
};

class Checkpoint {
public:
    // Opens `dir`/model.safetensors.index.json and its shards, or
    // `dir`/model.safetensors. Throws tern::Error when neither is there or a
    // file is malformed.
    static Checkpoint open(const std::string& dir);

    const std::string& dir() const { return dir_; }
    const StTensor* find(std::string_view name) const;
    const StTensor& get(std::string_view name) const;  // throws naming the tensor
    // Every tensor name, sorted.
    std::vector<std::string> names() const;
    uint64_t total_bytes() const;
    size_t n_files() const { return files_.size(); }

private:
    std::string dir_;
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, const StTensor*, std::less<>> by_name_;
};

}  // namespace tern::convert
