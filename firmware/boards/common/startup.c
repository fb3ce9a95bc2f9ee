/* Shared Cortex-M startup: vector table, reset handler (.data copy, .bss clear, FPU enable) and
 * fault reporting. The linker script (common/sections.ld) provides the symbols used here. */
#include <stdint.h>

#include "dlink/board.h"

extern uint32_t __data_load__[];
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern uint32_t __stack_top__[];

int main(void);

void Reset_Handler(void);
void HardFault_Handler(void);
void dlk_fault_report(const uint32_t *frame);
void dlk_default_handler(void);
void NMI_Handler(void) __attribute__((weak, alias("dlk_default_handler")));
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SecureFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("dlk_default_handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("dlk_default_handler")));
void PendSV_Handler(void) __attribute__((weak, alias("dlk_default_handler")));
void SysTick_Handler(void) __attribute__((weak, alias("dlk_default_handler")));

typedef void (*dlk_vector_t)(void);

#define DLK_N_EXTERNAL_IRQS 32

/* 16 system exceptions + DLK_N_EXTERNAL_IRQS interrupts (none is enabled by the app). */
__attribute__((section(".vectors"), used))
const dlk_vector_t dlk_vector_table[16 + DLK_N_EXTERNAL_IRQS] = {
    [0] = (dlk_vector_t)__stack_top__,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [7] = SecureFault_Handler, /* Armv8-M only; reserved on Armv7-M */
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 ... 16 + DLK_N_EXTERNAL_IRQS - 1] = dlk_default_handler,
};

#define DLK_SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define DLK_SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define DLK_SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)

/* No loop here may become a library call or use FP/MVE registers before the FPU is enabled. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns", "no-tree-vectorize")))
void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CP10 and CP11 full access: the FPU (and Helium on the Cortex-M55). */
    DLK_SCB_CPACR |= (0xFu << 20);
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
    for (uint32_t *src = __data_load__, *dst = __data_start__; dst < __data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start__; dst < __bss_end__;) {
        *dst++ = 0u;
    }
    dlk_board_init();
    int status = main();
    dlk_board_exit(status);
}

/* Report the faulting PC and the fault status registers, then stop with status 3. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "b dlk_fault_report\n\t");
}

static char *dlk_put_hex(char *p, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    *p++ = '0';
    *p++ = 'x';
    for (int shift = 28; shift >= 0; shift -= 4) {
        *p++ = digits[(v >> shift) & 0xFu];
    }
    return p;
}

__attribute__((noreturn, used)) void dlk_fault_report(const uint32_t *frame)
{
    char line[96];
    char *p = line;
    static const char head[] = "DLINK_FAULT pc=";
    for (const char *s = head; *s; ++s) *p++ = *s;
    p = dlk_put_hex(p, frame[6]);
    static const char cfsr[] = " cfsr=";
    for (const char *s = cfsr; *s; ++s) *p++ = *s;
    p = dlk_put_hex(p, DLK_SCB_CFSR);
    static const char hfsr[] = " hfsr=";
    for (const char *s = hfsr; *s; ++s) *p++ = *s;
    p = dlk_put_hex(p, DLK_SCB_HFSR);
    *p++ = '\n';
    dlk_board_write(line, (size_t)(p - line));
    dlk_board_exit(3);
}

void dlk_default_handler(void)
{
    static const char msg[] = "DLINK_FAULT unexpected exception\n";
    dlk_board_write(msg, sizeof msg - 1u);
    dlk_board_exit(3);
}
