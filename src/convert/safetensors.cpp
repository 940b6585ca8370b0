// safetensors reader and Hugging Face checkpoint folders (see safetensors.h).
#include "convert/safetensors.h"


#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/formats.h"
#include "runtime/mapped_file.h"
#include "runtime/json_file.h"

namespace tern::convert {

namespace {

using nlohmann::json;

// The safetensors format caps its header at 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

struct DtypeName {
    StDtype t;
    const char* name;
    int size;
};
constexpr DtypeName kDtypes[] = {
    {StDtype::F64, "F64", 8}, {StDtype::F32, "F32", 4}, {StDtype::F16, "F16", 2},  {StDtype::BF16, "BF16", 2},
    {StDtype::I64, "I64", 8}, {StDtype::I32, "I32", 4}, {StDtype::I16, "I16", 2},  {StDtype::I8, "I8", 1},
    {StDtype::U64, "U64", 8}, {StDtype::U32, "U32", 4}, {StDtype::U16, "U16", 2},  {StDtype::U8, "U8", 1},
    {StDtype::BOOL, "BOOL", 1},
};

StDtype dtype_from_name(const std::string& s) {
    for (const auto& d : kDtypes)
        if (s == d.name) return d.t;
    return StDtype::Other;
}

inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

}  // namespace

const char* st_dtype_name(StDtype t) {
    for (const auto& d : kDtypes)
        if (d.t == t) return d.name;
    return "other";
}

int st_dtype_size(StDtype t) {
    for (const auto& d : kDtypes)
        if (d.t == t) return d.size;
    return 0;
}

std::string StTensor::shape_string() const {
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + "]";
}

float StTensor::get_f32(int64_t i) const {
    switch (dtype) {
        case StDtype::F32: {
            float v;
            std::memcpy(&v, data + 4 * i, 4);
            return v;
        }
        case StDtype::F16: return fp16_to_f32(load_u16(data + 2 * i));
        case StDtype::BF16: return bf16_to_f32(load_u16(data + 2 * i));
        case StDtype::F64: {
            double v;
            std::memcpy(&v, data + 8 * i, 8);
            return float(v);
        }
        default: break;
    }
    throw Error(fmt::format("{}: tensor '{}' has dtype {}, expected a float type (F32, F16, BF16)",
                            file ? file->path() : std::string("<safetensors>"), name, dtype_name));
}

void StTensor::to_f32(int64_t begin, int64_t n, float* dst) const {
    if (!is_float())
        throw Error(fmt::format("{}: tensor '{}' has dtype {}, expected a float type (F32, F16, BF16)",
                                file ? file->path() : std::string("<safetensors>"), name, dtype_name));
    if (begin < 0 || n < 0 || begin + n > n_elements)
        throw Error(fmt::format("tensor '{}': elements [{}, {}) out of range ({} elements)", name, begin, begin + n, n_elements));
    switch (dtype) {
        case StDtype::F32: std::memcpy(dst, data + 4 * begin, size_t(n) * 4); break;
        case StDtype::F16:
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(load_u16(data + 2 * (begin + i)));
            break;
        case StDtype::BF16:
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(data + 2 * (begin + i)));
            break;
        default:
            for (int64_t i = 0; i < n; ++i) dst[i] = get_f32(begin + i);
            break;
    }
}

// ---------------------------------------------------------------- SafetensorsFile

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = path;
    // We read each tensor once, front to back.
    f->mapping_ = MappedFile::open(path, MappedFile::Access::sequential);
    f->base_ = f->mapping_.data();
    f->size_ = f->mapping_.size();
    f->parse_header();
    return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size, std::string name) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = std::move(name);
    f->base_ = data;
    f->size_ = size;
    f->parse_header();
    return f;
}

SafetensorsFile::~SafetensorsFile() = default;

const StTensor* SafetensorsFile::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::release(const uint8_t* p, uint64_t n) const {
    mapping_.drop(p, n);
}

void SafetensorsFile::parse_header() {
    const std::string& p = path_;
    if (size_ < 8) throw Error(fmt::format("{}: {} bytes is too short for a safetensors file (8-byte header length missing)", p, size_));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | base_[i];
    if (n > kMaxHeaderBytes)
        throw Error(fmt::format("{}: header length {} exceeds the 100 MB safetensors limit: not a safetensors file, or corrupt", p, n));
    if (n > size_ - 8)
        throw Error(fmt::format("{}: header length {} runs past the end of the file ({} bytes): the file is truncated", p, n, size_));
    const uint8_t* hb = base_ + 8;
    const uint64_t data_begin = 8 + n;
    const uint64_t data_size = size_ - data_begin;

    json h;
    try {
        h = json::parse(hb, hb + n);
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}: the header is not valid JSON: {}", p, e.what()));
    }
    if (!h.is_object()) throw Error(p + ": the header is not a JSON object");

    for (auto item = h.begin(); item != h.end(); ++item) {
        const std::string& name = item.key();
        const json& entry = item.value();
        if (name == "__metadata__") continue;
        const auto bad = [&](const std::string& why) {
            return Error(fmt::format("{}: tensor '{}': {}", p, name, why));
        };
        if (!entry.is_object()) throw bad("header entry is not an object");
        StTensor t;
        t.name = name;
        t.file = this;
        const auto dt = entry.find("dtype");
        if (dt == entry.end() || !dt->is_string()) throw bad("no \"dtype\" string");
        t.dtype_name = dt->get<std::string>();
        t.dtype = dtype_from_name(t.dtype_name);

        const auto sh = entry.find("shape");
        if (sh == entry.end() || !sh->is_array()) throw bad("no \"shape\" array");
        if (sh->size() > 8) throw bad(fmt::format("{} dimensions is implausible", sh->size()));
        int64_t count = 1;
        for (const auto& d : *sh) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0) throw bad("shape " + sh->dump() + " holds a negative or non-integer dimension");
            const int64_t v = d.get<int64_t>();
            if (__builtin_mul_overflow(count, v, &count) || count > (int64_t(1) << 48))
                throw bad("shape " + sh->dump() + " is too large");
            t.shape.push_back(v);
        }
        t.n_elements = count;

        const auto off = entry.find("data_offsets");
        if (off == entry.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
            !(*off)[1].is_number_unsigned())
            throw bad("\"data_offsets\" is not a pair of non-negative integers");
        const uint64_t a = (*off)[0].get<uint64_t>(), b = (*off)[1].get<uint64_t>();
        if (a > b) throw bad(fmt::format("data_offsets [{}, {}] end before they begin", a, b));
        if (b > data_size)
            throw bad(fmt::format("data [{}, {}) lies past the end of the data section ({} bytes): the file is truncated", a, b,
                                  data_size));
        t.n_bytes = b - a;
        if (const int es = st_dtype_size(t.dtype); es > 0) {
            const uint64_t need = uint64_t(t.n_elements) * uint64_t(es);
            if (need != t.n_bytes)
                throw bad(fmt::format("shape {} of {} needs {} bytes but data_offsets span {}", t.shape_string(), t.dtype_name,
                                      need, t.n_bytes));
        }
        t.data = base_ + data_begin + a;
        index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }
}

// ---------------------------------------------------------------- Checkpoint

namespace {

}  // namespace

Checkpoint Checkpoint::open(const std::string& dir) {
    namespace fs = std::filesystem;
    Checkpoint ck;
    ck.dir_ = dir;
    const fs::path d(dir);
    const fs::path index = d / "model.safetensors.index.json";
    const fs::path single = d / "model.safetensors";

    std::vector<std::string> shard_names;
    std::map<std::string, std::string> expected;  // tensor -> shard, from the index
    if (fs::exists(index)) {
        const json j = read_json_file(index.string());
        if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
            throw Error(index.string() + ": no \"weight_map\" object");
        std::set<std::string> seen;
        for (const auto& [name, file] : j["weight_map"].items()) {
            if (!file.is_string()) throw Error(fmt::format("{}: weight_map['{}'] is not a file name", index.string(), name));
            const std::string fn = file.get<std::string>();
            // Shards live in the folder itself.
            if (fn.empty() || fn.find('/') != std::string::npos || fn.find('\\') != std::string::npos || fn == "." || fn == "..")
                throw Error(fmt::format("{}: weight_map['{}'] = '{}' is not a file name in the checkpoint folder", index.string(),
                                        name, fn));
            expected[name] = fn;
            if (seen.insert(fn).second) shard_names.push_back(fn);
        }
        if (shard_names.empty()) throw Error(index.string() + ": weight_map is empty");
    } else if (fs::exists(single)) {
        shard_names.push_back("model.safetensors");
    } else {
        throw Error(dir + ": no model.safetensors or model.safetensors.index.json (tern convert reads safetensors checkpoints; "
                          "PyTorch .bin files are not supported)");
    }

    for (const auto& fn : shard_names) {
        ck.files_.push_back(SafetensorsFile::open((d / fn).string()));
        for (const StTensor& t : ck.files_.back()->tensors()) {
            auto [it, fresh] = ck.by_name_.emplace(t.name, &t);
            if (!fresh)
                throw Error(fmt::format("{}: tensor '{}' appears in both {} and {}", dir, t.name, it->second->file->path(),
                                        t.file->path()));
        }
    }
    for (const auto& [name, fn] : expected) {
        auto it = ck.by_name_.find(name);
        if (it == ck.by_name_.end())
            throw Error(fmt::format("{}: the index puts tensor '{}' in {}, but no shard holds it", dir, name, fn));
        if (fs::path(it->second->file->path()).filename() != fn)
            throw Error(fmt::format("{}: the index puts tensor '{}' in {}, but it is in {}", dir, name, fn,
                                    it->second->file->path()));
    }
    return ck;
}

const StTensor* Checkpoint::find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

const StTensor& Checkpoint::get(std::string_view name) const {
    if (const StTensor* t = find(name)) return *t;
    throw Error(fmt::format("{}: tensor '{}' is missing from the checkpoint", dir_, name));
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    for (const auto& [name, t] : by_name_) out.push_back(name);
    return out;
}

uint64_t Checkpoint::total_bytes() const {
    uint64_t n = 0;
    for (const auto& [name, t] : by_name_) n += t->n_bytes;
    return n;
}

}  // namespace tern::convert
