/* The canceller's coarse delay estimator on made-up spectra: a microphone
 * that repeats the reference some steps later is found at that lag, a
 * microphone unrelated to it never is, and silent steps keep what was
 * found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "audio/gv_echolag.h"
#include "gvoip/error.h"
#include "test_rng.h"

#define SEED 0x6c616731u
#define LAGS 27
#define BINS GV_ECHOLAG_BINS

/* A spectrum of random magnitudes per bin (phase is irrelevant here). */
static void spectrum(float *re, float *im)
{
    for (int k = 0; k < BINS; k++) {
        re[k] = (float)(test_rng_uniform() * test_rng_uniform());
        im[k] = 0.0f;
    }
}

/* Runs steps with the microphone at lag (or unrelated when lag < 0);
 * returns the estimate. */
static gv_echolag_estimate run(gv_echolag *el, int lag, int steps)
{
    static float rr[LAGS + 1][BINS], ri[LAGS + 1][BINS];
    float mr[BINS], mi[BINS];
    gv_echolag_estimate est;
    for (int t = 0; t < steps; t++) {
        int now = t % (LAGS + 1);
        spectrum(rr[now], ri[now]);
        if (lag >= 0 && t >= lag) {
            int then = (t - lag) % (LAGS + 1);
            for (int k = 0; k < BINS; k++)
                mr[k] = 0.3f * rr[then][k], mi[k] = 0.0f;
        } else {
            spectrum(mr, mi);
        }
        gv_echolag_step(el, mr, mi, rr[now], ri[now], 1, 1);
    }
    gv_echolag_get(el, &est);
    return est;
}

static void test_finds_the_lag(void **state)
{
    (void)state;
    gv_echolag *el;
    gv_echolag_estimate est;
    test_rng_seed(SEED);
    assert_int_equal(gv_echolag_create(LAGS, &el), 0);
    for (int lag = 0; lag < LAGS; lag += 6) {
        gv_echolag_reset(el);
        est = run(el, lag, 200);
        if (est.lag != lag || est.contrast < 4.0f)
            fail_msg("lag %d: estimated %d (contrast %.1f; seed %#x)", lag, est.lag, (double)est.contrast, SEED);
    }
    gv_echolag_destroy(el);
}

static void test_unrelated_and_silent(void **state)
{
    (void)state;
    gv_echolag *el;
    gv_echolag_estimate est;
    test_rng_seed(SEED + 1);
    assert_int_equal(gv_echolag_create(LAGS, &el), 0);
    est = run(el, -1, 500);
    if (est.lag != -1)
        fail_msg("an unrelated microphone was placed at lag %d (seed %#x)", est.lag, SEED + 1);
    /* Found, then nobody talks: the estimate stays, ageing. */
    est = run(el, 5, 200);
    assert_int_equal(est.lag, 5);
    for (int t = 0; t < 100; t++)
        gv_echolag_step_silent(el, 0);
    gv_echolag_get(el, &est);
    assert_int_equal(est.lag, 5);
    assert_int_equal(est.age, 100);
    assert_int_equal(est.echo_now, 0);
    gv_echolag_destroy(el);
}

static void test_arguments(void **state)
{
    (void)state;
    gv_echolag *el = (gv_echolag *)1;
    gv_echolag_estimate est;
    assert_int_equal(gv_echolag_create(1, &el), GV_EINVAL);
    assert_null(el);
    assert_int_equal(gv_echolag_create(10001, &el), GV_EINVAL);
    assert_int_equal(gv_echolag_create(LAGS, NULL), GV_EINVAL);
    assert_int_equal(gv_echolag_create(2, &el), 0);
    gv_echolag_get(el, &est);
    assert_int_equal(est.lag, -1);
    gv_echolag_destroy(el);
    gv_echolag_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_the_lag),
        cmocka_unit_test(test_unrelated_and_silent),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
