/* A 64-bit tick counter from SysTick (processor clock) with wrap counting.
 *
 * Under QEMU with `-icount shift=0` virtual time advances 1 ns per executed instruction, so a
 * SysTick clocked at F Hz ticks once every 1e9 / F instructions: instructions = ticks * 1e9 / F,
 * deterministic and independent of the host. (DWT CYCCNT reads 0 under QEMU.) */
#ifndef DLINK_SYSTICK_COUNTER_H
#define DLINK_SYSTICK_COUNTER_H

#include <stdint.h>

/** Start SysTick from the processor clock, 24-bit reload, wrap interrupt enabled. */
void dlk_systick_start(void);

/** Ticks since dlk_systick_start(). */
uint64_t dlk_systick_ticks(void);

#endif /* DLINK_SYSTICK_COUNTER_H */
