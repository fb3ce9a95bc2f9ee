/* Arm MPS3 with the AN547 FPGA image (Cortex-M55, SSE-300), emulated by QEMU `-machine mps3-an547`.
 * The core starts in the Secure state with the vector table at 0 (ITCM). QEMU hw/arm/mps2-tz.c:
 * SYSCLK (MAINCLK) 32 MHz.
 *
 * Output and exit through semihosting; latency in instructions: SysTick ticks at 32 MHz
 * under `-icount shift=0` (1 ns per instruction) are 125/4 instructions each. */
#include "dlink/board.h"

#include "../common/semihost.h"
#include "../common/systick_counter.h"

#define DLK_INSTRUCTIONS_PER_TICK_NUM 125u
#define DLK_INSTRUCTIONS_PER_TICK_DEN 4u

const char dlk_board_name[] = "mps3-an547";
const char dlk_board_core[] = "cortex-m55";
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
