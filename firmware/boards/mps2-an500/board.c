/* Arm MPS2 with the AN500 FPGA image (Cortex-M7), emulated by QEMU `-machine mps2-an500`.
 * QEMU hw/arm/mps2.c: SYSCLK 25 MHz drives the SysTick processor clock.
 *
 * Output and exit through semihosting; latency in instructions: SysTick ticks at 25 MHz
 * under `-icount shift=0` (1 ns per instruction) are 40/1 instructions each. */
#include "dlink/board.h"

#include "../common/semihost.h"
#include "../common/systick_counter.h"

#define DLK_INSTRUCTIONS_PER_TICK_NUM 40u
#define DLK_INSTRUCTIONS_PER_TICK_DEN 1u

const char dlk_board_name[] = "mps2-an500";
const char dlk_board_core[] = "cortex-m7";
const char dlk_board_counter_unit[] = "instructions";

void dlk_board_init(void)
{
    dlk_systick_start();
}

void dlk_board_write(const char *text, size_t len)
{
    dlk_semihost_write(text, len);
}

uint64_t dlk_board_counter(void)
{
    return dlk_systick_ticks() * DLK_INSTRUCTIONS_PER_TICK_NUM / DLK_INSTRUCTIONS_PER_TICK_DEN;
}

void dlk_board_exit(int status)
{
    dlk_semihost_exit(status);
}
