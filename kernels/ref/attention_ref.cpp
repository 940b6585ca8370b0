// The attention products for the ref table: kernels/attention.inc compiled with
// this file's ISA flags.
#include "ref.h"

namespace tern::kernels::ref {
#include "attention.inc"
}  // namespace tern::kernels::ref
