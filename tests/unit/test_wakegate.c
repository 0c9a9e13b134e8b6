#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gvoip/error.h"
#include "gvoip/wakegate.h"
#include "test_rng.h"

#define SEED 0x77616b65u
#define RATE 48000
#define FRAME_MS 20
#define FRAME (RATE * FRAME_MS / 1000)
#define WAIT (RATE * GV_WAKEGATE_WAIT_MS / 1000)

static double db_to_ms(double db)
{
    return pow(10.0, db / 10.0);
}

/* Fills n samples with noise of mean square ms (uniform, so the crest is
 * small and the level exact enough). */
static void noise(float *x, size_t n, double ms)
{
    double amp = sqrt(3.0 * ms);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(amp * (2.0 * test_rng_uniform() - 1.0));
}

static gv_wakegate *gate(int channels, float quiet_db)
{
    gv_wakegate *g = NULL;
    assert_int_equal(gv_wakegate_create(RATE, channels, FRAME_MS, &g), 0);
    assert_int_equal(gv_wakegate_set_quiet(g, quiet_db), 0);
    return g;
}

static void test_arguments(void **state)
{
    (void)state;
    gv_wakegate *g = (gv_wakegate *)&g;
    assert_int_equal(gv_wakegate_create(RATE, 1, FRAME_MS, NULL), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(7999, 1, FRAME_MS, &g), GV_EINVAL);
    assert_null(g);
    assert_int_equal(gv_wakegate_create(192001, 1, FRAME_MS, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(RATE, 0, FRAME_MS, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(RATE, 9, FRAME_MS, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(RATE, 1, 0, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(RATE, 1, 15, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(RATE, 1, -20, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_set_quiet(NULL, -60.0f), GV_EINVAL);
    float x[4] = {0};
    assert_int_equal(gv_wakegate_block(NULL, x, 4), 1);
    gv_wakegate_destroy(NULL);

    assert_int_equal(gv_wakegate_create(RATE, 2, 10, &g), 0);
    assert_int_equal(gv_wakegate_set_quiet(g, NAN), GV_EINVAL);
    /* Before any level is set every block wakes, even silence. */
    assert_int_equal(gv_wakegate_block(g, x, 2), 1);
    assert_int_equal(gv_wakegate_set_quiet(g, -60.0f), 0);
    assert_int_equal(gv_wakegate_block(g, NULL, 2), 1);
    assert_int_equal(gv_wakegate_block(g, x, 0), 0);
    x[1] = NAN;
    assert_int_equal(gv_wakegate_block(g, x, 2), 1);
    x[1] = INFINITY;
    assert_int_equal(gv_wakegate_block(g, x, 2), 1);
    gv_wakegate_destroy(g);
}

/* Blocks of 20 ms of steady audio at level_db against a gate at quiet_db:
 * the wake pattern of the first ten blocks, 1 a wake. */
static void pattern(float quiet_db, double level_db, const char *want)
{
    gv_wakegate *g = gate(1, quiet_db);
    float x[FRAME];
    char got[11] = {0};
    for (int b = 0; b < 10; b++) {
        if (level_db > -200.0)
            noise(x, FRAME, db_to_ms(level_db));
        else
            memset(x, 0, sizeof x);
        got[b] = (char)('0' + gv_wakegate_block(g, x, FRAME));
    }
    gv_wakegate_destroy(g);
    if (strcmp(got, want) != 0)
        fail_msg("gate at %.1f dBFS, audio at %.1f dBFS: wakes %s, want %s", quiet_db, level_db, got, want);
}

static void test_levels(void **state)
{
    (void)state;
    test_rng_seed(SEED);
    /* Digital silence, and a quiet room well below the gate, wait 100 ms
     * (five blocks) at a time. */
    pattern(-56.0f, -300.0, "0000100001");
    pattern(-56.0f, -61.0, "0000100001");
    /* Within 3 dB of the gate the two blocks a frame may straddle could
     * hold a frame that loud: every block after the first wakes. */
    pattern(-56.0f, -58.0, "0111111111");
    pattern(-56.0f, -50.0, "1111111111");
    /* -INFINITY: everything wakes; +INFINITY: only the wait's bound. */
    pattern(-INFINITY, -300.0, "1111111111");
    pattern(INFINITY, -20.0, "0000100001");
}

/* The guarantee, for any block sizes and any placement of the sound: a
 * FRAME-long stretch whose mean square reaches the gate makes the block
 * that holds its last sample wake, and no sample waits longer than the
 * bound. Random block sizes from 1 sample to 3 frames, random bursts. */
static void test_no_loud_frame_waits(void **state)
{
    (void)state;
    const size_t total = (size_t)RATE * 4;
    const float quiet_db = -56.0f;
    const double quiet = db_to_ms(quiet_db);
    for (int channels = 1; channels <= 2; channels++) {
        for (int round = 0; round < 20; round++) {
            uint32_t seed = SEED + (uint32_t)(round * 2 + channels);
            test_rng_seed(seed);
            float *x = calloc(total * (size_t)channels, sizeof *x);
            double *power = calloc(total, sizeof *power); /* per frame, over channels */
            assert_non_null(x);
            assert_non_null(power);
            noise(x, total * (size_t)channels, db_to_ms(-70.0));
            /* Bursts of 1..FRAME samples, loud enough that some FRAME-long
             * stretches around them pass the gate and some do not. */
            for (int k = 0; k < 40; k++) {
                size_t len = 1 + test_rng_next() % FRAME;
                size_t at = test_rng_next() % (total - len);
                double ms = quiet * FRAME / (double)len * (0.3 + 1.4 * test_rng_uniform());
                noise(x + at * (size_t)channels, len * (size_t)channels, ms);
            }
            for (size_t i = 0; i < total; i++) {
                for (int c = 0; c < channels; c++)
                    power[i] += (double)x[i * (size_t)channels + c] * x[i * (size_t)channels + c];
                power[i] /= channels;
            }
            gv_wakegate *g = gate(channels, quiet_db);
            size_t pos = 0, last_wake_end = 0;
            double window = 0.0; /* sum of power over [i - FRAME, i) */
            size_t checked = 0;
            while (pos < total) {
                size_t n = 1 + test_rng_next() % (3 * FRAME);
                if (n > total - pos)
                    n = total - pos;
                int wake = gv_wakegate_block(g, x + pos * (size_t)channels, n);
                int must = 0;
                for (size_t i = pos; i < pos + n; i++) {
                    window += power[i] - (i >= FRAME ? power[i - FRAME] : 0.0);
                    if (i + 1 >= FRAME && window >= quiet * FRAME * (1.0 + 1e-6))
                        must = 1;
                }
                checked += must;
                if (must && !wake)
                    fail_msg("seed 0x%08x, %d channel(s): a frame as loud as the gate ends in the block at "
                             "%zu (+%zu) and it did not wake",
                             seed, channels, pos, n);
                if (wake)
                    last_wake_end = pos + n;
                pos += n;
                if (pos - last_wake_end > WAIT)
                    fail_msg("seed 0x%08x: audio from %zu waited %zu frames, more than %d", seed, last_wake_end,
                             pos - last_wake_end, WAIT);
            }
            gv_wakegate_destroy(g);
            free(power);
            free(x);
            if (checked == 0)
                fail_msg("seed 0x%08x: no block held a frame as loud as the gate: the case tests nothing", seed);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_no_loud_frame_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
