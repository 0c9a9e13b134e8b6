/* The clean-input chain (gv_clean) as the client runs it: the canceller's
 * output counts only once it has found an echo, so two people talking at
 * once through a headset pass untouched; an echo, once found, is removed.
 * Seeded voiced syllables and noise stand in for speech; the stages themselves have their own
 * tests (test_echo, test_denoise, test_agc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_clean.h"
#include "gvoip/error.h"
#include "test_rng.h"

#define STEP GV_CLEAN_STEP
#define SEED 0x636c6e31u
#define PI 3.14159265358979323846

static float noise(double amp)
{
    return (float)(amp * (2.0 * test_rng_uniform() - 1.0));
}

/* Voiced syllables of 100..300 ms at random pitches (100..250 Hz), their
 * harmonics to 4 kHz: enough like speech that a filter chasing one voice
 * with another as reference finds something to adapt to. With max_gap_s,
 * up to that much digital silence after each: a far end that pauses now
 * and then. */
static void voice(float *x, long n, double amp, double max_gap_s)
{
    long i = 0;
    while (i < n) {
        long len = (long)(GV_CLEAN_RATE * (0.1 + 0.2 * test_rng_uniform()));
        double f0 = 100.0 + 150.0 * test_rng_uniform(), ph = 0.0;
        long gap = max_gap_s > 0.0 ? (long)(GV_CLEAN_RATE * max_gap_s * test_rng_uniform()) : 0;
        for (long k = 0; k < len && i < n; k++, i++) {
            double env = sin(PI * (double)k / (double)len), v = 0.0;
            ph += 2.0 * PI * f0 / GV_CLEAN_RATE;
            for (int h = 1; h * f0 < 4000.0; h++)
                v += sin(h * ph) / h;
            x[i] = (float)(amp * env * v * 0.5);
        }
        for (long k = 0; k < gap && i < n; k++, i++)
            x[i] = 0.0f;
    }
}

static void test_arguments(void **state)
{
    (void)state;
    gv_clean *cl = NULL;
    gv_clean_stats st;
    float step[STEP] = {0};
    gv_clean_config bad = {.echo = 2, .denoise = 1, .agc = 1}, none = {0};
    assert_int_equal(gv_clean_create(NULL, &cl), GV_EINVAL);
    assert_int_equal(gv_clean_create(&bad, &cl), GV_EINVAL);
    assert_null(cl);
    assert_int_equal(gv_clean_create(&none, NULL), GV_EINVAL);
    assert_int_equal(gv_clean_create(&none, &cl), 0);
    assert_int_equal(gv_clean_delay(cl), 0);
    assert_int_equal(gv_clean_process(NULL, step, NULL), GV_EINVAL);
    assert_int_equal(gv_clean_process(cl, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_clean_get_stats(cl, NULL), GV_EINVAL);
    assert_int_equal(gv_clean_get_stats(cl, &st), 0);
    assert_int_equal(st.echo_delay_samples, -1);
    gv_clean_destroy(cl);
    gv_clean_destroy(NULL);
}

/* A headset: the far end plays, the microphone hears only the near talker,
 * both talking at once for 10 s. The canceller has nothing to find, so the
 * chain (canceller alone, its suppression in the denoiser's transform)
 * hands the microphone out exactly, only delayed. */
static void test_no_echo_passes_untouched(void **state)
{
    (void)state;
    gv_clean_config cc = {.echo = 1};
    gv_clean *cl;
    const long n = 10L * GV_CLEAN_RATE;
    float *mic = malloc((size_t)n * sizeof *mic), *out = malloc((size_t)n * sizeof *out);
    float *far = malloc((size_t)n * sizeof *far);
    double worst = 0.0;

    assert_true(mic && out && far);
    test_rng_seed(SEED);
    assert_int_equal(gv_clean_create(&cc, &cl), 0);
    int delay = gv_clean_delay(cl);
    assert_true(delay > 0);
    voice(mic, n, 0.3, 0.0);
    voice(far, n, 0.3, 0.0);
    for (long i = 0; i < n; i += STEP) {
        memcpy(out + i, mic + i, STEP * sizeof *out);
        assert_int_equal(gv_clean_process(cl, out + i, far + i), 0);
    }
    for (long i = delay; i < n; i++)
        worst = fmax(worst, fabs(out[i] - mic[i - delay]));
    if (worst > 1e-5)
        fail_msg("seed %#x: the near talker changed by up to %g with no echo to cancel", SEED, worst);
    gv_clean_destroy(cl);
    free(mic);
    free(out);
    free(far);
}

/* A headset again, two people talking over each other in steady
 * syllables with pauses. While each holds one sound, a filter fitting the
 * ratio of their spectra bin by bin removes more than 3 dB for 10 steps
 * and more; on these seeds (8 of the first 100, 4 s each) that was taken
 * for an echo and the near talker lost 3 dB. An echo is the same for the
 * far end's next sound: no echo may be found. */
static void test_no_echo_in_steady_sounds(void **state)
{
    (void)state;
    static const uint32_t trials[] = {36, 41, 47, 48, 51, 55, 70, 91};
    const long n = 4L * GV_CLEAN_RATE;
    float *mic = malloc((size_t)n * sizeof *mic), *far = malloc((size_t)n * sizeof *far);
    float step[STEP];

    assert_true(mic && far);
    for (size_t t = 0; t < sizeof trials / sizeof trials[0]; t++) {
        const uint32_t seed = 0x1234u + trials[t] * 7919u;
        gv_clean_config cc = {.echo = 1};
        gv_clean *cl;
        gv_clean_stats st;
        test_rng_seed(seed);
        double near_amp = 0.05 + 0.3 * test_rng_uniform(), far_amp = 0.05 + 0.3 * test_rng_uniform();
        voice(mic, n, near_amp, 0.1);
        voice(far, n, far_amp, 0.1);
        for (long i = 0; i < n; i++)
            mic[i] += noise(1e-4);
        assert_int_equal(gv_clean_create(&cc, &cl), 0);
        for (long i = 0; i < n; i += STEP) {
            memcpy(step, mic + i, sizeof step);
            assert_int_equal(gv_clean_process(cl, step, far + i), 0);
            assert_int_equal(gv_clean_get_stats(cl, &st), 0);
            if (st.echo_found)
                fail_msg("seed %#x: an echo found at %.2f s with none there", seed, (double)i / GV_CLEAN_RATE);
        }
        gv_clean_destroy(cl);
    }
    free(mic);
    free(far);
}

/* A plain echo, 40 ms late and 10 dB down, with the far end alone: found
 * and removed, at least 25 dB from 3 s on. */
static void test_echo_found_and_removed(void **state)
{
    (void)state;
    gv_clean_config cc = {.echo = 1};
    gv_clean *cl;
    gv_clean_stats st;
    const long n = 6L * GV_CLEAN_RATE, lag = 40 * GV_CLEAN_RATE / 1000;
    float *far = malloc((size_t)n * sizeof *far), step[STEP];
    double in = 0.0, left = 0.0;

    assert_non_null(far);
    test_rng_seed(SEED + 1);
    for (long i = 0; i < n; i++)
        far[i] = noise(0.3);
    assert_int_equal(gv_clean_create(&cc, &cl), 0);
    for (long i = 0; i < n; i += STEP) {
        for (int k = 0; k < STEP; k++)
            step[k] = i + k >= lag ? 0.316f * far[i + k - lag] : 0.0f;
        for (int k = 0; k < STEP && i >= 3L * GV_CLEAN_RATE; k++)
            in += (double)step[k] * step[k];
        assert_int_equal(gv_clean_process(cl, step, far + i), 0);
        for (int k = 0; k < STEP && i >= 3L * GV_CLEAN_RATE; k++)
            left += (double)step[k] * step[k];
    }
    double removed = 10.0 * log10(in / (left + 1e-20));
    assert_int_equal(gv_clean_get_stats(cl, &st), 0);
    if (removed < 25.0 || st.echo_delay_samples < 0)
        fail_msg("seed %#x: %.1f dB of echo removed, delay %d samples", SEED + 1, removed, st.echo_delay_samples);
    gv_clean_destroy(cl);
    free(far);
}

/* A microphone muted in hardware between two stretches of fan noise
 * (digital zeros for 4 s): the zeros come out as zeros, and the noise that
 * follows is suppressed at once, as before the silence, because the
 * suppressor did not learn a noise floor of zero from it. */
static void test_digital_silence(void **state)
{
    (void)state;
    gv_clean_config cc = {.denoise = 1, .agc = 1};
    gv_clean *cl;
    const long n = 10L * GV_CLEAN_RATE, mute_at = 4L * GV_CLEAN_RATE, back_at = 8L * GV_CLEAN_RATE;
    float step[STEP];
    double before_in = 0.0, before_out = 0.0, after_in = 0.0, after_out = 0.0;

    test_rng_seed(SEED + 2);
    assert_int_equal(gv_clean_create(&cc, &cl), 0);
    for (long i = 0; i < n; i += STEP) {
        int muted = i >= mute_at && i < back_at;
        double in = 0.0, out = 0.0;
        for (int k = 0; k < STEP; k++) {
            step[k] = muted ? 0.0f : noise(0.01);
            in += (double)step[k] * step[k];
        }
        assert_int_equal(gv_clean_process(cl, step, NULL), 0);
        for (int k = 0; k < STEP; k++)
            out += (double)step[k] * step[k];
        if (muted && i >= mute_at + 3 * STEP)
            assert_true(out == 0.0);
        if (i >= mute_at - GV_CLEAN_RATE / 2 && i < mute_at)
            before_in += in, before_out += out;
        if (i >= back_at + GV_CLEAN_RATE / 10 && i < back_at + GV_CLEAN_RATE * 6 / 10)
            after_in += in, after_out += out;
    }
    double before = 10.0 * log10(before_in / (before_out + 1e-20));
    double after = 10.0 * log10(after_in / (after_out + 1e-20));
    if (before < 10.0 || after < before - 3.0)
        fail_msg("seed %#x: the noise was suppressed by %.1f dB before the silence and %.1f dB in the half second from 100 ms after",
                 SEED + 2, before, after);
    gv_clean_destroy(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_no_echo_passes_untouched),
        cmocka_unit_test(test_no_echo_in_steady_sounds),
        cmocka_unit_test(test_echo_found_and_removed),
        cmocka_unit_test(test_digital_silence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
