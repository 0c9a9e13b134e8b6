/* gv_fft against the definition of the discrete Fourier transform, and
 * its inverse undoing it at sizes with and without the listed
 * bit-reversal; two real signals' spectra from one transform. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "audio/gv_fft.h"
#include "gvoip/error.h"
#include "test_rng.h"

#define SEED 0x66667401u
#define PI 3.14159265358979323846

static void fill(double *re, double *im, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        re[i] = test_rng_uniform() * 2.0 - 1.0;
        im[i] = test_rng_uniform() * 2.0 - 1.0;
    }
}

static void test_matches_dft(void **state)
{
    (void)state;
    test_rng_seed(SEED);
    /* Both parities of log2 n, up to the echo canceller's 1024 and past. */
    for (size_t n = 2; n <= 2048; n <<= 1) {
        double *re = malloc(n * sizeof(double)), *im = malloc(n * sizeof(double));
        double *xr = malloc(n * sizeof(double)), *xi = malloc(n * sizeof(double));
        gv_fft *fft;
        assert_true(re && im && xr && xi);
        fill(xr, xi, n);
        for (size_t i = 0; i < n; i++)
            re[i] = xr[i], im[i] = xi[i];
        assert_int_equal(gv_fft_create(n, &fft), GV_OK);
        assert_int_equal(gv_fft_size(fft), n);
        assert_int_equal(gv_fft_forward(fft, re, im), GV_OK);
        for (size_t k = 0; k < n; k++) {
            double sr = 0.0, si = 0.0;
            for (size_t t = 0; t < n; t++) {
                double a = -2.0 * PI * (double)((k * t) % n) / (double)n;
                sr += xr[t] * cos(a) - xi[t] * sin(a);
                si += xr[t] * sin(a) + xi[t] * cos(a);
            }
            if (fabs(sr - re[k]) > 1e-9 * (double)n || fabs(si - im[k]) > 1e-9 * (double)n)
                fail_msg("n %zu bin %zu: %g%+gi, the definition gives %g%+gi (seed %#x)", n, k, re[k], im[k], sr,
                         si, SEED);
        }
        gv_fft_destroy(fft);
        free(re);
        free(im);
        free(xr);
        free(xi);
    }
}

/* Sizes on both sides of the listed permutation: the inverse gives the
 * signal back, and the energy is kept (Parseval). */
static void test_round_trip(void **state)
{
    (void)state;
    const size_t sizes[] = {1024, (size_t)1 << 16, (size_t)1 << 17};
    test_rng_seed(SEED + 1);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        double *re = malloc(n * sizeof(double)), *im = malloc(n * sizeof(double));
        double *xr = malloc(n * sizeof(double)), *xi = malloc(n * sizeof(double));
        double et = 0.0, ef = 0.0, err = 0.0;
        gv_fft *fft;
        assert_true(re && im && xr && xi);
        fill(xr, xi, n);
        for (size_t i = 0; i < n; i++) {
            re[i] = xr[i], im[i] = xi[i];
            et += xr[i] * xr[i] + xi[i] * xi[i];
        }
        assert_int_equal(gv_fft_create(n, &fft), GV_OK);
        assert_int_equal(gv_fft_forward(fft, re, im), GV_OK);
        for (size_t i = 0; i < n; i++)
            ef += re[i] * re[i] + im[i] * im[i];
        assert_int_equal(gv_fft_inverse(fft, re, im), GV_OK);
        for (size_t i = 0; i < n; i++)
            err = fmax(err, fmax(fabs(re[i] - xr[i]), fabs(im[i] - xi[i])));
        if (fabs(ef / (double)n - et) > 1e-9 * et || err > 1e-9)
            fail_msg("n %zu: energy %g against %g, largest error %g (seed %#x)", n, ef / (double)n, et, err,
                     SEED + 1);
        gv_fft_destroy(fft);
        free(re);
        free(im);
        free(xr);
        free(xi);
    }
}

/* Two real signals through one transform: split, each half spectrum is
 * the signal's own; joined and inverse-transformed, the pair comes back. */
static void test_pair(void **state)
{
    (void)state;
    enum { N = 64, K = N / 2 + 1 };
    double a[N], b[N], re[N], im[N], alr[N], ali[N]; /* alr + i ali: one signal alone */
    float ar[K], ai[K], br[K], bi[K];
    gv_fft *fft;
    test_rng_seed(SEED + 2);
    fill(a, b, N);
    for (size_t i = 0; i < N; i++)
        re[i] = a[i], im[i] = b[i];
    assert_int_equal(gv_fft_create(N, &fft), GV_OK);
    assert_int_equal(gv_fft_forward(fft, re, im), GV_OK);
    gv_fft_split_pair(fft, re, im, ar, ai, br, bi);
    for (int pass = 0; pass < 2; pass++) {
        const float *sr = pass ? br : ar, *si = pass ? bi : ai;
        for (size_t i = 0; i < N; i++)
            alr[i] = pass ? b[i] : a[i], ali[i] = 0.0;
        assert_int_equal(gv_fft_forward(fft, alr, ali), GV_OK);
        for (size_t k = 0; k < K; k++)
            if (fabs(sr[k] - alr[k]) > 1e-4 || fabs(si[k] - ali[k]) > 1e-4)
                fail_msg("signal %d bin %zu: %g%+gi, alone %g%+gi", pass, k, sr[k], si[k], alr[k], ali[k]);
    }
    gv_fft_join_pair(fft, ar, ai, br, bi, re, im);
    assert_int_equal(gv_fft_inverse(fft, re, im), GV_OK);
    for (size_t i = 0; i < N; i++)
        if (fabs(re[i] - a[i]) > 1e-5 || fabs(im[i] - b[i]) > 1e-5)
            fail_msg("sample %zu: %g%+gi, the pair was %g%+gi", i, re[i], im[i], a[i], b[i]);
    gv_fft_destroy(fft);
}

static void test_invalid(void **state)
{
    (void)state;
    gv_fft *fft = (gv_fft *)1;
    double x[4] = {0};
    assert_int_equal(gv_fft_create(0, &fft), GV_EINVAL);
    assert_null(fft);
    assert_int_equal(gv_fft_create(1, &fft), GV_EINVAL);
    assert_int_equal(gv_fft_create(12, &fft), GV_EINVAL);
    assert_int_equal(gv_fft_create((size_t)1 << 27, &fft), GV_EINVAL);
    assert_int_equal(gv_fft_create(4, NULL), GV_EINVAL);
    assert_int_equal(gv_fft_forward(NULL, x, x), GV_EINVAL);
    assert_int_equal(gv_fft_inverse(NULL, x, x), GV_EINVAL);
    assert_int_equal(gv_fft_create(4, &fft), GV_OK);
    assert_int_equal(gv_fft_forward(fft, NULL, x), GV_EINVAL);
    assert_int_equal(gv_fft_inverse(fft, x, NULL), GV_EINVAL);
    assert_int_equal(gv_fft_size(NULL), 0);
    gv_fft_destroy(fft);
    gv_fft_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_dft),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_pair),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
