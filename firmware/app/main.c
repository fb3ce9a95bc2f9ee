/* The DLink firmware app: run the generated int8 model on the embedded test vectors, check every
 * output byte against the expected outputs (TFLite-Micro's), and print ONE machine-readable line:
 *
 *   DLINK_RESULT {"board":..., "core":..., "matched":m, "total":n,
 *                 "<unit>_per_inference":mean, "<unit>_min":.., "<unit>_max":..,
 *                 "stack_peak_bytes":.., "model_stack_peak_bytes":.., "stack_bytes":..,
 *                 "arena_bytes":.., "flash_bytes":..,
 *                 "test_vector_bytes":.., "ram_bytes":.., "macs":.., "invoke_errors":..,
 *                 "first_mismatch":i or -1}
 *
 * <unit> is "instructions" under QEMU (-icount shift=0) and "cycles" on hardware (DWT). The exit
 * status (semihosting under QEMU) is 0 when every vector matched, 1 otherwise; 3 after a fault.
 *
 * Peak stack: the stack is painted with a pattern before the first inference; afterwards the
 * lowest overwritten word gives the deepest the stack went: stack_peak_bytes from the top of the
 * stack (startup, main and the model together: what the app needs), model_stack_peak_bytes from
 * main's stack pointer (what student_invoke and the calls around it need). flash_bytes and ram_bytes come from the linker's symbols: flash = code,
 * read-only data and the .data image WITHOUT the embedded test vectors (test_vector_bytes, in
 * flash too); ram = .data + .bss (the arena included) + the reserved stack.
 *
 * Built with -DDLK_NO_TEST_VECTORS (`dlink firmware build --no-test-vectors`, the deployment
 * build), the app embeds no test vectors: it runs the model once on an input buffer holding the
 * input zero point (a window of zeros), checks the status, and prints the same line with
 * "total":0 (nothing to compare). A deployed application fills that buffer from its ADC.
 *
 * Before the result line, one more inference of the first input runs with the model's layer hook
 * set, and prints the per-layer profile (counter units between the marks before each layer):
 *
 *   DLINK_LAYER {"index":i,"count":n}          one line per layer that ran
 *   DLINK_PROFILE {"counter":..., "layers":k, "hook_overhead":h}
 *
 * hook_overhead is what one mark costs (two marks back to back); every count includes it once. */
#include <stdint.h>
#include <string.h>

#include "dlink/board.h"
#include "report_line.h"
#include "stack_watermark.h"
#include "student_model.h"

#ifdef DLK_NO_TEST_VECTORS
#define DLK_TV_COUNT 0u
#define DLK_RUNS 1u
static int8_t dlk_input[STUDENT_INPUT_BYTES];
#else
#include "test_vectors.h"
#define DLK_RUNS DLK_TV_COUNT

_Static_assert(DLK_TV_INPUT_BYTES == STUDENT_INPUT_BYTES,
               "test_vectors.h and student_model.h disagree on the input size");
_Static_assert(DLK_TV_OUTPUT_BYTES == STUDENT_OUTPUT_BYTES,
               "test_vectors.h and student_model.h disagree on the output size");
#endif

extern uint8_t __dlk_app_flash_bytes__[]; /* an absolute symbol: its address is the value */
extern uint8_t __dlk_ram_start__[];
extern uint8_t __dlk_ram_end__[];

static int8_t dlk_output[STUDENT_OUTPUT_BYTES];

/* Static, not on the stack, so that the stack peak is the model's and the app's frames only. */
static dlk_line_t dlk_line;

/* -- per-layer profile ----------------------------------------------------------------------- */
#define DLK_PROFILE_MARKS (STUDENT_N_LAYERS + 1)

static struct {
    uint32_t n;
    int32_t layer[DLK_PROFILE_MARKS];
    uint64_t at[DLK_PROFILE_MARKS];
} dlk_profile;

static void dlk_profile_mark(void *ctx, int32_t layer)
{
    const uint64_t now = dlk_board_counter();
    (void)ctx;
    if (dlk_profile.n < DLK_PROFILE_MARKS) {
        dlk_profile.layer[dlk_profile.n] = layer;
        dlk_profile.at[dlk_profile.n] = now;
        dlk_profile.n += 1u;
    }
}

/* One profiled inference of `input`; prints DLINK_LAYER lines and the DLINK_PROFILE line. */
static void dlk_run_profile(const int8_t *input)
{
    dlk_line_t *line = &dlk_line;
    dlk_profile.n = 0;
    dlk_profile_mark(0, -2); /* two marks back to back: the cost of one */
    dlk_profile_mark(0, -2);
    const uint64_t overhead = dlk_profile.at[1] - dlk_profile.at[0];
    dlk_profile.n = 0;
    student_set_layer_hook(dlk_profile_mark, 0);
    (void)student_invoke(input, STUDENT_INPUT_BYTES, dlk_output, sizeof dlk_output);
    student_set_layer_hook(0, 0);
    for (uint32_t i = 0; i + 1u < dlk_profile.n; ++i) {
        dlk_line_start(line, "DLINK_LAYER {");
        dlk_line_key(line, "index", 1);
        dlk_line_put_i64(line, dlk_profile.layer[i]);
        dlk_line_key(line, "count", 0);
        dlk_line_put_u64(line, dlk_profile.at[i + 1u] - dlk_profile.at[i]);
        dlk_line_end(line);
    }
    dlk_line_start(line, "DLINK_PROFILE {");
    dlk_line_str_field(line, "counter", dlk_board_counter_unit, 1);
    dlk_line_int_field(line, "layers", dlk_profile.n > 0u ? (int64_t)dlk_profile.n - 1 : 0);
    dlk_line_int_field(line, "hook_overhead", (int64_t)overhead);
    dlk_line_end(line);
}

#ifndef DLK_NO_TEST_VECTORS
static void dlk_report_mismatch(uint32_t index)
{
    dlk_line_t *line = &dlk_line;
    for (uint32_t b = 0; b < DLK_TV_OUTPUT_BYTES; ++b) {
        if (dlk_output[b] != dlk_tv_expected[index][b]) {
            line->len = 0;
            dlk_line_put(line, "DLINK_MISMATCH vector=");
            dlk_line_put_u64(line, index);
            dlk_line_put(line, " byte=");
            dlk_line_put_u64(line, b);
            dlk_line_put(line, " got=");
            dlk_line_put_i64(line, dlk_output[b]);
            dlk_line_put(line, " expected=");
            dlk_line_put_i64(line, dlk_tv_expected[index][b]);
            dlk_line_put(line, "\n");
            dlk_board_write(line->text, line->len);
            return;
        }
    }
}
#endif

int main(void)
{
    dlk_paint_stack();
    const uintptr_t main_sp = dlk_stack_pointer();

    uint32_t matched = 0;
    uint32_t invoke_errors = 0;
    int64_t first_mismatch = -1;
    uint64_t total_count = 0;
    uint64_t min_count = UINT64_MAX;
    uint64_t max_count = 0;
    const int8_t *first_input = 0;

#ifdef DLK_NO_TEST_VECTORS
    memset(dlk_input, STUDENT_INPUT_ZERO_POINT, sizeof dlk_input);
#endif
    for (uint32_t i = 0; i < DLK_RUNS; ++i) {
        memset(dlk_output, 0, sizeof dlk_output);
#ifdef DLK_NO_TEST_VECTORS
        const int8_t *input = dlk_input;
#else
        const int8_t *input = dlk_tv_inputs[i];
#endif
        if (i == 0) {
            first_input = input;
        }
        uint64_t t0 = dlk_board_counter();
        dlk_status_t status = student_invoke(input, STUDENT_INPUT_BYTES, dlk_output,
                                             sizeof dlk_output);
        uint64_t t1 = dlk_board_counter();
        uint64_t count = t1 - t0;
        total_count += count;
        min_count = count < min_count ? count : min_count;
        max_count = count > max_count ? count : max_count;
        if ((int)status != 0) {
            invoke_errors += 1u;
        }
#ifndef DLK_NO_TEST_VECTORS
        if ((int)status == 0 && memcmp(dlk_output, dlk_tv_expected[i], DLK_TV_OUTPUT_BYTES) == 0) {
            matched += 1u;
        } else if (first_mismatch < 0) {
            first_mismatch = (int64_t)i;
            dlk_report_mismatch(i);
        }
#endif
    }

    const uintptr_t low_water = dlk_stack_low_water();
    if (first_input != 0) {
        dlk_run_profile(first_input);
    }
    dlk_line_t *line = &dlk_line;
    dlk_line_start(line, "DLINK_RESULT {");
    dlk_line_str_field(line, "board", dlk_board_name, 1);
    dlk_line_str_field(line, "core", dlk_board_core, 0);
    dlk_line_str_field(line, "counter", dlk_board_counter_unit, 0);
    dlk_line_int_field(line, "matched", matched);
    dlk_line_int_field(line, "total", DLK_TV_COUNT);
    dlk_line_unit_field(line, "", "_per_inference", DLK_RUNS > 0 ? total_count / DLK_RUNS : 0u);
    dlk_line_unit_field(line, "", "_min", DLK_RUNS > 0 ? min_count : 0u);
    dlk_line_unit_field(line, "", "_max", max_count);
    dlk_line_int_field(line, "stack_peak_bytes", (int64_t)((uintptr_t)__stack_top__ - low_water));
    dlk_line_int_field(line, "model_stack_peak_bytes",
                      (int64_t)(main_sp > low_water ? main_sp - low_water : 0u));
    dlk_line_int_field(line, "stack_bytes",
                      (int64_t)((uintptr_t)__stack_top__ - (uintptr_t)__stack_limit__));
    dlk_line_int_field(line, "arena_bytes", (int64_t)STUDENT_ARENA_BYTES);
    dlk_line_int_field(line, "flash_bytes", (int64_t)(uintptr_t)__dlk_app_flash_bytes__);
#ifdef DLK_NO_TEST_VECTORS
    dlk_line_int_field(line, "test_vector_bytes", 0);
#else
    dlk_line_int_field(line, "test_vector_bytes",
                      (int64_t)(sizeof dlk_tv_inputs + sizeof dlk_tv_expected));
#endif
    dlk_line_int_field(line, "ram_bytes",
                      (int64_t)((uintptr_t)__dlk_ram_end__ - (uintptr_t)__dlk_ram_start__));
    dlk_line_int_field(line, "macs", (int64_t)STUDENT_MACS);
    dlk_line_int_field(line, "invoke_errors", invoke_errors);
    dlk_line_int_field(line, "first_mismatch", first_mismatch);
    dlk_line_end(line);

    return (matched == DLK_TV_COUNT && invoke_errors == 0u) ? 0 : 1;
}
