/* gvoip-cleanbench: gvoip's clean-input stages (echo cancellation, noise
 * and residual-echo suppression, automatic gain) against libspeexdsp's and
 * webrtc-audio-processing 0.3's on the same generated material, in one
 * run. Prints Markdown tables to stdout (progress on stderr); every figure
 * is computed here from the engines' outputs against the clean signals. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align.h"
#include "audio/gv_clean.h"
#include "audio/gv_denoise.h"
#include "cb_engine.h"
#include "cb_metric.h"
#include "cb_signal.h"
#include "gvoip/error.h"
#include "wav.h"

#define RATE GV_CLEAN_RATE
#define STEP GV_CLEAN_STEP
#define FRAMES_PER_S (RATE / STEP)

#define NEAR_DBFS (-26.0)      /* the near talker's active level */
#define FAR_DBFS (-20.0)       /* the far end as played */
#define FAR_CLIP_DBFS (-12.0)  /* ...louder into the clipping loudspeaker */
#define CLIP_LIMIT_DBFS (-6.0) /* the loudspeaker's soft clipping */
#define FLOOR_DBFS (-85.0)     /* pink background under the echo scenes */
#define AGC_SNR_DB 30.0        /* background under the gain scenes */
#define AGC_TARGET_DBFS (-20.0)
#define NOISE_LEAD_S 3.0 /* noise alone before the talker starts */
#define AGC_LEAD_S 0.5
#define TAIL_S 0.5        /* after the material; covers every engine's delay */
#define NS_SKIP_S 2.0     /* noise figures start here: the estimates have settled */
#define ECHO_SKIP_S 2.0   /* ERLE skips this after the start and after a path change */
#define AGC_SKIP_S 3.0
#define CONV_WINDOW_S 0.5
#define CONV_ERLE_DB 30.0
#define DT_GUARD_FRAMES 10 /* ERLE ignores this much after double talk ends */
#define MAX_LATENCY_S 0.2
#define PROBE_S 4.0
#define MAX_LIST 8
#define BABBLE_VOICES 4

#define ALL_STAGES 8 /* index by stage bits */

static const char *const near_text =
    "The boat drifted slowly past the old harbour wall. Nobody had expected the storm to arrive before "
    "noon. Please put the blue folder back on the shelf by the window. We measured the room twice and "
    "still got two different answers. Seven green apples were left in the basket after lunch. Turn left "
    "at the bakery and keep walking until you see the bridge. The meeting moved to Thursday because the "
    "projector was broken. She wrote the numbers on a card and handed it across the table.";
static const char *const far_text =
    "Can you hear me now? I think the line was cutting out a moment ago. Let me read the list again from "
    "the top. Four bags of flour, a box of nails, and the red paint for the fence. The train leaves at "
    "half past eight, so we should be at the station by eight. If the weather holds we can walk along "
    "the river instead of taking the bus. Tell me when you are ready and I will start counting.";
static const char *const babble_voice[BABBLE_VOICES] = {"en+m3", "en+f2", "en-us+m5", "en+f4"};
static const char *const babble_text[BABBLE_VOICES] = {
    "Did you see the game last night? The second half was much better than the first, and the crowd "
    "was on its feet for the last ten minutes.",
    "I ordered the soup and a salad, but the waiter brought fish instead, so we all laughed about it and "
    "shared everything on the table.",
    "The new office is on the third floor, next to the kitchen, which is nice except when somebody burns "
    "the toast again in the morning.",
    "My sister is moving to the coast in spring, and she wants help carrying the piano down four flights "
    "of narrow stairs."};

typedef struct noise_kind {
    const char *key;
    const char *label;
    int stationary;
} noise_kind;

static const noise_kind noises[] = {
    {"pink", "pink", 1},        {"brown", "brown", 1},       {"white", "white", 1},
    {"fan", "fan hum", 1},      {"keyboard", "keyboard", 0}, {"babble", "babble", 0},
};
#define N_NOISES ((int)(sizeof noises / sizeof noises[0]))

typedef struct scene {
    const char *key;
    const char *label;
    int dt;           /* the near talker speaks in the middle third */
    double rt60;      /* s */
    int change;       /* a second room impulse response from half way on */
    int delay_ms;     /* bulk delay */
    double echo_db;   /* echo's active level against the near talker's */
    int clip;         /* the loudspeaker clips softly */
} scene;

static const scene scenes[] = {
    {"st200", "single talk, RT60 200 ms, 20 ms, echo -6 dB", 0, 0.2, 0, 20, -6, 0},
    {"st400", "single talk, RT60 400 ms, 40 ms, echo -10 dB", 0, 0.4, 0, 40, -10, 0},
    {"st600", "single talk, RT60 600 ms, 60 ms, echo -6 dB", 0, 0.6, 0, 60, -6, 0},
    {"clip", "single talk, soft clipping at -6 dBFS, RT60 400 ms, 30 ms, echo -6 dB", 0, 0.4, 0, 30, -6, 1},
    {"change", "single talk, path change half way, RT60 400 ms, 40 ms, echo -10 dB", 0, 0.4, 1, 40, -10, 0},
    {"dt6", "double talk, RT60 400 ms, 40 ms, echo -6 dB", 1, 0.4, 0, 40, -6, 0},
    {"dt10", "double talk, RT60 600 ms, 60 ms, echo -10 dB", 1, 0.6, 0, 60, -10, 0},
    {"dt20", "double talk, RT60 200 ms, 20 ms, echo -20 dB", 1, 0.2, 0, 20, -20, 0},
};
#define N_SCENES ((int)(sizeof scenes / sizeof scenes[0]))

typedef struct noise_row {
    int noise;
    double snr;
    double sdr_in, stoi_in;
    double sdri[CB_ENGINES], att[CB_ENGINES], dstoi[CB_ENGINES];
} noise_row;

typedef struct echo_row {
    int scene;
    double dt_sdr_in, dt_stoi_in;
    double erle[CB_ENGINES], conv[CB_ENGINES], dt_sdr[CB_ENGINES], dt_stoi[CB_ENGINES];
} echo_row;

typedef struct agc_row {
    double level_in;
    double level[CB_ENGINES], reach[CB_ENGINES], rise[CB_ENGINES], peak[CB_ENGINES];
} agc_row;

typedef struct bench {
    uint64_t seed;
    double seconds;
    const char *keep;
    char tmp[4096];
    int use_noise[N_NOISES];
    int use_scene[N_SCENES];
    double snr[MAX_LIST];
    int n_snr;
    double level[MAX_LIST];
    int n_level;

    float *near, *far, *babble[BABBLE_VOICES];
    size_t near_n, far_n, babble_n[BABBLE_VOICES];

    int latency[CB_ENGINES][ALL_STAGES];
    double clean_sdr[CB_ENGINES]; /* the noise stage on speech without noise */
    double cpu[CB_ENGINES][ALL_STAGES];
    double audio_s[CB_ENGINES][ALL_STAGES];

    noise_row nrow[N_NOISES * MAX_LIST];
    int n_nrow;
    echo_row erow[N_SCENES];
    int n_erow;
    agc_row arow[MAX_LIST];
    int n_arow;
    int full_chain_scene; /* the scene timed with all three stages, or -1 */
} bench;

static size_t frames_of(double s)
{
    return (size_t)ceil(s * FRAMES_PER_S);
}

static double db_to_power(double db)
{
    return pow(10.0, db / 10.0);
}

/* Scales x (n samples) so that its active level is dbfs. */
static void set_active_level(float *x, size_t n, double dbfs)
{
    double p = cb_signal_active_power(x, n);
    if (p > 0)
        cb_signal_scale(x, n, sqrt(db_to_power(dbfs) / p));
}

static float *zeros(size_t n)
{
    float *x = calloc(n ? n : 1, sizeof *x);
    if (!x) {
        fputs("gvoip-cleanbench: out of memory\n", stderr);
        exit(1);
    }
    return x;
}

static void die_rc(const char *what, int rc)
{
    fprintf(stderr, "gvoip-cleanbench: %s failed (%d)\n", what, rc);
    exit(1);
}

static void keep_wav(const bench *b, const char *name, const float *x, size_t n)
{
    char path[4200];
    if (!b->keep)
        return;
    snprintf(path, sizeof path, "%s/%s.wav", b->keep, name);
    if (gv_wav_write(path, x, n, RATE) < 0)
        fprintf(stderr, "gvoip-cleanbench: could not write %s\n", path);
}

/* Runs engine id with stages on mic (and ref) into out, counting its CPU
 * time; returns out advanced by the engine's delay. */
static const float *run(bench *b, cb_engine_id id, int stages, int delay, const float *mic,
                        const float *ref, size_t n, float *out)
{
    cb_engine *e;
    int rc = cb_engine_create(id, stages, delay, &e);
    if (rc < 0)
        die_rc(cb_engine_name(id), rc);
    rc = cb_engine_run(e, mic, ref, n, out, &b->cpu[id][stages]);
    cb_engine_destroy(e);
    if (rc < 0)
        die_rc(cb_engine_name(id), rc);
    b->audio_s[id][stages] += (double)n / RATE;
    return out + b->latency[id][stages];
}

static uint64_t mix_seed(uint64_t seed, uint64_t what, uint64_t which)
{
    return seed * 0x100000001b3ull ^ (what << 32) ^ which;
}

/* ---- speech ---------------------------------------------------------- */

static float *speak(bench *b, const char *voice, const char *text, size_t min_n, size_t *n)
{
    float *x;
    int rc = cb_signal_speak(b->tmp, voice, text, min_n, &x, n);
    if (rc < 0) {
        fprintf(stderr, "gvoip-cleanbench: espeak-ng (voice %s) failed (%d); scripts/deps.sh installs it\n",
                voice, rc);
        exit(1);
    }
    return x;
}

static void make_speech(bench *b)
{
    size_t need = (size_t)((2.0 * b->seconds + 1.0) * RATE);
    b->near = speak(b, "en", near_text, need, &b->near_n);
    b->far = speak(b, "en+f3", far_text, need, &b->far_n);
    if (b->use_noise[N_NOISES - 1]) {
        for (int v = 0; v < BABBLE_VOICES; v++)
            b->babble[v] = speak(b, babble_voice[v], babble_text[v], need, &b->babble_n[v]);
    }
}

/* ---- delays ---------------------------------------------------------- */

static const int stage_sets[] = {CB_STAGE_NS, CB_STAGE_ECHO | CB_STAGE_NS, CB_STAGE_NS | CB_STAGE_AGC,
                                 CB_STAGE_ECHO | CB_STAGE_NS | CB_STAGE_AGC};
#define N_STAGE_SETS ((int)(sizeof stage_sets / sizeof stage_sets[0]))

/* A run outside the CPU accounting. */
static void probe_run(cb_engine_id id, int stages, const float *mic, size_t n, float *out)
{
    double cpu = 0;
    cb_engine *e;
    int rc = cb_engine_create(id, stages, 0, &e);
    if (rc == 0)
        rc = cb_engine_run(e, mic, NULL, n, out, &cpu);
    cb_engine_destroy(e);
    if (rc < 0)
        die_rc(cb_engine_name(id), rc);
}

/* Each engine's delay in each configuration, from the cross-correlation
 * of its output with its input on speech in pink noise at 20 dB (no far
 * end): the figures are then scored against time-aligned references.
 * Then the noise stage on the same speech without noise: what it does to
 * a clean talker bounds every SI-SDR it can reach. */
static void probe_latency(bench *b)
{
    size_t n = frames_of(AGC_LEAD_S + PROBE_S + TAIL_S) * STEP, lead = frames_of(AGC_LEAD_S) * STEP;
    size_t speech = (size_t)(PROBE_S * RATE), settled = lead + RATE;
    float *clean = zeros(n), *mic = zeros(n), *noise = zeros(n), *out = zeros(n);
    memcpy(clean + lead, b->near, speech * sizeof *clean);
    set_active_level(clean, n, NEAR_DBFS);
    memcpy(mic, clean, n * sizeof *mic);
    int rc = cb_signal_colored(noise, n, 1.0, mix_seed(b->seed, 9, 0));
    if (rc < 0)
        die_rc("noise", rc);
    cb_signal_scale(noise, n, sqrt(db_to_power(NEAR_DBFS - 20.0)));
    for (size_t i = 0; i < n; i++)
        mic[i] += noise[i];
    for (int id = 0; id < CB_ENGINES; id++) {
        for (int s = 0; s < N_STAGE_SETS; s++) {
            double d;
            probe_run((cb_engine_id)id, stage_sets[s], mic, n, out);
            rc = gv_align_delay(mic, n, out, n, (size_t)(MAX_LATENCY_S * RATE), &d);
            if (rc < 0)
                die_rc("delay probe", rc);
            long lat = lround(d);
            if (lat < 0 || lat >= (long)(TAIL_S * RATE)) {
                fprintf(stderr, "gvoip-cleanbench: %s's delay reads %ld samples; out of range\n",
                        cb_engine_name((cb_engine_id)id), lat);
                exit(1);
            }
            b->latency[id][stage_sets[s]] = (int)lat;
        }
        probe_run((cb_engine_id)id, CB_STAGE_NS, clean, n, out);
        const float *o = out + b->latency[id][CB_STAGE_NS];
        b->clean_sdr[id] = cb_metric_si_sdr(clean + settled, o + settled, lead + speech - settled);
    }
    free(clean);
    free(mic);
    free(noise);
    free(out);
}

/* ---- noise ----------------------------------------------------------- */

static void make_noise(bench *b, int kind, float *out, size_t n)
{
    uint64_t seed = mix_seed(b->seed, 1, (uint64_t)kind);
    int rc = 0;
    const char *key = noises[kind].key;
    if (!strcmp(key, "pink"))
        rc = cb_signal_colored(out, n, 1.0, seed);
    else if (!strcmp(key, "brown"))
        rc = cb_signal_colored(out, n, 2.0, seed);
    else if (!strcmp(key, "white"))
        rc = cb_signal_colored(out, n, 0.0, seed);
    else if (!strcmp(key, "fan"))
        rc = cb_signal_fan(out, n, seed);
    else if (!strcmp(key, "keyboard"))
        rc = cb_signal_keyboard(out, n, seed);
    else {
        /* Four talkers at equal active levels, each from a random point of
         * its own text. */
        cb_rng r;
        cb_rng_seed(&r, seed);
        memset(out, 0, n * sizeof *out);
        for (int v = 0; v < BABBLE_VOICES; v++) {
            size_t len = b->babble_n[v], at = (size_t)(cb_rng_uniform(&r) * (double)len);
            float *one = zeros(n);
            for (size_t i = 0; i < n; i++)
                one[i] = b->babble[v][(at + i) % len];
            set_active_level(one, n, 0.0);
            for (size_t i = 0; i < n; i++)
                out[i] += one[i];
            free(one);
        }
        double p = cb_signal_power(out, n);
        cb_signal_scale(out, n, 1.0 / sqrt(p));
    }
    if (rc < 0)
        die_rc("noise", rc);
}

static void noise_scenes(bench *b)
{
    size_t lead = frames_of(NOISE_LEAD_S) * STEP, speech = frames_of(b->seconds) * STEP;
    size_t n = lead + speech + frames_of(TAIL_S) * STEP;
    size_t from = frames_of(NS_SKIP_S), to = (lead + speech) / STEP;
    size_t win0 = from * STEP, win_n = (to - from) * STEP;
    float *clean = zeros(n), *noise = zeros(n), *mix = zeros(n), *out = zeros(n);
    unsigned char *pause = malloc(n / STEP);
    if (!pause)
        die_rc("allocation", GV_ENOMEM);
    memcpy(clean + lead, b->near, speech * sizeof *clean);
    set_active_level(clean, n, NEAR_DBFS);
    cb_metric_masks(clean, n, NULL, pause);
    double speech_p = cb_signal_active_power(clean, n);
    for (int k = 0; k < N_NOISES; k++) {
        if (!b->use_noise[k])
            continue;
        make_noise(b, k, noise, n);
        for (int s = 0; s < b->n_snr; s++) {
            noise_row *row = &b->nrow[b->n_nrow++];
            char name[128];
            fprintf(stderr, "gvoip-cleanbench: noise %s at %g dB\n", noises[k].key, b->snr[s]);
            row->noise = k;
            row->snr = b->snr[s];
            /* SNR: the speech's active power over the noise's mean power
             * across the whole file. */
            double g = sqrt(speech_p / db_to_power(b->snr[s]));
            for (size_t i = 0; i < n; i++)
                mix[i] = (float)(clean[i] + g * noise[i]);
            snprintf(name, sizeof name, "noise-%s-%g-mix", noises[k].key, b->snr[s]);
            keep_wav(b, name, mix, n);
            row->sdr_in = cb_metric_si_sdr(clean + win0, mix + win0, win_n);
            if (cb_metric_stoi(clean + win0, mix + win0, win_n, &row->stoi_in) < 0)
                die_rc("STOI", GV_EINVAL);
            for (int id = 0; id < CB_ENGINES; id++) {
                const float *o = run(b, (cb_engine_id)id, CB_STAGE_NS, 0, mix, NULL, n, out);
                double st;
                snprintf(name, sizeof name, "noise-%s-%g-%s", noises[k].key, b->snr[s],
                         cb_engine_key((cb_engine_id)id));
                keep_wav(b, name, o, n - (size_t)(o - out));
                row->sdri[id] = cb_metric_si_sdr(clean + win0, o + win0, win_n) - row->sdr_in;
                row->att[id] = cb_metric_ratio_db(mix, o, pause, from, to);
                row->dstoi[id] = cb_metric_stoi(clean + win0, o + win0, win_n, &st) == 0 ? st - row->stoi_in : NAN;
            }
        }
    }
    free(clean);
    free(noise);
    free(mix);
    free(out);
    free(pause);
}

/* ---- echo ------------------------------------------------------------ */

typedef struct echo_material {
    size_t n, third, half; /* samples; third and half are frame-aligned */
    float *near, *far, *echo, *mic;
    unsigned char *far_only; /* frames without the near talker */
    double echo_p;           /* the echo's active power */
} echo_material;

static void make_echo(bench *b, int k, echo_material *m)
{
    const scene *sc = &scenes[k];
    size_t third = frames_of(2.0 * b->seconds / 3.0) * STEP, n = 3 * third + frames_of(TAIL_S) * STEP;
    size_t delay = (size_t)sc->delay_ms * RATE / 1000;
    m->n = n;
    m->third = third;
    m->half = (3 * third / 2) / STEP * STEP;
    m->near = zeros(n);
    m->far = zeros(n);
    m->echo = zeros(n);
    m->mic = zeros(n);
    m->far_only = malloc(n / STEP);
    if (!m->far_only)
        die_rc("allocation", GV_ENOMEM);
    memcpy(m->far, b->far, 3 * third * sizeof *m->far);
    set_active_level(m->far, n, sc->clip ? FAR_CLIP_DBFS : FAR_DBFS);

    float *played = zeros(n), *part = zeros(n), *h;
    size_t h_len;
    memcpy(played, m->far, n * sizeof *played);
    if (sc->clip)
        cb_signal_soft_clip(played, n, pow(10.0, CLIP_LIMIT_DBFS / 20.0));
    for (int p = 0; p < (sc->change ? 2 : 1); p++) {
        size_t lo = sc->change && p == 1 ? m->half : 0, hi = sc->change && p == 0 ? m->half : n;
        /* What was played before the change still decays in the old room. */
        float *x = zeros(n);
        memcpy(x + lo, played + lo, (hi - lo) * sizeof *x);
        int rc = cb_signal_rir(sc->rt60, delay, mix_seed(b->seed, 2, (uint64_t)(k * 2 + p)), &h, &h_len);
        if (rc == 0)
            rc = cb_signal_convolve(x, n, h, h_len, part);
        if (rc < 0)
            die_rc("room", rc);
        for (size_t i = 0; i < n; i++)
            m->echo[i] += part[i];
        free(h);
        free(x);
    }
    free(played);
    free(part);
    if (sc->dt) {
        memcpy(m->near + third, b->near, third * sizeof *m->near);
        set_active_level(m->near, n, NEAR_DBFS);
    }
    set_active_level(m->echo, n, NEAR_DBFS + sc->echo_db);
    m->echo_p = cb_signal_active_power(m->echo, n);
    float *floor = zeros(n);
    int rc = cb_signal_colored(floor, n, 1.0, mix_seed(b->seed, 3, (uint64_t)k));
    if (rc < 0)
        die_rc("noise", rc);
    cb_signal_scale(floor, n, sqrt(db_to_power(FLOOR_DBFS)));
    for (size_t i = 0; i < n; i++)
        m->mic[i] = m->near[i] + m->echo[i] + floor[i];
    free(floor);
    size_t frames = n / STEP;
    for (size_t f = 0; f < frames; f++)
        m->far_only[f] = !sc->dt || f < third / STEP || f >= 2 * third / STEP + DT_GUARD_FRAMES;
}

static void free_echo(echo_material *m)
{
    free(m->near);
    free(m->far);
    free(m->echo);
    free(m->mic);
    free(m->far_only);
}

static void echo_scenes(bench *b)
{
    b->full_chain_scene = -1;
    for (int k = 0; k < N_SCENES; k++) {
        if (!b->use_scene[k])
            continue;
        const scene *sc = &scenes[k];
        echo_material m;
        char name[128];
        fprintf(stderr, "gvoip-cleanbench: echo scene %s\n", sc->key);
        make_echo(b, k, &m);
        size_t n = m.n, frames = n / STEP, end = 3 * m.third / STEP;
        float *out = zeros(n);
        unsigned char *erle_mask = malloc(frames);
        if (!erle_mask)
            die_rc("allocation", GV_ENOMEM);
        for (size_t f = 0; f < frames; f++) {
            size_t since = sc->change && f >= m.half / STEP ? f - m.half / STEP : f;
            erle_mask[f] = m.far_only[f] && since >= frames_of(ECHO_SKIP_S);
        }
        echo_row *row = &b->erow[b->n_erow++];
        row->scene = k;
        size_t dt0 = m.third, dt_n = m.third;
        if (sc->dt) {
            row->dt_sdr_in = cb_metric_si_sdr(m.near + dt0, m.mic + dt0, dt_n);
            if (cb_metric_stoi(m.near + dt0, m.mic + dt0, dt_n, &row->dt_stoi_in) < 0)
                die_rc("STOI", GV_EINVAL);
        }
        snprintf(name, sizeof name, "echo-%s-mic", sc->key);
        keep_wav(b, name, m.mic, n);
        snprintf(name, sizeof name, "echo-%s-ref", sc->key);
        keep_wav(b, name, m.far, n);
        int delay = sc->delay_ms * RATE / 1000;
        for (int id = 0; id < CB_ENGINES; id++) {
            const float *o = run(b, (cb_engine_id)id, CB_STAGE_ECHO | CB_STAGE_NS, delay, m.mic, m.far, n, out);
            snprintf(name, sizeof name, "echo-%s-%s", sc->key, cb_engine_key((cb_engine_id)id));
            keep_wav(b, name, o, n - (size_t)(o - out));
            row->erle[id] = cb_metric_ratio_db(m.echo, o, erle_mask, 0, end);
            size_t from = sc->change ? m.half / STEP : 0;
            row->conv[id] = cb_metric_convergence(m.echo, o, m.far_only, from, end, frames_of(CONV_WINDOW_S),
                                                  CONV_ERLE_DB, m.echo_p * 0.1);
            if (sc->dt) {
                row->dt_sdr[id] = cb_metric_si_sdr(m.near + dt0, o + dt0, dt_n);
                if (cb_metric_stoi(m.near + dt0, o + dt0, dt_n, &row->dt_stoi[id]) < 0)
                    row->dt_stoi[id] = NAN;
            }
        }
        /* All three stages at once, timed on the first double-talk scene. */
        if (b->full_chain_scene < 0 && sc->dt) {
            b->full_chain_scene = k;
            for (int id = 0; id < CB_ENGINES; id++)
                run(b, (cb_engine_id)id, CB_STAGE_ECHO | CB_STAGE_NS | CB_STAGE_AGC, delay, m.mic, m.far, n, out);
        }
        free(out);
        free(erle_mask);
        free_echo(&m);
    }
}

/* ---- gain ------------------------------------------------------------ */

static void agc_scenes(bench *b)
{
    size_t lead = frames_of(AGC_LEAD_S) * STEP, speech = frames_of(b->seconds) * STEP;
    size_t n = lead + speech + frames_of(TAIL_S) * STEP, frames = n / STEP;
    /* Settling is counted from the talker's first word. */
    size_t from = lead / STEP + frames_of(AGC_SKIP_S), to = (lead + speech) / STEP;
    float *clean = zeros(n), *noise = zeros(n), *mic = zeros(n), *ns_out = zeros(n), *out = zeros(n);
    unsigned char *active = malloc(frames), *pause = malloc(frames);
    if (!active || !pause)
        die_rc("allocation", GV_ENOMEM);
    memcpy(clean + lead, b->near, speech * sizeof *clean);
    cb_metric_masks(clean, n, active, pause);
    int rc = cb_signal_colored(noise, n, 1.0, mix_seed(b->seed, 4, 0));
    if (rc < 0)
        die_rc("noise", rc);
    for (int l = 0; l < b->n_level; l++) {
        agc_row *row = &b->arow[b->n_arow++];
        char name[128];
        fprintf(stderr, "gvoip-cleanbench: gain at %g dBFS\n", b->level[l]);
        set_active_level(clean, n, b->level[l]);
        double g = sqrt(db_to_power(b->level[l] - AGC_SNR_DB));
        for (size_t i = 0; i < n; i++)
            mic[i] = (float)(clean[i] + g * noise[i]);
        /* A converter clips what the talker's peaks push past full scale. */
        cb_signal_clip(mic, n);
        row->level_in = cb_db(cb_metric_power(mic, active, 0, to));
        snprintf(name, sizeof name, "gain-%g-mic", b->level[l]);
        keep_wav(b, name, mic, n);
        for (int id = 0; id < CB_ENGINES; id++) {
            const float *ns = run(b, (cb_engine_id)id, CB_STAGE_NS, 0, mic, NULL, n, ns_out);
            const float *o = run(b, (cb_engine_id)id, CB_STAGE_NS | CB_STAGE_AGC, 0, mic, NULL, n, out);
            snprintf(name, sizeof name, "gain-%g-%s", b->level[l], cb_engine_key((cb_engine_id)id));
            keep_wav(b, name, o, n - (size_t)(o - out));
            row->level[id] = cb_db(cb_metric_power(o, active, from, to));
            double t = cb_metric_reach_time(mic, o, active, to, frames_of(CONV_WINDOW_S), row->level_in,
                                            AGC_TARGET_DBFS, 3.0);
            row->reach[id] = t < 0 ? -1 : t - (double)lead / RATE;
            row->rise[id] = cb_metric_ratio_db(o, ns, pause, from, to);
            row->peak[id] = cb_metric_peak_dbfs(out, n);
        }
    }
    free(clean);
    free(noise);
    free(mic);
    free(ns_out);
    free(out);
    free(active);
    free(pause);
}

/* ---- report ---------------------------------------------------------- */

static void cell(double v, const char *fmt)
{
    if (isnan(v))
        fputs(" n/a |", stdout);
    else {
        putchar(' ');
        printf(fmt, v);
        fputs(" |", stdout);
    }
}

static void cells(const double *v, const char *fmt)
{
    for (int id = 0; id < CB_ENGINES; id++)
        cell(v[id], fmt);
}

static void seconds_cells(const double *v)
{
    for (int id = 0; id < CB_ENGINES; id++) {
        if (v[id] < 0)
            fputs(" never |", stdout);
        else
            printf(" %.2f |", v[id]);
    }
}

static void engine_header(const char *what)
{
    for (int id = 0; id < CB_ENGINES; id++)
        printf(" %s %s |", what, cb_engine_name((cb_engine_id)id));
}

static void align_row(int groups)
{
    fputs("|---|", stdout);
    for (int i = 0; i < groups; i++)
        fputs("---:|", stdout);
    putchar('\n');
}

/* A target's verdict: "met", "missed (what)" or "not run". */
typedef struct verdict {
    int checked;
    char missed[2048];
} verdict;

static void miss(verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void miss(verdict *v, const char *fmt, ...)
{
    size_t len = strlen(v->missed);
    va_list ap;
    if (len + 4 >= sizeof v->missed)
        return;
    if (len)
        strcat(v->missed, "; ");
    len = strlen(v->missed);
    va_start(ap, fmt);
    vsnprintf(v->missed + len, sizeof v->missed - len, fmt, ap);
    va_end(ap);
}

static void print_verdict(const char *target, const verdict *v)
{
    if (!v->checked)
        printf("| %s | not run |\n", target);
    else if (!v->missed[0])
        printf("| %s | **met** |\n", target);
    else
        printf("| %s | **missed**: %s |\n", target, v->missed);
}

static double pct(const bench *b, int id, int stages)
{
    return b->audio_s[id][stages] > 0 ? 100.0 * b->cpu[id][stages] / b->audio_s[id][stages] : NAN;
}

static void report(const bench *b)
{
    const int G = CB_ENGINE_GVOIP, S = CB_ENGINE_SPEEX, W = CB_ENGINE_WEBRTC;
    if (b->n_nrow) {
        printf("### Noise suppression (noise stage only, gain off)\n\n");
        printf("| noise | SNR dB | SI-SDR in dB | STOI in |");
        engine_header("SI-SDRi");
        engine_header("pause att. dB");
        engine_header("ΔSTOI");
        putchar('\n');
        align_row(3 + 3 * CB_ENGINES);
        for (int r = 0; r < b->n_nrow; r++) {
            const noise_row *row = &b->nrow[r];
            printf("| %s | %g |", noises[row->noise].label, row->snr);
            cell(row->sdr_in, "%.1f");
            cell(row->stoi_in, "%.3f");
            cells(row->sdri, "%.1f");
            cells(row->att, "%.1f");
            cells(row->dstoi, "%+.3f");
            putchar('\n');
        }
        putchar('\n');
    }
    if (b->n_erow) {
        printf("### Echo (canceller and suppressor, gain off)\n\n");
        printf("| scene | DT SI-SDR in dB | DT STOI in |");
        engine_header("ERLE dB");
        engine_header("conv. s");
        engine_header("DT SI-SDR dB");
        engine_header("DT STOI");
        putchar('\n');
        align_row(2 + 4 * CB_ENGINES);
        for (int r = 0; r < b->n_erow; r++) {
            const echo_row *row = &b->erow[r];
            const scene *sc = &scenes[row->scene];
            printf("| %s |", sc->label);
            if (sc->dt) {
                cell(row->dt_sdr_in, "%.1f");
                cell(row->dt_stoi_in, "%.3f");
            } else {
                fputs(" - | - |", stdout);
            }
            cells(row->erle, "%.1f");
            seconds_cells(row->conv);
            if (sc->dt) {
                cells(row->dt_sdr, "%.1f");
                cells(row->dt_stoi, "%.3f");
            } else {
                for (int i = 0; i < 2 * CB_ENGINES; i++)
                    fputs(" - |", stdout);
            }
            putchar('\n');
        }
        putchar('\n');
    }
    if (b->n_arow) {
        printf("### Automatic gain (noise and gain stages)\n\n");
        printf("| input active dBFS |");
        engine_header("level dBFS");
        engine_header("reach s");
        engine_header("pause rise dB");
        engine_header("max dBFS");
        putchar('\n');
        align_row(4 * CB_ENGINES);
        for (int r = 0; r < b->n_arow; r++) {
            const agc_row *row = &b->arow[r];
            printf("| %.1f |", row->level_in);
            cells(row->level, "%.1f");
            seconds_cells(row->reach);
            cells(row->rise, "%+.1f");
            cells(row->peak, "%.1f");
            putchar('\n');
        }
        putchar('\n');
    }

    printf("### CPU time and delay\n\n");
    printf("| stages (material) |");
    for (int id = 0; id < CB_ENGINES; id++)
        printf(" %s |", cb_engine_name((cb_engine_id)id));
    putchar('\n');
    align_row(CB_ENGINES);
    static const struct {
        int stages;
        const char *label;
    } rows[] = {
        {CB_STAGE_NS, "noise (noise table, gain table without gain)"},
        {CB_STAGE_ECHO | CB_STAGE_NS, "echo + noise (echo table)"},
        {CB_STAGE_NS | CB_STAGE_AGC, "noise + gain (gain table)"},
        {CB_STAGE_ECHO | CB_STAGE_NS | CB_STAGE_AGC, "all three (first double-talk scene)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (b->audio_s[0][rows[i].stages] <= 0)
            continue;
        printf("| %s, %% of one core |", rows[i].label);
        for (int id = 0; id < CB_ENGINES; id++)
            printf(" %.2f%% |", pct(b, id, rows[i].stages));
        putchar('\n');
    }
    printf("| noise stage on speech without noise: SI-SDR dB |");
    for (int id = 0; id < CB_ENGINES; id++)
        printf(" %.1f |", b->clean_sdr[id]);
    putchar('\n');
    printf("| added delay, ms (noise stage; the others add none) |");
    for (int id = 0; id < CB_ENGINES; id++)
        printf(" %.1f |", b->latency[id][CB_STAGE_NS] * 1000.0 / RATE);
    putchar('\n');
    putchar('\n');

    /* The targets. */
    verdict ns_web = {0}, ns_stoi = {0}, ns_babble = {0}, echo_erle = {0}, echo_dt = {0};
    verdict agc_level = {0}, agc_reach = {0}, agc_rise = {0}, agc_peak = {0}, cpu = {0};
    for (int r = 0; r < b->n_nrow; r++) {
        const noise_row *row = &b->nrow[r];
        const char *lab = noises[row->noise].label;
        if (noises[row->noise].stationary && row->snr >= 5 && row->snr <= 20) {
            ns_web.checked = 1;
            if (row->sdri[G] < row->sdri[W])
                miss(&ns_web, "%s %g dB SI-SDRi %.1f < %.1f", lab, row->snr, row->sdri[G], row->sdri[W]);
            if (row->att[G] < row->att[W])
                miss(&ns_web, "%s %g dB att. %.1f < %.1f", lab, row->snr, row->att[G], row->att[W]);
        }
        ns_stoi.checked = 1;
        if (!(row->dstoi[G] >= -0.0005))
            miss(&ns_stoi, "%s %g dB %+.3f", lab, row->snr, row->dstoi[G]);
        if (!strcmp(noises[row->noise].key, "babble")) {
            ns_babble.checked = 1;
            if (row->sdri[G] < 0 || row->att[G] < 0 || !(row->dstoi[G] >= -0.0005))
                miss(&ns_babble, "%g dB: SI-SDRi %.1f, att. %.1f, ΔSTOI %+.3f", row->snr, row->sdri[G], row->att[G],
                     row->dstoi[G]);
        }
    }
    for (int r = 0; r < b->n_erow; r++) {
        const echo_row *row = &b->erow[r];
        const scene *sc = &scenes[row->scene];
        echo_erle.checked = 1;
        if (row->erle[G] < CONV_ERLE_DB || row->conv[G] < 0 || row->conv[G] > ECHO_SKIP_S)
            miss(&echo_erle, "%s: %.1f dB, %s", sc->key, row->erle[G],
                 row->conv[G] < 0 ? "never converged" : row->conv[G] > ECHO_SKIP_S ? "converged late" : "in time");
        if (sc->dt) {
            echo_dt.checked = 1;
            if (row->dt_sdr[G] < row->dt_sdr[S] || !(row->dt_stoi[G] >= row->dt_stoi[S]))
                miss(&echo_dt, "%s: SI-SDR %.1f vs %.1f, STOI %.3f vs %.3f", sc->key, row->dt_sdr[G], row->dt_sdr[S],
                     row->dt_stoi[G], row->dt_stoi[S]);
        }
    }
    for (int r = 0; r < b->n_arow; r++) {
        const agc_row *row = &b->arow[r];
        agc_level.checked = agc_reach.checked = agc_rise.checked = agc_peak.checked = 1;
        if (fabs(row->level[G] - AGC_TARGET_DBFS) > 3.0)
            miss(&agc_level, "%.0f dBFS in: %.1f", row->level_in, row->level[G]);
        if (row->reach[G] < 0 || row->reach[G] > AGC_SKIP_S)
            miss(&agc_reach, "%.0f dBFS in: %s", row->level_in, row->reach[G] < 0 ? "never" : "late");
        if (row->rise[G] > 3.0)
            miss(&agc_rise, "%.0f dBFS in: %+.1f dB", row->level_in, row->rise[G]);
        if (row->peak[G] > -1.0)
            miss(&agc_peak, "%.0f dBFS in: %.1f dBFS", row->level_in, row->peak[G]);
    }
    int all = CB_STAGE_ECHO | CB_STAGE_NS | CB_STAGE_AGC;
    if (b->audio_s[G][all] > 0) {
        cpu.checked = 1;
        if (pct(b, G, all) > 2.0)
            miss(&cpu, "%.2f%%", pct(b, G, all));
    }
    printf("### gvoip against the targets\n\n");
    printf("| target | verdict |\n|---|---|\n");
    print_verdict("noise: SI-SDRi and pause attenuation at least webrtc 0.3's, stationary noises at 5-20 dB SNR",
                  &ns_web);
    print_verdict("noise: STOI never below the unprocessed input", &ns_stoi);
    print_verdict("noise: babble never worse than unprocessed (SI-SDRi, pause att., ΔSTOI all >= 0)", &ns_babble);
    print_verdict("echo: ERLE >= 30 dB after convergence, converged within 2 s", &echo_erle);
    print_verdict("echo: near talker in double talk at least speexdsp's (SI-SDR and STOI)", &echo_dt);
    print_verdict("gain: active level -20 +- 3 dBFS after 3 s", &agc_level);
    print_verdict("gain: within +-3 dB of -20 dBFS within 3 s", &agc_reach);
    print_verdict("gain: pause noise rise <= 3 dB", &agc_rise);
    print_verdict("gain: no sample beyond -1 dBFS", &agc_peak);
    print_verdict("CPU: all three stages <= 2% of one core", &cpu);
    putchar('\n');
}

/* ---- options --------------------------------------------------------- */

static void usage(void)
{
    fputs("usage: gvoip-cleanbench [--seed N] [--seconds S] [--noises LIST|none] [--snrs LIST]\n"
          "                        [--scenes LIST|none] [--levels LIST|none] [--keep DIR]\n"
          "  noises: pink,brown,white,fan,keyboard,babble   scenes: st200,st400,st600,clip,change,dt6,dt10,dt20\n"
          "  snrs (dB) and levels (dBFS): comma-separated numbers; defaults: everything, 12 s of speech\n",
          stderr);
}

/* Sets use[i] for each key of list found among the count keys, which are
 * the first members of structs stride bytes apart. */
static int pick(const char *list, const char *const *keys, size_t stride, int count, int *use)
{
    memset(use, 0, (size_t)count * sizeof *use);
    if (!strcmp(list, "none"))
        return 0;
    char buf[512];
    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int i = 0; i < count; i++) {
            const char *key = *(const char *const *)((const char *)keys + (size_t)i * stride);
            if (!strcmp(tok, key)) {
                use[i] = 1;
                found = 1;
            }
        }
        if (!found)
            return -1;
    }
    return 0;
}

static int numbers(const char *list, double *out, int *n)
{
    *n = 0;
    if (!strcmp(list, "none"))
        return 0;
    const char *p = list;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || *n >= MAX_LIST || !isfinite(v) || fabs(v) > 100)
            return -1;
        out[(*n)++] = v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static bench b;
    b.seed = 1;
    b.seconds = 12;
    for (int k = 0; k < N_NOISES; k++)
        b.use_noise[k] = 1;
    for (int k = 0; k < N_SCENES; k++)
        b.use_scene[k] = 1;
    numbers("0,5,10,20", b.snr, &b.n_snr);
    numbers("-40,-20,-6", b.level, &b.n_level);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = !v;
        if (!bad && !strcmp(a, "--seed")) {
            char *end;
            b.seed = strtoull(v, &end, 10);
            bad = !*v || *end;
        } else if (!bad && !strcmp(a, "--seconds")) {
            char *end;
            b.seconds = strtod(v, &end);
            bad = !*v || *end || !(b.seconds >= 3 && b.seconds <= 120);
        } else if (!bad && !strcmp(a, "--noises")) {
            bad = pick(v, &noises[0].key, sizeof noises[0], N_NOISES, b.use_noise) < 0;
        } else if (!bad && !strcmp(a, "--scenes")) {
            bad = pick(v, &scenes[0].key, sizeof scenes[0], N_SCENES, b.use_scene) < 0;
        } else if (!bad && !strcmp(a, "--snrs")) {
            bad = numbers(v, b.snr, &b.n_snr) < 0;
        } else if (!bad && !strcmp(a, "--levels")) {
            bad = numbers(v, b.level, &b.n_level) < 0;
        } else if (!bad && !strcmp(a, "--keep")) {
            b.keep = v;
        } else {
            bad = 1;
        }
        if (bad) {
            usage();
            return 2;
        }
        i++;
    }
    const char *tmpdir = getenv("TMPDIR");
    snprintf(b.tmp, sizeof b.tmp, "%s/gvoip-cleanbench.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(b.tmp)) {
        perror("gvoip-cleanbench: mkdtemp");
        return 1;
    }
    make_speech(&b);
    rmdir(b.tmp);
    probe_latency(&b);
    noise_scenes(&b);
    echo_scenes(&b);
    agc_scenes(&b);
    report(&b);
    free(b.near);
    free(b.far);
    for (int v = 0; v < BABBLE_VOICES; v++)
        free(b.babble[v]);
    return 0;
}
