/* dlink runtime, ref backend: MEAN int8 (TFLite's integer QuantizedMeanOrSum: sum, subtract
 * zero_point * count, one requantisation whose multiplier already contains 1/count). */
#include "dlink/internal.h"
#include "dlink/quant.h"

dlk_status_t dlk_mean_s8(const dlk_mean_params_t *params, const dlk_shape_t *input_shape,
                         const int8_t *input, int8_t *output, size_t output_len)
{
    int32_t d[DLK_MAX_RANK], od[DLK_MAX_RANK], rd[DLK_MAX_RANK], st[DLK_MAX_RANK];
    int32_t i, lead, count = 1, stride = 1, n_out = 1;
    int32_t o0, o1, o2, o3, o4, r0, r1, r2, r3, r4;
    int32_t out = 0;
    if (params == 0 || input_shape == 0 || input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (!dlk_shift_ok(params->shift)) {
        return DLK_ERR_BAD_PARAM;
    }
    if (dlk_extend_shape(input_shape, d) != DLK_OK) {
        return DLK_ERR_BAD_SHAPE;
    }
    lead = DLK_MAX_RANK - input_shape->rank;
    for (i = DLK_MAX_RANK - 1; i >= 0; --i) {
        const int reduced = i >= lead && ((params->reduce_mask >> (uint32_t)(i - lead)) & 1u);
        od[i] = reduced ? 1 : d[i];
        rd[i] = reduced ? d[i] : 1;
        count *= rd[i];
        n_out *= od[i];
        st[i] = stride;
        stride *= d[i];
    }
    if ((size_t)n_out != output_len) {
        return DLK_ERR_BAD_LENGTH;
    }
    if (count <= 0) {
        return DLK_ERR_BAD_SHAPE;
    }
    for (o0 = 0; o0 < od[0]; ++o0)
    for (o1 = 0; o1 < od[1]; ++o1)
    for (o2 = 0; o2 < od[2]; ++o2)
    for (o3 = 0; o3 < od[3]; ++o3)
    for (o4 = 0; o4 < od[4]; ++o4) {
        int32_t sum = 0;
        int32_t raw;
        for (r0 = 0; r0 < rd[0]; ++r0)
        for (r1 = 0; r1 < rd[1]; ++r1)
        for (r2 = 0; r2 < rd[2]; ++r2)
        for (r3 = 0; r3 < rd[3]; ++r3)
        for (r4 = 0; r4 < rd[4]; ++r4) {
            sum += input[(o0 + r0) * st[0] + (o1 + r1) * st[1] + (o2 + r2) * st[2] +
                         (o3 + r3) * st[3] + (o4 + r4) * st[4]];
        }
        raw = dlk_mbqm(sum - params->input_zero_point * count, params->multiplier,
                       params->shift) +
              params->output_zero_point;
        output[out++] = dlk_sat8(raw, INT8_MIN, INT8_MAX);
    }
    return DLK_OK;
}
