// The weight-format table and the scalar float conversions (formats.h).
//
// Everything here is baseline C++ on purpose: no F16C or other ISA intrinsics,
// so the conversions give the same bits on every machine and can serve as the
// oracle for SIMD versions.
#include "kernels/formats.h"

#include <cstdio>

namespace tern {

namespace {

// One row per type tern can name. Sizes follow ggml's type_traits so a GGUF
// tensor's byte size can be checked for every type a file may contain, even
// the ones tern only lists (Q4_0 ... Q8_K) and never computes with.
constexpr TypeTraits kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22},
    {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},
    {GgmlType::Q8_1, "Q8_1", 32, 36},
    {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144},
    {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},
    {GgmlType::Q8_K, "Q8_K", 256, 292},
    {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},
    {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},
    {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::TQ1_0, "TQ1_0", 256, 54},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66},
    // I2_S: 128 elements in 32 bytes, but the tensor as a whole is followed by a
    // 32-byte trailer holding the f32 scale (kI2STrailerBytes). A tensor's byte
    // size is therefore n/4 + 32, not n/128 * 32: the reader must add the trailer.
    {GgmlType::I2_S, "I2_S", kI2SBlockElems, kI2SBlockBytes},
};

// Must match the block structs in formats.h.
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockTQ1_0) == 54 && sizeof(BlockTQ2_0) == 66);

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t type_id) {
    for (const auto& t : kTypes)
        if (uint32_t(t.type) == type_id) return t;
    return std::nullopt;
}

const char* type_name(uint32_t type_id) {
    if (auto t = type_traits(type_id)) return t->name;
    // Unknown ids get a stable printable name; one buffer per thread so the
    // pointer stays valid until the next call on this thread.
    thread_local char buf[24];
    std::snprintf(buf, sizeof buf, "type%u", type_id);
    return buf;
}

// fp16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float fp16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    if (exp == 0x1f)  // inf, or NaN with its payload kept in the top mantissa bits
        return float_of(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        // Zero or subnormal: mant * 2^-24, exact in f32 (11 significant bits).
        const float v = float(mant) * 0x1p-24f;
        return sign ? -v : v;
    }
    return float_of(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

// Round a right shift to nearest, ties to even. `v >> s` with s >= 1.
static uint32_t shift_rne(uint32_t v, uint32_t s) {
    if (s >= 32) return 0;
    const uint32_t q = v >> s;
    const uint32_t rem = v & ((1u << s) - 1);
    const uint32_t half = 1u << (s - 1);
    return (rem > half || (rem == half && (q & 1))) ? q + 1 : q;
}

uint16_t f32_to_fp16(float f) {
    const uint32_t x = bits_of(f);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000);
    const uint32_t ax = x & 0x7fffffff;
    if (ax >= 0x7f800000) {
        if (ax == 0x7f800000) return sign | 0x7c00;  // inf
        // NaN: keep the top 10 payload bits (so every fp16 NaN round-trips
        // exactly); if they are all zero, set one so it stays a NaN.
        uint16_t m = uint16_t((ax >> 13) & 0x3ff);
        return sign | 0x7c00 | (m ? m : 0x200);
    }
    const int e = int(ax >> 23) - 127;               // unbiased exponent
    const uint32_t m = (ax & 0x7fffff) | 0x800000;   // with the hidden bit (ignored for f32 zero/subnormal:
                                                     // those are far below fp16's range and round to 0)
    if (e > 15) return sign | 0x7c00;                // >= 65536: overflow to inf
    if (e >= -14) {
        // Normal fp16: drop 13 mantissa bits with RNE. A carry out of the
        // mantissa correctly bumps the exponent, and past 65504 gives 0x7c00 (inf).
        const uint32_t h = (uint32_t(e + 15) << 10) + shift_rne(m, 13) - 0x400;
        return uint16_t(sign | h);
    }
    // Subnormal fp16 (or zero): the value in units of 2^-24 is m * 2^(e+1).
    // Rounding up to 0x400 yields the smallest normal, which is the right encoding.
    if (ax < 0x00800000) return sign;  // f32 zero/subnormal
    return uint16_t(sign | shift_rne(m, uint32_t(-(e + 1))));
}

uint16_t f32_to_bf16(float f) {
    const uint32_t x = bits_of(f);
    if ((x & 0x7fffffff) > 0x7f800000) {
        // NaN: truncate, and make sure some mantissa bit survives (quiet bit).
        return uint16_t((x >> 16) | 0x40);
    }
    // Round to nearest even on the low 16 bits; overflow rounds to inf, as it should.
    return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

}  // namespace tern
