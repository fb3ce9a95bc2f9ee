/* dlink runtime: TFLite's integer requantisation arithmetic (static inline helpers).
 *
 * These reproduce gemmlowp / TFLite's reference semantics exactly (the "double rounding"
 * variant that TFLite-Micro's reference kernels use):
 *   dlk_srdhm       SaturatingRoundingDoublingHighMul
 *   dlk_rdbpot      RoundingDivideByPOT (round half away from zero)
 *   dlk_mbqm        MultiplyByQuantizedMultiplier(x, multiplier, shift)
 * A real multiplier M is stored as (multiplier, shift) with M = multiplier * 2^(shift - 31),
 * multiplier in [2^30, 2^31), computed at export time (export/codegen/quantize.py). Shifts lie in
 * [DLK_MIN_SHIFT, DLK_MAX_SHIFT] (the generator refuses models that need others); kernels check
 * their shifts with dlk_shifts_ok() once per call, so no shift is ever undefined behaviour.
 */
#ifndef DLINK_QUANT_H
#define DLINK_QUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLK_MIN_SHIFT (-31)
#define DLK_MAX_SHIFT 30

static inline int dlk_shift_ok(int32_t shift)
{
    return shift >= DLK_MIN_SHIFT && shift <= DLK_MAX_SHIFT;
}

/* 1 when every one of the n shifts is in range. */
static inline int dlk_shifts_ok(const int32_t *shift, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        if (!dlk_shift_ok(shift[i])) {
            return 0;
        }
    }
    return 1;
}

/* a + b with two's-complement wrap-around, as TFLite's int32 bias addition behaves on its
 * targets (a signed overflow would be undefined behaviour in C). The generator refuses biases
 * that can overflow; this keeps a direct call of a kernel defined. */
static inline int32_t dlk_add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t dlk_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    {
        const int64_t ab = (int64_t)a * (int64_t)b;
        const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
        return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    }
}

static inline int32_t dlk_rdbpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
    return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

/* x * 2^shift with two's-complement wrap-around (as TFLite's int32 multiply on its targets). */
static inline int32_t dlk_shl(int32_t x, int32_t shift)
{
    return (int32_t)((uint32_t)x << (uint32_t)shift);
}

static inline int32_t dlk_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return dlk_rdbpot(dlk_srdhm(dlk_shl(x, left), multiplier), right);
}

/* dlk_mbqm for a right shift (shift <= -1), in one 64-bit multiply-add and one shift:
 *
 *   dlk_mbqm(x, m, -R) == floor((x * m + 2^30 + 2^(30+R) - 2^31 * [x < 0]) / 2^(31+R))
 *
 * for every int32 x, every R in [1, 31] and every multiplier m in {0} and [2^30, 2^31) (what
 * QuantizeMultiplier produces). Why: SRDHM(x, m) = floor((x*m + 2^30) / 2^31) (its rounding
 * rounds halves up: the nudge 1 - 2^30 with a truncating division equals the floor for negative
 * products, and x*m never saturates for m > 0); RDBPOT(s, R) = floor((s + 2^(R-1) - [s < 0]) /
 * 2^R) (halves away from zero); a floor of a floor plus an integer is one floor; and [s < 0] ==
 * [x < 0] except when x*m == -2^30 or m == 0, where both give 0. The bias K = 2^30 + 2^(30+R)
 * and the sign term are added to the 64-bit product (on Arm: AND, ADDS, ADC, SMLAL), and as
 * 31 + R >= 32 the result is the high word shifted right by R - 1. Tested against dlk_mbqm over
 * the full int32 range (tests/firmware/test_requant.py). */
typedef struct {
    int32_t multiplier;
    uint32_t k_lo;     /* low and high words of K = 2^30 + 2^(30+R) */
    int32_t k_hi;
    int32_t hi_shift;  /* R - 1 */
} dlk_rq_fast_t;

static inline dlk_rq_fast_t dlk_rq_fast_make(int32_t multiplier, int32_t shift)
{
    dlk_rq_fast_t q;
    const int32_t r = -shift; /* 1..31 */
    const uint64_t k = ((uint64_t)1 << 30) + ((uint64_t)1 << (30 + r));
    q.multiplier = multiplier;
    q.k_lo = (uint32_t)k;
    q.k_hi = (int32_t)(k >> 32);
    q.hi_shift = r - 1;
    return q;
}

static inline int32_t dlk_rq_fast(int32_t x, int32_t multiplier, uint32_t k_lo, int32_t k_hi,
                                  int32_t hi_shift)
{
    /* K - 2^31 [x < 0]: (x & INT32_MIN) sign-extended is 0 or -2^31 */
    const int64_t k = (int64_t)(((uint64_t)(uint32_t)k_hi << 32) | k_lo) +
                      (int64_t)(int32_t)((uint32_t)x & 0x80000000u);
    return (int32_t)((k + (int64_t)x * multiplier) >> 32) >> hi_shift;
}

static inline int32_t dlk_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline int8_t dlk_sat8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)dlk_clamp(x, lo, hi);
}

#ifdef __cplusplus
}
#endif

#endif /* DLINK_QUANT_H */
