/* The transform of a real signal of n points through a complex transform
 * of n/2 (gv_fft) and a split of its halves: half the work of
 * transforming the signal as a complex one with a zero imaginary part. A
 * plan is read-only after creation, so any number of threads may use one
 * at once. */
#ifndef GV_AUDIO_RFFT_H
#define GV_AUDIO_RFFT_H

#include <stddef.h>

typedef struct gv_rfft gv_rfft;

/* Creates a plan for n real points, n a power of two from 4 to 2^26. *out
 * is owned by the caller (gv_rfft_destroy). Returns 0, GV_EINVAL or
 * GV_ENOMEM. Thread-safe. */
int gv_rfft_create(size_t n, gv_rfft **out);

/* Frees the plan; NULL is a no-op. Not concurrent with transforms on it. */
void gv_rfft_destroy(gv_rfft *rf);

/* X[k] = sum x[t] e^(-2 pi i k t / n) for k = 0 .. n/2 (the rest are their
 * conjugates) into re[] + i im[], n/2 + 1 values each; x (n values) is
 * only read. Returns 0 or GV_EINVAL. Thread-safe. */
int gv_rfft_forward(const gv_rfft *rf, const double *x, double *re, double *im);

/* The real signal x (n values) whose spectrum is re[] + i im[] for k = 0
 * .. n/2, scaled by 1/n so that it undoes gv_rfft_forward; the imaginary
 * parts of bins 0 and n/2 are taken for zero. re and im are overwritten.
 * Returns 0 or GV_EINVAL. Thread-safe. */
int gv_rfft_inverse(const gv_rfft *rf, double *re, double *im, double *x);

#endif
