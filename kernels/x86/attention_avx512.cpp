// The attention products for the avx512 table: kernels/attention.inc compiled with
// this file's ISA flags.
#include "kernels/x86/x86.h"

namespace tern::kernels::avx512 {
#include "kernels/attention.inc"
}  // namespace tern::kernels::avx512
