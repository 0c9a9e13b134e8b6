/* Short-time Fourier analysis (GV_DENOISE_WIN samples, hop GV_CLEAN_STEP),
 * a noise estimate by improved minima-controlled recursive averaging
 * (IMCRA, Cohen 2003) and the optimally modified log-spectral amplitude
 * gain (OM-LSA, Cohen and Berdugo 2001), then weighted overlap-add.
 *
 * Why these: minimum tracking needs no voice detector, so noise is learnt
 * during speech too (in the gaps between harmonics and words) and a louder
 * fan is followed once the minimum windows have rolled over (about 3 s for
 * +10 dB); the second, speech-excluding pass of IMCRA keeps the estimate
 * from being dragged up by speech; the log-spectral gain, weighted
 * geometrically by a speech presence probability that looks at whole
 * neighbourhoods of bins, leaves a quiet copy of the noise instead of
 * isolated bins (musical noise). The window (GV_DENOISE_WIN, zero-padded
 * to GV_DENOISE_FFT) is the square root of one whose copies GV_CLEAN_STEP
 * apart sum to 1, used for analysis and synthesis alike, so unit gains give
 * the input back exactly, GV_DENOISE_DELAY samples late. */
#include "audio/gv_denoise.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_rfft.h"
#include "audio/gv_resup.h"
#include "gvoip/error.h"

#define GV_DENOISE_WIN 768
#define GV_DENOISE_FFT 1024
#define GV_DENOISE_BINS (GV_DENOISE_FFT / 2 + 1)
#define GV_DENOISE_TAPER (GV_DENOISE_WIN - GV_CLEAN_STEP)

#if GV_DENOISE_TAPER != GV_DENOISE_DELAY
#error "the delay is the windows' overlap"
#endif

#define GV_DENOISE_PI 3.14159265358979323846

/* Minimum tracking: GV_DENOISE_SUBWINS sub-windows of GV_DENOISE_SUBWIN
 * steps, 1.5 s in all: longer than the words of running speech (a 1 s
 * window let it into the estimate), short enough to follow a change of
 * noise within seconds. */
#define GV_DENOISE_SUBWIN 15
#define GV_DENOISE_SUBWINS 10
/* The second pass, which excludes speech already, takes its minimum over
 * the newest GV_DENOISE_SUBWINS2 sub-windows only: its window starts
 * filling only once the first pass has let a changed noise in. */
#define GV_DENOISE_SUBWINS2 5

/* Steps taken for noise at the start (see learn_start). */
#define GV_DENOISE_START_STEPS 10

/* Smoothing of the periodogram over time before the minimum is taken. */
#define GV_DENOISE_ALPHA_S 0.9f
/* The minimum of a smoothed periodogram of noise lies below its mean by
 * about this factor (Cohen's value; with this window and smoothing it puts
 * the noise about 10% high, erring towards suppression). */
#define GV_DENOISE_BMIN 1.66f
/* A bin is taken for noise in the second pass when its power is below
 * GAMMA0 and its smoothed power below ZETA0 times the minimum; it is surely
 * noise below 1 and surely speech above GAMMA1. */
#define GV_DENOISE_GAMMA0 4.6f
#define GV_DENOISE_GAMMA1 3.0f
#define GV_DENOISE_ZETA0 1.67f
/* Noise update per step where speech is absent, and the compensation of
 * the bias that updating only in its absence leaves. */
#define GV_DENOISE_ALPHA_D 0.85f
#define GV_DENOISE_BETA 1.47f
/* Decision-directed a-priori SNR: weight of the previous step's estimate
 * (low: speech onsets and weak harmonics keep their gain, which is what
 * intelligibility measures; 0.85 lost 0.01 of STOI at 5-10 dB SNR),
 * and its lower bound. */
#define GV_DENOISE_ALPHA_DD 0.6f
#define GV_DENOISE_XI_MIN 0.003f
/* OM-LSA's speech absence: the smoothing of the a-priori SNR over time,
 * the SNRs below and above which speech is taken for absent and present,
 * the bounds of the frame's peak SNR, the half-width of the global
 * neighbourhood in bins (about 1 kHz) and the highest a-priori probability
 * of absence (below 1, so that a strong onset still gets through; 0.95,
 * Cohen's value, turned weak speech and onsets down far enough to cost
 * 0.002-0.005 of STOI in pink noise and fan hum at 0-10 dB SNR). */
#define GV_DENOISE_ALPHA_Z 0.3f
#define GV_DENOISE_ZETA_LO 0.1f
#define GV_DENOISE_ZETA_HI 0.316f
#define GV_DENOISE_PEAK_LO 1.0f
#define GV_DENOISE_PEAK_HI 10.0f
#define GV_DENOISE_GLOBAL_W 10
#define GV_DENOISE_Q_GAIN_MAX 0.8f
/* Keeps powers normal floats on silence and denormal input (-150 dB
 * relative to full scale per bin, far below any microphone's noise). */
#define GV_DENOISE_EPS 1e-12f

/* The band of the frame's speech presence and of the step's speech
 * probability: where voiced speech has its harmonics and formants. */
#define GV_DENOISE_BAND_LO_HZ 150
#define GV_DENOISE_BAND_HI_HZ 5000
/* The step's speech probability is a logistic function of the mean log
 * likelihood ratio of speech over the band: one half at GV_DENOISE_LLR_MID,
 * steepness GV_DENOISE_LLR_SLOPE. Noise alone averages about 0, voiced
 * speech at 10 dB SNR several units. */
#define GV_DENOISE_LLR_MID 1.0f
#define GV_DENOISE_LLR_SLOPE 4.0f
/* Below a speech probability of 1 / GV_DENOISE_PAUSE_SLOPE a step is
 * pulled towards the floor whole. */
#define GV_DENOISE_PAUSE_SLOPE 20.0f
/* A step whose echo suppression keeps less than this share of its power
 * (-6 dB) counts as that much less likely to be speech. */
#define GV_DENOISE_ECHO_KEPT 0.25
/* Resting: once the pauses' gain (output against input over analysed
 * steps with a speech probability under GV_DENOISE_REST_PROB, none at
 * GV_DENOISE_REST_SPEECH or more in between) has moved by less than
 * GV_DENOISE_REST_STILL_DB over GV_DENOISE_REST_AFTER such steps, a step
 * that is no louder than they were (GV_DENOISE_REST_RISE, 1.8 dB, in the
 * speech band and in hiss) and not much quieter (GV_DENOISE_REST_FALL,
 * -3 dB) is only scaled by that gain: the room's own noise, which the
 * analysis would turn down by as much. A client idle in a lobby spends
 * most of its time here; the analysis (two transforms, six exp/log per
 * bin) is most of the clean chain's cost. The estimate waits meanwhile,
 * and after GV_DENOISE_REST_SPAN steps of rest it runs again until the gain
 * has held still once more (a second or so): the estimate keeps converging
 * for many seconds, and analysing every few steps instead made it drift
 * (its smoothing assumes every step). */
#define GV_DENOISE_REST_AFTER 100
#define GV_DENOISE_REST_STILL_DB 1.0
#define GV_DENOISE_REST_SPAN 500
#define GV_DENOISE_REST_PROB 0.1f
#define GV_DENOISE_REST_SPEECH 0.5f
#define GV_DENOISE_REST_RISE 1.5
#define GV_DENOISE_REST_FALL 0.5
/* Smoothing of the resting reference levels per analysed pause step. */
#define GV_DENOISE_REST_ALPHA 0.02
/* Noise that the minimum tracking cannot tell from a talker (babble, which
 * is speech; clicks, which come and go faster than any minimum) leaves
 * almost no step that looks like a pause, and turning it down there only
 * carves into the talker: in babble at 0 dB SNR the full depth lost 0.012
 * of STOI for 1.3 dB less noise. So the depth follows the share of steps
 * taken for pauses (speech probability under GV_DENOISE_REST_PROB, rested
 * steps included), smoothed over GV_DENOISE_SHARE_STEPS steps (6 s, longer
 * than the talk spurts of running speech): the full max_reduction_db at
 * a share of GV_DENOISE_SHARE_HI and up, only GV_DENOISE_UNSURE_DB at
 * GV_DENOISE_SHARE_LO and down, in between interpolated in dB. Steady
 * noises with a talker came to 0.18 or more once settled, babble and the
 * clicks of a keyboard to 0.08 or less. The share starts at 0: steady noise
 * brings it to full depth within about a second, and until then the
 * noise is turned down less, not more. */
#define GV_DENOISE_SHARE_STEPS 600
#define GV_DENOISE_SHARE_LO 0.08f
#define GV_DENOISE_SHARE_HI 0.16f
#define GV_DENOISE_UNSURE_DB 2.0f

/* A step's mean squares: whole, in the speech band (ns->band, a band-pass
 * around 1 kHz, 0.35 to 2.9 kHz, where voiced speech outweighs a room's
 * noise, which has most of its power below) and of its second difference
 * (tilted by 12 dB an octave: hiss and fricatives). */
typedef struct step_levels {
    double level, band, hiss;
} step_levels;

struct gv_denoise {
    gv_denoise_config cfg;
    float log_gain_min;  /* the configured depth (natural log of the lowest gain) */
    float log_unsure;    /* the depth where the noise looks like speech (GV_DENOISE_UNSURE_DB) */
    float log_floor;     /* the depth for the step at hand */
    float pause_share;   /* steps taken for pauses, smoothed (GV_DENOISE_SHARE_STEPS) */
    gv_rfft *fft;
    gv_resup *resup;
    int band_lo, band_hi;

    float win[GV_DENOISE_WIN]; /* analysis = synthesis window */
    float in[GV_DENOISE_WIN];  /* the last GV_DENOISE_WIN input samples */
    float echo[GV_DENOISE_WIN];
    float ola[GV_DENOISE_TAPER]; /* the synthesis still to be added */
    double t[GV_DENOISE_FFT]; /* a windowed frame, zero-padded */
    double e_re[GV_DENOISE_BINS], e_im[GV_DENOISE_BINS];
    double y_re[GV_DENOISE_BINS], y_im[GV_DENOISE_BINS];

    int steps; /* steps since create or reset, up to GV_DENOISE_START_STEPS + 1 */
    int sub_steps; /* steps in the current sub-window */
    int sub_next;  /* sub-window slot to overwrite next */
    float speech_prob;
    float zeta_frame_prev, zeta_peak; /* the band's mean zeta at the last step, its peak */

    float power[GV_DENOISE_BINS];
    float smooth[GV_DENOISE_BINS]; /* first pass: every bin */
    float smin[GV_DENOISE_BINS];
    float stmp[GV_DENOISE_BINS];
    float smooth2[GV_DENOISE_BINS]; /* second pass: bins without speech */
    float smin2[GV_DENOISE_BINS];
    float stmp2[GV_DENOISE_BINS];
    float sub_min[GV_DENOISE_SUBWINS][GV_DENOISE_BINS];
    float sub_min2[GV_DENOISE_SUBWINS][GV_DENOISE_BINS];
    float noise_bar[GV_DENOISE_BINS]; /* noise estimate before the bias compensation */
    float start_mean[GV_DENOISE_BINS];
    float start_total; /* mean power of the steps in start_mean */
    int start_count;   /* steps in start_mean */
    float speech_prev[GV_DENOISE_BINS]; /* previous step's speech power estimate */
    float absent_noise[GV_DENOISE_BINS]; /* IMCRA's, for the noise update */
    float absent_gain[GV_DENOISE_BINS];  /* OM-LSA's, for the gain */
    float post[GV_DENOISE_BINS];         /* a-posteriori SNR */
    float xi[GV_DENOISE_BINS];           /* a-priori SNR */
    float zeta[GV_DENOISE_BINS];         /* a-priori SNR smoothed over time */
    float gain[GV_DENOISE_BINS];
    float gain_echo[GV_DENOISE_BINS];

    /* Resting (GV_DENOISE_REST_AFTER): analysed pause steps since the last
     * speech, their levels and the share of their power the gains kept
     * (smoothed), steps rested in all and since the last look round. */
    int pause_steps;
    step_levels pause;
    double pause_kept;
    uint64_t rested;
    int rest_run;
    int settled;     /* the pauses' gain moved by less than GV_DENOISE_REST_STILL_DB */
    double pause_db; /* the pauses' gain (dB) at the last check, GV_DENOISE_REST_AFTER steps ago */
    double band_b0, band_a1, band_a2; /* the speech band's filter (b1 = 0, b2 = -b0) */
    double band_z[4];                 /* its last two inputs and outputs */
};

void gv_denoise_config_default(gv_denoise_config *cfg)
{
    if (!cfg)
        return;
    cfg->suppress_noise = 1;
    cfg->max_reduction_db = 25.0f;
    cfg->rest = 1;
}

static int config_valid(const gv_denoise_config *c)
{
    return (c->suppress_noise == 0 || c->suppress_noise == 1) && (c->rest == 0 || c->rest == 1) &&
           isfinite(c->max_reduction_db) &&
           c->max_reduction_db >= 3.0f && c->max_reduction_db <= 60.0f;
}

void gv_denoise_echo_changed(gv_denoise *ns)
{
    if (ns)
        gv_resup_relearn(ns->resup);
}

void gv_denoise_reset(gv_denoise *ns)
{
    if (!ns)
        return;
    memset(ns->in, 0, sizeof ns->in);
    memset(ns->echo, 0, sizeof ns->echo);
    memset(ns->ola, 0, sizeof ns->ola);
    ns->steps = 0;
    ns->start_count = 0;
    ns->start_total = 0.0f;
    ns->sub_steps = 0;
    ns->sub_next = 0;
    ns->speech_prob = 0.0f;
    ns->zeta_frame_prev = 0.0f;
    ns->zeta_peak = GV_DENOISE_PEAK_LO;
    ns->pause_share = 0.0f;
    ns->pause_steps = 0;
    ns->settled = 0;
    ns->rest_run = 0;
    memset(ns->band_z, 0, sizeof ns->band_z);
    gv_resup_reset(ns->resup);
}

int gv_denoise_create(const gv_denoise_config *cfg, gv_denoise **out)
{
    gv_denoise_config def;
    gv_denoise *ns;
    int rc;

    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (!cfg) {
        gv_denoise_config_default(&def);
        cfg = &def;
    }
    if (!config_valid(cfg))
        return GV_EINVAL;
    ns = calloc(1, sizeof *ns);
    if (!ns)
        return GV_ENOMEM;
    ns->cfg = *cfg;
    ns->log_gain_min = -cfg->max_reduction_db / 20.0f * logf(10.0f);
    /* max_reduction_db is at least 3: never deeper than the configured depth. */
    ns->log_unsure = -GV_DENOISE_UNSURE_DB / 20.0f * logf(10.0f);
    rc = gv_rfft_create(GV_DENOISE_FFT, &ns->fft);
    if (rc == 0)
        rc = gv_resup_create(GV_DENOISE_BINS, GV_CLEAN_STEP, &ns->resup);
    if (rc != 0) {
        gv_denoise_destroy(ns);
        return rc;
    }
    /* Square roots of a window whose copies GV_CLEAN_STEP apart sum to 1:
     * raised-cosine tapers of GV_DENOISE_TAPER around a flat middle. */
    for (int n = 0; n < GV_DENOISE_WIN; n++) {
        double w = 1.0;
        if (n < GV_DENOISE_TAPER)
            w = sin(GV_DENOISE_PI / 2.0 * (n + 0.5) / GV_DENOISE_TAPER);
        else if (n >= GV_CLEAN_STEP)
            w = cos(GV_DENOISE_PI / 2.0 * (n - GV_CLEAN_STEP + 0.5) / GV_DENOISE_TAPER);
        ns->win[n] = (float)w;
    }
    /* A band-pass (a resonator of peak gain 1, Q 0.5) around 1 kHz. */
    double w0 = 2.0 * GV_DENOISE_PI * 1000.0 / GV_CLEAN_RATE, alpha = sin(w0) / (2.0 * 0.5);
    ns->band_b0 = alpha / (1.0 + alpha);
    ns->band_a1 = -2.0 * cos(w0) / (1.0 + alpha);
    ns->band_a2 = (1.0 - alpha) / (1.0 + alpha);
    ns->band_lo = GV_DENOISE_BAND_LO_HZ * GV_DENOISE_FFT / GV_CLEAN_RATE;
    ns->band_hi = GV_DENOISE_BAND_HI_HZ * GV_DENOISE_FFT / GV_CLEAN_RATE;
    gv_denoise_reset(ns);
    *out = ns;
    return 0;
}

void gv_denoise_destroy(gv_denoise *ns)
{
    if (!ns)
        return;
    gv_rfft_destroy(ns->fft);
    gv_resup_destroy(ns->resup);
    free(ns);
}

/* fminf and fmaxf are library calls in a build without -ffast-math; NaN
 * cannot reach these. */
static inline float min_f(float a, float b)
{
    return a < b ? a : b;
}

static inline float max_f(float a, float b)
{
    return a > b ? a : b;
}

/* The exponential integral E1(x) for x > 0: its series below 1, the rational
 * approximation of Abramowitz and Stegun 5.1.56 above (error < 5e-5), which
 * reuses exp(-x), already needed by the caller. */
static float expint(float x, float exp_neg_x)
{
    if (x < 1.0f)
        return -0.5772157f - logf(x) +
               x * (1.0f - x * (0.25f - x * (1.0f / 18.0f - x * (1.0f / 96.0f - x / 600.0f))));
    return exp_neg_x / x * (x * x + 2.334733f * x + 0.250621f) /
           (x * x + 3.330657f * x + 1.681534f);
}

/* 0.25, 0.5, 0.25 across frequency, the edges mirrored. */
static float smooth_freq(const float *v, int k)
{
    int lo = k > 0 ? k - 1 : 1;
    int hi = k < GV_DENOISE_BINS - 1 ? k + 1 : GV_DENOISE_BINS - 2;
    return 0.25f * v[lo] + 0.5f * v[k] + 0.25f * v[hi];
}

/* The first GV_DENOISE_START_STEPS steps after create or reset are taken
 * for noise: the estimate starts from their mean, and the minima from the
 * mean's expected minimum. Starting from one step's periodogram instead
 * would leave bins that happened to be quiet underestimated (and passed as
 * speech) until the minimum window has rolled over. A step more than twice
 * as loud as the mean so far is left out as speech; one less than half as
 * loud restarts the mean, the steps before it having been speech. */
static void learn_start(gv_denoise *ns)
{
    float total = 0.0f, w;

    if (ns->steps == 1) {
        memset(ns->speech_prev, 0, sizeof ns->speech_prev);
        memset(ns->zeta, 0, sizeof ns->zeta);
    }
    for (int k = 0; k < GV_DENOISE_BINS; k++)
        total += ns->power[k];
    if (ns->start_count > 0 && total > 2.0f * ns->start_total)
        return;
    if (ns->start_count == 0 || total < 0.5f * ns->start_total)
        ns->start_count = 0;
    w = 1.0f / (float)++ns->start_count;
    ns->start_total += w * (total - ns->start_total);
    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        float sf = smooth_freq(ns->power, k);
        float m = ns->start_count == 1 ? sf : ns->start_mean[k] + w * (sf - ns->start_mean[k]);
        ns->start_mean[k] = m;
        ns->smooth[k] = ns->smooth2[k] = m;
        ns->smin[k] = ns->stmp[k] = ns->smin2[k] = ns->stmp2[k] = m / GV_DENOISE_BMIN;
        for (int u = 0; u < GV_DENOISE_SUBWINS; u++)
            ns->sub_min[u][k] = ns->sub_min2[u][k] = m / GV_DENOISE_BMIN;
        ns->noise_bar[k] = m / GV_DENOISE_BETA;
    }
}

/* IMCRA's two minimum-tracking passes, leaving in ns->absent_noise the
 * a-priori probability of speech absence per bin. */
static void track_minima(gv_denoise *ns)
{
    const float a = GV_DENOISE_ALPHA_S;
    float *q = ns->absent_noise;

    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        float s = a * ns->smooth[k] + (1.0f - a) * smooth_freq(ns->power, k);
        ns->smooth[k] = s;
        ns->smin[k] = min_f(ns->smin[k], s);
        ns->stmp[k] = min_f(ns->stmp[k], s);
        float ref = 1.0f / (GV_DENOISE_BMIN * ns->smin[k]);
        q[k] = ns->power[k] * ref < GV_DENOISE_GAMMA0 && s * ref < GV_DENOISE_ZETA0 ? 1.0f : 0.0f;
    }
    /* Second pass: smoothed over the bins judged free of speech only. */
    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        int lo = k > 0 ? k - 1 : 1;
        int hi = k < GV_DENOISE_BINS - 1 ? k + 1 : GV_DENOISE_BINS - 2;
        float wsum = 0.25f * q[lo] + 0.5f * q[k] + 0.25f * q[hi];
        float sf = ns->smooth2[k];
        if (wsum > 0.0f)
            sf = (0.25f * q[lo] * ns->power[lo] + 0.5f * q[k] * ns->power[k] +
                  0.25f * q[hi] * ns->power[hi]) /
                 wsum;
        ns->smooth2[k] = a * ns->smooth2[k] + (1.0f - a) * sf;
    }
    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        float s2 = ns->smooth2[k];
        ns->smin2[k] = min_f(ns->smin2[k], s2);
        ns->stmp2[k] = min_f(ns->stmp2[k], s2);
        float ref = 1.0f / (GV_DENOISE_BMIN * ns->smin2[k]);
        float g = ns->power[k] * ref;
        float z = ns->smooth[k] * ref;
        float absent = 0.0f;
        if (z < GV_DENOISE_ZETA0) {
            if (g <= 1.0f)
                absent = 1.0f;
            else if (g < GV_DENOISE_GAMMA1)
                absent = (GV_DENOISE_GAMMA1 - g) / (GV_DENOISE_GAMMA1 - 1.0f);
        }
        q[k] = absent;
    }
    if (++ns->sub_steps == GV_DENOISE_SUBWIN) {
        int u = ns->sub_next;
        ns->sub_steps = 0;
        ns->sub_next = (u + 1) % GV_DENOISE_SUBWINS;
        memcpy(ns->sub_min[u], ns->stmp, sizeof ns->stmp);
        memcpy(ns->sub_min2[u], ns->stmp2, sizeof ns->stmp2);
        memcpy(ns->smin, ns->sub_min[u], sizeof ns->smin);
        memcpy(ns->smin2, ns->sub_min2[u], sizeof ns->smin2);
        for (int v = 1; v < GV_DENOISE_SUBWINS; v++) {
            int w = (u + GV_DENOISE_SUBWINS - v) % GV_DENOISE_SUBWINS;
            for (int k = 0; k < GV_DENOISE_BINS; k++)
                ns->smin[k] = min_f(ns->smin[k], ns->sub_min[w][k]);
            if (v < GV_DENOISE_SUBWINS2)
                for (int k = 0; k < GV_DENOISE_BINS; k++)
                    ns->smin2[k] = min_f(ns->smin2[k], ns->sub_min2[w][k]);
        }
        memcpy(ns->stmp, ns->smooth, sizeof ns->stmp);
        memcpy(ns->stmp2, ns->smooth2, sizeof ns->stmp2);
    }
}

/* The probability that speech is present where a smoothed a-priori SNR
 * is z: none below GV_DENOISE_ZETA_LO, certain above GV_DENOISE_ZETA_HI,
 * linear in between. */
static float presence(float z)
{
    float p = (z - GV_DENOISE_ZETA_LO) * (1.0f / (GV_DENOISE_ZETA_HI - GV_DENOISE_ZETA_LO));
    return min_f(max_f(p, 0.0f), 1.0f);
}

/* OM-LSA's a-priori probability of speech absence per bin (into
 * ns->absent_gain) from the a-priori SNR smoothed over time, then over 3
 * bins (local), over GV_DENOISE_GLOBAL_W * 2 + 1 bins (global) and over the
 * speech band (the frame): a lone bin of noise that happens to peak is
 * absent in all but the local view, while speech raises its whole
 * neighbourhood. */
static void speech_absence(gv_denoise *ns)
{
    const int w = GV_DENOISE_GLOBAL_W;
    float *z = ns->zeta;
    float sum = 0.0f, frame = 0.0f, pf;

    for (int k = 0; k < GV_DENOISE_BINS; k++)
        z[k] = GV_DENOISE_ALPHA_Z * z[k] + (1.0f - GV_DENOISE_ALPHA_Z) * ns->xi[k];
    for (int k = ns->band_lo; k <= ns->band_hi; k++)
        frame += z[k];
    frame /= (float)(ns->band_hi - ns->band_lo + 1);
    if (frame <= GV_DENOISE_ZETA_LO) {
        pf = 0.0f;
    } else if (frame > ns->zeta_frame_prev) {
        pf = 1.0f;
        ns->zeta_peak = min_f(max_f(frame, GV_DENOISE_PEAK_LO), GV_DENOISE_PEAK_HI);
    } else {
        pf = presence(frame / ns->zeta_peak);
    }
    ns->zeta_frame_prev = frame;

    for (int k = 0; k <= w; k++)
        sum += z[k];
    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        /* Running sum over the bins k - w .. k + w that exist. */
        int lo = k - w, hi = k + w;
        int count = (hi < GV_DENOISE_BINS ? hi : GV_DENOISE_BINS - 1) - (lo > 0 ? lo : 0) + 1;
        float pl = presence(smooth_freq(z, k));
        float pg = presence(sum / (float)count);
        ns->absent_gain[k] = min_f(1.0f - pl * pg * pf, GV_DENOISE_Q_GAIN_MAX);
        if (hi + 1 < GV_DENOISE_BINS)
            sum += z[hi + 1];
        if (lo >= 0)
            sum -= z[lo];
    }
}

/* Counts a step into the share of pauses (GV_DENOISE_SHARE_STEPS). */
static void follow_pauses(gv_denoise *ns, int pause)
{
    ns->pause_share += ((pause ? 1.0f : 0.0f) - ns->pause_share) * (1.0f / GV_DENOISE_SHARE_STEPS);
}

/* The OM-LSA gain per bin into ns->gain, the noise estimate's update and
 * the step's speech probability. */
static void estimate(gv_denoise *ns)
{
    float llr = 0.0f;
    float t = (ns->pause_share - GV_DENOISE_SHARE_LO) * (1.0f / (GV_DENOISE_SHARE_HI - GV_DENOISE_SHARE_LO));

    t = min_f(max_f(t, 0.0f), 1.0f);
    ns->log_floor = ns->log_unsure + t * (ns->log_gain_min - ns->log_unsure);
    track_minima(ns);
    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        float noise = GV_DENOISE_BETA * ns->noise_bar[k] + GV_DENOISE_EPS;
        float post = ns->power[k] / noise;
        float xi = GV_DENOISE_ALPHA_DD * ns->speech_prev[k] / noise +
                   (1.0f - GV_DENOISE_ALPHA_DD) * max_f(post - 1.0f, 0.0f);
        ns->post[k] = post;
        ns->xi[k] = max_f(xi, GV_DENOISE_XI_MIN);
    }
    speech_absence(ns);
    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        float xi = ns->xi[k];
        float r = xi / (1.0f + xi);
        float v = max_f(ns->post[k] * r, 1e-6f);
        float env = expf(-v);
        /* The log-spectral amplitude gain under speech presence, at most 1. */
        float log_g1 = min_f(logf(r) + 0.5f * expint(v, env), 0.0f);
        float lr = (1.0f + xi) * env; /* 1 / the likelihood ratio of speech */
        float qg = ns->absent_gain[k];
        float pg = 1.0f / (1.0f + qg / (1.0f - qg) * lr);
        float qn = ns->absent_noise[k];
        float pn = qn < 1.0f ? 1.0f / (1.0f + qn / (1.0f - qn) * lr) : 0.0f;
        /* Below the floor the conditional gain would carve holes between
         * the harmonics of strong speech. */
        float g = expf(max_f(pg * log_g1 + (1.0f - pg) * ns->log_floor, ns->log_floor));
        ns->gain[k] = g;
        /* The speech estimate the next step's a-priori SNR starts from: with
         * the gain applied, so that noise that passed for speech a moment
         * is not remembered as such. */
        ns->speech_prev[k] = g * g * ns->power[k];
        float ad = GV_DENOISE_ALPHA_D + (1.0f - GV_DENOISE_ALPHA_D) * pn;
        ns->noise_bar[k] = ad * ns->noise_bar[k] + (1.0f - ad) * ns->power[k];
        if (k >= ns->band_lo && k <= ns->band_hi)
            llr += v - logf(1.0f + xi);
    }
    /* The DC and Nyquist bins hold no speech, and being real their
     * periodograms scatter twice as widely as the others', which the
     * estimator is not tuned for: floored. */
    ns->gain[0] = ns->gain[GV_DENOISE_BINS - 1] = expf(ns->log_gain_min);
    llr /= (float)(ns->band_hi - ns->band_lo + 1);
    ns->speech_prob = 1.0f / (1.0f + expf(-GV_DENOISE_LLR_SLOPE * (llr - GV_DENOISE_LLR_MID)));
    follow_pauses(ns, ns->speech_prob < GV_DENOISE_REST_PROB);
    /* A step that surely holds no speech goes to the floor whole: the
     * a-priori SNR follows quickly (for the speech's sake), which leaves
     * bins of noise poking through in pauses, heard as musical noise. */
    float w = min_f(ns->speech_prob * GV_DENOISE_PAUSE_SLOPE, 1.0f);
    if (w < 1.0f)
        for (int k = 1; k < GV_DENOISE_BINS - 1; k++)
            ns->gain[k] = expf(w * logf(ns->gain[k]) + (1.0f - w) * ns->log_floor);
}

/* Measures x (ns->in still ends before it). */
static step_levels measure(gv_denoise *ns, const float *x)
{
    double l = 0.0, b = 0.0, h = 0.0;
    double *z = ns->band_z;
    float p2 = ns->in[GV_DENOISE_WIN - 2], p1 = ns->in[GV_DENOISE_WIN - 1];
    for (int n = 0; n < GV_CLEAN_STEP; n++) {
        double v = (double)x[n];
        double y = ns->band_b0 * (v - z[1]) - ns->band_a1 * z[2] - ns->band_a2 * z[3];
        double d = v - 2.0 * (double)p1 + (double)p2;
        z[1] = z[0];
        z[0] = v;
        z[3] = z[2];
        z[2] = y;
        p2 = p1;
        p1 = x[n];
        l += v * v;
        b += y * y;
        h += d * d;
    }
    /* A denormal state would slow every later step down. */
    for (int i = 0; i < 4; i++)
        if (fabs(z[i]) < 1e-30)
            z[i] = 0.0;
    return (step_levels){l / GV_CLEAN_STEP, b / GV_CLEAN_STEP, h / GV_CLEAN_STEP};
}

/* A step may rest when the pauses' gain has settled, no echo is being
 * suppressed, and the step is no louder than the pauses in the speech band
 * or in hiss (where speech shows first) nor much quieter overall (the room
 * got quieter: the estimate must follow). Louder at low frequencies alone
 * (a rumble) it still rests: the analysis would take that for noise too. */
static int may_rest(const gv_denoise *ns, const float *echo, const step_levels *m)
{
    return !echo && ns->settled &&
           m->band <= ns->pause.band * GV_DENOISE_REST_RISE && m->hiss <= ns->pause.hiss * GV_DENOISE_REST_RISE &&
           m->level >= ns->pause.level * GV_DENOISE_REST_FALL;
}

/* Follows the levels of analysed pause steps and the share of their power
 * the gains kept; speech starts it all over. */
static void note_pause(gv_denoise *ns, const float *echo, const step_levels *m)
{
    if (echo || ns->steps <= GV_DENOISE_START_STEPS ||
        ns->speech_prob >= GV_DENOISE_REST_SPEECH) {
        ns->pause_steps = 0;
        ns->settled = 0;
        return;
    }
    if (ns->speech_prob >= GV_DENOISE_REST_PROB)
        return;
    /* The share of the frame's power its gains kept: the output's level
     * against the input's, without the overlap's mixing of steps. */
    double kept = 0.0, all = 0.0;
    for (int k = 0; k < GV_DENOISE_BINS; k++) {
        kept += (double)ns->gain[k] * ns->gain[k] * ns->power[k];
        all += (double)ns->power[k];
    }
    double share = kept / (all + 1e-30);
    if (ns->pause_steps % GV_DENOISE_REST_AFTER == 0) {
        /* Settled once the pauses' gain held still for a while: the
         * estimate keeps converging for seconds after the room changed,
         * and resting would keep the gain where it stood. */
        double g_db = ns->pause_steps ? 10.0 * log10(ns->pause_kept + 1e-30) : 0.0;
        ns->settled = ns->pause_steps > 0 && fabs(g_db - ns->pause_db) < GV_DENOISE_REST_STILL_DB;
        ns->pause_db = g_db;
    }
    if (ns->pause_steps++ == 0) {
        ns->pause = *m;
        ns->pause_kept = share;
    } else {
        ns->pause.level += GV_DENOISE_REST_ALPHA * (m->level - ns->pause.level);
        ns->pause.band += GV_DENOISE_REST_ALPHA * (m->band - ns->pause.band);
        ns->pause.hiss += GV_DENOISE_REST_ALPHA * (m->hiss - ns->pause.hiss);
        ns->pause_kept += GV_DENOISE_REST_ALPHA * (share - ns->pause_kept);
    }
}

/* The synthesis in ns->t, overlap-added into frame. */
static void overlap_add(gv_denoise *ns, float *frame)
{
    const int n_new = GV_CLEAN_STEP, keep = GV_DENOISE_TAPER;
    for (int n = 0; n < keep; n++)
        frame[n] = ns->ola[n] + (float)ns->t[n];
    for (int n = keep; n < n_new; n++)
        frame[n] = (float)ns->t[n];
    for (int n = 0; n < keep; n++)
        ns->ola[n] = (float)ns->t[n_new + n];
}

/* The synthesis of the frame with every bin's gain g: the windowed input
 * itself, windowed again and scaled. */
static void synthesise_scaled(gv_denoise *ns, float *frame, float g)
{
    for (int n = 0; n < GV_DENOISE_WIN; n++)
        ns->t[n] = (double)(g * ns->win[n] * ns->win[n] * ns->in[n]);
    overlap_add(ns, frame);
}

int gv_denoise_process(gv_denoise *ns, float *frame, const float *echo)
{
    const int n_new = GV_CLEAN_STEP, keep = GV_DENOISE_TAPER, N = GV_DENOISE_FFT;
    int any_gain;
    /* Only an instance that may rest measures and follows its pauses. */
    const int may = ns && ns->cfg.rest && ns->cfg.suppress_noise;
    step_levels m = {0};

    if (!ns || !frame)
        return GV_EINVAL;
    if (may)
        m = measure(ns, frame);
    memmove(ns->in, ns->in + n_new, keep * sizeof *ns->in);
    memcpy(ns->in + keep, frame, n_new * sizeof *frame);
    memmove(ns->echo, ns->echo + n_new, keep * sizeof *ns->echo);
    if (echo)
        memcpy(ns->echo + keep, echo, n_new * sizeof *echo);
    else
        memset(ns->echo + keep, 0, n_new * sizeof *ns->echo);

    if (may && may_rest(ns, echo, &m)) {
        float g = (float)sqrt(ns->pause_kept);
        synthesise_scaled(ns, frame, min_f(g, 1.0f));
        ns->rested++;
        follow_pauses(ns, 1);
        if (++ns->rest_run == GV_DENOISE_REST_SPAN) {
            /* A look round: the analysis runs until the gain has held
             * still once more. */
            ns->rest_run = 0;
            ns->settled = 0;
        }
        return 0;
    }

    for (int n = GV_DENOISE_WIN; n < N; n++)
        ns->t[n] = 0.0;
    if (echo) {
        for (int n = 0; n < GV_DENOISE_WIN; n++)
            ns->t[n] = (double)(ns->win[n] * ns->echo[n]);
        gv_rfft_forward(ns->fft, ns->t, ns->y_re, ns->y_im);
    }
    for (int n = 0; n < GV_DENOISE_WIN; n++)
        ns->t[n] = (double)(ns->win[n] * ns->in[n]);
    gv_rfft_forward(ns->fft, ns->t, ns->e_re, ns->e_im);
    for (int k = 0; k < GV_DENOISE_BINS; k++)
        ns->power[k] = (float)(ns->e_re[k] * ns->e_re[k] + ns->e_im[k] * ns->e_im[k]) + GV_DENOISE_EPS;

    /* The first step's window still holds the zeros of before the start:
     * no estimate from it. */
    if (ns->steps > 0) {
        if (ns->steps <= GV_DENOISE_START_STEPS)
            learn_start(ns);
        estimate(ns);
    }
    if (ns->steps <= GV_DENOISE_START_STEPS)
        ns->steps++;
    any_gain = ns->cfg.suppress_noise && ns->steps > 1;
    if (!any_gain)
        for (int k = 0; k < GV_DENOISE_BINS; k++)
            ns->gain[k] = 1.0f;
    if (echo) {
        double all = 0.0, kept = 0.0;
        gv_resup_gains(ns->resup, ns->e_re, ns->e_im, ns->y_re, ns->y_im, ns->gain_echo);
        for (int k = 0; k < GV_DENOISE_BINS; k++) {
            ns->gain[k] = min_f(ns->gain[k], ns->gain_echo[k]);
            if (k >= ns->band_lo && k <= ns->band_hi) {
                all += ns->power[k];
                kept += ns->power[k] * ns->gain_echo[k] * ns->gain_echo[k];
            }
        }
        /* What stands out of the noise may be the far end's echo, not the
         * near talker: the automatic gain must not take the echo's residue
         * for speech and raise it. The step counts as speech only as far as
         * the suppression of the echo leaves its power. */
        ns->speech_prob *= (float)fmin(1.0, kept / (all * GV_DENOISE_ECHO_KEPT + 1e-30));
        any_gain = 1;
    }

    if (any_gain) {
        for (int k = 0; k < GV_DENOISE_BINS; k++) {
            double g = (double)ns->gain[k];
            ns->e_re[k] *= g;
            ns->e_im[k] *= g;
        }
        gv_rfft_inverse(ns->fft, ns->e_re, ns->e_im, ns->t);
        for (int n = 0; n < GV_DENOISE_WIN; n++)
            ns->t[n] *= (double)ns->win[n];
        overlap_add(ns, frame);
    } else {
        /* Nothing to change: the synthesis of the unchanged spectrum is the
         * frame under both windows. */
        synthesise_scaled(ns, frame, 1.0f);
    }
    if (may)
        note_pause(ns, echo, &m);
    return 0;
}

uint64_t gv_denoise_rested_steps(const gv_denoise *ns)
{
    return ns ? ns->rested : 0;
}

float gv_denoise_speech_probability(const gv_denoise *ns)
{
    return ns ? ns->speech_prob : 0.0f;
}
