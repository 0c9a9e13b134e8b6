#include "gvoip/wakegate.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

struct gv_wakegate {
    int channels;
    size_t frame_len; /* the client's frame, in device frames */
    size_t max_wait;  /* device frames */
    _Atomic float quiet; /* mean square; 0: every block wakes */
    /* Capture thread only. */
    double prev_energy, cur_energy; /* sums of per-frame mean squares */
    size_t cur_frames;              /* in cur_energy; prev_energy holds at least frame_len */
    size_t waiting;                 /* frames captured since the last wake */
};

int gv_wakegate_create(int rate, int channels, int frame_ms, gv_wakegate **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (rate < 8000 || rate > 192000 || channels < 1 || channels > 8 ||
        (frame_ms != 10 && frame_ms != 20 && frame_ms != 40 && frame_ms != 60))
        return GV_EINVAL;
    gv_wakegate *g = calloc(1, sizeof *g);
    if (!g)
        return GV_ENOMEM;
    g->channels = channels;
    /* Rounded down: a shorter frame makes the threshold energy smaller,
     * never the other way. */
    g->frame_len = (size_t)rate * (size_t)frame_ms / 1000;
    g->max_wait = (size_t)rate * GV_WAKEGATE_WAIT_MS / 1000;
    atomic_init(&g->quiet, 0.0f);
    *out = g;
    return GV_OK;
}

void gv_wakegate_destroy(gv_wakegate *g)
{
    free(g);
}

int gv_wakegate_set_quiet(gv_wakegate *g, float quiet_db)
{
    if (!g || isnan(quiet_db))
        return GV_EINVAL;
    /* dBFS of a mean square: 10 log10. */
    float quiet = quiet_db == INFINITY ? INFINITY : quiet_db == -INFINITY ? 0.0f : powf(10.0f, quiet_db / 10.0f);
    atomic_store_explicit(&g->quiet, quiet, memory_order_relaxed);
    return GV_OK;
}

int gv_wakegate_block(gv_wakegate *g, const float *in, size_t frames)
{
    if (!g || !in)
        return 1;
    double sum = 0.0;
    size_t n = frames * (size_t)g->channels;
    for (size_t i = 0; i < n; i++)
        sum += (double)in[i] * (double)in[i];
    if (!isfinite(sum))
        sum = INFINITY;
    g->cur_energy += sum / g->channels;
    g->cur_frames += frames;
    g->waiting += frames;
    float quiet = atomic_load_explicit(&g->quiet, memory_order_relaxed);
    int wake = !(quiet > 0.0f) || g->waiting >= g->max_wait ||
               g->prev_energy + g->cur_energy >= (double)g->frame_len * (double)quiet;
    if (g->cur_frames >= g->frame_len) {
        g->prev_energy = g->cur_energy;
        g->cur_energy = 0.0;
        g->cur_frames = 0;
    }
    if (wake)
        g->waiting = 0;
    return wake;
}
