// The scalar reference table: the oracle every SIMD kernel is tested against.
// The functions live in the other files of this folder (declared in ref.h).
#include "kernels/ref/ref.h"

namespace tern::kernels {

const KernelTable* table_ref() {
    static const KernelTable t = [] {
        KernelTable k;
        k.name = "ref";
        k.quantize_rows = ref::quantize_rows;
        k.ternary[int(TernaryFamily::i2s)] = {ref::i2s_repack, ref::i2s_prepared_bytes, ref::i2s_prepare,
                                              ref::i2s_matmul};
        k.ternary[int(TernaryFamily::tl1)] = {ref::tl1_repack, ref::tl1_prepared_bytes, ref::tl1_prepare,
                                              ref::tl1_matmul};
        k.ternary[int(TernaryFamily::tl2)] = {ref::tl2_repack, ref::tl2_prepared_bytes, ref::tl2_prepare,
                                              ref::tl2_matmul};
        k.float_matmul = ref::float_matmul;
        k.dequantize_row = ref::dequantize_row;
        k.qdot_prepare = ref::qdot_prepare;
        k.qdot_matmul = ref::qdot_matmul;
        k.attn_scores = ref::attn_scores;
        k.attn_values = ref::attn_values;
        k.rmsnorm = ref::rmsnorm;
        k.softmax = ref::softmax;
        k.scale_sums = ref::scale_sums;
        k.ffn_act_mul = ref::ffn_act_mul;
        return k;
    }();
    return &t;
}

}  // namespace tern::kernels
