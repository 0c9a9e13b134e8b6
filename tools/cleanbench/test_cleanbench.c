/* The clean-input benchmark's own pieces on signals whose answers are
 * known: the measures, the generated material, and the comparators'
 * wiring. The whole tool on a few seconds of speech is tool.cleanbench. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audio/gv_clean.h"
#include "audio/gv_fft.h"
#include "cb_engine.h"
#include "cb_metric.h"
#include "cb_signal.h"

#define RATE GV_CLEAN_RATE
#define STEP GV_CLEAN_STEP
#define SEED 0x636c6e62u
#define PI 3.14159265358979323846

static float *noise(size_t n, double slope, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    if (cb_signal_colored(x, n, slope, seed) != 0)
        fail_msg("colored noise, seed %llu", (unsigned long long)seed);
    return x;
}

static void test_si_sdr(void **state)
{
    (void)state;
    size_t n = RATE;
    float *s = noise(n, 1.0, SEED), *d = noise(n, 0.0, SEED + 1), *est = malloc(n * sizeof *est);
    assert_non_null(est);
    for (size_t i = 0; i < n; i++)
        est[i] = 0.5f * s[i];
    assert_true(cb_metric_si_sdr(s, est, n) > 100.0);
    /* Unit-power noise and unit-power signal: 10 dB when the noise is
     * scaled by 10^(-10/20) (both are zero-mean and nearly orthogonal). */
    double g = pow(10.0, -10.0 / 20.0);
    for (size_t i = 0; i < n; i++)
        est[i] = (float)(3.0 * (s[i] + g * d[i]));
    double v = cb_metric_si_sdr(s, est, n);
    if (fabs(v - 10.0) > 0.3)
        fail_msg("SI-SDR at 10 dB read %.2f (seed %u)", v, SEED);
    /* Uncorrelated noise scores far below zero. */
    assert_true(cb_metric_si_sdr(s, d, n) < -20.0);
    free(s);
    free(d);
    free(est);
}

static void test_ratio_and_power(void **state)
{
    (void)state;
    size_t frames = 100, n = frames * STEP;
    float *x = noise(n, 0.0, SEED + 2), *y = malloc(n * sizeof *y);
    unsigned char mask[100];
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = 0.1f * x[i];
    /* An echo attenuated 20 dB reads 20 dB of ERLE. */
    assert_true(fabs(cb_metric_ratio_db(x, y, NULL, 0, frames) - 20.0) < 1e-3);
    /* Only the masked frames count: attenuate the unmasked ones more. */
    for (size_t f = 0; f < frames; f++) {
        mask[f] = f % 2 == 0;
        if (!mask[f])
            for (size_t i = 0; i < STEP; i++)
                y[f * STEP + i] = 0.001f * x[f * STEP + i];
    }
    assert_true(fabs(cb_metric_ratio_db(x, y, mask, 0, frames) - 20.0) < 1e-3);
    assert_true(fabs(cb_metric_ratio_db(x, y, mask, 1, 2)) < 1e-9); /* nothing masked in range */
    assert_true(fabs(cb_metric_power(x, NULL, 0, frames) - 1.0) < 0.02);
    free(x);
    free(y);
}

/* Speech-like: bursts of a 300 Hz tone, with silences of known lengths. */
static void test_masks_and_levels(void **state)
{
    (void)state;
    size_t frames = 200, n = frames * STEP;
    float *x = calloc(n, sizeof *x);
    unsigned char act[200], pause[200];
    assert_non_null(x);
    /* Active in frames [50, 80) at amplitude 1 and [140, 150) at 0.1. */
    for (size_t i = 50 * STEP; i < 80 * STEP; i++)
        x[i] = (float)sin(2 * PI * 300.0 * (double)i / RATE);
    for (size_t i = 140 * STEP; i < 150 * STEP; i++)
        x[i] = (float)(0.1 * sin(2 * PI * 300.0 * (double)i / RATE));
    assert_int_equal(cb_metric_masks(x, n, act, pause), frames);
    for (size_t f = 0; f < frames; f++) {
        int want_act = (f >= 50 && f < 80) || (f >= 140 && f < 150);
        int near = (f + CB_PAUSE_GUARD_FRAMES >= 50 && f < 80 + CB_PAUSE_GUARD_FRAMES) ||
                   (f + CB_PAUSE_GUARD_FRAMES >= 140 && f < 150 + CB_PAUSE_GUARD_FRAMES);
        if (act[f] != want_act || pause[f] != !near)
            fail_msg("frame %zu: active %d pause %d", f, act[f], pause[f]);
    }
    /* Active power: the mean over both bursts, silence left out. */
    double want = (30 * 0.5 + 10 * 0.005) / 40.0;
    assert_true(fabs(cb_signal_active_power(x, n) / want - 1.0) < 0.01);
    assert_true(fabs(cb_metric_peak_dbfs(x, n)) < 0.01);
    cb_signal_scale(x, n, 0.5);
    assert_true(fabs(cb_metric_peak_dbfs(x, n) + 6.02) < 0.01);
    free(x);
}

static void test_convergence(void **state)
{
    (void)state;
    size_t frames = 400, n = frames * STEP;
    float *echo = noise(n, 1.0, SEED + 3), *out = malloc(n * sizeof *out);
    assert_non_null(out);
    /* Cancels nothing for 1 s, then 40 dB: a 0.5 s window first reads
     * 30 dB when it lies wholly after the step, at 1.5 s. */
    for (size_t i = 0; i < n; i++)
        out[i] = i < (size_t)RATE ? echo[i] : 0.01f * echo[i];
    double t = cb_metric_convergence(echo, out, NULL, 0, frames, 50, 30.0, 0.0);
    if (fabs(t - 1.5) > 0.011)
        fail_msg("convergence at %.3f s, not 1.5", t);
    /* Counted from a later start (a path change at 0.5 s): 1.0 s. */
    t = cb_metric_convergence(echo, out, NULL, 50, frames, 50, 30.0, 0.0);
    assert_true(fabs(t - 1.0) < 0.011);
    /* Never at 50 dB; windows of a silent far end are not judged. */
    assert_true(cb_metric_convergence(echo, out, NULL, 0, frames, 50, 50.0, 0.0) < 0);
    assert_true(cb_metric_convergence(echo, out, NULL, 0, frames, 50, 30.0, 10.0) < 0);
    free(echo);
    free(out);
}

static void test_reach_time(void **state)
{
    (void)state;
    size_t frames = 300, n = frames * STEP;
    float *in = noise(n, 0.0, SEED + 4), *out = malloc(n * sizeof *out);
    unsigned char act[300];
    assert_non_null(out);
    memset(act, 1, sizeof act);
    /* +20 dB from 1 s: -40 dBFS in reaches -23 when the 0.5 s window's
     * gain is 17 dB, a share a of it before the step with
     * a + 100 (1 - a) = 10^1.7, a = 0.504: the window ending at 1.25 s. */
    for (size_t i = 0; i < n; i++)
        out[i] = i < (size_t)RATE ? in[i] : 10.0f * in[i];
    double t = cb_metric_reach_time(in, out, act, frames, 50, -40.0, -20.0, 3.0);
    if (fabs(t - 1.25) > 0.011)
        fail_msg("reach at %.3f s, not 1.25", t);
    assert_true(cb_metric_reach_time(in, out, act, frames, 50, -50.0, -20.0, 3.0) < 0);
    free(in);
    free(out);
}

/* Energy of x between lo and hi Hz. */
static double band(const float *x, size_t n, double lo, double hi)
{
    gv_fft *fft;
    double *re = calloc(n, sizeof *re), *im = calloc(n, sizeof *im), e = 0;
    assert_non_null(re);
    assert_non_null(im);
    assert_int_equal(gv_fft_create(n, &fft), 0);
    for (size_t i = 0; i < n; i++)
        re[i] = x[i];
    gv_fft_forward(fft, re, im);
    for (size_t k = 1; k < n / 2; k++) {
        double hz = (double)k * RATE / (double)n;
        if (hz >= lo && hz < hi)
            e += re[k] * re[k] + im[k] * im[k];
    }
    gv_fft_destroy(fft);
    free(re);
    free(im);
    return e;
}

static void test_noise_colours(void **state)
{
    (void)state;
    size_t n = 1 << 17;
    static const double slope[] = {0.0, 1.0, 2.0}, per_octave_db[] = {3.0, 0.0, -3.0};
    for (int c = 0; c < 3; c++) {
        float *x = noise(n, slope[c], SEED + 5 + (unsigned)c);
        double d = 10.0 * log10(band(x, n, 2000, 4000) / band(x, n, 1000, 2000));
        if (fabs(d - per_octave_db[c]) > 0.5)
            fail_msg("slope %g: %.2f dB per octave, not %g", slope[c], d, per_octave_db[c]);
        assert_true(fabs(cb_signal_power(x, n) - 1.0) < 1e-3);
        assert_true(band(x, n, 1, 15) < 1e-9 * band(x, n, 1000, 2000));
        free(x);
    }
    float *k = malloc(n * sizeof *k);
    assert_non_null(k);
    assert_int_equal(cb_signal_keyboard(k, n, SEED), 0);
    /* Clicks, not a steady noise: most 10 ms frames are silent. */
    size_t quiet = 0;
    for (size_t f = 0; f + 1 < n / STEP; f++)
        quiet += cb_signal_power(k + f * STEP, STEP) < 1e-6;
    assert_true(quiet > n / STEP / 4);
    free(k);
}

static void test_room(void **state)
{
    (void)state;
    float *h;
    size_t len, bulk = 1920;
    assert_int_equal(cb_signal_rir(0.4, bulk, SEED, &h, &len), 0);
    assert_int_equal(len, bulk + (size_t)(0.4 * RATE));
    for (size_t i = 0; i < bulk; i++)
        assert_true(h[i] == 0.0f);
    /* Power falls 60 dB over RT60: the energy after RT60 / 3 is 20 dB
     * below the total (which is 1). */
    size_t tail = len - bulk, third = tail / 3;
    double late = cb_signal_power(h + bulk + third, tail - third) * (double)(tail - third);
    double total = cb_signal_power(h, len) * (double)len;
    assert_true(fabs(total - 1.0) < 1e-4);
    if (fabs(10.0 * log10(late) + 20.0) > 1.5)
        fail_msg("late energy %.2f dB, not -20", 10.0 * log10(late));
    /* Convolving with the response equals the direct sum. */
    size_t n = 4 * STEP;
    float *x = noise(n, 0.0, SEED + 9), *y = malloc(n * sizeof *y);
    assert_non_null(y);
    assert_int_equal(cb_signal_convolve(x, n, h, len, y), 0);
    for (size_t i = 0; i < n; i += 97) {
        double s = 0;
        for (size_t j = 0; j <= i && j < len; j++)
            s += (double)h[j] * x[i - j];
        assert_true(fabs(s - y[i]) < 1e-4);
    }
    free(h);
    free(x);
    free(y);
}

static void test_stoi(void **state)
{
    (void)state;
    /* A 4 Hz modulated noise stands in for speech. */
    size_t n = 3 * RATE;
    float *s = noise(n, 1.0, SEED + 6), *d = noise(n, 1.0, SEED + 7), *deg = malloc(n * sizeof *deg);
    double same, noisy;
    assert_non_null(deg);
    for (size_t i = 0; i < n; i++)
        s[i] = (float)(s[i] * (0.5 + 0.5 * sin(2 * PI * 4.0 * (double)i / RATE)));
    assert_int_equal(cb_metric_stoi(s, s, n, &same), 0);
    for (size_t i = 0; i < n; i++)
        deg[i] = s[i] + 2.0f * d[i];
    assert_int_equal(cb_metric_stoi(s, deg, n, &noisy), 0);
    assert_true(same > 0.99);
    assert_true(noisy < same - 0.1);
    free(s);
    free(d);
    free(deg);
}

/* The comparators are wired: on white noise played through a pure 40 ms
 * delay at -10 dB, after 2 s each cancels at least 10 dB. */
static void test_comparators_cancel(void **state)
{
    (void)state;
    size_t n = 4 * RATE, delay = 40 * RATE / 1000;
    float *far = noise(n, 0.0, SEED + 8), *mic = calloc(n, sizeof *mic), *out = malloc(n * sizeof *out);
    assert_non_null(mic);
    assert_non_null(out);
    cb_signal_scale(far, n, 0.1);
    for (size_t i = delay; i < n; i++)
        mic[i] = 0.316f * far[i - delay];
    for (int id = CB_ENGINE_SPEEX; id <= CB_ENGINE_WEBRTC; id++) {
        cb_engine *e;
        double cpu = 0;
        assert_int_equal(cb_engine_create((cb_engine_id)id, CB_STAGE_ECHO | CB_STAGE_NS, (int)delay, &e), 0);
        assert_int_equal(cb_engine_run(e, mic, far, n, out, &cpu), 0);
        cb_engine_destroy(e);
        double erle = cb_metric_ratio_db(mic, out, NULL, 2 * RATE / STEP, n / STEP);
        if (erle < 10.0)
            fail_msg("%s: %.1f dB", cb_engine_name((cb_engine_id)id), erle);
        assert_true(cpu > 0);
    }
    free(far);
    free(mic);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_si_sdr),        cmocka_unit_test(test_ratio_and_power),
        cmocka_unit_test(test_masks_and_levels), cmocka_unit_test(test_convergence),
        cmocka_unit_test(test_reach_time),    cmocka_unit_test(test_noise_colours),
        cmocka_unit_test(test_room),          cmocka_unit_test(test_stoi),
        cmocka_unit_test(test_comparators_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
