#include "cb_signal.h"

#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audio/gv_clean.h"
#include "audio/gv_fft.h"
#include "gvoip/error.h"
#include "wav.h"

extern char **environ;

#define CB_PI 3.14159265358979323846
#define CB_LOW_CUT_HZ 20.0
#define CB_HUM_HZ 120.0
#define CB_HUM_HARMONICS 8
#define CB_CLICK_TAU_S 0.004
#define CB_CLICK_LEN_S 0.030
#define CB_CLICK_MEAN_GAP_S 0.150
#define CB_CLICK_MIN_GAP_S 0.040

void cb_rng_seed(cb_rng *r, uint64_t seed)
{
    r->s = seed;
}

static uint64_t rng_next(cb_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double cb_rng_uniform(cb_rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

double cb_rng_gauss(cb_rng *r)
{
    /* 1 - u keeps the logarithm's argument away from zero. */
    double u = 1.0 - cb_rng_uniform(r), v = cb_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * CB_PI * v);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 2;
    while (p < n)
        p <<= 1;
    return p;
}

double cb_signal_power(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return n ? s / (double)n : 0;
}

static void normalise(float *x, size_t n)
{
    double p = cb_signal_power(x, n);
    if (p > 0)
        cb_signal_scale(x, n, 1.0 / sqrt(p));
}

int cb_signal_colored(float *out, size_t n, double slope, uint64_t seed)
{
    if (!out || n == 0 || slope < 0 || slope > 4)
        return GV_EINVAL;
    size_t len = pow2_at_least(n);
    gv_fft *fft = NULL;
    double *re = calloc(len, sizeof *re), *im = calloc(len, sizeof *im);
    int rc = gv_fft_create(len, &fft);
    if (rc == 0 && (!re || !im))
        rc = GV_ENOMEM;
    if (rc == 0) {
        cb_rng r;
        cb_rng_seed(&r, seed);
        /* A Gaussian spectrum with Hermitian symmetry gives a real Gaussian
         * signal whose expected spectrum is exactly the chosen slope. */
        for (size_t k = 1; k < len / 2; k++) {
            double hz = (double)k * GV_CLEAN_RATE / (double)len;
            double a = hz < CB_LOW_CUT_HZ ? 0 : pow(hz, -slope / 2.0);
            re[k] = a * cb_rng_gauss(&r);
            im[k] = a * cb_rng_gauss(&r);
            re[len - k] = re[k];
            im[len - k] = -im[k];
        }
        rc = gv_fft_inverse(fft, re, im);
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = (float)re[i];
        normalise(out, n);
    }
    gv_fft_destroy(fft);
    free(re);
    free(im);
    return rc;
}

int cb_signal_fan(float *out, size_t n, uint64_t seed)
{
    int rc = cb_signal_colored(out, n, 1.0, seed);
    if (rc < 0)
        return rc;
    cb_rng r;
    double phase[CB_HUM_HARMONICS], norm = 0;
    cb_rng_seed(&r, seed ^ 0x68756dull);
    for (int k = 0; k < CB_HUM_HARMONICS; k++) {
        phase[k] = 2.0 * CB_PI * cb_rng_uniform(&r);
        norm += 0.5 / ((k + 1.0) * (k + 1.0));
    }
    /* Unit-power hum added to unit-power pink: equal shares. */
    double g = 1.0 / sqrt(norm);
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / GV_CLEAN_RATE, h = 0;
        for (int k = 0; k < CB_HUM_HARMONICS; k++)
            h += sin(2.0 * CB_PI * CB_HUM_HZ * (k + 1) * t + phase[k]) / (k + 1.0);
        out[i] += (float)(g * h);
    }
    normalise(out, n);
    return 0;
}

int cb_signal_keyboard(float *out, size_t n, uint64_t seed)
{
    if (!out || n == 0)
        return GV_EINVAL;
    cb_rng r;
    cb_rng_seed(&r, seed);
    memset(out, 0, n * sizeof *out);
    size_t click = (size_t)(CB_CLICK_LEN_S * GV_CLEAN_RATE);
    double decay = exp(-1.0 / (CB_CLICK_TAU_S * GV_CLEAN_RATE));
    double t = CB_CLICK_MIN_GAP_S;
    for (;;) {
        t += CB_CLICK_MIN_GAP_S - (CB_CLICK_MEAN_GAP_S - CB_CLICK_MIN_GAP_S) * log(1.0 - cb_rng_uniform(&r));
        size_t at = (size_t)(t * GV_CLEAN_RATE);
        if (at >= n)
            break;
        double env = pow(10.0, -cb_rng_uniform(&r) * 10.0 / 20.0), prev = 0;
        for (size_t i = 0; i < click && at + i < n; i++) {
            /* The first difference tilts the burst towards the treble, as a
             * key's click sounds. */
            double w = cb_rng_gauss(&r);
            out[at + i] += (float)(env * (w - prev));
            prev = w;
            env *= decay;
        }
    }
    normalise(out, n);
    return 0;
}

int cb_signal_rir(double rt60_s, size_t bulk_samples, uint64_t seed, float **out, size_t *len)
{
    if (!out || !len || !(rt60_s >= 0.01 && rt60_s <= 2.0) || bulk_samples > GV_CLEAN_RATE)
        return GV_EINVAL;
    size_t tail = (size_t)(rt60_s * GV_CLEAN_RATE);
    float *h = calloc(bulk_samples + tail, sizeof *h);
    if (!h)
        return GV_ENOMEM;
    cb_rng r;
    cb_rng_seed(&r, seed);
    /* -60 dB of power over rt60_s is an amplitude of exp(-ln(1000) t / rt60). */
    double k = log(1000.0) / (rt60_s * GV_CLEAN_RATE);
    for (size_t i = 0; i < tail; i++)
        h[bulk_samples + i] = (float)(exp(-k * (double)i) * cb_rng_gauss(&r));
    double e = cb_signal_power(h, bulk_samples + tail) * (double)(bulk_samples + tail);
    cb_signal_scale(h, bulk_samples + tail, 1.0 / sqrt(e));
    *out = h;
    *len = bulk_samples + tail;
    return 0;
}

int cb_signal_convolve(const float *x, size_t n, const float *h, size_t h_len, float *y)
{
    if (!x || !h || !y || x == y || n == 0 || h_len == 0)
        return GV_EINVAL;
    size_t len = pow2_at_least(n + h_len);
    gv_fft *fft = NULL;
    double *xr = calloc(len, sizeof *xr), *xi = calloc(len, sizeof *xi);
    double *hr = calloc(len, sizeof *hr), *hi = calloc(len, sizeof *hi);
    int rc = gv_fft_create(len, &fft);
    if (rc == 0 && (!xr || !xi || !hr || !hi))
        rc = GV_ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            xr[i] = x[i];
        for (size_t i = 0; i < h_len; i++)
            hr[i] = h[i];
        gv_fft_forward(fft, xr, xi);
        gv_fft_forward(fft, hr, hi);
        for (size_t k = 0; k < len; k++) {
            double re = xr[k] * hr[k] - xi[k] * hi[k];
            xi[k] = xr[k] * hi[k] + xi[k] * hr[k];
            xr[k] = re;
        }
        gv_fft_inverse(fft, xr, xi);
        for (size_t i = 0; i < n; i++)
            y[i] = (float)xr[i];
    }
    gv_fft_destroy(fft);
    free(xr);
    free(xi);
    free(hr);
    free(hi);
    return rc;
}

double cb_signal_active_power(const float *x, size_t n)
{
    size_t frames = (n + GV_CLEAN_STEP - 1) / GV_CLEAN_STEP;
    double loudest = 0;
    for (size_t f = 0; f < frames; f++) {
        size_t at = f * GV_CLEAN_STEP, len = n - at < GV_CLEAN_STEP ? n - at : GV_CLEAN_STEP;
        double p = cb_signal_power(x + at, len);
        if (p > loudest)
            loudest = p;
    }
    double floor = loudest * pow(10.0, -CB_ACTIVE_RANGE_DB / 10.0), sum = 0;
    size_t count = 0;
    for (size_t f = 0; f < frames; f++) {
        size_t at = f * GV_CLEAN_STEP, len = n - at < GV_CLEAN_STEP ? n - at : GV_CLEAN_STEP;
        double p = cb_signal_power(x + at, len);
        if (loudest > 0 && p >= floor) {
            sum += p;
            count++;
        }
    }
    return count ? sum / (double)count : 0;
}

double cb_db(double power)
{
    return power > 0 ? 10.0 * log10(power) : -200.0;
}

void cb_signal_scale(float *x, size_t n, double gain)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(x[i] * gain);
}

size_t cb_signal_clip(float *x, size_t n)
{
    size_t clipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] > 1.0f || x[i] < -1.0f) {
            x[i] = x[i] > 0 ? 1.0f : -1.0f;
            clipped++;
        }
    }
    return clipped;
}

void cb_signal_soft_clip(float *x, size_t n, double limit)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(limit * tanh(x[i] / limit));
}

int cb_signal_speak(const char *dir, const char *voice, const char *text, size_t min_samples,
                    float **out, size_t *n)
{
    if (!dir || !voice || !text || !out || !n || min_samples == 0)
        return GV_EINVAL;
    *out = NULL;
    *n = 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/speech.wav", dir) >= (int)sizeof path)
        return GV_EINVAL;
    char *argv[] = {"espeak-ng", "-v", (char *)voice, "-w", path, (char *)text, NULL};
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, "espeak-ng", NULL, NULL, argv, environ) != 0)
        return GV_EIO;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return GV_EIO;
    float *said;
    size_t len;
    int rc = gv_wav_read(path, GV_CLEAN_RATE, &said, &len, NULL);
    unlink(path);
    if (rc < 0)
        return rc;
    size_t total = len;
    while (total < min_samples)
        total += len;
    float *all = malloc(total * sizeof *all);
    if (!all) {
        free(said);
        return GV_ENOMEM;
    }
    for (size_t at = 0; at < total; at += len)
        memcpy(all + at, said, len * sizeof *said);
    free(said);
    *out = all;
    *n = total;
    return 0;
}
