// Quantized output matrices (Q8_0, Q4_K, Q5_K, Q6_K) times 16-bit integer activations:
// the reference for every table's qdot_matmul (contract in ref.h, SPEC §2).
// Integer sums first (exact), then one float step per weight block.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "tern/error.h"
#include "kernels/ref/ref.h"

namespace tern::kernels::ref {

namespace {

// Q6_K element e (< 256) of block b as the 6-bit code q (SPEC §5); the value is q - 32.
int q6_code(const BlockQ6_K& b, int e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t lo = b.ql[64 * h + 32 * (k & 1) + l];
    const int lo4 = k >= 2 ? lo >> 4 : lo & 0xF;
    return lo4 | (((b.qh[32 * h + l] >> (2 * k)) & 3) << 4);
}

float fold_lanes(float (&acc)[kQdotLanes]) {
    for (int h = kQdotLanes / 2; h >= 1; h /= 2)
        for (int i = 0; i < h; ++i) acc[i] = acc[i] + acc[i + h];
    return acc[0];
}

float dot_q8_0(const uint8_t* row, int64_t cols, const int16_t* a) {
    float acc[kQdotLanes] = {};
    for (int64_t b = 0; b < cols / 32; ++b) {
        BlockQ8_0 blk;
        std::memcpy(&blk, row + b * int64_t(sizeof blk), sizeof blk);  // rows are only 2-byte aligned
        const float d = fp16_to_f32(blk.d);
        int32_t lane[kQdotLanes] = {};
        for (int e = 0; e < 32; ++e) lane[e / 2] += int32_t(blk.qs[e]) * a[32 * b + e];
        for (int i = 0; i < kQdotLanes; ++i) acc[i] += float(lane[i]) * d;
    }
    return fold_lanes(acc);
}

float dot_q6_k(const uint8_t* row, int64_t cols, const int16_t* a) {
    float acc[kQdotLanes] = {};
    for (int64_t b = 0; b < cols / 256; ++b) {
        BlockQ6_K blk;
        std::memcpy(&blk, row + b * int64_t(sizeof blk), sizeof blk);
        const float d = fp16_to_f32(blk.d);
        int32_t lane[kQdotLanes] = {};
        for (int e = 0; e < 256; ++e) {
            const int w = int(blk.scales[e / 16]) * (q6_code(blk, e) - 32);  // |w| <= 4096: an int16
            lane[(e % 32) / 2] += w * a[256 * b + e];
        }
        for (int i = 0; i < kQdotLanes; ++i) acc[i] += float(lane[i]) * d;
    }
    return fold_lanes(acc);
}

// Q4_K / Q5_K (ref.h): w = sc_j * q over sub-block j = e / 32, the mins
// apart against the activation sums of each 32.
template <class B>
float dot_k(const uint8_t* row, int64_t cols, const int16_t* a, const int32_t* sums) {
    constexpr bool q5 = sizeof(B) == sizeof(BlockQ5_K);
    float acc[kQdotLanes] = {};
    float macc = 0.0f;
    for (int64_t b = 0; b < cols / 256; ++b) {
        B blk;
        std::memcpy(&blk, row + b * int64_t(sizeof blk), sizeof blk);
        int32_t lane[kQdotLanes] = {};
        int32_t msum = 0;
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            k_scale_min(blk.scales, j, sc, m);
            msum += m * sums[8 * b + j];
            for (int l = 0; l < 32; ++l) {
                int q = (blk.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF;
                if constexpr (q5) q |= ((blk.qh[l] >> j) & 1) << 4;
                lane[l / 2] += sc * q * a[256 * b + 32 * j + l];
            }
        }
        const float d = fp16_to_f32(blk.d), dmin = fp16_to_f32(blk.dmin);
        for (int i = 0; i < kQdotLanes; ++i) acc[i] += float(lane[i]) * d;
        macc += float(msum) * dmin;
    }
    return fold_lanes(acc) - macc;
}

}  // namespace

void qdot_prepare(const float* x, int64_t n, int64_t cols, int64_t x_stride, uint8_t* out) {
    const int64_t stride = qdot_prepared_bytes(cols);
    for (int64_t t = 0; t < n; ++t) {
        const float* xr = x + t * x_stride;
        uint8_t* o = out + t * stride;
        float amax = 0.0f;
        for (int64_t j = 0; j < cols; ++j) amax = std::max(amax, std::fabs(xr[j]));  // a NaN never wins
        const float s = float(kQdotMax) / std::max(amax, 1e-5f);
        std::memset(o, 0, size_t(stride));
        std::memcpy(o, &s, sizeof s);
        int16_t* a = reinterpret_cast<int16_t*>(o + kQdotHeader);
        int32_t* sums = reinterpret_cast<int32_t*>(o + qdot_sums_offset(cols));
        for (int64_t j = 0; j < cols; ++j) {
            const float v = std::nearbyint(xr[j] * s);  // half to even, as SPEC §3
            a[j] = std::isnan(v) ? int16_t(0) : int16_t(std::clamp(v, -float(kQdotMax), float(kQdotMax)));
            sums[j / 32] += a[j];
        }
    }
}

void qdot_matmul(GgmlType type, const uint8_t* w, int64_t row_bytes, int64_t cols, const uint8_t* prepared,
                 int64_t n, float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
    if (!qdot_supports(type, cols))
        throw Error(std::string("no quantized-activation kernel for ") + type_name(uint32_t(type)) + " rows of " +
                    std::to_string(cols) + " elements (supported: Q8_0 rows of 32k, Q4_K, Q5_K and Q6_K rows of 256k)");
    const int64_t stride = qdot_prepared_bytes(cols);
    for (int64_t r = row_begin; r < row_end; ++r)
        for (int64_t t = 0; t < n; ++t) {
            const uint8_t* p = prepared + t * stride;
            float s;
            std::memcpy(&s, p, sizeof s);
            const int16_t* a = reinterpret_cast<const int16_t*>(p + kQdotHeader);
            const int32_t* sums = reinterpret_cast<const int32_t*>(p + qdot_sums_offset(cols));
            const uint8_t* row = w + r * row_bytes;
            const float f = type == GgmlType::Q8_0   ? dot_q8_0(row, cols, a)
                            : type == GgmlType::Q6_K ? dot_q6_k(row, cols, a)
                            : type == GgmlType::Q4_K ? dot_k<BlockQ4_K>(row, cols, a, sums)
                                                     : dot_k<BlockQ5_K>(row, cols, a, sums);
            y[t * y_stride + r] = f / s;
        }
}

}  // namespace tern::kernels::ref
