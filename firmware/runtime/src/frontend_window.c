/* dlink runtime: the model's sliding window of the streaming front end (see dlink/frontend.h). */
#include <string.h>

#include "dlink/frontend.h"

dlk_status_t dlk_window_init(dlk_window_t *w)
{
    if (w == 0 || w->window == 0 || w->pending == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    if (w->n_chans == 0u || w->n_times == 0u || w->hop == 0u || w->hop > w->n_times) {
        return DLK_ERR_BAD_PARAM;
    }
    if (w->layout != DLK_LAYOUT_CHANNELS_TIME && w->layout != DLK_LAYOUT_TIME_CHANNELS) {
        return DLK_ERR_BAD_PARAM;
    }
    if (w->window_len != (size_t)w->n_chans * w->n_times ||
        w->pending_len != (size_t)w->n_chans * w->hop) {
        return DLK_ERR_BAD_LENGTH;
    }
    memset(w->window, 0, w->window_len);
    memset(w->pending, 0, w->pending_len);
    w->n_pending = 0u;
    w->n_samples = 0u;
    return DLK_OK;
}

/* Shift the window left by hop samples and append the pending ones. */
static void dlk_window_advance(dlk_window_t *w)
{
    const size_t n_chans = w->n_chans;
    const size_t n_times = w->n_times;
    const size_t hop = w->hop;
    const size_t keep = n_times - hop;
    if (w->layout == DLK_LAYOUT_CHANNELS_TIME) {
        for (size_t c = 0; c < n_chans; ++c) {
            int8_t *row = &w->window[c * n_times];
            memmove(row, row + hop, keep);
            memcpy(row + keep, &w->pending[c * hop], hop);
        }
    } else {
        memmove(w->window, w->window + hop * n_chans, keep * n_chans);
        for (size_t j = 0; j < hop; ++j) {
            int8_t *frame = &w->window[(keep + j) * n_chans];
            for (size_t c = 0; c < n_chans; ++c) {
                frame[c] = w->pending[c * hop + j];
            }
        }
    }
}

dlk_status_t dlk_window_push(dlk_window_t *w, const int8_t *sample, size_t n_chans, int *ready)
{
    if (w == 0 || sample == 0 || ready == 0) {
        return DLK_ERR_NULL_POINTER;
    }
    *ready = 0;
    if (n_chans != (size_t)w->n_chans) {
        return DLK_ERR_BAD_LENGTH;
    }
    for (size_t c = 0; c < n_chans; ++c) {
        w->pending[c * w->hop + w->n_pending] = sample[c];
    }
    w->n_pending += 1u;
    if (w->n_pending == w->hop) {
        dlk_window_advance(w);
        w->n_pending = 0u;
        w->n_samples += w->hop;
        *ready = w->n_samples >= (uint64_t)w->n_times ? 1 : 0;
    }
    return DLK_OK;
}
