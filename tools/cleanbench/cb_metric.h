/* The clean-input benchmark's measures. Signals are mono float at 48 kHz,
 * already time-aligned (the engine's delay taken off); masks hold one byte
 * per GV_CLEAN_STEP frame (10 ms), frame f covering samples
 * [f * GV_CLEAN_STEP, (f + 1) * GV_CLEAN_STEP). Pure: no I/O. */
#ifndef CB_METRIC_H
#define CB_METRIC_H

#include <stddef.h>

/* A pause frame is this far below the clean speech's loudest frame... */
#define CB_PAUSE_RANGE_DB 60.0
/* ...and at least this many frames from any active one, so that an
 * engine's smearing of speech into the pause does not count as noise. */
#define CB_PAUSE_GUARD_FRAMES 10

/* Scale-invariant signal-to-distortion ratio (Le Roux et al., ICASSP
 * 2019) of est against ref over n samples, both made zero-mean first, in
 * dB; -200 when est is silent or uncorrelated, 200 when it is an exact
 * scaled copy. */
double cb_metric_si_sdr(const float *ref, const float *est, size_t n);

/* STOI of deg against ref (n samples at 48 kHz each), through
 * gvoip_quality_core (resampled to 10 kHz first). Returns 0, GV_EINVAL
 * (too little speech) or GV_ENOMEM. */
int cb_metric_stoi(const float *ref, const float *deg, size_t n, double *stoi);

/* From clean speech (n samples): active[f] = 1 for frames within
 * CB_ACTIVE_RANGE_DB of its loudest, pause[f] = 1 for frames of silence
 * (CB_PAUSE_RANGE_DB down) at least CB_PAUSE_GUARD_FRAMES from an active
 * frame. Either mask may be NULL; each holds n / GV_CLEAN_STEP entries.
 * Returns that frame count. */
size_t cb_metric_masks(const float *clean, size_t n, unsigned char *active, unsigned char *pause);

/* 10 log10 of (sum of a^2) / (sum of b^2) over the frames f in
 * [from, to) with mask[f] set (every frame when mask is NULL); 0 when
 * neither has energy there, +-200 when only one has. */
double cb_metric_ratio_db(const float *a, const float *b, const unsigned char *mask, size_t from,
                          size_t to);

/* Mean square over the masked frames in [from, to) (mask NULL: all). */
double cb_metric_power(const float *x, const unsigned char *mask, size_t from, size_t to);

/* Convergence: the time in seconds from frame `from` to the end of the
 * first window of `window` frames, all in mask and all at or after from,
 * over which the ratio of echo's to out's energy reaches threshold_db;
 * windows whose mean echo power is below min_power (the far end paused)
 * are not judged. -1 when none reaches it before frame to. */
double cb_metric_convergence(const float *echo, const float *out, const unsigned char *mask,
                             size_t from, size_t to, size_t window, double threshold_db,
                             double min_power);

/* Gain settling: the time in seconds from frame 0 to the end of the first
 * window of `window` frames (ending before frame to) whose gain, 10 log10
 * of out's over in's energy in the window's active frames (at least a
 * quarter of the window), takes in_level_db to within tol_db of
 * target_db; -1 when none does. */
double cb_metric_reach_time(const float *in, const float *out, const unsigned char *active, size_t to,
                            size_t window, double in_level_db, double target_db, double tol_db);

/* The largest magnitude of x in dBFS (-200 for silence). */
double cb_metric_peak_dbfs(const float *x, size_t n);

#endif
