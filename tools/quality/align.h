/* Time alignment for the quality tools: the delay of a degraded recording
 * relative to its reference, from the peak of their cross-correlation. */
#ifndef GV_QUALITY_ALIGN_H
#define GV_QUALITY_ALIGN_H

#include <stddef.h>

/* Finds d in [-max_lag, max_lag] samples maximising
 * sum_t deg[t + d] * ref[t], refined between samples by a parabola through
 * the peak: positive d means deg lags ref. Both signals (borrowed) share one
 * sample rate; ref_n, deg_n >= 1 and max(ref_n, deg_n) + max_lag <= 2^25.
 * When either signal is all zeros there is no peak and *delay is 0.
 * Returns 0, GV_EINVAL or GV_ENOMEM. Thread-safe. */
int gv_align_delay(const float *ref, size_t ref_n, const float *deg, size_t deg_n,
                   size_t max_lag, double *delay);

/* The raw cross-correlation for non-negative lags: out[l] = sum_t
 * ref[t] * deg[t + l] for l in [0, lags), deg's samples past deg_n being
 * zeros. ref, deg and out are borrowed; ref_n, deg_n >= 1, 1 <= lags <=
 * deg_n and ref_n + deg_n <= 2^25. Returns 0, GV_EINVAL or GV_ENOMEM.
 * Thread-safe. */
int gv_align_xcorr(const float *ref, size_t ref_n, const float *deg, size_t deg_n, double *out,
                   size_t lags);

/* Follows a delay that changes during the recording (a jitter buffer that
 * inserts or shortens audio): ref is cut into pieces of `piece` samples,
 * each found in deg within +-search samples of where it sits (deg already
 * aligned as a whole), and out[0..n) receives deg's matching samples piece
 * by piece (zeros where deg has none). Pieces of near silence keep the
 * previous piece's shift. *min_shift / *max_shift (may be NULL) receive the
 * range of shifts used. ref and out hold n samples, deg deg_n; all
 * borrowed; piece >= 1. Returns 0, GV_EINVAL or GV_ENOMEM. Thread-safe. */
int gv_align_piecewise(const float *ref, size_t n, const float *deg, size_t deg_n, size_t piece,
                       size_t search, float *out, long *min_shift, long *max_shift);

#endif
