/* dlink runtime, ref backend: CONV_2D int8 (TFLite-Micro reference ConvPerChannel semantics). */
#include "dlink/internal.h"
#include "dlink/quant.h"

dlk_status_t dlk_conv2d_s8(const dlk_conv_params_t *params, const dlk_shape4_t *input_shape,
                           const int8_t *input, const dlk_shape4_t *filter_shape,
                           const int8_t *filter, const int32_t *bias,
                           const dlk_shape4_t *output_shape, int8_t *output)
{
    int32_t b, oy, ox, oc, ky, kx, ic;
    int32_t groups, filters_per_group;
    const int32_t in_h = input_shape ? input_shape->h : 0;
    const int32_t in_w = input_shape ? input_shape->w : 0;
    const int32_t in_c = input_shape ? input_shape->c : 0;
    if (params == 0 || input_shape == 0 || input == 0 || filter_shape == 0 || filter == 0 ||
        output_shape == 0 || output == 0 || params->multiplier == 0 || params->shift == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (params->stride_h <= 0 || params->stride_w <= 0 || params->dilation_h <= 0 ||
        params->dilation_w <= 0) {
        return DLK_ERR_BAD_PARAM;
    }
    if (filter_shape->c <= 0 || in_c % filter_shape->c != 0 ||
        filter_shape->n != output_shape->c || input_shape->n != output_shape->n) {
        return DLK_ERR_BAD_SHAPE;
    }
    groups = in_c / filter_shape->c;
    if (groups <= 0 || output_shape->c % groups != 0) {
        return DLK_ERR_BAD_SHAPE;
    }
    if (!dlk_shifts_ok(params->shift, output_shape->c)) {
        return DLK_ERR_BAD_PARAM;
    }
    filters_per_group = output_shape->c / groups;
    for (b = 0; b < output_shape->n; ++b) {
        for (oy = 0; oy < output_shape->h; ++oy) {
            const int32_t y0 = dlk_in_origin(oy, params->stride_h, params->pad_h);
            for (ox = 0; ox < output_shape->w; ++ox) {
                const int32_t x0 = dlk_in_origin(ox, params->stride_w, params->pad_w);
                for (oc = 0; oc < output_shape->c; ++oc) {
                    const int32_t group = oc / filters_per_group;
                    int32_t acc = 0;
                    for (ky = 0; ky < filter_shape->h; ++ky) {
                        const int32_t iy = y0 + params->dilation_h * ky;
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (kx = 0; kx < filter_shape->w; ++kx) {
                            const int32_t ix = x0 + params->dilation_w * kx;
                            const int8_t *in_px;
                            const int8_t *f_px;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            in_px = input + ((b * in_h + iy) * in_w + ix) * in_c +
                                    group * filter_shape->c;
                            f_px = filter + ((oc * filter_shape->h + ky) * filter_shape->w + kx) *
                                                filter_shape->c;
                            for (ic = 0; ic < filter_shape->c; ++ic) {
                                acc += (int32_t)f_px[ic] *
                                       ((int32_t)in_px[ic] - params->input_zero_point);
                            }
                        }
                    }
                    if (bias != 0) {
                        acc = dlk_add_wrap(acc, bias[oc]);
                    }
                    acc = dlk_mbqm(acc, params->multiplier[oc], params->shift[oc]);
                    acc += params->output_zero_point;
                    output[((b * output_shape->h + oy) * output_shape->w + ox) * output_shape->c +
                           oc] = dlk_sat8(acc, params->act_min, params->act_max);
                }
            }
        }
    }
    return DLK_OK;
}
