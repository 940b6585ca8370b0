// The attention products for the avx2 table: kernels/attention.inc compiled with
// this file's ISA flags.
#include "kernels/x86/x86.h"

namespace tern::kernels::avx2 {
#include "kernels/attention.inc"
}  // namespace tern::kernels::avx2
