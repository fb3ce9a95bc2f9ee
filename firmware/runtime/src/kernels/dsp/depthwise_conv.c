/* dlink runtime, dsp backend: DEPTHWISE_CONV_2D int8.
 *
 * Same signature and bit-exact results as src/kernels/ref/depthwise_conv.c (integer sums do not
 * depend on their order). With depth multiplier 1, four channels are computed together: each
 * filter tap loads one word of input (4 channels, NHWC-contiguous) and one word of filter,
 * sign-extends them with SXTB16 into 16-bit lanes, subtracts the zero point with SADD16 and
 * accumulates the four lanes with SMLABB/SMLATT into four register accumulators (depth
 * multiplier 2: one halfword of input feeds the four channels). The tap range inside the image
 * is computed once per output pixel. Remaining channels, and larger depth multipliers, use a
 * scalar loop.
 */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "dot.h"

static int8_t requant(const dlk_dwconv_params_t *p, const int32_t *bias, int32_t oc, int32_t acc)
{
    if (bias != 0) {
        acc = dlk_add_wrap(acc, bias[oc]);
    }
    acc = dlk_mbqm(acc, p->multiplier[oc], p->shift[oc]) + p->output_zero_point;
    return dlk_sat8(acc, p->act_min, p->act_max);
}

/* First and one-past-last filter index whose tap origin + dilation * k lies in [0, size). */
static void tap_range(int32_t origin, int32_t dilation, int32_t k_size, int32_t size,
                      int32_t *k0, int32_t *k1)
{
    int32_t a = 0;
    int32_t b = k_size;
    while (a < k_size && origin + dilation * a < 0) {
        ++a;
    }
    while (b > a && origin + dilation * (b - 1) >= size) {
        --b;
    }
    *k0 = a;
    *k1 = b;
}

dlk_status_t dlk_depthwise_conv2d_s8(const dlk_dwconv_params_t *params,
                                     const dlk_shape4_t *input_shape, const int8_t *input,
                                     const dlk_shape4_t *filter_shape, const int8_t *filter,
                                     const int32_t *bias, const dlk_shape4_t *output_shape,
                                     int8_t *output)
{
    int32_t b, oy, ox, ky, kx, c;
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
    {
        const int32_t in_c = input_shape->c;
        const int32_t out_c = output_shape->c;
        const int32_t dm = params->depth_multiplier;
        const int32_t zp = params->input_zero_point;
        const int32_t x_row = input_shape->w * in_c;          /* bytes per input row */
        const int32_t x_step = params->dilation_w * in_c;     /* between horizontal taps */
        const int32_t x_ystep = params->dilation_h * x_row;   /* between vertical taps */
        const int32_t f_row = filter_shape->w * out_c;
        const int32_t vec_c = dm <= 2 ? (out_c & ~3) : 0;    /* channels done 4 at a time */
        const uint32_t off = dlk_dup16(-zp);
        for (b = 0; b < output_shape->n; ++b) {
            const int8_t *in_b = input + b * input_shape->h * x_row;
            for (oy = 0; oy < output_shape->h; ++oy) {
                const int32_t y0 = dlk_in_origin(oy, params->stride_h, params->pad_h);
                int32_t ky0, ky1;
                tap_range(y0, params->dilation_h, filter_shape->h, input_shape->h, &ky0, &ky1);
                for (ox = 0; ox < output_shape->w; ++ox) {
                    const int32_t x0 = dlk_in_origin(ox, params->stride_w, params->pad_w);
                    int8_t *out_px = output + ((b * output_shape->h + oy) * output_shape->w + ox) *
                                                  out_c;
                    int32_t kx0, kx1;
                    const int8_t *x_first;
                    tap_range(x0, params->dilation_w, filter_shape->w, input_shape->w, &kx0, &kx1);
                    x_first = in_b + (y0 + params->dilation_h * ky0) * x_row +
                              (x0 + params->dilation_w * kx0) * in_c;
                    for (c = 0; c < vec_c; c += 4) {
                        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                        const int8_t *x_r = x_first + c / dm;
                        const int8_t *f_r = filter + ky0 * f_row + kx0 * out_c + c;
                        for (ky = ky0; ky < ky1; ++ky) {
                            const int8_t *xp = x_r;
                            const int8_t *fp = f_r;
                            for (kx = kx0; kx < kx1; ++kx) {
                                uint32_t xv, fv, xe, xo, fe, fo;
                                memcpy(&fv, fp, sizeof fv);
                                if (dm == 1) {
                                    memcpy(&xv, xp, sizeof xv);
                                    xe = dlk_sadd16(dlk_sxtb16(xv), off);          /* ch 0, 2 */
                                    xo = dlk_sadd16(dlk_sxtb16(dlk_ror8(xv)), off); /* ch 1, 3 */
                                } else {
                                    /* dm 2: channels c, c+1 read input c/2; c+2, c+3 read c/2+1 */
                                    uint16_t xh;
                                    memcpy(&xh, xp, sizeof xh);
                                    xv = ((uint32_t)xh & 0xffu) | (((uint32_t)xh & 0xff00u) << 8);
                                    xe = dlk_sadd16(dlk_sxtb16(xv), off);
                                    xo = xe;
                                }
                                fe = dlk_sxtb16(fv);
                                fo = dlk_sxtb16(dlk_ror8(fv));
                                a0 = dlk_smlabb(fe, xe, a0);
                                a2 = dlk_smlatt(fe, xe, a2);
                                a1 = dlk_smlabb(fo, xo, a1);
                                a3 = dlk_smlatt(fo, xo, a3);
                                xp += x_step;
                                fp += out_c;
                            }
                            x_r += x_ystep;
                            f_r += f_row;
                        }
                        out_px[c] = requant(params, bias, c, a0);
                        out_px[c + 1] = requant(params, bias, c + 1, a1);
                        out_px[c + 2] = requant(params, bias, c + 2, a2);
                        out_px[c + 3] = requant(params, bias, c + 3, a3);
                    }
                    for (c = vec_c; c < out_c; ++c) {
                        int32_t acc = 0;
                        const int8_t *x_r = x_first + c / dm;
                        const int8_t *f_r = filter + ky0 * f_row + kx0 * out_c + c;
                        for (ky = ky0; ky < ky1; ++ky) {
                            const int8_t *xp = x_r;
                            const int8_t *fp = f_r;
                            for (kx = kx0; kx < kx1; ++kx) {
                                acc += (int32_t)*fp * ((int32_t)*xp - zp);
                                xp += x_step;
                                fp += out_c;
                            }
                            x_r += x_ystep;
                            f_r += f_row;
                        }
                        out_px[c] = requant(params, bias, c, acc);
                    }
                }
            }
        }
    }
    return DLK_OK;
}
