/* Arm semihosting (QEMU -semihosting-config enable=on,target=native): console output and exit. */
#ifndef DLINK_SEMIHOST_H
#define DLINK_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/** Write `len` bytes to the host's console (SYS_WRITE0, in chunks). */
void dlk_semihost_write(const char *text, size_t len);

/** Open a host file for reading in binary (SYS_OPEN "rb"); the handle, or -1 when it fails. A
 * relative path is relative to the emulator's working directory. */
int32_t dlk_semihost_open(const char *path);

/** Read up to `len` bytes (SYS_READ); returns the bytes read (0 at the end of the file). */
size_t dlk_semihost_read(int32_t handle, void *buffer, size_t len);

/** Close a handle from dlk_semihost_open (SYS_CLOSE). */
void dlk_semihost_close(int32_t handle);

/** Exit the emulator with `status` (SYS_EXIT_EXTENDED; SYS_EXIT as a fallback). */
void dlk_semihost_exit(int status) __attribute__((noreturn));

#endif /* DLINK_SEMIHOST_H */
