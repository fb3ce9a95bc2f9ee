/* Stream source: a frames file on the host, read through semihosting (QEMU). The file name is
 * DLK_STREAM_FILE (default "dlink_stream.bin"), relative to the emulator's working directory. */
#include "stream_source.h"
#include "stream_source_header.h"

#include "../boards/common/semihost.h"

#ifndef DLK_STREAM_FILE
#define DLK_STREAM_FILE "dlink_stream.bin"
#endif

const char dlk_stream_source_name[] = "semihost";

static int32_t dlk_stream_handle = -1;
static uint32_t dlk_stream_frame_bytes;
static uint32_t dlk_stream_frames_left;
static const char *dlk_stream_error = "";

int dlk_stream_source_open(uint32_t n_chans, uint32_t sample_bytes, uint32_t sfreq_mhz,
                           uint32_t *n_frames)
{
    uint8_t header[DLK_STREAM_HEADER_BYTES];
    dlk_stream_handle = dlk_semihost_open(DLK_STREAM_FILE);
    if (dlk_stream_handle < 0) {
        dlk_stream_error = "cannot open " DLK_STREAM_FILE " on the host";
        return 1;
    }
    if (dlk_semihost_read(dlk_stream_handle, header, sizeof header) != sizeof header) {
        dlk_stream_error = "the frames file is shorter than its header";
        return 2;
    }
    const char *bad = dlk_stream_check_header(header, n_chans, sample_bytes, sfreq_mhz, n_frames);
    if (bad != 0) {
        dlk_stream_error = bad;
        return 3;
    }
    dlk_stream_frame_bytes = n_chans * sample_bytes;
    dlk_stream_frames_left = *n_frames;
    return 0;
}

size_t dlk_stream_source_read(void *frames, size_t max_frames)
{
    size_t n = max_frames < dlk_stream_frames_left ? max_frames : dlk_stream_frames_left;
    if (n == 0u || dlk_stream_handle < 0) {
        return 0u;
    }
    const size_t bytes = dlk_semihost_read(dlk_stream_handle, frames, n * dlk_stream_frame_bytes);
    n = bytes / dlk_stream_frame_bytes;
    dlk_stream_frames_left -= (uint32_t)n;
    return n;
}

void dlk_stream_source_close(void)
{
    if (dlk_stream_handle >= 0) {
        dlk_semihost_close(dlk_stream_handle);
        dlk_stream_handle = -1;
    }
}

const char *dlk_stream_source_error(void)
{
    return dlk_stream_error;
}
