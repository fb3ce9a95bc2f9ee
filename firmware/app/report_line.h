/* One machine-readable output line at a time, without printf (nothing from libc's stdio is linked):
 * the test-vector app's DLINK_RESULT / DLINK_LAYER / DLINK_PROFILE / DLINK_MISMATCH lines and the
 * streaming app's DLINK_DECISION / DLINK_FRONTEND / DLINK_STREAM_RESULT lines. */
#ifndef DLINK_REPORT_LINE_H
#define DLINK_REPORT_LINE_H

#include <stddef.h>
#include <stdint.h>

#define DLK_LINE_CAPACITY 1024u

typedef struct {
    char text[DLK_LINE_CAPACITY];
    size_t len;
} dlk_line_t;

/* Start a line with `prefix` (e.g. "DLINK_DECISION {"). */
void dlk_line_start(dlk_line_t *line, const char *prefix);
/* Append text, a decimal, or a JSON key (`,"key":`, without the comma when `first`). */
void dlk_line_put(dlk_line_t *line, const char *s);
void dlk_line_put_u64(dlk_line_t *line, uint64_t v);
void dlk_line_put_i64(dlk_line_t *line, int64_t v);
void dlk_line_key(dlk_line_t *line, const char *key, int first);
/* `"key":"value"` and `"key":number` fields (comma first unless `first`). */
void dlk_line_str_field(dlk_line_t *line, const char *key, const char *value, int first);
void dlk_line_int_field(dlk_line_t *line, const char *key, int64_t value);
/* `"<prefix><counter unit><suffix>":v` (comma first), e.g. "model_instructions_total". */
void dlk_line_unit_field(dlk_line_t *line, const char *prefix, const char *suffix, uint64_t v);
/* `"key":[v0,v1,...]` (comma first). */
void dlk_line_array_field(dlk_line_t *line, const char *key, const int32_t *values, size_t n);
/* Close the line with "}\n" and write it to the board's console. */
void dlk_line_end(dlk_line_t *line);

#endif /* DLINK_REPORT_LINE_H */
