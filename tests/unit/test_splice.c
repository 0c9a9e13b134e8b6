#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audio/gv_splice.h"

#define PI 3.14159265358979323846
#define N 960
#define CAP (N + N / 2) /* the room a caller gives a frame that may be lengthened */

/* GV_TEST_SEED overrides it; every failure prints it. */
static uint64_t g_seed = 0x73706c6963650001ull;

/* The largest step between neighbouring samples: a click shows as a step
 * far above what the signal itself has. */
static float max_step(const float *x, int n)
{
    float m = 0;
    int i;
    for (i = 1; i < n; i++)
        if (fabsf(x[i] - x[i - 1]) > m)
            m = fabsf(x[i] - x[i - 1]);
    return m;
}

static void tone(float *x, int n, double hz, double phase)
{
    int i;
    for (i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * PI * hz * i / 48000.0 + phase));
}

/* Voiced speech stand-in: for each pitch (periods from 2.5 to 12 ms) and
 * each requested cut, the result is between half and all of the cut
 * shorter, and the seam is hardly steeper than the tone itself (a cut
 * shorter than a low voice's period cannot keep its phase; the fade
 * spreads the jump). */
static void test_tones_table(void **state)
{
    static const double pitch_hz[] = {80, 120, 200, 310, 400};
    static const int skips[] = {96, 240, 336, 480};
    size_t a, b;
    (void)state;

    for (a = 0; a < sizeof pitch_hz / sizeof *pitch_hz; a++) {
        for (b = 0; b < sizeof skips / sizeof *skips; b++) {
            float x[N], ref[N];
            int len;
            tone(x, N, pitch_hz[a], 0.3);
            memcpy(ref, x, sizeof x);
            len = gv_splice_shorten(x, N, skips[b]);
            if (len < N - skips[b] || len > N - skips[b] / 2 ||
                max_step(x, len) > 2.0f * max_step(ref, N)) {
                fprintf(stderr, "%.0f Hz, skip %d: len %d, step %.4f vs %.4f\n", pitch_hz[a],
                        skips[b], len, max_step(x, len), max_step(ref, N));
                fail();
            }
            /* The seam starts where the audio before the cut left off. */
            assert_true(fabsf(x[0] - ref[0]) < 1e-3f);
        }
    }
}

/* A cut placed without looking would put two unrelated phases side by
 * side: check that the chosen one is much smoother than the naive one. */
static void test_better_than_naive(void **state)
{
    float x[N], naive[N];
    int len, i, skip = 300;
    (void)state;

    tone(x, N, 170, 0);
    for (i = 0; i < N - skip; i++)
        naive[i] = i < 1 ? x[i] : x[i + skip];
    len = gv_splice_shorten(x, N, skip);
    assert_true(len < N);
    assert_true(max_step(x, len) * 4 < max_step(naive, N - skip));
}

/* Requests that cannot be met leave the buffer as it is. */
static void test_refused(void **state)
{
    float x[N], ref[N];
    (void)state;
    tone(x, N, 200, 0);
    memcpy(ref, x, sizeof x);
    assert_int_equal(gv_splice_shorten(x, N, 0), N);
    assert_int_equal(gv_splice_shorten(x, N, -5), N);
    assert_int_equal(gv_splice_shorten(x, N, N / 2 + 1), N);
    assert_int_equal(gv_splice_shorten(x, 100, 40), 100);
    assert_int_equal(gv_splice_shorten(NULL, N, 100), N);
    assert_memory_equal(x, ref, sizeof x);
}

/* ---- lengthening ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* Voiced speech stand-in: harmonics of f0 up to 4 kHz, falling 6 dB per
 * octave, at random phases. */
static void harmonic(float *x, int n, double f0, uint64_t *s)
{
    double ph[64];
    int k, kmax = (int)(4000 / f0), i;
    for (k = 1; k <= kmax; k++)
        ph[k] = 2 * PI * rng_unit(s);
    for (i = 0; i < n; i++) {
        double v = 0;
        for (k = 1; k <= kmax; k++)
            v += sin(2 * PI * k * f0 * i / 48000.0 + ph[k]) / k;
        x[i] = (float)(0.25 * v);
    }
}

static void noise(float *x, int n, uint64_t *s)
{
    int i;
    for (i = 0; i < n; i++)
        x[i] = (float)(0.3 * sqrt(-2 * log(rng_unit(s))) * cos(2 * PI * rng_unit(s)));
}

static double rms(const float *x, int n)
{
    double e = 0;
    int i;
    for (i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return sqrt(e / n);
}

/* Normalised autocorrelation of x[0..n) at lag. */
static double autocorr(const float *x, int n, int lag)
{
    double xy = 0, xx = 0, yy = 0;
    int i;
    for (i = 0; i + lag < n; i++) {
        xy += (double)x[i] * x[i + lag];
        xx += (double)x[i] * x[i];
        yy += (double)x[i + lag] * x[i + lag];
    }
    return xy / sqrt(xx * yy);
}

/* The period (in samples) between 2 and 12.5 ms: the first peak of the
 * autocorrelation nearly as high as the highest (multiples of the period
 * peak as high), refined to a fraction of a sample. */
static double period_of(const float *x, int n)
{
    double ac[602], top = -2, a, b, c, den;
    int lag, best = 96;
    for (lag = 95; lag <= 601; lag++) {
        ac[lag] = autocorr(x, n, lag);
        if (lag >= 96 && lag <= 600 && ac[lag] > top)
            top = ac[lag];
    }
    for (lag = 96; lag <= 600; lag++) {
        if (ac[lag] >= 0.95 * top && ac[lag] >= ac[lag - 1] && ac[lag] >= ac[lag + 1]) {
            best = lag;
            break;
        }
    }
    a = ac[best - 1];
    b = ac[best];
    c = ac[best + 1];
    den = a - 2 * b + c;
    return den < 0 ? best + 0.5 * (a - c) / den : best;
}

static int zero_crossings(const float *x, int n)
{
    int i, z = 0;
    for (i = 1; i < n; i++)
        z += (x[i - 1] < 0) != (x[i] < 0);
    return z;
}

/* Whether a whole number of periods p lies in [lo, hi] (to half a sample). */
static int period_fits(double p, int lo, int hi)
{
    int k;
    for (k = 1; k * p <= hi + 0.5; k++)
        if (k * p >= lo - 0.5)
            return 1;
    return 0;
}

/* For each pitch (integral and fractional periods) and each lengthening a
 * jitter buffer asks for on a 20 ms frame (and on a 10 ms one): the result
 * is between half and all of the change longer, starts and ends as the
 * frame did. Where a whole number of periods fits in the range (what the
 * jitter buffer's 5..10 ms requests on 20 ms frames give voices of 100 to
 * 400 Hz) it is seamless: no step steeper than the tone's own, the same
 * period, zero-crossing rate and power. Where none does (a 150 Hz voice
 * on a 10 ms frame) the seam's phase slides over the fade: the pitch bends
 * there, but without a click (steps within what noise is allowed; a click
 * is several times the tone's own) and with the power within 15%. */
static void test_lengthen_voiced_table(void **state)
{
    static const struct {
        double f0;
        int n, change;
    } cases[] = {
        {100, N, 480}, {110, N, 480}, {120, N, 480}, {150, N, 480}, {175, N, 480}, {200, N, 480},
        {230, N, 480}, {250, N, 480}, {150, N, 360}, {230, N, 360}, {250, N, 240}, {200, N, 240},
        {120, N, 312}, {200, 480, 240}, {250, 480, 240}, {230, 480, 240}, {100, N, 360}, {150, 480, 240},
    };
    size_t c;
    (void)state;

    for (c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint64_t s = g_seed ^ 0x9e3779b97f4a7c15ull * (c + 1);
        float x[CAP], ref[CAP];
        int n = cases[c].n, ch = cases[c].change, len, j, tail, pitch_ok, fits;
        double p_in, p_out, e_ratio, zr_in, zr_out, p_true = 48000.0 / cases[c].f0;
        harmonic(x, n, cases[c].f0, &s);
        memcpy(ref, x, sizeof x);
        len = gv_splice_stretch(x, n, ch, n + n / 2);
        p_in = period_of(ref, n);
        p_out = period_of(x, len);
        e_ratio = rms(x, len) / rms(ref, n);
        zr_in = (double)zero_crossings(ref, n) / n;
        zr_out = (double)zero_crossings(x, len) / len;
        for (tail = 0, j = 1; j <= n / 2; j++)
            tail += x[len - j] == ref[n - j];
        pitch_ok = fabs(p_out - p_in) <= 0.01 * p_in && autocorr(x, len, (int)lround(p_in)) >= 0.97 &&
                   fabs(zr_out - zr_in) <= 0.1 * zr_in + 1.0 / len;
        fits = period_fits(p_true, ch / 2, ch);
        if (len < n + ch / 2 || len > n + ch || max_step(x, len) > (fits ? 1.02f : 1.5f) * max_step(ref, n) ||
            (fits && !pitch_ok) || fabs(e_ratio - 1) > (fits ? 0.03 : 0.15) || x[0] != ref[0] || tail != n / 2)
            fail_msg("GV_TEST_SEED=%llu: %.0f Hz, n %d, +%d: len %d, step %.4f vs %.4f, period %.2f vs %.2f "
                     "(corr %.3f), power x%.3f, crossings %.4f vs %.4f, tail %d",
                     (unsigned long long)g_seed, cases[c].f0, n, ch, len, max_step(x, len), max_step(ref, n), p_out,
                     p_in, autocorr(x, len, (int)lround(p_in)), e_ratio, zr_out, zr_in, tail);
    }
}

/* Noise (unvoiced speech) has no period to repeat: whatever lag is taken,
 * the seam keeps the power and is no steeper than the noise itself. The
 * fade's samples are new draws of the noise, so its largest step may beat
 * the frame's by what a few hundred more draws give (up to a third, over
 * a hundred thousand frames); a click would be several times the frame's. */
static void test_lengthen_noise_table(void **state)
{
    static const int changes[] = {48, 96, 240, 360, 480};
    size_t c;
    int trial;
    (void)state;

    for (c = 0; c < sizeof changes / sizeof *changes; c++) {
        for (trial = 0; trial < 20; trial++) {
            uint64_t s = g_seed ^ 0x9e3779b97f4a7c15ull * (c * 64 + (uint64_t)trial + 1);
            float x[CAP], ref[CAP];
            int ch = changes[c], len;
            double e_ratio;
            noise(x, N, &s);
            memcpy(ref, x, sizeof x);
            len = gv_splice_stretch(x, N, ch, CAP);
            e_ratio = rms(x, len) / rms(ref, N);
            if (len < N + ch / 2 || len > N + ch || max_step(x, len) > 1.5f * max_step(ref, N) ||
                fabs(e_ratio - 1) > 0.1 || x[0] != ref[0] || x[len - 1] != ref[N - 1])
                fail_msg("GV_TEST_SEED=%llu: noise +%d trial %d: len %d, step %.4f vs %.4f, power x%.3f",
                         (unsigned long long)g_seed, ch, trial, len, max_step(x, len), max_step(ref, N), e_ratio);
        }
    }
}

/* The stretch entry point shortens exactly as gv_splice_shorten does. */
static void test_stretch_shortens(void **state)
{
    float x[CAP], y[CAP];
    uint64_t s = g_seed;
    (void)state;
    harmonic(x, N, 140, &s);
    memcpy(y, x, sizeof x);
    assert_int_equal(gv_splice_stretch(x, N, -300, CAP), gv_splice_shorten(y, N, 300));
    assert_memory_equal(x, y, sizeof x);
}

/* Lengthenings that do not fit leave the buffer as it is. */
static void test_stretch_refused(void **state)
{
    float x[CAP], ref[CAP];
    (void)state;
    tone(x, CAP, 200, 0);
    memcpy(ref, x, sizeof x);
    assert_int_equal(gv_splice_stretch(x, N, 0, CAP), N);
    assert_int_equal(gv_splice_stretch(x, N, N / 2 + 1, N + N / 2 + 1), N); /* more than half */
    assert_int_equal(gv_splice_stretch(x, N, 240, N + 239), N);             /* no room */
    assert_int_equal(gv_splice_stretch(x, 100, 40, 200), 100);              /* too short */
    assert_int_equal(gv_splice_stretch(NULL, N, 240, CAP), N);
    assert_int_equal(gv_splice_stretch(x, N, -(N / 2 + 1), CAP), N);
    assert_memory_equal(x, ref, sizeof x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tones_table),
        cmocka_unit_test(test_better_than_naive),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_lengthen_voiced_table),
        cmocka_unit_test(test_lengthen_noise_table),
        cmocka_unit_test(test_stretch_shortens),
        cmocka_unit_test(test_stretch_refused),
    };
    const char *env = getenv("GV_TEST_SEED");
    if (env)
        g_seed = strtoull(env, NULL, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
