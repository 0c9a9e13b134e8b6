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

#endif
