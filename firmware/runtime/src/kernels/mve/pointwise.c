/* dlink runtime, mve backend: the pointwise (1x1 CONV_2D) fast path with Helium; same signature
 * and bit-exact results as src/kernels/ref/pointwise.c.
 *
 * The generator's int16 weights come in SXTB16 order (w0, w2, w1, w3 per group of 4); a
 * gathering VLDRB reads the int8 inputs in that same order (offsets 0, 2, 1, 3, 4, 6, 5, 7),
 * so one VMLADAVA.S16 adds 8 products, and the sum does not care about the order. 2 pixels x 2
 * output channels per pass (the 4 accumulators stay in registers); the input zero point is
 * folded into the bias; the pass's 4 outputs are requantised as one vector (mve_util.h).
 */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "mve_util.h"

dlk_status_t dlk_pointwise_s8(const dlk_pw_params_t *params, const int8_t *input,
                              int8_t *output, int16_t *scratch, size_t scratch_len)
{
    const dlk_status_t st = dlk_pw_check(params, input, output, scratch, scratch_len);
    if (st != DLK_OK) {
        return st;
    }
    {
        static const uint16_t order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
        const int32_t in_c = params->in_c, out_c = params->out_c;
        const int32_t k4 = (in_c + 3) / 4 * 4;
        const int32_t n_chunks = (k4 + 7) / 8;
        const uint16x8_t lanes = vld1q_u16(order);
        const uint32x4_t q_off = vmulq_n_u32(vidupq_n_u32(0, 1),
                                             (uint32_t)sizeof(dlk_channel_quant_t));
        const int32_t zp = params->output_zero_point;
        const int32_t full = in_c / 8; /* chunks with every lane inside the channels */
        int32_t o, px, q;
        for (o = 0; o < out_c; o += 2) {
            const int32_t n = out_c - o < 2 ? out_c - o : 2;
            const mve_pred16_t pn = vctp32q((uint32_t)n);
            const int32_t *qb = (const int32_t *)(const void *)&params->quant[o];
            const int32x4_t bias = vldrwq_gather_offset_z_s32(qb, q_off, pn);
            const int32x4_t mult = vldrwq_gather_offset_z_s32(qb + 1, q_off, pn);
            const int32x4_t shift = vldrwq_gather_offset_z_s32(qb + 2, q_off, pn);
            const int16_t *w0 = params->weights + o * k4;
            const int16_t *w1 = n > 1 ? w0 + k4 : w0;
            const int32_t b0 = vgetq_lane_s32(bias, 0), b1 = vgetq_lane_s32(bias, 1);
            /* lanes: (pixel 0, channel o), (0, o+1), (1, o), (1, o+1) */
            const int32x4_t mult2 = dlk_mve_lanes(vgetq_lane_s32(mult, 0), vgetq_lane_s32(mult, 1),
                                                  vgetq_lane_s32(mult, 0), vgetq_lane_s32(mult, 1));
            const int32x4_t shift2 = dlk_mve_lanes(vgetq_lane_s32(shift, 0),
                                                   vgetq_lane_s32(shift, 1),
                                                   vgetq_lane_s32(shift, 0),
                                                   vgetq_lane_s32(shift, 1));
            const uint32x4_t y_off = vreinterpretq_u32_s32(
                dlk_mve_lanes(0, 1, out_c, out_c + 1));
            const uint32_t lanes_n = n == 2 ? 0x00ffu : 0x000fu;
            for (px = 0; px < params->n_pixels; px += 2) {
                const int8_t *x0 = input + px * in_c;
                const int32_t two = px + 1 < params->n_pixels;
                const int8_t *x1 = two ? x0 + in_c : x0;
                int32_t a0 = b0, a1 = b1, c0 = b0, c1 = b1;
                int32x4_t v;
                /* 2 pixels x 2 output channels: 2 gathers, 2 weight loads, 4 VMLADAVA per 8
                 * input channels; the last, partial chunk predicated */
                for (q = 0; q < full; ++q) {
                    const uint16x8_t off = vaddq_n_u16(lanes, (uint16_t)(8 * q));
                    const int16x8_t xa = vldrbq_gather_offset_s16(x0, off);
                    const int16x8_t xb = vldrbq_gather_offset_s16(x1, off);
                    const int16x8_t u = vld1q_s16(w0 + 8 * q), w = vld1q_s16(w1 + 8 * q);
                    a0 = vmladavaq_s16(a0, xa, u);
                    c0 = vmladavaq_s16(c0, xb, u);
                    a1 = vmladavaq_s16(a1, xa, w);
                    c1 = vmladavaq_s16(c1, xb, w);
                }
                if (full < n_chunks) {
                    const uint16x8_t off = vaddq_n_u16(lanes, (uint16_t)(8 * q));
                    const mve_pred16_t in = vcmphiq_u16(vdupq_n_u16((uint16_t)in_c), off);
                    const mve_pred16_t wk = vctp16q((uint32_t)(k4 - 8 * q));
                    const int16x8_t xa = vldrbq_gather_offset_z_s16(x0, off, in);
                    const int16x8_t xb = vldrbq_gather_offset_z_s16(x1, off, in);
                    const int16x8_t u = vldrhq_z_s16(w0 + 8 * q, wk);
                    const int16x8_t w = vldrhq_z_s16(w1 + 8 * q, wk);
                    a0 = vmladavaq_s16(a0, xa, u);
                    c0 = vmladavaq_s16(c0, xb, u);
                    a1 = vmladavaq_s16(a1, xa, w);
                    c1 = vmladavaq_s16(c1, xb, w);
                }
                v = dlk_mve_requant(dlk_mve_lanes(a0, a1, c0, c1), mult2, shift2, zp,
                                    params->act_min, params->act_max);
                vstrbq_scatter_offset_p_s32(output + px * out_c + o, y_off, v,
                                            (mve_pred16_t)(two ? lanes_n | (lanes_n << 8)
                                                               : lanes_n));
            }
        }
    }
    return DLK_OK;
}
