/* dlink runtime, dsp backend: CONV_2D int8 with SMLAD inner products over input channels
 * (dot.h), two output channels per pass sharing the input loads; same signature and bit-exact
 * results as src/kernels/ref/conv.c. */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "dot.h"

dlk_status_t dlk_conv2d_s8(const dlk_conv_params_t *params, const dlk_shape4_t *input_shape,
                           const int8_t *input, const dlk_shape4_t *filter_shape,
                           const int8_t *filter, const int32_t *bias,
                           const dlk_shape4_t *output_shape, int8_t *output)
{
    int32_t b, oy, ox, oc, ky, kx;
    int32_t groups, filters_per_group, f_stride, n_oc = 1;
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
    f_stride = filter_shape->h * filter_shape->w * filter_shape->c;
    for (b = 0; b < output_shape->n; ++b) {
        for (oy = 0; oy < output_shape->h; ++oy) {
            const int32_t y0 = dlk_in_origin(oy, params->stride_h, params->pad_h);
            for (ox = 0; ox < output_shape->w; ++ox) {
                const int32_t x0 = dlk_in_origin(ox, params->stride_w, params->pad_w);
                int8_t *out_px =
                    output + ((b * output_shape->h + oy) * output_shape->w + ox) * output_shape->c;
                for (oc = 0; oc < output_shape->c; oc += n_oc) {
                    const int32_t group = oc / filters_per_group;
                    int32_t acc[2] = {0, 0};
                    int32_t k;
                    /* two output channels of the same group share each input load */
                    n_oc = (oc + 1 < output_shape->c && (oc + 1) / filters_per_group == group) ? 2
                                                                                          : 1;
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
                            if (n_oc == 2) {
                                dlk_dsp_dot2_s8(f_px, f_px + f_stride, in_px, filter_shape->c,
                                                params->input_zero_point, acc);
                            } else {
                                acc[0] += dlk_dsp_dot_s8(f_px, in_px, filter_shape->c,
                                                         params->input_zero_point);
                            }
                        }
                    }
                    for (k = 0; k < n_oc; ++k) {
                        int32_t v = acc[k];
                        if (bias != 0) {
                            v = dlk_add_wrap(v, bias[oc + k]);
                        }
                        v = dlk_mbqm(v, params->multiplier[oc + k], params->shift[oc + k]);
                        v += params->output_zero_point;
                        out_px[oc + k] = dlk_sat8(v, params->act_min, params->act_max);
                    }
                }
            }
        }
    }
    return DLK_OK;
}
