/* dlink runtime, ref backend: DEPTHWISE_CONV_2D int8 (TFLite-Micro reference
 * DepthwiseConvPerChannel semantics, any depth multiplier). */
#include "dlink/internal.h"
#include "dlink/quant.h"

dlk_status_t dlk_depthwise_conv2d_s8(const dlk_dwconv_params_t *params,
                                     const dlk_shape4_t *input_shape, const int8_t *input,
                                     const dlk_shape4_t *filter_shape, const int8_t *filter,
                                     const int32_t *bias, const dlk_shape4_t *output_shape,
                                     int8_t *output)
{
    int32_t b, oy, ox, ic, m, ky, kx;
    if (params == 0 || input_shape == 0 || input == 0 || filter_shape == 0 || filter == 0 ||
        output_shape == 0 || output == 0 || params->multiplier == 0 || params->shift == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (params->stride_h <= 0 || params->stride_w <= 0 || params->dilation_h <= 0 ||
        params->dilation_w <= 0 || params->depth_multiplier <= 0) {
        return DLK_ERR_BAD_PARAM;
    }
    if (output_shape->c != input_shape->c * params->depth_multiplier ||
        filter_shape->c != output_shape->c || input_shape->n != output_shape->n) {
        return DLK_ERR_BAD_SHAPE;
    }
    if (!dlk_shifts_ok(params->shift, output_shape->c)) {
        return DLK_ERR_BAD_PARAM;
    }
    for (b = 0; b < output_shape->n; ++b) {
        for (oy = 0; oy < output_shape->h; ++oy) {
            const int32_t y0 = dlk_in_origin(oy, params->stride_h, params->pad_h);
            for (ox = 0; ox < output_shape->w; ++ox) {
                const int32_t x0 = dlk_in_origin(ox, params->stride_w, params->pad_w);
                for (ic = 0; ic < input_shape->c; ++ic) {
                    for (m = 0; m < params->depth_multiplier; ++m) {
                        const int32_t oc = m + ic * params->depth_multiplier;
                        int32_t acc = 0;
                        for (ky = 0; ky < filter_shape->h; ++ky) {
                            const int32_t iy = y0 + params->dilation_h * ky;
                            if (iy < 0 || iy >= input_shape->h) {
                                continue;
                            }
                            for (kx = 0; kx < filter_shape->w; ++kx) {
                                const int32_t ix = x0 + params->dilation_w * kx;
                                int32_t in_val;
                                int32_t f_val;
                                if (ix < 0 || ix >= input_shape->w) {
                                    continue;
                                }
                                in_val = input[((b * input_shape->h + iy) * input_shape->w + ix) *
                                                   input_shape->c +
                                               ic];
                                f_val = filter[(ky * filter_shape->w + kx) * filter_shape->c + oc];
                                acc += f_val * (in_val - params->input_zero_point);
                            }
                        }
                        if (bias != 0) {
                            acc = dlk_add_wrap(acc, bias[oc]);
                        }
                        acc = dlk_mbqm(acc, params->multiplier[oc], params->shift[oc]);
                        acc += params->output_zero_point;
                        output[((b * output_shape->h + oy) * output_shape->w + ox) *
                                   output_shape->c +
                               oc] = dlk_sat8(acc, params->act_min, params->act_max);
                    }
                }
            }
        }
    }
    return DLK_OK;
}
