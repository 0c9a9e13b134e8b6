#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audio/gv_splice.h"

#define PI 3.14159265358979323846
#define N 960

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tones_table),
        cmocka_unit_test(test_better_than_naive),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
