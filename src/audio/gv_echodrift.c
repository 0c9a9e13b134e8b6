#include "audio/gv_echodrift.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_clean.h"
#include "gvoip/error.h"

#define DR_B GV_CLEAN_STEP
#define DR_N 1024
#define DR_K (DR_N / 2 + 1)
#define DR_OFF (DR_N - DR_B) /* a block's place at the end of a frame */

#define DR_DRIFT_MAX 0.002  /* 2000 ppm: twice the largest expected */
#define DR_LO_LAG 16
#define DR_HI_LAG (DR_OFF - 16)
#define DR_LO 4             /* bins (~190 Hz to 9.4 kHz) of the cross spectrum */
#define DR_HI GV_ECHODRIFT_BINS
#define DR_SMOOTH 0.95f     /* 200 ms */
#define DR_EVERY 10         /* steps between fine delay searches */
#define DR_PEAK 6.0         /* a peak this many times the average counts */
#define DR_JUMP 24.0        /* samples the fine delay may move between searches */
#define DR_TRK 50           /* fine delays the drift is fitted to: 5 s */
#define DR_GAIN 0.5         /* share of a slope taken per search before convergence */
#define DR_SLOW 0.05        /* and after */
#define DR_RELEARN 100e-6   /* a drift change that smears the filter */
#define DR_SLOPE_SIGNIF 4.0 /* standard errors a slope must differ by to count */
/* And the fine delays must lie on the line within this (rms, samples):
 * those of a path with a dominant early part do within a sample or three
 * (the smoothed cross spectra lag a drifting echo a little), while chance
 * peaks of a diffuse path (no direct sound) scatter by ten or more and can
 * still give a slope of thousands of ppm that passes for significant. */
#define DR_LINE_RMS 5.0
#define DR_FRESH 10         /* searches a fine delay stays good for the figures */
/* Holding the echo under the filter's taps: where the filter cancels
 * this well its fine delay's lag is where the taps have the echo; when it
 * no longer does and the lag has stayed this far off for DR_ALIGN_AGREE
 * searches in a row (agreeing within DR_ALIGN_SPREAD), the reference
 * moves this share of the way back. */
#define DR_ANCHOR_DB 5.0f
#define DR_ALIGN_DEAD 3.0
#define DR_ALIGN_SPREAD 2.0
#define DR_ALIGN_AGREE 3
#define DR_ALIGN_GAIN 0.5

struct gv_echodrift {
    const gv_fft *fft;
    int parts;     /* reference partitions searched */
    int max_delay; /* samples */
    double re[DR_N], im[DR_N];

    double drift; /* the delay's change per sample */
    /* Smoothed phase-only cross spectra of the microphone with the first
     * partitions' reference frames. */
    float gcc_r[GV_ECHODRIFT_PARTS][DR_K], gcc_i[GV_ECHODRIFT_PARTS][DR_K];
    int gcc_steps;
    /* The last search's outcome, good until the spectra change: an idle
     * canceller keeps searching spectra that no longer move. */
    int gcc_known, gcc_found;
    double gcc_lag;
    /* The recent fine delays found (time, delay). */
    double trk_t[DR_TRK], trk_f[DR_TRK];
    int trk_n, trk_head;
    double pend_f; /* a fine delay off the record, and how many agreed */
    int pend_n;
    double fine;      /* last fine delay found, samples */
    int fine_age;     /* evaluations since, or a large number */
    double anchor;    /* the lag (in the window) where the filter has the echo, or < 0 */
    double align_err; /* the lag's last distance from it, and searches in a row it agreed */
    int align_n;
    int64_t steps; /* steps processed */
};

int gv_echodrift_create(const gv_fft *fft, int parts, int max_delay, gv_echodrift **out)
{
    gv_echodrift *dr;
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (gv_fft_size(fft) != DR_N || parts < 1 || max_delay < 0)
        return GV_EINVAL;
    dr = calloc(1, sizeof *dr);
    if (!dr)
        return GV_ENOMEM;
    dr->fft = fft;
    dr->parts = parts < GV_ECHODRIFT_PARTS ? parts : GV_ECHODRIFT_PARTS;
    dr->max_delay = max_delay;
    gv_echodrift_reset(dr);
    *out = dr;
    return 0;
}

void gv_echodrift_destroy(gv_echodrift *dr)
{
    free(dr);
}

void gv_echodrift_reset(gv_echodrift *dr)
{
    dr->drift = 0.0;
    memset(dr->gcc_r, 0, sizeof dr->gcc_r);
    memset(dr->gcc_i, 0, sizeof dr->gcc_i);
    dr->gcc_known = 0;
    dr->gcc_steps = dr->trk_n = dr->trk_head = dr->pend_n = 0;
    dr->pend_f = 0.0;
    dr->fine = 0.0;
    dr->fine_age = 1 << 20;
    dr->anchor = -1.0;
    dr->align_n = 0;
    dr->steps = 0;
}

/* Each partition's frame holds the lags from 480 j to 480 j + 479 of the
 * microphone block without wrap-around. */
void gv_echodrift_listen(gv_echodrift *dr, const float *mr, const float *mi,
                         const float *const *xr, const float *const *xi)
{
    dr->gcc_known = 0;
    for (int j = 0; j < dr->parts; j++) {
        float *gr = dr->gcc_r[j], *gi = dr->gcc_i[j];
        for (int k = DR_LO; k < DR_HI; k++) {
            float cr = mr[k] * xr[j][k] + mi[k] * xi[j][k];
            float ci = mi[k] * xr[j][k] - mr[k] * xi[j][k];
            float w = (1.0f - DR_SMOOTH) / (sqrtf(cr * cr + ci * ci) + 1e-20f);
            gr[k] = DR_SMOOTH * gr[k] + w * cr;
            gi[k] = DR_SMOOTH * gi[k] + w * ci;
        }
    }
}

/* Two partitions' cross spectra are inverse-transformed at once. A peak
 * counts when it stands well above the average: a near talker or a path
 * without a dominant early part gives none. */
_Static_assert(GV_ECHODRIFT_PARTS % 2 == 0, "the cross spectra are transformed in pairs");

static int search_fine_delay(gv_echodrift *dr, double *lag)
{
    double best = 0.0, sum = 0.0, frac = 0.0;
    int bj = -1, bl = 0, n = 0;
    double corr[GV_ECHODRIFT_PARTS][DR_HI_LAG + 1];

    for (int j = 0; j < GV_ECHODRIFT_PARTS; j += 2) {
        gv_fft_join_pair(dr->fft, dr->gcc_r[j], dr->gcc_i[j], dr->gcc_r[j + 1], dr->gcc_i[j + 1],
                         dr->re, dr->im);
        gv_fft_inverse(dr->fft, dr->re, dr->im);
        for (int l = 0; l <= DR_HI_LAG; l++) {
            corr[j][l] = dr->re[l];
            corr[j + 1][l] = dr->im[l];
        }
    }
    /* Lags near a frame's ends are left out: both blocks end with the
     * frame, and the phase transform turns those edges into a peak. The
     * partitions' ranges overlap, so nothing between is missed. */
    for (int j = 0; j < dr->parts; j++)
        for (int l = DR_LO_LAG; l < DR_HI_LAG; l++) {
            double v = fabs(corr[j][l]);
            sum += v;
            n++;
            if (v > best) {
                best = v;
                bj = j;
                bl = l;
            }
        }
    if (bj < 0 || best < DR_PEAK * sum / n)
        return 0;
    {
        double a = fabs(corr[bj][bl - 1]), c = fabs(corr[bj][bl + 1]);
        double den = a - 2.0 * best + c;
        if (den < 0.0)
            frac = 0.5 * (a - c) / den;
    }
    *lag = (double)bj * DR_B + bl + frac;
    return 1;
}

static int find_fine_delay(gv_echodrift *dr, double *lag)
{
    if (!dr->gcc_known) {
        dr->gcc_found = search_fine_delay(dr, &dr->gcc_lag);
        dr->gcc_known = 1;
    }
    if (dr->gcc_found)
        *lag = dr->gcc_lag;
    return dr->gcc_found;
}

/* Least-squares line through the recorded fine delays except the one at
 * slot skip (-1: none): f = *a + *b t; returns the spread of the times
 * (the sum of their squared deviations), for the slope's error. */
static double fit_line(const gv_echodrift *dr, int skip, double *a, double *b)
{
    double st = 0.0, sf = 0.0, stt = 0.0, stf = 0.0;
    int m = 0;
    for (int i = 0; i < dr->trk_n; i++) {
        int k = (dr->trk_head + DR_TRK - 1 - i) % DR_TRK;
        if (k != skip) {
            st += dr->trk_t[k];
            sf += dr->trk_f[k];
            m++;
        }
    }
    st /= m;
    sf /= m;
    for (int i = 0; i < dr->trk_n; i++) {
        int k = (dr->trk_head + DR_TRK - 1 - i) % DR_TRK;
        if (k != skip) {
            stt += (dr->trk_t[k] - st) * (dr->trk_t[k] - st);
            stf += (dr->trk_t[k] - st) * (dr->trk_f[k] - sf);
        }
    }
    *b = stt > 0.0 ? stf / stt : 0.0;
    *a = sf - *b * st;
    return stt;
}

/* The filter lost the echo while the far end talks alone, and keeps the
 * taps with which it had it where the anchor is: the echo can be brought
 * back under them. */
static int back_to_taps(const gv_echodrift *dr, const gv_echodrift_filter *fl)
{
    return fl->kept && fl->alone && dr->anchor >= 0.0 && fl->erle_db < DR_ANCHOR_DB;
}

/* Drift that the slope has not caught up with (one that still changes,
 * as a sound server's adaptive resampler's does) moves the echo off the
 * taps that model it, and in double talk the filter cannot follow it
 * there: the delay is nudged to keep the echo where the filter last had
 * it. A fine delay that strays (a near talker fools the search) does not
 * agree with the next ones. The record of fine delays is where the echo
 * is, which this does not move. */
static void hold_alignment(gv_echodrift *dr, const gv_echodrift_filter *fl, double lag,
                           gv_echodrift_order *order)
{
    double err = lag - dr->anchor, nd = fl->delay + DR_ALIGN_GAIN * err;
    /* A filter that kept its taps follows a move too large for the
     * nudges (one the record took for drift) all the way at once. */
    int jump = back_to_taps(dr, fl) && fabs(err) >= DR_JUMP;
    int far = fabs(err) > DR_ALIGN_DEAD && (jump || (fl->converged && fabs(err) < DR_JUMP));
    if ((!fl->converged && !fl->kept) || fl->settling) {
        dr->align_n = 0;
        return;
    }
    if (fl->erle_db >= DR_ANCHOR_DB) {
        /* Only a filter that found the echo says where its taps have it:
         * one that relearns after a loss may cancel 5 dB at a lag other
         * than the kept taps', which a jump then brings back. */
        if (fl->converged)
            dr->anchor = lag;
        dr->align_n = 0;
        return;
    }
    if (dr->anchor < 0.0)
        return;
    dr->align_n = !far ? 0 : dr->align_n > 0 && fabs(err - dr->align_err) <= DR_ALIGN_SPREAD ? dr->align_n + 1 : 1;
    dr->align_err = err;
    if (jump)
        nd = fl->delay + err;
    if (dr->align_n < DR_ALIGN_AGREE || nd < 0.0 || nd > dr->max_delay)
        return;
    if (jump) {
        order->jump = err;
        dr->trk_n = 0;
    } else {
        order->nudge = DR_ALIGN_GAIN * err;
    }
    dr->align_n = 0;
}

/* Clock drift moves the echo along the reference by up to a sample every
 * 20 ms, faster than the filter re-converges on speech, so it is taken
 * from the fine delay: the least-squares slope of the last few seconds'
 * fine delays (after dropping the one furthest off the line) is the
 * drift, which the reference's delay then follows. A jump in the fine
 * delay (a latency change, another path) starts the record afresh. */
void gv_echodrift_step(gv_echodrift *dr, const gv_echodrift_filter *fl, gv_echodrift_order *order)
{
    double lag, f, tol, a0, slope, stt, se, ss = 0.0, worst = -1.0;
    int last, wk = -1;

    memset(order, 0, sizeof *order);
    dr->steps++;
    if (++dr->gcc_steps < DR_EVERY)
        return;
    dr->gcc_steps = 0;
    dr->fine_age++;
    if (!find_fine_delay(dr, &lag))
        return;
    f = fl->delay + lag;
    last = (dr->trk_head + DR_TRK - 1) % DR_TRK;
    /* How far the fine delay may have moved since the last one on record,
     * at the largest drift. */
    tol = DR_JUMP + DR_DRIFT_MAX * ((double)dr->steps * DR_B - dr->trk_t[last]);
    if (dr->trk_n > 0 && fabs(f - dr->trk_f[last]) > tol) {
        /* Off the record: a stray peak, unless a few agree. */
        if (dr->pend_n > 0 && fabs(f - dr->pend_f) <= tol)
            dr->pend_n++;
        else
            dr->pend_n = 1;
        dr->pend_f = f;
        if (dr->pend_n < 3)
            return;
        /* The echo moved (a latency change) and the filter lost it: the
         * reference moves with it. A filter that keeps taps it cancelled
         * with lately follows any move, back to where those taps have the
         * echo: with them the echo is cancelled again at once, where
         * relearning it took seconds at -20 dB (a move of 40 samples, a
         * playback underrun the reference reader followed 85 samples off,
         * cost as much as one of hundreds). After a stall the record may
         * hold fine delays of the moved echo already: measured from the
         * record, a jump left the echo 100 samples off those taps. Only
         * while the far end talks alone: over a near talker the search
         * found chance peaks a block away (a reverberant room's far end,
         * RT60 200 ms) that agreed well enough, and the jump cost 24 dB of
         * the 49 cancelled. Without kept taps, only a move of half a block
         * or more is worth it. */
        double move = f - dr->trk_f[last];
        if (back_to_taps(dr, fl))
            move = fabs(lag - dr->anchor) > DR_ALIGN_DEAD ? lag - dr->anchor : 0.0;
        else if (!fl->lost || fabs(move) < DR_B / 2)
            move = 0.0;
        if (!fl->settling && move != 0.0) {
            order->jump = move;
            dr->pend_n = 0;
            dr->trk_n = 0;
            return;
        }
        dr->trk_n = 0;
    }
    dr->pend_n = 0;
    dr->fine = f;
    dr->fine_age = 0;
    dr->trk_t[dr->trk_head] = (double)dr->steps * DR_B;
    dr->trk_f[dr->trk_head] = f;
    dr->trk_head = (dr->trk_head + 1) % DR_TRK;
    if (dr->trk_n < DR_TRK)
        dr->trk_n++;
    hold_alignment(dr, fl, lag, order);
    if (dr->trk_n < (fl->converged ? DR_TRK / 2 : DR_TRK / 5))
        return;
    /* The fit, then again without the point furthest off it (a stray
     * peak that got through). */
    fit_line(dr, -1, &a0, &slope);
    for (int i = 0; i < dr->trk_n; i++) {
        int k = (dr->trk_head + DR_TRK - 1 - i) % DR_TRK;
        double r = fabs(dr->trk_f[k] - (a0 + slope * dr->trk_t[k]));
        if (r > worst) {
            worst = r;
            wk = k;
        }
    }
    stt = fit_line(dr, wk, &a0, &slope);
    /* Only a slope that differs from the drift in use by several times its
     * standard error, from fine delays close to their line, counts:
     * scattered fine delays (no dominant early echo, a near talker fooling
     * the search now and then) give none. */
    for (int i = 0; i < dr->trk_n; i++) {
        int k = (dr->trk_head + DR_TRK - 1 - i) % DR_TRK;
        double r = dr->trk_f[k] - (a0 + slope * dr->trk_t[k]);
        if (k != wk)
            ss += r * r;
    }
    se = sqrt(ss / (dr->trk_n - 3) / (stt + 1e-30));
    if (fabs(slope - dr->drift) < DR_SLOPE_SIGNIF * se || ss > DR_LINE_RMS * DR_LINE_RMS * (dr->trk_n - 1))
        return;
    if (slope > DR_DRIFT_MAX)
        slope = DR_DRIFT_MAX;
    if (slope < -DR_DRIFT_MAX)
        slope = -DR_DRIFT_MAX;
    /* A new drift (from a short record while the filter does not cancel)
     * is taken at once, and leaves the filter with an echo smeared over
     * the old one's movement: it relearns at full rate. Otherwise the
     * drift follows the slope, slowly once the filter cancels (a slope of
     * the long record is good to a few ppm). */
    if (!fl->converged && fabs(slope - dr->drift) > DR_RELEARN) {
        /* The record so far mixes two drifts (and two lags of the
         * smoothed fine delay behind the echo): start it afresh. */
        order->relearn = 1;
        dr->drift = slope;
        dr->trk_n = 0;
        return;
    }
    dr->drift += (fl->converged ? DR_SLOW : DR_GAIN) * (slope - dr->drift);
}

void gv_echodrift_moved(gv_echodrift *dr, double delta, int window, int kept)
{
    if (window)
        dr->anchor = !kept || dr->anchor < delta ? -1.0 : dr->anchor - delta;
    memset(dr->gcc_r, 0, sizeof dr->gcc_r);
    memset(dr->gcc_i, 0, sizeof dr->gcc_i);
    dr->gcc_known = 0;
}

void gv_echodrift_reference_moved(gv_echodrift *dr, int samples)
{
    dr->fine += samples;
    dr->pend_f += samples;
    for (int i = 0; i < dr->trk_n; i++)
        dr->trk_f[(dr->trk_head + DR_TRK - 1 - i) % DR_TRK] += samples;
}

double gv_echodrift_rate(const gv_echodrift *dr)
{
    return dr->drift;
}

int gv_echodrift_fine(const gv_echodrift *dr, double *fine)
{
    if (dr->fine_age > DR_FRESH)
        return 0;
    *fine = dr->fine;
    return 1;
}
