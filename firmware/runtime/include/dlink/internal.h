/* dlink runtime: helpers shared by the kernel backends (not part of the model API). */
#ifndef DLINK_INTERNAL_H
#define DLINK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dlink/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Right-align `shape` to DLK_MAX_RANK dims (leading 1s). Returns DLK_ERR_BAD_SHAPE if invalid. */
dlk_status_t dlk_extend_shape(const dlk_shape_t *shape, int32_t dims[DLK_MAX_RANK]);

/* Row-major element strides of `input` broadcast to `output` (0 on broadcast axes), both
 * right-aligned to DLK_MAX_RANK; out_dims receives the extended output dims. */
dlk_status_t dlk_broadcast_strides(const dlk_shape_t *input, const dlk_shape_t *output,
                                   int32_t strides[DLK_MAX_RANK],
                                   int32_t out_dims[DLK_MAX_RANK]);

/* Argument checks of the fast paths (src/fastpath.c), the same in every backend: DLK_OK or the
 * error to return (null pointers, shapes, scratch too short, shifts outside 1..24). */
dlk_status_t dlk_dw1d_check(const dlk_dw1d_params_t *p);
dlk_status_t dlk_dw1d_call_check(const dlk_dw1d_params_t *p, const int8_t *input,
                                 const int8_t *output, const int16_t *scratch, size_t scratch_len);
dlk_status_t dlk_dw1d_chain_check(const dlk_dw1d_params_t *a, const dlk_dw1d_params_t *b,
                                  const int8_t *input, const int8_t *output,
                                  const int16_t *scratch, size_t scratch_len);
dlk_status_t dlk_pw_check(const dlk_pw_params_t *p, const int8_t *input, const int8_t *output,
                          const int16_t *scratch, size_t scratch_len);
/* 1 when every channel's shift is a right shift of 1..24 bits (the fast paths' range), else 0. */
int32_t dlk_fast_quant_ok(const dlk_channel_quant_t *quant, int32_t n);

/* TFLite's reference padding rule: the input coordinate of an output index. */
static inline int32_t dlk_in_origin(int32_t out_index, int32_t stride, int32_t pad)
{
    return out_index * stride - pad;
}

#ifdef __cplusplus
}
#endif

#endif /* DLINK_INTERNAL_H */
