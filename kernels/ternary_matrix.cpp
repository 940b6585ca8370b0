// The canonical ternary matrix (kernels.h): construction and family names.
// Lives outside ref/ because every table and every loader uses it.
#include <cstring>
#include <string>

#include "tern/error.h"
#include "kernels/kernels.h"

namespace tern::kernels {

// All weights 0: code 1 in every 2-bit field, i.e. bytes of 0b01010101. The
// padding columns [cols, padded_cols) must stay code 1 for ever, so kernels may
// run over padded_cols without masking.
TernaryMatrix::TernaryMatrix(int64_t rows_, int64_t cols_, float scale_) { reset(rows_, cols_, scale_); }

void TernaryMatrix::reset(int64_t rows_, int64_t cols_, float scale_, bool fill) {
    if (rows_ < 0 || cols_ < 0)
        throw Error("ternary matrix with negative shape " + std::to_string(rows_) + " x " + std::to_string(cols_));
    rows = rows_;
    cols = cols_;
    padded_cols = round_up(cols_, kTernaryColAlign);
    scale = scale_;
    const size_t need = size_t(code_bytes());
    if (codes.size() < need) codes = AlignedBuffer(need);
    if (need && fill) std::memset(codes.data(), 0x55, need);
}

const char* family_name(TernaryFamily f) {
    switch (f) {
        case TernaryFamily::i2s: return "i2s";
        case TernaryFamily::tl1: return "tl1";
        case TernaryFamily::tl2: return "tl2";
    }
    return "unknown";
}

}  // namespace tern::kernels
