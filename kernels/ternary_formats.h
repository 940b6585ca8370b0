// Decoders and encoders between the canonical TernaryMatrix (kernels.h) and the
// file formats of SPEC §5, plus the float -> ternary rules of SPEC §3, plus
// ggml's Q8_0 row quantizer for the converter.
//
// All decoders check the shape and byte count against the data they are given
// and throw tern::Error (include/tern/error.h) with a message naming what is
// wrong; they never read out of bounds. Encoders produce bytes that are
// bit-identical to what the upstream writers produce for the same weights
// (see each function for the one place where upstream is not deterministic).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/formats.h"
#include "kernels/kernels.h"

namespace tern::kernels {

// ---------------------------------------------------------------- I2_S

// Bytes an I2_S tensor of n = rows * cols elements occupies: n/4 code bytes,
// then the kI2STrailerBytes trailer (f32 scale first).
inline constexpr uint64_t i2s_tensor_bytes(int64_t rows, int64_t cols) {
    return uint64_t(rows * cols / 4 + kI2STrailerBytes);
}

// `data` holds n/4 code bytes over the flat row-major index of the whole
// tensor (blocks of 128 may span two rows), then the f32 scale. Requires
// rows * cols % 128 == 0 and n_bytes >= n/4 + 4. Code 3 is an error naming the
// flat element index; a non-finite scale is an error.
TernaryMatrix decode_i2s(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols);
// The checks of decode_i2s short of the codes (element count, bytes, a finite
// scale), and the scale: for a loader that repacks the codes itself.
float i2s_scale(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols);
// The same into `out` (reset to the shape first, its buffer reused when large
// enough): what a loader decoding many matrices calls. Likewise for TQ*_0.
void decode_i2s_into(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& out);

// n/4 code bytes, the f32 scale, then 28 zero bytes (n/4 + 32 in all).
// bitnet.cpp's quantize_i2_s writes the scale once and leaves the other 28
// trailer bytes as whatever its output buffer held; we write zeros there.
std::vector<uint8_t> encode_i2s(const TernaryMatrix& m);

// ---------------------------------------------------------------- TQ1_0 / TQ2_0

// ggml's layouts, 256-element blocks along each row (cols % 256 == 0), one fp16
// d per block, row-major blocks. Requires n_bytes >= rows * cols/256 * block size.
//
// Scale: tern keeps one scale per tensor (SPEC §7). Blocks with d == 0 are the
// all-zero blocks ggml's quantizer writes (amax 0); their weights decode to 0
// whatever their codes say (ggml computes (q-1)*0) and they do not take part
// in choosing the scale. The scale is the first nonzero |d|; every other
// nonzero |d| must equal it within one fp16 step (relative 2^-10), else the
// tensor really has per-block scales and decoding throws. A negative d flips
// that block's signs. If every block has d == 0 the matrix is all zero with
// scale 0. TQ2_0 code 3 (value 2d) is not ternary: error naming the element.
TernaryMatrix decode_tq2_0(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols);
TernaryMatrix decode_tq1_0(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols);
void decode_tq2_0_into(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& out);
void decode_tq1_0_into(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& out);

// d = fp16(scale) for each block that has a nonzero weight, and d = 0 for an
// all-zero block: exactly what ggml's quantize_row_tq{1,2}_0_ref writes when
// given the floats scale * W~, so our files are bit-identical to llama.cpp's.
// Requires cols % 256 == 0.
std::vector<uint8_t> encode_tq2_0(const TernaryMatrix& m);
std::vector<uint8_t> encode_tq1_0(const TernaryMatrix& m);

// ---------------------------------------------------------------- float linears (SPEC §3)

// Latent float weights: beta = max(mean |W|, 1e-5) (mean summed in double),
// W~ = clamp(round_half_even(W / beta), -1, 1).
TernaryMatrix ternarize_absmean(const float* w, int64_t rows, int64_t cols);

// Weights already of the form beta * {-1, 0, +1}: beta = max |W|, W~ = sign(W),
// with |W| < 1e-6 taken as 0 (the same threshold bitnet.cpp's quantizer uses).
// Running absmean on these would give the wrong beta.
TernaryMatrix from_ternary_floats(const float* w, int64_t rows, int64_t cols);

// True when every value is 0 (|w| < 1e-6) or +-a for one a, within relative
// 1e-3 (fp16/bf16 storage keeps beta * sign exact, so real ternary tensors
// match exactly; trained latent weights are never this uniform). False on any
// NaN/inf. An all-zero tensor counts as ternary.
bool looks_ternary(const float* w, int64_t n);

// ---------------------------------------------------------------- Q8_0

// ggml's quantize_row_q8_0_ref: per block of 32, d = amax / 127,
// q = roundf(x * (1/d)) (halves away from zero, as ggml does), stored d = fp16(d).
// k % 32 == 0 else tern::Error. NaN inputs give q = 0 (ggml leaves them undefined).
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k);

// ---------------------------------------------------------------- Q6_K

// tern's own Q6_K quantizer (what `--output-type q6_k` and `convert
// --embd-type q6_k` write; SPEC §5 has the layout). Per sub-block of 16 the
// scale is chosen among a few candidates (the largest magnitude on level -32,
// -31, 31 or 30, each refitted by least squares) for the smallest squared
// error; the 16 scales are then quantized to int8 against the fp16 super-block
// scale d = max|scale| / 127, and every element rounded against its quantized
// scale. k % 256 == 0 else tern::Error; NaN inputs give q = 0.
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t k);

// ---------------------------------------------------------------- Q4_K / Q5_K

// tern's own Q4_K / Q5_K quantizers (`--output-type q4_k|q5_k`; layout in
// formats.h): per sub-block of 32, the range [min(x, 0), max(x, 0)] spread over
// the 16 / 32 codes, scale and min quantized to 6 bits against fp16
// super-block scales (the min rounded up), every element rounded to nearest.
// Plain, not llama.cpp's search. k % 256 == 0 else tern::Error; NaN and
// infinite inputs give the code of 0.
void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t k);
void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t k);

// ---------------------------------------------------------------- the format table

// What tern does with each weight type, in one place (SPEC §5): the roles a
// tensor of the type may play in a model, and how its bytes are read and
// written. Loading and converting look a type up here instead of switching
// on it; adding a format is one row (plus kernels where it is computed with).
struct FormatCodec {
    GgmlType type;
    // May be a token embedding or output matrix (the kernel tables'
    // dequantize_row and float_matmul read it).
    bool embedding;
    // A ternary linear stored in this type -> the canonical matrix `out`
    // (its buffer reused when large enough; floats: SPEC §3's rules for
    // ternary or latent weights); null: not a linear format.
    void (*decode_linear)(const uint8_t* data, uint64_t n_bytes, int64_t rows, int64_t cols, TernaryMatrix& out);
    // The canonical matrix -> this type's bytes (`tern convert --type`); null: not written.
    std::vector<uint8_t> (*encode_linear)(const TernaryMatrix& m);
    // A float row -> this type's bytes (`tern convert --embd-type`); null: not written.
    void (*encode_row)(const float* x, uint8_t* out, int64_t n);
    // general.file_type of a file whose linears are this type (llama.cpp's
    // numbering); 0 where tern never writes such a file.
    uint32_t file_type;
};

// The row for `type`, or null when tern has no use for it.
const FormatCodec* format_codec(uint32_t type);
// The names of the types a predicate picks, as "F32, F16 or BF16", for errors.
std::string format_names(bool (*pick)(const FormatCodec&));
// An embedding/output type tern can write, by its name in any case ("q6_k",
// "F16"); tern::Error naming `what` and the choices otherwise.
GgmlType writable_embedding_type(const std::string& name, const std::string& what);

}  // namespace tern::kernels
