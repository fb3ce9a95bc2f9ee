/* dlink runtime, mve backend: helpers shared by the Helium kernels (ACLE MVE intrinsics).
 *
 * dlk_mve_requant: TFLite's MultiplyByQuantizedMultiplier for a right shift R >= 1, four lanes
 * at a time. VQRDMULH computes (2ab + 2^31) >> 32 saturated, which is SaturatingRounding-
 * DoublingHighMul exactly; RoundingDivideByPOT rounds halves away from zero, VRSHL rounds them
 * up, so negative lanes first get -1 (a saturating add: INT32_MIN stays, as TFLite's result for
 * it needs); VRSHL's rounding add is done at full precision, so it cannot overflow.
 */
#ifndef DLINK_MVE_UTIL_H
#define DLINK_MVE_UTIL_H

#if !defined(__ARM_FEATURE_MVE) || !(__ARM_FEATURE_MVE & 1)
#error "the mve backend needs a core with Helium (MVE integer), e.g. -mcpu=cortex-m55 -mfloat-abi=hard"
#endif

#include <arm_mve.h>
#include <stdint.h>

/* Four accumulators as one vector. */
static inline int32x4_t dlk_mve_lanes(int32_t a, int32_t b, int32_t c, int32_t d)
{
    int32x4_t v = vdupq_n_s32(a);
    v = vsetq_lane_s32(b, v, 1);
    v = vsetq_lane_s32(c, v, 2);
    v = vsetq_lane_s32(d, v, 3);
    return v;
}

/* Requantise (per-lane multipliers and negated right shifts), add the zero point, clamp. */
static inline int32x4_t dlk_mve_requant(int32x4_t acc, int32x4_t multiplier, int32x4_t neg_shift,
                                        int32_t zp, int32_t lo, int32_t hi)
{
    int32x4_t v = vqrdmulhq_s32(acc, multiplier);
    v = vqaddq_s32(v, vshrq_n_s32(v, 31));
    v = vrshlq_s32(v, neg_shift);
    v = vaddq_n_s32(v, zp);
    v = vmaxq_s32(v, vdupq_n_s32(lo));
    return vminq_s32(v, vdupq_n_s32(hi));
}

#endif /* DLINK_MVE_UTIL_H */
