/* dlink runtime, dsp backend: int8 dot product with SMLAD (two 16x16 MACs per instruction).
 *
 * dlk_dsp_dot_s8(w, x, n, zx) = sum_i w[i] * (x[i] - zx), exactly the integer the ref kernels
 * accumulate (integer addition is associative, so the order does not change the result).
 * Four int8 lanes are loaded per step; SXTB16 sign-extends bytes 0/2 and (after ROR 8) 1/3
 * into 16-bit pairs, SADD16 subtracts the zero point, SMLAD multiplies and accumulates
 * (SMLABB / SMLATT for per-lane accumulators, as the depthwise kernel needs).
 * On cores with the DSP extension (__ARM_FEATURE_SIMD32: M4, M7, M33, M55) the ACLE intrinsics
 * are used; elsewhere (the host, M0) the same operations are emulated in portable C, so the
 * backend is testable bit-exactly on the host.
 */
#ifndef DLINK_DSP_DOT_H
#define DLINK_DSP_DOT_H

#include <stdint.h>
#include <string.h>

#include "dlink/kernels.h"
#include "dlink/quant.h"

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
static inline uint32_t dlk_sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int8x4_t)x); }
static inline uint32_t dlk_ror8(uint32_t x) { return (x >> 8) | (x << 24); } /* one ROR */
static inline uint32_t dlk_sadd16(uint32_t a, uint32_t b)
{
    return (uint32_t)__sadd16((int16x2_t)a, (int16x2_t)b);
}
static inline int32_t dlk_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int16x2_t)a, (int16x2_t)b, acc);
}
static inline int32_t dlk_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}
static inline int32_t dlk_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt((int32_t)a, (int32_t)b, acc);
}
/* SSAT / USAT to 8 bits (the builtins behind ACLE's __ssat/__usat, whose macros trip
 * -Wsign-conversion) */
static inline int32_t dlk_ssat8(int32_t v) { return (int32_t)__builtin_arm_ssat(v, 8); }
static inline int32_t dlk_usat8(int32_t v) { return (int32_t)__builtin_arm_usat(v, 8); }
#else
static inline uint32_t dlk_pack16(int32_t lo, int32_t hi)
{
    return (uint32_t)(uint16_t)(int16_t)lo | ((uint32_t)(uint16_t)(int16_t)hi << 16);
}
static inline int32_t dlk_lo16(uint32_t x) { return (int16_t)(uint16_t)(x & 0xffffu); }
static inline int32_t dlk_hi16(uint32_t x) { return (int16_t)(uint16_t)(x >> 16); }
static inline uint32_t dlk_sxtb16(uint32_t x)
{
    return dlk_pack16((int8_t)(uint8_t)(x & 0xffu), (int8_t)(uint8_t)((x >> 16) & 0xffu));
}
static inline uint32_t dlk_ror8(uint32_t x) { return (x >> 8) | (x << 24); }
static inline uint32_t dlk_sadd16(uint32_t a, uint32_t b)
{
    return dlk_pack16(dlk_lo16(a) + dlk_lo16(b), dlk_hi16(a) + dlk_hi16(b));
}
static inline int32_t dlk_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + dlk_lo16(a) * dlk_lo16(b) + dlk_hi16(a) * dlk_hi16(b);
}
static inline int32_t dlk_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + dlk_lo16(a) * dlk_lo16(b);
}
static inline int32_t dlk_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + dlk_hi16(a) * dlk_hi16(b);
}
static inline int32_t dlk_ssat8(int32_t v) { return v < -128 ? -128 : (v > 127 ? 127 : v); }
static inline int32_t dlk_usat8(int32_t v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }
#endif

/* Two consecutive words from a 4-byte-aligned p in one LDRD, returning p + 2. GCC does not pair
 * the loads of a loop into LDRD by itself, so on Arm it is written out (the "m" operand tells the
 * compiler which bytes it reads); elsewhere two plain loads. */
static inline const uint32_t *dlk_ldrd(const uint32_t *p, uint32_t *lo, uint32_t *hi)
{
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
    uint32_t a, b;
    __asm__("ldrd %0, %1, [%2], #8"
            : "=&r"(a), "=&r"(b), "+r"(p)
            : "m"(*(const uint32_t(*)[2])p));
    *lo = a;
    *hi = b;
    return p;
#else
    memcpy(lo, p, sizeof *lo);
    memcpy(hi, p + 1, sizeof *hi);
    return p + 2;
#endif
}

/* DLK_LDRD_AT(p, k, lo, hi): words k and k+1 of a 4-byte-aligned p (k a constant below 255)
 * with one LDRD and an immediate offset, p unchanged: fully unrolled loops (below) index their
 * operands this way and need no pointer updates. */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
#define DLK_LDRD_AT(p, k, lo, hi)                                                              \
    __asm__("ldrd %0, %1, [%2, #%c3]"                                                           \
            : "=&r"(lo), "=&r"(hi)                                                              \
            : "r"(p), "n"((k) * 4), "m"(*(const uint32_t(*)[2])((p) + (k))))
#else
#define DLK_LDRD_AT(p, k, lo, hi)                                                              \
    do {                                                                                       \
        memcpy(&(lo), (p) + (k), sizeof(lo));                                                  \
        memcpy(&(hi), (p) + (k) + 1, sizeof(hi));                                              \
    } while (0)
#endif

/* (low half of a, low half of b) and (high half of b, high half of a): PKHBT / PKHTB; and
 * SXTB16 of x rotated by 8 (bytes 1 and 3). GCC's ACLE has no __pkhbt, and it neither folds the
 * rotation into SXTB16 nor finds PKHBT in the C, so on Arm they are one instruction each. */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
static inline uint32_t dlk_pkhbt(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline uint32_t dlk_pkhtb(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline uint32_t dlk_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#else
static inline uint32_t dlk_pkhbt(uint32_t a, uint32_t b) { return (a & 0xffffu) | (b << 16); }
static inline uint32_t dlk_pkhtb(uint32_t a, uint32_t b) { return (a & 0xffff0000u) | (b >> 16); }
static inline uint32_t dlk_sxtb16_ror8(uint32_t x) { return dlk_sxtb16(dlk_ror8(x)); }
#endif

/* One output channel's requantisation unpacked for the inner loops: dlk_rq_fast's constants
 * (with zp * 2^(31+R) added to the 64-bit rounding constant, so the result comes out with the
 * output zero point added: |zp| 2^(R-1) < 2^31 for the fast paths' R <= 24) and the bias. */
typedef struct {
    int32_t multiplier;
    uint32_t k_lo;
    int32_t k_hi;
    int32_t hi_shift;
    int32_t bias;
} dlk_chan_t;

static inline dlk_chan_t dlk_chan_make(const dlk_channel_quant_t *q, int32_t zp)
{
    const dlk_rq_fast_t f = dlk_rq_fast_make(q->multiplier, q->shift);
    dlk_chan_t c;
    c.multiplier = f.multiplier;
    c.k_lo = f.k_lo;
    c.k_hi = f.k_hi + zp * (int32_t)((uint32_t)1 << f.hi_shift);
    c.hi_shift = f.hi_shift;
    c.bias = q->bias;
    return c;
}

/* Two copies of a 16-bit value (the negated zero point) packed for SADD16. */
static inline uint32_t dlk_dup16(int32_t v)
{
    return ((uint32_t)(uint16_t)(int16_t)v) | ((uint32_t)(uint16_t)(int16_t)v << 16);
}

static inline int32_t dlk_dsp_dot_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t zx)
{
    const uint32_t off = dlk_dup16(-zx);
    int32_t acc = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t wv, xv;
        memcpy(&wv, w + i, sizeof wv);
        memcpy(&xv, x + i, sizeof xv);
        acc = dlk_smlad(dlk_sxtb16(wv), dlk_sadd16(dlk_sxtb16(xv), off), acc);
        acc = dlk_smlad(dlk_sxtb16(dlk_ror8(wv)), dlk_sadd16(dlk_sxtb16(dlk_ror8(xv)), off), acc);
    }
    for (; i < n; ++i) {
        acc += (int32_t)w[i] * ((int32_t)x[i] - zx);
    }
    return acc;
}

/* Two dot products sharing the input: acc[k] += sum_i w_k[i] * (x[i] - zx), k = 0, 1. */
static inline void dlk_dsp_dot2_s8(const int8_t *w0, const int8_t *w1, const int8_t *x,
                                   int32_t n, int32_t zx, int32_t acc[2])
{
    const uint32_t off = dlk_dup16(-zx);
    int32_t a0 = 0;
    int32_t a1 = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t xv, v0, v1, xe, xo;
        memcpy(&xv, x + i, sizeof xv);
        memcpy(&v0, w0 + i, sizeof v0);
        memcpy(&v1, w1 + i, sizeof v1);
        xe = dlk_sadd16(dlk_sxtb16(xv), off);
        xo = dlk_sadd16(dlk_sxtb16(dlk_ror8(xv)), off);
        a0 = dlk_smlad(dlk_sxtb16(v0), xe, a0);
        a0 = dlk_smlad(dlk_sxtb16(dlk_ror8(v0)), xo, a0);
        a1 = dlk_smlad(dlk_sxtb16(v1), xe, a1);
        a1 = dlk_smlad(dlk_sxtb16(dlk_ror8(v1)), xo, a1);
    }
    for (; i < n; ++i) {
        const int32_t xv = (int32_t)x[i] - zx;
        a0 += (int32_t)w0[i] * xv;
        a1 += (int32_t)w1[i] * xv;
    }
    acc[0] += a0;
    acc[1] += a1;
}

#endif /* DLINK_DSP_DOT_H */
