#include "audio/gv_echoref.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_resample.h"
#include "gvoip/error.h"

/* 1.4 s of 48 kHz: the reader never looks further back than HISTORY, so the
 * writer can run a long way ahead before it overwrites anything read. */
#define RING 65536
#define HISTORY (RING / 2)
#define SCRATCH 1024
/* Reads the average of the offset runs over: short enough that an
 * underrun's gap is followed within half a second, long enough that the
 * stamps' jitter (a loaded machine's callbacks wake up to 10 ms apart)
 * averages out. */
#define OFFSET_READS 32.0

struct gv_echoref {
    float ring[RING];
    /* Writer's: */
    gv_resampler *rs;
    int rate, channels;
    float scratch[SCRATCH];
    /* Published by the writer: samples written in all, and when the last of
     * them plays. A sequence count around the pair lets the reader see
     * both from the same write (odd: a write is in progress). */
    atomic_uint_fast64_t seq;
    atomic_uint_fast64_t written;
    atomic_uint_fast64_t play_end_us;
    /* Reader's: the next sample to hand out, once seated. */
    int64_t pos;
    int seated;
    double off_avg; /* of the stamps' word against pos, in samples, recent */
    int moved;      /* samples pos stepped by, not yet taken */
    int far_reads;  /* reads in a row whose stamps put them GV_ECHOREF_RESEAT_MS off */
    uint64_t reseats;
};

int gv_echoref_create(gv_echoref **out)
{
    gv_echoref *er;

    if (!out)
        return GV_EINVAL;
    er = calloc(1, sizeof *er);
    *out = er;
    return er ? 0 : GV_ENOMEM;
}

void gv_echoref_destroy(gv_echoref *er)
{
    if (!er)
        return;
    gv_resampler_destroy(er->rs);
    free(er);
}

int gv_echoref_prepare(gv_echoref *er, int rate, int channels)
{
    gv_resampler *rs = NULL;
    int rc;

    if (!er || rate < GV_RESAMPLE_MIN_RATE || rate > GV_RESAMPLE_MAX_RATE || channels < 1 || channels > 2)
        return GV_EINVAL;
    if (er->rs && er->rate == rate && er->channels == channels)
        return 0;
    rc = gv_resampler_create(rate, channels, GV_CLEAN_RATE, 1, GV_RESAMPLE_QUALITY_DEFAULT, &rs);
    if (rc < 0)
        return rc;
    gv_resampler_destroy(er->rs);
    er->rs = rs;
    er->rate = rate;
    er->channels = channels;
    return 0;
}

static void publish(gv_echoref *er, uint64_t written, uint64_t play_end_us)
{
    atomic_fetch_add_explicit(&er->seq, 1, memory_order_acq_rel);
    atomic_store_explicit(&er->written, written, memory_order_relaxed);
    atomic_store_explicit(&er->play_end_us, play_end_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&er->seq, 1, memory_order_release);
}

int gv_echoref_write(gv_echoref *er, const float *samples, size_t frames, int rate, int channels,
                     uint64_t play_end_us)
{
    uint64_t w;
    size_t done = 0;
    int rc;

    if (!er || (!samples && frames))
        return GV_EINVAL;
    rc = gv_echoref_prepare(er, rate, channels);
    if (rc < 0)
        return rc;
    w = atomic_load_explicit(&er->written, memory_order_relaxed);
    while (done < frames) {
        size_t used = 0;
        int got = gv_resampler_process(er->rs, samples + done * (size_t)channels, frames - done, er->scratch,
                                       SCRATCH, &used);
        if (got < 0)
            return got;
        for (int i = 0; i < got; i++)
            er->ring[(w + (uint64_t)i) % RING] = er->scratch[i];
        w += (uint64_t)got;
        done += used;
        /* Published chunk by chunk: the reader checks that nothing it
         * copied was overwritten meanwhile, which it can only do if what
         * is written but not yet published is at most a chunk. */
        publish(er, w, play_end_us - (uint64_t)(frames - done) * 1000000u / (uint64_t)rate);
        if (used == 0 && got == 0)
            break;
    }
    return 0;
}

int gv_echoref_read(gv_echoref *er, float *out, uint64_t captured_end_us)
{
    uint64_t s0, s1, written, play_end;
    int64_t want, lag;

    if (!er || !out)
        return GV_EINVAL;
    do {
        s0 = atomic_load_explicit(&er->seq, memory_order_acquire);
        written = atomic_load_explicit(&er->written, memory_order_relaxed);
        play_end = atomic_load_explicit(&er->play_end_us, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        s1 = atomic_load_explicit(&er->seq, memory_order_relaxed);
    } while (s0 != s1 || (s0 & 1));
    if (written == 0)
        return 0;
    /* The sample playing at captured_end_us, less the lead, is the last one
     * of the step to hand out. */
    lag = ((int64_t)play_end - (int64_t)captured_end_us) * (GV_CLEAN_RATE / 1000) / 1000 +
          GV_ECHOREF_LEAD_MS * (GV_CLEAN_RATE / 1000);
    want = (int64_t)written - lag - GV_CLEAN_STEP;
    if (want < 0 || want + GV_CLEAN_STEP > (int64_t)written || want < (int64_t)written - HISTORY) {
        /* Nothing (or not all of it) was played then: playback stopped, or
         * has not reached this moment. */
        er->seated = 0;
        return 0;
    }
    if (er->seated) {
        /* A single read that far off is a stray stamp (a sound server's
         * figures glitch by tens of ms now and then): the reader goes on
         * where it was, and the read stays out of the average. A latency
         * change says so again at the next read. */
        int far = llabs(want - er->pos) > GV_ECHOREF_RESEAT_MS * (GV_CLEAN_RATE / 1000);
        er->far_reads = far ? er->far_reads + 1 : 0;
        if (er->far_reads >= 2 || er->pos + GV_CLEAN_STEP > (int64_t)written) {
            er->seated = 0;
            er->reseats++;
        } else if (!far) {
            er->off_avg += ((double)(want - er->pos) - er->off_avg) / OFFSET_READS;
            if (fabs(er->off_avg) > GV_ECHOREF_STEP_MS * (GV_CLEAN_RATE / 1000)) {
                /* The stamps moved for good: by the average, not by this
                 * read's jitter. What the average still lags behind is
                 * left to the canceller, which finds a steady offset. */
                er->pos += llround(er->off_avg);
                er->moved += (int)llround(er->off_avg);
                er->off_avg = 0.0;
                er->reseats++;
            }
        }
    }
    if (!er->seated) {
        er->pos = want;
        er->off_avg = 0.0;
        er->far_reads = 0;
        er->seated = 1;
    }
    if (er->pos + GV_CLEAN_STEP > (int64_t)written || er->pos < (int64_t)written - HISTORY)
        er->pos = want;
    for (int i = 0; i < GV_CLEAN_STEP; i++)
        out[i] = er->ring[(uint64_t)(er->pos + i) % RING];
    er->pos += GV_CLEAN_STEP;
    /* A writer that ran a whole ring ahead while this copied (this thread
     * stalled for most of a second) may have overwritten part of it. */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&er->written, memory_order_relaxed) + SCRATCH > (uint64_t)(er->pos - GV_CLEAN_STEP) + RING)
        return 0;
    return 1;
}

void gv_echoref_skip(gv_echoref *er, int samples)
{
    if (er && samples > 0 && er->seated)
        er->pos += samples;
}

int gv_echoref_take_moved(gv_echoref *er)
{
    int m;
    if (!er)
        return 0;
    m = er->moved;
    er->moved = 0;
    return m;
}

uint64_t gv_echoref_reseats(const gv_echoref *er)
{
    return er ? er->reseats : 0;
}
