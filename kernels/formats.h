// Weight formats: GGML type ids, on-disk block structs, and the one in-memory
// ternary representation every loader produces and every kernel table repacks from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace tern {

// GGML tensor type ids as stored in GGUF tensor infos (SPEC §5). 37/38/39 are
// bitnet.cpp's I8_S/TL1/TL2 in its fork, but 39 is MXFP4 upstream: tern never
// trusts them as ternary layouts.
enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    I2_S = 36,
};

// Size facts for the types tern knows. Block-quantized types pack `block_elems`
// elements into `block_bytes` bytes along the innermost dimension.
struct TypeTraits {
    GgmlType type;
    const char* name;
    int64_t block_elems;
    int64_t block_bytes;
};

// nullopt for a type id tern does not know (the reader lists such tensors and
// refuses them only when used).
std::optional<TypeTraits> type_traits(uint32_t type_id);
const char* type_name(uint32_t type_id);  // "F16", "I2_S", or "type<N>"

// ---------------------------------------------------------------- block structs

struct BlockQ8_0 {
    uint16_t d;  // fp16 scale
    int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ6_K {
    uint8_t ql[128];  // low 4 bits
    uint8_t qh[64];   // high 2 bits
    int8_t scales[16];
    uint16_t d;  // fp16 super-block scale
};
static_assert(sizeof(BlockQ6_K) == 210);

// ggml's Q4_K and Q5_K super-blocks of 256: 8 sub-blocks of 32 elements, each
// with a 6-bit scale and a 6-bit min packed into scales[12] (k_scale_min).
// Element 64p + 32s + l (p < 4, s < 2, l < 32) is in sub-block 2p + s; its low
// 4 bits are qs[32p + l]'s low (s = 0) or high (s = 1) nibble and, in Q5_K,
// bit 2p + s of qh[l] is its fifth bit. Value: (d * sc) * q - (dmin * m).
struct BlockQ4_K {
    uint16_t d;     // fp16 super-block scale of the scales
    uint16_t dmin;  // fp16 super-block scale of the mins
    uint8_t scales[12];
    uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];  // fifth bits
    uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Scale and min of sub-block j (< 8) of a Q4_K / Q5_K block: bytes 0-3 hold
// the scales of sub-blocks 0-3 in their low 6 bits, bytes 4-7 their mins;
// sub-blocks 4-7 take their low 4 bits from the nibbles of bytes 8-11 (scale
// low, min high) and their top 2 bits from bits 6-7 of bytes 0-3 (scale) and
// 4-7 (min).
inline void k_scale_min(const uint8_t* scales, int j, int& sc, int& m) {
    if (j < 4) {
        sc = scales[j] & 63;
        m = scales[j + 4] & 63;
    } else {
        sc = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
        m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}
// The same for all 8 sub-blocks at once: byte j of *sc / *m is sub-block j's
// scale / min (for kernels that widen them as vectors).
inline void k_scales_mins(const uint8_t* scales, uint64_t* sc, uint64_t* m) {
    uint32_t a, b, c;  // scales[0..3], scales[4..7], scales[8..11]
    __builtin_memcpy(&a, scales, 4);
    __builtin_memcpy(&b, scales + 4, 4);
    __builtin_memcpy(&c, scales + 8, 4);
    *sc = (a & 0x3f3f3f3fu) | uint64_t((c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4)) << 32;
    *m = (b & 0x3f3f3f3fu) | uint64_t(((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4)) << 32;
}

struct BlockTQ1_0 {
    uint8_t qs[48];  // 5 trits per byte (base 3, scaled to a byte)
    uint8_t qh[4];   // 4 trits per byte
    uint16_t d;      // fp16 scale
};
static_assert(sizeof(BlockTQ1_0) == 54);

struct BlockTQ2_0 {
    uint8_t qs[64];  // 2 bits per element, see SPEC §5
    uint16_t d;      // fp16 scale
};
static_assert(sizeof(BlockTQ2_0) == 66);

// I2_S has no per-block header: 128 elements in 32 bytes, then one f32 scale
// after the whole tensor's codes (SPEC §5).
inline constexpr int64_t kI2SBlockElems = 128;
inline constexpr int64_t kI2SBlockBytes = 32;
inline constexpr int64_t kI2STrailerBytes = 32;

// ---------------------------------------------------------------- scalar conversions

float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);  // round to nearest even
inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint16_t f32_to_bf16(float f);  // round to nearest even

// ---------------------------------------------------------------- ternary in memory

// Every ternary linear, whatever its file format, is decoded at load into this
// canonical form; kernel tables repack it into their own layout (kernels.h).
//
// Row-major [rows = out_features, cols = in_features]. Each row holds
// `padded_cols` = round_up(cols, kTernaryColAlign) 2-bit codes, code = w + 1
// (0 -> -1, 1 -> 0, 2 -> +1), element j of a row in byte j / 4 at bits
// 2*(j % 4) .. 2*(j % 4) + 1. Padding elements carry code 1 (weight 0).
inline constexpr int64_t kTernaryColAlign = 256;

inline constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace tern
