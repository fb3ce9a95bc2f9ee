/* dlink runtime: the streaming front end's float32 arithmetic (see dlink/frontend.h for the exact
 * operation order that the Python model reproduces bit for bit). */
#include "dlink/frontend.h"

/* Products and sums are rounded one by one: a fused multiply-add would change the bits. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

float dlk_biquad_cascade_f32(const dlk_biquad_f32_t *sections, size_t n_sections, float *state,
                             float x)
{
    for (size_t s = 0; s < n_sections; ++s) {
        const dlk_biquad_f32_t *q = &sections[s];
        float *z = &state[2u * s];
        const float y = q->b0 * x + z[0];
        z[0] = (q->b1 * x - q->a1 * y) + z[1];
        z[1] = q->b2 * x - q->a2 * y;
        x = y;
    }
    return x;
}

void dlk_history_push_f32(float *history, uint32_t taps, uint32_t head, float x)
{
    history[head] = x;
    history[head + taps] = x;
}

float dlk_fir_dot_f32(const float *phase_taps, uint32_t taps, const float *newest)
{
    float acc = 0.0f;
    for (uint32_t i = 0; i < taps; ++i) {
        const float prod = phase_taps[i] * *(newest - i);
        acc = acc + prod;
    }
    return acc;
}

int8_t dlk_quantize_input_f32(float x, float inv_scale, int32_t zero_point)
{
    float v = x * inv_scale;
    if (!(v == v)) { /* NaN */
        v = 0.0f;
    } else if (v > 1024.0f) {
        v = 1024.0f;
    } else if (v < -1024.0f) {
        v = -1024.0f;
    }
    int32_t q = (int32_t)v; /* toward zero */
    const float frac = v - (float)q; /* exact */
    if (frac >= 0.5f) {
        q += 1;
    } else if (frac <= -0.5f) {
        q -= 1;
    }
    q += zero_point;
    if (q > 127) {
        q = 127;
    } else if (q < -128) {
        q = -128;
    }
    return (int8_t)q;
}
