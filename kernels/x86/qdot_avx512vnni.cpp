// qdot_avx512.cpp with AVX512-VNNI: vpdpwssd fuses pmaddwd and the add (the
// same exact int32 sums).
#define TERN_QDOT_NAMESPACE avx512vnni
#define TERN_QDOT_DPWSSD 1
#include "kernels/x86/qdot_avx512.cpp"
