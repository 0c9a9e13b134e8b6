#include <float.h>
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

#include "audio/gv_agc.h"
#include "audio/gv_fft.h"
#include "gvoip/error.h"

#define PI 3.14159265358979323846
#define RATE GV_CLEAN_RATE
#define STEP GV_CLEAN_STEP
#define SEED 0x61676375u
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SEC(x) ((size_t)((x) * RATE))
#define SCENE_S 10.0
#define NOISE_DB (-70.0)
#define PINK_N ((size_t)1 << 19) /* covers SCENE_S */

enum { PAUSE, SPEECH, MIXED };
enum { WHITE, PINK };

/* A test signal and, per 10 ms step, what the test knows it to be. */
typedef struct scene {
    size_t n, steps;
    float *in;
    unsigned char *label;  /* PAUSE, SPEECH (wholly inside a burst) or MIXED */
    float *prob;           /* what a suppressor would say: 1 if the step touches a burst */
    size_t change_at;      /* first sample of the first burst at the second level */
} scene;

static double db_to_amp(double db)
{
    return pow(10.0, db / 20.0);
}

static double gauss(void)
{
    double sum = test_rng_uniform() + test_rng_uniform() + test_rng_uniform() + test_rng_uniform();
    return (sum - 2.0) * sqrt(3.0);
}

/* White noise shaped to 1/f power from 20 Hz by the FFT, at rms level_db. */
static void add_pink(float *buf, size_t n, double level_db)
{
    gv_fft *fft = NULL;
    double *re = malloc(PINK_N * sizeof(double)), *im = calloc(PINK_N, sizeof(double));
    assert_non_null(re);
    assert_non_null(im);
    assert_true(n <= PINK_N);
    assert_int_equal(gv_fft_create(PINK_N, &fft), GV_OK);
    for (size_t i = 0; i < PINK_N; i++)
        re[i] = gauss();
    assert_int_equal(gv_fft_forward(fft, re, im), GV_OK);
    for (size_t k = 0; k < PINK_N; k++) {
        size_t f = k < PINK_N - k ? k : PINK_N - k;
        double hz = (double)f * RATE / (double)PINK_N;
        double s = hz >= 20.0 ? 1.0 / sqrt(hz) : 0.0; /* a microphone's high-pass */
        re[k] *= s;
        im[k] *= s;
    }
    assert_int_equal(gv_fft_inverse(fft, re, im), GV_OK);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += re[i] * re[i];
    double scale = db_to_amp(level_db) / sqrt(sum / (double)n);
    for (size_t i = 0; i < n; i++)
        buf[i] += (float)(re[i] * scale);
    gv_fft_destroy(fft);
    free(im);
    free(re);
}

static void add_white(float *buf, size_t n, double level_db)
{
    double rms = db_to_amp(level_db);
    for (size_t i = 0; i < n; i++)
        buf[i] += (float)(rms * gauss());
}

/* A harmonic tone: ten harmonics of a 100-250 Hz fundamental at 1/k with
 * random phases, 5 ms raised-cosine edges, rms level_db over its length. */
static void add_burst(float *buf, size_t len, double level_db)
{
    double f0 = 100.0 + 150.0 * test_rng_uniform(), ph[10], sum = 0.0;
    float *tmp = malloc(len * sizeof(float));
    assert_non_null(tmp);
    for (int k = 0; k < 10; k++)
        ph[k] = 2.0 * PI * test_rng_uniform();
    for (size_t i = 0; i < len; i++) {
        double v = 0.0, t = (double)i / RATE;
        for (int k = 1; k <= 10; k++)
            v += sin(2.0 * PI * f0 * k * t + ph[k - 1]) / k;
        size_t edge = i < len - 1 - i ? i : len - 1 - i;
        if (edge < SEC(0.005))
            v *= 0.5 - 0.5 * cos(PI * (double)edge / (double)SEC(0.005));
        tmp[i] = (float)v;
        sum += v * v;
    }
    double scale = db_to_amp(level_db) / sqrt(sum / (double)len);
    for (size_t i = 0; i < len; i++)
        buf[i] += (float)(tmp[i] * scale);
    free(tmp);
}

/* SCENE_S of noise with bursts of 0.3-1.5 s and pauses of 0.2-0.8 s,
 * starting with a pause; bursts starting from change_s are at level2_db. */
static void scene_make(scene *s, uint32_t seed, double level_db, double level2_db, double change_s,
                       int noise)
{
    test_rng_seed(seed);
    s->n = SEC(SCENE_S);
    s->steps = s->n / STEP;
    s->in = calloc(s->n, sizeof(float));
    unsigned char *in_burst = calloc(s->n, 1);
    s->label = malloc(s->steps);
    s->prob = malloc(s->steps * sizeof(float));
    assert_non_null(s->in);
    assert_non_null(in_burst);
    assert_non_null(s->label);
    assert_non_null(s->prob);
    s->change_at = s->n;
    size_t t = SEC(0.2 + 0.6 * test_rng_uniform());
    while (t < s->n) {
        size_t len = SEC(0.3 + 1.2 * test_rng_uniform());
        if (len > s->n - t)
            len = s->n - t;
        int second = (double)t >= change_s * RATE;
        if (second && s->change_at == s->n)
            s->change_at = t;
        add_burst(s->in + t, len, second ? level2_db : level_db);
        memset(in_burst + t, 1, len);
        t += len + SEC(0.2 + 0.6 * test_rng_uniform());
    }
    if (noise == PINK)
        add_pink(s->in, s->n, NOISE_DB);
    else
        add_white(s->in, s->n, NOISE_DB);
    for (size_t k = 0; k < s->steps; k++) {
        size_t inside = 0;
        for (size_t i = 0; i < STEP; i++)
            inside += in_burst[k * STEP + i];
        s->label[k] = inside == STEP ? SPEECH : (inside == 0 ? PAUSE : MIXED);
        s->prob[k] = inside ? 1.0f : 0.0f;
    }
    free(in_burst);
}

static void scene_free(scene *s)
{
    free(s->in);
    free(s->label);
    free(s->prob);
}

/* Runs a gv_agc (cfg NULL: the defaults) over s->in into out, step by
 * step; the gain per step into gains when not NULL. */
static void run_cfg(const scene *s, const gv_agc_config *cfg, int own_detector, float *out,
                    float *gains)
{
    gv_agc *agc = NULL;
    assert_int_equal(gv_agc_create(cfg, &agc), GV_OK);
    memcpy(out, s->in, s->n * sizeof(float));
    for (size_t k = 0; k < s->steps; k++) {
        assert_int_equal(gv_agc_process(agc, out + k * STEP, own_detector ? -1.0f : s->prob[k]),
                         GV_OK);
        if (gains)
            gains[k] = gv_agc_gain_db(agc);
    }
    gv_agc_destroy(agc);
}

static void run(const scene *s, int own_detector, float *out, float *gains)
{
    run_cfg(s, NULL, own_detector, out, gains);
}

static double step_power(const float *buf, size_t k)
{
    double sum = 0.0;
    for (size_t i = 0; i < STEP; i++)
        sum += (double)buf[k * STEP + i] * buf[k * STEP + i];
    return sum / STEP;
}

/* The active level: the rms over the speech steps in [from, to). */
static double active_db(const scene *s, const float *buf, size_t from, size_t to)
{
    double sum = 0.0;
    size_t count = 0;
    for (size_t k = from; k < to && k < s->steps; k++)
        if (s->label[k] == SPEECH) {
            sum += step_power(buf, k);
            count++;
        }
    assert_true(count > 0);
    return 10.0 * log10(sum / (double)count);
}

/* Output over input noise power in the pauses, dB: the worst and the
 * least of the single pauses, and all of them together. A pause cut short
 * by the end of the scene does not count. */
static void pause_rise(const scene *s, const float *out, double *worst, double *overall,
                       double *least)
{
    double all_in = 0.0, all_out = 0.0, p_in = 0.0, p_out = 0.0;
    *worst = -INFINITY;
    *least = INFINITY;
    for (size_t k = 0; k < s->steps; k++) {
        if (s->label[k] == PAUSE) {
            p_in += step_power(s->in, k);
            p_out += step_power(out, k);
            continue;
        }
        if (p_in > 0.0) {
            double r = 10.0 * log10(p_out / p_in);
            *worst = fmax(*worst, r);
            *least = fmin(*least, r);
            all_in += p_in;
            all_out += p_out;
        }
        p_in = p_out = 0.0;
    }
    *overall = 10.0 * log10(all_out / all_in);
}

static float peak_of(const float *buf, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(buf[i]));
    return m;
}

/* The time from which the output's active level over every 100 ms of
 * speech (consecutive speech steps, in tens) stays within 3 dB of target,
 * in seconds (SCENE_S if never). */
static double settle_s(const scene *s, const float *out, size_t from, double target)
{
    double settled = SCENE_S;
    size_t k = from;
    for (;;) {
        while (k < s->steps && s->label[k] != SPEECH)
            k++;
        size_t start = k;
        while (k < s->steps && k < start + 10 && s->label[k] == SPEECH)
            k++;
        if (start == k)
            break;
        double lvl = active_db(s, out, start, k);
        if (fabs(lvl - target) > 3.0)
            settled = SCENE_S;
        else if (settled == SCENE_S)
            settled = (double)start * STEP / RATE;
    }
    return settled;
}

/* The gain on the last speech step. */
static float speech_gain(const scene *s, const float *gains)
{
    for (size_t k = s->steps; k-- > 0;)
        if (s->label[k] == SPEECH)
            return gains[k];
    return 0.0f;
}

static void test_arguments(void **state)
{
    (void)state;
    gv_agc_config cfg, def;
    gv_agc *agc = NULL;
    float frame[STEP] = {0};

    gv_agc_config_default(&def);
    gv_agc_config_default(NULL);
    assert_true(def.target_dbfs == -20.0f && def.max_gain_db == 30.0f && def.limit_dbfs == -1.0f);
    assert_int_equal(gv_agc_create(NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_agc_create(&def, NULL), GV_EINVAL);

    static const struct {
        float target, max_gain, limit;
        int ok;
    } cases[] = {
        {-20.0f, 30.0f, -1.0f, 1},  {-40.0f, 0.0f, -20.0f, 1}, {-3.0f, 60.0f, 0.0f, 1},
        {-20.0f, 30.0f, -20.0f, 1}, {-40.1f, 30.0f, -1.0f, 0}, {-2.9f, 30.0f, -1.0f, 0},
        {-20.0f, -0.1f, -1.0f, 0},  {-20.0f, 60.1f, -1.0f, 0}, {-20.0f, 30.0f, -20.1f, 0},
        {-20.0f, 30.0f, 0.1f, 0},   {-10.0f, 30.0f, -12.0f, 0}, {NAN, 30.0f, -1.0f, 0},
        {-20.0f, INFINITY, -1.0f, 0}, {-20.0f, 30.0f, NAN, 0},
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        cfg.target_dbfs = cases[i].target;
        cfg.max_gain_db = cases[i].max_gain;
        cfg.limit_dbfs = cases[i].limit;
        agc = (gv_agc *)&cfg; /* must be overwritten */
        int rc = gv_agc_create(&cfg, &agc);
        if (cases[i].ok != (rc == GV_OK))
            fail_msg("case %zu: rc %d", i, rc);
        if (rc == GV_OK) {
            assert_non_null(agc);
            gv_agc_destroy(agc);
        } else {
            assert_int_equal(rc, GV_EINVAL);
            assert_null(agc);
        }
    }

    assert_int_equal(gv_agc_create(NULL, &agc), GV_OK);
    assert_int_equal(gv_agc_process(NULL, frame, 0.5f), GV_EINVAL);
    assert_int_equal(gv_agc_process(agc, NULL, 0.5f), GV_EINVAL);
    frame[0] = 0.25f;
    assert_int_equal(gv_agc_process(agc, frame, NAN), GV_EINVAL);
    assert_int_equal(gv_agc_process(agc, frame, 1.01f), GV_EINVAL);
    assert_true(frame[0] == 0.25f); /* untouched on error */
    assert_int_equal(gv_agc_process(agc, frame, 1.0f), GV_OK);
    assert_int_equal(gv_agc_process(agc, frame, 0.0f), GV_OK);
    assert_int_equal(gv_agc_process(agc, frame, -1.0f), GV_OK);
    assert_int_equal(gv_agc_process(agc, frame, -INFINITY), GV_OK);
    assert_true(gv_agc_gain_db(NULL) == 0.0f);
    gv_agc_reset(NULL);
    gv_agc_reset(agc);
    assert_true(gv_agc_gain_db(agc) == 0.0f);
    gv_agc_destroy(agc);
    gv_agc_destroy(NULL);
}

/* The table: speech at -40, -20 and -6 dBFS over -70 dBFS noise,
 * with the suppressor's probability and with the stage's own detector. */
static void test_levels_reach_target(void **state)
{
    (void)state;
    static const double levels[] = {-40.0, -20.0, -6.0};
    static const int noises[] = {WHITE, PINK};
    const float limit = (float)pow(10.0, -1.0 / 20.0);
    float *out = malloc(SEC(SCENE_S) * sizeof(float));
    float *gains = malloc(SEC(SCENE_S) / STEP * sizeof(float));
    assert_non_null(out);
    assert_non_null(gains);

    for (size_t li = 0; li < NELEM(levels); li++)
        for (size_t ni = 0; ni < NELEM(noises); ni++) {
            uint32_t seed = SEED + (uint32_t)(li * 2 + ni);
            scene s;
            scene_make(&s, seed, levels[li], levels[li], SCENE_S, noises[ni]);
            double in_active = active_db(&s, s.in, 0, s.steps);
            if (fabs(in_active - levels[li]) > 0.5)
                fail_msg("seed 0x%08x: input active level %.2f", seed, in_active);
            for (int own = 0; own <= 1; own++) {
                run(&s, own, out, gains);
                double lvl = active_db(&s, out, SEC(3.0) / STEP, s.steps);
                double worst, overall, least;
                pause_rise(&s, out, &worst, &overall, &least);
                double settled = settle_s(&s, out, 0, -20.0);
                float peak = peak_of(out, s.n);
                print_message("%6.1f dBFS %s %s: active after 3 s %6.2f dBFS, within 3 dB from "
                              "%.2f s, pause noise %+.2f dB (worst pause %+.2f, least %+.2f), "
                              "peak %.2f dBFS, gain %+.1f dB\n",
                              levels[li], noises[ni] == PINK ? "pink " : "white",
                              own ? "own detector" : "probability ", lvl, settled, overall, worst,
                              least, 20.0 * log10(peak), (double)speech_gain(&s, gains));
                if (fabs(lvl + 20.0) > 3.0 || settled > 3.0)
                    fail_msg("seed 0x%08x own %d: active %.2f dBFS, settled at %.2f s", seed, own,
                             lvl, settled);
                if (worst > 3.0)
                    fail_msg("seed 0x%08x own %d: pause noise up %.2f dB", seed, own, worst);
                /* Never gated: pauses keep the speech gain when it is below
                 * unity, else at most a few dB under the input. */
                double floor_db = fmin(0.0, -20.0 - levels[li]) - 3.0;
                if (least < floor_db)
                    fail_msg("seed 0x%08x own %d: pause noise down %.2f dB", seed, own, least);
                if (!(peak <= limit))
                    fail_msg("seed 0x%08x own %d: peak %.6f", seed, own, (double)peak);
                /* No breathing: the gain holds still through every pause. */
                for (size_t k = 1; k < s.steps; k++)
                    if (s.label[k] == PAUSE && s.label[k - 1] == PAUSE && gains[k] != gains[k - 1])
                        fail_msg("seed 0x%08x own %d: gain moved in a pause at step %zu", seed, own,
                                 k);
            }
            scene_free(&s);
        }
    free(gains);
    free(out);
}

/* Other targets, and a cap on the gain that quiet speech cannot reach the
 * target under. */
static void test_config_respected(void **state)
{
    (void)state;
    static const struct {
        float target, max_gain;
        double level, expect;
    } cases[] = {
        {-20.0f, 10.0f, -40.0, -30.0},
        {-30.0f, 30.0f, -20.0, -30.0},
        {-12.0f, 30.0f, -30.0, -12.0},
    };
    float *out = malloc(SEC(SCENE_S) * sizeof(float));
    float *gains = malloc(SEC(SCENE_S) / STEP * sizeof(float));
    assert_non_null(out);
    assert_non_null(gains);
    for (size_t c = 0; c < NELEM(cases); c++) {
        uint32_t seed = SEED + 300 + (uint32_t)c;
        gv_agc_config cfg;
        scene s;
        gv_agc_config_default(&cfg);
        cfg.target_dbfs = cases[c].target;
        cfg.max_gain_db = cases[c].max_gain;
        scene_make(&s, seed, cases[c].level, cases[c].level, SCENE_S, WHITE);
        for (int own = 0; own <= 1; own++) {
            run_cfg(&s, &cfg, own, out, gains);
            double lvl = active_db(&s, out, SEC(3.0) / STEP, s.steps);
            float top = -INFINITY;
            for (size_t k = 0; k < s.steps; k++)
                top = fmaxf(top, gains[k]);
            print_message("target %.0f, max gain %.0f, speech at %.0f %s: active after 3 s "
                          "%.2f dBFS, highest gain %+.2f dB\n",
                          (double)cfg.target_dbfs, (double)cfg.max_gain_db, cases[c].level,
                          own ? "own detector" : "probability ", lvl, (double)top);
            if (fabs(lvl - cases[c].expect) > 1.0 || top > cfg.max_gain_db)
                fail_msg("seed 0x%08x own %d: active %.2f dBFS, highest gain %.2f dB", seed, own,
                         lvl, (double)top);
        }
        scene_free(&s);
    }
    free(gains);
    free(out);
}

/* The talker steps back: -20 then -35 dBFS (and the reverse). */
static void test_level_change_followed(void **state)
{
    (void)state;
    static const struct {
        double from, to;
    } cases[] = {{-20.0, -35.0}, {-35.0, -20.0}};
    float *out = malloc(SEC(SCENE_S) * sizeof(float));
    assert_non_null(out);
    for (size_t c = 0; c < NELEM(cases); c++) {
        uint32_t seed = SEED + 100 + (uint32_t)c;
        scene s;
        scene_make(&s, seed, cases[c].from, cases[c].to, 3.0, WHITE);
        assert_true(s.change_at + SEC(4.0) < s.n);
        size_t change = s.change_at / STEP;
        for (int own = 0; own <= 1; own++) {
            run(&s, own, out, NULL);
            double before = active_db(&s, out, change - SEC(1.0) / STEP, change);
            double after = active_db(&s, out, change + SEC(3.0) / STEP, s.steps);
            double settled = settle_s(&s, out, change, -20.0) - (double)s.change_at / RATE;
            print_message("%.0f -> %.0f dBFS at %.2f s %s: before %.2f, from 3 s after %.2f dBFS, "
                          "within 3 dB %.2f s after\n",
                          cases[c].from, cases[c].to, (double)s.change_at / RATE,
                          own ? "own detector" : "probability ", before, after, settled);
            if (fabs(after + 20.0) > 3.0 || settled > 3.0)
                fail_msg("seed 0x%08x own %d: after %.2f dBFS, settled %.2f s", seed, own, after,
                         settled);
        }
        scene_free(&s);
    }
    free(out);
}

/* Quiet speech raises the gain by 20 dB; then a full-scale square wave and
 * a shout 30 dB louder arrive at once. No sample passes the limit, also
 * with a lower one, and the shout is brought down to the target. */
static void test_never_beyond_limit(void **state)
{
    (void)state;
    static const float limits[] = {-1.0f, -6.0f};
    const size_t n = SEC(8.0), sq_at = SEC(3.0), sq_len = SEC(0.5), shout_at = SEC(5.0),
                 shout_len = SEC(1.5);
    float *in = calloc(n, sizeof(float)), *out = malloc(n * sizeof(float));
    assert_non_null(in);
    assert_non_null(out);
    test_rng_seed(SEED + 200);
    add_white(in, n, NOISE_DB);
    for (size_t t = SEC(0.3); t + SEC(1.0) < sq_at; t += SEC(1.0))
        add_burst(in + t, SEC(0.7), -40.0);
    for (size_t i = 0; i < sq_len; i++)
        in[sq_at + i] = (i / 120) % 2 ? -1.0f : 1.0f; /* 200 Hz */
    add_burst(in + sq_at + sq_len + SEC(0.3), SEC(1.0), -40.0);
    add_burst(in + shout_at, shout_len, -10.0);

    for (size_t li = 0; li < NELEM(limits); li++)
        for (int own = 0; own <= 1; own++) {
            gv_agc_config cfg;
            gv_agc *agc = NULL;
            gv_agc_config_default(&cfg);
            cfg.limit_dbfs = limits[li];
            const float limit = (float)pow(10.0, cfg.limit_dbfs / 20.0);
            assert_int_equal(gv_agc_create(&cfg, &agc), GV_OK);
            memcpy(out, in, n * sizeof(float));
            float gain_before = 0.0f;
            for (size_t k = 0; k < n / STEP; k++) {
                size_t t = k * STEP;
                float p = own ? -1.0f : (step_power(in, k) > 1e-6 ? 1.0f : 0.0f);
                assert_int_equal(gv_agc_process(agc, out + t, p), GV_OK);
                if (t < sq_at)
                    gain_before = fmaxf(gain_before, gv_agc_gain_db(agc));
            }
            gv_agc_destroy(agc);
            for (size_t i = 0; i < n; i++)
                if (!(fabsf(out[i]) <= limit))
                    fail_msg("seed 0x%08x limit %.0f own %d: sample %zu = %g", SEED + 200,
                             (double)limits[li], own, i, (double)out[i]);
            double sum = 0.0;
            for (size_t i = shout_at + shout_len / 2; i < shout_at + shout_len; i++)
                sum += (double)out[i] * out[i];
            double shout_db = 10.0 * log10(sum / (double)(shout_len / 2));
            float sq_peak = peak_of(out + sq_at, sq_len);
            print_message("limit %.0f dBFS %s: gain before %+.1f dB, square peak %.2f dBFS, shout "
                          "second half %.2f dBFS\n",
                          (double)limits[li], own ? "own detector" : "probability ",
                          (double)gain_before, 20.0 * log10(sq_peak), shout_db);
            assert_true(gain_before > 15.0f); /* the test really is loud */
            assert_true(sq_peak > 0.9f * limit); /* limited, not silenced */
            if (fabs(shout_db + 20.0) > 3.0)
                fail_msg("seed 0x%08x own %d: shout at %.2f dBFS", SEED + 200, own, shout_db);
        }
    free(out);
    free(in);
}

/* Digital silence, denormals and non-finite samples: finite output, no
 * gain out of nothing. */
static void test_silence_and_garbage(void **state)
{
    (void)state;
    float frame[STEP];
    for (int own = 0; own <= 1; own++) {
        gv_agc *agc = NULL;
        assert_int_equal(gv_agc_create(NULL, &agc), GV_OK);
        for (int k = 0; k < 300; k++) {
            memset(frame, 0, sizeof frame);
            assert_int_equal(gv_agc_process(agc, frame, own ? -1.0f : 1.0f), GV_OK);
            for (int i = 0; i < STEP; i++)
                assert_true(frame[i] == 0.0f);
            assert_true(isfinite(gv_agc_gain_db(agc)));
        }
        for (int k = 0; k < 300; k++) {
            for (int i = 0; i < STEP; i++)
                frame[i] = (i % 2 ? -1.0f : 1.0f) * 1e-40f;
            assert_int_equal(gv_agc_process(agc, frame, own ? -1.0f : 1.0f), GV_OK);
            for (int i = 0; i < STEP; i++)
                assert_true(fabsf(frame[i]) <= 1e-38f);
        }
        assert_true(gv_agc_gain_db(agc) == 0.0f);
        for (int k = 0; k < 50; k++) {
            for (int i = 0; i < STEP; i++)
                frame[i] = 0.01f * (float)sin(2.0 * PI * 200.0 * i / RATE);
            frame[k] = NAN;
            frame[k + 1] = INFINITY;
            frame[k + 2] = -INFINITY;
            assert_int_equal(gv_agc_process(agc, frame, own ? -1.0f : 1.0f), GV_OK);
            for (int i = 0; i < STEP; i++)
                assert_true(isfinite(frame[i]) && fabsf(frame[i]) < 1.0f);
            assert_true(frame[k] == 0.0f);
        }
        assert_true(isfinite(gv_agc_gain_db(agc)) && gv_agc_gain_db(agc) > 0.0f);
        /* The largest floats, at a gain above unity. */
        for (int i = 0; i < STEP; i++)
            frame[i] = i % 2 ? -FLT_MAX : FLT_MAX;
        assert_int_equal(gv_agc_process(agc, frame, own ? -1.0f : 1.0f), GV_OK);
        for (int i = 0; i < STEP; i++)
            assert_true(fabsf(frame[i]) <= 1.0f);
        gv_agc_destroy(agc);
    }
}

/* A steady 137 Hz tone (not a whole number of periods per step, so the
 * steps start at all phases) at -40 dBFS with the suppressor switching
 * between speech (+20 dB) and pause (0 dB): the gain ramps, it never
 * jumps, and sits still in the pauses. */
static void test_gain_changes_are_ramped(void **state)
{
    (void)state;
    const double amp = db_to_amp(-40.0) * sqrt(2.0);
    gv_agc *agc = NULL;
    float frame[STEP], prev = 0.0f, max_step = 0.0f;
    float pause_gain = NAN, speech_gain = 0.0f;
    assert_int_equal(gv_agc_create(NULL, &agc), GV_OK);
    size_t t = 0;
    for (int k = 0; k < 800; k++) {
        int speech = k % 70 < 50;
        for (int i = 0; i < STEP; i++, t++)
            frame[i] = (float)(amp * sin(2.0 * PI * 137.0 * (double)t / RATE));
        assert_int_equal(gv_agc_process(agc, frame, speech ? 1.0f : 0.0f), GV_OK);
        for (int i = 0; i < STEP; i++) {
            if (k > 0)
                max_step = fmaxf(max_step, fabsf(frame[i] - prev));
            prev = frame[i];
        }
        if (k >= 400 && !speech) {
            if (isnan(pause_gain))
                pause_gain = gv_agc_gain_db(agc);
            assert_true(gv_agc_gain_db(agc) == pause_gain);
        }
        if (k >= 400 && speech)
            speech_gain = gv_agc_gain_db(agc);
    }
    gv_agc_destroy(agc);
    /* A sample-to-sample step of the tone at +20 dB is 0.18 of its input
     * amplitude, the ramp adds at most 0.2; an unramped switch of
     * 0 <-> +20 dB steps by up to 9 times it. */
    print_message("speech gain %+.2f dB, pause gain %+.2f dB, largest step %.3f x amplitude\n",
                  (double)speech_gain, (double)pause_gain, max_step / amp);
    assert_true(fabsf(speech_gain - 20.0f) < 1.0f);
    assert_true(pause_gain == 0.0f);
    assert_true(max_step < 0.5 * amp);
}

/* A tone 10 dB over the limit in a pause (unity gain), then a quiet one:
 * the limiter turns the loud tone down as a whole (a scaled sine, not a
 * clipped one) and then lets the quiet tone through untouched. */
static void test_limiter_is_smooth(void **state)
{
    (void)state;
    const size_t loud = SEC(0.5), n = SEC(1.0);
    const float limit = (float)pow(10.0, -1.0 / 20.0);
    const double peak = 3.0 * limit;
    float *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    gv_agc *agc = NULL;
    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        in[i] = (float)((i < loud ? peak : 0.1) * sin(2.0 * PI * 200.0 * (double)i / RATE));
    memcpy(out, in, n * sizeof(float));
    assert_int_equal(gv_agc_create(NULL, &agc), GV_OK);
    for (size_t k = 0; k < n / STEP; k++)
        assert_int_equal(gv_agc_process(agc, out + k * STEP, 0.0f), GV_OK);
    gv_agc_destroy(agc);

    size_t at_limit = 0;
    double worst = 0.0;
    for (size_t i = 0; i < loud; i++) {
        if (fabsf(out[i]) >= limit)
            at_limit++;
        if (i >= SEC(0.01))
            worst = fmax(worst, fabs(out[i] - in[i] * (double)limit / peak));
    }
    print_message("limiter: %zu of %zu samples at the limit, largest departure from a scaled "
                  "sine %.2g\n", at_limit, loud, worst);
    /* The limiter touches the limit about once per half period; a clipper
     * would hold three quarters of the samples there. */
    assert_true(at_limit < loud / 20);
    assert_true(worst < 1e-4);
    for (size_t i = loud + SEC(0.2); i < n; i++)
        if (out[i] != in[i])
            fail_msg("sample %zu: %g for %g after the release", i, (double)out[i], (double)in[i]);
    free(out);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_levels_reach_target),
        cmocka_unit_test(test_config_respected),
        cmocka_unit_test(test_level_change_followed),
        cmocka_unit_test(test_never_beyond_limit),
        cmocka_unit_test(test_silence_and_garbage),
        cmocka_unit_test(test_gain_changes_are_ramped),
        cmocka_unit_test(test_limiter_is_smooth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
