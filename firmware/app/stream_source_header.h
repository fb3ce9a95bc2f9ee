/* Check a stream header (stream_source.h); 0 when it matches, else what differs. */
#ifndef DLINK_STREAM_SOURCE_HEADER_H
#define DLINK_STREAM_SOURCE_HEADER_H

#include <stdint.h>

const char *dlk_stream_check_header(const uint8_t *header, uint32_t n_chans, uint32_t sample_bytes,
                                    uint32_t sfreq_mhz, uint32_t *n_frames);

#endif /* DLINK_STREAM_SOURCE_HEADER_H */
