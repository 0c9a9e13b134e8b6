#include "stoi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_fft.h"
#include "gvoip/error.h"

#define GV_STOI_PI 3.14159265358979323846
#define GV_STOI_NFFT 512
#define GV_STOI_BINS (GV_STOI_NFFT / 2 + 1)
#define GV_STOI_BANDS 15
#define GV_STOI_MIN_HZ 150.0
/* Frames this far below the loudest reference frame count as silence. */
#define GV_STOI_DYN_RANGE_DB 40.0
/* Signal-to-distortion floor: a degraded band envelope may exceed the
 * clean one by at most 15 dB before it is clipped. */
#define GV_STOI_BETA_DB (-15.0)
/* Keeps all-zero envelopes (a concealed gap, a silent band) from dividing
 * by zero; they then correlate as 0. */
#define GV_STOI_EPS 1e-12

typedef struct band {
    int lo; /* first FFT bin */
    int hi; /* one past the last */
} band;

/* The Hann window of the paper's reference code (MATLAB's hanning):
 * 0.5 (1 - cos(2 pi k / (N + 1))) for k = 1..N, so no frame sample is
 * weighted by zero. */
static void hann(double *w)
{
    for (int i = 0; i < GV_STOI_FRAME; i++)
        w[i] = 0.5 * (1.0 - cos(2.0 * GV_STOI_PI * (i + 1) / (GV_STOI_FRAME + 1)));
}

static int nearest_bin(double hz)
{
    double bin_hz = (double)GV_STOI_RATE / GV_STOI_NFFT;
    int b = (int)floor(hz / bin_hz + 0.5);
    return b < 0 ? 0 : (b >= GV_STOI_BINS ? GV_STOI_BINS - 1 : b);
}

/* One-third octave bands centred on 150 * 2^(k/3) Hz; each edge is the
 * geometric mean of neighbouring centres, snapped to the nearest bin. */
static void third_octaves(band *bands)
{
    for (int k = 0; k < GV_STOI_BANDS; k++) {
        bands[k].lo = nearest_bin(GV_STOI_MIN_HZ * pow(2.0, (2.0 * k - 1.0) / 6.0));
        bands[k].hi = nearest_bin(GV_STOI_MIN_HZ * pow(2.0, (2.0 * k + 1.0) / 6.0));
    }
}

/* Frame starts follow the reference code: every hop while start + N < n,
 * so a frame never reaches the last sample. */
static size_t frame_count(size_t n)
{
    return n > GV_STOI_FRAME ? (n - GV_STOI_FRAME - 1) / GV_STOI_HOP + 1 : 0;
}

/* Drops the frames of both signals where ref is more than 40 dB below its
 * loudest frame, and overlap-adds the windowed frames that are left into
 * xs/ys (each n long). Returns the length of the result (0 if ref is
 * silent) and the kept frame count in *kept. */
static size_t remove_silence(const float *ref, const float *deg, size_t n, const double *w,
                             double *energy, double *xs, double *ys, size_t *kept)
{
    size_t frames = frame_count(n);
    double loudest = -HUGE_VAL;
    size_t count = 0;

    *kept = 0;
    for (size_t f = 0; f < frames; f++) {
        const float *x = ref + f * GV_STOI_HOP;
        double sum = 0.0;
        for (int i = 0; i < GV_STOI_FRAME; i++) {
            double v = x[i] * w[i];
            sum += v * v;
        }
        energy[f] = sum > 0.0 ? 10.0 * log10(sum / GV_STOI_FRAME) : -HUGE_VAL;
        if (energy[f] > loudest)
            loudest = energy[f];
    }
    if (frames == 0 || loudest == -HUGE_VAL)
        return 0;
    memset(xs, 0, n * sizeof(double));
    memset(ys, 0, n * sizeof(double));
    for (size_t f = 0; f < frames; f++) {
        size_t in = f * GV_STOI_HOP;
        size_t to = count * GV_STOI_HOP;
        if (energy[f] <= loudest - GV_STOI_DYN_RANGE_DB)
            continue;
        for (int i = 0; i < GV_STOI_FRAME; i++) {
            xs[to + (size_t)i] += ref[in + (size_t)i] * w[i];
            ys[to + (size_t)i] += deg[in + (size_t)i] * w[i];
        }
        count++;
    }
    *kept = count;
    return count ? (count - 1) * GV_STOI_HOP + GV_STOI_FRAME : 0;
}

/* Band envelopes env[frame * BANDS + band]: the root of the summed power of
 * each band's bins in each windowed 512-point spectrum. Each signal gets
 * its own transform: packing two real signals into one complex transform
 * would leak rounding noise shaped like the reference into a silent
 * degraded band, where the energy normalisation would amplify it into a
 * correlation. */
static void envelopes(const gv_fft *fft, const double *sig, size_t frames, const double *w,
                      const band *bands, double *env)
{
    double re[GV_STOI_NFFT], im[GV_STOI_NFFT];

    for (size_t f = 0; f < frames; f++) {
        const double *x = sig + f * GV_STOI_HOP;
        for (int i = 0; i < GV_STOI_NFFT; i++) {
            re[i] = i < GV_STOI_FRAME ? x[i] * w[i] : 0.0;
            im[i] = 0.0;
        }
        gv_fft_forward(fft, re, im);
        for (int b = 0; b < GV_STOI_BANDS; b++) {
            double p = 0.0;
            for (int k = bands[b].lo; k < bands[b].hi; k++)
                p += re[k] * re[k] + im[k] * im[k];
            env[f * GV_STOI_BANDS + (size_t)b] = sqrt(p);
        }
    }
}

/* Removes the mean of v[0], v[stride], ... (len values) and scales them to
 * unit norm; an all-equal vector becomes zeros. */
static void normalise(double *v, size_t len, size_t stride)
{
    double mean = 0.0, norm = 0.0;

    for (size_t i = 0; i < len; i++)
        mean += v[i * stride];
    mean /= (double)len;
    for (size_t i = 0; i < len; i++) {
        v[i * stride] -= mean;
        norm += v[i * stride] * v[i * stride];
    }
    norm = sqrt(norm) + GV_STOI_EPS;
    for (size_t i = 0; i < len; i++)
        v[i * stride] /= norm;
}

/* The 2011 measure for one segment: per band, scale the degraded envelope
 * to the clean one's energy, clip it, and correlate. Returns the sum over
 * bands. */
static double stoi_segment(const double *x_env, const double *y_env)
{
    const double clip = pow(10.0, -GV_STOI_BETA_DB / 20.0);
    double total = 0.0;

    for (int b = 0; b < GV_STOI_BANDS; b++) {
        double x[GV_STOI_SEGMENT_FRAMES], y[GV_STOI_SEGMENT_FRAMES];
        double ex = 0.0, ey = 0.0, alpha, dot = 0.0;

        for (int t = 0; t < GV_STOI_SEGMENT_FRAMES; t++) {
            x[t] = x_env[(size_t)t * GV_STOI_BANDS + (size_t)b];
            y[t] = y_env[(size_t)t * GV_STOI_BANDS + (size_t)b];
            ex += x[t] * x[t];
            ey += y[t] * y[t];
        }
        alpha = sqrt(ex) / (sqrt(ey) + GV_STOI_EPS);
        for (int t = 0; t < GV_STOI_SEGMENT_FRAMES; t++) {
            double limit = x[t] * (1.0 + clip);
            y[t] *= alpha;
            if (y[t] > limit)
                y[t] = limit;
        }
        normalise(x, GV_STOI_SEGMENT_FRAMES, 1);
        normalise(y, GV_STOI_SEGMENT_FRAMES, 1);
        for (int t = 0; t < GV_STOI_SEGMENT_FRAMES; t++)
            dot += x[t] * y[t];
        total += dot;
    }
    return total;
}

/* The 2016 extension for one segment: normalise each band over time, then
 * each frame over bands, and correlate the whole spectrogram patch, which
 * keeps the cross-band structure that the 2011 measure ignores. Returns
 * the mean over frames. */
static double estoi_segment(const double *x_env, const double *y_env)
{
    enum { T = GV_STOI_SEGMENT_FRAMES, B = GV_STOI_BANDS };
    double x[T * B], y[T * B];
    double dot = 0.0;

    memcpy(x, x_env, sizeof(x));
    memcpy(y, y_env, sizeof(y));
    for (size_t b = 0; b < B; b++) {
        normalise(x + b, T, B);
        normalise(y + b, T, B);
    }
    for (size_t t = 0; t < T; t++) {
        normalise(x + t * B, B, 1);
        normalise(y + t * B, B, 1);
    }
    for (size_t i = 0; i < T * B; i++)
        dot += x[i] * y[i];
    return dot / T;
}

int gv_stoi_compute(const float *ref, const float *deg, size_t n, gv_stoi_result *out)
{
    gv_fft *fft = NULL;
    double *energy = NULL, *xs = NULL, *ys = NULL, *x_env = NULL, *y_env = NULL;
    double w[GV_STOI_FRAME];
    band bands[GV_STOI_BANDS];
    size_t kept, len, frames, segments;
    double sum_stoi = 0.0, sum_estoi = 0.0;
    int rc;

    if (!ref || !deg || !out || frame_count(n) < GV_STOI_SEGMENT_FRAMES)
        return GV_EINVAL;
    rc = gv_fft_create(GV_STOI_NFFT, &fft);
    if (rc < 0)
        goto out;
    energy = malloc(frame_count(n) * sizeof(double));
    xs = malloc(n * sizeof(double));
    ys = malloc(n * sizeof(double));
    if (!energy || !xs || !ys) {
        rc = GV_ENOMEM;
        goto out;
    }
    hann(w);
    third_octaves(bands);
    len = remove_silence(ref, deg, n, w, energy, xs, ys, &kept);
    frames = frame_count(len);
    if (frames < GV_STOI_SEGMENT_FRAMES) {
        rc = GV_EINVAL;
        goto out;
    }
    x_env = malloc(frames * GV_STOI_BANDS * sizeof(double));
    y_env = malloc(frames * GV_STOI_BANDS * sizeof(double));
    if (!x_env || !y_env) {
        rc = GV_ENOMEM;
        goto out;
    }
    envelopes(fft, xs, frames, w, bands, x_env);
    envelopes(fft, ys, frames, w, bands, y_env);

    segments = frames - GV_STOI_SEGMENT_FRAMES + 1;
    for (size_t s = 0; s < segments; s++) {
        sum_stoi += stoi_segment(x_env + s * GV_STOI_BANDS, y_env + s * GV_STOI_BANDS);
        sum_estoi += estoi_segment(x_env + s * GV_STOI_BANDS, y_env + s * GV_STOI_BANDS);
    }
    out->stoi = sum_stoi / (double)(segments * GV_STOI_BANDS);
    out->estoi = sum_estoi / (double)segments;
    out->frames = kept;
    out->segments = segments;
    rc = GV_OK;
out:
    gv_fft_destroy(fft);
    free(energy);
    free(xs);
    free(ys);
    free(x_env);
    free(y_env);
    return rc;
}
