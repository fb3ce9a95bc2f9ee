/* dlink runtime, ref backend: SOFTMAX int8 -> int8 with TFLite's fixed-point algorithm
 * (gemmlowp exp_on_negative_values on Q5.26 differences, a Q12.19 sum of exps, a Newton-Raphson
 * reciprocal), as TFLite-Micro's reference Softmax<int8_t, int8_t>. */
#include "dlink/internal.h"
#include "dlink/quant.h"

/* Saturating x * 2^exponent (exponent > 0) or rounding x / 2^-exponent (exponent < 0). */
static int32_t srmul_pot(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return dlk_shl(x, exponent);
    }
    if (exponent < 0) {
        return dlk_rdbpot(x, -exponent);
    }
    return x;
}

/* exp(a) for a in [-1/4, 0), all Q0.31. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
    const int32_t x = a + (1 << 28);              /* a + 1/8 */
    const int32_t x2 = dlk_srdhm(x, x);
    const int32_t x3 = dlk_srdhm(x2, x);
    const int32_t x4 = dlk_srdhm(x2, x2);
    const int32_t x4_over_4 = srmul_pot(x4, -2);
    const int32_t poly = srmul_pot(dlk_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, -1);
    return constant_term + dlk_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result Q0.31. */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535,   720401,     242};
    const int32_t one_quarter = 1 << 24;
    const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = exp_quarter(srmul_pot(a_mod_quarter_minus_quarter, 5));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t k;
    for (k = 0; k < 7; ++k) {
        if (remainder & (1 << (24 + k))) {
            result = dlk_srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* 1 / (1 + x) for x in [0, 1), input Q0.31, result Q0.31. */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t f2_one = 1 << 29;
    int32_t x = constant_48_over_17 + dlk_srdhm(half_denominator, constant_neg_32_over_17);
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = dlk_srdhm(half_denominator, x);
        const int32_t one_minus = f2_one - half_denominator_times_x;
        x = x + srmul_pot(dlk_srdhm(x, one_minus), 2);
    }
    return srmul_pot(x, 1);
}

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
}

dlk_status_t dlk_softmax_s8(const dlk_softmax_params_t *params, int32_t outer, int32_t depth,
                            const int8_t *input, int8_t *output)
{
    int32_t i, c;
    if (params == 0 || input == 0 || output == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (outer < 0 || depth <= 0) {
        return DLK_ERR_BAD_SHAPE;
    }
    if (params->input_left_shift < 0 || params->input_left_shift > 31) {
        return DLK_ERR_BAD_PARAM;
    }
    for (i = 0; i < outer; ++i) {
        const int8_t *x = input + i * depth;
        int8_t *y = output + i * depth;
        int32_t max_in_row = INT8_MIN;
        int32_t sum_of_exps = 0; /* Q12.19 */
        int32_t headroom, num_bits_over_unit, shifted_scale;
        for (c = 0; c < depth; ++c) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t rescaled = dlk_srdhm(dlk_shl(diff, params->input_left_shift),
                                                   params->input_multiplier);
                sum_of_exps += dlk_rdbpot(exp_on_negative_values(rescaled), 12);
            }
        }
        headroom = count_leading_zeros((uint32_t)sum_of_exps);
        num_bits_over_unit = 12 - headroom;
        shifted_scale = one_over_one_plus_x(
            (int32_t)(((uint32_t)sum_of_exps << (uint32_t)headroom) - ((uint32_t)1 << 31)));
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t rescaled = dlk_srdhm(dlk_shl(diff, params->input_left_shift),
                                                   params->input_multiplier);
                const int32_t e = exp_on_negative_values(rescaled);
                const int32_t unsat =
                    dlk_rdbpot(dlk_srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
                y[c] = dlk_sat8(unsat - 128, INT8_MIN, INT8_MAX);
            } else {
                y[c] = INT8_MIN;
            }
        }
    }
    return DLK_OK;
}
