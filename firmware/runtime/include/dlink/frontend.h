/* dlink runtime: the streaming front end's building blocks (float32, small pure functions).
 *
 * The generated <name>_frontend.c (dlink.export.codegen.frontend) strings them together per ADC
 * frame: scale the raw counts to model units, run each channel through a biquad cascade (notch +
 * band-pass), push it into the resampler's history, emit the model-rate samples due, quantise them
 * to the model's int8 input and append them to the sliding window.
 *
 * Arithmetic contract (the Python model in dlink.data.causal and dlink.export.codegen.frontend_model
 * computes the same bits): IEEE float32, round to nearest, every product and sum rounded on its own
 * (compile without fused multiply-add: GCC's ISO modes, or -ffp-contract=off; the generated file
 * sets it), in exactly the order written in each function's comment.
 */
#ifndef DLINK_FRONTEND_H
#define DLINK_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "dlink/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One second-order section, a0 = 1 (scipy's sos row [b0, b1, b2, 1, a1, a2]). */
typedef struct {
    float b0;
    float b1;
    float b2;
    float a1;
    float a2;
} dlk_biquad_f32_t;

/* One sample through n_sections biquads in series, transposed direct form II, per section:
 *     y  = b0*x + z0;  z0 = (b1*x - a1*y) + z1;  z1 = b2*x - a2*y;  x = y
 * (scipy.signal.sosfilt's order). state holds 2 floats per section (z0, z1), updated in place. */
float dlk_biquad_cascade_f32(const dlk_biquad_f32_t *sections, size_t n_sections, float *state,
                             float x);

/* The resampler's per-channel history: 2*taps floats, every sample written twice (at head and
 * head + taps) so that the last taps samples are contiguous: after dlk_history_push_f32(h, taps,
 * head, x) the newest sample is h[head + taps] and the one i steps older is h[head + taps - i]. */
void dlk_history_push_f32(float *history, uint32_t taps, uint32_t head, float x);

/* One resampler output: acc = 0; for i in 0..taps-1: acc = acc + phase_taps[i] * newest[-i].
 * phase_taps are the taps of one polyphase branch; newest points at the newest history sample. */
float dlk_fir_dot_f32(const float *phase_taps, uint32_t taps, const float *newest);

/* float -> int8 model input: v = x * inv_scale, clamped to +-1024 (NaN -> 0); rounded half away
 * from zero (truncate, then compare the exact fraction with +-0.5); + zero_point; saturated. */
int8_t dlk_quantize_input_f32(float x, float inv_scale, int32_t zero_point);

/* Layout of the model's input window. */
typedef enum {
    DLK_LAYOUT_CHANNELS_TIME = 0, /* window[c * n_times + t] */
    DLK_LAYOUT_TIME_CHANNELS = 1  /* window[t * n_chans + c] */
} dlk_layout_t;

/* The model's window, sliding by hop samples. New samples collect in `pending` (hop per channel,
 * channel-major) while the model may read `window`; when hop samples have arrived the window
 * shifts left by hop and takes them. Decisions are due when the window has just shifted and at
 * least n_times samples have arrived: after hop * (ceil(n_times / hop) + k) samples, k = 0, 1, ...
 * RAM: n_chans * (n_times + hop) bytes. */
typedef struct {
    int8_t *window;       /* n_chans * n_times bytes, in `layout` (zeros before the first samples) */
    size_t window_len;
    int8_t *pending;      /* n_chans * hop bytes */
    size_t pending_len;
    uint32_t n_chans;
    uint32_t n_times;
    uint32_t hop;
    dlk_layout_t layout;
    uint32_t n_pending;   /* samples in pending */
    uint64_t n_samples;   /* samples appended to the window so far */
} dlk_window_t;

/* Check the sizes and clear the buffers. */
dlk_status_t dlk_window_init(dlk_window_t *w);

/* Append one model-rate sample of every channel (n_chans int8 values). *ready is set to 1 when
 * the window has just advanced by a hop and holds the last n_times samples, else 0. */
dlk_status_t dlk_window_push(dlk_window_t *w, const int8_t *sample, size_t n_chans, int *ready);

#ifdef __cplusplus
}
#endif

#endif /* DLINK_FRONTEND_H */
