/* Stream source: an excerpt of a recording embedded in flash (boards without a host), generated as
 * stream_excerpt.c by `dlink flash RUN --stream RECORDING --embed` (dlink.firmware.stream_input). */
#include <string.h>

#include "stream_source.h"
#include "stream_source_header.h"

/* The header followed by the frames (stream_excerpt.c). */
extern const uint8_t dlk_stream_excerpt[];
extern const uint32_t dlk_stream_excerpt_bytes;

const char dlk_stream_source_name[] = "excerpt";

static uint32_t dlk_stream_frame_bytes;
static uint32_t dlk_stream_frames_left;
static const uint8_t *dlk_stream_next;
static const char *dlk_stream_error = "";

int dlk_stream_source_open(uint32_t n_chans, uint32_t sample_bytes, uint32_t sfreq_mhz,
                           uint32_t *n_frames)
{
    if (dlk_stream_excerpt_bytes < DLK_STREAM_HEADER_BYTES) {
        dlk_stream_error = "the embedded excerpt is shorter than its header";
        return 2;
    }
    const char *bad = dlk_stream_check_header(dlk_stream_excerpt, n_chans, sample_bytes, sfreq_mhz,
                                              n_frames);
    if (bad != 0) {
        dlk_stream_error = bad;
        return 3;
    }
    dlk_stream_frame_bytes = n_chans * sample_bytes;
    if ((uint64_t)*n_frames * dlk_stream_frame_bytes + DLK_STREAM_HEADER_BYTES > dlk_stream_excerpt_bytes) {
        dlk_stream_error = "the embedded excerpt holds fewer frames than its header says";
        return 4;
    }
    dlk_stream_frames_left = *n_frames;
    dlk_stream_next = dlk_stream_excerpt + DLK_STREAM_HEADER_BYTES;
    return 0;
}

size_t dlk_stream_source_read(void *frames, size_t max_frames)
{
    const size_t n = max_frames < dlk_stream_frames_left ? max_frames : dlk_stream_frames_left;
    memcpy(frames, dlk_stream_next, n * dlk_stream_frame_bytes);
    dlk_stream_next += n * dlk_stream_frame_bytes;
    dlk_stream_frames_left -= (uint32_t)n;
    return n;
}

void dlk_stream_source_close(void)
{
}

const char *dlk_stream_source_error(void)
{
    return dlk_stream_error;
}
