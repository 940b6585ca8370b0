// Metadata values, typed access with errors that name the key, and tensor sizes.
#include <limits>
#include <type_traits>

#include "kernels/formats.h"
#include "tern/gguf.h"

namespace tern::gguf {

const char* value_type_name(ValueType t) {
    switch (t) {
        case ValueType::UINT8: return "u8";
        case ValueType::INT8: return "i8";
        case ValueType::UINT16: return "u16";
        case ValueType::INT16: return "i16";
        case ValueType::UINT32: return "u32";
        case ValueType::INT32: return "i32";
        case ValueType::FLOAT32: return "f32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::UINT64: return "u64";
        case ValueType::INT64: return "i64";
        case ValueType::FLOAT64: return "f64";
    }
    return "?";
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
        case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
            return true;
        default:
            return false;
    }
}

static bool is_unsigned(ValueType t) {
    return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}

Value Value::array(ValueType elem, std::vector<Value> items) {
    Value x;
    x.type = ValueType::ARRAY;
    x.elem_type = elem;
    x.items = std::move(items);
    return x;
}

Value Value::strings(const std::vector<std::string>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (const auto& s : v) items.push_back(str(s));
    return array(ValueType::STRING, std::move(items));
}

Value Value::f32s(const std::vector<float>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (float f : v) items.push_back(f32(f));
    return array(ValueType::FLOAT32, std::move(items));
}

Value Value::i32s(const std::vector<int32_t>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (int32_t i : v) items.push_back(i32(i));
    return array(ValueType::INT32, std::move(items));
}

namespace {

[[noreturn]] void mistyped(const std::string& file, std::string_view key, const Value& v, const char* wanted) {
    std::string got = value_type_name(v.type);
    if (v.type == ValueType::ARRAY) got += std::string(" of ") + value_type_name(v.elem_type);
    throw Error(file + ": key '" + std::string(key) + "' is " + got + ", expected " + wanted);
}

template <class T>
T convert_scalar(const std::string& file, std::string_view key, const Value& v, const char* wanted) {
    if constexpr (std::is_same_v<T, bool>) {
        if (v.type != ValueType::BOOL) mistyped(file, key, v, wanted);
        return v.u != 0;
    } else if constexpr (std::is_integral_v<T>) {
        if (!v.is_integer()) mistyped(file, key, v, wanted);
        if (is_unsigned(v.type)) {
            if (v.u > uint64_t(std::numeric_limits<T>::max()))
                throw Error(file + ": key '" + std::string(key) + "' = " + std::to_string(v.u) + " does not fit in " + wanted);
            return T(v.u);
        }
        if (v.i < 0 && std::is_unsigned_v<T>)
            throw Error(file + ": key '" + std::string(key) + "' = " + std::to_string(v.i) + " is negative, expected " + wanted);
        if (v.i > 0 && uint64_t(v.i) > uint64_t(std::numeric_limits<T>::max()))
            throw Error(file + ": key '" + std::string(key) + "' = " + std::to_string(v.i) + " does not fit in " + wanted);
        if constexpr (std::is_signed_v<T>) {
            if (v.i < int64_t(std::numeric_limits<T>::min()))
                throw Error(file + ": key '" + std::string(key) + "' = " + std::to_string(v.i) + " does not fit in " + wanted);
        }
        return T(v.i);
    } else if constexpr (std::is_floating_point_v<T>) {
        if (!v.is_float()) mistyped(file, key, v, wanted);
        return T(v.f);
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (v.type != ValueType::STRING) mistyped(file, key, v, wanted);
        return v.s;
    }
}

template <class T>
const char* wanted_name() {
    if constexpr (std::is_same_v<T, bool>) return "bool";
    else if constexpr (std::is_same_v<T, std::string>) return "string";
    else if constexpr (std::is_floating_point_v<T>) return "a float";
    else if constexpr (std::is_unsigned_v<T>) return sizeof(T) == 8 ? "u64" : sizeof(T) == 4 ? "u32" : sizeof(T) == 2 ? "u16" : "u8";
    else return sizeof(T) == 8 ? "i64" : sizeof(T) == 4 ? "i32" : sizeof(T) == 2 ? "i16" : "i8";
}

template <class T>
struct is_vector : std::false_type {};
template <class E>
struct is_vector<std::vector<E>> : std::true_type {
    using elem = E;
};

}  // namespace

template <class T>
T File::get(std::string_view key) const {
    const Value* v = find(key);
    if (!v) throw Error(path_ + ": required key '" + std::string(key) + "' is missing");
    if constexpr (is_vector<T>::value) {
        using E = typename is_vector<T>::elem;
        if (v->type != ValueType::ARRAY) mistyped(path_, key, *v, "an array");
        T out;
        out.reserve(v->items.size());
        for (const Value& item : v->items) out.push_back(convert_scalar<E>(path_, key, item, wanted_name<E>()));
        return out;
    } else {
        return convert_scalar<T>(path_, key, *v, wanted_name<T>());
    }
}

template bool File::get<bool>(std::string_view) const;
template uint8_t File::get<uint8_t>(std::string_view) const;
template uint16_t File::get<uint16_t>(std::string_view) const;
template uint32_t File::get<uint32_t>(std::string_view) const;
template uint64_t File::get<uint64_t>(std::string_view) const;
template int8_t File::get<int8_t>(std::string_view) const;
template int16_t File::get<int16_t>(std::string_view) const;
template int32_t File::get<int32_t>(std::string_view) const;
template int64_t File::get<int64_t>(std::string_view) const;
template float File::get<float>(std::string_view) const;
template double File::get<double>(std::string_view) const;
template std::string File::get<std::string>(std::string_view) const;
template std::vector<std::string> File::get<std::vector<std::string>>(std::string_view) const;
template std::vector<float> File::get<std::vector<float>>(std::string_view) const;
template std::vector<int32_t> File::get<std::vector<int32_t>>(std::string_view) const;
template std::vector<uint32_t> File::get<std::vector<uint32_t>>(std::string_view) const;

std::string TensorInfo::shape_string() const {
    std::string s = "[";
    for (size_t k = 0; k < dims.size(); ++k) s += (k ? ", " : "") + std::to_string(dims[k]);
    return s + "]";
}

std::optional<uint64_t> tensor_bytes(uint32_t type, const std::vector<int64_t>& dims, std::string* why) {
    auto t = type_traits(type);
    if (!t) {
        if (why) *why = std::string("unknown type ") + type_name(type);
        return std::nullopt;
    }
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d <= 0 || __builtin_mul_overflow(n, d, &n)) {
            if (why) *why = "element count is not positive or overflows";
            return std::nullopt;
        }
    }
    if (t->type == GgmlType::I2_S) {
        // bitnet.cpp: 2 bits per element over the flat index, then the f32 scale
        // padded to 32 bytes.
        if (n % kI2SBlockElems != 0) {
            if (why) *why = "I2_S needs an element count that is a multiple of 128";
            return std::nullopt;
        }
        return uint64_t(n / 4 + kI2STrailerBytes);
    }
    if (dims.empty() || dims[0] % t->block_elems != 0) {
        if (why) *why = "the row length is not a multiple of the block size " + std::to_string(t->block_elems);
        return std::nullopt;
    }
    int64_t bytes = 0;
    if (__builtin_mul_overflow(n / t->block_elems, t->block_bytes, &bytes)) {
        if (why) *why = "byte size overflows 63 bits";
        return std::nullopt;
    }
    return uint64_t(bytes);
}

}  // namespace tern::gguf
