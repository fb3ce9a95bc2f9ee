/* Where the streaming app's ADC frames come from: a host file through semihosting (QEMU:
 * stream_source_semihost.c) or an excerpt embedded in flash (stream_source_excerpt.c, for boards
 * without a host). Frames are little-endian counts, channels interleaved, one frame after another.
 *
 * The file (and the excerpt) start with a 32-byte header, all fields little-endian uint32:
 *   magic "DLKSTRM1" (8 bytes), n_chans, sample_bytes (2 or 4), n_frames, sfreq_mhz (ADC rate in
 *   millihertz), 2 reserved words. */
#ifndef DLINK_STREAM_SOURCE_H
#define DLINK_STREAM_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#define DLK_STREAM_HEADER_BYTES 32u

/* Open the source and check its header against what the front end was generated for. Returns 0,
 * or a nonzero code with dlk_stream_source_error() saying what differs. */
int dlk_stream_source_open(uint32_t n_chans, uint32_t sample_bytes, uint32_t sfreq_mhz,
                           uint32_t *n_frames);

/* Read up to max_frames frames into `frames`; returns the number read (0 at the end). */
size_t dlk_stream_source_read(void *frames, size_t max_frames);

void dlk_stream_source_close(void);

/* Why the last open failed, and the source's name ("semihost" or "excerpt"). */
const char *dlk_stream_source_error(void);
extern const char dlk_stream_source_name[];

#endif /* DLINK_STREAM_SOURCE_H */
