/* Arm semihosting calls: `bkpt 0xAB` with the operation in r0 and its argument in r1. */
#include "semihost.h"

#include <stdint.h>

enum {
    DLK_SYS_OPEN = 0x01,
    DLK_SYS_CLOSE = 0x02,
    DLK_SYS_READ = 0x06,
    DLK_SYS_WRITE0 = 0x04,
    DLK_SYS_EXIT = 0x18,
    DLK_SYS_EXIT_EXTENDED = 0x20,
    DLK_ADP_STOPPED_APPLICATION_EXIT = 0x20026,
    DLK_ADP_STOPPED_RUNTIME_ERROR_UNKNOWN = 0x20023,
};

static uintptr_t dlk_semihost_call(uintptr_t op, const void *arg)
{
    register uintptr_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void dlk_semihost_write(const char *text, size_t len)
{
    char chunk[129];
    while (len > 0u) {
        size_t n = len < sizeof chunk - 1u ? len : sizeof chunk - 1u;
        for (size_t i = 0; i < n; ++i) {
            chunk[i] = text[i];
        }
        chunk[n] = '\0';
        (void)dlk_semihost_call(DLK_SYS_WRITE0, chunk);
        text += n;
        len -= n;
    }
}

void dlk_semihost_exit(int status)
{
    const uint32_t block[2] = {DLK_ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)dlk_semihost_call(DLK_SYS_EXIT_EXTENDED, block);
    /* A host without SYS_EXIT_EXTENDED: plain SYS_EXIT can only say success or failure. */
    (void)dlk_semihost_call(DLK_SYS_EXIT, (const void *)(uintptr_t)(
        status == 0 ? DLK_ADP_STOPPED_APPLICATION_EXIT : DLK_ADP_STOPPED_RUNTIME_ERROR_UNKNOWN));
    for (;;) {
    }
}

int32_t dlk_semihost_open(const char *path)
{
    size_t len = 0;
    while (path[len] != '\0') {
        ++len;
    }
    const uintptr_t block[3] = {(uintptr_t)path, 1u /* "rb" */, (uintptr_t)len};
    return (int32_t)dlk_semihost_call(DLK_SYS_OPEN, block);
}

size_t dlk_semihost_read(int32_t handle, void *buffer, size_t len)
{
    const uintptr_t block[3] = {(uintptr_t)handle, (uintptr_t)buffer, (uintptr_t)len};
    const uintptr_t not_read = dlk_semihost_call(DLK_SYS_READ, block);
    return not_read > len ? 0u : len - (size_t)not_read;
}

void dlk_semihost_close(int32_t handle)
{
    const uintptr_t block[1] = {(uintptr_t)handle};
    (void)dlk_semihost_call(DLK_SYS_CLOSE, block);
}
