/* Acoustic echo cancellation, the linear part: an adaptive filter that
 * models the path from what the speaker played (the reference) to the
 * microphone and subtracts its estimate of the echo. What it leaves of the
 * echo is suppressed afterwards (gv_resup, inside gv_denoise), which is why
 * the estimate is handed out too.
 *
 * The caller aligns the reference only roughly: the echo of ref[i] must
 * reach the microphone no earlier than mic[i] and no later than
 * max_delay_ms after it; the bulk delay within that range is estimated
 * here, and followed when the sound server changes its latency or the
 * capture and playback clocks differ (up to 0.1%).
 *
 * How: a partitioned-block frequency-domain filter (10 ms partitions,
 * 1024-point transforms) over tail_ms plus 10 ms, a background copy that
 * adapts with a step set per bin by the coherence of microphone and echo
 * estimate (a near talker lowers it, so double talk barely moves the
 * filter) and a foreground copy that produces the output and takes the
 * background's coefficients when they cancel clearly better. The window
 * is placed by a coarse delay estimator (binary band spectra compared at
 * 10 ms lags, gv_echolag) and then kept on the echo by the filter's own
 * taps; a fine delay from the phase-transformed cross spectrum (to the
 * sample, when the path has a dominant early part such as the direct
 * sound, gv_echodrift) follows latency jumps at once and gives the clock
 * drift, which the reference's fractional delay then follows. Drift is
 * not followed for echo paths without a dominant early part (pure diffuse
 * reverberation).
 *
 * 48 kHz mono, GV_CLEAN_STEP samples per call. Adds no delay to the
 * microphone signal. Pure: no I/O, no clock; allocation only in
 * gv_echo_create. */
#ifndef GV_AUDIO_ECHO_H
#define GV_AUDIO_ECHO_H

#include "audio/gv_clean.h"

typedef struct gv_echo gv_echo;

typedef struct gv_echo_config {
    int tail_ms;      /* echo path length the filter covers after the bulk delay; 20..500,
                         default 300 (cost grows with it: ~100 us per step at 300) */
    int max_delay_ms; /* largest bulk delay searched; 0..500, default 250 */
} gv_echo_config;

typedef struct gv_echo_stats {
    int delay_samples; /* the bulk delay (to the sample when the fine delay is known,
                          else where the filter or the coarse estimate puts it), or -1
                          before one is found */
    float erle_db;     /* microphone over output power while the far end plays, recent
                          (a near talker lowers it too) */
    float drift_ppm;   /* how fast the echo's delay grows, as followed (positive: the
                          echo comes later and later) */
    int converged;     /* 1 once the filter cancels the echo, until it loses it */
    int idle;          /* 1 while nothing played is left to cancel: a step costs no transform */
    int far_active;    /* 1 when the last step's reference was loud enough to learn from (and
                          erle_db moved) */
    unsigned far_sounds; /* how many times the reference's spectrum has changed its shape
                            (another sound of the far end), wrapping */
    unsigned losses;     /* how many times the filter lost an echo path it had cancelled
                            well (12 dB for about 2 s of far-end speech): the path
                            changed; wrapping */
} gv_echo_stats;

/* Fills *cfg with the defaults. NULL does nothing. Thread-safe. */
void gv_echo_config_default(gv_echo_config *cfg);

/* Creates a canceller from *cfg (copied; NULL for the defaults). Returns 0
 * and the handle in *out (gv_echo_destroy), GV_EINVAL (NULL out, a field
 * out of range) or GV_ENOMEM. Thread-safe. */
int gv_echo_create(const gv_echo_config *cfg, gv_echo **out);

/* Frees ec; NULL is a no-op. */
void gv_echo_destroy(gv_echo *ec);

/* One step: mic and ref are GV_CLEAN_STEP samples each (ref NULL: the
 * speaker played silence). Writes the microphone less the echo estimate to
 * out and the estimate to echo (each GV_CLEAN_STEP samples; out may be mic,
 * echo may be NULL). Non-finite input samples count as 0. Returns 0 or
 * GV_EINVAL (NULL ec, mic or out). One thread at a time per ec; no
 * allocation, locks or I/O. */
int gv_echo_process(gv_echo *ec, const float *mic, const float *ref, float *out, float *echo);

/* The caller stepped the reference by samples before the next step
 * (positive: ahead, skipping samples) while the echo stayed where it was
 * (a correction by the stamps, gv_echoref_take_moved): the filter's
 * reference moves back by as much, so that it stays on the echo and keeps
 * what it learnt. When the delay cannot go that far back (the echo lies
 * in the filter's first partition) the canceller finds the echo again
 * instead. NULL does nothing. One thread at a time per ec. */
void gv_echo_reference_moved(gv_echo *ec, int samples);

/* Copies the current figures to *st. Returns 0 or GV_EINVAL. Not
 * concurrent with gv_echo_process on the same ec. */
int gv_echo_get_stats(const gv_echo *ec, gv_echo_stats *st);

/* Forgets the echo path, the delays and the drift, as after create (a new
 * device). NULL does nothing. One thread at a time per ec. */
void gv_echo_reset(gv_echo *ec);

#endif
