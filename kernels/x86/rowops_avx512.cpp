// The per-token float steps for the avx512 table: kernels/rowops.inc compiled
// with this file's ISA flags.
#include <cmath>
#include <cstring>

#include "kernels/x86/x86.h"

namespace tern::kernels::avx512 {
#include "kernels/rowops.inc"
}  // namespace tern::kernels::avx512
