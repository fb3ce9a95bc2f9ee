/* dlink runtime, ref backend: the 1-D depthwise fast path (dlk_dw1d_s8) and its fused chain
 * (dlk_dw1d_chain_s8) in portable C, reading the generator's prepared layouts (dlink/kernels.h).
 * Bit-exact with DEPTHWISE_CONV_2D (TFLite-Micro reference semantics): a tap outside the row
 * contributes nothing. */
#include "dlink/internal.h"
#include "dlink/quant.h"

/* Where filter m of input channel c starts in the prepared layout (dlink/kernels.h), and the
 * distance between its tap pairs: tap 2j + e is at base[j * step + e]. */
static const int16_t *filter_taps(const dlk_dw1d_params_t *p, int32_t c, int32_t m,
                                  int32_t *step)
{
    const int32_t n_pairs = (p->n_taps + 1) / 2;
    const int32_t dm = p->depth_multiplier;
    const int32_t nb = dm - m / 4 * 4 < 4 ? dm - m / 4 * 4 : 4;
    *step = 2 * nb;
    return p->weights + c * n_pairs * dm * 2 + (m / 4) * 4 * n_pairs * 2 + (m % 4) * 2;
}

static int8_t requant(const dlk_dw1d_params_t *p, int32_t oc, int32_t acc)
{
    const dlk_channel_quant_t *q = &p->quant[oc];
    acc = dlk_mbqm(dlk_add_wrap(acc, q->bias), q->multiplier, q->shift) + p->output_zero_point;
    return dlk_sat8(acc, p->act_min, p->act_max);
}

/* One output row of channel c, multiplier m, reading the row `x` (element w at x[w * x_step]);
 * writes out[t * out_step]. */
static void filter_row(const dlk_dw1d_params_t *p, int32_t c, int32_t m, const int8_t *x,
                       int32_t x_step, int8_t *out, int32_t out_step)
{
    int32_t t, k, step;
    const int32_t oc = c * p->depth_multiplier + m;
    const int16_t *w = filter_taps(p, c, m, &step);
    for (t = 0; t < p->out_w; ++t) {
        const int32_t origin = t * p->stride - p->pad;
        /* the taps that land inside the row; the others read the zero point: nothing */
        const int32_t k0 = origin < 0 ? -origin : 0;
        const int32_t k1 = p->in_w - origin < p->n_taps ? p->in_w - origin : p->n_taps;
        int32_t acc = 0;
        for (k = k0; k < k1; ++k) {
            acc += (int32_t)w[(k / 2) * step + (k & 1)] *
                   ((int32_t)x[(origin + k) * x_step] - p->input_zero_point);
        }
        out[t * out_step] = requant(p, oc, acc);
    }
}

dlk_status_t dlk_dw1d_s8(const dlk_dw1d_params_t *params, const int8_t *input, int8_t *output,
                         int16_t *scratch, size_t scratch_len)
{
    int32_t r, c, m;
    const dlk_status_t st = dlk_dw1d_call_check(params, input, output, scratch, scratch_len);
    if (st != DLK_OK) {
        return st;
    }
    {
        const int32_t out_c = params->in_c * params->depth_multiplier;
        for (r = 0; r < params->rows; ++r) {
            for (c = 0; c < params->in_c; ++c) {
                const int8_t *x = input + r * params->in_row_stride + c * params->in_c_stride;
                for (m = 0; m < params->depth_multiplier; ++m) {
                    filter_row(params, c, m, x, params->in_w_stride,
                               output + r * params->out_w * out_c + c * params->depth_multiplier + m,
                               out_c);
                }
            }
        }
    }
    return DLK_OK;
}

dlk_status_t dlk_dw1d_chain_s8(const dlk_dw1d_params_t *a, const dlk_dw1d_params_t *b,
                               const int8_t *input, int8_t *output, int16_t *scratch,
                               size_t scratch_len)
{
    int32_t r, c, m, j;
    const dlk_status_t st = dlk_dw1d_chain_check(a, b, input, output, scratch, scratch_len);
    if (st != DLK_OK) {
        return st;
    }
    {
        /* a's output row for one channel, as int8, in the scratch */
        int8_t *row = (int8_t *)(void *)scratch;
        const int32_t b_out_c = b->in_c * b->depth_multiplier;
        for (r = 0; r < a->rows; ++r) {
            for (c = 0; c < a->in_c; ++c) {
                const int8_t *x = input + r * a->in_row_stride + c * a->in_c_stride;
                for (m = 0; m < a->depth_multiplier; ++m) {
                    const int32_t bc = c * a->depth_multiplier + m;
                    filter_row(a, c, m, x, a->in_w_stride, row, 1);
                    for (j = 0; j < b->depth_multiplier; ++j) {
                        filter_row(b, bc, j, row, 1,
                                   output + r * b->out_w * b_out_c + bc * b->depth_multiplier + j,
                                   b_out_c);
                    }
                }
            }
        }
    }
    return DLK_OK;
}
