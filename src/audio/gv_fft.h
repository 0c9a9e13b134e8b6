/* Complex FFT, radix 4 (one radix-2 pass first when log2 n is odd), for
 * the clean-input stages and the quality tools. A plan holds the twiddle
 * factors of one size; it is read-only after creation, so any number of
 * threads may transform with the same plan at once. */
#ifndef GV_AUDIO_FFT_H
#define GV_AUDIO_FFT_H

#include <stddef.h>

typedef struct gv_fft gv_fft;

/* Creates a plan for n points, n a power of two from 2 to 2^26. *out is
 * owned by the caller (gv_fft_destroy). Returns 0, GV_EINVAL or GV_ENOMEM.
 * Thread-safe. */
int gv_fft_create(size_t n, gv_fft **out);

/* Frees the plan; NULL is a no-op. Not concurrent with transforms on it. */
void gv_fft_destroy(gv_fft *fft);

/* The plan's size, or 0 for NULL. Thread-safe. */
size_t gv_fft_size(const gv_fft *fft);

/* In-place forward transform X[k] = sum x[t] e^(-2 pi i k t / n) of the n
 * values re[] + i im[] (borrowed). Returns 0 or GV_EINVAL. Thread-safe. */
int gv_fft_forward(const gv_fft *fft, double *re, double *im);

/* In-place inverse transform, scaled by 1/n so that it undoes
 * gv_fft_forward. Returns 0 or GV_EINVAL. Thread-safe. */
int gv_fft_inverse(const gv_fft *fft, double *re, double *im);

/* Two real signals a and b transformed at once as re[] + i im[] = a + i b
 * (n values): their half spectra, n/2 + 1 bins each, into ar + i ai and
 * br + i bi, as A[k] = (Z[k] + conj Z[n-k]) / 2 and B[k] = (Z[k] - conj
 * Z[n-k]) / 2i. Thread-safe. */
void gv_fft_split_pair(const gv_fft *fft, const double *re, const double *im, float *ar, float *ai,
                       float *br, float *bi);

/* The inverse of gv_fft_split_pair: the n values re[] + i im[] = A + i B
 * over the full circle from two half spectra (of real signals a and b,
 * which gv_fft_inverse then gives as a + i b). Thread-safe. */
void gv_fft_join_pair(const gv_fft *fft, const float *ar, const float *ai, const float *br,
                      const float *bi, double *re, double *im);

#endif
