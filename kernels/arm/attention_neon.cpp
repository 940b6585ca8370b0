// The attention products for the neon table: kernels/attention.inc compiled with
// this file's ISA flags.
#include "kernels/arm/neon.h"

namespace tern::kernels::neon {
#include "kernels/attention.inc"
}  // namespace tern::kernels::neon
