#include "audio/gv_echohist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

#define TAPS GV_ECHOHIST_TAPS
#define PHASES 256 /* nearest phase: the phase error stays below 1/512 sample */
#define PI 3.14159265358979323846

struct gv_echohist {
    float *ring; /* a power of two, indexed by absolute sample count */
    int mask;
    int64_t now; /* samples written */
    float interp[PHASES][TAPS];
};

static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 30; k++) {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
    }
    return sum;
}

/* Kaiser-windowed sinc, cut off at 0.9 of Nyquist so the passband is flat
 * where speech has energy; each phase normalised to unit DC gain. */
static void make_interp(gv_echohist *h)
{
    const double fc = 0.9, beta = 7.0, half = TAPS / 2;
    for (int q = 0; q < PHASES; q++) {
        double frac = (double)q / PHASES, sum = 0.0;
        for (int m = 0; m < TAPS; m++) {
            double t = (double)(m - (TAPS / 2 - 1)) - frac;
            double s = fabs(t) < 1e-12 ? fc : sin(PI * fc * t) / (PI * t);
            double r = t / half;
            double w = fabs(r) >= 1.0 ? 0.0 : bessel_i0(beta * sqrt(1.0 - r * r)) / bessel_i0(beta);
            h->interp[q][m] = (float)(s * w);
            sum += s * w;
        }
        for (int m = 0; m < TAPS; m++)
            h->interp[q][m] = (float)(h->interp[q][m] / sum);
    }
}

int gv_echohist_create(int keep, gv_echohist **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (keep < 1 || keep > (1 << 24))
        return GV_EINVAL;
    gv_echohist *h = calloc(1, sizeof *h);
    if (!h)
        return GV_ENOMEM;
    int size = 1;
    while (size < keep)
        size <<= 1;
    h->mask = size - 1;
    h->ring = calloc((size_t)size, sizeof *h->ring);
    if (!h->ring) {
        free(h);
        return GV_ENOMEM;
    }
    make_interp(h);
    *out = h;
    return GV_OK;
}

void gv_echohist_destroy(gv_echohist *h)
{
    if (!h)
        return;
    free(h->ring);
    free(h);
}

void gv_echohist_reset(gv_echohist *h)
{
    memset(h->ring, 0, (size_t)(h->mask + 1) * sizeof *h->ring);
    h->now = 0;
}

void gv_echohist_write(gv_echohist *h, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        h->ring[(h->now + i) & h->mask] = x[i];
    h->now += n;
}

float gv_echohist_at(const gv_echohist *h, int64_t pos)
{
    return h->ring[pos & h->mask];
}

/* The reference at absolute sample position pos (fractional, already
 * written). */
static float delayed_sample(const gv_echohist *h, double pos, int whole)
{
    int64_t ip;
    const float *f;
    float acc = 0.0f;
    if (whole)
        return h->ring[(int64_t)floor(pos + 0.5) & h->mask];
    ip = (int64_t)floor(pos);
    f = h->interp[(int)((pos - (double)ip) * PHASES + 0.5) & (PHASES - 1)];
    /* A phase that rounds up to the next whole sample wraps to phase 0. */
    if ((pos - (double)ip) * PHASES + 0.5 >= PHASES)
        ip++;
    ip -= TAPS / 2 - 1;
    for (int m = 0; m < TAPS; m++)
        acc += f[m] * h->ring[(ip + m) & h->mask];
    return acc;
}

/* Near zero delay the interpolator would need samples not yet played:
 * whole samples there (the interpolator's low-pass then comes and goes,
 * which the canceller's filter absorbs). */
void gv_echohist_read(const gv_echohist *h, double *out, int n, double delay, double drift)
{
    double d = delay - drift * n;
    int whole = delay < TAPS || d < TAPS;
    if (drift == 0.0 && delay == floor(delay)) {
        /* No drift, whole delay (the usual case): a copy. */
        int64_t at = h->now - n - (int64_t)delay;
        for (int i = 0; i < n; i++)
            out[i] = h->ring[(at + i) & h->mask];
        return;
    }
    for (int i = 0; i < n; i++) {
        d += drift;
        out[i] = delayed_sample(h, (double)(h->now - n + i) - d, whole);
    }
}
