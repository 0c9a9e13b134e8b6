#include "audio/gv_echolag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

#define LAG_BANDS 32
#define LAG_BAND_LO 4   /* bin of ~190 Hz */
#define LAG_BAND_HI 192 /* bin of ~9 kHz */
#define LAG_ECHO_BITS 8 /* band mismatches of a step that still looks like echo */
#define LAG_MAX 10000

struct gv_echolag {
    int lags;
    int band_lo[LAG_BANDS + 1];
    float mic_lvl[LAG_BANDS], ref_lvl[LAG_BANDS]; /* log10 band powers, long-term; -1: unknown */
    uint32_t *ref_bits;                           /* per lag, newest at bits_head */
    uint8_t *ref_act;
    int bits_head;
    float *dist; /* per lag, the smoothed mismatch in bits */
    int cand, cand_count;
    gv_echolag_estimate est;
};

int gv_echolag_create(int lags, gv_echolag **out)
{
    gv_echolag *el;
    double ratio = log((double)LAG_BAND_HI / LAG_BAND_LO);

    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (lags < 2 || lags > LAG_MAX)
        return GV_EINVAL;
    el = calloc(1, sizeof *el);
    if (!el)
        return GV_ENOMEM;
    el->lags = lags;
    el->ref_bits = calloc((size_t)lags, sizeof *el->ref_bits);
    el->ref_act = calloc((size_t)lags, 1);
    el->dist = calloc((size_t)lags, sizeof *el->dist);
    if (!el->ref_bits || !el->ref_act || !el->dist) {
        gv_echolag_destroy(el);
        return GV_ENOMEM;
    }
    for (int b = 0; b <= LAG_BANDS; b++) {
        int edge = (int)lround(LAG_BAND_LO * exp(ratio * b / LAG_BANDS));
        /* Low bands would be narrower than a bin: keep them one wide. */
        if (b > 0 && edge <= el->band_lo[b - 1])
            edge = el->band_lo[b - 1] + 1;
        el->band_lo[b] = edge;
    }
    gv_echolag_reset(el);
    *out = el;
    return 0;
}

void gv_echolag_destroy(gv_echolag *el)
{
    if (!el)
        return;
    free(el->ref_bits);
    free(el->ref_act);
    free(el->dist);
    free(el);
}

void gv_echolag_reset(gv_echolag *el)
{
    for (int b = 0; b < LAG_BANDS; b++)
        el->mic_lvl[b] = el->ref_lvl[b] = -1.0f;
    memset(el->ref_bits, 0, (size_t)el->lags * sizeof *el->ref_bits);
    memset(el->ref_act, 0, (size_t)el->lags);
    el->bits_head = 0;
    for (int k = 0; k < el->lags; k++)
        el->dist[k] = LAG_BANDS / 2.0f;
    el->cand = -1;
    el->cand_count = 0;
    el->est = (gv_echolag_estimate){.lag = -1};
}

/* One step's band patterns into the history, each lag scored on it. */
static void note_bits(gv_echolag *el, uint32_t mbits, uint32_t rbits, int ref_active, int mic_active)
{
    int head = (el->bits_head + 1) % el->lags;
    float mean = 0.0f, best;
    int cand = 0;

    el->bits_head = head;
    el->ref_bits[head] = rbits;
    el->ref_act[head] = (uint8_t)ref_active;
    el->est.age++;
    el->est.echo_now = 0;
    if (!mic_active)
        return;
    for (int k = 0; k < el->lags; k++) {
        int slot = (head - k + el->lags) % el->lags;
        /* A silent reference cannot explain a sounding microphone: that
         * counts as a chance match. */
        int d = LAG_BANDS / 2;
        if (el->ref_act[slot]) {
            uint32_t x = mbits ^ el->ref_bits[slot];
            for (d = 0; x; x &= x - 1)
                d++;
            if (k == el->est.lag && d <= LAG_ECHO_BITS)
                el->est.echo_now = 1;
        }
        el->dist[k] += 0.04f * ((float)d - el->dist[k]);
        mean += el->dist[k];
    }
    mean /= (float)el->lags;
    best = el->dist[0];
    for (int k = 1; k < el->lags; k++)
        if (el->dist[k] < best) {
            best = el->dist[k];
            cand = k;
        }
    /* A lag counts once it has been the closest for a while and clearly
     * closer than lags on average: echo, not chance. */
    if (mean - best < 2.5f) {
        el->cand_count = 0;
        return;
    }
    if (cand == el->cand) {
        el->cand_count++;
    } else {
        el->cand = cand;
        el->cand_count = 0;
    }
    el->est.contrast = mean - best;
    if (el->cand_count >= 30) {
        el->est.lag = cand;
        el->est.age = 0;
    }
}

void gv_echolag_step(gv_echolag *el, const float *mr, const float *mi, const float *rr, const float *ri,
                     int ref_active, int mic_active)
{
    uint32_t mbits = 0, rbits = 0;

    for (int b = 0; b < LAG_BANDS; b++) {
        double em = 1e-10, er = 1e-10;
        float lm, lr;
        for (int k = el->band_lo[b]; k < el->band_lo[b + 1]; k++) {
            em += (double)mr[k] * mr[k] + (double)mi[k] * mi[k];
            er += (double)rr[k] * rr[k] + (double)ri[k] * ri[k];
        }
        lm = (float)log10(em);
        lr = (float)log10(er);
        if (mic_active) {
            if (el->mic_lvl[b] < -0.5f && el->mic_lvl[b] > -1.5f)
                el->mic_lvl[b] = lm;
            el->mic_lvl[b] += 0.02f * (lm - el->mic_lvl[b]);
        }
        if (ref_active) {
            if (el->ref_lvl[b] < -0.5f && el->ref_lvl[b] > -1.5f)
                el->ref_lvl[b] = lr;
            el->ref_lvl[b] += 0.02f * (lr - el->ref_lvl[b]);
        }
        mbits |= (uint32_t)(lm > el->mic_lvl[b]) << b;
        rbits |= (uint32_t)(lr > el->ref_lvl[b]) << b;
    }
    note_bits(el, mbits, rbits, ref_active, mic_active);
}

void gv_echolag_step_silent(gv_echolag *el, int mic_active)
{
    note_bits(el, 0, 0, 0, mic_active);
}

void gv_echolag_get(const gv_echolag *el, gv_echolag_estimate *out)
{
    *out = el->est;
}
