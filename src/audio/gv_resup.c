#include "audio/gv_resup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

/* The residual echo in a bin is modelled as the band's leakage times the
 * echo estimate's power extended by a reverberant decay: what the linear
 * filter misses is its misalignment (in step with the estimate) and the
 * room's tail beyond its length (the estimate's recent past, decaying).
 * The leakage is learnt per band as the ratio of residual power to that
 * model, only from frames where the microphone is mostly echo (coherent
 * with the estimate), so a near talker does not teach it; until then it
 * is high. The gain subtracts the modelled residual from the residual's
 * power: hard (over-subtraction, deep floor) while no near talker is
 * heard, gently while one is (the residual, above its noise floor,
 * clearly exceeds the model), so that single talk loses its echo and
 * double talk keeps its talker. */

#define RS_BANDS_MAX 32
#define RS_LO_HZ 100.0
#define RS_DECAY_MS 200.0  /* tail's power time constant (RT60 ~ 1.4 s: slower is safer) */
#define RS_SMOOTH_MS 20.0  /* powers for the gain */
#define RS_COH_MS 60.0     /* cross spectra for the coherence */
#define RS_LEAK_MS 300.0   /* leakage learning */
#define RS_NOISE_UP_MS 3000.0 /* noise floor rises this slowly, falls at once */
#define RS_OVER_SINGLE 12.0f  /* over-subtraction without a near talker */
#define RS_OVER_DOUBLE 1.0f   /* and with one */
#define RS_FLOOR_SINGLE 0.003f /* -50 dB */
#define RS_FLOOR_DOUBLE 0.15f  /* -16 dB */
#define RS_NEAR_RATIO 3.0f     /* residual power this far above the model: a talker */
#define RS_HANG_MS 150.0       /* near talker held this long after */
#define RS_COH_LEARN 0.6f   /* band coherence below which the leakage is not learnt */
#define RS_LEAK_INIT 10.0f /* until learnt: suppress hard where the estimate sounds */
#define RS_ACTIVE 1e-8f /* a bin's estimate power that counts as sounding */
#define RS_WARM 8       /* frames of it before the coherence is trusted */
#define RS_LEAK_MAX 100.0f

struct gv_resup {
    int bins, bands;
    int *band;                     /* band of each bin */
    float a_smooth, a_coh, a_decay, a_leak, a_noise;
    int hang_frames;
    /* per bin */
    float *tail;            /* echo estimate's power with the decay */
    float *pe;              /* residual power, smoothed */
    float *noise;           /* residual's noise floor */
    float *sdd, *syy, *sdr, *sdi; /* microphone and estimate powers, cross spectrum */
    /* per band */
    float lnum[RS_BANDS_MAX], lden[RS_BANDS_MAX], leak[RS_BANDS_MAX];
    int active[RS_BANDS_MAX]; /* frames the band's estimate has sounded, to RS_WARM */
    int hang;
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
    rs->band = calloc(n, sizeof(int));
    rs->tail = calloc(n, sizeof(float));
    rs->pe = calloc(n, sizeof(float));
    rs->noise = calloc(n, sizeof(float));
    rs->sdd = calloc(n, sizeof(float));
    rs->syy = calloc(n, sizeof(float));
    rs->sdr = calloc(n, sizeof(float));
    rs->sdi = calloc(n, sizeof(float));
    if (!rs->band || !rs->tail || !rs->pe || !rs->noise || !rs->sdd || !rs->syy || !rs->sdr ||
        !rs->sdi) {
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
    rs->a_coh = coef(RS_COH_MS, hop);
    rs->a_decay = coef(RS_DECAY_MS, hop);
    rs->a_leak = coef(RS_LEAK_MS, hop);
    rs->a_noise = coef(RS_NOISE_UP_MS, hop);
    rs->hang_frames = (int)(RS_HANG_MS * 48.0 / hop + 0.5);
    gv_resup_reset(rs);
    *out = rs;
    return 0;
}

void gv_resup_destroy(gv_resup *rs)
{
    if (!rs)
        return;
    free(rs->band);
    free(rs->tail);
    free(rs->pe);
    free(rs->noise);
    free(rs->sdd);
    free(rs->syy);
    free(rs->sdr);
    free(rs->sdi);
    free(rs);
}

void gv_resup_reset(gv_resup *rs)
{
    size_t n;
    if (!rs)
        return;
    n = (size_t)rs->bins * sizeof(float);
    memset(rs->tail, 0, n);
    memset(rs->pe, 0, n);
    memset(rs->noise, 0, n);
    memset(rs->sdd, 0, n);
    memset(rs->syy, 0, n);
    memset(rs->sdr, 0, n);
    memset(rs->sdi, 0, n);
    for (int b = 0; b < RS_BANDS_MAX; b++) {
        rs->lnum[b] = rs->lden[b] = 0.0f;
        rs->leak[b] = RS_LEAK_INIT;
        rs->active[b] = 0;
    }
    rs->hang = 0;
    rs->frames = 0;
}

int gv_resup_gains(gv_resup *rs, const double *e_re, const double *e_im, const double *y_re,
                   const double *y_im, float *gain)
{
    float bnum[RS_BANDS_MAX], bden[RS_BANDS_MAX], bcoh[RS_BANDS_MAX], bcnt[RS_BANDS_MAX];
    double res_sum = 0.0, ex_sum = 0.0;
    float over, floor_;
    int near;

    if (!rs || !e_re || !e_im || !y_re || !y_im || !gain)
        return GV_EINVAL;
    memset(bnum, 0, sizeof bnum);
    memset(bden, 0, sizeof bden);
    memset(bcoh, 0, sizeof bcoh);
    memset(bcnt, 0, sizeof bcnt);

    for (int k = 0; k < rs->bins; k++) {
        float er = (float)e_re[k], ei = (float)e_im[k], yr = (float)y_re[k], yi = (float)y_im[k];
        float e2, y2, dr, di, coh;
        int b = rs->band[k];
        if (!isfinite(er) || !isfinite(ei))
            er = ei = 0.0f;
        if (!isfinite(yr) || !isfinite(yi))
            yr = yi = 0.0f;
        e2 = er * er + ei * ei;
        y2 = yr * yr + yi * yi;
        dr = er + yr;
        di = ei + yi;
        rs->tail[k] = rs->a_decay * rs->tail[k] + (1.0f - rs->a_decay) * y2;
        if (rs->tail[k] < y2)
            rs->tail[k] = y2;
        rs->pe[k] = rs->a_smooth * rs->pe[k] + (1.0f - rs->a_smooth) * e2;
        rs->noise[k] = rs->pe[k] < rs->noise[k] || rs->frames == 0
                           ? rs->pe[k]
                           : rs->a_noise * rs->noise[k] + (1.0f - rs->a_noise) * rs->pe[k];
        rs->sdd[k] = rs->a_coh * rs->sdd[k] + (1.0f - rs->a_coh) * (dr * dr + di * di);
        rs->syy[k] = rs->a_coh * rs->syy[k] + (1.0f - rs->a_coh) * y2;
        rs->sdr[k] = rs->a_coh * rs->sdr[k] + (1.0f - rs->a_coh) * (dr * yr + di * yi);
        rs->sdi[k] = rs->a_coh * rs->sdi[k] + (1.0f - rs->a_coh) * (di * yr - dr * yi);
        coh = (rs->sdr[k] * rs->sdr[k] + rs->sdi[k] * rs->sdi[k]) /
              (rs->sdd[k] * rs->syy[k] + 1e-30f);
        bnum[b] += e2;
        bden[b] += rs->tail[k];
        bcoh[b] += coh;
        bcnt[b] += 1.0f;
    }

    /* Leakage: learnt from frames in proportion to how much the
     * microphone is echo there. */
    for (int b = 0; b < rs->bands; b++) {
        float c = bcnt[b] > 0.0f ? bcoh[b] / bcnt[b] : 0.0f;
        float w = (c - RS_COH_LEARN) / (1.0f - RS_COH_LEARN);
        w = w > 0.0f ? w * w * (1.0f - rs->a_leak) : 0.0f;
        /* A coherence from the first few frames of an estimate is 1
         * whatever the signals: learn once it has some history. */
        if (bden[b] <= RS_ACTIVE * bcnt[b])
            continue;
        if (rs->active[b] < RS_WARM) {
            rs->active[b]++;
            continue;
        }
        rs->lnum[b] = rs->lnum[b] * (1.0f - w) + w * bnum[b];
        rs->lden[b] = rs->lden[b] * (1.0f - w) + w * bden[b];
        if (rs->lden[b] > 0.0f) {
            float l = rs->lnum[b] / rs->lden[b];
            rs->leak[b] = l > RS_LEAK_MAX ? RS_LEAK_MAX : l;
        }
    }

    /* A near talker: the residual, above its noise floor, well beyond
     * what the model predicts. */
    for (int k = 0; k < rs->bins; k++) {
        float ex = rs->pe[k] - rs->noise[k];
        res_sum += rs->leak[rs->band[k]] * rs->tail[k];
        ex_sum += ex > 0.0f ? ex : 0.0f;
    }
    if (ex_sum > RS_NEAR_RATIO * res_sum + 1e-12)
        rs->hang = rs->hang_frames;
    else if (rs->hang > 0)
        rs->hang--;
    near = rs->hang > 0;
    over = near ? RS_OVER_DOUBLE : RS_OVER_SINGLE;
    floor_ = near ? RS_FLOOR_DOUBLE : RS_FLOOR_SINGLE;

    for (int k = 0; k < rs->bins; k++) {
        float r = over * rs->leak[rs->band[k]] * rs->tail[k];
        float p = rs->pe[k] + 1e-30f;
        float g2 = 1.0f - r / p, g;
        g = g2 > floor_ * floor_ ? sqrtf(g2) : floor_;
        gain[k] = g > 1.0f ? 1.0f : g;
    }
    rs->frames++;
    return 0;
}
