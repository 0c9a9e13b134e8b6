/* Mixing helpers: click-free gain ramps, a peak limiter that keeps the sum
 * of many players inside full scale, and saturating float -> s16. Pure
 * functions over caller buffers; nothing here allocates. */
#ifndef GV_AUDIO_MIXER_H
#define GV_AUDIO_MIXER_H

#include <stddef.h>
#include <stdint.h>

/* A plain struct rather than an opaque handle: it holds three floats and
 * needs no allocation, so it can live inside a mixer or on the stack. Fill
 * it with gv_limiter_init(); treat the fields as private. */
typedef struct gv_limiter {
    float threshold; /* linear level (-1 dBFS) above which gain drops */
    float release;   /* per-sample envelope decay factor (50 ms) */
    float env;       /* peak envelope; 0 whenever it is below threshold */
} gv_limiter;

/* acc[i] += src[i] * gain, the gain moving linearly from gain_from towards
 * gain_to and reaching it exactly on the last sample, so consecutive calls
 * that chain gains have no step. Buffers are borrowed and may not overlap;
 * NULL or n == 0 does nothing. Thread-safe on distinct buffers. */
void gv_mix_add_ramp(float *acc, const float *src, size_t n, float gain_from, float gain_to);

/* Prepares lim for a stream at sample_rate (8000..192000) at unity gain.
 * Returns 0 or GV_EINVAL. Not concurrent with other calls on the same lim. */
int gv_limiter_init(gv_limiter *lim, int sample_rate);

/* Limits buf[0..n) in place: samples whose envelope stays at or below
 * -1 dBFS pass bit-exactly; louder ones are compressed on a smooth knee with
 * instant attack and 50 ms release. Output is always within [-1, 1];
 * NaN and infinities become 0. NULL does nothing. One thread at a time per
 * lim. */
void gv_limiter_process(gv_limiter *lim, float *buf, size_t n);

/* Converts in[0..n) to 16-bit with rounding, saturating instead of
 * wrapping (NaN becomes 0). Returns how many samples had to be clipped, or
 * GV_EINVAL (NULL with n > 0, n > INT_MAX). Thread-safe on distinct
 * buffers. */
int gv_mix_to_s16(const float *in, int16_t *out, size_t n);

#endif
