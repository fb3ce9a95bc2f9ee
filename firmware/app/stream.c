/* The DLink streaming app: raw ADC frames in, decisions out. The board as a BCI.
 *
 * Frames come from a stream source (stream_source.h: a host file through semihosting under QEMU,
 * or an excerpt embedded in flash). Each frame goes through the generated front end
 * (student_frontend.h: causal filters, resampler, int8 quantisation, sliding window); every hop the
 * model runs on the window and the app prints one line per decision:
 *
 *   DLINK_DECISION {"hop":k,"frame":n,"samples":c,"class":i,"output":[int8...],"prob_e4":[...],
 *                   "window_checksum":w,"frontend_checksum":f,"model_<unit>":m,"status":s}
 *
 * frame: the 0-based ADC frame during which the decision fell; samples: model-rate samples so far;
 * output: the model's int8 output; prob_e4: class probabilities x 10^4 (softmax of the dequantised
 * output in float, or the dequantised output of a model that ends with a softmax);
 * window_checksum: checksum32 of the int8 window the model read; frontend_checksum: checksum32 of
 * the float32 front-end outputs (bit patterns) since the previous decision. The first
 * DLK_STREAM_DUMP_SAMPLES model-rate samples are also printed in full, as float bits:
 *
 *   DLINK_FRONTEND {"sample":m,"channel":c0,"bits":[u32...]}
 *
 * and at the end one line with the budget figures (<unit> is "instructions" under QEMU -icount,
 * "cycles" on hardware):
 *
 *   DLINK_STREAM_RESULT {"board":..,"core":..,"counter":..,"source":..,"frames":N,"decisions":K,
 *       "frontend_<unit>_total":..,"frontend_<unit>_max_frame":..,"model_<unit>_total":..,
 *       "model_<unit>_max":..,"counter_overhead":..,"frontend_ram_bytes":..,"arena_bytes":..,
 *       "stack_peak_bytes":..,"flash_bytes":..,"ram_bytes":..,"n_chans":..,"adc_bytes":..,
 *       "invoke_errors":..}
 *
 * Timing: the counter is read around every front-end push and every inference; the cost of the
 * two reads themselves (counter_overhead, the least of 16 back-to-back pairs) is subtracted.
 * checksum32 over words w_i is sum(w_i * (2i + 1)) mod 2^32 (dlink.export.codegen.frontend_model).
 * Exit status: 0 after the last frame with no failed inference, 1 otherwise, 2 when the source
 * cannot be opened (DLINK_STREAM_ERROR line). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dlink/board.h"
#include "report_line.h"
#include "stack_watermark.h"
#include "stream_source.h"
#include "student_frontend.h"
#include "student_model.h"

_Static_assert(STUDENT_FE_WINDOW_BYTES == STUDENT_INPUT_BYTES,
               "student_frontend.h and student_model.h disagree on the window size");

#ifndef DLK_STREAM_DUMP_SAMPLES
#define DLK_STREAM_DUMP_SAMPLES 32u
#endif
#define DLK_CHUNK_FRAMES 16u
#define DLK_DUMP_PER_LINE 32u

extern uint8_t __dlk_app_flash_bytes__[];
extern uint8_t __dlk_ram_start__[];
extern uint8_t __dlk_ram_end__[];

static student_adc_t dlk_frames[DLK_CHUNK_FRAMES][STUDENT_FE_N_CHANS];
static int8_t dlk_output[STUDENT_OUTPUT_BYTES];
static dlk_line_t dlk_line;

/* -- checksums --------------------------------------------------------------------------------- */
typedef struct {
    uint32_t sum;
    uint32_t index;
} dlk_checksum_t;

static void dlk_checksum_word(dlk_checksum_t *ck, uint32_t word)
{
    ck->sum += word * (2u * ck->index + 1u);
    ck->index += 1u;
}

static uint32_t dlk_checksum_bytes(const int8_t *bytes, size_t n)
{
    dlk_checksum_t ck = {0u, 0u};
    for (size_t i = 0; i < n; ++i) {
        dlk_checksum_word(&ck, (uint32_t)(uint8_t)bytes[i]);
    }
    return ck.sum;
}

static uint32_t dlk_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* -- output lines -------------------------------------------------------------------------------- */
static void dlk_dump_sample(uint64_t sample, const float *values)
{
    for (uint32_t c0 = 0; c0 < STUDENT_FE_N_CHANS; c0 += DLK_DUMP_PER_LINE) {
        dlk_line_start(&dlk_line, "DLINK_FRONTEND {");
        dlk_line_key(&dlk_line, "sample", 1);
        dlk_line_put_u64(&dlk_line, sample);
        dlk_line_int_field(&dlk_line, "channel", c0);
        dlk_line_key(&dlk_line, "bits", 0);
        dlk_line_put(&dlk_line, "[");
        for (uint32_t c = c0; c < STUDENT_FE_N_CHANS && c < c0 + DLK_DUMP_PER_LINE; ++c) {
            dlk_line_put(&dlk_line, c == c0 ? "" : ",");
            dlk_line_put_u64(&dlk_line, dlk_float_bits(values[c]));
        }
        dlk_line_put(&dlk_line, "]");
        dlk_line_end(&dlk_line);
    }
}

/* Add the front end's output rows [first, last) to the running checksum (and dump the first
 * samples); returns the model-rate sample count after them. */
static uint64_t dlk_account_rows(const float *values, uint32_t first, uint32_t last, uint64_t samples,
                                 dlk_checksum_t *ck)
{
    for (uint32_t r = first; r < last; ++r, ++samples) {
        for (uint32_t c = 0; c < STUDENT_FE_N_CHANS; ++c) {
            dlk_checksum_word(ck, dlk_float_bits(values[r * STUDENT_FE_N_CHANS + c]));
        }
        if (samples < DLK_STREAM_DUMP_SAMPLES) {
            dlk_dump_sample(samples, &values[r * STUDENT_FE_N_CHANS]);
        }
    }
    return samples;
}

/* Class probabilities x 10^4 from the int8 output. */
static void dlk_probabilities(const int8_t *q, int32_t *prob_e4)
{
    float p[STUDENT_OUTPUT_BYTES];
    float max = -1.0e30f;
    for (uint32_t i = 0; i < STUDENT_OUTPUT_BYTES; ++i) {
        p[i] = (float)((int32_t)q[i] - STUDENT_FE_OUTPUT_ZERO_POINT) * STUDENT_FE_OUTPUT_SCALE;
        max = p[i] > max ? p[i] : max;
    }
    float sum = 0.0f;
    for (uint32_t i = 0; i < STUDENT_OUTPUT_BYTES; ++i) {
#if STUDENT_FE_OUTPUT_IS_PROBABILITY
        sum = 1.0f;
#else
        p[i] = expf(p[i] - max);
        sum += p[i];
#endif
    }
    for (uint32_t i = 0; i < STUDENT_OUTPUT_BYTES; ++i) {
        prob_e4[i] = (int32_t)lroundf(10000.0f * p[i] / sum);
    }
}

static void dlk_report_decision(uint32_t hop, uint64_t frame, uint64_t samples, int status,
                                uint32_t window_ck, uint32_t frontend_ck, uint64_t model_count)
{
    uint32_t best = 0u;
    for (uint32_t i = 1; i < STUDENT_OUTPUT_BYTES; ++i) {
        best = dlk_output[i] > dlk_output[best] ? i : best;
    }
    int32_t prob_e4[STUDENT_OUTPUT_BYTES];
    dlk_probabilities(dlk_output, prob_e4);
    dlk_line_t *line = &dlk_line;
    dlk_line_start(line, "DLINK_DECISION {");
    dlk_line_key(line, "hop", 1);
    dlk_line_put_u64(line, hop);
    dlk_line_int_field(line, "frame", (int64_t)frame);
    dlk_line_int_field(line, "samples", (int64_t)samples);
    dlk_line_int_field(line, "class", best);
    int32_t output[STUDENT_OUTPUT_BYTES];
    for (uint32_t i = 0; i < STUDENT_OUTPUT_BYTES; ++i) {
        output[i] = dlk_output[i];
    }
    dlk_line_array_field(line, "output", output, STUDENT_OUTPUT_BYTES);
    dlk_line_array_field(line, "prob_e4", prob_e4, STUDENT_OUTPUT_BYTES);
    dlk_line_int_field(line, "window_checksum", window_ck);
    dlk_line_int_field(line, "frontend_checksum", frontend_ck);
    dlk_line_unit_field(line, "model_", "", model_count);
    dlk_line_int_field(line, "status", status);
    dlk_line_end(line);
}

static uint64_t dlk_counter_overhead(void)
{
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < 16; ++i) {
        const uint64_t t0 = dlk_board_counter();
        const uint64_t t1 = dlk_board_counter();
        least = t1 - t0 < least ? t1 - t0 : least;
    }
    return least;
}

int main(void)
{
    dlk_paint_stack();
    const uint64_t overhead = dlk_counter_overhead();
    student_frontend_reset();
    uint32_t n_frames = 0u;
    const int opened = dlk_stream_source_open(STUDENT_FE_N_CHANS, STUDENT_FE_ADC_BYTES,
                                              STUDENT_FE_INPUT_SFREQ_MHZ, &n_frames);
    if (opened != 0) {
        dlk_line_start(&dlk_line, "DLINK_STREAM_ERROR {");
        dlk_line_str_field(&dlk_line, "source", dlk_stream_source_name, 1);
        dlk_line_str_field(&dlk_line, "error", dlk_stream_source_error(), 0);
        dlk_line_end(&dlk_line);
        return 2;
    }

    uint64_t frame = 0u, samples = 0u, fe_total = 0u, fe_max = 0u, model_total = 0u, model_max = 0u;
    uint32_t hop = 0u, invoke_errors = 0u;
    dlk_checksum_t fe_ck = {0u, 0u};
    size_t got;
    while ((got = dlk_stream_source_read(dlk_frames, DLK_CHUNK_FRAMES)) > 0u) {
        for (size_t f = 0; f < got; ++f, ++frame) {
            const uint64_t t0 = dlk_board_counter();
            const int ready = student_frontend_push(dlk_frames[f], STUDENT_FE_N_CHANS);
            const uint64_t t1 = dlk_board_counter();
            const uint64_t fe = t1 - t0 > overhead ? t1 - t0 - overhead : 0u;
            fe_total += fe;
            fe_max = fe > fe_max ? fe : fe_max;

            const float *values = 0;
            uint32_t ready_after = 0u;
            const uint32_t n_out = student_frontend_outputs(&values, &ready_after);
            /* rows up to the decision belong to the window just completed, the rest to the next */
            samples = dlk_account_rows(values, 0u, ready == 1 ? ready_after : n_out, samples, &fe_ck);
            if (ready == 1) {
                const int8_t *window = student_frontend_window();
                const uint32_t window_ck = dlk_checksum_bytes(window, STUDENT_FE_WINDOW_BYTES);
                const uint64_t m0 = dlk_board_counter();
                const dlk_status_t status = student_invoke(window, STUDENT_INPUT_BYTES, dlk_output,
                                                           sizeof dlk_output);
                const uint64_t m1 = dlk_board_counter();
                const uint64_t mc = m1 - m0 > overhead ? m1 - m0 - overhead : 0u;
                model_total += mc;
                model_max = mc > model_max ? mc : model_max;
                if (status != DLK_OK) {
                    invoke_errors += 1u;
                }
                dlk_report_decision(hop, frame, samples, (int)status, window_ck, fe_ck.sum, mc);
                hop += 1u;
                fe_ck.sum = 0u;
                fe_ck.index = 0u;
                samples = dlk_account_rows(values, ready_after, n_out, samples, &fe_ck);
            }
        }
    }
    dlk_stream_source_close();

    const uintptr_t low_water = dlk_stack_low_water();
    dlk_line_t *line = &dlk_line;
    dlk_line_start(line, "DLINK_STREAM_RESULT {");
    dlk_line_str_field(line, "board", dlk_board_name, 1);
    dlk_line_str_field(line, "core", dlk_board_core, 0);
    dlk_line_str_field(line, "counter", dlk_board_counter_unit, 0);
    dlk_line_str_field(line, "source", dlk_stream_source_name, 0);
    dlk_line_int_field(line, "frames", (int64_t)frame);
    dlk_line_int_field(line, "frames_declared", n_frames);
    dlk_line_int_field(line, "decisions", hop);
    dlk_line_int_field(line, "samples", (int64_t)samples);
    dlk_line_unit_field(line, "frontend_", "_total", fe_total);
    dlk_line_unit_field(line, "frontend_", "_max_frame", fe_max);
    dlk_line_unit_field(line, "model_", "_total", model_total);
    dlk_line_unit_field(line, "model_", "_max", model_max);
    dlk_line_int_field(line, "counter_overhead", (int64_t)overhead);
    dlk_line_int_field(line, "frontend_ram_bytes", student_frontend_ram_bytes);
    dlk_line_int_field(line, "arena_bytes", STUDENT_ARENA_BYTES);
    dlk_line_int_field(line, "stack_peak_bytes", (int64_t)((uintptr_t)__stack_top__ - low_water));
    dlk_line_int_field(line, "flash_bytes", (int64_t)(uintptr_t)__dlk_app_flash_bytes__);
    dlk_line_int_field(line, "ram_bytes",
                       (int64_t)((uintptr_t)__dlk_ram_end__ - (uintptr_t)__dlk_ram_start__));
    dlk_line_int_field(line, "n_chans", STUDENT_FE_N_CHANS);
    dlk_line_int_field(line, "adc_bytes", STUDENT_FE_ADC_BYTES);
    dlk_line_int_field(line, "invoke_errors", invoke_errors);
    dlk_line_end(line);
    return (invoke_errors == 0u && frame == n_frames) ? 0 : 1;
}
