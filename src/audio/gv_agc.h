/* Automatic gain: brings speech whose active level (the RMS over the
 * frames that hold speech) is anywhere from -40 to -6 dBFS to the target
 * level within 3 s, without raising the noise in pauses by more than 3 dB,
 * and never lets a sample beyond the limit out (a limiter with look-ahead
 * would add delay; this one adds none).
 *
 * The active level is a mean power over speech steps: quick at first,
 * then steady over about 2 s of speech; a mean power follows a louder
 * talker (a shout) within a few steps, and a level that stays 10 dB lower
 * for 0.3 s of speech (a talker stepping back) is taken over within about
 * another 0.3 s. The speech gain moves only during speech, by at most
 * 30 dB/s up and 100 dB/s down, and is capped at max_gain_db. In pauses
 * the gain is the speech gain but at most 0 dB, so quiet talkers' pauses
 * are not amplified and loud talkers are turned down evenly (no gating);
 * the switch between the two is ramped over 2.5 ms, other changes across
 * the step. A peak limiter then cuts the gain at once on a sample that
 * would pass limit_dbfs and recovers over about 80 ms; a final clamp to
 * limit_dbfs only catches rounding.
 *
 * Speech is what the noise suppressor says (speech_probability), or, when
 * there is none, steps 9 dB above a tracked noise floor (staying speech
 * down to 5 dB above it) and not 20 dB under what max_gain_db could lift
 * to the target.
 *
 * 48 kHz mono, GV_CLEAN_STEP samples per call, no delay. Pure: no I/O, no
 * clock; allocation only in gv_agc_create. */
#ifndef GV_AUDIO_AGC_H
#define GV_AUDIO_AGC_H

#include "audio/gv_clean.h"

typedef struct gv_agc gv_agc;

typedef struct gv_agc_config {
    float target_dbfs;  /* active speech level aimed at; -40..-3, at most limit_dbfs */
    float max_gain_db;  /* 0..60 */
    float limit_dbfs;   /* no sample beyond this; -20..0 */
} gv_agc_config;

/* Fills *cfg with the defaults (-20, 30, -1). NULL does nothing.
 * Thread-safe. */
void gv_agc_config_default(gv_agc_config *cfg);

/* Returns 0 and the handle in *out, owned by the caller (gv_agc_destroy),
 * GV_EINVAL for a NULL out or an out-of-range or non-finite field, or
 * GV_ENOMEM. cfg (copied) NULL: the defaults. Thread-safe. */
int gv_agc_create(const gv_agc_config *cfg, gv_agc **out);

/* Frees agc; NULL is a no-op. Not concurrent with other calls on agc. */
void gv_agc_destroy(gv_agc *agc);

/* Applies the gain to GV_CLEAN_STEP samples of frame in place (NaN and
 * infinities become 0).
 * speech_probability: 0..1 from the noise suppressor for this step, or
 * negative when there is none (the stage then judges speech itself).
 * Returns 0, or GV_EINVAL for NULL agc or frame, or a probability that is
 * NaN or above 1 (frame untouched). One thread at a time per agc; no
 * allocation, locks or I/O. */
int gv_agc_process(gv_agc *agc, float *frame, float speech_probability);

/* The gain applied at the end of the last step, in dB, without the peak
 * limiter's momentary cut (0 for NULL or before the first step). Not
 * concurrent with gv_agc_process on agc. */
float gv_agc_gain_db(const gv_agc *agc);

/* Forgets the level, the noise floor and the gains, as after create; for a
 * change of input device. NULL does nothing. One thread at a time per
 * agc. */
void gv_agc_reset(gv_agc *agc);

#endif
