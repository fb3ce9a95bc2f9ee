/* dlink runtime, ref backend: RELU (requantising, TFLite-Micro ReluQuantized), RELU6 (clamp
 * in the input's domain, TFLite-Micro Relu6Quantized) and int8 -> int8 QUANTIZE (Requantize). */
#include "dlink/internal.h"
#include "dlink/quant.h"

dlk_status_t dlk_relu_s8(const dlk_relu_params_t *params, const int8_t *input, size_t input_len,
                         int8_t *output, size_t output_len)
{
    size_t i;
    if (params == 0 || input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (input_len != output_len) {
        return DLK_ERR_BAD_LENGTH;
    }
    if (!dlk_shift_ok(params->shift)) {
        return DLK_ERR_BAD_PARAM;
    }
    for (i = 0; i < input_len; ++i) {
        const int32_t v = dlk_mbqm((int32_t)input[i] - params->input_zero_point,
                                   params->multiplier, params->shift) +
                          params->output_zero_point;
        output[i] = dlk_sat8(v, params->act_min, params->act_max);
    }
    return DLK_OK;
}

dlk_status_t dlk_relu6_s8(const dlk_relu6_params_t *params, const int8_t *input,
                          size_t input_len, int8_t *output, size_t output_len)
{
    size_t i;
    if (params == 0 || input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (input_len != output_len) {
        return DLK_ERR_BAD_LENGTH;
    }
    for (i = 0; i < input_len; ++i) {
        output[i] = dlk_sat8(input[i], params->zero, params->six);
    }
    return DLK_OK;
}

dlk_status_t dlk_requantize_s8(const dlk_requant_params_t *params, const int8_t *input,
                               size_t input_len, int8_t *output, size_t output_len)
{
    size_t i;
    if (params == 0 || input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (input_len != output_len) {
        return DLK_ERR_BAD_LENGTH;
    }
    if (!dlk_shift_ok(params->shift)) {
        return DLK_ERR_BAD_PARAM;
    }
    for (i = 0; i < input_len; ++i) {
        const int32_t v = dlk_mbqm((int32_t)input[i] - params->input_zero_point,
                                   params->multiplier, params->shift) +
                          params->output_zero_point;
        output[i] = dlk_sat8(v, INT8_MIN, INT8_MAX);
    }
    return DLK_OK;
}
