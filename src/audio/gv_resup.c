#include "audio/gv_resup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

/* The residual echo in a bin is modelled from the echo estimate's power
 * y2 alone, in two parts with per-band weights:
 *
 *  - leak * y2: what the linear filter gets wrong now (misalignment, a
 *    path that changed, the loudspeaker's distortion), in step with it;
 *  - tail * late: the room's reverberation beyond the filter's length.
 *    For a tail that decays exponentially (power factor a per frame) the
 *    reverberation later than the filter's L frames is a^L times the
 *    whole echo's power L frames ago, and the whole echo's power is the
 *    estimate's plus its own late part: q(t) = y2(t) + late(t),
 *    late(t) = a^L q(t - L). The decay a is measured where the far end
 *    has stopped: there the residual is that tail alone, while it stays
 *    below where the far end left it (above, it is a near talker).
 *
 * The weights are the regression of the residual's band power on the two
 * regressors, from covariances of their fluctuations about their means (a
 * near talker's power does not follow the far end's: it adds noise to
 * them, no bias), with floors so that a regression gone astray never
 * leaves the echo unmodelled.
 *
 * A near talker is what the model cannot explain: the residual, above its
 * noise floor, several times the model summed over the bins, unless the
 * filter adds to the echo (it lost it, or one step's reference glitched:
 * then all is echo) while the microphone is less than twice as loud as
 * the echo estimate (otherwise someone talks over a filter that does not
 * help). With one the
 * model is subtracted gently, down to -16 dB at most, and the weights stop
 * learning. Without one the suppression is hard: a large over-subtraction
 * down to -50 dB, of the model widened over neighbouring bins and raised
 * to a share of the estimate's mean power, because what a changed path or
 * a distorting loudspeaker leaves lies near, not at, the estimate's
 * spectrum. So single talk loses its echo and double talk keeps its
 * talker. */

#define RS_BANDS_MAX 32
#define RS_LO_HZ 100.0
#define RS_LATE_MS 300.0      /* the echo path the linear filter covers: gv_echo's default */
#define RS_SMOOTH_MS 20.0     /* powers for the gain */
#define RS_HOLD_MS 80.0       /* release of the estimate's power in the model */
#define RS_MEAN_MS 500.0      /* means the fluctuations are taken about */
#define RS_COV_MS 2000.0      /* covariances of the fluctuations */
#define RS_NOISE_UP_MS 3000.0 /* noise floor rises this slowly, falls at once */
#define RS_LOST 1.1f          /* residual over microphone power: the filter lost the echo */
#define RS_LOST_MS 50.0
#define RS_LOST_NEAR 2.0f     /* microphone over estimate power beyond which a loss is a near talker's */
#define RS_PEAK_MS 500.0      /* release of the estimate's band peaks */
#define RS_PAUSE 0.01f        /* estimate below this share of its peak: the far end stopped */
#define RS_DECAY_INIT_MS 60.0 /* tail's power time constant until measured (RT60 0.8 s) */
#define RS_DECAY_MIN_MS 10.0
#define RS_DECAY_MAX_MS 300.0
#define RS_DECAY_STEP 0.006f  /* log decay per frame moves this far towards a measurement */
#define RS_OVER_SINGLE 12.0f  /* over-subtraction without a near talker */
#define RS_OVER_DOUBLE 1.0f   /* and with one */
#define RS_FLOOR_SINGLE 0.003f /* -50 dB */
#define RS_FLOOR_DOUBLE 0.15f  /* -16 dB */
#define RS_BROAD 0.01f        /* without a near talker: at least this share of the estimate's
                                 mean power in every bin */
#define RS_SPREAD 6           /* and the model's largest within this many bins */
#define RS_NEAR_RATIO 4.0f    /* residual power this far above the model: a talker */
#define RS_HANG_MS 150.0      /* near talker held this long after */
#define RS_ADDS 1.5f          /* residual over microphone power: the filter added to this step */
#define RS_ADDS_MS 50.0       /* no near talker found this long after it */
#define RS_LEAK_INIT 1.0f     /* until learnt: suppress hard where the estimate sounds */
#define RS_TAIL_INIT 1.0f
#define RS_LEAK_MIN 0.02f     /* a filter never cancels much better than this */
#define RS_LEAK_MAX 100.0f
#define RS_TAIL_MIN 0.5f      /* nor is the room's tail much weaker than the model's */
#define RS_TAIL_MAX 10.0f
#define RS_ACTIVE 1e-8f       /* a band's estimate power that counts as sounding */
#define RS_WARM 20            /* sounding frames before the regression is trusted */

struct gv_resup {
    int bins, bands;
    int *band; /* band of each bin */
    float a_smooth, a_hold, a_mean, a_cov, a_noise, a_lost, a_peak;
    int hang_frames;
    int late; /* L: frames the filter covers */
    float frame_ms;
    /* per bin */
    float *q;       /* the last L frames' whole echo power estimates, a ring */
    float *pe, *pr; /* residual and late powers, smoothed */
    float *ys;      /* estimate's power, held with a release */
    float *noise;   /* residual's noise floor */
    int qpos;
    /* per band: means of residual, estimate and late powers, the
     * covariances of their fluctuations, the weights, and for the decay
     * the estimate's peak and the last residual power */
    float me[RS_BANDS_MAX], my[RS_BANDS_MAX], ml[RS_BANDS_MAX];
    float cyy[RS_BANDS_MAX], cyl[RS_BANDS_MAX], cll[RS_BANDS_MAX];
    float cye[RS_BANDS_MAX], cle[RS_BANDS_MAX];
    float leak[RS_BANDS_MAX], tail[RS_BANDS_MAX];
    float peak[RS_BANDS_MAX], last_e[RS_BANDS_MAX];
    float stop_e[RS_BANDS_MAX]; /* residual's peaks while the far end last sounded */
    int active[RS_BANDS_MAX];
    float log_decay; /* per frame */
    float late_gain; /* a^L */
    float le, ld, ly; /* residual, microphone and estimate power, smoothed */
    int hang;
    int adds_frames, adds_hang;
    int frames;
};

static float coef(double ms, int hop)
{
    return (float)exp(-(double)hop / (48.0 * ms));
}

int gv_resup_create(int bins, int hop, gv_resup **out)
{
    gv_resup *rs;
    size_t n;
    double nyq_bin;

    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (bins < 2 || bins > 4097 || hop < 1)
        return GV_EINVAL;
    rs = calloc(1, sizeof *rs);
    if (!rs)
        return GV_ENOMEM;
    n = (size_t)bins;
    rs->bins = bins;
    rs->frame_ms = (float)hop / 48.0f;
    rs->late = (int)(RS_LATE_MS / rs->frame_ms + 0.5);
    if (rs->late < 1)
        rs->late = 1;
    rs->band = calloc(n, sizeof(int));
    rs->q = calloc(n * (size_t)rs->late, sizeof(float));
    rs->pe = calloc(n, sizeof(float));
    rs->pr = calloc(n, sizeof(float));
    rs->ys = calloc(n, sizeof(float));
    rs->noise = calloc(n, sizeof(float));
    if (!rs->band || !rs->q || !rs->pe || !rs->pr || !rs->ys || !rs->noise) {
        gv_resup_destroy(rs);
        return GV_ENOMEM;
    }
    /* Log-spaced bands from RS_LO_HZ to Nyquist; the bins below go to the
     * first. Fewer bands when there are few bins. */
    rs->bands = bins - 1 < RS_BANDS_MAX ? bins - 1 : RS_BANDS_MAX;
    if (rs->bands < 1)
        rs->bands = 1;
    nyq_bin = (double)(bins - 1);
    {
        double lo = RS_LO_HZ / 24000.0 * nyq_bin;
        if (lo < 1.0)
            lo = 1.0;
        for (int k = 0; k < bins; k++) {
            int b = 0;
            if (k > lo)
                b = (int)(log((double)k / lo) / log(nyq_bin / lo) * rs->bands);
            rs->band[k] = b < 0 ? 0 : b >= rs->bands ? rs->bands - 1 : b;
        }
    }
    rs->a_smooth = coef(RS_SMOOTH_MS, hop);
    rs->a_hold = coef(RS_HOLD_MS, hop);
    rs->a_mean = coef(RS_MEAN_MS, hop);
    rs->a_cov = coef(RS_COV_MS, hop);
    rs->a_noise = coef(RS_NOISE_UP_MS, hop);
    rs->a_lost = coef(RS_LOST_MS, hop);
    rs->a_peak = coef(RS_PEAK_MS, hop);
    rs->hang_frames = (int)(RS_HANG_MS * 48.0 / hop + 0.5);
    rs->adds_frames = (int)(RS_ADDS_MS * 48.0 / hop + 0.5);
    gv_resup_reset(rs);
    *out = rs;
    return 0;
}

void gv_resup_destroy(gv_resup *rs)
{
    if (!rs)
        return;
    free(rs->band);
    free(rs->q);
    free(rs->pe);
    free(rs->pr);
    free(rs->ys);
    free(rs->noise);
    free(rs);
}

void gv_resup_relearn(gv_resup *rs)
{
    if (!rs)
        return;
    for (int b = 0; b < RS_BANDS_MAX; b++) {
        rs->me[b] = rs->my[b] = rs->ml[b] = 0.0f;
        rs->cyy[b] = rs->cyl[b] = rs->cll[b] = rs->cye[b] = rs->cle[b] = 0.0f;
        rs->leak[b] = RS_LEAK_INIT;
        rs->active[b] = 0;
    }
}

void gv_resup_reset(gv_resup *rs)
{
    size_t n;
    if (!rs)
        return;
    n = (size_t)rs->bins * sizeof(float);
    memset(rs->q, 0, n * (size_t)rs->late);
    memset(rs->pe, 0, n);
    memset(rs->pr, 0, n);
    memset(rs->ys, 0, n);
    memset(rs->noise, 0, n);
    rs->qpos = 0;
    gv_resup_relearn(rs);
    for (int b = 0; b < RS_BANDS_MAX; b++) {
        rs->tail[b] = RS_TAIL_INIT;
        rs->peak[b] = rs->last_e[b] = rs->stop_e[b] = 0.0f;
    }
    rs->log_decay = -rs->frame_ms / (float)RS_DECAY_INIT_MS;
    rs->late_gain = expf((float)rs->late * rs->log_decay);
    rs->le = rs->ld = rs->ly = 0.0f;
    rs->hang = rs->adds_hang = 0;
    rs->frames = 0;
}

/* The band's weights from the covariances: the two-regressor least
 * squares, or one regressor alone where the other would come out negative
 * or the two cannot be told apart; then within their limits. */
static void solve(gv_resup *rs, int b)
{
    float cyy = rs->cyy[b], cll = rs->cll[b], cyl = rs->cyl[b];
    float cye = rs->cye[b], cle = rs->cle[b];
    float det = cyy * cll - cyl * cyl, l = -1.0f, t = -1.0f;
    if (det > 1e-3f * cyy * cll) {
        l = (cll * cye - cyl * cle) / det;
        t = (cyy * cle - cyl * cye) / det;
    }
    if (l < 0.0f || t < 0.0f) {
        /* The regressor that explains more alone. */
        float fl = cyy > 0.0f && cye > 0.0f ? cye * cye / cyy : 0.0f;
        float ft = cll > 0.0f && cle > 0.0f ? cle * cle / cll : 0.0f;
        l = t = 0.0f;
        if (fl >= ft && fl > 0.0f)
            l = cye / cyy;
        else if (ft > 0.0f)
            t = cle / cll;
    }
    rs->leak[b] = l > RS_LEAK_MAX ? RS_LEAK_MAX : l < RS_LEAK_MIN ? RS_LEAK_MIN : l;
    rs->tail[b] = t > RS_TAIL_MAX ? RS_TAIL_MAX : t < RS_TAIL_MIN ? RS_TAIL_MIN : t;
}

/* Each of x's n values becomes the largest within w of it. Comparisons,
 * not fmaxf: without -ffast-math that is a library call per bin (7% of
 * the clean input's time), and no NaN reaches here. */
static void spread(float *x, int n, int w)
{
    for (int r = 0; r < w; r++) {
        float prev = x[0];
        for (int k = 0; k < n; k++) {
            float cur = x[k], next = k + 1 < n ? x[k + 1] : 0.0f;
            float m = prev > next ? prev : next;
            x[k] = cur > m ? cur : m;
            prev = cur;
        }
    }
}

/* Moves the tail's decay a step towards the residual's fall dnum / dden
 * measured in the pauses of the far end: a median rather than a mean, so
 * that a near talker's onsets and endings in those pauses do not drag it. */
static void follow_decay(gv_resup *rs, double dnum, double dden)
{
    float lo = -rs->frame_ms / (float)RS_DECAY_MIN_MS, hi = -rs->frame_ms / (float)RS_DECAY_MAX_MS;
    double r = dnum / dden;
    float ld = (float)log(r > 1.0 ? 1.0 : r < 1e-3 ? 1e-3 : r);
    rs->log_decay += ld > rs->log_decay ? RS_DECAY_STEP : -RS_DECAY_STEP;
    rs->log_decay = rs->log_decay < lo ? lo : rs->log_decay > hi ? hi : rs->log_decay;
    rs->late_gain = expf((float)rs->late * rs->log_decay);
}

int gv_resup_gains(gv_resup *rs, const double *e_re, const double *e_im, const double *y_re,
                   const double *y_im, float *gain)
{
    float be[RS_BANDS_MAX], by[RS_BANDS_MAX], bl[RS_BANDS_MAX], bn[RS_BANDS_MAX];
    float bcount[RS_BANDS_MAX];
    float *q;
    double se = 0.0, sd = 0.0, sy = 0.0, ex_sum = 0.0, res_sum = 0.0, dnum = 0.0, dden = 0.0;
    int dbands = 0, near, lost;
    float over, floor_;

    if (!rs || !e_re || !e_im || !y_re || !y_im || !gain)
        return GV_EINVAL;
    q = rs->q + (size_t)rs->qpos * (size_t)rs->bins;
    memset(be, 0, sizeof be);
    memset(by, 0, sizeof by);
    memset(bl, 0, sizeof bl);
    memset(bn, 0, sizeof bn);
    memset(bcount, 0, sizeof bcount);

    /* Powers per bin and band. The late part comes from the ring slot of
     * L frames ago, which then takes this frame's whole echo power. gain
     * holds the held estimate power until the model replaces it. */
    for (int k = 0; k < rs->bins; k++) {
        float er = (float)e_re[k], ei = (float)e_im[k], yr = (float)y_re[k], yi = (float)y_im[k];
        float e2, y2, late, ex;
        int b = rs->band[k];
        if (!isfinite(er) || !isfinite(ei))
            er = ei = 0.0f;
        if (!isfinite(yr) || !isfinite(yi))
            yr = yi = 0.0f;
        e2 = er * er + ei * ei;
        y2 = yr * yr + yi * yi;
        se += e2;
        sd += (er + yr) * (er + yr) + (ei + yi) * (ei + yi);
        sy += y2;
        /* The estimate's power held through its dips: the residual's
         * power does not follow them bin by bin. */
        rs->ys[k] = y2 > rs->a_hold * rs->ys[k] ? y2 : rs->a_hold * rs->ys[k];
        y2 = rs->ys[k];
        late = rs->late_gain * q[k];
        q[k] = y2 + late;
        rs->pr[k] = rs->a_smooth * rs->pr[k] + (1.0f - rs->a_smooth) * late;
        rs->pe[k] = rs->a_smooth * rs->pe[k] + (1.0f - rs->a_smooth) * e2;
        rs->noise[k] = rs->pe[k] < rs->noise[k] || rs->frames == 0
                           ? rs->pe[k]
                           : rs->a_noise * rs->noise[k] + (1.0f - rs->a_noise) * rs->pe[k];
        ex = rs->pe[k] - rs->noise[k];
        ex_sum += ex > 0.0f ? ex : 0.0f;
        be[b] += e2;
        by[b] += y2;
        bl[b] += late;
        bn[b] += rs->noise[k];
        bcount[b] += 1.0f;
        gain[k] = y2;
    }
    rs->qpos = (rs->qpos + 1) % rs->late;
    /* The filter lost the echo (the path changed): it adds its estimate
     * to the echo instead of removing it. Then everything is echo, unless
     * the microphone is well above the estimate: a near talker over a
     * filter that does not help (one left behind by the echo's delay
     * through a sound server; a lost path gives as much echo as it
     * estimates), who is kept. */
    rs->le = rs->a_lost * rs->le + (1.0f - rs->a_lost) * (float)se;
    rs->ld = rs->a_lost * rs->ld + (1.0f - rs->a_lost) * (float)sd;
    rs->ly = rs->a_lost * rs->ly + (1.0f - rs->a_lost) * (float)sy;
    lost = rs->le > RS_LOST * rs->ld && rs->ld < RS_LOST_NEAR * rs->ly;

    for (int b = 0; b < rs->bands; b++) {
        /* The covariances learn unless a near talker is heard: his power
         * adds no bias, but much noise. */
        int frozen = rs->hang > 0 && !lost;
        float am = frozen ? 1.0f : rs->a_mean, ac = frozen ? 1.0f : rs->a_cov, dy, dl, de;
        if (rs->active[b] == 0) {
            /* Means from the first sounding frame on, so that their
             * start from nothing is not taken for a common rise. */
            rs->me[b] = be[b];
            rs->my[b] = by[b];
            rs->ml[b] = bl[b];
            if (by[b] > RS_ACTIVE)
                rs->active[b] = 1;
            continue;
        }
        rs->me[b] = am * rs->me[b] + (1.0f - am) * be[b];
        rs->my[b] = am * rs->my[b] + (1.0f - am) * by[b];
        rs->ml[b] = am * rs->ml[b] + (1.0f - am) * bl[b];
        dy = by[b] - rs->my[b];
        dl = bl[b] - rs->ml[b];
        de = be[b] - rs->me[b];
        rs->cyy[b] = ac * rs->cyy[b] + (1.0f - ac) * dy * dy;
        rs->cyl[b] = ac * rs->cyl[b] + (1.0f - ac) * dy * dl;
        rs->cll[b] = ac * rs->cll[b] + (1.0f - ac) * dl * dl;
        rs->cye[b] = ac * rs->cye[b] + (1.0f - ac) * dy * de;
        rs->cle[b] = ac * rs->cle[b] + (1.0f - ac) * dl * de;
        if (by[b] > RS_ACTIVE && rs->active[b] < RS_WARM)
            rs->active[b]++;
        if (rs->active[b] >= RS_WARM)
            solve(rs, b);
        /* The decay: the residual's fall from frame to frame where the
         * estimate has fallen far below its peak (the far end stopped a
         * while ago) and the residual stands well above its noise. */
        rs->peak[b] = by[b] > rs->a_peak * rs->peak[b] ? by[b] : rs->a_peak * rs->peak[b];
        /* A room's tail only falls from where the far end left it; a
         * residual above the peaks it had then is a near talker in the far
         * end's pause, whose steady speech read as a tail of 200 ms and
         * more (logged in double talk through a sound server), and the
         * tail so modelled hid him from the detector. */
        if (by[b] >= RS_PAUSE * rs->peak[b])
            rs->stop_e[b] = be[b] > rs->a_peak * rs->stop_e[b] ? be[b] : rs->a_peak * rs->stop_e[b];
        else if (rs->last_e[b] > 30.0f * bn[b] && be[b] > 3.0f * bn[b] &&
                 rs->last_e[b] <= rs->stop_e[b] && be[b] <= rs->stop_e[b]) {
            dnum += be[b];
            dden += rs->last_e[b];
            dbands++;
        }
        rs->last_e[b] = be[b];
    }
    if (dbands >= 3)
        follow_decay(rs, dnum, dden);

    /* The model per bin. In bands narrower than the estimate's harmonics
     * the band's mean power stands in where it is larger: the residual
     * fills the gaps between them. Then neighbouring bins' largest: the
     * model's fine structure is chance. */
    for (int k = 0; k < rs->bins; k++) {
        int b = rs->band[k];
        float yb = by[b] / bcount[b], y = gain[k] > yb ? gain[k] : yb;
        gain[k] = rs->leak[b] * y + rs->tail[b] * rs->pr[k];
    }
    spread(gain, rs->bins, 1);
    for (int k = 0; k < rs->bins; k++)
        res_sum += gain[k];

    /* One step alone can add too: the reference glitched for a block and
     * the estimate landed beside the echo. The residual then stands far
     * above the model for as long as its smoothed power remembers the
     * step, and was taken for a near talker held for 150 ms: that much
     * echo went out at -16 dB (logged through a sound server, single
     * talk). Such a step is no talker (unless the microphone is well above
     * the estimate, as for a lost path), and nobody is heard until it is
     * forgotten. Only a residual above the microphone's recent level
     * counts: in the faint end of a word both powers are small, their
     * ratio is chance, and taken so it cut a near talker's syllables
     * (test_chain's double talk lost 3 dB of SI-SDR). */
    if (se > RS_ADDS * sd && se > rs->ld && sd < RS_LOST_NEAR * sy)
        rs->adds_hang = rs->adds_frames;
    else if (rs->adds_hang > 0)
        rs->adds_hang--;
    /* A near talker: the residual, above its noise floor, well beyond the
     * model, while the filter still cancels. */
    near = !lost && !rs->adds_hang && ex_sum > 1e-12 && ex_sum > RS_NEAR_RATIO * res_sum;
    if (lost || rs->adds_hang)
        rs->hang = 0;
    else if (near)
        rs->hang = rs->hang_frames;
    else if (rs->hang > 0)
        rs->hang--;
    near = rs->hang > 0;
    over = near ? RS_OVER_DOUBLE : RS_OVER_SINGLE;
    floor_ = near ? RS_FLOOR_DOUBLE : RS_FLOOR_SINGLE;
    if (!near) {
        /* Without a near talker nothing is lost by suppressing where the
         * echo may be rather than only where the model puts it: a path
         * that changed or a distorting loudspeaker moves the residual
         * away from the estimate's spectrum. */
        float ymean = 0.0f;
        for (int b = 0; b < rs->bands; b++)
            ymean += by[b];
        ymean *= RS_BROAD / (float)rs->bins;
        spread(gain, rs->bins, RS_SPREAD);
        for (int k = 0; k < rs->bins; k++)
            gain[k] = gain[k] > ymean ? gain[k] : ymean;
    }
    for (int k = 0; k < rs->bins; k++) {
        float p = rs->pe[k] + 1e-30f;
        float g2 = 1.0f - over * gain[k] / p, g;
        g = g2 > floor_ * floor_ ? sqrtf(g2) : floor_;
        gain[k] = g > 1.0f ? 1.0f : g;
    }
    rs->frames++;
    return 0;
}
