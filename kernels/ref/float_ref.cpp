// Full-precision weights for the reference table: the output projection and
// the embedding (never ternary, SPEC §2). Dequantize a row, then a plain dot.
#include <cstring>
#include <string>
#include <vector>

#include "tern/error.h"
#include "kernels/ref/ref.h"

namespace tern::kernels::ref {

namespace {

// ggml's Q6_K super-block of 256: element 128*h + 32*k + l (h < 2, k < 4,
// l < 32) has its low 4 bits in ql[64h + l + 32*(k & 1)] (low nibble for
// k < 2, high nibble for k >= 2), its high 2 bits in qh[32h + l] bits 2k..2k+1,
// value q - 32, times d * scales[8h + l/16 + 2k].
void dequantize_q6_k(const BlockQ6_K* blocks, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const BlockQ6_K& b = blocks[i];
        const float d = fp16_to_f32(b.d);
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = b.ql + 64 * h;
            const uint8_t* qh = b.qh + 32 * h;
            const int8_t* sc = b.scales + 8 * h;
            float* yh = y + i * 256 + 128 * h;
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                // (d * scale) * q, the order ggml evaluates it in.
                yh[l + 0] = d * float(sc[is + 0]) * float(q1);
                yh[l + 32] = d * float(sc[is + 2]) * float(q2);
                yh[l + 64] = d * float(sc[is + 4]) * float(q3);
                yh[l + 96] = d * float(sc[is + 6]) * float(q4);
            }
        }
    }
}

// Q4_K (q5 false) or Q5_K, layout in formats.h: (d * sc) * q - (dmin * m),
// the order ggml evaluates it in.
template <class B>
void dequantize_k_block(const B& b, float* y) {
    constexpr bool q5 = sizeof(B) == sizeof(BlockQ5_K);
    const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
    for (int p = 0; p < 4; ++p)
        for (int s = 0; s < 2; ++s) {
            int sc, m;
            k_scale_min(b.scales, 2 * p + s, sc, m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            for (int l = 0; l < 32; ++l) {
                int q = (b.qs[32 * p + l] >> (4 * s)) & 0xF;
                if constexpr (q5) q |= ((b.qh[l] >> (2 * p + s)) & 1) << 4;
                y[64 * p + 32 * s + l] = d1 * float(q) - m1;
            }
        }
}

template <class B>
void dequantize_k_row(const uint8_t* src, float* dst, int64_t cols) {
    for (int64_t i = 0; i < cols / 256; ++i) {
        B b;
        std::memcpy(&b, src + i * int64_t(sizeof b), sizeof b);  // rows are only 2-byte aligned
        dequantize_k_block(b, dst + i * 256);
    }
}

void need_multiple(GgmlType type, int64_t cols, int64_t block) {
    if (cols % block != 0)
        throw Error(std::string(type_name(uint32_t(type))) + " row of " + std::to_string(cols) +
                    " elements is not a multiple of its block size " + std::to_string(block));
}

}  // namespace

void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t cols) {
    switch (type) {
        case GgmlType::F32:
            std::memcpy(dst, src, size_t(cols) * 4);
            return;
        case GgmlType::F16:
        case GgmlType::BF16:
            for (int64_t j = 0; j < cols; ++j) {
                uint16_t h;
                std::memcpy(&h, src + 2 * j, 2);  // rows need not be 2-byte aligned
                dst[j] = type == GgmlType::F16 ? fp16_to_f32(h) : bf16_to_f32(h);
            }
            return;
        case GgmlType::Q8_0: {
            need_multiple(type, cols, 32);
            for (int64_t i = 0; i < cols / 32; ++i) {
                BlockQ8_0 b;
                std::memcpy(&b, src + i * int64_t(sizeof b), sizeof b);
                const float d = fp16_to_f32(b.d);
                for (int j = 0; j < 32; ++j) dst[i * 32 + j] = float(b.qs[j]) * d;
            }
            return;
        }
        case GgmlType::Q6_K: {
            need_multiple(type, cols, 256);
            // Copy blocks out: a GGUF row offset is only guaranteed 1-byte aligned for 210-byte blocks.
            for (int64_t i = 0; i < cols / 256; ++i) {
                BlockQ6_K b;
                std::memcpy(&b, src + i * int64_t(sizeof b), sizeof b);
                dequantize_q6_k(&b, dst + i * 256, 1);
            }
            return;
        }
        case GgmlType::Q4_K:
            need_multiple(type, cols, 256);
            return dequantize_k_row<BlockQ4_K>(src, dst, cols);
        case GgmlType::Q5_K:
            need_multiple(type, cols, 256);
            return dequantize_k_row<BlockQ5_K>(src, dst, cols);
        default:
            throw Error(std::string("no full-precision kernel for tensor type ") + type_name(uint32_t(type)) +
                        " (supported: F32, F16, BF16, Q8_0, Q4_K, Q5_K, Q6_K)");
    }
}

float dot_lanes(const float* w, const float* x, int64_t cols) {
    float acc[kFloatLanes] = {};
    for (int64_t j = 0; j < cols; ++j) acc[j % kFloatLanes] += w[j] * x[j];
    for (int h = kFloatLanes / 2; h >= 1; h /= 2)
        for (int i = 0; i < h; ++i) acc[i] = acc[i] + acc[i + h];
    return acc[0];
}

void float_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const float* x, int64_t n,
                  int64_t x_stride, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
    std::vector<float> wr(static_cast<size_t>(cols));
    for (int64_t r = row_begin; r < row_end; ++r) {
        dequantize_row(type, w + r * row_bytes, wr.data(), cols);
        for (int64_t t = 0; t < n; ++t) y[t * y_stride + r] = dot_lanes(wr.data(), x + t * x_stride, cols);
    }
}

}  // namespace tern::kernels::ref
