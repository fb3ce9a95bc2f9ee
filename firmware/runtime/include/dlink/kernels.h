/* dlink runtime: int8 kernels with TFLite-Micro reference semantics.
 *
 * Conventions
 *  - Activations are int8 NHWC (TFLite's layout); shapes travel with every pointer as
 *    dlk_shape4_t (N, H, W, C) or dlk_shape_t (rank <= DLK_MAX_RANK, row-major).
 *  - One parameter struct per layer. Zero points are stored as they are in the model (never
 *    negated into "offsets"); per-channel requantisation is (multiplier, shift) pairs with
 *    real = multiplier * 2^(shift - 31), precomputed at export time.
 *  - act_min/act_max are the fused-activation clamp in the output's quantised domain.
 *  - Every function returns DLK_OK (0) or an error code from dlink/status.h; none allocates.
 *  - Backends (src/kernels/ref, src/kernels/dsp) implement these signatures identically and
 *    bit-exactly; the build selects one folder.
 */
#ifndef DLINK_KERNELS_H
#define DLINK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "dlink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLK_MAX_RANK 5

/* Alignment of generated const data and of the activation arena. */
#if defined(__GNUC__) || defined(__clang__)
#define DLK_ALIGNED(n) __attribute__((aligned(n)))
#else
#define DLK_ALIGNED(n)
#endif

typedef struct {
    int32_t n;
    int32_t h;
    int32_t w;
    int32_t c;
} dlk_shape4_t;

typedef struct {
    int32_t rank;
    int32_t dims[DLK_MAX_RANK];
} dlk_shape_t;

/* CONV_2D (grouped when in.c is a multiple of filter.c). Filter OHWI [out_c, kh, kw, in_c/groups]. */
typedef struct {
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t act_min, act_max;
    const int32_t *multiplier; /* [out_c] */
    const int32_t *shift;      /* [out_c] */
} dlk_conv_params_t;

dlk_status_t dlk_conv2d_s8(const dlk_conv_params_t *params, const dlk_shape4_t *input_shape,
                           const int8_t *input, const dlk_shape4_t *filter_shape,
                           const int8_t *filter, const int32_t *bias,
                           const dlk_shape4_t *output_shape, int8_t *output);

/* DEPTHWISE_CONV_2D. Filter [1, kh, kw, in_c * depth_multiplier]. */
typedef struct {
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;
    int32_t depth_multiplier;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t act_min, act_max;
    const int32_t *multiplier; /* [out_c] */
    const int32_t *shift;      /* [out_c] */
} dlk_dwconv_params_t;

dlk_status_t dlk_depthwise_conv2d_s8(const dlk_dwconv_params_t *params,
                                     const dlk_shape4_t *input_shape, const int8_t *input,
                                     const dlk_shape4_t *filter_shape, const int8_t *filter,
                                     const int32_t *bias, const dlk_shape4_t *output_shape,
                                     int8_t *output);

/* ---- Fast paths the code generator picks by shape (every backend implements them) ----------
 * Their constants are prepared by the generator (export/codegen/fastpath.py) in the layouts
 * described here, so that the dual-MAC instructions read them as they are. */

/* One output channel's requantisation, interleaved (one load brings a channel's constants):
 * bias (each kernel says whether the input zero point is folded in), then multiplier and shift
 * as everywhere (real = multiplier * 2^(shift - 31)). The fast paths take right shifts only,
 * -24 <= shift <= -1 (a real multiplier in [2^-25, 0.5)); the generator keeps other layers on
 * the generic kernels, and the fast kernels return DLK_ERR_UNSUPPORTED for them. */
typedef struct {
    int32_t bias;
    int32_t multiplier;
    int32_t shift;
} dlk_channel_quant_t;

/* DEPTHWISE_CONV_2D with a 1 x n_taps filter (dilation 1) as per-channel 1-D filters along W.
 * Input element (row r, sample w, channel c) is input[r * in_row_stride + w * in_w_stride +
 * c * in_c_stride] (NHWC: in_w * in_c, in_c, 1; a folded TRANSPOSE gives other strides). The
 * output is NHWC [rows][out_w][in_c * depth_multiplier]; output sample t of a row reads input
 * samples t * stride - pad + k (k < n_taps), and a sample outside [0, in_w) counts as the zero
 * point (TFLite skips it).
 * weights: int16; per input channel c its multipliers in blocks of 4 (the last one nb =
 * dm - 4 * (dm / 4) wide when dm is not a multiple of 4), each block [n_pairs][nb][2]: for tap
 * pair j (n_pairs = (n_taps + 1) / 2) and multiplier m of the block, taps 2j and 2j+1 of output
 * channel c * dm + m (a zero after an odd last tap). Tap k of filter m of channel c is at
 * c*n_pairs*dm*2 + (m/4)*4*n_pairs*2 + (k/2)*nb*2 + (m%4)*2 + (k&1).
 * quant: [in_c * dm], the model's bias (zero point not folded in).
 * scratch: at least DLK_DW1D_ROW_LEN(out_w, stride, n_taps) int16 elements. */
typedef struct {
    int32_t rows;
    int32_t in_w, out_w;
    int32_t in_c, depth_multiplier;
    int32_t in_row_stride, in_w_stride, in_c_stride;
    int32_t n_taps, stride, pad;
    int32_t input_zero_point, output_zero_point;
    int32_t act_min, act_max;
    const int16_t *weights;
    const dlk_channel_quant_t *quant;
} dlk_dw1d_params_t;

/* int16 elements of one staged row and its filter's taps (any backend's layout fits; a
 * multiple of 8, so consecutive rows stay 16-byte aligned). */
#define DLK_DW1D_ROW_LEN(out_w, stride, n_taps) \
    ((((out_w) - 1) * (stride) + (((n_taps) + 15) / 16) * 16 + 47) / 8 * 8)
/* Rows of the second layer a chain keeps at once (multipliers of the first done together). */
#define DLK_DW1D_CHAIN_BLOCK 4

dlk_status_t dlk_dw1d_s8(const dlk_dw1d_params_t *params, const int8_t *input, int8_t *output,
                         int16_t *scratch, size_t scratch_len);

/* Two 1-D depthwise layers fused channel by channel: layer a reads `input` as dlk_dw1d_s8 does,
 * layer b reads a's output, which never exists whole (b's in_* strides are ignored; b->rows ==
 * a->rows, b->in_c == a->in_c * a->depth_multiplier, b->in_w == a->out_w, b's input zero point is
 * a's output zero point). output: b's NHWC output. scratch: at least
 * DLK_DW1D_ROW_LEN(a) + DLK_DW1D_CHAIN_BLOCK * DLK_DW1D_ROW_LEN(b) int16 elements. */
dlk_status_t dlk_dw1d_chain_s8(const dlk_dw1d_params_t *a, const dlk_dw1d_params_t *b,
                               const int8_t *input, int8_t *output, int16_t *scratch,
                               size_t scratch_len);

/* CONV_2D 1x1 (stride 1, no padding, one group) as a matrix product over n_pixels NHWC pixels:
 * output[p][o] = requant(sum_k w[o][k] * x[p][k] + bias'[o]).
 * weights: int16 [out_c][k4], k4 = in_c rounded up to a multiple of 4; within each group of 4
 * channels the order is (w0, w2, w1, w3), as SXTB16 splits four int8 inputs; zeros past in_c.
 * quant: [out_c] with bias' = bias - input_zero_point * sum_k w[o][k] (the zero point folded
 * in, so the kernels multiply the raw int8 inputs). scratch: at least DLK_PW_SCRATCH_LEN(in_c)
 * int16 elements (two staged pixels). */
typedef struct {
    int32_t n_pixels, in_c, out_c;
    int32_t input_zero_point, output_zero_point;
    int32_t act_min, act_max;
    const int16_t *weights;
    const dlk_channel_quant_t *quant;
} dlk_pw_params_t;

#define DLK_PW_SCRATCH_LEN(in_c) (2 * (((in_c) + 3) / 4) * 4 + 8)

dlk_status_t dlk_pointwise_s8(const dlk_pw_params_t *params, const int8_t *input,
                              int8_t *output, int16_t *scratch, size_t scratch_len);

/* FULLY_CONNECTED: output[b, o] over weights [out_features, in_features]. n_multipliers is 1
 * (per-tensor) or out_features (per-channel). */
typedef struct {
    int32_t input_zero_point;
    int32_t filter_zero_point;
    int32_t output_zero_point;
    int32_t act_min, act_max;
    int32_t n_multipliers;
    const int32_t *multiplier;
    const int32_t *shift;
} dlk_fc_params_t;

dlk_status_t dlk_fully_connected_s8(const dlk_fc_params_t *params, int32_t batches,
                                    int32_t in_features, const int8_t *input,
                                    int32_t out_features, const int8_t *weights,
                                    const int32_t *bias, int8_t *output);

/* AVERAGE_POOL_2D / MAX_POOL_2D (input and output share scale and zero point). */
typedef struct {
    int32_t stride_h, stride_w;
    int32_t filter_h, filter_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;
} dlk_pool_params_t;

dlk_status_t dlk_avg_pool2d_s8(const dlk_pool_params_t *params, const dlk_shape4_t *input_shape,
                               const int8_t *input, const dlk_shape4_t *output_shape,
                               int8_t *output);
dlk_status_t dlk_max_pool2d_s8(const dlk_pool_params_t *params, const dlk_shape4_t *input_shape,
                               const int8_t *input, const dlk_shape4_t *output_shape,
                               int8_t *output);

/* ADD with numpy-style broadcasting (shapes right-aligned, ranks <= DLK_MAX_RANK). */
typedef struct {
    int32_t input1_zero_point, input2_zero_point, output_zero_point;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} dlk_add_params_t;

dlk_status_t dlk_add_s8(const dlk_add_params_t *params, const dlk_shape_t *input1_shape,
                        const int8_t *input1, const dlk_shape_t *input2_shape,
                        const int8_t *input2, const dlk_shape_t *output_shape, int8_t *output);

/* MUL with broadcasting. */
typedef struct {
    int32_t input1_zero_point, input2_zero_point, output_zero_point;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} dlk_mul_params_t;

dlk_status_t dlk_mul_s8(const dlk_mul_params_t *params, const dlk_shape_t *input1_shape,
                        const int8_t *input1, const dlk_shape_t *input2_shape,
                        const int8_t *input2, const dlk_shape_t *output_shape, int8_t *output);

/* MEAN over the axes flagged in reduce_mask (bit i = axis i of input_shape). The multiplier
 * and shift already include the 1/count factor as TFLite's QuantizedMeanOrSum adapts them. */
typedef struct {
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier, shift;
    uint32_t reduce_mask;
} dlk_mean_params_t;

dlk_status_t dlk_mean_s8(const dlk_mean_params_t *params, const dlk_shape_t *input_shape,
                         const int8_t *input, int8_t *output, size_t output_len);

/* SOFTMAX over the last axis, int8 -> int8 (output scale 1/256, zero point -128). */
typedef struct {
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} dlk_softmax_params_t;

dlk_status_t dlk_softmax_s8(const dlk_softmax_params_t *params, int32_t outer, int32_t depth,
                            const int8_t *input, int8_t *output);

/* RELU (with requantisation from input to output scale, as TFLite-Micro's ReluQuantized). */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} dlk_relu_params_t;

/* Element-wise kernels take both lengths: they differ only in a malformed call, which returns
 * DLK_ERR_BAD_LENGTH instead of reading or writing past a buffer. */
dlk_status_t dlk_relu_s8(const dlk_relu_params_t *params, const int8_t *input, size_t input_len,
                         int8_t *output, size_t output_len);

/* RELU6 as TFLite-Micro does it for int8: a clamp to [zero, six] in the input's domain. */
typedef struct {
    int32_t zero, six;
} dlk_relu6_params_t;

dlk_status_t dlk_relu6_s8(const dlk_relu6_params_t *params, const int8_t *input,
                          size_t input_len, int8_t *output, size_t output_len);

/* QUANTIZE int8 -> int8 (requantise). */
typedef struct {
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
} dlk_requant_params_t;

dlk_status_t dlk_requantize_s8(const dlk_requant_params_t *params, const int8_t *input,
                               size_t input_len, int8_t *output, size_t output_len);

/* RESHAPE: a byte copy (a no-op when the planner aliased input and output). */
dlk_status_t dlk_copy_s8(const int8_t *input, size_t input_len, int8_t *output,
                         size_t output_len);

/* PAD with a constant (the output zero point for PAD, the constant for PADV2). */
typedef struct {
    int32_t before[DLK_MAX_RANK];
    int32_t after[DLK_MAX_RANK];
    int32_t pad_value;
} dlk_pad_params_t;

dlk_status_t dlk_pad_s8(const dlk_pad_params_t *params, const dlk_shape_t *input_shape,
                        const int8_t *input, const dlk_shape_t *output_shape, int8_t *output);

/* TRANSPOSE: output axis i is input axis perm[i]. */
typedef struct {
    int32_t perm[DLK_MAX_RANK];
} dlk_transpose_params_t;

dlk_status_t dlk_transpose_s8(const dlk_transpose_params_t *params,
                              const dlk_shape_t *input_shape, const int8_t *input,
                              const dlk_shape_t *output_shape, int8_t *output);

/* Per-layer profiling: a generated model calls the hook set with <name>_set_layer_hook() with a
 * layer's index just before the layer runs, and with -1 after the last one (so the time between
 * two calls is the first one's layer). The app reads its counter there. */
typedef void (*dlk_layer_hook_t)(void *ctx, int32_t layer);

/* Number of elements of a shape (0 for an invalid one). */
int32_t dlk_shape_count(const dlk_shape_t *shape);

#ifdef __cplusplus
}
#endif

#endif /* DLINK_KERNELS_H */
