/* The header check shared by both stream sources (see stream_source.h). */
#include "stream_source_header.h"

static uint32_t dlk_u32_le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

const char *dlk_stream_check_header(const uint8_t *header, uint32_t n_chans, uint32_t sample_bytes,
                                    uint32_t sfreq_mhz, uint32_t *n_frames)
{
    static const char magic[8] = {'D', 'L', 'K', 'S', 'T', 'R', 'M', '1'};
    for (uint32_t i = 0; i < 8u; ++i) {
        if (header[i] != (uint8_t)magic[i]) {
            return "not a DLKSTRM1 frames file";
        }
    }
    if (dlk_u32_le(header + 8) != n_chans) {
        return "channel count differs from the front end's";
    }
    if (dlk_u32_le(header + 12) != sample_bytes) {
        return "ADC sample size differs from the front end's";
    }
    if (dlk_u32_le(header + 20) != sfreq_mhz) {
        return "ADC rate differs from the front end's";
    }
    *n_frames = dlk_u32_le(header + 16);
    return 0;
}
