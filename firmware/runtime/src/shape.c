/* dlink runtime: shape helpers shared by all backends. */
#include "dlink/internal.h"

int32_t dlk_shape_count(const dlk_shape_t *shape)
{
    int32_t count = 1;
    int32_t i;
    if (shape == 0 || shape->rank < 0 || shape->rank > DLK_MAX_RANK) {
        return 0;
    }
    for (i = 0; i < shape->rank; ++i) {
        if (shape->dims[i] < 0) {
            return 0;
        }
        count *= shape->dims[i];
    }
    return count;
}

dlk_status_t dlk_extend_shape(const dlk_shape_t *shape, int32_t dims[DLK_MAX_RANK])
{
    int32_t i;
    int32_t lead;
    if (shape == 0 || shape->rank < 0 || shape->rank > DLK_MAX_RANK) {
        return DLK_ERR_BAD_SHAPE;
    }
    lead = DLK_MAX_RANK - shape->rank;
    for (i = 0; i < DLK_MAX_RANK; ++i) {
        dims[i] = i < lead ? 1 : shape->dims[i - lead];
        if (dims[i] < 0) {
            return DLK_ERR_BAD_SHAPE;
        }
    }
    return DLK_OK;
}

dlk_status_t dlk_broadcast_strides(const dlk_shape_t *input, const dlk_shape_t *output,
                                   int32_t strides[DLK_MAX_RANK],
                                   int32_t out_dims[DLK_MAX_RANK])
{
    int32_t in_dims[DLK_MAX_RANK];
    int32_t stride = 1;
    int32_t i;
    if (dlk_extend_shape(input, in_dims) != DLK_OK || dlk_extend_shape(output, out_dims) != DLK_OK) {
        return DLK_ERR_BAD_SHAPE;
    }
    for (i = DLK_MAX_RANK - 1; i >= 0; --i) {
        if (in_dims[i] == out_dims[i]) {
            strides[i] = stride;
        } else if (in_dims[i] == 1) {
            strides[i] = 0;
        } else {
            return DLK_ERR_BAD_SHAPE;
        }
        stride *= in_dims[i];
    }
    return DLK_OK;
}
