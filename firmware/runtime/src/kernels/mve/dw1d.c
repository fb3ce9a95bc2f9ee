/* dlink runtime, mve backend: the 1-D depthwise fast path and its fused chain with Helium.
 *
 * Same signatures and bit-exact results as src/kernels/ref/dw1d.c, on any depth multiplier.
 * Each input channel's row is staged once as raw int8 with the zero point as padding, so the
 * input zero point folds into the bias (bias - zp * sum(w)) and a whole window of up to 16 taps
 * is one VLDRB plus one VMLADAVA.S8 (16 multiply-accumulates into a scalar). A filter's taps are
 * gathered from the generator's int16 pairs and narrowed to int8 once per row. Four output
 * samples are requantised together (mve_util.h) and stored with one (scatter) store.
 */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "mve_util.h"

/* Bytes of a staged row (taps read in whole chunks of 16). */
static int32_t row_bytes(const dlk_dw1d_params_t *p)
{
    return (p->out_w - 1) * p->stride + ((p->n_taps + 15) / 16) * 16;
}

/* s[j] = x[(j - pad) * step] for j in [pad, pad + in_w), the zero point elsewhere in [0, len). */
static void stage_row(const int8_t *x, int32_t step, int32_t in_w, int32_t pad, int32_t zp,
                      int8_t *s, int32_t len)
{
    const int8x16_t fill = vdupq_n_s8((int8_t)zp);
    const int32_t end = pad + in_w < len ? pad + in_w : len;
    int32_t j;
    for (j = 0; j < pad; j += 16) {
        vstrbq_p_s8(s + j, fill, vctp8q((uint32_t)(pad - j)));
    }
    j = pad;
    if (step == 1) {
        for (; j < end; j += 16) {
            const mve_pred16_t p = vctp8q((uint32_t)(end - j));
            vstrbq_p_s8(s + j, vldrbq_z_s8(x + (j - pad), p), p);
        }
    } else if (step * 7 < 65536) {
        const uint16x8_t off = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)step);
        for (; j < end; j += 8) {
            const mve_pred16_t p = vctp16q((uint32_t)(end - j));
            vstrbq_p_s16(s + j, vldrbq_gather_offset_z_s16(x + (j - pad) * step, off, p), p);
        }
    } else {
        for (; j < end; ++j) {
            s[j] = x[(j - pad) * step];
        }
    }
    for (j = end; j < len; j += 16) {
        vstrbq_p_s8(s + j, fill, vctp8q((uint32_t)(len - j)));
    }
}

/* Taps 16q..16q+15 of filter m of the channel whose int16 weights start at w, as int8 (the
 * layout of dlink/kernels.h: blocks of 4 filters, [pair][nb][2] in a block). */
static int8x16_t taps16(const int16_t *w, int32_t dm, int32_t m, int32_t n_pairs, int32_t q)
{
    const int32_t nb = dm - m / 4 * 4 < 4 ? dm - m / 4 * 4 : 4;
    const uint16x8_t lane = vidupq_n_u16(0, 1);
    const uint16x8_t even = vaddq_n_u16(vmulq_n_u16(lane, (uint16_t)(2 * nb)),
                                        (uint16_t)((m / 4) * 8 * n_pairs + 16 * q * nb +
                                                   2 * (m % 4)));
    const mve_pred16_t valid = vctp16q((uint32_t)(n_pairs - 8 * q));
    const int16x8_t e = vldrhq_gather_shifted_offset_z_s16(w, even, valid);
    const int16x8_t o = vldrhq_gather_shifted_offset_z_s16(w, vaddq_n_u16(even, 1), valid);
    return vmovntq_s16(vmovnbq_s16(vdupq_n_s8(0), e), o);
}

/* Where filter m's output goes: int8 NHWC samples (out + m, step out_step) or, in a chain, the
 * next layer's staged int8 row next + m * next_len. */
typedef struct {
    int8_t *out;
    int32_t out_step;
    int8_t *next;
    int32_t next_len;
    int32_t zp, lo, hi;
} sink_t;

/* The bias of filter m with the input zero point folded in, its taps in wbuf (16 * n_chunks). */
static int32_t load_filter(const dlk_dw1d_params_t *p, int32_t c, int32_t m, int8_t *wbuf)
{
    const int32_t dm = p->depth_multiplier;
    const int32_t n_pairs = (p->n_taps + 1) / 2;
    const int32_t n_chunks = (p->n_taps + 15) / 16;
    const int16_t *w = p->weights + 2 * c * n_pairs * dm;
    int32_t sum = 0, k;
    for (k = 0; k < n_chunks; ++k) {
        const int8x16_t v = taps16(w, dm, m, n_pairs, k);
        vst1q_s8(wbuf + 16 * k, v);
        sum += vaddvq_s8(v);
    }
    return p->quant[c * dm + m].bias - p->input_zero_point * sum;
}

/* Filters m..m+nb-1 (nb <= 4) of channel c, taps in one chunk: each staged window is loaded
 * once and feeds the 4 filters; the 4 outputs of a sample are one vector (one per lane). */
static void filters_x4(const dlk_dw1d_params_t *p, int32_t c, int32_t m, int32_t nb,
                       const int8_t *s, int8_t *wbuf, const sink_t *sink, int32_t sm)
{
    const int32_t dm = p->depth_multiplier, st = p->stride, out_w = p->out_w;
    const mve_pred16_t lanes = vctp32q((uint32_t)nb);
    int32_t bias[4] = {0, 0, 0, 0}, mult[4] = {0, 0, 0, 0}, shift[4] = {-1, -1, -1, -1};
    int8x16_t w0, w1, w2, w3;
    int32x4_t vm, vs;
    int32_t k, t;
    for (k = 0; k < nb; ++k) {
        const dlk_channel_quant_t *q = &p->quant[c * dm + m + k];
        bias[k] = load_filter(p, c, m + k, wbuf + 16 * k);
        mult[k] = q->multiplier;
        shift[k] = q->shift;
    }
    for (; k < 4; ++k) {
        vst1q_s8(wbuf + 16 * k, vdupq_n_s8(0));
    }
    w0 = vld1q_s8(wbuf);
    w1 = vld1q_s8(wbuf + 16);
    w2 = vld1q_s8(wbuf + 32);
    w3 = vld1q_s8(wbuf + 48);
    vm = vld1q_s32(mult);
    vs = vld1q_s32(shift);
    {
        const int32_t zp = sink->zp, lo = sink->lo, hi = sink->hi;
        const int32_t b0 = bias[0], b1 = bias[1], b2 = bias[2], b3 = bias[3];
        if (sink->next != 0) {
            const int32_t len = sink->next_len;
            const uint32x4_t off = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)len);
            int8_t *y = sink->next + sm * len;
            for (t = 0; t < out_w; ++t) {
                const int8x16_t x = vld1q_s8(s + t * st);
                const int32x4_t a = dlk_mve_lanes(vmladavaq_s8(b0, x, w0), vmladavaq_s8(b1, x, w1),
                                                  vmladavaq_s8(b2, x, w2), vmladavaq_s8(b3, x, w3));
                vstrbq_scatter_offset_p_s32(y + t, off, dlk_mve_requant(a, vm, vs, zp, lo, hi),
                                            lanes);
            }
        } else {
            const int32_t step = sink->out_step;
            int8_t *y = sink->out + sm;
            for (t = 0; t < out_w; ++t) {
                const int8x16_t x = vld1q_s8(s + t * st);
                const int32x4_t a = dlk_mve_lanes(vmladavaq_s8(b0, x, w0), vmladavaq_s8(b1, x, w1),
                                                  vmladavaq_s8(b2, x, w2), vmladavaq_s8(b3, x, w3));
                vstrbq_p_s32(y + t * step, dlk_mve_requant(a, vm, vs, zp, lo, hi), lanes);
            }
        }
    }
}

/* One filter over the staged row, 4 output samples per vector (any number of taps). */
static void filter_x1(const dlk_dw1d_params_t *p, int32_t c, int32_t m, const int8_t *s,
                      int8_t *wbuf, const sink_t *sink, int32_t sm)
{
    const int32_t st = p->stride, out_w = p->out_w;
    const int32_t n_chunks = (p->n_taps + 15) / 16;
    const dlk_channel_quant_t *q = &p->quant[c * p->depth_multiplier + m];
    const int32_t bias = load_filter(p, c, m, wbuf);
    const int32x4_t vm = vdupq_n_s32(q->multiplier), vs = vdupq_n_s32(q->shift);
    const int32_t zp = sink->zp, lo = sink->lo, hi = sink->hi;
    const int32_t step = sink->next != 0 ? 1 : sink->out_step;
    int8_t *y = sink->next != 0 ? sink->next + sm * sink->next_len : sink->out + sm;
    const uint32x4_t off = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)step);
    const int8x16_t w0 = vld1q_s8(wbuf);
    const int8x16_t w1 = vld1q_s8(wbuf + 16);
    const int8x16_t w2 = vld1q_s8(wbuf + 32);
    int32_t t;
    for (t = 0; t < out_w; t += 4) {
        /* samples past the row's end repeat the last one (their lanes are not stored) */
        const int32_t last = out_w - 1;
        const int8_t *x0 = s + t * st;
        const int8_t *x1 = s + (t + 1 < last ? t + 1 : last) * st;
        const int8_t *x2 = s + (t + 2 < last ? t + 2 : last) * st;
        const int8_t *x3 = s + (t + 3 < last ? t + 3 : last) * st;
        int32_t a0, a1, a2, a3;
        if (n_chunks == 1) {
            a0 = vmladavaq_s8(bias, vld1q_s8(x0), w0);
            a1 = vmladavaq_s8(bias, vld1q_s8(x1), w0);
            a2 = vmladavaq_s8(bias, vld1q_s8(x2), w0);
            a3 = vmladavaq_s8(bias, vld1q_s8(x3), w0);
        } else if (n_chunks <= 3) {
            a0 = vmladavaq_s8(vmladavaq_s8(bias, vld1q_s8(x0), w0), vld1q_s8(x0 + 16), w1);
            a1 = vmladavaq_s8(vmladavaq_s8(bias, vld1q_s8(x1), w0), vld1q_s8(x1 + 16), w1);
            a2 = vmladavaq_s8(vmladavaq_s8(bias, vld1q_s8(x2), w0), vld1q_s8(x2 + 16), w1);
            a3 = vmladavaq_s8(vmladavaq_s8(bias, vld1q_s8(x3), w0), vld1q_s8(x3 + 16), w1);
            if (n_chunks == 3) {
                a0 = vmladavaq_s8(a0, vld1q_s8(x0 + 32), w2);
                a1 = vmladavaq_s8(a1, vld1q_s8(x1 + 32), w2);
                a2 = vmladavaq_s8(a2, vld1q_s8(x2 + 32), w2);
                a3 = vmladavaq_s8(a3, vld1q_s8(x3 + 32), w2);
            }
        } else {
            int32_t k;
            a0 = a1 = a2 = a3 = bias;
            for (k = 0; k < n_chunks; ++k) {
                const int8x16_t wk = vld1q_s8(wbuf + 16 * k);
                a0 = vmladavaq_s8(a0, vld1q_s8(x0 + 16 * k), wk);
                a1 = vmladavaq_s8(a1, vld1q_s8(x1 + 16 * k), wk);
                a2 = vmladavaq_s8(a2, vld1q_s8(x2 + 16 * k), wk);
                a3 = vmladavaq_s8(a3, vld1q_s8(x3 + 16 * k), wk);
            }
        }
        vstrbq_scatter_offset_p_s32(y + t * step, off,
                                    dlk_mve_requant(dlk_mve_lanes(a0, a1, a2, a3), vm, vs, zp,
                                                    lo, hi),
                                    vctp32q((uint32_t)(out_w - t)));
    }
}

/* Filters [m0, m1) of channel c over the staged row s into sink (filter m at sink index m -
 * m0): blocks of 4 filters when the taps fit one chunk, else one filter at a time. */
static void filters(const dlk_dw1d_params_t *p, int32_t c, int32_t m0, int32_t m1,
                    const int8_t *s, int8_t *wbuf, const sink_t *sink)
{
    int32_t m = m0;
    if (p->n_taps <= 16 && m1 - m0 >= 2) {
        for (; m < m1; m += 4) {
            filters_x4(p, c, m, m1 - m < 4 ? m1 - m : 4, s, wbuf, sink, m - m0);
        }
    } else {
        for (; m < m1; ++m) {
            filter_x1(p, c, m, s, wbuf, sink, m - m0);
        }
    }
}

static void stage_input(const dlk_dw1d_params_t *p, const int8_t *input, int32_t r, int32_t c,
                        int8_t *s)
{
    stage_row(input + r * p->in_row_stride + c * p->in_c_stride, p->in_w_stride, p->in_w, p->pad,
              p->input_zero_point, s, row_bytes(p));
}

dlk_status_t dlk_dw1d_s8(const dlk_dw1d_params_t *params, const int8_t *input, int8_t *output,
                         int16_t *scratch, size_t scratch_len)
{
    int32_t r, c;
    const dlk_status_t st = dlk_dw1d_call_check(params, input, output, scratch, scratch_len);
    if (st != DLK_OK) {
        return st;
    }
    {
        int8_t *s = (int8_t *)(void *)scratch;
        int8_t *wbuf = s + row_bytes(params);
        const int32_t dm = params->depth_multiplier;
        const int32_t out_c = params->in_c * dm;
        sink_t sink;
        sink.out_step = out_c;
        sink.next = 0;
        sink.next_len = 0;
        sink.zp = params->output_zero_point;
        sink.lo = params->act_min;
        sink.hi = params->act_max;
        for (r = 0; r < params->rows; ++r) {
            for (c = 0; c < params->in_c; ++c) {
                stage_input(params, input, r, c, s);
                sink.out = output + r * params->out_w * out_c + c * dm;
                filters(params, c, 0, dm, s, wbuf, &sink);
            }
        }
    }
    return DLK_OK;
}

dlk_status_t dlk_dw1d_chain_s8(const dlk_dw1d_params_t *a, const dlk_dw1d_params_t *b,
                               const int8_t *input, int8_t *output, int16_t *scratch,
                               size_t scratch_len)
{
    int32_t r, c, m, j;
    const dlk_status_t st = dlk_dw1d_chain_check(a, b, input, output, scratch, scratch_len);
    if (st != DLK_OK) {
        return st;
    }
    {
        const int32_t len_a = DLK_DW1D_ROW_LEN(a->out_w, a->stride, a->n_taps);
        const int32_t len_b = DLK_DW1D_ROW_LEN(b->out_w, b->stride, b->n_taps);
        const int32_t dm = a->depth_multiplier;
        const int32_t out_c = b->in_c * b->depth_multiplier;
        int8_t *s_a = (int8_t *)(void *)scratch;
        int8_t *w_a = s_a + row_bytes(a);
        int8_t *s_b = (int8_t *)(void *)(scratch + len_a);
        int8_t *w_b = s_b + row_bytes(b);
        sink_t mid, out;
        /* b's staged rows (pitch 2 * len_b bytes): their padding (the zero point) written
         * once, a's outputs land between */
        for (j = 0; j < DLK_DW1D_CHAIN_BLOCK; ++j) {
            int8_t *row = s_b + j * 2 * len_b;
            stage_row(row, 1, 0, row_bytes(b), b->input_zero_point, row, row_bytes(b));
        }
        mid.out = 0;
        mid.out_step = 0;
        mid.next = s_b + b->pad;
        mid.next_len = 2 * len_b;
        mid.zp = a->output_zero_point;
        mid.lo = a->act_min;
        mid.hi = a->act_max;
        out.out_step = out_c;
        out.next = 0;
        out.next_len = 0;
        out.zp = b->output_zero_point;
        out.lo = b->act_min;
        out.hi = b->act_max;
        for (r = 0; r < a->rows; ++r) {
            for (c = 0; c < a->in_c; ++c) {
                stage_input(a, input, r, c, s_a);
                for (m = 0; m < dm; m += DLK_DW1D_CHAIN_BLOCK) {
                    const int32_t n = dm - m < DLK_DW1D_CHAIN_BLOCK ? dm - m
                                                                    : DLK_DW1D_CHAIN_BLOCK;
                    filters(a, c, m, m + n, s_a, w_a, &mid);
                    for (j = 0; j < n; ++j) {
                        const int32_t bc = c * dm + m + j;
                        out.out = output + r * b->out_w * out_c + bc * b->depth_multiplier;
                        filters(b, bc, 0, b->depth_multiplier, s_b + j * 2 * len_b, w_b, &out);
                    }
                }
            }
        }
    }
    return DLK_OK;
}
