/* dlink runtime: argument checks shared by every backend's fast-path kernels. */
#include "dlink/internal.h"

dlk_status_t dlk_dw1d_check(const dlk_dw1d_params_t *p)
{
    if (p == 0 || p->weights == 0 || p->quant == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (p->rows <= 0 || p->in_w <= 0 || p->out_w <= 0 || p->in_c <= 0 ||
        p->depth_multiplier <= 0 || p->n_taps <= 0 || p->stride <= 0 || p->pad < 0) {
        return DLK_ERR_BAD_SHAPE;
    }
    return DLK_OK;
}

dlk_status_t dlk_pw_check(const dlk_pw_params_t *p, const int8_t *input, const int8_t *output,
                          const int16_t *scratch, size_t scratch_len)
{
    if (p == 0 || input == 0 || output == 0 || p->weights == 0 || p->quant == 0 || scratch == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (p->n_pixels <= 0 || p->in_c <= 0 || p->out_c <= 0) {
        return DLK_ERR_BAD_SHAPE;
    }
    if (scratch_len < (size_t)DLK_PW_SCRATCH_LEN(p->in_c)) {
        return DLK_ERR_BAD_LENGTH;
    }
    if (!dlk_fast_quant_ok(p->quant, p->out_c)) {
        return DLK_ERR_UNSUPPORTED; /* the generator keeps such layers on the generic kernel */
    }
    return DLK_OK;
}

dlk_status_t dlk_dw1d_call_check(const dlk_dw1d_params_t *p, const int8_t *input,
                                 const int8_t *output, const int16_t *scratch, size_t scratch_len)
{
    const dlk_status_t st = dlk_dw1d_check(p);
    if (st != DLK_OK) {
        return st;
    }
    if (input == 0 || output == 0 || scratch == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (scratch_len < (size_t)DLK_DW1D_ROW_LEN(p->out_w, p->stride, p->n_taps)) {
        return DLK_ERR_BAD_LENGTH;
    }
    if (!dlk_fast_quant_ok(p->quant, p->in_c * p->depth_multiplier)) {
        return DLK_ERR_UNSUPPORTED; /* the generator keeps such layers on the generic kernel */
    }
    return DLK_OK;
}

dlk_status_t dlk_dw1d_chain_check(const dlk_dw1d_params_t *a, const dlk_dw1d_params_t *b,
                                  const int8_t *input, const int8_t *output,
                                  const int16_t *scratch, size_t scratch_len)
{
    dlk_status_t st = dlk_dw1d_check(a);
    if (st == DLK_OK) {
        st = dlk_dw1d_check(b);
    }
    if (st != DLK_OK) {
        return st;
    }
    if (input == 0 || output == 0 || scratch == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (b->rows != a->rows || b->in_c != a->in_c * a->depth_multiplier || b->in_w != a->out_w ||
        b->input_zero_point != a->output_zero_point) {
        return DLK_ERR_BAD_SHAPE;
    }
    if (scratch_len < (size_t)(DLK_DW1D_ROW_LEN(a->out_w, a->stride, a->n_taps) +
                               DLK_DW1D_CHAIN_BLOCK *
                                   DLK_DW1D_ROW_LEN(b->out_w, b->stride, b->n_taps))) {
        return DLK_ERR_BAD_LENGTH;
    }
    if (!dlk_fast_quant_ok(a->quant, a->in_c * a->depth_multiplier) ||
        !dlk_fast_quant_ok(b->quant, b->in_c * b->depth_multiplier)) {
        return DLK_ERR_UNSUPPORTED;
    }
    return DLK_OK;
}

int32_t dlk_fast_quant_ok(const dlk_channel_quant_t *quant, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        if (quant[i].shift > -1 || quant[i].shift < -24) {
            return 0;
        }
    }
    return 1;
}
