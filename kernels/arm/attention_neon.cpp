// The attention products for the neon table: kernels/attention.inc compiled with
// this file's ISA flags.
#include "neon.h"

namespace tern::kernels::neon {
#include "attention.inc"
}  // namespace tern::kernels::neon
