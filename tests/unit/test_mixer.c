#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_rng.h"

#include "audio/gv_mixer.h"
#include "gvoip/error.h"

#define RATE 48000
#define PI 3.14159265358979323846
#define SEED 0x6d697865u


static void test_ramp_steps(void **state)
{
    (void)state;
    static const struct {
        float from, to;
        size_t n;
    } cases[] = {
        {0.0f, 1.0f, 960}, {1.0f, 0.0f, 960}, {0.25f, 0.75f, 7},
        {2.0f, -1.0f, 100}, {0.5f, 0.5f, 64}, {0.0f, 1.0f, 1},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t n = cases[k].n;
        float *acc = calloc(n, sizeof(float)), *ones = malloc(n * sizeof(float));
        assert_non_null(acc);
        assert_non_null(ones);
        for (size_t i = 0; i < n; i++)
            ones[i] = 1.0f;
        gv_mix_add_ramp(acc, ones, n, cases[k].from, cases[k].to);
        float step = fabsf(cases[k].to - cases[k].from) / (float)n;
        float prev = cases[k].from;
        for (size_t i = 0; i < n; i++) {
            if (fabsf(acc[i] - prev) > step + 1e-6f)
                fail_msg("case %zu sample %zu: step %g > %g", k, i, (double)fabsf(acc[i] - prev),
                         (double)step);
            prev = acc[i];
        }
        /* Lands exactly on the target so the next buffer continues from it. */
        assert_true(acc[n - 1] == cases[k].to);
        free(acc);
        free(ones);
    }
    /* Adds rather than overwrites. */
    float acc[4] = {1, 2, 3, 4}, src[4] = {1, 1, 1, 1};
    gv_mix_add_ramp(acc, src, 4, 0.5f, 0.5f);
    assert_true(acc[0] == 1.5f && acc[3] == 4.5f);
    gv_mix_add_ramp(NULL, src, 4, 0.0f, 1.0f);
    gv_mix_add_ramp(acc, NULL, 4, 0.0f, 1.0f);
    gv_mix_add_ramp(acc, src, 0, 0.0f, 1.0f);
    assert_true(acc[0] == 1.5f);
}

static float max_step(const float *buf, size_t n)
{
    float m = 0.0f;
    for (size_t i = 1; i < n; i++)
        if (fabsf(buf[i] - buf[i - 1]) > m)
            m = fabsf(buf[i] - buf[i - 1]);
    return m;
}

/* A player joining or leaving mid-waveform: 20 ms of silence, 20 ms fade-in,
 * steady, 20 ms fade-out, silence. A full-scale 1 kHz cosine starts at its peak, so
 * without the ramps the edges would jump by 1.0. */
static void test_player_start_stop(void **state)
{
    (void)state;
    enum { BLOCK = 960, BLOCKS = 8 };
    float *src = malloc(BLOCK * BLOCKS * sizeof(float));
    float *acc = calloc(BLOCK * BLOCKS, sizeof(float));
    assert_non_null(src);
    assert_non_null(acc);
    for (size_t i = 0; i < BLOCK * BLOCKS; i++)
        src[i] = (float)cos(2.0 * PI * 1000.0 * (double)i / RATE);
    static const float gains[BLOCKS + 1] = {0, 0, 1, 1, 1, 1, 0, 0, 0};
    for (size_t b = 0; b < BLOCKS; b++)
        gv_mix_add_ramp(acc + b * BLOCK, src + b * BLOCK, BLOCK, gains[b], gains[b + 1]);

    float sine_slope = (float)(2.0 * PI * 1000.0 / RATE); /* the wave's own steepest step */
    float m = max_step(acc, BLOCK * BLOCKS);
    print_message("largest step with ramps %.4f (sine alone %.4f)\n", (double)m,
                  (double)sine_slope);
    assert_true(m < sine_slope + 2.0f / BLOCK);
    /* Silent before the start and after the stop. */
    for (size_t i = 0; i < BLOCK; i++)
        assert_true(acc[i] == 0.0f);
    for (size_t i = 6 * BLOCK; i < 8 * BLOCK; i++)
        assert_true(acc[i] == 0.0f);

    /* The same edges without a ramp are a click, so the check above can fail. */
    float *hard = calloc(BLOCK * BLOCKS, sizeof(float));
    assert_non_null(hard);
    gv_mix_add_ramp(hard + 2 * BLOCK, src + 2 * BLOCK, 4 * BLOCK, 1.0f, 1.0f);
    assert_true(max_step(hard, BLOCK * BLOCKS) > 0.5f);
    free(hard);
    free(acc);
    free(src);
}

/* Eight full-scale sines at unrelated frequencies and phases, mixed and
 * limited, then converted to s16: never beyond full scale, never wrapped. */
static void test_eight_sines_stay_in_range(void **state)
{
    (void)state;
    enum { N = RATE, BLOCK = 480 };
    float *mix = calloc(N, sizeof(float)), *src = malloc(N * sizeof(float));
    int16_t *pcm = malloc(N * sizeof(int16_t));
    assert_non_null(mix);
    assert_non_null(src);
    assert_non_null(pcm);
    for (int p = 0; p < 8; p++) {
        double hz = 100.0 + 900.0 * (float)test_rng_uniform(), phase = 2.0 * PI * (float)test_rng_uniform();
        for (size_t i = 0; i < N; i++)
            src[i] = (float)sin(2.0 * PI * hz * (double)i / RATE + phase);
        gv_mix_add_ramp(mix, src, N, 1.0f, 1.0f);
    }
    float raw_peak = 0.0f;
    for (size_t i = 0; i < N; i++)
        raw_peak = fmaxf(raw_peak, fabsf(mix[i]));
    assert_true(raw_peak > 3.0f); /* the test really is loud */

    gv_limiter lim;
    assert_int_equal(gv_limiter_init(&lim, RATE), GV_OK);
    for (size_t off = 0; off < N; off += BLOCK)
        gv_limiter_process(&lim, mix + off, BLOCK);
    float peak = 0.0f;
    for (size_t i = 0; i < N; i++) {
        if (!(fabsf(mix[i]) <= 1.0f))
            fail_msg("seed 0x%08x: sample %zu = %g", SEED, i, (double)mix[i]);
        peak = fmaxf(peak, fabsf(mix[i]));
    }
    print_message("raw peak %.3f -> limited peak %.5f\n", (double)raw_peak, (double)peak);
    assert_true(peak > 0.89f); /* limited, not silenced */

    assert_true(gv_mix_to_s16(mix, pcm, N) == 0);
    /* Wrap-around would flip the sign of a loud sample. */
    for (size_t i = 0; i < N; i++)
        if (fabsf(mix[i]) > 0.5f && ((mix[i] > 0) != (pcm[i] > 0)))
            fail_msg("seed 0x%08x: sample %zu wrapped: %g -> %d", SEED, i, (double)mix[i], pcm[i]);
    free(pcm);
    free(src);
    free(mix);
}

static void test_quiet_is_bit_exact(void **state)
{
    (void)state;
    enum { N = 4 * RATE };
    float *buf = malloc(N * sizeof(float)), *orig = malloc(N * sizeof(float));
    assert_non_null(buf);
    assert_non_null(orig);
    for (size_t i = 0; i < N; i++) {
        /* Up to -1.5 dBFS: loud speech, still under the -1 dBFS knee. */
        float v = 0.84f * (float)sin(2.0 * PI * 220.0 * (double)i / RATE);
        orig[i] = buf[i] = v * (0.5f + 0.5f * (float)test_rng_uniform());
    }
    gv_limiter lim;
    assert_int_equal(gv_limiter_init(&lim, RATE), GV_OK);
    for (size_t off = 0; off < N; off += 256)
        gv_limiter_process(&lim, buf + off, (N - off) < 256 ? N - off : 256);
    assert_memory_equal(buf, orig, N * sizeof(float));
    free(orig);
    free(buf);
}

/* Loud, then quiet: gain dips under the loud part and is back at exactly
 * unity a few release times later. */
static void test_release_recovers(void **state)
{
    (void)state;
    enum { LOUD = RATE / 2, QUIET = RATE };
    float *buf = malloc((LOUD + QUIET) * sizeof(float));
    assert_non_null(buf);
    for (size_t i = 0; i < LOUD + QUIET; i++) {
        float amp = i < LOUD ? 6.0f : 0.5f;
        buf[i] = amp * (float)sin(2.0 * PI * 300.0 * (double)i / RATE);
    }
    gv_limiter lim;
    assert_int_equal(gv_limiter_init(&lim, RATE), GV_OK);
    gv_limiter_process(&lim, buf, LOUD + QUIET);

    /* Just after the loud part the quiet signal is still turned down... */
    size_t t10ms = LOUD + RATE / 100;
    float expect = 0.5f * (float)sin(2.0 * PI * 300.0 * (double)(t10ms + 40) / RATE);
    assert_true(fabsf(buf[t10ms + 40]) < 0.5f * fabsf(expect));
    /* ...and 400 ms later (8 release time constants) it is untouched. */
    for (size_t i = LOUD + RATE * 4 / 10; i < LOUD + QUIET; i++) {
        float want = 0.5f * (float)sin(2.0 * PI * 300.0 * (double)i / RATE);
        if (buf[i] != want)
            fail_msg("sample %zu: %g, want %g", i, (double)buf[i], (double)want);
    }
    /* Recovery is gradual: no step beyond the wave's own. */
    float m = max_step(buf + LOUD, QUIET);
    assert_true(m < 0.5f * (float)(2.0 * PI * 300.0 / RATE) + 0.01f);
    free(buf);
}

static void test_limiter_edge_cases(void **state)
{
    (void)state;
    gv_limiter lim;
    assert_int_equal(gv_limiter_init(NULL, RATE), GV_EINVAL);
    assert_int_equal(gv_limiter_init(&lim, 7999), GV_EINVAL);
    assert_int_equal(gv_limiter_init(&lim, 192001), GV_EINVAL);
    assert_int_equal(gv_limiter_init(&lim, 8000), GV_OK);
    assert_int_equal(gv_limiter_init(&lim, RATE), GV_OK);

    float buf[8] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 2.0f, -0.2f, 0.0f};
    gv_limiter_process(&lim, buf, 8);
    for (size_t i = 0; i < 8; i++)
        assert_true(isfinite(buf[i]) && fabsf(buf[i]) <= 1.0f);
    assert_true(buf[0] == 0.0f && buf[1] == 0.0f && buf[2] == 0.0f);
    assert_true(buf[3] > 0.9f && buf[4] < -0.9f);
    gv_limiter_process(NULL, buf, 8);
    gv_limiter_process(&lim, NULL, 8);
}

static void test_to_s16(void **state)
{
    (void)state;
    static const struct {
        float in;
        int16_t out;
        int clipped;
    } cases[] = {
        {0.0f, 0, 0},          {1.0f, 32767, 0},        {-1.0f, -32767, 0},
        {0.5f, 16384, 0},      {-0.5f, -16384, 0},      {1.0001f, 32767, 1},
        {2.0f, 32767, 1},      {-2.0f, -32768, 1},      {1e30f, 32767, 1},
        {-1e30f, -32768, 1},   {INFINITY, 32767, 1},    {-INFINITY, -32768, 1},
        {NAN, 0, 1},           {1.0f / 32767.0f, 1, 0}, {-0.4f / 32767.0f, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int16_t out = 12345;
        int rc = gv_mix_to_s16(&cases[i].in, &out, 1);
        if (rc != cases[i].clipped || out != cases[i].out)
            fail_msg("case %zu (%g): got %d rc %d, want %d rc %d", i, (double)cases[i].in, out, rc,
                     cases[i].out, cases[i].clipped);
    }
    int16_t o[2];
    float in[2] = {0.1f, 0.2f};
    assert_int_equal(gv_mix_to_s16(NULL, o, 2), GV_EINVAL);
    assert_int_equal(gv_mix_to_s16(in, NULL, 2), GV_EINVAL);
    assert_int_equal(gv_mix_to_s16(in, o, (size_t)INT_MAX + 1), GV_EINVAL);
    assert_int_equal(gv_mix_to_s16(NULL, NULL, 0), 0);
}

int main(void)
{
    test_rng_seed(SEED);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ramp_steps),
        cmocka_unit_test(test_player_start_stop),
        cmocka_unit_test(test_eight_sines_stay_in_range),
        cmocka_unit_test(test_quiet_is_bit_exact),
        cmocka_unit_test(test_release_recovers),
        cmocka_unit_test(test_limiter_edge_cases),
        cmocka_unit_test(test_to_s16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
