// The per-token float steps for the ref table: kernels/rowops.inc compiled
// with this file's ISA flags.
#include <cmath>
#include <cstring>

#include "kernels/ref/ref.h"

namespace tern::kernels::ref {
#include "kernels/rowops.inc"
}  // namespace tern::kernels::ref
