#include "audio/gv_echo.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_echodrift.h"
#include "audio/gv_echohist.h"
#include "audio/gv_echolag.h"
#include "audio/gv_fft.h"
#include "gvoip/error.h"

/* Partitioned-block frequency-domain adaptive filter, overlap-save: each
 * step's block of EC_B samples is also the partition length, and a
 * transform of EC_N >= 2 EC_B - 1 points holds one partition's linear
 * convolution with one block without wrap-around. */
#define EC_B GV_CLEAN_STEP
#define EC_N 1024
#define EC_K (EC_N / 2 + 1)
/* Bins rounded up to a multiple of 4, so that the per-bin loops have no
 * remainder and the compiler vectorises them; the extra bins stay 0. */
#define EC_KP 516
#define EC_OFF (EC_N - EC_B) /* a block's place at the end of a frame */
#define EC_PER_MS (GV_CLEAN_RATE / 1000)

/* Contrast (bits) an estimate needs to move a window that once cancelled:
 * a near talker can make chance lags look a little better than average,
 * a moved echo makes its lag look much better. */
#define EC_JUMP_CONTRAST 4.5f
/* The foreground's ERLE below this: it adds its own wrong estimate to
 * the echo, so the echo has moved or changed (a near talker lowers the
 * ERLE towards 0 dB, not below). */
#define EC_LOST_DB (-1.0f)

#define EC_MU 1.0f /* largest normalised step of the adapting filter */
/* Step regularisation: a bin's normalisation never falls below this share
 * of the average bin's, so that bins the far end barely excites (and
 * which hold mostly other bins' leakage) do not take huge steps. */
#define EC_REG 0.3
/* Step control by the coherence of the microphone with the echo
 * estimate, per bin: high where the echo dominates and the filter models
 * it, low where a near talker dominates. Below EC_COH_LO no adaptation,
 * full step from EC_COH_HI. */
#define EC_COH_SMOOTH 0.85f
#define EC_COH_LO 0.6f
#define EC_COH_HI 0.9f
#define EC_SHARE_EVEN 0.5 /* of the step spread evenly over the partitions (share_steps) */
#define EC_BOOT 100 /* active steps of full-rate learning from an empty filter */
#define EC_LOST_STEP 0.5f /* least step while the filter has not (re)found the echo */
#define EC_CONV_DB 8.0f   /* ERLE that counts as cancelling, held 30 active steps */
/* A path that changed (the laptop moved) leaves a filter whose estimate
 * is about as loud as the microphone (no more than EC_CHANGED_LOUD times
 * quieter) but explains less of it than EC_CHANGED_FIT (the regression
 * of the microphone on the estimate), for EC_CHANGED_STEPS active steps
 * in a row. The ERLE can stay near 0 dB there, not below EC_LOST_DB, and
 * the coherence step control takes the mismatch for double talk and
 * barely adapts. A near talker leaves the regression near 1 (he is not
 * correlated with the estimate); he lowers it only while he is much
 * louder than the echo, and then the microphone is too. */
#define EC_CHANGED_FIT 0.75
#define EC_CHANGED_LOUD 2.0
#define EC_CHANGED_STEPS 15
/* Only a filter that had cancelled well is judged so: one whose ERLE
 * has been at least EC_HELD_DB on EC_HELD_STEPS more active steps than
 * below it (about 2 s of far-end speech), until it has been below on as
 * many more. On a loop whose delay keeps drifting (PulseAudio's
 * module-loopback adjusting its rate) the linear filter cancels 2-7 dB,
 * and its regression falls as low in double talk: taken there for a
 * changed path, the near talker lost his syllables to the relearning
 * suppressor. */
#define EC_HELD_DB 12.0f
#define EC_HELD_STEPS 200
/* The foreground's taps are kept every EC_KEEP_EVERY active steps while
 * it cancels at least EC_HELD_DB (smoothed) and EC_KEEP_FAST of the last
 * few steps' microphone (so that an echo that just moved, which the
 * smoothed ERLE still hides, is never kept), for EC_KEEP_FOR active steps:
 * when the echo moves (a latency change, a playback underrun), the moved
 * reference meets the taps that had it, not what the filters learnt of
 * the moved echo meanwhile. */
#define EC_KEEP_EVERY 25
#define EC_KEEP_FAST 0.1
#define EC_KEEP_FOR 500
#define EC_CONSTRAIN_EVERY 3
#define EC_ACTIVE_POW 1e-6f /* mean square of an audible reference block (-60 dBFS) */
#define EC_MIC_POW 1e-8f    /* and of a microphone block worth estimating from */

/* Another sound of the far end: its power spectrum (bins EC_SOUND_LO to
 * EC_SOUND_HI, ~190 Hz to 9.4 kHz, where speech has its harmonics) no
 * more alike the one that began the last sound than this (cosine of the
 * two). */
#define EC_SOUND_LO 4
#define EC_SOUND_HI 200
#define EC_SOUND_ALIKE 0.5

struct gv_echo {
    gv_fft *fft;
    int parts;     /* partitions */
    int max_delay; /* samples */

    gv_echohist *hist; /* the raw reference */
    double delay;      /* read delay of the filter's reference, fractional */

    double frame[EC_N]; /* last EC_N samples of the delayed reference */
    double re[EC_N], im[EC_N];

    /* Spectra of the last parts frames, newest at xhead, and per bin the
     * sum of their powers (the normalisation). */
    float *xr, *xi;
    int xhead;
    double xpow[EC_KP];

    /* Background filter (adapts) and foreground filter (the output; a copy
     * of the background whenever that one cancels better). */
    float *br, *bi, *fr, *fi;
    float *kr, *ki; /* the kept taps, and active steps since, or -1: none */
    int kept_age;
    float yr[EC_KP], yi[EC_KP], zr[EC_KP], zi[EC_KP];
    float er[EC_KP], ei[EC_KP];

    /* Step control: per bin the smoothed powers of microphone and echo
     * estimate and their cross spectrum. */
    float cdd[EC_KP], cyy[EC_KP], cdr[EC_KP], cdi[EC_KP];
    int boot; /* active steps of full-rate learning left */

    /* Filter shape, from the constraint pass: per partition the largest
     * tap magnitude and its index. */
    float *peak_mag;
    int *peak_idx;
    /* Per partition the sum of its taps' magnitudes (from the constraint
     * pass) and its share of the step (share_steps); per bin the
     * reference power weighed by the shares, the step's normalisation. */
    float *share, *mass;
    float wpow[EC_KP];
    int cpart; /* next partition to constrain */
    int cstep; /* steps since the last constraint pass */

    /* Two-filter comparison: smoothed block energies of both errors and
     * of the microphone. */
    double sb, sf, sm;
    int better, worse;

    /* Coarse delay estimator. */
    gv_echolag *lag;
    int est_match; /* the estimate when the filter last found the echo, or -1 */
    /* Fine delay and drift: it keeps the delay moving and says when to
     * move or relearn. */
    gv_echodrift *drift;

    /* Figures. */
    double pm, pf;
    float erle_db;
    int converged, conv_count, lost_count;
    /* The estimate's power and its product with the microphone, smoothed
     * as pm; steps in a row that look like a changed path; active steps
     * at EC_HELD_DB less those below (0 to EC_HELD_STEPS) and whether
     * they once filled up; paths lost that the filter had held. */
    double py, pmy;
    int changed_count, held, proven;
    unsigned losses;

    int settle; /* steps before the filter's shape is trusted again */
    int far_active; /* the last step's reference was loud enough to learn from */
    float sound[EC_SOUND_HI]; /* power spectrum that began the far end's current sound */
    double sound_norm;
    unsigned sounds;

    /* Steps whose reference was exact silence, and how many make the
     * filter's input all zeros (its frames, partitions and the delay
     * estimator's history): from then on a step costs no transform. */
    int quiet, idle_after;
    /* Nothing but exact silence played since the reset: both filters,
     * their input and the reference frames are all zeros. */
    int unplayed;
};

static float *falloc(size_t n)
{
    return calloc(n, sizeof(float));
}

void gv_echo_config_default(gv_echo_config *cfg)
{
    if (!cfg)
        return;
    cfg->tail_ms = 300;
    cfg->max_delay_ms = 250;
}

void gv_echo_reset(gv_echo *ec)
{
    size_t fsz;
    if (!ec)
        return;
    fsz = (size_t)ec->parts * EC_KP * sizeof(float);
    gv_echohist_reset(ec->hist);
    ec->delay = 0.0;
    memset(ec->frame, 0, sizeof ec->frame);
    memset(ec->xr, 0, fsz);
    memset(ec->xi, 0, fsz);
    memset(ec->br, 0, fsz);
    memset(ec->bi, 0, fsz);
    memset(ec->fr, 0, fsz);
    memset(ec->fi, 0, fsz);
    ec->kept_age = -1;
    gv_echodrift_reset(ec->drift);
    memset(ec->xpow, 0, sizeof ec->xpow);
    ec->xhead = 0;
    memset(ec->cdd, 0, sizeof ec->cdd);
    memset(ec->cyy, 0, sizeof ec->cyy);
    memset(ec->cdr, 0, sizeof ec->cdr);
    memset(ec->cdi, 0, sizeof ec->cdi);
    ec->boot = EC_BOOT;
    memset(ec->peak_mag, 0, (size_t)ec->parts * sizeof(float));
    memset(ec->mass, 0, (size_t)ec->parts * sizeof(float));
    memset(ec->peak_idx, 0, (size_t)ec->parts * sizeof(int));
    ec->cpart = ec->cstep = 0;
    ec->sb = ec->sf = ec->sm = 0.0;
    ec->better = ec->worse = 0;
    gv_echolag_reset(ec->lag);
    ec->est_match = -1;
    ec->pm = ec->pf = ec->py = ec->pmy = 0.0;
    ec->changed_count = ec->held = ec->proven = 0;
    ec->losses = 0;
    ec->erle_db = 0.0f;
    ec->converged = ec->conv_count = ec->lost_count = 0;

    ec->settle = 0;
    ec->unplayed = 1;
    memset(ec->sound, 0, sizeof ec->sound);
    ec->sound_norm = 0.0;
    ec->sounds = 0;
}

int gv_echo_create(const gv_echo_config *cfg, gv_echo **out)
{
    gv_echo_config c;
    gv_echo *ec;
    int need, lags;
    size_t fn;

    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (cfg)
        c = *cfg;
    else
        gv_echo_config_default(&c);
    if (c.tail_ms < 20 || c.tail_ms > 500 || c.max_delay_ms < 0 || c.max_delay_ms > 500)
        return GV_EINVAL;
    ec = calloc(1, sizeof *ec);
    if (!ec)
        return GV_ENOMEM;
    /* One partition more than the tail: the direct path is kept about a
     * partition in, so that a shorter delay stays inside the filter. */
    ec->parts = (c.tail_ms * EC_PER_MS + EC_B - 1) / EC_B + 1;
    ec->max_delay = c.max_delay_ms * EC_PER_MS;
    lags = ec->max_delay / EC_B + 2;
    need = ec->max_delay + EC_N + EC_B + 2 * GV_ECHOHIST_TAPS;
    ec->idle_after = (need + EC_B - 1) / EC_B + ec->parts + lags;
    fn = (size_t)ec->parts * EC_KP;
    ec->xr = falloc(fn);
    ec->xi = falloc(fn);
    ec->br = falloc(fn);
    ec->bi = falloc(fn);
    ec->fr = falloc(fn);
    ec->fi = falloc(fn);
    ec->kr = falloc(fn);
    ec->ki = falloc(fn);
    ec->peak_mag = falloc((size_t)ec->parts);
    ec->peak_idx = calloc((size_t)ec->parts, sizeof(int));
    ec->share = falloc((size_t)ec->parts);
    ec->mass = falloc((size_t)ec->parts);

    if (gv_echohist_create(need, &ec->hist) != 0 || !ec->xr || !ec->xi || !ec->br || !ec->bi || !ec->fr || !ec->fi ||
        !ec->kr || !ec->ki || !ec->peak_mag || !ec->peak_idx || !ec->share || !ec->mass ||
        gv_echolag_create(lags, &ec->lag) != 0 ||
        gv_fft_create(EC_N, &ec->fft) != GV_OK ||
        gv_echodrift_create(ec->fft, ec->parts, ec->max_delay, &ec->drift) != 0) {
        gv_echo_destroy(ec);
        return GV_ENOMEM;
    }
    gv_echo_reset(ec);
    *out = ec;
    return 0;
}

void gv_echo_destroy(gv_echo *ec)
{
    if (!ec)
        return;
    gv_echodrift_destroy(ec->drift);
    gv_fft_destroy(ec->fft);
    gv_echohist_destroy(ec->hist);
    free(ec->xr);
    free(ec->xi);
    free(ec->br);
    free(ec->bi);
    free(ec->fr);
    free(ec->fi);
    free(ec->kr);
    free(ec->ki);
    free(ec->peak_mag);
    free(ec->peak_idx);
    free(ec->share);
    free(ec->mass);
    gv_echolag_destroy(ec->lag);
    free(ec);
}

/* Fills frame[from..EC_N) with the delayed reference ending at the
 * newest sample, the delay moving by the drift per sample. */
static void fill_frame(gv_echo *ec, int from)
{
    gv_echohist_read(ec->hist, ec->frame + from, EC_N - from, ec->delay, gv_echodrift_rate(ec->drift));
}

static void cmac(float *restrict yr, float *restrict yi, const float *restrict xr,
                 const float *restrict xi, const float *restrict wr, const float *restrict wi)
{
    for (int k = 0; k < EC_KP; k++) {
        yr[k] += xr[k] * wr[k] - xi[k] * wi[k];
        yi[k] += xr[k] * wi[k] + xi[k] * wr[k];
    }
}

/* w += a |x|^2: in single precision over all EC_KP bins, so that the
 * compiler's cheapest vectoriser takes it (as cmac) */
static void add_power(float *restrict w, const float *restrict xr, const float *restrict xi, float a)
{
    for (int k = 0; k < EC_KP; k++)
        w[k] += a * (xr[k] * xr[k] + xi[k] * xi[k]);
}

/* w += a conj(x) g */
static void cmac_conj(float *restrict wr, float *restrict wi, const float *restrict xr,
                      const float *restrict xi, const float *restrict gr, const float *restrict gi, float a)
{
    for (int k = 0; k < EC_KP; k++) {
        wr[k] += a * (xr[k] * gr[k] + xi[k] * gi[k]);
        wi[k] += a * (xr[k] * gi[k] - xi[k] * gr[k]);
    }
}

static void copy_filter(gv_echo *ec, int to_fg)
{
    size_t n = (size_t)ec->parts * EC_KP * sizeof(float);
    if (to_fg) {
        memcpy(ec->fr, ec->br, n);
        memcpy(ec->fi, ec->bi, n);
    } else {
        memcpy(ec->br, ec->fr, n);
        memcpy(ec->bi, ec->fi, n);
    }
}

static int filter_peak(const gv_echo *ec);

/* Moves the reference's delay by delta samples. With move_filter (delta
 * whole partitions) the echo stayed where it was and the window moves
 * over it: both filters' partitions shift the other way, keeping what they
 * learnt where it still fits. Without, the echo moved by delta (a latency
 * change) and the filters stay as they are. The history of reference
 * spectra is re-indexed when delta is whole partitions; frames it does not
 * hold (any, for other deltas) start silent. */
static void move_delay(gv_echo *ec, double delta, int move_filter)
{
    const int p = ec->parts;
    const size_t row = EC_KP * sizeof(float);
    double nd = ec->delay + delta;
    int s = (int)lround(delta / EC_B), whole = fabs(delta - (double)s * EC_B) < 1e-9;
    int u = s < 0 ? -s : s, keep = p - u, window = move_filter && whole;
    float *arrs[4] = {ec->br, ec->bi, ec->fr, ec->fi};

    if (nd < 0.0 || nd > ec->max_delay || delta == 0.0)
        return;
    if (!window && ec->kept_age >= 0) {
        memcpy(ec->fr, ec->kr, (size_t)p * row);
        memcpy(ec->fi, ec->ki, (size_t)p * row);
        copy_filter(ec, 0);
    }
    if (window) {
        ec->kept_age = -1;
        if (keep <= 0) {
            for (int a = 0; a < 4; a++)
                memset(arrs[a], 0, (size_t)p * row);
            memset(ec->peak_mag, 0, (size_t)p * sizeof(float));
        } else if (s > 0) {
            for (int a = 0; a < 4; a++) {
                memmove(arrs[a], arrs[a] + (size_t)u * EC_KP, (size_t)keep * row);
                memset(arrs[a] + (size_t)keep * EC_KP, 0, (size_t)u * row);
            }
            memmove(ec->peak_mag, ec->peak_mag + u, (size_t)keep * sizeof(float));
            memmove(ec->peak_idx, ec->peak_idx + u, (size_t)keep * sizeof(int));
            memset(ec->peak_mag + keep, 0, (size_t)u * sizeof(float));
        } else {
            for (int a = 0; a < 4; a++) {
                memmove(arrs[a] + (size_t)u * EC_KP, arrs[a], (size_t)keep * row);
                memset(arrs[a], 0, (size_t)u * row);
            }
            memmove(ec->peak_mag + u, ec->peak_mag, (size_t)keep * sizeof(float));
            memmove(ec->peak_idx + u, ec->peak_idx, (size_t)keep * sizeof(int));
            memset(ec->peak_mag, 0, (size_t)u * sizeof(float));
        }
    }
    if (!whole || s >= p || -s >= p) {
        memset(ec->xr, 0, (size_t)p * row);
        memset(ec->xi, 0, (size_t)p * row);
    } else if (s > 0) {
        /* The frames s steps older become the newest: the s newest of the
         * ring are cleared and the head moves back. */
        for (int j = 0; j < s; j++) {
            int slot = ((ec->xhead - j) % p + p) % p;
            memset(ec->xr + (size_t)slot * EC_KP, 0, row);
            memset(ec->xi + (size_t)slot * EC_KP, 0, row);
        }
        ec->xhead = ((ec->xhead - s) % p + p) % p;
    } else {
        /* Newer frames than the history holds: the oldest slots become the
         * newest, cleared. */
        ec->xhead = (ec->xhead - s) % p;
        for (int j = 0; j < -s; j++) {
            int slot = ((ec->xhead - j) % p + p) % p;
            memset(ec->xr + (size_t)slot * EC_KP, 0, row);
            memset(ec->xi + (size_t)slot * EC_KP, 0, row);
        }
    }
    ec->delay = nd;
    memset(ec->xpow, 0, sizeof ec->xpow);
    for (int j = 0; j < p; j++) {
        const float *xr = ec->xr + (size_t)j * EC_KP, *xi = ec->xi + (size_t)j * EC_KP;
        for (int k = 0; k < EC_K; k++)
            ec->xpow[k] += (double)xr[k] * xr[k] + (double)xi[k] * xi[k];
    }
    fill_frame(ec, 0);
    if (!ec->converged)
        ec->boot = EC_BOOT;
    gv_echodrift_moved(ec->drift, delta, window, keep > 0);
    ec->settle = 2 * p;
}

static void shift_window(gv_echo *ec, int s)
{
    move_delay(ec, (double)s * EC_B, 1);
}

/* The next two background partitions brought back to EC_B taps
 * (the tail of each transform frame must be zero for a linear
 * convolution); both are transformed at once, and their largest taps are
 * noted for the delay. */
static void constrain(gv_echo *ec)
{
    int a = ec->cpart, b = (ec->cpart + 1) % ec->parts;
    float *ar = ec->br + (size_t)a * EC_KP, *ai = ec->bi + (size_t)a * EC_KP;
    float *brr = ec->br + (size_t)b * EC_KP, *bii = ec->bi + (size_t)b * EC_KP;
    float ma = 0.0f, mb = 0.0f, sa = 0.0f, sb = 0.0f;
    int ia = 0, ib = 0;

    gv_fft_join_pair(ec->fft, ar, ai, brr, bii, ec->re, ec->im);
    gv_fft_inverse(ec->fft, ec->re, ec->im);
    for (int t = 0; t < EC_B; t++) {
        float va = fabsf((float)ec->re[t]), vb = fabsf((float)ec->im[t]);
        sa += va;
        sb += vb;
        if (va > ma) {
            ma = va;
            ia = t;
        }
        if (vb > mb) {
            mb = vb;
            ib = t;
        }
    }
    for (int t = EC_B; t < EC_N; t++)
        ec->re[t] = ec->im[t] = 0.0;
    gv_fft_forward(ec->fft, ec->re, ec->im);
    gv_fft_split_pair(ec->fft, ec->re, ec->im, ar, ai, brr, bii);
    ec->peak_mag[a] = ma;
    ec->peak_idx[a] = ia;
    ec->mass[a] = sa;
    if (b != a) {
        ec->peak_mag[b] = mb;
        ec->peak_idx[b] = ib;
        ec->mass[b] = sb;
    }
    ec->cpart = (ec->cpart + 2) % ec->parts;
}

/* The tap (from the window's start) where the echo starts: the largest
 * tap of the first partition whose largest is at least half the filter's
 * (in a reverberant room several taps come close to the largest; the
 * first of them is the stable choice), or -1 when the filter holds
 * nothing. */
static int filter_peak(const gv_echo *ec)
{
    float m = 0.0f;
    for (int j = 0; j < ec->parts; j++)
        if (ec->peak_mag[j] > m)
            m = ec->peak_mag[j];
    for (int j = 0; j < ec->parts && m > 0.0f; j++)
        if (ec->peak_mag[j] >= 0.5f * m)
            return j * EC_B + ec->peak_idx[j];
    return -1;
}

/* Puts the window where the echo is. While the filter cancels, its taps
 * say where the echo starts: the window follows it in whole partitions,
 * keeping it about a partition in. Before that the estimator places it,
 * and afterwards moves it when the echo jumps: when a freshly confirmed
 * estimate differs by two steps or more from the estimate noted while the
 * filter cancelled, and the filter no longer does. (Reverberation biases
 * the estimator late by up to a step; the difference cancels the bias. A
 * near talker makes the filter fail too, but does not move the
 * estimate.) */
static void follow_delay(gv_echo *ec)
{
    gv_echolag_estimate est;
    gv_echolag_get(ec->lag, &est);
    int peak = filter_peak(ec), fresh = est.lag >= 0 && est.age == 0;
    if (ec->settle > 0) {
        ec->settle--;
        return;
    }
    if (fresh && ec->converged && ec->erle_db > 10.0f)
        ec->est_match = est.lag;
    if (fresh && ec->est_match >= 0 && ec->erle_db < EC_LOST_DB &&
        est.contrast > EC_JUMP_CONTRAST) {
        int s = est.lag - ec->est_match;
        if (s >= 2 || s <= -2) {
            ec->est_match = est.lag;
            move_delay(ec, (double)s * EC_B, 0);
            return;
        }
    }
    if (ec->converged && peak >= 0) {
        if (peak >= 2 * EC_B)
            shift_window(ec, peak / EC_B - 1);
        else if (peak < EC_B / 4 && ec->delay >= EC_B)
            shift_window(ec, -1);
        return;
    }
    if (fresh && ec->est_match < 0) {
        /* First placement: an echo a step or two before the estimate
         * still falls inside the window. */
        double target = (double)(est.lag - 2) * EC_B;
        if (target < 0.0)
            target = 0.0;
        ec->est_match = est.lag;
        shift_window(ec, (int)lround((target - ec->delay) / EC_B));
    }
}

/* The drift follower's step, and what it orders done to the delay and
 * the filter. */
static void follow_drift(gv_echo *ec)
{
    gv_echodrift_filter fl = {ec->delay, ec->erle_db, ec->converged, ec->erle_db < EC_LOST_DB,
                              ec->settle > 0, ec->kept_age >= 0, ec->pm < EC_CHANGED_LOUD * ec->py};
    gv_echodrift_order order;
    gv_echodrift_step(ec->drift, &fl, &order);
    if (order.jump != 0.0) {
        if (ec->est_match >= 0)
            ec->est_match += (int)lround(order.jump / EC_B);
        move_delay(ec, order.jump, 0);
        return;
    }
    if (order.nudge != 0.0)
        ec->delay += order.nudge;
    if (order.relearn)
        ec->boot = EC_BOOT;
}

/* Per bin the step: the coherence ramp; full while learning from nothing
 * (the estimate the coherence needs is not there yet); at least
 * EC_LOST_STEP while the filter has not found the echo and either no
 * delay is known yet or this step's microphone matches the reference at
 * the estimated lag (echo, not a near talker). Normalised by the
 * reference power the partitions hold. gr, gi get the step times the
 * error. */
/* Each partition's share of the step: half of it even, half by the
 * partition's share of the filter's taps (their sum of magnitudes, as the
 * constraint pass last saw them): improved proportionate NLMS, partition
 * by partition. A room's echo sits mostly in a few partitions, which then
 * learn several times faster: on a live loop 60 ms away the filter
 * cancelled 14.5 dB after 1.5 s of speech instead of 7.5. Even shares
 * while the filter is empty or its shape not yet trusted after a move. */
static void share_steps(gv_echo *ec)
{
    const int p = ec->parts;
    double sum = 0.0;
    for (int j = 0; j < p; j++)
        sum += ec->mass[j];
    for (int j = 0; j < p; j++)
        ec->share[j] = sum > 0.0 && !ec->settle ? (float)(EC_SHARE_EVEN + (1.0 - EC_SHARE_EVEN) * p * ec->mass[j] / sum)
                                                 : 1.0f;
    memset(ec->wpow, 0, sizeof ec->wpow);
    for (int j = 0; j < p; j++) {
        size_t slot = (size_t)((ec->xhead - j + p) % p) * EC_KP;
        add_power(ec->wpow, ec->xr + slot, ec->xi + slot, ec->share[j]);
    }
}

static void step_sizes(gv_echo *ec, int ref_active, float *gr, float *gi)
{
    double xmean = 0.0, norm;
    float floor_ = 0.0f;
    gv_echolag_estimate est;
    gv_echolag_get(ec->lag, &est);
    if (ec->boot > 0)
        floor_ = 1.0f;
    else if (!ec->converged && (est.echo_now || est.lag < 0))
        floor_ = EC_LOST_STEP;
    for (int k = 0; k < EC_K; k++)
        xmean += ec->xpow[k];
    xmean = xmean / EC_K * EC_REG + 1e-6 * EC_N * ec->parts;
    /* The shares weigh only steps that adapt. */
    if (ref_active)
        share_steps(ec);
    for (int k = 0; k < EC_KP; k++) {
        float mu = 0.0f;
        if (ref_active && k < EC_K) {
            float coh = (ec->cdr[k] * ec->cdr[k] + ec->cdi[k] * ec->cdi[k]) /
                        (ec->cdd[k] * ec->cyy[k] + 1e-30f);
            float c = (coh - EC_COH_LO) / (EC_COH_HI - EC_COH_LO);
            c = c < 0.0f ? 0.0f : c > 1.0f ? 1.0f : c;
            c *= c;
            if (c < floor_)
                c = floor_;
            norm = ec->wpow[k] + xmean;
            mu = (float)(EC_MU * c / norm);
        }
        gr[k] = mu * ec->er[k];
        gi[k] = mu * ec->ei[k];
    }
    if (ref_active && ec->boot > 0)
        ec->boot--;
}

/* A step of a canceller that has never been played to: its filters and
 * their input are all zeros, so the full step would find no echo, adapt
 * nothing and pass the microphone; what it would do besides is done
 * here: the reference's partitions and the constraint's turn move on, and
 * the delay estimator gets the microphone's spectrum (transformed as the
 * full step transforms it) beside a silent reference's. */
static void unplayed_step(gv_echo *ec, const float *m, int mic_active)
{
    static const float zero[EC_KP];
    float mr[EC_KP], mi[EC_KP];

    ec->xhead = (ec->xhead + 1) % ec->parts;
    for (int t = 0; t < EC_OFF; t++)
        ec->re[t] = ec->im[t] = 0.0;
    for (int i = 0; i < EC_B; i++) {
        ec->re[EC_OFF + i] = m[i];
        ec->im[EC_OFF + i] = 0.0;
    }
    gv_fft_forward(ec->fft, ec->re, ec->im);
    gv_fft_split_pair(ec->fft, ec->re, ec->im, ec->er, ec->ei, mr, mi);
    for (int k = 0; k < EC_K; k++) {
        mr[k] += ec->er[k];
        mi[k] += ec->ei[k];
    }
    gv_echolag_step(ec->lag, mr, mi, zero, zero, 0, mic_active);
    /* Constraining zero filters leaves them, and their peaks, at zero. */
    if (++ec->cstep >= EC_CONSTRAIN_EVERY) {
        ec->cstep = 0;
        ec->cpart = (ec->cpart + 2) % ec->parts;
    }
}

/* Counts the far end's sounds: a step whose reference spectrum has a
 * shape unlike the current sound's starts another. A level change alone
 * does not. */
static void note_sound(gv_echo *ec, const float *rr, const float *ri)
{
    float p[EC_SOUND_HI];
    double dot = 0.0, norm = 0.0;
    for (int k = EC_SOUND_LO; k < EC_SOUND_HI; k++) {
        p[k] = rr[k] * rr[k] + ri[k] * ri[k];
        dot += (double)p[k] * ec->sound[k];
        norm += (double)p[k] * p[k];
    }
    if (ec->sound_norm == 0.0 || dot < EC_SOUND_ALIKE * sqrt(norm * ec->sound_norm)) {
        memcpy(ec->sound + EC_SOUND_LO, p + EC_SOUND_LO, (EC_SOUND_HI - EC_SOUND_LO) * sizeof *p);
        ec->sound_norm = norm;
        ec->sounds++;
    }
}

/* A step of an idle canceller: nothing has been played for longer than
 * the filter and the delay estimator look back, so the echo estimate is
 * exactly zero and nothing adapts; the microphone goes out as it came and
 * only what follows time moves on, as the full step would move it with a
 * silent reference. (The microphone's band levels wait: they need its
 * spectrum, and resume where they were.) One that has never been played
 * to is in the same state before the look back has passed. */
static void idle_step(gv_echo *ec, const float *m, double m2, int mic_active, float *out, float *echo)
{
    if (ec->unplayed && ec->quiet <= ec->idle_after) {
        unplayed_step(ec, m, mic_active);
    } else {
        if (ec->quiet == ec->idle_after + 1) {
            memset(ec->frame, 0, sizeof ec->frame);
            memset(ec->xr, 0, (size_t)ec->parts * EC_KP * sizeof *ec->xr);
            memset(ec->xi, 0, (size_t)ec->parts * EC_KP * sizeof *ec->xi);
            memset(ec->xpow, 0, sizeof ec->xpow);
        }
        gv_echolag_step_silent(ec->lag, mic_active);
    }
    ec->sb = 0.7 * ec->sb + m2;
    ec->sf = 0.7 * ec->sf + m2;
    ec->sm = 0.7 * ec->sm + m2;
    ec->better = 0;
    ec->worse = ec->sb > 2.0 * ec->sf + 1e-9 ? ec->worse + 1 : 0;
    if (ec->worse >= 5) {
        copy_filter(ec, 0);
        ec->sb = ec->sf;
        ec->worse = 0;
    }
    for (int i = 0; i < EC_B; i++) {
        out[i] = m[i];
        if (echo)
            echo[i] = 0.0f;
    }
    follow_delay(ec);
    follow_drift(ec);
}

int gv_echo_process(gv_echo *ec, const float *mic, const float *ref, float *out, float *echo)
{
    const int p = ec ? ec->parts : 0;
    float rr[EC_KP], ri[EC_KP], mr[EC_KP], mi[EC_KP], gr[EC_KP], gi[EC_KP];
    float m[EC_B], raw[EC_B], yb[EC_B], yf[EC_B];
    double eb2 = 0.0, ef2 = 0.0, m2 = 0.0, r2 = 0.0, yf2 = 0.0, my = 0.0;
    int ref_active, mic_active;
    float *xr, *xi;

    if (!ec || !mic || !out)
        return GV_EINVAL;

    /* The reference into the history, its delayed version into the frame. */
    for (int i = 0; i < EC_B; i++) {
        raw[i] = ref && isfinite(ref[i]) ? ref[i] : 0.0f;
        r2 += (double)raw[i] * raw[i];
        m[i] = isfinite(mic[i]) ? mic[i] : 0.0f;
        m2 += (double)m[i] * m[i];
    }
    gv_echohist_write(ec->hist, raw, EC_B);
    ref_active = r2 > EC_ACTIVE_POW * EC_B;
    ec->far_active = ref_active;
    mic_active = m2 > EC_MIC_POW * EC_B;
    ec->quiet = r2 == 0.0 ? ec->quiet + 1 : 0;
    if (r2 != 0.0)
        ec->unplayed = 0;
    if (ec->quiet <= ec->idle_after) {
        memmove(ec->frame, ec->frame + EC_B, EC_OFF * sizeof(double));
        fill_frame(ec, EC_OFF);
    }
    ec->delay += gv_echodrift_rate(ec->drift) * EC_B;
    if (ec->delay < 0.0)
        ec->delay = 0.0;
    if (ec->delay > ec->max_delay)
        ec->delay = ec->max_delay;
    if (ec->quiet > ec->idle_after || ec->unplayed) {
        idle_step(ec, m, m2, mic_active, out, echo);
        return 0;
    }

    /* Delayed reference frame and raw reference block in one transform. */
    for (int t = 0; t < EC_N; t++) {
        ec->re[t] = ec->frame[t];
        ec->im[t] = t < EC_B ? raw[t] : 0.0;
    }
    gv_fft_forward(ec->fft, ec->re, ec->im);
    ec->xhead = (ec->xhead + 1) % p;
    xr = ec->xr + (size_t)ec->xhead * EC_KP;
    xi = ec->xi + (size_t)ec->xhead * EC_KP;
    for (int k = 0; k < EC_K; k++)
        ec->xpow[k] -= (double)xr[k] * xr[k] + (double)xi[k] * xi[k];
    gv_fft_split_pair(ec->fft, ec->re, ec->im, xr, xi, rr, ri);
    for (int k = 0; k < EC_K; k++) {
        ec->xpow[k] += (double)xr[k] * xr[k] + (double)xi[k] * xi[k];
        if (ec->xpow[k] < 0.0)
            ec->xpow[k] = 0.0;
    }

    /* Both filters' echo estimates, inverse-transformed together. */
    memset(ec->yr, 0, sizeof ec->yr);
    memset(ec->yi, 0, sizeof ec->yi);
    memset(ec->zr, 0, sizeof ec->zr);
    memset(ec->zi, 0, sizeof ec->zi);
    for (int j = 0; j < p; j++) {
        size_t slot = (size_t)((ec->xhead - j + p) % p) * EC_KP, w = (size_t)j * EC_KP;
        cmac(ec->yr, ec->yi, ec->xr + slot, ec->xi + slot, ec->br + w, ec->bi + w);
        cmac(ec->zr, ec->zi, ec->xr + slot, ec->xi + slot, ec->fr + w, ec->fi + w);
    }
    gv_fft_join_pair(ec->fft, ec->yr, ec->yi, ec->zr, ec->zi, ec->re, ec->im);
    gv_fft_inverse(ec->fft, ec->re, ec->im);
    for (int i = 0; i < EC_B; i++) {
        yb[i] = (float)ec->re[EC_OFF + i];
        yf[i] = (float)ec->im[EC_OFF + i];
        eb2 += (double)(m[i] - yb[i]) * (m[i] - yb[i]);
        ef2 += (double)(m[i] - yf[i]) * (m[i] - yf[i]);
    }

    /* The background's error and echo estimate as blocks, in one
     * transform; their sum is the microphone's block. */
    for (int t = 0; t < EC_OFF; t++)
        ec->re[t] = ec->im[t] = 0.0;
    for (int i = 0; i < EC_B; i++) {
        ec->re[EC_OFF + i] = m[i] - yb[i];
        ec->im[EC_OFF + i] = yb[i];
    }
    gv_fft_forward(ec->fft, ec->re, ec->im);
    gv_fft_split_pair(ec->fft, ec->re, ec->im, ec->er, ec->ei, mr, mi);
    for (int k = 0; k < EC_K; k++) {
        float yr = mr[k], yi = mi[k];
        mr[k] += ec->er[k];
        mi[k] += ec->ei[k];
        if (ref_active) {
            const float a = EC_COH_SMOOTH;
            ec->cdd[k] = a * ec->cdd[k] + (1.0f - a) * (mr[k] * mr[k] + mi[k] * mi[k]);
            ec->cyy[k] = a * ec->cyy[k] + (1.0f - a) * (yr * yr + yi * yi);
            ec->cdr[k] = a * ec->cdr[k] + (1.0f - a) * (mr[k] * yr + mi[k] * yi);
            ec->cdi[k] = a * ec->cdi[k] + (1.0f - a) * (mi[k] * yr - mr[k] * yi);
        }
    }
    gv_echolag_step(ec->lag, mr, mi, rr, ri, ref_active, mic_active);
    if (ref_active)
        note_sound(ec, rr, ri);
    if (ref_active && mic_active) {
        const float *pr[GV_ECHODRIFT_PARTS], *pi[GV_ECHODRIFT_PARTS];
        for (int j = 0; j < GV_ECHODRIFT_PARTS && j < p; j++) {
            size_t slot = (size_t)((ec->xhead - j + p) % p) * EC_KP;
            pr[j] = ec->xr + slot;
            pi[j] = ec->xi + slot;
        }
        gv_echodrift_listen(ec->drift, mr, mi, pr, pi);
    }

    step_sizes(ec, ref_active, gr, gi);
    for (int j = 0; j < p; j++) {
        size_t slot = (size_t)((ec->xhead - j + p) % p) * EC_KP, w = (size_t)j * EC_KP;
        cmac_conj(ec->br + w, ec->bi + w, ec->xr + slot, ec->xi + slot, gr, gi, ec->share[j]);
    }
    /* Two partitions' wrap-around is cleared every third step: enough to
     * keep the filter linear, at a fraction of the cost of all every
     * step. */
    if (++ec->cstep >= EC_CONSTRAIN_EVERY) {
        ec->cstep = 0;
        constrain(ec);
    }

    /* Foreground against background: the foreground takes the background
     * when that has cancelled clearly better for a few steps, and either
     * explains at least half of the microphone (so it is not fitting a near
     * talker) or the foreground does worse than no filter (the path
     * changed); the output crossfades over this block. The background
     * falls back to the foreground when it has wandered off. */
    ec->sb = 0.7 * ec->sb + eb2;
    ec->sf = 0.7 * ec->sf + ef2;
    ec->sm = 0.7 * ec->sm + m2;
    ec->better = ec->sb < 0.8 * ec->sf && (ec->sb < 0.5 * ec->sm || ec->sf > ec->sm) && ref_active
                     ? ec->better + 1
                     : 0;
    ec->worse = ec->sb > 2.0 * ec->sf + 1e-9 ? ec->worse + 1 : 0;
    if (ec->better >= 3) {
        for (int i = 0; i < EC_B; i++) {
            float w = (float)(i + 1) / EC_B;
            yf[i] += w * (yb[i] - yf[i]);
        }
        copy_filter(ec, 1);
        ec->sf = ec->sb;
        ec->better = 0;
    } else if (ec->worse >= 5) {
        copy_filter(ec, 0);
        ec->sb = ec->sf;
        ec->worse = 0;
    }
    if (ref_active && ec->kept_age >= 0 && ++ec->kept_age > EC_KEEP_FOR)
        ec->kept_age = -1;
    if (ref_active && ec->converged && ec->erle_db >= EC_HELD_DB && ec->sf < EC_KEEP_FAST * ec->sm &&
        (ec->kept_age < 0 || ec->kept_age >= EC_KEEP_EVERY)) {
        memcpy(ec->kr, ec->fr, (size_t)p * EC_KP * sizeof(float));
        memcpy(ec->ki, ec->fi, (size_t)p * EC_KP * sizeof(float));
        ec->kept_age = 0;
    }
    ef2 = 0.0;
    for (int i = 0; i < EC_B; i++) {
        float e = m[i] - yf[i];
        ef2 += (double)e * e;
        yf2 += (double)yf[i] * yf[i];
        my += (double)m[i] * yf[i];
        if (echo)
            echo[i] = yf[i];
        out[i] = e;
    }

    /* Figures: ERLE over steps the far end talks; converged once it has
     * stayed above EC_CONV_DB, lost when the filter does worse than none
     * or the path changed under it (then it relearns at full rate). */
    if (ref_active) {
        ec->pm = 0.95 * ec->pm + m2;
        ec->pf = 0.95 * ec->pf + ef2;
        ec->py = 0.95 * ec->py + yf2;
        ec->pmy = 0.95 * ec->pmy + my;
        ec->erle_db = (float)(10.0 * log10((ec->pm + 1e-12) / (ec->pf + 1e-12)));
        ec->conv_count = ec->erle_db > EC_CONV_DB ? ec->conv_count + 1 : 0;
        if (ec->conv_count >= 30)
            ec->converged = 1;
        ec->lost_count = ec->erle_db < EC_LOST_DB ? ec->lost_count + 1 : 0;
        if (ec->erle_db >= EC_HELD_DB)
            ec->held += ec->held < EC_HELD_STEPS;
        else
            ec->held -= ec->held > 0;
        if (ec->held == EC_HELD_STEPS)
            ec->proven = 1;
        else if (ec->held == 0)
            ec->proven = 0;
        ec->changed_count = ec->proven && ec->pmy < EC_CHANGED_FIT * ec->py &&
                                    ec->pm < EC_CHANGED_LOUD * ec->py
                                ? ec->changed_count + 1
                                : 0;
        if (ec->lost_count >= 15 || ec->changed_count >= EC_CHANGED_STEPS) {
            /* Only a path the filter had held makes the suppressor
             * relearn (gv_clean): through a sound server's loop the
             * ERLE also falls below EC_LOST_DB now and then. */
            if (ec->proven)
                ec->losses++;
            ec->converged = ec->proven = ec->held = 0;
            ec->lost_count = ec->changed_count = 0;
            ec->boot = EC_BOOT;
        }
    }
    follow_delay(ec);
    follow_drift(ec);
    return 0;
}

void gv_echo_reference_moved(gv_echo *ec, int samples)
{
    double nd;
    int peak;
    if (!ec || samples == 0 || ec->unplayed)
        return;
    nd = ec->delay + samples;
    peak = filter_peak(ec);
    if (nd < 0.0 && peak >= 0) {
        /* The window moves later by whole partitions first, over taps
         * that hold no echo yet (the echo starts further in). */
        int s = (int)ceil(-nd / EC_B);
        if (peak < s * EC_B)
            return;
        shift_window(ec, s);
        nd = ec->delay + samples;
    }
    if (nd < 0.0 || nd > ec->max_delay)
        return;
    /* The reference frames and spectra already held are the samples that
     * played: only the newer ones are read from the new place. The fine
     * delays on record are in the reference's count, which moved. */
    ec->delay = nd;
    gv_echodrift_reference_moved(ec->drift, samples);
}

int gv_echo_get_stats(const gv_echo *ec, gv_echo_stats *st)
{
    int peak;
    double fine;
    gv_echolag_estimate est;
    if (!ec || !st)
        return GV_EINVAL;
    gv_echolag_get(ec->lag, &est);
    memset(st, 0, sizeof *st);
    peak = filter_peak(ec);
    if (gv_echodrift_fine(ec->drift, &fine))
        st->delay_samples = (int)lround(fine);
    else if (ec->converged && peak >= 0)
        st->delay_samples = (int)lround(ec->delay) + peak;
    else if (est.lag >= 0)
        st->delay_samples = est.lag * EC_B;
    else
        st->delay_samples = -1;
    st->erle_db = ec->erle_db;
    st->drift_ppm = (float)(gv_echodrift_rate(ec->drift) * 1e6);
    st->converged = ec->converged;
    st->idle = ec->quiet > ec->idle_after;
    st->far_active = ec->far_active;
    st->far_sounds = ec->sounds;
    st->losses = ec->losses;
    return 0;
}
