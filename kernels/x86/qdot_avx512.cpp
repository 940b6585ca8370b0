// Quantized output matrices x int16 activations for AVX-512 (BW): one zmm is
// a chunk of 32 int16 weights or the 16 lanes of ref.h's qdot order. Loop
// nest: qdot_kernel.inc. qdot_avx512vnni.cpp is this file with vpdpwssd.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*
// placeholders (GCC PR 105593); nothing in this file is uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels/x86/x86.h"

#ifndef TERN_QDOT_NAMESPACE
#define TERN_QDOT_NAMESPACE avx512
#endif

namespace tern::kernels::TERN_QDOT_NAMESPACE {

namespace {

#include "kernels/x86/qdot_ops512.inc"

}  // namespace

#include "kernels/x86/qdot_kernel.inc"

}  // namespace tern::kernels::TERN_QDOT_NAMESPACE
