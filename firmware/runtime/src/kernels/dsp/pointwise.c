/* dlink runtime, dsp backend: the pointwise (1x1 CONV_2D) fast path as a matrix product with
 * SMLAD; same signature and bit-exact results as src/kernels/ref/pointwise.c.
 *
 * Two pixels at a time are staged into the scratch: SXTB16 splits four int8 inputs into the
 * pairs (x0, x2) and (x1, x3), the order the generator pre-paired the weights in, and the two
 * pixels' pairs are interleaved so one LDRD brings a pair of each. The input zero point is
 * folded into the bias, so the raw inputs are multiplied. Then 2 pixels x 2 output channels are
 * accumulated in registers, a group of 4 input channels (2 pairs) per loop turn: 4 LDRDs feed
 * 8 SMLADs. Requantisation is dlk_rq_fast with the output zero point folded into the rounding
 * constant, so SSAT alone clamps when the activation range is int8's. Output channels go in
 * blocks whose constants are unpacked once per call.
 */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "dot.h"

#define PW_OC_BLOCK 16

/* The word holding input channels 4g..4g+3 of a pixel (zeros past in_c). */
static inline uint32_t load4(const int8_t *x, int32_t g, int32_t in_c)
{
    uint32_t v = 0;
    const int32_t k = 4 * g;
    if (k + 4 <= in_c) {
        memcpy(&v, x + k, sizeof v);
    } else {
        int32_t i;
        for (i = 0; k + i < in_c; ++i) {
            v |= (uint32_t)(uint8_t)x[k + i] << (8 * i);
        }
    }
    return v;
}

/* Staged pairs of pixels x0 and x1: s[2j + p] = pair j of pixel p (SXTB16 order). */
static void stage2(const int8_t *x0, const int8_t *x1, int32_t in_c, int32_t n_groups,
                   uint32_t *s)
{
    const int32_t whole = in_c / 4;
    int32_t g;
    for (g = 0; g < whole; ++g, s += 4) {
        uint32_t v0, v1;
        memcpy(&v0, x0 + 4 * g, sizeof v0);
        memcpy(&v1, x1 + 4 * g, sizeof v1);
        s[0] = dlk_sxtb16(v0);
        s[1] = dlk_sxtb16(v1);
        s[2] = dlk_sxtb16_ror8(v0);
        s[3] = dlk_sxtb16_ror8(v1);
    }
    for (; g < n_groups; ++g, s += 4) {
        const uint32_t v0 = load4(x0, g, in_c), v1 = load4(x1, g, in_c);
        s[0] = dlk_sxtb16(v0);
        s[1] = dlk_sxtb16(v1);
        s[2] = dlk_sxtb16_ror8(v0);
        s[3] = dlk_sxtb16_ror8(v1);
    }
}

/* Accumulators of output channels w0 and w1 (their pairs) for the two staged pixels. */
static inline void mac2x2(const uint32_t *sp, const uint32_t *s_end, const uint32_t *w0,
                          const uint32_t *w1, int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    do { /* one group of 4 channels (2 pairs) per turn: 4 LDRDs, 8 SMLADs */
        uint32_t xa0, xb0, xa1, xb1, u, v;
        sp = dlk_ldrd(sp, &xa0, &xb0);
        sp = dlk_ldrd(sp, &xa1, &xb1);
        w0 = dlk_ldrd(w0, &u, &v);
        a00 = dlk_smlad(xa1, v, dlk_smlad(xa0, u, a00));
        a10 = dlk_smlad(xb1, v, dlk_smlad(xb0, u, a10));
        w1 = dlk_ldrd(w1, &u, &v);
        a01 = dlk_smlad(xa1, v, dlk_smlad(xa0, u, a01));
        a11 = dlk_smlad(xb1, v, dlk_smlad(xb0, u, a11));
    } while (sp != s_end);
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

static inline int32_t rq(int32_t acc, const dlk_chan_t *c)
{
    return dlk_rq_fast(acc, c->multiplier, c->k_lo, c->k_hi, c->hi_shift);
}

/* Two outputs of one channel (its constants loaded once): a to *ya, b to *yb. */
#define DEFINE_PUT2(NAME, CLAMP)                                                                \
    static inline void NAME(int32_t a, int32_t b, const dlk_chan_t *c, int8_t *ya, int8_t *yb,      \
                            int32_t lo, int32_t hi)                                             \
    {                                                                                           \
        const int32_t m = c->multiplier, k_hi = c->k_hi, sh = c->hi_shift;                      \
        const uint32_t k_lo = c->k_lo;                                                          \
        const int32_t u = dlk_rq_fast(a, m, k_lo, k_hi, sh), v = dlk_rq_fast(b, m, k_lo, k_hi, sh); \
        (void)lo;                                                                               \
        (void)hi;                                                                               \
        *ya = (int8_t)CLAMP(u);                                                                 \
        *yb = (int8_t)CLAMP(v);                                                                 \
    }

/* Output channels [o0, o0 + n_oc) of all pixels, PUT2 clamping. */
#define DEFINE_PW_BLOCK(NAME, put2)                                                             \
    static void NAME(const dlk_pw_params_t *p, const int8_t *input, int8_t *output,             \
                     uint32_t *staged, const dlk_chan_t *chans, int32_t o0, int32_t n_oc)           \
    {                                                                                           \
        const int32_t in_c = p->in_c, out_c = p->out_c;                                         \
        const int32_t n_groups = (in_c + 3) / 4;                                                \
        const int32_t n_pairs = 2 * n_groups;                                                   \
        const int32_t lo = p->act_min, hi = p->act_max;                                         \
        const uint32_t *s_end = staged + 2 * n_pairs;                                           \
        const uint32_t *w_base = (const uint32_t *)(const void *)p->weights;                    \
        int32_t px, o;                                                                          \
        for (px = 0; px < p->n_pixels; px += 2) {                                               \
            const int8_t *x0 = input + px * in_c;                                               \
            const int32_t two = px + 1 < p->n_pixels;                                           \
            int8_t *y0 = output + px * out_c + o0;                                              \
            int8_t *y1 = two ? y0 + out_c : y0;                                                 \
            stage2(x0, two ? x0 + in_c : x0, in_c, n_groups, staged);                           \
            {                                                                                   \
                const uint32_t *w0 = w_base + o0 * n_pairs;                                     \
                const dlk_chan_t *c = chans;                                                        \
                for (o = 0; o + 2 <= n_oc; o += 2, c += 2, w0 += 2 * n_pairs) {                 \
                    int32_t acc[4];                                                             \
                    acc[0] = acc[2] = c[0].bias;                                                \
                    acc[1] = acc[3] = c[1].bias;                                                \
                    mac2x2(staged, s_end, w0, w0 + n_pairs, acc);                               \
                    put2(acc[3], acc[1], &c[1], y1 + o + 1, y0 + o + 1, lo, hi);                \
                    put2(acc[2], acc[0], &c[0], y1 + o, y0 + o, lo, hi);                        \
                }                                                                               \
                if (o < n_oc) { /* odd last channel: its accumulator pair computed twice */     \
                    int32_t acc[4];                                                             \
                    acc[0] = acc[1] = acc[2] = acc[3] = c[0].bias;                              \
                    mac2x2(staged, s_end, w0, w0, acc);                                         \
                    put2(acc[2], acc[0], &c[0], y1 + o, y0 + o, lo, hi);                        \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }

#define CLAMP_FULL(v) dlk_ssat8(v)
#define CLAMP_RANGE(v) dlk_clamp(v, lo, hi)
DEFINE_PUT2(put2_full, CLAMP_FULL)
DEFINE_PUT2(put2_range, CLAMP_RANGE)
DEFINE_PW_BLOCK(pw_block_full, put2_full)
DEFINE_PW_BLOCK(pw_block_range, put2_range)

dlk_status_t dlk_pointwise_s8(const dlk_pw_params_t *params, const int8_t *input,
                              int8_t *output, int16_t *scratch, size_t scratch_len)
{
    const dlk_status_t st = dlk_pw_check(params, input, output, scratch, scratch_len);
    if (st != DLK_OK) {
        return st;
    }
    {
        const int32_t zp = params->output_zero_point;
        const int32_t full = params->act_min == -128 && params->act_max == 127;
        uint32_t *staged = (uint32_t *)(void *)scratch; /* 2 pixels, aligned by the planner */
        dlk_chan_t chans[PW_OC_BLOCK];
        int32_t o0, o;
        for (o0 = 0; o0 < params->out_c; o0 += PW_OC_BLOCK) {
            const int32_t n_oc = params->out_c - o0 < PW_OC_BLOCK ? params->out_c - o0
                                                                  : PW_OC_BLOCK;
            for (o = 0; o < n_oc; ++o) {
                chans[o] = dlk_chan_make(&params->quant[o0 + o], zp);
            }
            if (full) {
                pw_block_full(params, input, output, staged, chans, o0, n_oc);
            } else {
                pw_block_range(params, input, output, staged, chans, o0, n_oc);
            }
        }
    }
    return DLK_OK;
}
