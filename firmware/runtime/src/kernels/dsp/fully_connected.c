/* dlink runtime, dsp backend: FULLY_CONNECTED int8 with SMLAD inner products (dot.h);
 * same signature and bit-exact results as src/kernels/ref/fully_connected.c. */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "dot.h"

dlk_status_t dlk_fully_connected_s8(const dlk_fc_params_t *params, int32_t batches,
                                    int32_t in_features, const int8_t *input,
                                    int32_t out_features, const int8_t *weights,
                                    const int32_t *bias, int8_t *output)
{
    int32_t b, o;
    if (params == 0 || input == 0 || weights == 0 || output == 0 || params->multiplier == 0 ||
        params->shift == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (batches < 0 || in_features <= 0 || out_features <= 0) {
        return DLK_ERR_BAD_SHAPE;
    }
    if ((params->n_multipliers != 1 && params->n_multipliers != out_features) ||
        !dlk_shifts_ok(params->shift, params->n_multipliers)) {
        return DLK_ERR_BAD_PARAM;
    }
    if (params->filter_zero_point != 0) {
        return DLK_ERR_UNSUPPORTED; /* int8 weights are symmetric in TFLite */
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *x = input + b * in_features;
        for (o = 0; o < out_features; ++o) {
            const int32_t q = params->n_multipliers == 1 ? 0 : o;
            int32_t acc = dlk_dsp_dot_s8(weights + o * in_features, x, in_features,
                                         params->input_zero_point);
            if (bias != 0) {
                acc = dlk_add_wrap(acc, bias[o]);
            }
            acc = dlk_mbqm(acc, params->multiplier[q], params->shift[q]);
            acc += params->output_zero_point;
            output[b * out_features + o] = dlk_sat8(acc, params->act_min, params->act_max);
        }
    }
    return DLK_OK;
}
