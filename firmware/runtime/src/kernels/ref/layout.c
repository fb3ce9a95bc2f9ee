/* dlink runtime, ref backend: data-movement operators (RESHAPE copy, PAD, TRANSPOSE). */
#include <string.h>

#include "dlink/internal.h"
#include "dlink/quant.h"

dlk_status_t dlk_copy_s8(const int8_t *input, size_t input_len, int8_t *output,
                         size_t output_len)
{
    if (input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (input_len != output_len) {
        return DLK_ERR_BAD_LENGTH;
    }
    if (input != output) {
        memmove(output, input, input_len);
    }
    return DLK_OK;
}

dlk_status_t dlk_pad_s8(const dlk_pad_params_t *params, const dlk_shape_t *input_shape,
                        const int8_t *input, const dlk_shape_t *output_shape, int8_t *output)
{
    int32_t d[DLK_MAX_RANK], od[DLK_MAX_RANK], lo[DLK_MAX_RANK], st[DLK_MAX_RANK];
    int32_t i, lead, stride = 1;
    int32_t o0, o1, o2, o3, o4;
    int32_t out = 0;
    if (params == 0 || input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (params->pad_value < INT8_MIN || params->pad_value > INT8_MAX) {
        return DLK_ERR_BAD_PARAM;
    }
    if (dlk_extend_shape(input_shape, d) != DLK_OK ||
        dlk_extend_shape(output_shape, od) != DLK_OK || input_shape->rank != output_shape->rank) {
        return DLK_ERR_BAD_SHAPE;
    }
    lead = DLK_MAX_RANK - input_shape->rank;
    for (i = DLK_MAX_RANK - 1; i >= 0; --i) {
        const int32_t before = i >= lead ? params->before[i - lead] : 0;
        const int32_t after = i >= lead ? params->after[i - lead] : 0;
        if (before < 0 || after < 0 || d[i] + before + after != od[i]) {
            return DLK_ERR_BAD_SHAPE;
        }
        lo[i] = before;
        st[i] = stride;
        stride *= d[i];
    }
    for (o0 = 0; o0 < od[0]; ++o0)
    for (o1 = 0; o1 < od[1]; ++o1)
    for (o2 = 0; o2 < od[2]; ++o2)
    for (o3 = 0; o3 < od[3]; ++o3)
    for (o4 = 0; o4 < od[4]; ++o4) {
        const int32_t idx[DLK_MAX_RANK] = {o0 - lo[0], o1 - lo[1], o2 - lo[2], o3 - lo[3],
                                           o4 - lo[4]};
        int32_t offset = 0;
        int inside = 1;
        for (i = 0; i < DLK_MAX_RANK; ++i) {
            if (idx[i] < 0 || idx[i] >= d[i]) {
                inside = 0;
                break;
            }
            offset += idx[i] * st[i];
        }
        output[out++] = inside ? input[offset] : (int8_t)params->pad_value;
    }
    return DLK_OK;
}

dlk_status_t dlk_transpose_s8(const dlk_transpose_params_t *params,
                              const dlk_shape_t *input_shape, const int8_t *input,
                              const dlk_shape_t *output_shape, int8_t *output)
{
    int32_t d[DLK_MAX_RANK], od[DLK_MAX_RANK], st[DLK_MAX_RANK], ost[DLK_MAX_RANK];
    int32_t i, lead, stride = 1, seen = 0;
    int32_t o0, o1, o2, o3, o4;
    int32_t out = 0;
    if (params == 0 || input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (dlk_extend_shape(input_shape, d) != DLK_OK ||
        dlk_extend_shape(output_shape, od) != DLK_OK || input_shape->rank != output_shape->rank) {
        return DLK_ERR_BAD_SHAPE;
    }
    lead = DLK_MAX_RANK - input_shape->rank;
    for (i = DLK_MAX_RANK - 1; i >= 0; --i) {
        st[i] = stride;
        stride *= d[i];
    }
    /* Output axis i reads input axis perm[i]: its stride in the input. */
    for (i = 0; i < DLK_MAX_RANK; ++i) {
        int32_t src = i;
        if (i >= lead) {
            src = params->perm[i - lead];
            if (src < 0 || src >= input_shape->rank || (seen >> src) & 1) {
                return DLK_ERR_BAD_PARAM;
            }
            seen |= 1 << src;
            src += lead;
        }
        if (d[src] != od[i]) {
            return DLK_ERR_BAD_SHAPE;
        }
        ost[i] = st[src];
    }
    for (o0 = 0; o0 < od[0]; ++o0)
    for (o1 = 0; o1 < od[1]; ++o1)
    for (o2 = 0; o2 < od[2]; ++o2)
    for (o3 = 0; o3 < od[3]; ++o3)
    for (o4 = 0; o4 < od[4]; ++o4) {
        output[out++] = input[o0 * ost[0] + o1 * ost[1] + o2 * ost[2] + o3 * ost[3] + o4 * ost[4]];
    }
    return DLK_OK;
}
