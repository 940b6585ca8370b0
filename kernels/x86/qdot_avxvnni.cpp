// qdot_avx2.cpp with AVX-VNNI: the VEX vpdpwssd fuses pmaddwd and the add
// (the same exact int32 sums).
#define TERN_QDOT_NAMESPACE avxvnni
#define TERN_QDOT_DPWSSD 1
#include "kernels/x86/qdot_avx2.cpp"
