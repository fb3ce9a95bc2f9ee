/* dlink runtime, ref backend: MUL int8 with broadcasting (TFLite-Micro reference
 * MulElementwise: (a - za) * (b - zb) rescaled once). */
#include "dlink/internal.h"
#include "dlink/quant.h"

dlk_status_t dlk_mul_s8(const dlk_mul_params_t *params, const dlk_shape_t *input1_shape,
                        const int8_t *input1, const dlk_shape_t *input2_shape,
                        const int8_t *input2, const dlk_shape_t *output_shape, int8_t *output)
{
    int32_t s1[DLK_MAX_RANK], s2[DLK_MAX_RANK], d[DLK_MAX_RANK];
    int32_t i0, i1, i2, i3, i4;
    int32_t out = 0;
    if (params == 0 || input1 == 0 || input2 == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (!dlk_shift_ok(params->output_shift)) {
        return DLK_ERR_BAD_PARAM;
    }
    if (dlk_broadcast_strides(input1_shape, output_shape, s1, d) != DLK_OK ||
        dlk_broadcast_strides(input2_shape, output_shape, s2, d) != DLK_OK) {
        return DLK_ERR_BAD_SHAPE;
    }
    for (i0 = 0; i0 < d[0]; ++i0) {
        for (i1 = 0; i1 < d[1]; ++i1) {
            for (i2 = 0; i2 < d[2]; ++i2) {
                for (i3 = 0; i3 < d[3]; ++i3) {
                    for (i4 = 0; i4 < d[4]; ++i4) {
                        const int32_t a = input1[i0 * s1[0] + i1 * s1[1] + i2 * s1[2] +
                                                 i3 * s1[3] + i4 * s1[4]] -
                                          params->input1_zero_point;
                        const int32_t b = input2[i0 * s2[0] + i1 * s2[1] + i2 * s2[2] +
                                                 i3 * s2[3] + i4 * s2[4]] -
                                          params->input2_zero_point;
                        const int32_t raw =
                            dlk_mbqm(a * b, params->output_multiplier, params->output_shift) +
                            params->output_zero_point;
                        output[out++] = dlk_sat8(raw, params->act_min, params->act_max);
                    }
                }
            }
        }
    }
    return DLK_OK;
}
