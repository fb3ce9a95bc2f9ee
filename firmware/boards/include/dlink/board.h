/* The board interface the app is written against (firmware/boards/<board>/board.c implements it).
 *
 * One board file per board: output (semihosting under QEMU, UART0 on the nRF52840), a counter
 * (instructions under QEMU -icount shift=0, DWT cycles on hardware) and the way to stop. The shared
 * startup (common/startup.c) calls dlk_board_init() before main().
 */
#ifndef DLINK_BOARD_H
#define DLINK_BOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The board's name as `dlink firmware build --board` spells it, e.g. "mps2-an386". */
extern const char dlk_board_name[];
/** The CPU core, e.g. "cortex-m4". */
extern const char dlk_board_core[];
/** What dlk_board_counter() counts: "instructions" (QEMU -icount shift=0) or "cycles" (DWT). */
extern const char dlk_board_counter_unit[];

/** Clocks, FPU-independent peripherals, output; called once by the startup before main(). */
void dlk_board_init(void);

/** Write `len` bytes of text to the board's console (semihosting or UART). */
void dlk_board_write(const char *text, size_t len);

/** A free-running 64-bit counter in dlk_board_counter_unit units, started by dlk_board_init(). */
uint64_t dlk_board_counter(void);

/** Stop: exit QEMU with `status` through semihosting; on hardware, idle forever. */
void dlk_board_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* DLINK_BOARD_H */
