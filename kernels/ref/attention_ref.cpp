// The attention products for the ref table: kernels/attention.inc compiled with
// this file's ISA flags.
#include "kernels/ref/ref.h"

namespace tern::kernels::ref {
#include "kernels/attention.inc"
}  // namespace tern::kernels::ref
