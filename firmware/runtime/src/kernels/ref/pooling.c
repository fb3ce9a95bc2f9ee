/* dlink runtime, ref backend: AVERAGE_POOL_2D and MAX_POOL_2D int8 (TFLite-Micro reference
 * semantics: the average counts only the in-bounds taps and rounds half away from zero). */
#include "dlink/internal.h"
#include "dlink/quant.h"

static dlk_status_t check_pool(const dlk_pool_params_t *params, const dlk_shape4_t *input_shape,
                               const int8_t *input, const dlk_shape4_t *output_shape,
                               const int8_t *output)
{
    if (params == 0 || input_shape == 0 || input == 0 || output_shape == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (params->stride_h <= 0 || params->stride_w <= 0 || params->filter_h <= 0 ||
        params->filter_w <= 0) {
        return DLK_ERR_BAD_PARAM;
    }
    if (input_shape->n != output_shape->n || input_shape->c != output_shape->c) {
        return DLK_ERR_BAD_SHAPE;
    }
    return DLK_OK;
}

static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

dlk_status_t dlk_avg_pool2d_s8(const dlk_pool_params_t *params, const dlk_shape4_t *input_shape,
                               const int8_t *input, const dlk_shape4_t *output_shape,
                               int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx;
    const dlk_status_t status = check_pool(params, input_shape, input, output_shape, output);
    if (status != DLK_OK) {
        return status;
    }
    for (b = 0; b < output_shape->n; ++b) {
        for (oy = 0; oy < output_shape->h; ++oy) {
            const int32_t y0 = dlk_in_origin(oy, params->stride_h, params->pad_h);
            const int32_t ky0 = max_i32(0, -y0);
            const int32_t ky1 = min_i32(params->filter_h, input_shape->h - y0);
            for (ox = 0; ox < output_shape->w; ++ox) {
                const int32_t x0 = dlk_in_origin(ox, params->stride_w, params->pad_w);
                const int32_t kx0 = max_i32(0, -x0);
                const int32_t kx1 = min_i32(params->filter_w, input_shape->w - x0);
                for (c = 0; c < output_shape->c; ++c) {
                    int32_t acc = 0;
                    int32_t count = 0;
                    for (ky = ky0; ky < ky1; ++ky) {
                        for (kx = kx0; kx < kx1; ++kx) {
                            acc += input[((b * input_shape->h + y0 + ky) * input_shape->w + x0 +
                                          kx) * input_shape->c +
                                         c];
                            ++count;
                        }
                    }
                    if (count == 0) {
                        return DLK_ERR_BAD_SHAPE;
                    }
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    output[((b * output_shape->h + oy) * output_shape->w + ox) * output_shape->c +
                           c] = dlk_sat8(acc, params->act_min, params->act_max);
                }
            }
        }
    }
    return DLK_OK;
}

dlk_status_t dlk_max_pool2d_s8(const dlk_pool_params_t *params, const dlk_shape4_t *input_shape,
                               const int8_t *input, const dlk_shape4_t *output_shape,
                               int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx;
    const dlk_status_t status = check_pool(params, input_shape, input, output_shape, output);
    if (status != DLK_OK) {
        return status;
    }
    for (b = 0; b < output_shape->n; ++b) {
        for (oy = 0; oy < output_shape->h; ++oy) {
            const int32_t y0 = dlk_in_origin(oy, params->stride_h, params->pad_h);
            const int32_t ky0 = max_i32(0, -y0);
            const int32_t ky1 = min_i32(params->filter_h, input_shape->h - y0);
            for (ox = 0; ox < output_shape->w; ++ox) {
                const int32_t x0 = dlk_in_origin(ox, params->stride_w, params->pad_w);
                const int32_t kx0 = max_i32(0, -x0);
                const int32_t kx1 = min_i32(params->filter_w, input_shape->w - x0);
                for (c = 0; c < output_shape->c; ++c) {
                    int32_t best = INT8_MIN;
                    for (ky = ky0; ky < ky1; ++ky) {
                        for (kx = kx0; kx < kx1; ++kx) {
                            best = max_i32(best, input[((b * input_shape->h + y0 + ky) *
                                                            input_shape->w +
                                                        x0 + kx) *
                                                           input_shape->c +
                                                       c]);
                        }
                    }
                    output[((b * output_shape->h + oy) * output_shape->w + ox) * output_shape->c +
                           c] = dlk_sat8(best, params->act_min, params->act_max);
                }
            }
        }
    }
    return DLK_OK;
}
