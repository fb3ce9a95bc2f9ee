/* Output lines of the firmware apps (see report_line.h). */
#include "report_line.h"

#include "dlink/board.h"

void dlk_line_put(dlk_line_t *line, const char *s)
{
    while (*s != '\0' && line->len < sizeof line->text) {
        line->text[line->len++] = *s++;
    }
}

void dlk_line_start(dlk_line_t *line, const char *prefix)
{
    line->len = 0;
    dlk_line_put(line, prefix);
}

void dlk_line_put_u64(dlk_line_t *line, uint64_t v)
{
    char digits[21];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0u && line->len < sizeof line->text) {
        line->text[line->len++] = digits[--n];
    }
}

void dlk_line_put_i64(dlk_line_t *line, int64_t v)
{
    if (v < 0) {
        dlk_line_put(line, "-");
        dlk_line_put_u64(line, (uint64_t)(-(v + 1)) + 1u);
    } else {
        dlk_line_put_u64(line, (uint64_t)v);
    }
}

void dlk_line_key(dlk_line_t *line, const char *key, int first)
{
    dlk_line_put(line, first ? "\"" : ",\"");
    dlk_line_put(line, key);
    dlk_line_put(line, "\":");
}

void dlk_line_str_field(dlk_line_t *line, const char *key, const char *value, int first)
{
    dlk_line_key(line, key, first);
    dlk_line_put(line, "\"");
    dlk_line_put(line, value);
    dlk_line_put(line, "\"");
}

void dlk_line_int_field(dlk_line_t *line, const char *key, int64_t value)
{
    dlk_line_key(line, key, 0);
    dlk_line_put_i64(line, value);
}

void dlk_line_unit_field(dlk_line_t *line, const char *prefix, const char *suffix, uint64_t v)
{
    dlk_line_put(line, ",\"");
    dlk_line_put(line, prefix);
    dlk_line_put(line, dlk_board_counter_unit);
    dlk_line_put(line, suffix);
    dlk_line_put(line, "\":");
    dlk_line_put_u64(line, v);
}

void dlk_line_array_field(dlk_line_t *line, const char *key, const int32_t *values, size_t n)
{
    dlk_line_key(line, key, 0);
    dlk_line_put(line, "[");
    for (size_t i = 0; i < n; ++i) {
        dlk_line_put(line, i ? "," : "");
        dlk_line_put_i64(line, values[i]);
    }
    dlk_line_put(line, "]");
}

void dlk_line_end(dlk_line_t *line)
{
    if (line->len > sizeof line->text - 2u) {
        line->len = sizeof line->text - 2u; /* truncated: the parser reports invalid JSON */
    }
    line->text[line->len++] = '}';
    line->text[line->len++] = '\n';
    dlk_board_write(line->text, line->len);
}
