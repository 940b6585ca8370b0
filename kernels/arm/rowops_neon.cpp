// The per-token float steps for the neon table: kernels/rowops.inc compiled
// with this file's ISA flags.
#include <cmath>
#include <cstring>

#include "kernels/arm/neon.h"

namespace tern::kernels::neon {
#include "kernels/rowops.inc"
}  // namespace tern::kernels::neon
