// The format table (ternary_formats.h): for each weight type tern reads or
// writes, its roles and its codecs. The codecs themselves live with their
// format (ternary_formats.cpp for I2_S / TQ1_0 / TQ2_0 / Q8_0 / Q6_K); the float ones
// are here.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "tern/error.h"
#include "kernels/ternary_formats.h"

namespace tern::kernels {

namespace {

template <GgmlType T>
float element(const uint8_t* p, int64_t i) {
    if constexpr (T == GgmlType::F32) {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        return f;
    } else {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        return T == GgmlType::F16 ? fp16_to_f32(h) : bf16_to_f32(h);
    }
}

// A linear stored as floats holds either beta * {-1, 0, +1} (a converted
// ternary model) or latent weights to ternarize (SPEC §3).
template <GgmlType T>
void decode_float_linear(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& out) {
    const uint64_t need = uint64_t(rows * cols) * (T == GgmlType::F32 ? 4 : 2);
    if (n_bytes < need)
        throw Error("holds " + std::to_string(n_bytes) + " bytes, its shape needs " + std::to_string(need));
    std::vector<float> w(size_t(rows * cols));
    for (int64_t i = 0; i < rows * cols; ++i) w[size_t(i)] = element<T>(data, i);
    out = looks_ternary(w.data(), rows * cols) ? from_ternary_floats(w.data(), rows, cols)
                                               : ternarize_absmean(w.data(), rows, cols);
}

// beta * W~ as fp16: what llama.cpp's bitnet converter stores, and what tern
// (and the reference) read back as ternary floats.
std::vector<uint8_t> encode_f16_linear(const TernaryMatrix& m) {
    const uint16_t pos = f32_to_fp16(m.scale), neg = uint16_t(pos ^ 0x8000), zero = 0;
    std::vector<uint8_t> bytes(size_t(m.rows * m.cols) * 2);
    for (int64_t r = 0; r < m.rows; ++r)
        for (int64_t c = 0; c < m.cols; ++c) {
            const int v = m.get(r, c);
            std::memcpy(&bytes[size_t(r * m.cols + c) * 2], v > 0 ? &pos : v < 0 ? &neg : &zero, 2);
        }
    return bytes;
}

void encode_row_f32(const float* x, uint8_t* out, int64_t n) { std::memcpy(out, x, size_t(n) * 4); }

void encode_row_f16(const float* x, uint8_t* out, int64_t n) {
    for (int64_t c = 0; c < n; ++c) {
        const uint16_t h = f32_to_fp16(x[c]);
        std::memcpy(out + 2 * c, &h, 2);
    }
}

// A row through a block quantizer: whole blocks of B, elems per block.
template <class B, int64_t kElems, void (*quantize)(const float*, B*, int64_t)>
void encode_row_blocks(const float* x, uint8_t* out, int64_t n) {
    std::vector<B> blocks(size_t(n / kElems));
    quantize(x, blocks.data(), n);
    std::memcpy(out, blocks.data(), blocks.size() * sizeof(B));
}
constexpr auto encode_row_q8_0 = encode_row_blocks<BlockQ8_0, 32, quantize_row_q8_0>;
constexpr auto encode_row_q4_k = encode_row_blocks<BlockQ4_K, 256, quantize_row_q4_k>;
constexpr auto encode_row_q5_k = encode_row_blocks<BlockQ5_K, 256, quantize_row_q5_k>;
constexpr auto encode_row_q6_k = encode_row_blocks<BlockQ6_K, 256, quantize_row_q6_k>;

constexpr FormatCodec kCodecs[] = {
    // type            embedding decode_linear                            encode_linear      encode_row       file_type
    {GgmlType::I2_S,  false, decode_i2s_into,                         encode_i2s,        nullptr,         40},
    {GgmlType::TQ1_0, false, decode_tq1_0_into,                       encode_tq1_0,      nullptr,         36},
    {GgmlType::TQ2_0, false, decode_tq2_0_into,                       encode_tq2_0,      nullptr,         37},
    {GgmlType::F32,   true,  decode_float_linear<GgmlType::F32>,  nullptr,           encode_row_f32,  0},
    {GgmlType::F16,   true,  decode_float_linear<GgmlType::F16>,  encode_f16_linear, encode_row_f16,  1},
    {GgmlType::BF16,  true,  decode_float_linear<GgmlType::BF16>, nullptr,           nullptr,         0},
    {GgmlType::Q8_0,  true,  nullptr,                                 nullptr,           encode_row_q8_0, 0},
    {GgmlType::Q4_K,  true,  nullptr,                                 nullptr,           encode_row_q4_k, 0},
    {GgmlType::Q5_K,  true,  nullptr,                                 nullptr,           encode_row_q5_k, 0},
    {GgmlType::Q6_K,  true,  nullptr,                                 nullptr,           encode_row_q6_k, 0},
};

}  // namespace

const FormatCodec* format_codec(uint32_t type) {
    for (const auto& c : kCodecs)
        if (uint32_t(c.type) == type) return &c;
    return nullptr;
}

std::string format_names(bool (*pick)(const FormatCodec&)) {
    std::vector<const char*> names;
    for (const auto& c : kCodecs)
        if (pick(c)) names.push_back(type_name(uint32_t(c.type)));
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + std::string(names[i]);
    return s;
}

GgmlType writable_embedding_type(const std::string& name, const std::string& what) {
    auto writable = [](const FormatCodec& c) { return c.embedding && c.encode_row != nullptr; };
    for (const auto& c : kCodecs) {
        const std::string n = type_name(uint32_t(c.type));
        if (writable(c) && n.size() == name.size() &&
            std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
            return c.type;
    }
    std::string choices = format_names(writable);
    for (char& ch : choices) ch = char(std::tolower(ch));
    throw Error(what + " '" + name + "' is not a type tern writes; use " + choices);
}

}  // namespace tern::kernels
