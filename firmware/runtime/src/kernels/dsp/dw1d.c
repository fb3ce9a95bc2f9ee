/* dlink runtime, dsp backend: the 1-D depthwise fast path and its fused chain with SMLAD.
 *
 * Same signatures and bit-exact results as src/kernels/ref/dw1d.c. Each input channel's row is
 * staged once as int16 (x - zero point) with the padding as zeros, so no tap is ever tested
 * against the row's ends; a pair of int16 samples is then one 32-bit load, and with the
 * generator's weights pre-paired per tap (dlink/kernels.h) one SMLAD does two taps.
 * Blocking: 2 output samples x 4 filters per pass when the channel has 4 filters left (the 8
 * accumulators share every staged pair and weight load), else 4 samples x 1 filter. Each pass
 * ends with the exact inline requantisation (dlk_rq_fast, quant.h) of its accumulators: for a
 * plain output the zero point is folded into the rounding constant and SSAT clamps; in a chain
 * the value for the next layer's staged row is value - zero point, clamped by USAT or SSAT when
 * the activation range allows (ReLU6 with zero point -128 gives [0, 255]: one USAT).
 */
#include "dlink/internal.h"
#include "dlink/quant.h"
#include "dot.h"

/* Samples per segment: a pass fills a segment of raw accumulators (on the stack), then a tight
 * loop requantises them with the filter's constants in registers. */
#define SEG 64

/* Clamp modes of a row's outputs. */
enum { CLAMP_S8 = 0, CLAMP_U8 = 1, CLAMP_ANY = 2 };

/* Where a row's values go and how they are clamped: int8 samples out[t * step] (plain output)
 * or int16 next[t] (chain: the next layer's staged row, value minus the zero point). */
typedef struct {
    int8_t *out;
    int32_t step;
    int16_t *next;
    int32_t lo, hi, mode;
} dst_t;

static inline int32_t clamp_mode(int32_t lo, int32_t hi)
{
    return (lo == -128 && hi == 127) ? CLAMP_S8 : (lo == 0 && hi == 255) ? CLAMP_U8 : CLAMP_ANY;
}

static inline uint32_t ld32(const int16_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int32_t rq1(int32_t acc, int32_t m, uint32_t k_lo, int32_t k_hi, int32_t sh)
{
    return dlk_rq_fast(acc, m, k_lo, k_hi, sh);
}

/* Requantise n accumulators into d, from sample t0 on (two per pass: one loop test for two). */
static void put_row(const int32_t *acc, int32_t n, const dlk_chan_t *c, const dst_t *d, int32_t t0)
{
    const int32_t m = c->multiplier, k_hi = c->k_hi, sh = c->hi_shift;
    const uint32_t k_lo = c->k_lo;
    const int32_t *end = acc + (n & ~1);
    if (d->next != 0) {
        int16_t *y = d->next + t0;
        if (d->mode == CLAMP_U8) {
            for (; acc != end; acc += 2, y += 2) {
                y[0] = (int16_t)dlk_usat8(rq1(acc[0], m, k_lo, k_hi, sh));
                y[1] = (int16_t)dlk_usat8(rq1(acc[1], m, k_lo, k_hi, sh));
            }
            if (n & 1) {
                *y = (int16_t)dlk_usat8(rq1(*acc, m, k_lo, k_hi, sh));
            }
        } else if (d->mode == CLAMP_S8) {
            for (; acc != end; acc += 2, y += 2) {
                y[0] = (int16_t)dlk_ssat8(rq1(acc[0], m, k_lo, k_hi, sh));
                y[1] = (int16_t)dlk_ssat8(rq1(acc[1], m, k_lo, k_hi, sh));
            }
            if (n & 1) {
                *y = (int16_t)dlk_ssat8(rq1(*acc, m, k_lo, k_hi, sh));
            }
        } else {
            end = acc + n;
            for (; acc != end; ++acc, ++y) {
                *y = (int16_t)dlk_clamp(rq1(*acc, m, k_lo, k_hi, sh), d->lo, d->hi);
            }
        }
    } else {
        const int32_t step = d->step;
        int8_t *y = d->out + t0 * step;
        if (d->mode == CLAMP_S8) {
            for (; acc != end; acc += 2) {
                *y = (int8_t)dlk_ssat8(rq1(acc[0], m, k_lo, k_hi, sh));
                y += step;
                *y = (int8_t)dlk_ssat8(rq1(acc[1], m, k_lo, k_hi, sh));
                y += step;
            }
            if (n & 1) {
                *y = (int8_t)dlk_ssat8(rq1(*acc, m, k_lo, k_hi, sh));
            }
        } else {
            end = acc + n;
            for (; acc != end; ++acc, y += step) {
                *y = (int8_t)dlk_clamp(rq1(*acc, m, k_lo, k_hi, sh), d->lo, d->hi);
            }
        }
    }
}

/* One tap pair of 4 filters (weights at wp, advanced past them) for the staged pairs xa, xb of
 * two samples: two LDRDs bring the 4 filters' weight pairs. */
#define X4_PAIR(wp)                                                                          \
    do {                                                                                     \
        uint32_t v0_, v1_;                                                                   \
        wp = dlk_ldrd(wp, &v0_, &v1_);                                                       \
        a0 = dlk_smlad(xa, v0_, a0);                                                         \
        b0 = dlk_smlad(xb, v0_, b0);                                                         \
        a1 = dlk_smlad(xa, v1_, a1);                                                         \
        b1 = dlk_smlad(xb, v1_, b1);                                                         \
        wp = dlk_ldrd(wp, &v0_, &v1_);                                                       \
        a2 = dlk_smlad(xa, v0_, a2);                                                         \
        b2 = dlk_smlad(xb, v0_, b2);                                                         \
        a3 = dlk_smlad(xa, v1_, a3);                                                         \
        b3 = dlk_smlad(xb, v1_, b3);                                                         \
    } while (0)

/* Tap pair j (a constant) of 4 filters for samples x, x + 1 (stride 1), all offsets immediate:
 * 2 LDR + 2 LDRD + 8 SMLAD, nothing else. */
#define X4_PAIR_AT(j)                                                                        \
    do {                                                                                     \
        const uint32_t xa_ = ld32(x + 2 * (j)), xb_ = ld32(x + 2 * (j) + 1);                 \
        uint32_t v0_, v1_;                                                                   \
        DLK_LDRD_AT(w32, 4 * (j), v0_, v1_);                                                 \
        a0 = dlk_smlad(xa_, v0_, a0);                                                        \
        b0 = dlk_smlad(xb_, v0_, b0);                                                        \
        a1 = dlk_smlad(xa_, v1_, a1);                                                        \
        b1 = dlk_smlad(xb_, v1_, b1);                                                        \
        DLK_LDRD_AT(w32, 4 * (j) + 2, v0_, v1_);                                             \
        a2 = dlk_smlad(xa_, v0_, a2);                                                        \
        b2 = dlk_smlad(xb_, v0_, b2);                                                        \
        a3 = dlk_smlad(xa_, v1_, a3);                                                        \
        b3 = dlk_smlad(xb_, v1_, b3);                                                        \
    } while (0)

#define FALL __attribute__((fallthrough))
/* Tap pairs n-1 .. 0 with no loop: a jump into a run of 32 unrolled pairs (n <= 32). */
#define X4_PAIRS_UNROLLED(n)                                                                 \
    switch (n) {                                                                             \
    case 32: X4_PAIR_AT(31); FALL;                                                           \
    case 31: X4_PAIR_AT(30); FALL;                                                           \
    case 30: X4_PAIR_AT(29); FALL;                                                           \
    case 29: X4_PAIR_AT(28); FALL;                                                           \
    case 28: X4_PAIR_AT(27); FALL;                                                           \
    case 27: X4_PAIR_AT(26); FALL;                                                           \
    case 26: X4_PAIR_AT(25); FALL;                                                           \
    case 25: X4_PAIR_AT(24); FALL;                                                           \
    case 24: X4_PAIR_AT(23); FALL;                                                           \
    case 23: X4_PAIR_AT(22); FALL;                                                           \
    case 22: X4_PAIR_AT(21); FALL;                                                           \
    case 21: X4_PAIR_AT(20); FALL;                                                           \
    case 20: X4_PAIR_AT(19); FALL;                                                           \
    case 19: X4_PAIR_AT(18); FALL;                                                           \
    case 18: X4_PAIR_AT(17); FALL;                                                           \
    case 17: X4_PAIR_AT(16); FALL;                                                           \
    case 16: X4_PAIR_AT(15); FALL;                                                           \
    case 15: X4_PAIR_AT(14); FALL;                                                           \
    case 14: X4_PAIR_AT(13); FALL;                                                           \
    case 13: X4_PAIR_AT(12); FALL;                                                           \
    case 12: X4_PAIR_AT(11); FALL;                                                           \
    case 11: X4_PAIR_AT(10); FALL;                                                           \
    case 10: X4_PAIR_AT(9); FALL;                                                            \
    case 9: X4_PAIR_AT(8); FALL;                                                             \
    case 8: X4_PAIR_AT(7); FALL;                                                             \
    case 7: X4_PAIR_AT(6); FALL;                                                             \
    case 6: X4_PAIR_AT(5); FALL;                                                             \
    case 5: X4_PAIR_AT(4); FALL;                                                             \
    case 4: X4_PAIR_AT(3); FALL;                                                             \
    case 3: X4_PAIR_AT(2); FALL;                                                             \
    case 2: X4_PAIR_AT(1); FALL;                                                             \
    case 1: X4_PAIR_AT(0); FALL;                                                             \
    default: break;                                                                          \
    }

/* Raw accumulators of 4 filters (weights [pair][4][2] from w) for samples [t0, t0 + n) of the
 * staged row s: acc[k * SEG + i] for filter k, sample t0 + i. 2 samples per pass, 2 tap pairs
 * per loop turn. */
static void block_x4(const int16_t *s, int32_t st, int32_t t0, int32_t n, const int16_t *w,
                     int32_t n_pairs, const dlk_chan_t *c, int32_t *acc)
{
    const uint32_t *w32 = (const uint32_t *)(const void *)w; /* 16-byte aligned (generator) */
    const uint32_t *w_end2 = w32 + 8 * (n_pairs / 2);          /* whole double pairs */
    const int32_t odd = n_pairs & 1;
    int32_t i = 0;
    if (st == 1) {
        /* stride 1: the second sample's pair is the next halfword (an immediate offset), one
         * register fewer, so one tap pair per loop turn stays in registers */
        const uint32_t *w_end = w32 + 4 * n_pairs;
        for (; i + 2 <= n; i += 2) {
            const int16_t *x = s + t0 + i;
            const uint32_t *wp = w32;
            int32_t a0 = c[0].bias, a1 = c[1].bias, a2 = c[2].bias, a3 = c[3].bias;
            int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
            do {
                const uint32_t xa = ld32(x), xb = ld32(x + 1);
                X4_PAIR(wp);
                x += 2;
            } while (wp != w_end);
            acc[i] = a0;
            acc[i + 1] = b0;
            acc[SEG + i] = a1;
            acc[SEG + i + 1] = b1;
            acc[2 * SEG + i] = a2;
            acc[2 * SEG + i + 1] = b2;
            acc[3 * SEG + i] = a3;
            acc[3 * SEG + i + 1] = b3;
        }
    }
    for (; i + 2 <= n; i += 2) {
        const int16_t *x = s + (t0 + i) * st;
        const uint32_t *wp = w32;
        int32_t a0 = c[0].bias, a1 = c[1].bias, a2 = c[2].bias, a3 = c[3].bias;
        int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
        uint32_t xa, xb;
        while (wp != w_end2) {
            xa = ld32(x);
            xb = ld32(x + st);
            X4_PAIR(wp);
            xa = ld32(x + 2);
            xb = ld32(x + 2 + st);
            X4_PAIR(wp);
            x += 4;
        }
        if (odd) {
            xa = ld32(x);
            xb = ld32(x + st);
            X4_PAIR(wp);
        }
        acc[i] = a0;
        acc[i + 1] = b0;
        acc[SEG + i] = a1;
        acc[SEG + i + 1] = b1;
        acc[2 * SEG + i] = a2;
        acc[2 * SEG + i + 1] = b2;
        acc[3 * SEG + i] = a3;
        acc[3 * SEG + i + 1] = b3;
    }
    if (i < n) {
        const int16_t *x = s + (t0 + i) * st;
        const int16_t *wp = w;
        const int16_t *w_end = w + 8 * n_pairs;
        int32_t a0 = c[0].bias, a1 = c[1].bias, a2 = c[2].bias, a3 = c[3].bias;
        do {
            const uint32_t xa = ld32(x);
            a0 = dlk_smlad(xa, ld32(wp), a0);
            a1 = dlk_smlad(xa, ld32(wp + 2), a1);
            a2 = dlk_smlad(xa, ld32(wp + 4), a2);
            a3 = dlk_smlad(xa, ld32(wp + 6), a3);
            x += 2;
            wp += 8;
        } while (wp != w_end);
        acc[i] = a0;
        acc[SEG + i] = a1;
        acc[2 * SEG + i] = a2;
        acc[3 * SEG + i] = a3;
    }
}

/* Two requantised values of one filter as the next layer's staged pair (one word store):
 * USAT keeps them in [0, 255], so the pair packs with one ORR; SSAT ones need their low
 * halves masked. */
static inline void put2_usat(int32_t a, int32_t b, const dlk_chan_t *c, int16_t *y)
{
    const uint32_t u = (uint32_t)dlk_usat8(rq1(a, c->multiplier, c->k_lo, c->k_hi, c->hi_shift));
    const uint32_t v = (uint32_t)dlk_usat8(rq1(b, c->multiplier, c->k_lo, c->k_hi, c->hi_shift));
    const uint32_t word = u | (v << 16);
    memcpy(y, &word, sizeof word);
}

static inline void put2_ssat(int32_t a, int32_t b, const dlk_chan_t *c, int16_t *y)
{
    const uint32_t u = (uint32_t)dlk_ssat8(rq1(a, c->multiplier, c->k_lo, c->k_hi, c->hi_shift));
    const uint32_t v = (uint32_t)dlk_ssat8(rq1(b, c->multiplier, c->k_lo, c->k_hi, c->hi_shift));
    const uint32_t word = dlk_pkhbt(u, v);
    memcpy(y, &word, sizeof word);
}

/* The 4 filters' accumulators for one sample x (kept out of line: the hot pass's code stays
 * as it is). */
__attribute__((noinline)) static void last_x4(const int16_t *x, const uint32_t *w32,
                                              int32_t n_pairs, const dlk_chan_t *c, int32_t *acc)
{
    int32_t k, j;
    for (k = 0; k < 4; ++k) {
        int32_t a = c[k].bias;
        for (j = 0; j < n_pairs; ++j) {
            a = dlk_smlad(ld32(x + 2 * j), w32[4 * j + k], a);
        }
        acc[k] = a;
    }
}

/* block_x4 for stride 1 in a chain, requantising in place: 4 filters x 2 samples per pass and
 * their 8 values written straight into the next layer's 4 staged rows (pitch next_len), clamped
 * by USAT or SSAT (PUT). Saves the accumulators' round trip through memory. */
#define DEFINE_BLOCK_X4_NEXT(NAME, PUT, SAT)                                                    \
    static void NAME(const int16_t *s, int32_t out_w, const int16_t *w, int32_t n_pairs,       \
                     const dlk_chan_t *c, int16_t *next, int32_t next_len)                          \
    {                                                                                           \
        const uint32_t *w32 = (const uint32_t *)(const void *)w;                                \
        const uint32_t *w_end = w32 + 4 * n_pairs;                                              \
        int32_t t = 0;                                                                          \
        for (; t + 2 <= out_w; t += 2) {                                                        \
            const int16_t *x = s + t;                                                           \
            const uint32_t *wp = w32;                                                           \
            int32_t a0 = c[0].bias, a1 = c[1].bias, a2 = c[2].bias, a3 = c[3].bias;             \
            int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;                                         \
            if (n_pairs <= 32) {                                                                \
                X4_PAIRS_UNROLLED(n_pairs)                                                      \
            } else {                                                                            \
                do {                                                                            \
                    const uint32_t xa = ld32(x), xb = ld32(x + 1);                              \
                    X4_PAIR(wp);                                                                \
                    x += 2;                                                                     \
                } while (wp != w_end);                                                          \
            }                                                                                   \
            PUT(a0, b0, &c[0], next + t);                                                       \
            PUT(a1, b1, &c[1], next + next_len + t);                                            \
            PUT(a2, b2, &c[2], next + 2 * next_len + t);                                        \
            PUT(a3, b3, &c[3], next + 3 * next_len + t);                                        \
        }                                                                                       \
        if (t < out_w) { /* an odd last sample */                                               \
            int32_t acc[4];                                                                     \
            int32_t k;                                                                          \
            last_x4(s + t, w32, n_pairs, c, acc);                                               \
            for (k = 0; k < 4; ++k) {                                                           \
                next[k * next_len + t] = (int16_t)SAT(rq1(acc[k], c[k].multiplier, c[k].k_lo,   \
                                                          c[k].k_hi, c[k].hi_shift));           \
            }                                                                                   \
        }                                                                                       \
    }

DEFINE_BLOCK_X4_NEXT(block_x4_next_usat, put2_usat, dlk_usat8)
DEFINE_BLOCK_X4_NEXT(block_x4_next_ssat, put2_ssat, dlk_ssat8)

/* Raw accumulators of one filter (its tap pair j at w + 2 * j * nb) for samples [t0, t0 + n),
 * 4 samples per pass. */
static void filter_x1(const int16_t *s, int32_t st, int32_t t0, int32_t n, const int16_t *w,
                      int32_t nb, int32_t n_pairs, int32_t bias, int32_t *acc)
{
    const int32_t w_step = 2 * nb;
    const int16_t *w_end = w + w_step * n_pairs;
    const int32_t s1 = st, s2 = 2 * st, s3 = 3 * st;
    int32_t i = 0;
    if (nb == 1 && (st & 1) == 0) {
        /* one filter's pairs are contiguous and every staged pair is word aligned: LDRD
         * brings two tap pairs of the filter, and two of each sample */
        const uint32_t *w32 = (const uint32_t *)(const void *)w;
        const uint32_t *w_end2 = w32 + 2 * (n_pairs / 2);
        for (; i + 4 <= n; i += 4) {
            const uint32_t *x0 = (const uint32_t *)(const void *)(s + (t0 + i) * st);
            const uint32_t *x1 = x0 + s1 / 2, *x2 = x0 + s2 / 2, *x3 = x0 + s3 / 2;
            const uint32_t *wp = w32;
            int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;
            uint32_t v0, v1, p0, p1;
            {
                while (wp != w_end2) {
                    wp = dlk_ldrd(wp, &v0, &v1);
                    x0 = dlk_ldrd(x0, &p0, &p1);
                    a0 = dlk_smlad(p1, v1, dlk_smlad(p0, v0, a0));
                    x1 = dlk_ldrd(x1, &p0, &p1);
                    a1 = dlk_smlad(p1, v1, dlk_smlad(p0, v0, a1));
                    x2 = dlk_ldrd(x2, &p0, &p1);
                    a2 = dlk_smlad(p1, v1, dlk_smlad(p0, v0, a2));
                    x3 = dlk_ldrd(x3, &p0, &p1);
                    a3 = dlk_smlad(p1, v1, dlk_smlad(p0, v0, a3));
                }
            }
            if (n_pairs & 1) {
                v0 = *wp;
                a0 = dlk_smlad(*x0, v0, a0);
                a1 = dlk_smlad(*x1, v0, a1);
                a2 = dlk_smlad(*x2, v0, a2);
                a3 = dlk_smlad(*x3, v0, a3);
            }
            acc[i] = a0;
            acc[i + 1] = a1;
            acc[i + 2] = a2;
            acc[i + 3] = a3;
        }
    }
    for (; i + 4 <= n; i += 4) {
        const int16_t *x = s + (t0 + i) * st;
        const int16_t *wp = w;
        int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;
        do {
            const uint32_t v = ld32(wp);
            a0 = dlk_smlad(ld32(x), v, a0);
            a1 = dlk_smlad(ld32(x + s1), v, a1);
            a2 = dlk_smlad(ld32(x + s2), v, a2);
            a3 = dlk_smlad(ld32(x + s3), v, a3);
            x += 2;
            wp += w_step;
        } while (wp != w_end);
        acc[i] = a0;
        acc[i + 1] = a1;
        acc[i + 2] = a2;
        acc[i + 3] = a3;
    }
    for (; i < n; ++i) {
        const int16_t *x = s + (t0 + i) * st;
        const int16_t *wp = w;
        int32_t a = bias;
        do {
            a = dlk_smlad(ld32(x), ld32(wp), a);
            x += 2;
            wp += w_step;
        } while (wp != w_end);
        acc[i] = a;
    }
}

/* s[j] = x[(j - pad) * step] - zp for j in [pad, pad + in_w), 0 elsewhere in [0, len). */
static void stage_row(const int8_t *x, int32_t step, int32_t in_w, int32_t pad, int32_t zp,
                      int16_t *s, int32_t len)
{
    int32_t j = 0;
    const int32_t end = pad + in_w < len ? pad + in_w : len;
    for (; j < pad && j < len; ++j) {
        s[j] = 0;
    }
    if (step == 1) {
        const uint32_t off = dlk_dup16(-zp);
        const int8_t *p = x + (j - pad);
        for (; j + 4 <= end; j += 4, p += 4) {
            uint32_t v, e, o, lo, hi;
            memcpy(&v, p, sizeof v);
            e = dlk_sadd16(dlk_sxtb16(v), off);       /* x0, x2 */
            o = dlk_sadd16(dlk_sxtb16_ror8(v), off); /* x1, x3 */
            lo = dlk_pkhbt(e, o);
            hi = dlk_pkhtb(o, e);
            memcpy(s + j, &lo, sizeof lo);
            memcpy(s + j + 2, &hi, sizeof hi);
        }
    }
    {
        /* two samples per turn, one word store */
        const int8_t *p = x + (j - pad) * step;
        for (; j + 2 <= end; j += 2, p += 2 * step) {
            const uint32_t w = dlk_pkhbt((uint32_t)((int32_t)p[0] - zp),
                                         (uint32_t)((int32_t)p[step] - zp));
            memcpy(s + j, &w, sizeof w);
        }
    }
    for (; j < end; ++j) {
        s[j] = (int16_t)((int32_t)x[(j - pad) * step] - zp);
    }
    for (; j < len; ++j) {
        s[j] = 0;
    }
}

/* Layer p, input channel c, filters [m0, m1) over the staged row s: filter m's values go to
 * d0 shifted by m - m0 (out + (m - m0) for a plain output, next + (m - m0) * next_len in a
 * chain). fold_zp: the output zero point goes into the rounding constant. */
static void channel(const dlk_dw1d_params_t *p, int32_t c, int32_t m0, int32_t m1,
                    const int16_t *s, const dst_t *d0, int32_t next_len, int32_t fold_zp)
{
    const int32_t dm = p->depth_multiplier;
    const int32_t n_pairs = (p->n_taps + 1) / 2;
    const int16_t *w_c = p->weights + 2 * c * n_pairs * dm;
    const dlk_channel_quant_t *q = p->quant + c * dm;
    const int32_t zp = fold_zp ? p->output_zero_point : 0;
    int32_t acc[4 * SEG];
    dlk_chan_t ch[4];
    dst_t d[4];
    int32_t m = m0;
    while (m < m1) {
        const int32_t blk = m / 4;
        const int32_t nb = dm - 4 * blk < 4 ? dm - 4 * blk : 4;
        const int16_t *w_b = w_c + 2 * 4 * blk * n_pairs;
        const int32_t n_f = (m % 4 == 0 && nb == 4 && m + 4 <= m1) ? 4 : 1;
        int32_t k, t0;
        for (k = 0; k < n_f; ++k) {
            ch[k] = dlk_chan_make(&q[m + k], zp);
            d[k] = *d0;
            if (d0->next != 0) {
                d[k].next += (m + k - m0) * next_len;
            } else {
                d[k].out += m + k - m0;
            }
        }
        if (n_f == 4 && p->stride == 1 && d0->next != 0 && d0->mode != CLAMP_ANY) {
            if (d0->mode == CLAMP_U8) {
                block_x4_next_usat(s, p->out_w, w_b, n_pairs, ch, d[0].next, next_len);
            } else {
                block_x4_next_ssat(s, p->out_w, w_b, n_pairs, ch, d[0].next, next_len);
            }
            m += 4;
            continue;
        }
        for (t0 = 0; t0 < p->out_w; t0 += SEG) {
            const int32_t n = p->out_w - t0 < SEG ? p->out_w - t0 : SEG;
            if (n_f == 4) {
                block_x4(s, p->stride, t0, n, w_b, n_pairs, ch, acc);
            } else {
                filter_x1(s, p->stride, t0, n, w_b + 2 * (m % 4), nb, n_pairs, ch[0].bias, acc);
            }
            for (k = 0; k < n_f; ++k) {
                put_row(acc + k * SEG, n, &ch[k], &d[k], t0);
            }
        }
        m += n_f;
    }
}

static void stage_input(const dlk_dw1d_params_t *p, const int8_t *input, int32_t r, int32_t c,
                        int16_t *s)
{
    stage_row(input + r * p->in_row_stride + c * p->in_c_stride, p->in_w_stride, p->in_w, p->pad,
              p->input_zero_point, s, DLK_DW1D_ROW_LEN(p->out_w, p->stride, p->n_taps));
}

/* A plain (int8 NHWC) destination with the zero point folded into the constants. */
static dst_t plain_dst(const dlk_dw1d_params_t *p, int8_t *out, int32_t step)
{
    dst_t d;
    d.out = out;
    d.step = step;
    d.next = 0;
    d.lo = p->act_min;
    d.hi = p->act_max;
    d.mode = clamp_mode(p->act_min, p->act_max) == CLAMP_S8 ? CLAMP_S8 : CLAMP_ANY;
    return d;
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
        const int32_t dm = params->depth_multiplier;
        const int32_t out_c = params->in_c * dm;
        for (r = 0; r < params->rows; ++r) {
            for (c = 0; c < params->in_c; ++c) {
                const dst_t d = plain_dst(params, output + r * params->out_w * out_c + c * dm,
                                          out_c);
                stage_input(params, input, r, c, scratch);
                channel(params, c, 0, dm, scratch, &d, 0, 1);
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
        int16_t *rows_b = scratch + len_a;
        dst_t mid;
        /* b's padding, written once: a's outputs land in [pad, pad + in_w) of each row */
        for (j = 0; j < DLK_DW1D_CHAIN_BLOCK * len_b; ++j) {
            rows_b[j] = 0;
        }
        /* a's value minus its zero point is b's staged sample: clamp to the shifted range */
        mid.out = 0;
        mid.step = 0;
        mid.next = rows_b + b->pad;
        mid.lo = a->act_min - a->output_zero_point;
        mid.hi = a->act_max - a->output_zero_point;
        mid.mode = clamp_mode(mid.lo, mid.hi);
        for (r = 0; r < a->rows; ++r) {
            for (c = 0; c < a->in_c; ++c) {
                stage_input(a, input, r, c, scratch);
                for (m = 0; m < dm; m += DLK_DW1D_CHAIN_BLOCK) {
                    const int32_t n = dm - m < DLK_DW1D_CHAIN_BLOCK ? dm - m
                                                                    : DLK_DW1D_CHAIN_BLOCK;
                    channel(a, c, m, m + n, scratch, &mid, len_b, 0);
                    for (j = 0; j < n; ++j) {
                        const int32_t bc = c * dm + m + j;
                        const dst_t d = plain_dst(
                            b, output + r * b->out_w * out_c + bc * b->depth_multiplier, out_c);
                        channel(b, bc, 0, b->depth_multiplier, rows_b + j * len_b, &d, 0, 1);
                    }
                }
            }
        }
    }
    return DLK_OK;
}
