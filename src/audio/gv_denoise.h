/* Noise suppression, and the suppression of residual echo (gv_resup) in
 * the same transform: the microphone after the echo canceller goes in,
 * cleaned speech comes out GV_DENOISE_DELAY samples later.
 *
 * 48 kHz mono, GV_CLEAN_STEP samples per call. Pure: no I/O, no clock;
 * allocation only in gv_denoise_create. */
#ifndef GV_AUDIO_DENOISE_H
#define GV_AUDIO_DENOISE_H

#include <stdint.h>

#include "audio/gv_clean.h"

/* Samples by which the output lags the input: the overlap of the 768-sample
 * analysis windows that advance by GV_CLEAN_STEP. */
#define GV_DENOISE_DELAY 288

typedef struct gv_denoise gv_denoise;

typedef struct gv_denoise_config {
    int suppress_noise;     /* 1 (default); 0: only residual echo is suppressed (when an echo
                               estimate is given), the speech probability is still measured */
    float max_reduction_db; /* deepest noise reduction, 3..60; default 25 (2 dB where the noise
                               leaves no pauses, as babble: see gv_denoise.c) */
    int rest;               /* 1 (default): once a pause has lasted a second or two and its gain
                               has settled, a step of the room's own steady noise is only scaled
                               by that gain (most steps of an idle microphone; see gv_denoise.c);
                               0: every step analysed */
} gv_denoise_config;

/* Fills *cfg with the defaults. NULL does nothing. Thread-safe. */
void gv_denoise_config_default(gv_denoise_config *cfg);

/* Returns 0 and the handle in *out (gv_denoise_destroy), GV_EINVAL (out
 * NULL, a field out of range) or GV_ENOMEM. cfg NULL: the defaults. The
 * first 100 ms are taken for noise (speech in them is mostly recognised
 * and left out). Thread-safe. */
int gv_denoise_create(const gv_denoise_config *cfg, gv_denoise **out);

/* Frees ns; NULL is a no-op. */
void gv_denoise_destroy(gv_denoise *ns);

/* Cleans GV_CLEAN_STEP samples of frame in place (the output lags by
 * GV_DENOISE_DELAY). echo: the linear canceller's echo estimate for the same
 * samples, or NULL when there is no canceller or nothing was played.
 * Returns 0 or GV_EINVAL. One thread at a time per ns; no allocation, locks
 * or I/O. */
int gv_denoise_process(gv_denoise *ns, float *frame, const float *echo);

/* The probability that the last step held speech, 0..1 (0 for NULL), for
 * the automatic gain's level measurement: it judges the analysis window,
 * which the step's output lies in. Near 1 in voiced speech and near 0 in
 * pauses from 10 dB SNR up. Not concurrent with gv_denoise_process. */
float gv_denoise_speech_probability(const gv_denoise *ns);

/* Steps since create that were only scaled (resting), 0 for NULL. */
uint64_t gv_denoise_rested_steps(const gv_denoise *ns);

/* The echo path changed (the canceller lost the one it had found): the
 * residual echo suppressor learns afresh how much the canceller leaves.
 * NULL does nothing. One thread at a time per ns. */
void gv_denoise_echo_changed(gv_denoise *ns);

/* Forgets the noise estimate and the signal, as after create. NULL does
 * nothing. One thread at a time per ns. */
void gv_denoise_reset(gv_denoise *ns);

#endif
