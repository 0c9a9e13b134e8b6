/* gv_rfft against the definition of the discrete Fourier transform of a
 * real signal, and its inverse giving the signal back. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "audio/gv_rfft.h"
#include "gvoip/error.h"
#include "test_rng.h"

#define SEED 0x72666674u
#define PI 3.14159265358979323846

static void test_matches_dft(void **state)
{
    (void)state;
    test_rng_seed(SEED);
    for (size_t n = 4; n <= 1024; n <<= 1) {
        double *x = malloc(n * sizeof(double)), *re = malloc((n / 2 + 1) * sizeof(double)),
               *im = malloc((n / 2 + 1) * sizeof(double));
        gv_rfft *rf;
        assert_true(x && re && im);
        for (size_t t = 0; t < n; t++)
            x[t] = test_rng_uniform() * 2.0 - 1.0;
        assert_int_equal(gv_rfft_create(n, &rf), GV_OK);
        assert_int_equal(gv_rfft_forward(rf, x, re, im), GV_OK);
        for (size_t k = 0; k <= n / 2; k++) {
            double sr = 0.0, si = 0.0;
            for (size_t t = 0; t < n; t++) {
                double a = -2.0 * PI * (double)((k * t) % n) / (double)n;
                sr += x[t] * cos(a);
                si += x[t] * sin(a);
            }
            if (fabs(sr - re[k]) > 1e-9 * (double)n || fabs(si - im[k]) > 1e-9 * (double)n)
                fail_msg("n %zu bin %zu: %g%+gi, the definition gives %g%+gi (seed %#x)", n, k, re[k], im[k], sr,
                         si, SEED);
        }
        gv_rfft_destroy(rf);
        free(x);
        free(re);
        free(im);
    }
}

/* The inverse of the definition's spectrum, and of the forward's, is the
 * signal; the imaginary parts of bins 0 and n/2 are ignored. */
static void test_round_trip(void **state)
{
    (void)state;
    test_rng_seed(SEED + 1);
    for (size_t n = 4; n <= 4096; n <<= 1) {
        double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double)),
               *re = malloc((n / 2 + 1) * sizeof(double)), *im = malloc((n / 2 + 1) * sizeof(double));
        gv_rfft *rf;
        assert_true(x && y && re && im);
        for (size_t t = 0; t < n; t++)
            x[t] = test_rng_uniform() * 2.0 - 1.0;
        assert_int_equal(gv_rfft_create(n, &rf), GV_OK);
        assert_int_equal(gv_rfft_forward(rf, x, re, im), GV_OK);
        im[0] = 5.0;
        im[n / 2] = -3.0;
        assert_int_equal(gv_rfft_inverse(rf, re, im, y), GV_OK);
        for (size_t t = 0; t < n; t++)
            if (fabs(y[t] - x[t]) > 1e-12 * (double)n)
                fail_msg("n %zu sample %zu: %.17g back, %.17g went in", n, t, y[t], x[t]);
        gv_rfft_destroy(rf);
        free(x);
        free(y);
        free(re);
        free(im);
    }
}

/* A single bin's inverse is the cosine of the definition. */
static void test_inverse_matches_definition(void **state)
{
    (void)state;
    const size_t n = 64;
    double re[33], im[33], x[64];
    gv_rfft *rf;
    assert_int_equal(gv_rfft_create(n, &rf), GV_OK);
    for (size_t b = 0; b <= n / 2; b++) {
        for (size_t k = 0; k <= n / 2; k++)
            re[k] = im[k] = 0.0;
        re[b] = 0.75;
        if (b > 0 && b < n / 2)
            im[b] = -0.5;
        assert_int_equal(gv_rfft_inverse(rf, re, im, x), GV_OK);
        for (size_t t = 0; t < n; t++) {
            double a = 2.0 * PI * (double)((b * t) % n) / (double)n;
            /* The bin and its conjugate at n - b, or the bin alone at 0 and n/2. */
            double want = b > 0 && b < n / 2 ? 2.0 * (0.75 * cos(a) + 0.5 * sin(a)) / (double)n
                                             : 0.75 * cos(a) / (double)n;
            if (fabs(x[t] - want) > 1e-14)
                fail_msg("bin %zu sample %zu: %.17g, the definition gives %.17g", b, t, x[t], want);
        }
    }
    gv_rfft_destroy(rf);
}

static void test_rejects(void **state)
{
    (void)state;
    gv_rfft *rf = (gv_rfft *)1;
    double v[8];
    assert_int_equal(gv_rfft_create(2, &rf), GV_EINVAL);
    assert_null(rf);
    assert_int_equal(gv_rfft_create(12, &rf), GV_EINVAL);
    assert_int_equal(gv_rfft_create(8, NULL), GV_EINVAL);
    assert_int_equal(gv_rfft_create(8, &rf), GV_OK);
    assert_int_equal(gv_rfft_forward(rf, NULL, v, v), GV_EINVAL);
    assert_int_equal(gv_rfft_inverse(rf, v, NULL, v), GV_EINVAL);
    assert_int_equal(gv_rfft_forward(NULL, v, v, v), GV_EINVAL);
    gv_rfft_destroy(rf);
    gv_rfft_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_dft),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_inverse_matches_definition),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
