/* Peak stack use by painting (see stack_watermark.h). */
#include "stack_watermark.h"

#define DLK_STACK_PAINT 0xA5C3A5C3u
/* Words left unpainted below the caller's stack pointer (this function's own frame). */
#define DLK_STACK_PAINT_MARGIN_WORDS 32u

__attribute__((noinline)) void dlk_paint_stack(void)
{
    const uint32_t *sp = (const uint32_t *)dlk_stack_pointer();
    for (volatile uint32_t *p = __stack_limit__; p < sp - DLK_STACK_PAINT_MARGIN_WORDS; ++p) {
        *p = DLK_STACK_PAINT;
    }
}

uintptr_t dlk_stack_low_water(void)
{
    const uint32_t *p = __stack_limit__;
    while (p < __stack_top__ && *p == DLK_STACK_PAINT) {
        ++p;
    }
    return (uintptr_t)p;
}
