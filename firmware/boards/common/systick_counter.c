#include "systick_counter.h"

#define DLK_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define DLK_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define DLK_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define DLK_SYST_RELOAD 0x00FFFFFFu

static volatile uint32_t dlk_systick_wraps;

void SysTick_Handler(void);

void SysTick_Handler(void)
{
    dlk_systick_wraps = dlk_systick_wraps + 1u;
}

void dlk_systick_start(void)
{
    DLK_SYST_CSR = 0u;
    DLK_SYST_RVR = DLK_SYST_RELOAD;
    DLK_SYST_CVR = 0u;
    dlk_systick_wraps = 0u;
    /* ENABLE | TICKINT | CLKSOURCE (processor clock) */
    DLK_SYST_CSR = 0x7u;
    while (DLK_SYST_CVR == 0u) { /* the first tick loads the reload value */
    }
}

uint64_t dlk_systick_ticks(void)
{
    uint32_t wraps;
    uint32_t value;
    do { /* a wrap between the two reads of the wrap count: read again */
        wraps = dlk_systick_wraps;
        value = DLK_SYST_CVR;
    } while (wraps != dlk_systick_wraps);
    return (uint64_t)wraps * (DLK_SYST_RELOAD + 1u) + (DLK_SYST_RELOAD - value);
}
