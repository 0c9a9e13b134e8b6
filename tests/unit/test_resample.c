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

#include "audio/gv_resample.h"
#include "gvoip/error.h"

#define PI 3.14159265358979323846
#define SEED 0x5eed1234u


/* Interleaved tone; channel c has amplitude amp[c]. */
static float *make_tone(int rate, int ch, double hz, const double *amp, size_t frames)
{
    float *buf = malloc(frames * (size_t)ch * sizeof(float));
    assert_non_null(buf);
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++)
            buf[i * (size_t)ch + (size_t)c] = (float)(amp[c] * sin(2.0 * PI * hz * (double)i / rate));
    return buf;
}

/* Feeds `in` through r in pseudo-random pieces, each with the output room
 * gv_resampler_max_out_frames() promises is enough. Returns the output. */
static float *run_stream(gv_resampler *r, const float *in, int in_ch, size_t in_frames,
                         int out_ch, size_t *out_frames)
{
    size_t cap = gv_resampler_max_out_frames(r, in_frames) + 64;
    float *out = malloc(cap * (size_t)out_ch * sizeof(float));
    size_t done = 0, made = 0;
    assert_non_null(out);
    while (done < in_frames) {
        size_t piece = 1 + test_rng_next() % 3000;
        if (piece > in_frames - done)
            piece = in_frames - done;
        size_t room = gv_resampler_max_out_frames(r, piece);
        assert_true(made + room <= cap);
        size_t used = 0;
        int n = gv_resampler_process(r, in + done * (size_t)in_ch, piece,
                                     out + made * (size_t)out_ch, room, &used);
        if (n < 0 || used != piece)
            fail_msg("seed 0x%08x: piece %zu gave %d frames, used %zu", SEED, piece, n, used);
        done += used;
        made += (size_t)n;
    }
    *out_frames = made;
    return out;
}

/* Frequency from interpolated rising zero crossings of channel c. */
static double measure_hz(const float *buf, int ch, int c, size_t from, size_t to, int rate)
{
    double first = -1.0, last = -1.0;
    long count = 0;
    for (size_t i = from + 1; i < to; i++) {
        double a = buf[(i - 1) * (size_t)ch + (size_t)c], b = buf[i * (size_t)ch + (size_t)c];
        if (a < 0.0 && b >= 0.0) {
            double t = (double)(i - 1) + a / (a - b);
            if (first < 0.0)
                first = t;
            last = t;
            count++;
        }
    }
    if (count < 2)
        return 0.0;
    return (double)(count - 1) * rate / (last - first);
}

static double measure_rms(const float *buf, int ch, int c, size_t from, size_t to)
{
    double s = 0.0;
    for (size_t i = from; i < to; i++) {
        double v = buf[i * (size_t)ch + (size_t)c];
        s += v * v;
    }
    return sqrt(s / (double)(to - from));
}

/* Converts one second of a tone and checks that neither pitch, speed nor
 * level changed. Stereo input has unequal channels so the downmix must be
 * their mean. */
static void check_conversion(int in_rate, int in_ch, int out_rate, int out_ch, double hz)
{
    /* Either way the mono (or duplicated) level is 0.4. */
    static const double stereo_amp[2] = {0.6, 0.2};
    static const double mono_amp[1] = {0.4};
    const double *amp = in_ch == 2 ? stereo_amp : mono_amp;
    const double want_amp = 0.4;
    size_t in_frames = (size_t)in_rate;
    float *in = make_tone(in_rate, in_ch, hz, amp, in_frames);
    gv_resampler *r = NULL;
    assert_int_equal(
        gv_resampler_create(in_rate, in_ch, out_rate, out_ch, GV_RESAMPLE_QUALITY_DEFAULT, &r),
        GV_OK);

    size_t out_frames = 0;
    float *out = run_stream(r, in, in_ch, in_frames, out_ch, &out_frames);
    double expect = (double)in_frames * out_rate / in_rate;
    if (fabs((double)out_frames - expect) > 2.0)
        fail_msg("%d/%d -> %d/%d: %zu frames, want %.1f", in_rate, in_ch, out_rate, out_ch,
                 out_frames, expect);

    /* Skip the filter's start-up and the tail it still holds. */
    size_t from = out_frames / 10, to = out_frames - out_frames / 20;
    for (int c = 0; c < out_ch; c++) {
        double got = measure_hz(out, out_ch, c, from, to, out_rate);
        double rms = measure_rms(out, out_ch, c, from, to);
        double want_rms = want_amp / sqrt(2.0);
        if (fabs(got - hz) > 0.01 * hz || fabs(rms - want_rms) > 0.05 * want_rms)
            fail_msg("%d/%d -> %d/%d tone %.0f Hz ch %d: measured %.2f Hz, rms %.4f (want %.4f)",
                     in_rate, in_ch, out_rate, out_ch, hz, c, got, rms, want_rms);
    }
    if (out_ch == 2)
        for (size_t i = 0; i < out_frames; i++)
            assert_true(out[2 * i] == out[2 * i + 1]);

    free(out);
    free(in);
    gv_resampler_destroy(r);
}

static void test_rates_table(void **state)
{
    (void)state;
    static const int rates[] = {8000, 16000, 22050, 44100, 48000, 96000};
    static const int channels[] = {1, 2};
    static const double tones[] = {1000.0, 300.0};
    for (size_t ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++)
        for (size_t ci = 0; ci < 2; ci++)
            for (size_t ti = 0; ti < 2; ti++) {
                check_conversion(rates[ri], channels[ci], 48000, 1, tones[ti]);
                check_conversion(48000, 1, rates[ri], channels[ci], tones[ti]);
            }
    /* The extremes of the accepted range. */
    check_conversion(192000, 2, 8000, 1, 1000.0);
    check_conversion(8000, 1, 192000, 2, 300.0);
}

static void test_passthrough_exact(void **state)
{
    (void)state;
    float in[2 * 256], out[2 * 256];
    size_t used;
    for (size_t i = 0; i < 2 * 256; i++)
        in[i] = (float)((int)(test_rng_next() % 2001) - 1000) / 1000.0f;

    gv_resampler *r = NULL;
    assert_int_equal(gv_resampler_create(48000, 1, 48000, 1, 5, &r), GV_OK);
    assert_int_equal(gv_resampler_max_out_frames(r, 256), 256);
    assert_int_equal(gv_resampler_process(r, in, 256, out, 256, &used), 256);
    assert_int_equal(used, 256);
    assert_memory_equal(in, out, 256 * sizeof(float));
    /* Less room than input: the rest is left for the next call. */
    assert_int_equal(gv_resampler_process(r, in, 256, out, 100, &used), 100);
    assert_int_equal(used, 100);
    gv_resampler_destroy(r);

    assert_int_equal(gv_resampler_create(44100, 2, 44100, 1, -1, &r), GV_OK);
    assert_int_equal(gv_resampler_process(r, in, 256, out, 256, &used), 256);
    for (size_t i = 0; i < 256; i++)
        assert_true(out[i] == 0.5f * (in[2 * i] + in[2 * i + 1]));
    gv_resampler_destroy(r);

    assert_int_equal(gv_resampler_create(16000, 1, 16000, 2, -1, &r), GV_OK);
    assert_int_equal(gv_resampler_process(r, in, 256, out, 256, &used), 256);
    for (size_t i = 0; i < 256; i++)
        assert_true(out[2 * i] == in[i] && out[2 * i + 1] == in[i]);
    gv_resampler_destroy(r);
}

/* However the stream is cut and however little output room each call gets,
 * the result is the same as in one piece. */
static void test_chunking_invariant(void **state)
{
    (void)state;
    static const struct {
        int in_rate, in_ch, out_rate, out_ch;
    } cases[] = {
        {44100, 2, 48000, 1}, {48000, 1, 22050, 2}, {8000, 1, 48000, 1}, {96000, 2, 16000, 2},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const double amp[2] = {0.5, -0.3};
        size_t frames = (size_t)cases[k].in_rate / 4;
        int ic = cases[k].in_ch, oc = cases[k].out_ch;
        float *in = make_tone(cases[k].in_rate, ic, 700.0, amp, frames);
        gv_resampler *one = NULL, *many = NULL;
        assert_int_equal(gv_resampler_create(cases[k].in_rate, ic, cases[k].out_rate, oc, -1, &one),
                         GV_OK);
        assert_int_equal(
            gv_resampler_create(cases[k].in_rate, ic, cases[k].out_rate, oc, -1, &many), GV_OK);

        size_t cap = gv_resampler_max_out_frames(one, frames);
        float *a = malloc(cap * (size_t)oc * sizeof(float));
        float *b = malloc(cap * (size_t)oc * sizeof(float));
        assert_non_null(a);
        assert_non_null(b);
        size_t used = 0;
        int na = gv_resampler_process(one, in, frames, a, cap, &used);
        assert_true(na > 0);
        assert_int_equal(used, frames);

        size_t done = 0, nb = 0;
        while (done < frames) {
            size_t piece = 1 + test_rng_next() % 500, room = 1 + test_rng_next() % 300;
            if (piece > frames - done)
                piece = frames - done;
            if (room > cap - nb)
                room = cap - nb;
            int n = gv_resampler_process(many, in + done * (size_t)ic, piece,
                                         b + nb * (size_t)oc, room, &used);
            assert_true(n >= 0 && used <= piece);
            if (n == 0 && used == 0)
                fail_msg("seed 0x%08x case %zu: no progress at %zu/%zu", SEED, k, done, frames);
            done += used;
            nb += (size_t)n;
        }
        if (nb != (size_t)na)
            fail_msg("seed 0x%08x case %zu: %zu frames in pieces vs %d in one", SEED, k, nb, na);
        for (size_t i = 0; i < nb * (size_t)oc; i++)
            if (fabsf(a[i] - b[i]) > 1e-6f)
                fail_msg("seed 0x%08x case %zu: sample %zu differs %g vs %g", SEED, k, i,
                         (double)a[i], (double)b[i]);
        free(a);
        free(b);
        free(in);
        gv_resampler_destroy(one);
        gv_resampler_destroy(many);
    }
}

static void test_invalid_args(void **state)
{
    (void)state;
    static const struct {
        int in_rate, in_ch, out_rate, out_ch, quality;
    } bad[] = {
        {7999, 1, 48000, 1, -1}, {48000, 1, 192001, 1, -1}, {0, 1, 48000, 1, -1},
        {48000, 0, 48000, 1, -1}, {48000, 3, 48000, 1, -1}, {48000, 1, 48000, -1, -1},
        {48000, 1, 44100, 1, -2}, {48000, 1, 44100, 1, 11},
    };
    gv_resampler *r = NULL;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = (gv_resampler *)&r; /* must come back NULL */
        int rc = gv_resampler_create(bad[i].in_rate, bad[i].in_ch, bad[i].out_rate,
                                     bad[i].out_ch, bad[i].quality, &r);
        if (rc != GV_EINVAL || r != NULL)
            fail_msg("case %zu accepted (rc %d)", i, rc);
    }
    assert_int_equal(gv_resampler_create(48000, 1, 44100, 1, -1, NULL), GV_EINVAL);

    float in[64] = {0}, out[128];
    size_t used = 99;
    assert_int_equal(gv_resampler_create(48000, 1, 44100, 1, 0, &r), GV_OK);
    assert_int_equal(gv_resampler_process(NULL, in, 64, out, 128, &used), GV_EINVAL);
    assert_int_equal(used, 0);
    assert_int_equal(gv_resampler_process(r, NULL, 64, out, 128, &used), GV_EINVAL);
    assert_int_equal(gv_resampler_process(r, in, 64, NULL, 128, &used), GV_EINVAL);
    assert_int_equal(gv_resampler_process(r, in, 64, out, 128, NULL), GV_EINVAL);
    /* Empty calls are legal and do nothing. */
    assert_int_equal(gv_resampler_process(r, NULL, 0, out, 128, &used), 0);
    assert_int_equal(gv_resampler_process(r, in, 64, NULL, 0, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(gv_resampler_max_out_frames(NULL, 100), 0);
    /* Huge counts neither overflow nor wrap. */
    size_t big = gv_resampler_max_out_frames(r, SIZE_MAX);
    assert_true(big < SIZE_MAX && big > SIZE_MAX / 48000 * 44100);
    gv_resampler_destroy(r);
    assert_int_equal(gv_resampler_create(8000, 1, 48000, 1, -1, &r), GV_OK);
    assert_true(gv_resampler_max_out_frames(r, SIZE_MAX) == SIZE_MAX);
    assert_int_equal(gv_resampler_max_out_frames(r, 160), 962);
    gv_resampler_destroy(r);
    gv_resampler_destroy(NULL);
}

int main(void)
{
    test_rng_seed(SEED);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_table),
        cmocka_unit_test(test_passthrough_exact),
        cmocka_unit_test(test_chunking_invariant),
        cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
