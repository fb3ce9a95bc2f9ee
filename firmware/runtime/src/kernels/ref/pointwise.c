/* dlink runtime, ref backend: the pointwise (1x1 CONV_2D) fast path in portable C, reading the
 * generator's prepared layout (dlink/kernels.h): int16 weights in SXTB16 order, the input zero
 * point folded into the bias. Bit-exact with CONV_2D (TFLite-Micro reference semantics). */
#include "dlink/internal.h"
#include "dlink/quant.h"

dlk_status_t dlk_pointwise_s8(const dlk_pw_params_t *params, const int8_t *input,
                              int8_t *output, int16_t *scratch, size_t scratch_len)
{
    int32_t px, o, k;
    const dlk_status_t st = dlk_pw_check(params, input, output, scratch, scratch_len);
    if (st != DLK_OK) {
        return st;
    }
    {
        const int32_t k4 = (params->in_c + 3) & ~3;
        const int32_t whole = params->in_c & ~3;
        for (px = 0; px < params->n_pixels; ++px) {
            const int8_t *x = input + px * params->in_c;
            for (o = 0; o < params->out_c; ++o) {
                const int16_t *w = params->weights + o * k4;
                const dlk_channel_quant_t *q = &params->quant[o];
                int32_t acc = q->bias;
                /* each group of 4 channels is stored (w0, w2, w1, w3) */
                for (k = 0; k < whole; k += 4) {
                    acc += w[k] * x[k] + w[k + 2] * x[k + 1] + w[k + 1] * x[k + 2] +
                           w[k + 3] * x[k + 3];
                }
                for (; k < params->in_c; ++k) {
                    static const int32_t slot[4] = {0, 2, 1, 3};
                    acc += (int32_t)w[whole + slot[k - whole]] * (int32_t)x[k];
                }
                acc = dlk_mbqm(acc, q->multiplier, q->shift) + params->output_zero_point;
                output[px * params->out_c + o] = dlk_sat8(acc, params->act_min, params->act_max);
            }
        }
    }
    return DLK_OK;
}
