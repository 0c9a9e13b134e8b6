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

#include "audio/gv_denoise.h"
#include "gvoip/error.h"

#define RATE GV_CLEAN_RATE
#define STEP GV_CLEAN_STEP
#define DELAY GV_DENOISE_DELAY
#define PI 3.14159265358979323846
#define SEED 0x64656e6fu

/* Standard normal, Box-Muller on the seeded stream. */
static double gauss(void)
{
    double u = test_rng_uniform() + 1.0 / 33554432.0;
    double v = test_rng_uniform();
    return sqrt(-2.0 * log(u)) * cos(2.0 * PI * v);
}

/* White noise, or pink (Paul Kellet's filter of white noise). */
static void make_noise(float *x, size_t n, int pink)
{
    double b[7] = {0};
    for (size_t i = 0; i < n; i++) {
        double w = gauss();
        if (pink) {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            w = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
        }
        x[i] = (float)w;
    }
}

static double power(const float *x, size_t n)
{
    double p = 0.0;
    for (size_t i = 0; i < n; i++)
        p += (double)x[i] * x[i];
    return p / (double)n;
}

static void scale(float *x, size_t n, double rms)
{
    double g = rms / sqrt(power(x, n));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(x[i] * g);
}

/* Scale-invariant signal-to-distortion ratio of est against ref, in dB. */
static double si_sdr(const float *ref, const float *est, size_t n)
{
    double rr = 0.0, re = 0.0, target = 0.0, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        rr += (double)ref[i] * ref[i];
        re += (double)ref[i] * est[i];
    }
    for (size_t i = 0; i < n; i++) {
        double t = re / rr * ref[i];
        target += t * t;
        err += (est[i] - t) * (est[i] - t);
    }
    return 10.0 * log10(target / err);
}

/* Voiced speech stand-in: bursts of 200 to 400 ms of harmonics of a
 * fundamental gliding within 120..250 Hz, shaped by three formant
 * resonances and 20 ms fades, with 200 to 500 ms pauses between them.
 * active[i] says whether sample i lies in a burst. */
static void make_speech(float *x, char *active, size_t n)
{
    static const double formants[][3] = {
        {700, 1200, 2600}, {300, 2300, 3000}, {500, 900, 2400}, {400, 1900, 2550},
    };
    size_t i = (size_t)(0.3 * RATE);
    memset(x, 0, n * sizeof *x);
    memset(active, 0, n);
    for (int burst = 0; i < n; burst++) {
        size_t len = (size_t)((0.2 + 0.2 * test_rng_uniform()) * RATE);
        double f0a = 120.0 + 130.0 * test_rng_uniform(), f0b = 120.0 + 130.0 * test_rng_uniform();
        const double *fm = formants[burst % 4];
        double phase[40] = {0};
        size_t fade = (size_t)(0.02 * RATE);
        for (size_t t = 0; t < len && i + t < n; t++) {
            double f0 = f0a + (f0b - f0a) * (double)t / (double)len;
            double env = 1.0, s = 0.0;
            if (t < fade)
                env = 0.5 - 0.5 * cos(PI * (double)t / (double)fade);
            else if (len - t < fade)
                env = 0.5 - 0.5 * cos(PI * (double)(len - t) / (double)fade);
            for (int h = 1; h < 40 && h * f0 < 4500.0; h++) {
                double f = h * f0, a = 0.0;
                for (int m = 0; m < 3; m++)
                    a += 1.0 / (1.0 + pow((f - fm[m]) / (80.0 + 40.0 * m), 2.0)) / (1.0 + m);
                phase[h] += 2.0 * PI * f / RATE;
                s += a * sin(phase[h]);
            }
            x[i + t] = (float)(env * s);
            active[i + t] = 1;
        }
        i += len + (size_t)((0.2 + 0.3 * test_rng_uniform()) * RATE);
    }
}

/* Runs ns over n samples (a multiple of STEP) in place. speech_prob, if not
 * NULL, gets the probability after each step. */
static void run(gv_denoise *ns, float *x, size_t n, float *speech_prob)
{
    for (size_t s = 0; s < n / STEP; s++) {
        assert_int_equal(gv_denoise_process(ns, x + s * STEP, NULL), 0);
        if (speech_prob)
            speech_prob[s] = gv_denoise_speech_probability(ns);
    }
}

static gv_denoise *create_default(void)
{
    gv_denoise *ns = NULL;
    assert_int_equal(gv_denoise_create(NULL, &ns), 0);
    assert_non_null(ns);
    return ns;
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    gv_denoise_config cfg;
    gv_denoise *ns = (gv_denoise *)&cfg;
    float frame[STEP] = {0};

    assert_int_equal(gv_denoise_create(NULL, NULL), GV_EINVAL);
    gv_denoise_config_default(&cfg);
    cfg.max_reduction_db = 2.0f;
    assert_int_equal(gv_denoise_create(&cfg, &ns), GV_EINVAL);
    assert_null(ns);
    cfg.max_reduction_db = 61.0f;
    assert_int_equal(gv_denoise_create(&cfg, &ns), GV_EINVAL);
    cfg.max_reduction_db = NAN;
    assert_int_equal(gv_denoise_create(&cfg, &ns), GV_EINVAL);
    gv_denoise_config_default(&cfg);
    cfg.suppress_noise = 2;
    assert_int_equal(gv_denoise_create(&cfg, &ns), GV_EINVAL);
    gv_denoise_config_default(&cfg);
    cfg.rest = -1;
    assert_int_equal(gv_denoise_create(&cfg, &ns), GV_EINVAL);
    gv_denoise_config_default(&cfg);
    cfg.max_reduction_db = 3.0f;
    assert_int_equal(gv_denoise_create(&cfg, &ns), 0);
    gv_denoise_destroy(ns);
    cfg.max_reduction_db = 60.0f;
    assert_int_equal(gv_denoise_create(&cfg, &ns), 0);

    assert_int_equal(gv_denoise_process(NULL, frame, NULL), GV_EINVAL);
    assert_int_equal(gv_denoise_process(ns, NULL, frame), GV_EINVAL);
    assert_true(gv_denoise_speech_probability(NULL) == 0.0f);
    assert_int_equal(gv_denoise_rested_steps(NULL), 0);
    gv_denoise_config_default(NULL);
    gv_denoise_reset(NULL);
    gv_denoise_destroy(NULL);
    gv_denoise_destroy(ns);
}

/* With noise suppression off and no echo estimate the signal comes out
 * unchanged, exactly GV_DENOISE_DELAY samples late; an echo estimate of
 * silence leaves nothing to suppress either. */
static void test_delay_identity(void **state)
{
    (void)state;
    enum { N = RATE };
    gv_denoise_config cfg;
    gv_denoise *ns = NULL;
    float *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    float zeros[STEP] = {0};
    assert_non_null(in);
    assert_non_null(out);
    gv_denoise_config_default(&cfg);
    cfg.suppress_noise = 0;
    assert_int_equal(gv_denoise_create(&cfg, &ns), 0);
    for (int pass = 0; pass < 2; pass++) {
        test_rng_seed(SEED + (uint32_t)pass);
        make_noise(in, N, pass);
        scale(in, N, 0.3);
        memcpy(out, in, N * sizeof *in);
        gv_denoise_reset(ns);
        for (size_t s = 0; s < N / STEP; s++)
            assert_int_equal(gv_denoise_process(ns, out + s * STEP, pass ? zeros : NULL), 0);
        for (size_t i = 0; i < N; i++) {
            float want = i < DELAY ? 0.0f : in[i - DELAY];
            if (fabsf(out[i] - want) > 1e-5f)
                fail_msg("seed %#x pass %d sample %zu: %g, want %g", SEED + pass, pass, i,
                         (double)out[i], (double)want);
        }
    }
    gv_denoise_destroy(ns);
    free(in);
    free(out);
}

/* Stationary noise alone: once the estimate has settled (it starts from the
 * first 100 ms, so at once here), at least 15 dB less comes out. */
static void test_noise_only(void **state)
{
    (void)state;
    enum { N = 6 * RATE, SETTLE = 2 * RATE };
    float *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (int pink = 0; pink < 2; pink++) {
        gv_denoise *ns = create_default();
        test_rng_seed(SEED + 10 + (uint32_t)pink);
        make_noise(in, N, pink);
        scale(in, N, 0.01);
        memcpy(out, in, N * sizeof *in);
        run(ns, out, N, NULL);
        double drop = 10.0 * log10(power(in + SETTLE, N - SETTLE - DELAY) /
                                   power(out + SETTLE + DELAY, N - SETTLE - DELAY));
        print_message("%s noise: %.1f dB less\n", pink ? "pink" : "white", drop);
        if (drop < 15.0)
            fail_msg("seed %#x %s: only %.1f dB less", SEED + 10 + pink, pink ? "pink" : "white",
                     drop);
        gv_denoise_destroy(ns);
    }
    free(in);
    free(out);
}

/* Speech-like bursts in white and pink noise at 10 dB SNR: several dB of
 * SI-SDR gained, and the speech probability high in the bursts and low in
 * the pauses. */
static void test_speech_in_noise(void **state)
{
    (void)state;
    enum { N = 10 * RATE, SKIP = RATE };
    float *clean = malloc(N * sizeof *clean), *noise = malloc(N * sizeof *noise);
    float *x = malloc(N * sizeof *x);
    float *prob = malloc(N / STEP * sizeof *prob);
    char *active = malloc(N);
    assert_non_null(clean);
    assert_non_null(noise);
    assert_non_null(x);
    assert_non_null(prob);
    assert_non_null(active);
    for (int pink = 0; pink < 2; pink++) {
        uint32_t seed = SEED + 20 + (uint32_t)pink;
        gv_denoise *ns = create_default();
        test_rng_seed(seed);
        make_speech(clean, active, N);
        scale(clean, N, 0.05);
        make_noise(noise, N, pink);
        scale(noise, N, 0.05 / sqrt(10.0));
        for (size_t i = 0; i < N; i++)
            x[i] = clean[i] + noise[i];
        double before = si_sdr(clean + SKIP, x + SKIP, N - SKIP - DELAY);
        run(ns, x, N, prob);
        double after = si_sdr(clean + SKIP, x + SKIP + DELAY, N - SKIP - DELAY);

        /* A step's probability is about the analysis window: the last
         * GV_DENOISE_DELAY + STEP input samples. Judged only where the whole
         * window lies in a burst or in a pause. */
        double in_speech = 0.0, in_pause = 0.0;
        int n_speech = 0, n_pause = 0;
        for (size_t s = SKIP / STEP; s < N / STEP; s++) {
            size_t end = (s + 1) * STEP, start = end - (STEP + DELAY), inside = 0;
            for (size_t i = start; i < end; i++)
                inside += (size_t)active[i];
            if (inside == STEP + DELAY) {
                in_speech += prob[s];
                n_speech++;
            } else if (inside == 0) {
                in_pause += prob[s];
                n_pause++;
            }
        }
        in_speech /= n_speech;
        in_pause /= n_pause;
        print_message("%s: SI-SDR %.1f -> %.1f dB; speech probability %.2f in bursts, %.2f in "
                      "pauses\n",
                      pink ? "pink" : "white", before, after, in_speech, in_pause);
        if (after - before < 4.0)
            fail_msg("seed %#x: SI-SDR %.2f -> %.2f", seed, before, after);
        if (in_speech < 0.8 || in_pause > 0.2)
            fail_msg("seed %#x: speech probability %.2f in bursts, %.2f in pauses", seed,
                     in_speech, in_pause);
        gv_denoise_destroy(ns);
    }
    free(clean);
    free(noise);
    free(x);
    free(prob);
    free(active);
}

/* The noise gets 10 dB louder: within 3 s the reduction is back to at
 * least 15 dB. */
static void test_noise_step(void **state)
{
    (void)state;
    enum { N = 10 * RATE, AT = 4 * RATE };
    float *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    gv_denoise *ns = create_default();
    test_rng_seed(SEED + 30);
    make_noise(in, N, 1);
    scale(in, N, 0.005);
    for (size_t i = AT; i < N; i++)
        in[i] *= (float)sqrt(10.0);
    memcpy(out, in, N * sizeof *in);
    run(ns, out, N, NULL);
    double drop[7];
    for (int s = 0; s < 6; s++) {
        size_t from = AT + (size_t)s * RATE;
        drop[s] = 10.0 * log10(power(in + from, RATE - DELAY) / power(out + from + DELAY, RATE - DELAY));
    }
    print_message("after the step, per second: %.1f %.1f %.1f %.1f %.1f %.1f dB less\n", drop[0],
                  drop[1], drop[2], drop[3], drop[4], drop[5]);
    for (int s = 3; s < 6; s++)
        if (drop[s] < 15.0)
            fail_msg("seed %#x: second %d after the step only %.1f dB less", SEED + 30, s, drop[s]);
    gv_denoise_destroy(ns);
    free(in);
    free(out);
}

/* Resting: thirty seconds of a room's noise, then speech over it. With
 * rest (the default) most noise steps after the first seconds are only
 * scaled, and the output matches that of an instance analysing every step:
 * the noise left in the pauses within 1 dB, the speech's SI-SDR within
 * 0.3 dB, the first word's start within 1 dB, also for speech at -5 dB SNR
 * (it shows in the speech band first). */
typedef struct rest_case {
    int pink;
    double snr_db;
} rest_case;

static const rest_case rest_cases[] = {{0, 10.0}, {1, 10.0}, {1, 0.0}, {1, -5.0}};

static void test_resting(void **state)
{
    (void)state;
    enum { QUIET = 30 * RATE, N = 36 * RATE, FROM = 10 * RATE };
    float *clean = calloc(N, sizeof *clean), *noise = malloc(N * sizeof *noise);
    float *rest = malloc(N * sizeof *rest), *full = malloc(N * sizeof *full);
    char *active = malloc(N);
    assert_non_null(clean);
    assert_non_null(noise);
    assert_non_null(rest);
    assert_non_null(full);
    assert_non_null(active);
    for (size_t c = 0; c < sizeof rest_cases / sizeof rest_cases[0]; c++) {
        const rest_case *rc = &rest_cases[c];
        uint32_t seed = SEED + 50 + (uint32_t)c;
        test_rng_seed(seed);
        memset(clean, 0, N * sizeof *clean);
        make_speech(clean + QUIET, active + QUIET, N - QUIET);
        memset(active, 0, QUIET);
        scale(clean + QUIET, N - QUIET, 0.02);
        make_noise(noise, N, rc->pink);
        scale(noise, N, 0.02 / pow(10.0, rc->snr_db / 20.0));
        size_t onset = QUIET;
        while (!active[onset])
            onset++;
        for (size_t i = 0; i < N; i++)
            rest[i] = full[i] = clean[i] + noise[i];

        gv_denoise_config cfg;
        gv_denoise_config_default(&cfg);
        assert_int_equal(cfg.rest, 1);
        gv_denoise *ns = create_default();
        cfg.rest = 0;
        gv_denoise *ref = NULL;
        assert_int_equal(gv_denoise_create(&cfg, &ref), 0);
        run(ns, rest, FROM, NULL);
        uint64_t rested = gv_denoise_rested_steps(ns);
        run(ns, rest + FROM, QUIET - FROM, NULL);
        rested = gv_denoise_rested_steps(ns) - rested;
        run(ns, rest + QUIET, N - QUIET, NULL);
        run(ref, full, N, NULL);
        assert_int_equal(gv_denoise_rested_steps(ref), 0);

        double share = (double)rested / ((QUIET - FROM) / STEP);
        double pause_db = 10.0 * log10(power(rest + FROM + DELAY, QUIET - FROM - DELAY) /
                                       power(full + FROM + DELAY, QUIET - FROM - DELAY));
        double sdr_rest = si_sdr(clean + QUIET, rest + QUIET + DELAY, N - QUIET - DELAY);
        double sdr_full = si_sdr(clean + QUIET, full + QUIET + DELAY, N - QUIET - DELAY);
        size_t w = RATE / 20;
        double onset_db = 10.0 * log10(power(rest + onset + DELAY, w) / power(full + onset + DELAY, w));
        print_message("%s %+.0f dB: %.0f%% of the quiet from 10 s on rested; pauses %+.2f dB, SI-SDR %.2f against %.2f dB, "
                      "first 50 ms of speech %+.2f dB\n",
                      rc->pink ? "pink" : "white", rc->snr_db, 100.0 * share, pause_db, sdr_rest, sdr_full,
                      onset_db);
        if (share < 0.7 || fabs(pause_db) > 1.5 || fabs(sdr_rest - sdr_full) > 0.3 || fabs(onset_db) > 1.0)
            fail_msg("seed %#x, %s at %.0f dB: rested %.2f, pauses %+.2f dB, SI-SDR %.2f against %.2f, onset %+.2f dB",
                     seed, rc->pink ? "pink" : "white", rc->snr_db, share, pause_db, sdr_rest, sdr_full, onset_db);
        gv_denoise_destroy(ns);
        gv_denoise_destroy(ref);
    }
    free(clean);
    free(noise);
    free(rest);
    free(full);
    free(active);
}

/* Silence, full scale and the denormal range: nothing that is not a
 * number comes out, and nothing louder than went in. */
static void test_extreme_inputs(void **state)
{
    (void)state;
    enum { N = 3 * RATE };
    float *x = malloc(N * sizeof *x);
    assert_non_null(x);
    for (int kind = 0; kind < 4; kind++) {
        gv_denoise *ns = create_default();
        test_rng_seed(SEED + 40 + (uint32_t)kind);
        for (size_t i = 0; i < N; i++) {
            double r = test_rng_uniform() * 2.0 - 1.0;
            switch (kind) {
            case 0: x[i] = 0.0f; break;
            case 1: x[i] = r < 0.0 ? -1.0f : 1.0f; break;
            case 2: x[i] = (float)(r * 1e-38); break;
            default: x[i] = (i / 4800) % 2 ? (float)sin(0.3 * (double)i) : 0.0f; break;
            }
        }
        for (size_t s = 0; s < N / STEP; s++) {
            assert_int_equal(gv_denoise_process(ns, x + s * STEP, NULL), 0);
            float p = gv_denoise_speech_probability(ns);
            if (!(p >= 0.0f && p <= 1.0f))
                fail_msg("kind %d step %zu: speech probability %g", kind, s, (double)p);
        }
        for (size_t i = 0; i < N; i++)
            if (!isfinite(x[i]) || fabsf(x[i]) > 2.0f)
                fail_msg("kind %d sample %zu: %g", kind, i, (double)x[i]);
        gv_denoise_destroy(ns);
    }
    free(x);
}

/* After reset the output is that of a new suppressor. */
static void test_reset(void **state)
{
    (void)state;
    enum { N = 2 * RATE };
    float *in = malloc(N * sizeof *in), *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    assert_non_null(in);
    assert_non_null(a);
    assert_non_null(b);
    test_rng_seed(SEED + 50);
    make_noise(in, N, 0);
    scale(in, N, 0.02);
    gv_denoise *fresh = create_default(), *used = create_default();
    memcpy(b, in, N * sizeof *in);
    for (size_t i = 0; i < N; i++)
        b[i] = -4.0f * b[i];
    run(used, b, N, NULL);
    gv_denoise_reset(used);
    memcpy(a, in, N * sizeof *in);
    memcpy(b, in, N * sizeof *in);
    run(fresh, a, N, NULL);
    run(used, b, N, NULL);
    assert_memory_equal(a, b, N * sizeof *a);
    gv_denoise_destroy(fresh);
    gv_denoise_destroy(used);
    free(in);
    free(a);
    free(b);
}

/* Babble of TALKERS speech stand-ins and nothing else: hardly a step looks
 * like a pause, so the noise is not told from a talker and is turned down
 * by a couple of dB at most, in every 100 ms once the first seconds have
 * shown it (the full depth carved into the talker in babble and lost
 * intelligibility). */
static void test_babble_shallow(void **state)
{
    (void)state;
    enum { N = 10 * RATE, SETTLE = 4 * RATE, BLOCK = RATE / 10, TALKERS = 6 };
    const double most_db = 4.0;
    float *in = calloc(N, sizeof *in), *one = malloc(N * sizeof *one), *out = malloc(N * sizeof *out);
    char *active = malloc(N);
    assert_non_null(in);
    assert_non_null(one);
    assert_non_null(out);
    assert_non_null(active);
    test_rng_seed(SEED + 70);
    for (int v = 0; v < TALKERS; v++) {
        /* Each talker starts at its own point of its speech. */
        size_t at = (size_t)(test_rng_uniform() * RATE);
        make_speech(one, active, N);
        scale(one, N, 0.01);
        for (size_t i = 0; i < N; i++)
            in[i] += one[(i + at) % N];
    }
    memcpy(out, in, N * sizeof *in);
    gv_denoise *ns = create_default();
    run(ns, out, N, NULL);
    double deepest = 0.0;
    for (size_t i = SETTLE; i + BLOCK + DELAY <= N; i += BLOCK) {
        double drop = 10.0 * log10(power(in + i, BLOCK) / power(out + i + DELAY, BLOCK));
        deepest = fmax(deepest, drop);
    }
    print_message("babble: at most %.1f dB less in 100 ms\n", deepest);
    if (deepest > most_db)
        fail_msg("seed %#x: %.1f dB less in 100 ms of babble", SEED + 70, deepest);
    gv_denoise_destroy(ns);
    free(in);
    free(one);
    free(out);
    free(active);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_arguments), cmocka_unit_test(test_delay_identity),
        cmocka_unit_test(test_noise_only),        cmocka_unit_test(test_speech_in_noise),
        cmocka_unit_test(test_noise_step),        cmocka_unit_test(test_extreme_inputs),
        cmocka_unit_test(test_reset),            cmocka_unit_test(test_resting),
        cmocka_unit_test(test_babble_shallow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
