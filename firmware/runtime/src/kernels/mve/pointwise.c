/* dlink runtime, mve backend: the pointwise (1x1 CONV_2D) fast path with Helium; same signature
 * and bit-exact results as src/kernels/ref/pointwise.c.
 *
 * The generator's int16 weights come in SXTB16 order (w0, w2, w1, w3 per group of 4); a
 * gathering VLDRB reads the int8 inputs in that same order (offsets 0, 2, 1, 3, 4, 6, 5, 7),
 * so one VMLADAVA.S16 adds 8 products, and the sum does not care about the order. 2 pixels x 4
 * output channels per pass; the input zero point is folded into the bias; four output
 * channels are requantised together (mve_util.h).
 */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "mve_util.h"

dlk_status_t dlk_pointwise_s8(const dlk_pw_params_t *params, const int8_t *input,
                              int8_t *output, int16_t *scratch, size_t scratch_len)
{
    const dlk_status_t st = dlk_pw_check(params, input, output);
    (void)scratch;
    (void)scratch_len;
    if (st != DLK_OK) {
        return st;
    }
    if (!dlk_fast_quant_ok(params->quant, params->out_c)) {
        return DLK_ERR_UNSUPPORTED; /* the generator keeps such layers on the generic kernel */
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
        int32_t o, px, q;
        for (o = 0; o < out_c; o += 4) {
            const int32_t n = out_c - o < 4 ? out_c - o : 4;
            const mve_pred16_t pn = vctp32q((uint32_t)n);
            const int32_t *qb = (const int32_t *)(const void *)&params->quant[o];
            const int32x4_t bias = vldrwq_gather_offset_z_s32(qb, q_off, pn);
            const int32x4_t mult = vldrwq_gather_offset_z_s32(qb + 1, q_off, pn);
            const int32x4_t shift = vldrwq_gather_offset_z_s32(qb + 2, q_off, pn);
            const int16_t *w0 = params->weights + o * k4;
            const int16_t *w1 = n > 1 ? w0 + k4 : w0;
            const int16_t *w2 = n > 2 ? w0 + 2 * k4 : w0;
            const int16_t *w3 = n > 3 ? w0 + 3 * k4 : w0;
            const int32_t b0 = vgetq_lane_s32(bias, 0), b1 = vgetq_lane_s32(bias, 1);
            const int32_t b2 = vgetq_lane_s32(bias, 2), b3 = vgetq_lane_s32(bias, 3);
            for (px = 0; px < params->n_pixels; px += 2) {
                const int8_t *x0 = input + px * in_c;
                const int32_t two = px + 1 < params->n_pixels;
                const int8_t *x1 = two ? x0 + in_c : x0;
                int32_t a0 = b0, a1 = b1, a2 = b2, a3 = b3;
                int32_t c0 = b0, c1 = b1, c2 = b2, c3 = b3;
                int32x4_t v;
                for (q = 0; q < n_chunks; ++q) {
                    const uint16x8_t off = vaddq_n_u16(lanes, (uint16_t)(8 * q));
                    const mve_pred16_t in = vcmphiq_u16(vdupq_n_u16((uint16_t)in_c), off);
                    const mve_pred16_t wk = vctp16q((uint32_t)(k4 - 8 * q));
                    const int16x8_t xa = vldrbq_gather_offset_z_s16(x0, off, in);
                    const int16x8_t xb = vldrbq_gather_offset_z_s16(x1, off, in);
                    int16x8_t wv = vldrhq_z_s16(w0 + 8 * q, wk);
                    a0 = vmladavaq_s16(a0, xa, wv);
                    c0 = vmladavaq_s16(c0, xb, wv);
                    wv = vldrhq_z_s16(w1 + 8 * q, wk);
                    a1 = vmladavaq_s16(a1, xa, wv);
                    c1 = vmladavaq_s16(c1, xb, wv);
                    wv = vldrhq_z_s16(w2 + 8 * q, wk);
                    a2 = vmladavaq_s16(a2, xa, wv);
                    c2 = vmladavaq_s16(c2, xb, wv);
                    wv = vldrhq_z_s16(w3 + 8 * q, wk);
                    a3 = vmladavaq_s16(a3, xa, wv);
                    c3 = vmladavaq_s16(c3, xb, wv);
                }
                v = dlk_mve_requant(dlk_mve_lanes(a0, a1, a2, a3), mult, shift, zp,
                                    params->act_min, params->act_max);
                vstrbq_p_s32(output + px * out_c + o, v, pn);
                if (two) {
                    v = dlk_mve_requant(dlk_mve_lanes(c0, c1, c2, c3), mult, shift, zp,
                                        params->act_min, params->act_max);
                    vstrbq_p_s32(output + (px + 1) * out_c + o, v, pn);
                }
            }
        }
    }
    return DLK_OK;
}
