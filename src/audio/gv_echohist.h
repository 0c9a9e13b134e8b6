/* The echo canceller's reference history: the far end's samples as they
 * were played, by absolute sample count, and read back at a fractional
 * delay that may drift (two devices' clocks apart), as the echo heard it.
 * Pure logic; one instance per canceller, not thread-safe. */
#ifndef GV_AUDIO_ECHOHIST_H
#define GV_AUDIO_ECHOHIST_H

#include <stdint.h>

/* Taps of the fractional-delay reader: a delayed read needs this many
 * samples around its position, so a delay below it is read in whole
 * samples (the newest samples have no later ones yet). */
#define GV_ECHOHIST_TAPS 32

typedef struct gv_echohist gv_echohist;

/* A history of at least keep samples (1..1 << 24). Returns 0 and the
 * handle in *out (gv_echohist_destroy), GV_EINVAL or GV_ENOMEM. */
int gv_echohist_create(int keep, gv_echohist **out);

/* Frees h; NULL is a no-op. */
void gv_echohist_destroy(gv_echohist *h);

/* Back to nothing played: all zeros, sample count 0. */
void gv_echohist_reset(gv_echohist *h);

/* Appends n samples (finite: the caller cleans them). */
void gv_echohist_write(gv_echohist *h, const float *x, int n);

/* The sample at absolute count pos, which must be within the history. */
float gv_echohist_at(const gv_echohist *h, int64_t pos);

/* Fills out[0..n) with the reference heard delay samples late, ending at
 * the newest sample, the delay moving by drift per sample over them
 * (out[n - 1] is read at delay): windowed-sinc interpolation, nearest of
 * 256 phases, or whole samples when the delay comes within
 * GV_ECHOHIST_TAPS of the newest sample. */
void gv_echohist_read(const gv_echohist *h, double *out, int n, double delay, double drift);

#endif
