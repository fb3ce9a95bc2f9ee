/* Peak stack use by painting: fill the free stack below the caller with a pattern, run the work,
 * then find the lowest word whose pattern is gone. Shared by the test-vector app (main.c) and the
 * streaming app (stream.c). */
#ifndef DLINK_STACK_WATERMARK_H
#define DLINK_STACK_WATERMARK_H

#include <stdint.h>

extern uint32_t __stack_limit__[];
extern uint32_t __stack_top__[];

/* The current stack pointer. */
static inline uintptr_t dlk_stack_pointer(void)
{
    uintptr_t sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Paint the stack from its limit up to a margin below the caller's frame. */
void dlk_paint_stack(void);
/* The lowest address the stack reached since dlk_paint_stack (the first word whose paint is gone). */
uintptr_t dlk_stack_low_water(void);

#endif /* DLINK_STACK_WATERMARK_H */
