/* Hand-written kernel cases with values worked out by hand (run by test_kernels_hand.py).
 * Prints one line per failed check and exits with the number of failures. */
#include <stdio.h>
#include <string.h>

#include "dlink/kernels.h"
#include "dlink/quant.h"

static int failures = 0;

#define CHECK_EQ(actual, expected)                                                         \
    do {                                                                                   \
        const long a_ = (long)(actual);                                                    \
        const long e_ = (long)(expected);                                                  \
        if (a_ != e_) {                                                                    \
            printf("FAIL %s:%d: %s = %ld, expected %ld\n", __FILE__, __LINE__, #actual, a_, \
                   e_);                                                                    \
            ++failures;                                                                    \
        }                                                                                  \
    } while (0)

static void test_arithmetic(void)
{
    CHECK_EQ(dlk_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);      /* the one saturating case */
    CHECK_EQ(dlk_srdhm(1 << 30, 1 << 30), 1 << 29);            /* 0.5 * 0.5 = 0.25 */
    CHECK_EQ(dlk_rdbpot(5, 1), 3);                             /* 2.5 -> 3 */
    CHECK_EQ(dlk_rdbpot(-5, 1), -3);                           /* -2.5 -> -3 (away from 0) */
    CHECK_EQ(dlk_rdbpot(-6, 2), -2);                           /* -1.5 -> -2 */
    CHECK_EQ(dlk_rdbpot(7, 2), 2);                             /* 1.75 -> 2 */
    CHECK_EQ(dlk_mbqm(100, 1 << 30, 0), 50);                   /* x * 0.5 */
    CHECK_EQ(dlk_mbqm(100, 1 << 30, 2), 200);                  /* x * 0.5 * 4 */
    CHECK_EQ(dlk_mbqm(-3, 1 << 30, -1), -1);                   /* -0.75 -> -1 */
    CHECK_EQ(dlk_sat8(300, -128, 127), 127);
    CHECK_EQ(dlk_sat8(-300, -128, 127), -128);
}

static void test_pooling(void)
{
    /* 1x2x2x1 input, one 2x2 window. */
    const dlk_shape4_t in_shape = {.n = 1, .h = 2, .w = 2, .c = 1};
    const dlk_shape4_t out_shape = {.n = 1, .h = 1, .w = 1, .c = 1};
    const dlk_pool_params_t p = {.stride_h = 2, .stride_w = 2, .filter_h = 2, .filter_w = 2,
                                 .pad_h = 0, .pad_w = 0, .act_min = -128, .act_max = 127};
    const int8_t pos[4] = {1, 2, 3, 4};     /* 10 / 4 = 2.5 -> 3 */
    const int8_t neg[4] = {-1, -2, -3, -4}; /* -2.5 -> -3 */
    const int8_t mixed[4] = {-100, 7, 3, -2};
    int8_t out = 0;
    CHECK_EQ(dlk_avg_pool2d_s8(&p, &in_shape, pos, &out_shape, &out), DLK_OK);
    CHECK_EQ(out, 3);
    CHECK_EQ(dlk_avg_pool2d_s8(&p, &in_shape, neg, &out_shape, &out), DLK_OK);
    CHECK_EQ(out, -3);
    CHECK_EQ(dlk_max_pool2d_s8(&p, &in_shape, mixed, &out_shape, &out), DLK_OK);
    CHECK_EQ(out, 7);
}

static void test_fully_connected(void)
{
    /* y = (w . (x - zx)) * 0.5 + zy with zx = 1, zy = -3, bias 4. */
    const int8_t x[3] = {3, 1, -1};        /* x - zx = {2, 0, -2} */
    const int8_t w[6] = {1, 5, 2,          /* 2 - 4 + 4 = 2 -> 1 + -3 = -2 */
                         -3, 0, 1};        /* -6 - 2 + 4 = -4 -> -2 + -3 = -5 */
    const int32_t bias[2] = {4, 4};
    const int32_t mult[1] = {1 << 30};
    const int32_t shift[1] = {0};
    const dlk_fc_params_t p = {.input_zero_point = 1, .filter_zero_point = 0,
                               .output_zero_point = -3, .act_min = -128, .act_max = 127,
                               .n_multipliers = 1, .multiplier = mult, .shift = shift};
    int8_t y[2] = {0, 0};
    CHECK_EQ(dlk_fully_connected_s8(&p, 1, 3, x, 2, w, bias, y), DLK_OK);
    CHECK_EQ(y[0], -2);
    CHECK_EQ(y[1], -5);
    CHECK_EQ(dlk_fully_connected_s8(&p, 1, 3, 0, 2, w, bias, y), DLK_ERR_NULL_POINTER);
}

static void test_layout(void)
{
    const dlk_shape_t in_shape = {.rank = 2, .dims = {2, 3}};
    const dlk_shape_t t_shape = {.rank = 2, .dims = {3, 2}};
    const dlk_shape_t p_shape = {.rank = 2, .dims = {3, 4}};
    const int8_t x[6] = {1, 2, 3, 4, 5, 6};
    const dlk_transpose_params_t tp = {.perm = {1, 0}};
    const dlk_pad_params_t pp = {.before = {1, 0}, .after = {0, 1}, .pad_value = -9};
    const int8_t t_expected[6] = {1, 4, 2, 5, 3, 6};
    const int8_t p_expected[12] = {-9, -9, -9, -9, 1, 2, 3, -9, 4, 5, 6, -9};
    int8_t y[12];
    int i;
    CHECK_EQ(dlk_transpose_s8(&tp, &in_shape, x, &t_shape, y), DLK_OK);
    for (i = 0; i < 6; ++i) {
        CHECK_EQ(y[i], t_expected[i]);
    }
    CHECK_EQ(dlk_pad_s8(&pp, &in_shape, x, &p_shape, y), DLK_OK);
    for (i = 0; i < 12; ++i) {
        CHECK_EQ(y[i], p_expected[i]);
    }
    CHECK_EQ(dlk_transpose_s8(&tp, &in_shape, x, &in_shape, y), DLK_ERR_BAD_SHAPE);
}

static void test_softmax_uniform(void)
{
    /* Equal logits: each output is 1/4 = 64/256 -> 64 - 128 = -64. */
    const dlk_softmax_params_t p = {.input_multiplier = 1 << 30, .input_left_shift = 20,
                                    .diff_min = -1000};
    const int8_t x[4] = {5, 5, 5, 5};
    int8_t y[4];
    int i;
    CHECK_EQ(dlk_softmax_s8(&p, 1, 4, x, y), DLK_OK);
    for (i = 0; i < 4; ++i) {
        CHECK_EQ(y[i], -64);
    }
}

static void test_requantize(void)
{
    /* (x - 2) * 0.5 - 1, saturated: QUANTIZE int8 -> int8 has no model test (the converter
     * emits none for the students), so it is pinned here. */
    const dlk_requant_params_t p = {.input_zero_point = 2, .output_zero_point = -1,
                                    .multiplier = 1 << 30, .shift = 0};
    const dlk_requant_params_t up = {.input_zero_point = 0, .output_zero_point = 0,
                                     .multiplier = 1 << 30, .shift = 3}; /* x * 4 */
    const int8_t x[3] = {10, -128, 127};
    int8_t y[3];
    CHECK_EQ(dlk_requantize_s8(&p, x, 3, y, 3), DLK_OK);
    CHECK_EQ(y[0], 3);    /* 8 * 0.5 - 1 */
    CHECK_EQ(y[1], -66);  /* -130 * 0.5 = -65, - 1 */
    CHECK_EQ(y[2], 62);   /* 125 * 0.5 = 62.5 -> 63 (half away from zero), - 1 */
    CHECK_EQ(dlk_requantize_s8(&up, x, 3, y, 3), DLK_OK);
    CHECK_EQ(y[0], 40);
    CHECK_EQ(y[1], -128); /* saturates */
    CHECK_EQ(y[2], 127);
}

static void test_errors(void)
{
    const dlk_shape4_t s = {.n = 1, .h = 1, .w = 1, .c = 1};
    const int32_t m[1] = {1 << 30};
    const int32_t sh[1] = {0};
    const dlk_conv_params_t bad = {.stride_h = 0, .stride_w = 1, .dilation_h = 1,
                                   .dilation_w = 1, .multiplier = m, .shift = sh};
    const int8_t x[1] = {0};
    int8_t y[1];
    CHECK_EQ(dlk_conv2d_s8(&bad, &s, x, &s, x, 0, &s, y), DLK_ERR_BAD_PARAM);
    CHECK_EQ(dlk_conv2d_s8(0, &s, x, &s, x, 0, &s, y), DLK_ERR_NULL_POINTER);
    CHECK_EQ(strcmp(dlk_status_str(DLK_OK), "DLK_OK"), 0);
    CHECK_EQ(strcmp(dlk_status_str((dlk_status_t)99), "DLK_UNKNOWN_STATUS"), 0);
}

int main(void)
{
    test_arithmetic();
    test_pooling();
    test_fully_connected();
    test_layout();
    test_softmax_uniform();
    test_requantize();
    test_errors();
    printf("%d failures\n", failures);
    return failures;
}
