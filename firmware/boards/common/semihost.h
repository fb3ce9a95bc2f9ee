/* Arm semihosting (QEMU -semihosting-config enable=on,target=native): console output and exit. */
#ifndef DLINK_SEMIHOST_H
#define DLINK_SEMIHOST_H

#include <stddef.h>

/** Write `len` bytes to the host's console (SYS_WRITE0, in chunks). */
void dlk_semihost_write(const char *text, size_t len);

/** Exit the emulator with `status` (SYS_EXIT_EXTENDED; SYS_EXIT as a fallback). */
void dlk_semihost_exit(int status) __attribute__((noreturn));

#endif /* DLINK_SEMIHOST_H */
