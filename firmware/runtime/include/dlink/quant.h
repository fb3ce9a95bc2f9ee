/* dlink runtime: TFLite's integer requantisation arithmetic (static inline helpers).
 *
 * These reproduce gemmlowp / TFLite's reference semantics exactly (the "double rounding"
 * variant that TFLite-Micro's reference kernels use):
 *   dlk_srdhm       SaturatingRoundingDoublingHighMul
 *   dlk_rdbpot      RoundingDivideByPOT (round half away from zero)
 *   dlk_mbqm        MultiplyByQuantizedMultiplier(x, multiplier, shift)
 * A real multiplier M is stored as (multiplier, shift) with M = multiplier * 2^(shift - 31),
 * multiplier in [2^30, 2^31), computed at export time (export/codegen/quantize.py).
 */
#ifndef DLINK_QUANT_H
#define DLINK_QUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
