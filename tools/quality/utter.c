#include "utter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align.h"
#include "gvoip/error.h"

static double energy(const float *x, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return e;
}

/* Appends one utterance to *u (capacity *cap, *got used). */
static int push(gv_utterance **u, size_t *got, size_t *cap, size_t start, size_t length)
{
    if (*got == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        gv_utterance *v = realloc(*u, c * sizeof *v);
        if (!v)
            return GV_ENOMEM;
        *u = v;
        *cap = c;
    }
    (*u)[(*got)++] = (gv_utterance){.start = start, .length = length};
    return GV_OK;
}

int gv_utter_split(const float *x, size_t n, size_t frame, size_t min_pause, size_t min_length,
                   gv_utterance **out, size_t *count)
{
    gv_utterance *u = NULL;
    size_t frames, got = 0, cap = 0;
    double loudest = 0.0;
    /* The utterance being built: [run_start, run_end) in samples. */
    size_t run_start = 0, run_end = 0;
    int in_run = 0;

    if (out)
        *out = NULL;
    if (count)
        *count = 0;
    if (!x || !out || !count || frame == 0)
        return GV_EINVAL;
    frames = n / frame;
    for (size_t f = 0; f < frames; f++) {
        double e = energy(x + f * frame, frame);
        if (e > loudest)
            loudest = e;
    }
    /* One pass past the last frame closes the last utterance. */
    for (size_t f = 0; f <= frames && loudest > 0.0; f++) {
        int speech = f < frames && energy(x + f * frame, frame) > loudest * 1e-4;
        size_t at = f * frame;
        if (speech && in_run && at - run_end < min_pause) {
            run_end = at + frame; /* a short pause: the same utterance */
        } else if (speech || f == frames) {
            if (in_run && run_end - run_start >= min_length &&
                push(&u, &got, &cap, run_start, run_end - run_start) < 0) {
                free(u);
                return GV_ENOMEM;
            }
            in_run = speech;
            run_start = at;
            run_end = at + frame;
        }
    }
    *out = u;
    *count = got;
    return GV_OK;
}

/* deg[i] for any i, zeros outside 0..deg_n. */
static float sample(const float *deg, size_t deg_n, long i)
{
    return i >= 0 && (size_t)i < deg_n ? deg[i] : 0.0f;
}

/* Finds one stretch ref[a..b) in deg at a lag within [lo, hi] (samples):
 * the lag of the largest normalised correlation, so that a quiet word
 * is not drawn to a loud one nearby and a lag that puts speech where
 * the stretch pauses scores lower. Sets v's found, delay and match. */
static int find_one(const float *ref, size_t a, size_t b, const float *deg, size_t deg_n, long lo,
                    long hi, gv_utterance *v)
{
    size_t m = b - a, lags = (size_t)(hi - lo) + 1, w_n = m + lags - 1;
    float *w = malloc(w_n * sizeof *w);
    double *xc = malloc(lags * sizeof *xc);
    double *cum = malloc((w_n + 1) * sizeof *cum);
    double e_ref = 0.0, best = -2.0;
    size_t at = 0;
    int rc = GV_ENOMEM;

    if (!w || !xc || !cum)
        goto out;
    /* w[j] is deg at a + lo + j: lag lo + l lines ref[a + i] up with w[i + l]. */
    cum[0] = 0.0;
    for (size_t j = 0; j < w_n; j++) {
        w[j] = sample(deg, deg_n, (long)a + lo + (long)j);
        cum[j + 1] = cum[j] + (double)w[j] * w[j];
    }
    for (size_t i = a; i < b; i++)
        e_ref += (double)ref[i] * ref[i];
    rc = gv_align_xcorr(ref + a, m, w, w_n, xc, lags);
    if (rc < 0)
        goto out;
    for (size_t l = 0; l < lags; l++) {
        /* A window 90 dB below the stretch is silence; what the prefix
         * sums leave there is rounding, which must not divide. */
        double e = cum[l + m] - cum[l];
        xc[l] = e > 1e-9 * e_ref && e_ref > 0.0 ? xc[l] / sqrt(e_ref * e) : 0.0;
        if (xc[l] > best) {
            best = xc[l];
            at = l;
        }
    }
    /* A best lag on the window's edge is a peak outside it: not found. */
    if (best > 0.0 && at > 0 && at + 1 < lags) {
        double l = xc[at - 1], c = xc[at], r = xc[at + 1];
        double den = l - 2.0 * c + r;
        double frac = den < 0.0 ? 0.5 * (l - r) / den : 0.0;
        v->found = 1;
        v->delay = (double)lo + (double)at + (frac > 0.5 ? 0.5 : frac < -0.5 ? -0.5 : frac);
        v->match = best;
    }
    rc = GV_OK;
out:
    free(w);
    free(xc);
    free(cum);
    return rc;
}

int gv_utter_delays(const float *ref, size_t ref_n, const float *deg, size_t deg_n, double around,
                    size_t near, size_t search, size_t margin, double min_match, gv_utterance *u,
                    size_t count)
{
    if (!ref || !deg || (!u && count) || deg_n == 0 || near == 0 || near > search ||
        search > deg_n)
        return GV_EINVAL;
    for (size_t k = 0; k < count; k++) {
        if (u[k].length == 0 || u[k].start + u[k].length > ref_n ||
            (k > 0 && u[k].start < u[k - 1].start + u[k - 1].length))
            return GV_EINVAL;
    }
    for (size_t k = 0; k < count; k++) {
        gv_utterance *v = &u[k];
        /* The stretch: the utterance and up to margin of the quiet on
         * either side, never into a neighbour. */
        size_t prev_end = k > 0 ? u[k - 1].start + u[k - 1].length : 0;
        size_t next = k + 1 < count ? u[k + 1].start : ref_n;
        size_t a = v->start > prev_end + margin ? v->start - margin : prev_end;
        size_t b = v->start + v->length + margin < next ? v->start + v->length + margin : next;
        long at = lround(around);
        v->found = 0;
        v->delay = 0.0;
        v->match = 0.0;
        /* Near first: a word that sounds like a neighbour ("this", "is")
         * may match the neighbour as well as itself further out. */
        int rc = find_one(ref, a, b, deg, deg_n, at - (long)near, at + (long)near, v);
        if (rc == GV_OK && !(v->found && v->match >= min_match)) {
            v->found = 0;
            rc = find_one(ref, a, b, deg, deg_n, at - (long)search, at + (long)search, v);
        }
        if (rc < 0)
            return rc;
    }
    return GV_OK;
}

int gv_utter_rebuild(const float *deg, size_t deg_n, const gv_utterance *u, size_t count,
                     double min_match, float *out, size_t n)
{
    if (!deg || !out || (!u && count))
        return GV_EINVAL;
    memset(out, 0, n * sizeof *out);
    for (size_t k = 0; k < count; k++) {
        if (!u[k].found || u[k].match < min_match)
            continue;
        /* Utterance k's stretch reaches halfway into the pauses on either
         * side: the quiet edges of words below the cut's threshold still
         * count for STOI, and a steady delay rebuilds the whole file. */
        size_t lo = k == 0 ? 0 : (u[k - 1].start + u[k - 1].length + u[k].start) / 2;
        size_t hi = k + 1 == count ? n : (u[k].start + u[k].length + u[k + 1].start) / 2;
        long shift = lround(u[k].delay);
        for (size_t i = lo; i < hi && i < n; i++) {
            long j = (long)i + shift;
            out[i] = j >= 0 && (size_t)j < deg_n ? deg[j] : 0.0f;
        }
    }
    return GV_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int gv_utter_stats_of(const gv_utterance *u, size_t count, double min_match, gv_utter_stats *out)
{
    double *d;
    size_t n = 0;

    if (!out || (!u && count))
        return GV_EINVAL;
    *out = (gv_utter_stats){0};
    if (count == 0)
        return GV_OK;
    d = malloc(count * sizeof *d);
    if (!d)
        return GV_ENOMEM;
    for (size_t k = 0; k < count; k++)
        if (u[k].found && u[k].match >= min_match)
            d[n++] = u[k].delay;
    if (n > 0) {
        qsort(d, n, sizeof *d, cmp_double);
        size_t rank = (size_t)ceil(0.95 * (double)n);
        out->used = n;
        out->median = n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
        out->p95 = d[(rank > 0 ? rank : 1) - 1];
        out->spread = d[n - 1] - d[0];
    }
    free(d);
    return GV_OK;
}
