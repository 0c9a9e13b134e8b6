/* The echo canceller's coarse delay estimator: where, in whole steps, the
 * microphone's block resembles a past reference block. Each step's
 * microphone and reference spectra are reduced to binary spectra (each
 * band above or below its own long-term level), which is cheap and
 * indifferent to how the echo path colours the sound; each lag's mismatch
 * with the microphone is smoothed, and a lag that stays clearly the
 * closest becomes the estimate. Pure logic; one instance per canceller,
 * not thread-safe. */
#ifndef GV_AUDIO_ECHOLAG_H
#define GV_AUDIO_ECHOLAG_H

#include <stdint.h>

/* Spectra handed in are bins of a 1024-point transform of 48 kHz blocks;
 * the estimator reads the first GV_ECHOLAG_BINS of them. */
#define GV_ECHOLAG_BINS 193

typedef struct gv_echolag gv_echolag;

typedef struct gv_echolag_estimate {
    int lag;        /* steps the echo comes after the reference, -1 before one is found */
    int age;        /* steps since it was last confirmed */
    float contrast; /* how much closer than the average lag it matches (bits) */
    int echo_now;   /* this step's microphone matched the reference at that lag */
} gv_echolag_estimate;

/* An estimator over lags 0..lags-1 (2 to 10000). Returns 0 and the handle
 * in *out (gv_echolag_destroy), GV_EINVAL or GV_ENOMEM. */
int gv_echolag_create(int lags, gv_echolag **out);

/* NULL is a no-op. */
void gv_echolag_destroy(gv_echolag *el);

/* Forgets everything learnt, as just created. */
void gv_echolag_reset(gv_echolag *el);

/* One step: the microphone's spectrum (mr + i mi) and the reference's (rr
 * + i ri), whether each is loud enough to learn from. */
void gv_echolag_step(gv_echolag *el, const float *mr, const float *mi, const float *rr, const float *ri,
                     int ref_active, int mic_active);

/* One step whose reference was silent, without spectra: what a step of
 * silence would do to the lags (the microphone's band levels wait). */
void gv_echolag_step_silent(gv_echolag *el, int mic_active);

void gv_echolag_get(const gv_echolag *el, gv_echolag_estimate *out);

#endif
