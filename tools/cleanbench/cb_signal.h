/* Test material for the clean-input benchmark: seeded noises (coloured,
 * hum, keyboard clicks), room impulse responses, long convolution, level
 * measurement and mixing at a chosen ratio, and speech from espeak-ng.
 * All signals are mono float at GV_CLEAN_RATE (48 kHz). Everything but
 * cb_signal_speak is pure and deterministic for its seed. */
#ifndef CB_SIGNAL_H
#define CB_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

/* Frames (GV_CLEAN_STEP samples) more than this far below a signal's
 * loudest frame are not "active" speech; espeak-ng's pauses are digital
 * silence, so the exact figure hardly matters. */
#define CB_ACTIVE_RANGE_DB 40.0

/* The benchmark's seeded generator (splitmix64). */
typedef struct cb_rng {
    uint64_t s;
} cb_rng;

void cb_rng_seed(cb_rng *r, uint64_t seed);
/* Uniform in [0, 1). */
double cb_rng_uniform(cb_rng *r);
/* Standard normal (Box-Muller). */
double cb_rng_gauss(cb_rng *r);

/* Noise with a power spectrum proportional to f^-slope (0 white, 1 pink,
 * 2 brown) above 20 Hz and nothing below, shaped in one FFT over the whole
 * length, scaled to unit RMS. Writes n samples to out. Returns 0,
 * GV_EINVAL or GV_ENOMEM. */
int cb_signal_colored(float *out, size_t n, double slope, uint64_t seed);

/* A fan: pink noise plus a 120 Hz hum with harmonics (amplitude 1/k for
 * the k-th, up to 960 Hz, random phases) at the same power as the pink
 * part; unit RMS. Returns 0, GV_EINVAL or GV_ENOMEM. */
int cb_signal_fan(float *out, size_t n, uint64_t seed);

/* Typing: short broadband bursts decaying with a 4 ms time constant at
 * exponentially distributed intervals (mean 150 ms, at least 40 ms), each
 * at a random level within 10 dB; unit RMS over n. Returns 0 or
 * GV_EINVAL. */
int cb_signal_keyboard(float *out, size_t n, uint64_t seed);

/* A room impulse response: bulk_samples zeros, then Gaussian noise under
 * an exponential envelope that falls 60 dB in rt60_s, as long as rt60_s;
 * unit energy. *len gets its length; the caller frees *out. Returns 0,
 * GV_EINVAL or GV_ENOMEM. */
int cb_signal_rir(double rt60_s, size_t bulk_samples, uint64_t seed, float **out, size_t *len);

/* y[0..n) = the first n samples of x (n samples) convolved with h (h_len),
 * by one FFT over the whole length; y may not be x. Returns 0, GV_EINVAL
 * or GV_ENOMEM. */
int cb_signal_convolve(const float *x, size_t n, const float *h, size_t h_len, float *y);

/* Mean square of x. */
double cb_signal_power(const float *x, size_t n);

/* Mean square over x's active frames (within CB_ACTIVE_RANGE_DB of its
 * loudest GV_CLEAN_STEP frame; a partial last frame counts as one); 0 for
 * silence. */
double cb_signal_active_power(const float *x, size_t n);

/* 10 log10 of a power; -200 for 0. */
double cb_db(double power);

/* Multiplies x by gain. */
void cb_signal_scale(float *x, size_t n, double gain);

/* Limits x to [-1, 1] as a converter does. Returns how many samples were
 * clipped. */
size_t cb_signal_clip(float *x, size_t n);

/* The loudspeaker's soft clipping: limit * tanh(x / limit). */
void cb_signal_soft_clip(float *x, size_t n, double limit);

/* Speech from espeak-ng (found on PATH): text said by voice, resampled to
 * 48 kHz with speexdsp, repeated end to end until it is at least
 * min_samples long. dir is a writable folder for the temporary file. The
 * caller frees *out. Returns 0, GV_EINVAL, GV_EIO (espeak-ng missing or
 * failed) or GV_ENOMEM. */
int cb_signal_speak(const char *dir, const char *voice, const char *text, size_t min_samples,
                    float **out, size_t *n);

#endif
