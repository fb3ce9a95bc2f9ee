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

dlk_status_t dlk_pw_check(const dlk_pw_params_t *p, const int8_t *input, const int8_t *output)
{
    if (p == 0 || input == 0 || output == 0 || p->weights == 0 || p->quant == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (p->n_pixels <= 0 || p->in_c <= 0 || p->out_c <= 0) {
        return DLK_ERR_BAD_SHAPE;
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
