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

#include "audio/gv_vad.h"
#include "gvoip/error.h"

#define PI 3.14159265358979323846
#define RATE 48000
#define SEED 0x76616475u
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MS(x) ((size_t)(x) * (RATE / 1000))


/* Roughly Gaussian with unit variance (sum of four uniforms). */
static double gauss(void)
{
    return (test_rng_uniform() + test_rng_uniform() + test_rng_uniform() + test_rng_uniform() - 2.0) * sqrt(3.0);
}

static double db_to_amp(double db)
{
    return pow(10.0, db / 20.0);
}

/* Room noise: broadband noise of rms level_db wandering +-wander_db over a
 * few seconds, plus a faint 50 Hz hum. */
static void add_noise_w(float *buf, size_t n, double level_db, double wander_db)
{
    double rms = db_to_amp(level_db), ph = test_rng_uniform() * 2 * PI;
    for (size_t i = 0; i < n; i++) {
        double wander = db_to_amp(wander_db * sin(2 * PI * 0.3 * (double)i / RATE + ph));
        buf[i] += (float)(rms * (0.95 * wander * gauss() + 0.3 * sin(2 * PI * 50.0 * i / RATE)));
    }
}

static void add_noise(float *buf, size_t n, double level_db)
{
    add_noise_w(buf, n, level_db, 2.0);
}

/* A speech-like burst at buf[start, start + len): an unvoiced lead-in of
 * leadin samples at leadin_db (an "s" too quiet to trigger on its own),
 * then a voiced part: eight harmonics of a gliding 100-180 Hz pitch under
 * a 4 Hz syllable envelope, with 15 ms attack and 20 ms release. */
static void add_speech(float *buf, size_t start, size_t len, size_t leadin, double leadin_db,
                       double peak)
{
    double f0 = 100.0 + 80.0 * test_rng_uniform(), phase = 0.0, amp = db_to_amp(leadin_db) * sqrt(3.0);
    for (size_t i = 0; i < leadin && i < len; i++)
        buf[start + i] += (float)(amp * (2.0 * test_rng_uniform() - 1.0));
    for (size_t i = leadin; i < len; i++) {
        double t = (double)(i - leadin) / RATE, left = (double)(len - i) / RATE;
        double env = 0.4 + 0.6 * fabs(sin(PI * 4.0 * t + 0.4));
        if (t < 0.015)
            env *= 0.5 - 0.5 * cos(PI * t / 0.015);
        if (left < 0.020)
            env *= 0.5 - 0.5 * cos(PI * left / 0.020);
        phase += 2 * PI * f0 * (1.0 + 0.08 * sin(2 * PI * 3.0 * t)) / RATE;
        double v = 0.0;
        for (int k = 1; k <= 8; k++)
            v += sin(k * phase) / k;
        buf[start + i] += (float)(peak * env * v / 2.0);
    }
}

typedef struct run {
    size_t frames;
    unsigned char *sent;   /* per frame: handed out for sending */
    unsigned char *active; /* per frame: gv_vad_process returned 1 */
    int transitions;       /* silent <-> transmitting changes */
    int onsets;
} run;

/* Feeds sig through a detector frame by frame from a scratch buffer that is
 * scribbled over after each call, and checks every handed-out frame: each
 * frame at most once, oldest first, contents equal to the input. */
static void run_vad(const gv_vad_config *cfg, const float *sig, size_t n, run *r)
{
    gv_vad *vad = NULL;
    size_t fs = (size_t)cfg->frame_samples;
    float *scratch = malloc(fs * sizeof(float));
    assert_non_null(scratch);
    assert_int_equal(gv_vad_create(cfg, &vad), GV_OK);
    r->frames = n / fs;
    r->sent = calloc(r->frames, 1);
    r->active = calloc(r->frames, 1);
    assert_non_null(r->sent);
    assert_non_null(r->active);
    r->transitions = r->onsets = 0;
    int was = 0;
    for (size_t k = 0; k < r->frames; k++) {
        const float *send[GV_VAD_MAX_SEND];
        int count = -1;
        float level;
        memcpy(scratch, sig + k * fs, fs * sizeof(float));
        int rc = gv_vad_process(vad, scratch, send, &count, &level);
        memset(scratch, 0x7f, fs * sizeof(float));
        assert_true(rc == 0 || rc == 1);
        assert_int_equal(rc, gv_vad_active(vad));
        assert_true(count >= 0 && count <= GV_VAD_MAX_SEND);
        assert_true(rc ? count >= 1 : count == 0);
        if (count > 1)
            r->onsets++;
        for (int j = 0; j < count; j++) {
            size_t f = k + 1 - (size_t)(count - j);
            if (f > k || r->sent[f])
                fail_msg("frame %zu handed out twice or out of range (seed %#x)", f, SEED);
            if (memcmp(send[j], sig + f * fs, fs * sizeof(float)) != 0)
                fail_msg("frame %zu content differs (seed %#x)", f, SEED);
            r->sent[f] = 1;
        }
        r->active[k] = (unsigned char)rc;
        if (rc != was)
            r->transitions++;
        was = rc;
    }
    gv_vad_destroy(vad);
    free(scratch);
}

static void run_free(run *r)
{
    free(r->sent);
    free(r->active);
}

/* Every sample of [from, to) lies in a frame that was sent. */
static int covered(const run *r, size_t fs, size_t from, size_t to)
{
    for (size_t f = from / fs; f * fs < to && f < r->frames; f++)
        if (!r->sent[f])
            return 0;
    return 1;
}

/* No frame lying entirely inside [from, to) was sent. */
static int none_sent(const run *r, size_t fs, size_t from, size_t to)
{
    for (size_t f = (from + fs - 1) / fs; (f + 1) * fs <= to && f < r->frames; f++)
        if (r->sent[f])
            return 0;
    return 1;
}

static const int frame_sizes[] = {480, 960, 1920, 2880};

static void test_config(void **state)
{
    (void)state;
    gv_vad_config c;
    gv_vad *vad = (gv_vad *)&c;

    gv_vad_config_default(&c, 960);
    assert_int_equal(c.frame_samples, 960);
    assert_int_equal(c.hold_ms, 300);
    assert_int_equal(c.preroll_ms, 60);
    assert_true(c.on_db > c.off_db && c.off_db > 0.0f);
    assert_float_equal(c.min_level_dbfs, -55.0f, 1e-6f);
    gv_vad_config_default(NULL, 960);

    assert_int_equal(gv_vad_create(NULL, &vad), GV_EINVAL);
    assert_null(vad);
    assert_int_equal(gv_vad_create(&c, NULL), GV_EINVAL);
    static const struct {
        int field;
        double value;
    } bad[] = {
        {0, 100}, {0, 2881}, {0, -960}, {1, 4.0}, {1, NAN}, {2, -1.0}, {2, 10.0}, {3, -1},
        {3, 5001}, {4, -1}, {4, 1001}, {5, NAN}, {5, 3.0}, {5, -130.0}, {6, 0},
    };
    for (size_t k = 0; k < NELEM(bad); k++) {
        gv_vad_config_default(&c, 960);
        switch (bad[k].field) {
        case 0: c.frame_samples = (int)bad[k].value; break;
        case 1: c.on_db = (float)bad[k].value; break;
        case 2: c.off_db = (float)bad[k].value; break;
        case 3: c.hold_ms = (int)bad[k].value; break;
        case 4: c.preroll_ms = (int)bad[k].value; break;
        case 5: c.min_level_dbfs = (float)bad[k].value; break;
        default:
            /* 400 frames of 2.5 ms: more pre-roll than GV_VAD_MAX_SEND holds. */
            c.frame_samples = 120;
            c.preroll_ms = 1000;
            break;
        }
        vad = (gv_vad *)&c;
        if (gv_vad_create(&c, &vad) != GV_EINVAL || vad)
            fail_msg("bad row %zu accepted", k);
    }
    for (size_t k = 0; k < NELEM(frame_sizes); k++) {
        gv_vad_config_default(&c, frame_sizes[k]);
        c.preroll_ms = 1000 * GV_VAD_MAX_PREROLL_FRAMES * frame_sizes[k] / RATE;
        if (c.preroll_ms > 1000)
            c.preroll_ms = 1000;
        assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
        gv_vad_destroy(vad);
    }
    gv_vad_destroy(NULL);

    gv_vad_config_default(&c, 480);
    assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
    float frame[480] = {0};
    const float *send[GV_VAD_MAX_SEND];
    int count;
    assert_int_equal(gv_vad_process(NULL, frame, send, &count, NULL), GV_EINVAL);
    assert_int_equal(gv_vad_process(vad, NULL, send, &count, NULL), GV_EINVAL);
    assert_int_equal(gv_vad_process(vad, frame, NULL, &count, NULL), GV_EINVAL);
    assert_int_equal(gv_vad_process(vad, frame, send, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_vad_process(vad, frame, send, &count, NULL), 0);
    assert_int_equal(count, 0);
    assert_int_equal(gv_vad_active(NULL), 0);
    assert_float_equal(gv_vad_floor_dbfs(NULL), -120.0f, 1e-6f);
    assert_float_equal(gv_vad_floor_dbfs(vad), -120.0f, 1e-6f); /* digital silence */
    gv_vad_reset(NULL);
    gv_vad_destroy(vad);
}

static void test_level(void **state)
{
    (void)state;
    static const struct {
        double freq, amp, want;
    } rows[] = {
        {1000.0, 1.0, -3.0103}, {997.0, 1.0, -3.0103}, {3001.0, 1.0, -3.0103},
        {997.0, 0.1, -23.0103}, {3001.0, 0.01, -43.0103},
    };
    for (size_t k = 0; k < NELEM(frame_sizes); k++)
        for (size_t r = 0; r < NELEM(rows); r++) {
            gv_vad_config c;
            gv_vad *vad;
            int fs = frame_sizes[k], count;
            gv_vad_config_default(&c, fs);
            assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
            float *frame = malloc((size_t)fs * sizeof(float));
            assert_non_null(frame);
            const float *send[GV_VAD_MAX_SEND];
            for (int f = 0; f < 5; f++) {
                for (int i = 0; i < fs; i++)
                    frame[i] = (float)(rows[r].amp *
                                       sin(2 * PI * rows[r].freq * (double)(f * fs + i) / RATE + 0.3));
                float level = 0.0f;
                assert_true(gv_vad_process(vad, frame, send, &count, &level) >= 0);
                if (fabs(level - rows[r].want) > 0.1)
                    fail_msg("frame %d row %zu frame %d: %g dBFS, want %g", fs, r, f, level,
                             rows[r].want);
            }
            /* Digital silence reads the bottom of the scale; NaN is ignored. */
            memset(frame, 0, (size_t)fs * sizeof(float));
            float level = 0.0f;
            gv_vad_process(vad, frame, send, &count, &level);
            assert_float_equal(level, -120.0f, 1e-6f);
            frame[3] = NAN;
            frame[4] = INFINITY;
            gv_vad_process(vad, frame, send, &count, &level);
            assert_float_equal(level, -120.0f, 1e-6f);
            free(frame);
            gv_vad_destroy(vad);
        }
}

/* Two seconds of room noise at several levels, loud ones included: nothing
 * is sent. */
static void test_noise_not_sent(void **state)
{
    (void)state;
    static const double levels[] = {-75.0, -60.0, -45.0, -30.0};
    for (size_t k = 0; k < NELEM(frame_sizes); k++)
        for (size_t l = 0; l < NELEM(levels); l++) {
            size_t n = MS(2000);
            float *sig = calloc(n, sizeof(float));
            assert_non_null(sig);
            add_noise(sig, n, levels[l]);
            gv_vad_config c;
            gv_vad_config_default(&c, frame_sizes[k]);
            run r;
            run_vad(&c, sig, n, &r);
            for (size_t f = 0; f < r.frames; f++)
                if (r.sent[f])
                    fail_msg("frame size %d, noise %g dBFS: frame %zu sent (seed %#x)",
                             frame_sizes[k], levels[l], f, SEED);
            run_free(&r);
            free(sig);
        }
}

/* A burst starting mid-frame with a quiet lead-in that cannot trigger by
 * itself: with the pre-roll the sent frames hold the burst from its first
 * sample; without it they would not (so the lead-in really is clipped
 * there, and the pre-roll is what saves it). */
static void test_onset_preroll(void **state)
{
    (void)state;
    for (size_t k = 0; k < NELEM(frame_sizes); k++)
        for (int rep = 0; rep < 6; rep++) {
            int fs = frame_sizes[k];
            /* The voiced part starts in a later frame than the burst, so
             * the burst's first frame cannot trigger by itself. */
            size_t lo = (size_t)fs > MS(40) ? (size_t)fs - MS(40) : 0;
            size_t base = MS(2000) / (size_t)fs * (size_t)fs;
            size_t n = MS(3500), start = base + lo + (size_t)(test_rng_uniform() * (double)((size_t)fs - lo));
            size_t len = MS(800);
            float *sig = calloc(n, sizeof(float));
            assert_non_null(sig);
            add_noise(sig, n, -60.0);
            add_speech(sig, start, len, MS(40), -56.0, 0.25);

            gv_vad_config c;
            gv_vad_config_default(&c, fs);
            run r;
            run_vad(&c, sig, n, &r);
            if (!covered(&r, (size_t)fs, start, start + len))
                fail_msg("frame %d rep %d: burst at %zu not sent whole (seed %#x)", fs, rep, start,
                         SEED);
            assert_int_equal(r.onsets, 1);
            assert_true(none_sent(&r, (size_t)fs, 0, start - MS(100)));
            /* After the burst: the hold, then silence again. */
            assert_true(none_sent(&r, (size_t)fs, start + len + MS(300) + 2 * (size_t)fs, n));
            run_free(&r);

            c.preroll_ms = 0;
            run_vad(&c, sig, n, &r);
            if (covered(&r, (size_t)fs, start, start + len)) {
                size_t f0 = start / (size_t)fs;
                fail_msg("frame %d rep %d: lead-in triggered alone: start %zu (offset %zu), sent %d%d%d%d (seed %#x)",
                         fs, rep, start, start % (size_t)fs, r.sent[f0 - 1], r.sent[f0], r.sent[f0 + 1], r.sent[f0 + 2], SEED);
            }
            assert_true(covered(&r, (size_t)fs, start + MS(40) + 2 * (size_t)fs, start + len));
            run_free(&r);
            free(sig);
        }
}

/* A 200 ms pause inside speech is bridged by the 300 ms hold; a 1 s pause
 * stops transmission, and the next burst starts with its pre-roll. */
static void test_hold(void **state)
{
    (void)state;
    for (size_t k = 0; k < NELEM(frame_sizes); k++) {
        int fs = frame_sizes[k];
        size_t n = MS(7000);
        size_t a = MS(1500) + 17, a_len = MS(700);
        size_t b = a + a_len + MS(200), b_len = MS(600);
        size_t c2 = b + b_len + MS(1000) + 311, c_len = MS(900);
        float *sig = calloc(n, sizeof(float));
        assert_non_null(sig);
        add_noise(sig, n, -58.0);
        add_speech(sig, a, a_len, MS(20), -54.0, 0.2);
        add_speech(sig, b, b_len, 0, -54.0, 0.2);
        add_speech(sig, c2, c_len, MS(30), -54.0, 0.2);

        gv_vad_config c;
        gv_vad_config_default(&c, fs);
        run r;
        run_vad(&c, sig, n, &r);
        if (!covered(&r, (size_t)fs, a, b + b_len))
            fail_msg("frame %d: the 200 ms pause was not bridged (seed %#x)", fs, SEED);
        if (!none_sent(&r, (size_t)fs, b + b_len + MS(300) + 2 * (size_t)fs, c2 - MS(60) - (size_t)fs))
            fail_msg("frame %d: the 1 s pause was sent (seed %#x)", fs, SEED);
        if (!covered(&r, (size_t)fs, c2, c2 + c_len))
            fail_msg("frame %d: third burst clipped (seed %#x)", fs, SEED);
        assert_true(none_sent(&r, (size_t)fs, c2 + c_len + MS(300) + 2 * (size_t)fs, n));
        /* Exactly two talk spurts: on, off in the long pause, on, off. */
        assert_int_equal(r.transitions, 4);
        run_free(&r);

        /* Without a hold the short pause is not bridged: the hold is what
         * keeps it. */
        c.hold_ms = 0;
        run_vad(&c, sig, n, &r);
        assert_false(covered(&r, (size_t)fs, a, b + b_len));
        run_free(&r);
        free(sig);
    }
}

/* A level that hovers between the off and on thresholds neither starts
 * speech nor, once started, stops it: no chattering, even with no hold. */
static void test_hysteresis(void **state)
{
    (void)state;
    for (size_t k = 0; k < NELEM(frame_sizes); k++) {
        int fs = frame_sizes[k], count;
        gv_vad_config c;
        gv_vad *vad;
        gv_vad_config_default(&c, fs);
        c.hold_ms = 0;
        assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
        float *frame = malloc((size_t)fs * sizeof(float));
        assert_non_null(frame);
        const float *send[GV_VAD_MAX_SEND];
        int transitions = 0, was = 0, sent = 0;
        size_t t = 0;
        /* Phases: noise 2 s, hover 1.5 s, noise 1 s, burst 0.2 s, hover
         * 1.5 s, noise 1 s. The floor stays on the noise throughout. */
        static const struct {
            int ms, kind; /* 0 noise, 1 hover, 2 loud */
        } phases[] = {{2000, 0}, {1500, 1}, {1000, 0}, {200, 2}, {1500, 1}, {1000, 0}};
        float floor_db = -120.0f;
        for (size_t p = 0; p < NELEM(phases); p++) {
            int frames = (int)(MS(phases[p].ms) / (size_t)fs), phase_sent = 0;
            if (p == 1)
                floor_db = gv_vad_floor_dbfs(vad);
            for (int f = 0; f < frames; f++, t += (size_t)fs) {
                for (int i = 0; i < fs; i++)
                    frame[i] = 0.0f;
                add_noise_w(frame, (size_t)fs, -60.0, 0.0);
                double above = phases[p].kind == 1 ? c.off_db + 1.5 + (c.on_db - c.off_db - 3.0) * test_rng_uniform()
                                                   : c.on_db + 15.0;
                if (phases[p].kind != 0) {
                    /* A 1 kHz tone: whole periods per frame, so the frame's
                     * level is the tone's (plus the quiet noise). */
                    double noise_power = pow(10.0, -6.024);
                    double amp = sqrt(2.0 * (pow(10.0, (floor_db + above) / 10.0) - noise_power));
                    for (int i = 0; i < fs; i++)
                        frame[i] += (float)(amp * sin(2 * PI * 1000.0 * (double)(t + (size_t)i) / RATE));
                }
                float level;
                int rc = gv_vad_process(vad, frame, send, &count, &level);
                if (phases[p].kind == 1 && (level < floor_db + c.off_db + 1.0f ||
                                            level > floor_db + c.on_db - 1.0f))
                    fail_msg("test signal off target: %g with floor %g", level, floor_db);
                if (rc != was)
                    transitions++;
                was = rc;
                phase_sent += count;
            }
            sent += phase_sent;
            if (p == 1)
                assert_int_equal(phase_sent, 0); /* hovering never starts speech */
            if (p == 4)
                assert_int_equal(phase_sent, frames); /* nor does it stop it */
        }
        /* One talk spurt: on at the burst, off when the noise returns. */
        assert_int_equal(transitions, 2);
        assert_true(sent > 0);
        free(frame);
        gv_vad_destroy(vad);
    }
}

/* When the room gets 25 dB louder for good, the detector may take the new
 * noise for speech for a while, but stops within the floor's window and
 * then still hears speech above the new noise; when the room gets quiet
 * again the floor follows at once. */
static void test_floor_adapts(void **state)
{
    (void)state;
    for (size_t k = 0; k < NELEM(frame_sizes); k++) {
        int fs = frame_sizes[k];
        size_t n = MS(16000), up = MS(2000), down = MS(11000);
        size_t s1 = MS(8000), s2 = MS(13000), len = MS(700);
        float *sig = calloc(n, sizeof(float));
        assert_non_null(sig);
        add_noise(sig, up, -65.0);
        add_noise(sig + up, down - up, -40.0);
        add_noise(sig + down, n - down, -65.0);
        add_speech(sig, s1, len, 0, -100.0, 0.5);
        add_speech(sig, s2, len, 0, -100.0, 0.2);
        gv_vad_config c;
        gv_vad_config_default(&c, fs);
        run r;
        run_vad(&c, sig, n, &r);
        if (!none_sent(&r, (size_t)fs, up + MS(5500), s1 - MS(100)))
            fail_msg("frame %d: louder noise still sent after 5.5 s (seed %#x)", fs, SEED);
        assert_true(covered(&r, (size_t)fs, s1, s1 + len));
        assert_true(none_sent(&r, (size_t)fs, s1 + len + MS(400), s2 - MS(100)));
        assert_true(covered(&r, (size_t)fs, s2, s2 + len));
        run_free(&r);
        free(sig);
    }

    /* The floor itself: near the noise level, from below. */
    gv_vad_config c;
    gv_vad *vad;
    gv_vad_config_default(&c, 960);
    assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
    float frame[960];
    const float *send[GV_VAD_MAX_SEND];
    int count;
    for (int f = 0; f < 300; f++) {
        memset(frame, 0, sizeof(frame));
        add_noise(frame, 960, f < 150 ? -50.0 : -70.0);
        gv_vad_process(vad, frame, send, &count, NULL);
        if (f == 149) {
            float fl = gv_vad_floor_dbfs(vad);
            if (fl > -49.0f || fl < -54.0f)
                fail_msg("floor %g at -50 dBFS noise", fl);
        }
    }
    float fl = gv_vad_floor_dbfs(vad);
    if (fl > -69.0f || fl < -74.0f)
        fail_msg("floor %g at -70 dBFS noise", fl);
    gv_vad_destroy(vad);
}

/* Quiet input far above a digitally silent floor stays below the absolute
 * gate; the same tone above the gate starts speech. */
static void test_absolute_gate(void **state)
{
    (void)state;
    static const struct {
        double level;
        int sends;
    } rows[] = {{-62.0, 0}, {-57.0, 0}, {-52.0, 1}, {-30.0, 1}};
    for (size_t k = 0; k < NELEM(rows); k++) {
        size_t n = MS(3000), at = MS(1000);
        float *sig = calloc(n, sizeof(float));
        assert_non_null(sig);
        double amp = sqrt(2.0) * db_to_amp(rows[k].level);
        for (size_t i = at; i < n; i++)
            sig[i] = (float)(amp * sin(2 * PI * 500.0 * (double)i / RATE));
        gv_vad_config c;
        gv_vad_config_default(&c, 960);
        run r;
        run_vad(&c, sig, n, &r);
        size_t sent = 0;
        for (size_t f = 0; f < r.frames; f++)
            sent += r.sent[f];
        if (rows[k].sends ? sent == 0 : sent != 0)
            fail_msg("tone at %g dBFS: %zu frames sent", rows[k].level, sent);
        run_free(&r);
        free(sig);
    }
}

/* reset forgets the pre-roll: frames from before it are never handed out. */
static void test_reset(void **state)
{
    (void)state;
    gv_vad_config c;
    gv_vad *vad;
    gv_vad_config_default(&c, 480);
    c.preroll_ms = 100;
    assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
    float quiet[480], loud[480];
    const float *send[GV_VAD_MAX_SEND];
    int count;
    for (int i = 0; i < 480; i++) {
        quiet[i] = (float)(0.001 * gauss());
        loud[i] = (float)(0.3 * sin(2 * PI * 1000.0 * i / RATE));
    }
    for (int f = 0; f < 50; f++)
        gv_vad_process(vad, quiet, send, &count, NULL);
    assert_int_equal(gv_vad_process(vad, loud, send, &count, NULL), 1);
    assert_int_equal(count, 11); /* 10 frames of pre-roll and this one */
    for (int f = 0; f < 50; f++)
        gv_vad_process(vad, quiet, send, &count, NULL);
    assert_int_equal(gv_vad_active(vad), 0);
    gv_vad_reset(vad);
    assert_int_equal(gv_vad_active(vad), 0);
    gv_vad_process(vad, quiet, send, &count, NULL);
    gv_vad_process(vad, quiet, send, &count, NULL);
    assert_int_equal(gv_vad_process(vad, loud, send, &count, NULL), 1);
    assert_int_equal(count, 3);
    assert_memory_equal(send[0], quiet, sizeof(quiet));
    assert_memory_equal(send[2], loud, sizeof(loud));
    gv_vad_destroy(vad);
}

/* A talk spurt restarting soon after the last one ended gets back only the
 * frames it did not send: no frame goes out twice. */
static void test_preroll_not_resent(void **state)
{
    (void)state;
    gv_vad_config c;
    gv_vad *vad;
    gv_vad_config_default(&c, 480);
    c.hold_ms = 0;
    assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
    float quiet[480], loud[480];
    const float *send[GV_VAD_MAX_SEND];
    int count;
    for (int i = 0; i < 480; i++) {
        quiet[i] = (float)(0.001 * gauss());
        loud[i] = (float)(0.3 * sin(2 * PI * 1000.0 * i / RATE));
    }
    for (int f = 0; f < 50; f++)
        gv_vad_process(vad, quiet, send, &count, NULL);
    int unsent = 50; /* 60 ms of pre-roll is 6 frames of 10 ms */
    for (int gap = 1; gap <= 8; gap++) {
        for (int f = 0; f < 5; f++) {
            assert_int_equal(gv_vad_process(vad, loud, send, &count, NULL), 1);
            assert_int_equal(count, f == 0 ? 1 + (unsent < 6 ? unsent : 6) : 1);
        }
        unsent = gap;
        for (int f = 0; f < gap; f++) {
            assert_int_equal(gv_vad_process(vad, quiet, send, &count, NULL), 0);
            assert_int_equal(count, 0);
        }
    }
    gv_vad_destroy(vad);
}

/* A NaN or infinity in the input is skipped: it neither ruins the floor nor
 * makes steady noise look like speech. */
static void test_non_finite_input(void **state)
{
    (void)state;
    size_t n = MS(8000), at = MS(1000) + 123;
    float *sig = calloc(n, sizeof(float));
    assert_non_null(sig);
    add_noise_w(sig, n, -40.0, 0.0);
    sig[at] = NAN;
    sig[at + 7] = INFINITY;
    sig[at + 500] = -INFINITY;
    gv_vad_config c;
    gv_vad_config_default(&c, 960);
    gv_vad *vad;
    assert_int_equal(gv_vad_create(&c, &vad), GV_OK);
    const float *send[GV_VAD_MAX_SEND];
    int count, sent = 0;
    for (size_t f = 0; f < n / 960; f++) {
        float level;
        gv_vad_process(vad, sig + f * 960, send, &count, &level);
        assert_true(isfinite(level) && level > -45.0f && level < -35.0f);
        sent += count;
    }
    assert_int_equal(sent, 0);
    assert_true(isfinite(gv_vad_floor_dbfs(vad)) && gv_vad_floor_dbfs(vad) > -45.0f);
    gv_vad_destroy(vad);
    free(sig);
}

/* Steady typing (a click every other frame, 20 dB above the room) stops
 * counting as speech once the floor's window has filled: the floor follows
 * the smoothed level, not the quiet frames between the clicks. */
static void test_clicks_settle(void **state)
{
    (void)state;
    size_t fs = 960, n = MS(8000);
    float *sig = calloc(n, sizeof(float));
    assert_non_null(sig);
    for (size_t f = 0; f < n / fs; f++)
        add_noise_w(sig + f * fs, fs, f % 2 ? -50.0 : -70.0, 0.0);
    gv_vad_config c;
    gv_vad_config_default(&c, (int)fs);
    run r;
    run_vad(&c, sig, n, &r);
    assert_true(none_sent(&r, fs, MS(5500), n));
    run_free(&r);
    free(sig);
}

int main(void)
{
    test_rng_seed(SEED);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_level),
        cmocka_unit_test(test_noise_not_sent),
        cmocka_unit_test(test_onset_preroll),
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_hysteresis),
        cmocka_unit_test(test_floor_adapts),
        cmocka_unit_test(test_absolute_gate),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_preroll_not_resent),
        cmocka_unit_test(test_non_finite_input),
        cmocka_unit_test(test_clicks_settle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
