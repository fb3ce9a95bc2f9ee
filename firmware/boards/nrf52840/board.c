/* Nordic nRF52840 (Cortex-M4F, 64 MHz, 1 MiB flash, 256 KiB RAM), e.g. the nRF52840 DK.
 *
 * Output on UART0 (legacy UART, no EasyDMA), TX on P0.06 at 115200 8N1: the DK routes it to the
 * interface MCU's virtual COM port. Latency in cycles from the DWT cycle counter (CYCCNT, 32 bits,
 * extended to 64 by counting wraps on every read: reads are frequent enough, once per inference
 * at least, as long as one inference takes less than 2^32 cycles = 67 s at 64 MHz). The crystal
 * (HFXO) is started so that the baud rate is exact. Register offsets: nRF52840 Product
 * Specification v1.7 (CLOCK, GPIO, UART chapters); DWT/DEMCR: Armv7-M ARM. */
#include "dlink/board.h"

#define DLK_REG(addr) (*(volatile uint32_t *)(addr))

/* CLOCK */
#define NRF_CLOCK_TASKS_HFCLKSTART DLK_REG(0x40000000u)
#define NRF_CLOCK_EVENTS_HFCLKSTARTED DLK_REG(0x40000100u)
/* GPIO P0 */
#define NRF_P0_OUTSET DLK_REG(0x50000508u)
#define NRF_P0_DIRSET DLK_REG(0x50000518u)
/* UART0 */
#define NRF_UART0_TASKS_STARTTX DLK_REG(0x40002008u)
#define NRF_UART0_EVENTS_TXDRDY DLK_REG(0x4000211Cu)
#define NRF_UART0_ENABLE DLK_REG(0x40002500u)
#define NRF_UART0_PSEL_RTS DLK_REG(0x40002508u)
#define NRF_UART0_PSEL_TXD DLK_REG(0x4000250Cu)
#define NRF_UART0_PSEL_CTS DLK_REG(0x40002510u)
#define NRF_UART0_PSEL_RXD DLK_REG(0x40002514u)
#define NRF_UART0_TXD DLK_REG(0x4000251Cu)
#define NRF_UART0_BAUDRATE DLK_REG(0x40002524u)
#define NRF_UART0_CONFIG DLK_REG(0x4000256Cu)
#define NRF_UART_ENABLE_ENABLED 4u
#define NRF_UART_BAUDRATE_115200 0x01D7E000u
#define NRF_PSEL_DISCONNECTED 0xFFFFFFFFu
#define DLK_UART_TX_PIN 6u
/* Debug: DEMCR.TRCENA, DWT_CTRL.CYCCNTENA, DWT_CYCCNT */
#define DLK_DEMCR DLK_REG(0xE000EDFCu)
#define DLK_DWT_CTRL DLK_REG(0xE0001000u)
#define DLK_DWT_CYCCNT DLK_REG(0xE0001004u)

const char dlk_board_name[] = "nrf52840";
const char dlk_board_core[] = "cortex-m4";
const char dlk_board_counter_unit[] = "cycles";

static uint32_t dlk_cyccnt_last;
static uint64_t dlk_cyccnt_high;

void dlk_board_init(void)
{
    NRF_CLOCK_EVENTS_HFCLKSTARTED = 0u;
    NRF_CLOCK_TASKS_HFCLKSTART = 1u;
    while (NRF_CLOCK_EVENTS_HFCLKSTARTED == 0u) {
    }

    NRF_P0_OUTSET = 1u << DLK_UART_TX_PIN; /* idle high before the UART takes the pin */
    NRF_P0_DIRSET = 1u << DLK_UART_TX_PIN;
    NRF_UART0_ENABLE = 0u;
    NRF_UART0_CONFIG = 0u; /* no parity, no flow control */
    NRF_UART0_BAUDRATE = NRF_UART_BAUDRATE_115200;
    NRF_UART0_PSEL_RTS = NRF_PSEL_DISCONNECTED;
    NRF_UART0_PSEL_CTS = NRF_PSEL_DISCONNECTED;
    NRF_UART0_PSEL_RXD = NRF_PSEL_DISCONNECTED;
    NRF_UART0_PSEL_TXD = DLK_UART_TX_PIN;
    NRF_UART0_ENABLE = NRF_UART_ENABLE_ENABLED;
    NRF_UART0_EVENTS_TXDRDY = 0u;
    NRF_UART0_TASKS_STARTTX = 1u;

    DLK_DEMCR |= 1u << 24;
    DLK_DWT_CYCCNT = 0u;
    DLK_DWT_CTRL |= 1u;
    dlk_cyccnt_last = 0u;
    dlk_cyccnt_high = 0u;
}

void dlk_board_write(const char *text, size_t len)
{
    for (size_t i = 0; i < len; ++i) {
        NRF_UART0_TXD = (uint8_t)text[i];
        while (NRF_UART0_EVENTS_TXDRDY == 0u) {
        }
        NRF_UART0_EVENTS_TXDRDY = 0u;
    }
}

uint64_t dlk_board_counter(void)
{
    uint32_t now = DLK_DWT_CYCCNT;
    if (now < dlk_cyccnt_last) {
        dlk_cyccnt_high += 1ull << 32;
    }
    dlk_cyccnt_last = now;
    return dlk_cyccnt_high | now;
}

void dlk_board_exit(int status)
{
    (void)status; /* no host to return it to: the result line carries it */
    for (;;) {
        __asm volatile("wfe");
    }
}
