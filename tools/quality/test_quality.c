/* Unit tests of the quality tool's pieces on synthetic signals: the FFT
 * against a direct DFT, alignment against known shifts, STOI's invariances
 * and ranking, and delay-free resampling. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "align.h"
#include "audio/gv_fft.h"
#include "gvoip/error.h"
#include "stoi.h"
#include "utter.h"
#include "wav.h"

#define PI 3.14159265358979323846
#define SEED 0x9a11e7u

static uint64_t rng = SEED;

static double uniform(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
    double u = uniform() + 1e-300, v = uniform();
    return sqrt(-2.0 * log(u)) * cos(2.0 * PI * v);
}

static float *alloc_floats(size_t n)
{
    float *x = calloc(n, sizeof(float));
    assert_non_null(x);
    return x;
}

/* Speech-like test signal at 10 kHz: voiced syllables (harmonics of a
 * gliding pitch under a 4 Hz envelope) alternating with noise bursts, and a
 * pause every second, so that bands and frames all carry modulation. */
static float *make_speech(size_t n)
{
    float *x = alloc_floats(n);
    double phase = 0.0;

    for (size_t t = 0; t < n; t++) {
        double s = (double)t / GV_STOI_RATE;
        double f0 = 120.0 + 40.0 * sin(2.0 * PI * 0.7 * s);
        double syl = sin(PI * fmod(s * 4.0, 1.0));
        int voiced = ((int)(s * 4.0)) % 3 != 2;
        double v = 0.0;
        phase += 2.0 * PI * f0 / GV_STOI_RATE;
        if (fmod(s, 1.0) > 0.85) {
            x[t] = 0.0f;
            continue;
        }
        if (voiced) {
            for (int h = 1; h <= 30 && h * f0 < 4500.0; h++)
                v += sin(h * phase) / h * (1.0 + 0.8 * sin(2.0 * PI * (h * 0.13 + s * 3.0)));
        } else {
            v = 0.5 * gauss();
        }
        x[t] = (float)(0.2 * syl * syl * v);
    }
    return x;
}

static double power(const float *x, size_t n)
{
    double p = 0.0;
    for (size_t i = 0; i < n; i++)
        p += (double)x[i] * x[i];
    return p / (double)n;
}

/* ref plus white noise at snr_db over the whole signal. */
static float *add_noise(const float *ref, size_t n, double snr_db)
{
    float *y = alloc_floats(n);
    double sigma = sqrt(power(ref, n) / pow(10.0, snr_db / 10.0));
    for (size_t i = 0; i < n; i++)
        y[i] = ref[i] + (float)(sigma * gauss());
    return y;
}

static void test_fft_matches_dft(void **state)
{
    static const size_t sizes[] = {2, 4, 8, 64, 512};
    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        double re[512], im[512], x_re[512], x_im[512];
        gv_fft *fft = NULL;
        assert_int_equal(gv_fft_create(n, &fft), GV_OK);
        assert_int_equal(gv_fft_size(fft), n);
        for (size_t i = 0; i < n; i++) {
            x_re[i] = re[i] = uniform() - 0.5;
            x_im[i] = im[i] = uniform() - 0.5;
        }
        assert_int_equal(gv_fft_forward(fft, re, im), GV_OK);
        for (size_t k = 0; k < n; k++) {
            double dr = 0.0, di = 0.0;
            for (size_t t = 0; t < n; t++) {
                double a = -2.0 * PI * (double)((k * t) % n) / (double)n;
                dr += x_re[t] * cos(a) - x_im[t] * sin(a);
                di += x_re[t] * sin(a) + x_im[t] * cos(a);
            }
            if (fabs(dr - re[k]) > 1e-9 || fabs(di - im[k]) > 1e-9)
                fail_msg("seed 0x%x: n=%zu bin %zu: fft %g%+gi, dft %g%+gi", SEED, n, k, re[k],
                         im[k], dr, di);
        }
        assert_int_equal(gv_fft_inverse(fft, re, im), GV_OK);
        for (size_t i = 0; i < n; i++) {
            assert_true(fabs(re[i] - x_re[i]) < 1e-12);
            assert_true(fabs(im[i] - x_im[i]) < 1e-12);
        }
        gv_fft_destroy(fft);
    }
}

static void test_fft_rejects_bad_sizes(void **state)
{
    static const size_t bad[] = {0, 1, 3, 6, 1000, (size_t)1 << 27};
    gv_fft *fft = (gv_fft *)&fft;
    double re[2] = {0}, im[2] = {0};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(gv_fft_create(bad[i], &fft), GV_EINVAL);
        assert_null(fft);
    }
    assert_int_equal(gv_fft_create(2, NULL), GV_EINVAL);
    assert_int_equal(gv_fft_forward(NULL, re, im), GV_EINVAL);
    assert_int_equal(gv_fft_create(2, &fft), GV_OK);
    assert_int_equal(gv_fft_forward(fft, NULL, im), GV_EINVAL);
    assert_int_equal(gv_fft_inverse(fft, re, NULL), GV_EINVAL);
    assert_int_equal(gv_fft_size(NULL), 0);
    gv_fft_destroy(fft);
    gv_fft_destroy(NULL);
}

/* deg[t] = gain * ref[t - shift] plus noise 20 dB down, over ref's span. */
static void test_align_finds_shifts(void **state)
{
    static const struct {
        long shift;
        size_t max_lag;
        double gain;
    } cases[] = {
        {0, 20000, 1.0},      {1, 20000, 1.0},     {-1, 20000, 0.5},  {1370, 20000, 1.0},
        {-1370, 20000, 0.1},  {19999, 20000, 1.0}, {-19999, 20000, 2.0}, {137, 200, 1.0},
    };
    const size_t n = 3 * GV_STOI_RATE;
    float *ref = make_speech(n);
    double sigma = sqrt(power(ref, n)) * 0.1;
    (void)state;

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        float *deg = alloc_floats(n);
        double d = 1e9;
        for (size_t t = 0; t < n; t++) {
            long src = (long)t - cases[c].shift;
            double v = src >= 0 && src < (long)n ? ref[src] : 0.0;
            deg[t] = (float)(cases[c].gain * (v + sigma * gauss()));
        }
        assert_int_equal(gv_align_delay(ref, n, deg, n, cases[c].max_lag, &d), GV_OK);
        if (fabs(d - (double)cases[c].shift) > 0.5)
            fail_msg("seed 0x%x: shift %ld found as %.3f", SEED, cases[c].shift, d);
        free(deg);
    }
    free(ref);
}

/* A recording whose delay steps by +30 ms after 3 s and by -20 ms after
 * 6 s (a jitter buffer inserting, then shortening, audio): one global
 * alignment scores it poorly, the piecewise one finds each piece's shift
 * and scores it as the clean copy it is. */
static void test_align_piecewise_follows_steps(void **state)
{
    const size_t n = 9 * GV_STOI_RATE;
    const long step1 = 300, step2 = -200; /* samples at 10 kHz */
    float *ref = make_speech(n);
    float *deg = alloc_floats(n + 1000);
    float *out = alloc_floats(n);
    gv_stoi_result whole, pieces;
    long lo = 0, hi = 0;
    (void)state;

    for (size_t t = 0; t < n + 1000; t++) {
        long shift = t < 3 * GV_STOI_RATE ? 0 : t < 6 * GV_STOI_RATE + 300 ? step1 : step1 + step2;
        long src = (long)t - shift;
        deg[t] = src >= 0 && src < (long)n ? ref[src] : 0.0f;
    }
    assert_int_equal(gv_stoi_compute(ref, deg, n, &whole), GV_OK);
    assert_int_equal(gv_align_piecewise(ref, n, deg, n + 1000, GV_STOI_RATE / 2, 1000, out, &lo, &hi),
                     GV_OK);
    assert_int_equal(gv_stoi_compute(ref, out, n, &pieces), GV_OK);
    if (lo != 0 || hi != step1 || pieces.stoi < 0.97 || pieces.stoi < whole.stoi + 0.1)
        fail_msg("seed 0x%x: shifts %ld..%ld, STOI whole %.3f pieces %.3f", SEED, lo, hi, whole.stoi,
                 pieces.stoi);
    assert_int_equal(gv_align_piecewise(NULL, n, deg, n, 10, 10, out, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_align_piecewise(ref, n, deg, n, 0, 10, out, NULL, NULL), GV_EINVAL);
    free(ref);
    free(deg);
    free(out);
}

/* A half-sample shift (by linear interpolation) is found between the two
 * neighbouring lags, not snapped to either. */
static void test_align_refines_between_samples(void **state)
{
    const size_t n = 2 * GV_STOI_RATE;
    float *ref = make_speech(n);
    float *deg = alloc_floats(n);
    double d = 0.0;
    (void)state;
    for (size_t t = 1; t < n; t++)
        deg[t] = 0.5f * (ref[t] + ref[t - 1]);
    assert_int_equal(gv_align_delay(ref, n, deg, n, 1000, &d), GV_OK);
    assert_true(d > 0.3 && d < 0.7);
    free(ref);
    free(deg);
}

static void test_align_edges(void **state)
{
    float zeros[4096] = {0};
    float *ref = make_speech(4096);
    double d = 5.0;
    (void)state;
    assert_int_equal(gv_align_delay(zeros, 4096, ref, 4096, 1000, &d), GV_OK);
    assert_true(d == 0.0);
    assert_int_equal(gv_align_delay(NULL, 4096, ref, 4096, 1000, &d), GV_EINVAL);
    assert_int_equal(gv_align_delay(ref, 0, ref, 4096, 1000, &d), GV_EINVAL);
    assert_int_equal(gv_align_delay(ref, 4096, ref, 4096, 1000, NULL), GV_EINVAL);
    assert_int_equal(gv_align_delay(ref, 4096, ref, 4096, (size_t)1 << 25, &d), GV_EINVAL);
    /* Unequal lengths: a copy of the middle of ref. */
    assert_int_equal(gv_align_delay(ref, 4096, ref + 1000, 2000, 2000, &d), GV_OK);
    assert_true(fabs(d + 1000.0) < 0.5);
    free(ref);
}

static void test_stoi_identical_and_gain(void **state)
{
    const size_t n = 3 * GV_STOI_RATE;
    float *ref = make_speech(n);
    float *quiet = alloc_floats(n);
    gv_stoi_result r;
    (void)state;
    assert_int_equal(gv_stoi_compute(ref, ref, n, &r), GV_OK);
    assert_true(r.stoi > 0.9999 && r.stoi < 1.0001);
    assert_true(r.estoi > 0.9999 && r.estoi < 1.0001);
    assert_true(r.segments > 100);
    for (size_t i = 0; i < n; i++)
        quiet[i] = 0.05f * ref[i];
    assert_int_equal(gv_stoi_compute(ref, quiet, n, &r), GV_OK);
    assert_true(r.stoi > 0.9999 && r.estoi > 0.9999);
    free(ref);
    free(quiet);
}

/* More noise must always score lower, on both measures. */
static void test_stoi_ranks_noise(void **state)
{
    static const double snr_db[] = {30.0, 10.0, 0.0, -10.0};
    const size_t n = 3 * GV_STOI_RATE;
    float *ref = make_speech(n);
    double prev_s = 1.0, prev_e = 1.0;
    (void)state;
    for (size_t i = 0; i < sizeof(snr_db) / sizeof(snr_db[0]); i++) {
        float *deg = add_noise(ref, n, snr_db[i]);
        gv_stoi_result r;
        assert_int_equal(gv_stoi_compute(ref, deg, n, &r), GV_OK);
        print_message("snr %5.1f dB: stoi %.4f estoi %.4f\n", snr_db[i], r.stoi, r.estoi);
        double margin = i ? 0.02 : 0.001;
        if (!(r.stoi < prev_s - margin && r.estoi < prev_e - margin))
            fail_msg("seed 0x%x: snr %.0f dB gave stoi %.4f estoi %.4f, not below %.4f %.4f",
                     SEED, snr_db[i], r.stoi, r.estoi, prev_s, prev_e);
        prev_s = r.stoi;
        prev_e = r.estoi;
        free(deg);
    }
    assert_true(prev_s < 0.8);
    free(ref);
}

/* Noise confined to where the reference is silent is not scored: those
 * frames are removed before the measure looks. */
static void test_stoi_ignores_silence(void **state)
{
    const size_t n = 4 * GV_STOI_RATE;
    const size_t gap_lo = 15 * GV_STOI_RATE / 10, gap_hi = 25 * GV_STOI_RATE / 10;
    float *ref = make_speech(n);
    float *deg = alloc_floats(n);
    float *smeared = alloc_floats(n);
    gv_stoi_result quiet_gap, noisy_speech;
    (void)state;
    for (size_t t = gap_lo; t < gap_hi; t++)
        ref[t] = 0.0f;
    for (size_t t = 0; t < n; t++) {
        int inside = t >= gap_lo + 1000 && t < gap_hi - 1000;
        float noise = (float)(0.3 * gauss());
        deg[t] = ref[t] + (inside ? noise : 0.0f);
        smeared[t] = ref[t] + (t >= 1000 && t < 9000 ? noise : 0.0f);
    }
    assert_int_equal(gv_stoi_compute(ref, deg, n, &quiet_gap), GV_OK);
    assert_int_equal(gv_stoi_compute(ref, smeared, n, &noisy_speech), GV_OK);
    assert_true(quiet_gap.stoi > 0.999);
    assert_true(noisy_speech.stoi < 0.95);
    /* The 1 s gap is about 78 of the signal's 311 frames. */
    assert_true(quiet_gap.frames + 60 < (n - GV_STOI_FRAME - 1) / GV_STOI_HOP + 1);
    free(ref);
    free(deg);
    free(smeared);
}

static void test_stoi_rejects(void **state)
{
    const size_t n = GV_STOI_RATE;
    float *ref = make_speech(n);
    float *zeros = alloc_floats(n);
    gv_stoi_result r;
    (void)state;
    assert_int_equal(gv_stoi_compute(NULL, ref, n, &r), GV_EINVAL);
    assert_int_equal(gv_stoi_compute(ref, ref, n, NULL), GV_EINVAL);
    /* 300 ms: shorter than one 384 ms segment. */
    assert_int_equal(gv_stoi_compute(ref, ref, 3000, &r), GV_EINVAL);
    assert_int_equal(gv_stoi_compute(zeros, ref, n, &r), GV_EINVAL);
    /* A silent degraded signal is valid and scores about 0. */
    assert_int_equal(gv_stoi_compute(ref, zeros, n, &r), GV_OK);
    assert_true(fabs(r.stoi) < 0.01);
    free(ref);
    free(zeros);
}

/* A 50 ms misalignment costs score: the reason the tool aligns first. */
static void test_stoi_needs_alignment(void **state)
{
    const size_t n = 3 * GV_STOI_RATE, shift = 500;
    float *ref = make_speech(n + shift);
    gv_stoi_result aligned, late;
    (void)state;
    assert_int_equal(gv_stoi_compute(ref, ref, n, &aligned), GV_OK);
    assert_int_equal(gv_stoi_compute(ref + shift, ref, n, &late), GV_OK);
    assert_true(late.stoi < aligned.stoi - 0.1);
    free(ref);
}

/* A tone resampled from each rate to 10 kHz matches the tone computed at
 * 10 kHz sample for sample: right length, no filter delay. */
static void test_resample_is_delay_free(void **state)
{
    static const int rates[] = {8000, 16000, 22050, 44100, 48000};
    (void)state;
    for (size_t c = 0; c < sizeof(rates) / sizeof(rates[0]); c++) {
        int rate = rates[c];
        size_t n = (size_t)rate, out_n = 0;
        float *in = alloc_floats(n);
        float *out = NULL;
        double worst = 0.0;
        for (size_t t = 0; t < n; t++)
            in[t] = (float)(0.5 * sin(2.0 * PI * 1000.0 * (double)t / rate));
        assert_int_equal(gv_wav_resample(in, n, rate, GV_STOI_RATE, &out, &out_n), GV_OK);
        assert_int_equal(out_n, GV_STOI_RATE);
        /* The ends see the filter's edge; the middle must be exact. */
        for (size_t t = 500; t < out_n - 500; t++) {
            double want = 0.5 * sin(2.0 * PI * 1000.0 * (double)t / GV_STOI_RATE);
            double e = fabs(out[t] - want);
            if (e > worst)
                worst = e;
        }
        if (worst > 2e-3)
            fail_msg("%d Hz -> 10 kHz: worst error %g", rate, worst);
        free(in);
        free(out);
    }
}

static void test_wav_round_trip(void **state)
{
    char path[] = "/tmp/gvoip-quality-test.XXXXXX";
    const size_t n = 16000;
    float *x = make_speech(n);
    float *y = NULL, *z = NULL;
    size_t y_n = 0, z_n = 0;
    int rate = 0;
    int fd = mkstemp(path);
    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(gv_wav_write(path, x, n, 16000), GV_OK);
    assert_int_equal(gv_wav_read(path, 0, &y, &y_n, &rate), GV_OK);
    assert_int_equal(rate, 16000);
    assert_int_equal(y_n, n);
    for (size_t i = 0; i < n; i++)
        assert_true(fabs(y[i] - x[i]) <= 1.0 / 32768.0 + 1e-7);
    assert_int_equal(gv_wav_read(path, 10000, &z, &z_n, NULL), GV_OK);
    assert_int_equal(z_n, 10000);

    /* Not a sound file, and no file at all. */
    {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("this is not audio\n", f);
        fclose(f);
    }
    free(z);
    z = (float *)&z;
    assert_int_equal(gv_wav_read(path, 0, &z, &z_n, NULL), GV_EIO);
    assert_null(z);
    unlink(path);
    assert_int_equal(gv_wav_read(path, 0, &z, &z_n, NULL), GV_EIO);
    assert_int_equal(gv_wav_read(path, 5, &z, &z_n, NULL), GV_EINVAL);
    assert_int_equal(gv_wav_write(path, x, n, 5), GV_EINVAL);
    free(x);
    free(y);
}

/* A reference of speech-like pieces with pauses between them, at 10 kHz:
 * piece k (a stretch of make_speech, which has no pause within 0.85 s)
 * starts at piece_at[k] and lasts piece_len[k] samples. */
#define UTTER_PIECES 5
static const size_t piece_at[UTTER_PIECES] = {3000, 9000, 14000, 20000, 28000};
static const size_t piece_len[UTTER_PIECES] = {5000, 3000, 4000, 6000, 5000};
#define UTTER_REF_N 36000

static float *make_utterances(void)
{
    float *ref = alloc_floats(UTTER_REF_N);
    float *speech = make_speech(8000);
    for (size_t k = 0; k < UTTER_PIECES; k++)
        memcpy(ref + piece_at[k], speech, piece_len[k] * sizeof *ref);
    free(speech);
    return ref;
}

/* Pauses of 1000, 2000, 2000 and 2000 samples (100, 200, 200, 200 ms)
 * between the pieces: with a 150 ms minimum the first two pieces are one
 * utterance and the others stand alone; a 50 ms click 150 ms after the
 * last is dropped. */
static void test_utter_split_at_pauses(void **state)
{
    float *ref = make_utterances();
    gv_utterance *u = NULL;
    size_t n = 99;
    (void)state;
    for (size_t i = 34500; i < 35000; i++)
        ref[i] = 0.3f * (float)sin(2.0 * PI * 440.0 * (double)i / GV_STOI_RATE);
    assert_int_equal(gv_utter_split(ref, UTTER_REF_N, 100, 1500, 1000, &u, &n), GV_OK);
    assert_int_equal((int)n, 4);
    const size_t want_start[4] = {3000, 14000, 20000, 28000};
    const size_t want_end[4] = {12000, 18000, 26000, 33000};
    for (size_t k = 0; k < n; k++) {
        /* make_speech opens and closes each syllable from silence: the
         * edges may be a frame or two inside the piece. */
        if (u[k].start < want_start[k] || u[k].start > want_start[k] + 200 ||
            u[k].start + u[k].length > want_end[k] || u[k].start + u[k].length < want_end[k] - 200)
            fail_msg("utterance %zu: %zu..%zu, expected %zu..%zu", k, u[k].start,
                     u[k].start + u[k].length, want_start[k], want_end[k]);
    }
    free(u);
    /* Silence has no utterances; bad arguments are refused. */
    float zeros[1000] = {0};
    assert_int_equal(gv_utter_split(zeros, 1000, 100, 1500, 1000, &u, &n), GV_OK);
    assert_int_equal((int)n, 0);
    assert_null(u);
    assert_int_equal(gv_utter_split(ref, UTTER_REF_N, 0, 1500, 1000, &u, &n), GV_EINVAL);
    assert_int_equal(gv_utter_split(NULL, UTTER_REF_N, 100, 1500, 1000, &u, &n), GV_EINVAL);
    free(ref);
}

/* Each piece delayed by its own shift (a jitter buffer adapting between
 * talk spurts), noise 20 dB down; piece 4 lost (replaced by unrelated
 * noise). Each found piece's delay is its own shift within half a sample;
 * the lost one does not count in the statistics. */
static void test_utter_delays_known_shifts(void **state)
{
    const long shift[UTTER_PIECES] = {400, 550, 470, 385, 1200};
    const size_t deg_n = UTTER_REF_N + 2000;
    float *ref = make_utterances();
    float *deg = alloc_floats(deg_n);
    double sigma = sqrt(power(ref, UTTER_REF_N)) * 0.1, around = 0.0;
    gv_utterance *u = NULL;
    gv_utter_stats st;
    size_t n = 0;
    (void)state;
    for (size_t k = 0; k < UTTER_PIECES; k++) {
        for (size_t i = 0; i < piece_len[k]; i++) {
            size_t at = (size_t)((long)(piece_at[k] + i) + shift[k]);
            deg[at] = k == 3 ? (float)(sigma * 3.0 * gauss()) : ref[piece_at[k] + i];
        }
    }
    for (size_t i = 0; i < deg_n; i++)
        deg[i] += (float)(sigma * gauss());
    assert_int_equal(gv_align_delay(ref, UTTER_REF_N, deg, deg_n, 3000, &around), GV_OK);
    /* A 100 ms pause is enough here: every piece is an utterance. */
    assert_int_equal(gv_utter_split(ref, UTTER_REF_N, 100, 500, 1000, &u, &n), GV_OK);
    assert_int_equal((int)n, UTTER_PIECES);
    assert_int_equal(gv_utter_delays(ref, UTTER_REF_N, deg, deg_n, around, 1500, 1500, 500, 0.3, u, n), GV_OK);
    for (size_t k = 0; k < n; k++) {
        if (k == 3) {
            if (u[k].found && u[k].match > 0.3)
                fail_msg("seed 0x%x: the lost piece matched %.3f at %.2f", SEED, u[k].match,
                         u[k].delay);
            continue;
        }
        if (!u[k].found || fabs(u[k].delay - (double)shift[k]) > 0.5 || u[k].match < 0.9)
            fail_msg("seed 0x%x: piece %zu (shift %ld) found %d at %.2f, match %.3f", SEED, k,
                     shift[k], u[k].found, u[k].delay, u[k].match);
    }
    assert_int_equal(gv_utter_stats_of(u, n, 0.3, &st), GV_OK);
    assert_int_equal((int)st.used, 4);
    /* Delays 400, 470, 550, 1200: median between the middle two. */
    assert_true(fabs(st.median - 510.0) < 0.5);
    assert_true(fabs(st.p95 - 1200.0) < 0.5);
    assert_true(fabs(st.spread - 800.0) < 1.0);
    assert_int_equal(gv_utter_delays(ref, UTTER_REF_N, deg, deg_n, around, 0, 1500, 500, 0.3, u, n), GV_EINVAL);
    u[0].length = UTTER_REF_N;
    assert_int_equal(gv_utter_delays(ref, UTTER_REF_N, deg, deg_n, around, 300, 300, 500, 0.3, u, n), GV_EINVAL);
    free(u);
    free(ref);
    free(deg);
}

/* Two identical words 600 ms apart, both heard 40 ms late: with a wide
 * search each matches the other's copy as well as its own, and the near
 * search first (100 ms) keeps each to its own; rebuilt word by word, the
 * recording is the reference again. */
static void test_utter_near_first(void **state)
{
    const size_t n = 20000, at1 = 3000, at2 = 9000, len = 3000, shift = 400;
    float *ref = alloc_floats(n);
    float *deg = alloc_floats(n);
    float *speech = make_speech(len);
    gv_utterance *u = NULL;
    size_t count = 0;
    (void)state;
    memcpy(ref + at1, speech, len * sizeof *ref);
    memcpy(ref + at2, speech, len * sizeof *ref);
    memcpy(deg + at1 + shift, speech, len * sizeof *deg);
    memcpy(deg + at2 + shift, speech, len * sizeof *deg);
    assert_int_equal(gv_utter_split(ref, n, 100, 1500, 1000, &u, &count), GV_OK);
    assert_int_equal((int)count, 2);
    assert_int_equal(gv_utter_delays(ref, n, deg, n, (double)shift, 1000, 8000, 0, 0.3, u, count),
                     GV_OK);
    for (size_t k = 0; k < count; k++)
        if (!u[k].found || fabs(u[k].delay - (double)shift) > 0.5)
            fail_msg("word %zu found %d at %.2f, expected %zu", k, u[k].found, u[k].delay, shift);
    /* A steady delay rebuilds the whole reference, pauses included. */
    float *out = alloc_floats(n);
    assert_int_equal(gv_utter_rebuild(deg, n, u, count, 0.3, out, n), GV_OK);
    assert_memory_equal(out, ref, n * sizeof *ref);
    free(out);
    free(u);
    free(ref);
    free(deg);
    free(speech);
}

static void test_utter_stats_edges(void **state)
{
    gv_utter_stats st;
    gv_utterance one = {.start = 0, .length = 10, .found = 1, .delay = 42.0, .match = 0.9};
    (void)state;
    assert_int_equal(gv_utter_stats_of(NULL, 0, 0.3, &st), GV_OK);
    assert_int_equal((int)st.used, 0);
    assert_int_equal(gv_utter_stats_of(&one, 1, 0.3, &st), GV_OK);
    assert_true(st.used == 1 && st.median == 42.0 && st.p95 == 42.0 && st.spread == 0.0);
    assert_int_equal(gv_utter_stats_of(&one, 1, 0.95, &st), GV_OK);
    assert_int_equal((int)st.used, 0);
    assert_int_equal(gv_utter_stats_of(&one, 1, 0.3, NULL), GV_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fft_matches_dft),
        cmocka_unit_test(test_fft_rejects_bad_sizes),
        cmocka_unit_test(test_align_finds_shifts),
        cmocka_unit_test(test_align_refines_between_samples),
        cmocka_unit_test(test_align_piecewise_follows_steps),
        cmocka_unit_test(test_align_edges),
        cmocka_unit_test(test_stoi_identical_and_gain),
        cmocka_unit_test(test_stoi_ranks_noise),
        cmocka_unit_test(test_stoi_ignores_silence),
        cmocka_unit_test(test_stoi_rejects),
        cmocka_unit_test(test_stoi_needs_alignment),
        cmocka_unit_test(test_resample_is_delay_free),
        cmocka_unit_test(test_wav_round_trip),
        cmocka_unit_test(test_utter_split_at_pauses),
        cmocka_unit_test(test_utter_delays_known_shifts),
        cmocka_unit_test(test_utter_near_first),
        cmocka_unit_test(test_utter_stats_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
