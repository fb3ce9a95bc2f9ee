/* The exact inline requantisation (dlk_rq_fast, dlink/quant.h) against the reference
 * MultiplyByQuantizedMultiplier (dlk_mbqm, TFLite's double rounding) over int32 inputs.
 *
 *   test_requant sweep LO HI STEP     every x = LO, LO+STEP, ... <= HI, for the built-in multipliers
 *                                      and every right shift 1..24
 *   test_requant random N SEED        N pseudo-random x over the whole int32 range, each with a
 *                                      random multiplier in [2^30, 2^31) and shift in 1..31
 *   test_requant edges N              for the built-in multipliers and every shift 1..31, N random
 *                                      rounding ties of both roundings (SRDHM's and RDBPOT's),
 *                                      each checked at the inputs around it
 *   test_requant full M R             every one of the 2^32 inputs for multiplier M, shift -R
 *   test_requant print M R X...       dlk_rq_fast(x) for each x (cross-checked in Python)
 *
 * Prints "checked N mismatches K" and exits 1 when K > 0. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlink/quant.h"

static const int32_t multipliers[] = {0, 1073741824, 1073741825, 1518500250, 1931928923,
                                      2147483646, 2147483647};

static uint64_t state = 88172645463325252ull;
static uint32_t next_u32(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 32);
}

static int check(int32_t x, int32_t m, int32_t r, uint64_t *bad)
{
    const dlk_rq_fast_t q = dlk_rq_fast_make(m, -r);
    const int32_t fast = dlk_rq_fast(x, q.multiplier, q.k_lo, q.k_hi, q.hi_shift);
    const int32_t ref = dlk_mbqm(x, m, -r);
    if (fast != ref) {
        if (*bad < 5) {
            printf("mismatch x=%ld m=%ld shift=-%ld fast=%ld ref=%ld\n", (long)x, (long)m, (long)r,
                   (long)fast, (long)ref);
        }
        *bad += 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n = 0, bad = 0;
    if (argc >= 5 && strcmp(argv[1], "sweep") == 0) {
        const int64_t lo = strtoll(argv[2], 0, 10), hi = strtoll(argv[3], 0, 10);
        const int64_t step = strtoll(argv[4], 0, 10);
        size_t i;
        int32_t r;
        for (i = 0; i < sizeof multipliers / sizeof multipliers[0]; ++i) {
            for (r = 1; r <= 24; ++r) {
                int64_t x;
                for (x = lo; x <= hi; x += step) {
                    check((int32_t)x, multipliers[i], r, &bad);
                    ++n;
                }
            }
        }
    } else if (argc >= 4 && strcmp(argv[1], "random") == 0) {
        const uint64_t count = strtoull(argv[2], 0, 10);
        uint64_t k;
        state ^= strtoull(argv[3], 0, 10) * 0x9E3779B97F4A7C15ull;
        for (k = 0; k < count; ++k) {
            const int32_t x = (int32_t)next_u32();
            const int32_t m = (int32_t)(0x40000000u | (next_u32() & 0x3fffffffu));
            const int32_t r = (int32_t)(1u + next_u32() % 31u);
            check(x, m, r, &bad);
            ++n;
        }
    } else if (argc >= 3 && strcmp(argv[1], "edges") == 0) {
        const uint64_t count = strtoull(argv[2], 0, 10);
        size_t i;
        int32_t r;
        for (i = 1; i < sizeof multipliers / sizeof multipliers[0]; ++i) {
            const int64_t m = multipliers[i];
            for (r = 1; r <= 31; ++r) {
                uint64_t k;
                for (k = 0; k < count; ++k) {
                    /* a tie of RDBPOT (s = q 2^R + 2^(R-1)) or of SRDHM (x m = j 2^31 + 2^30):
                     * the input nearest to it, and its neighbours */
                    const int64_t q = (int64_t)(int32_t)next_u32() >> r;
                    const int64_t s_tie = q * ((int64_t)1 << r) + ((int64_t)1 << (r - 1));
                    const int64_t num = (k & 1) ? s_tie * ((int64_t)1 << 31) - ((int64_t)1 << 30)
                                                : (int64_t)(int32_t)next_u32() * ((int64_t)1 << 31) +
                                                      ((int64_t)1 << 30);
                    const int64_t x0 = num / m;
                    int64_t d;
                    for (d = -3; d <= 3; ++d) {
                        const int64_t x = x0 + d;
                        if (x >= INT32_MIN && x <= INT32_MAX) {
                            check((int32_t)x, (int32_t)m, r, &bad);
                            ++n;
                        }
                    }
                }
            }
        }
    } else if (argc >= 4 && strcmp(argv[1], "full") == 0) {
        const int32_t m = (int32_t)strtol(argv[2], 0, 10), r = (int32_t)strtol(argv[3], 0, 10);
        int64_t x;
        for (x = INT32_MIN; x <= INT32_MAX; ++x) {
            check((int32_t)x, m, r, &bad);
            ++n;
        }
    } else if (argc >= 5 && strcmp(argv[1], "print") == 0) {
        const int32_t m = (int32_t)strtol(argv[2], 0, 10), r = (int32_t)strtol(argv[3], 0, 10);
        const dlk_rq_fast_t q = dlk_rq_fast_make(m, -r);
        int i;
        for (i = 4; i < argc; ++i) {
            const int32_t x = (int32_t)strtol(argv[i], 0, 10);
            printf("%ld\n", (long)dlk_rq_fast(x, q.multiplier, q.k_lo, q.k_hi, q.hi_shift));
        }
        return 0;
    } else {
        fprintf(stderr, "usage: test_requant sweep LO HI STEP | random N SEED | full M R | print M R X...\n");
        return 2;
    }
    printf("checked %llu mismatches %llu\n", (unsigned long long)n, (unsigned long long)bad);
    return bad == 0 ? 0 : 1;
}
