#include "audio/gv_rfft.h"

#include <math.h>
#include <stdlib.h>

#include "audio/gv_fft.h"
#include "gvoip/error.h"

#define GV_RFFT_MAX_SIZE ((size_t)1 << 26)
#define GV_RFFT_PI 3.14159265358979323846

/* The even samples go in as the real parts of the half-size transform and
 * the odd ones as the imaginary parts; the split takes the two spectra
 * apart by their symmetries and joins them with the twiddles w^k. */
struct gv_rfft {
    size_t n;
    gv_fft *half;
    /* cos and sin of 2 pi k / n for k <= n / 4. */
    double *cos_tab;
    double *sin_tab;
};

int gv_rfft_create(size_t n, gv_rfft **out)
{
    gv_rfft *rf;
    int rc;

    if (out)
        *out = NULL;
    if (!out || n < 4 || n > GV_RFFT_MAX_SIZE || (n & (n - 1)) != 0)
        return GV_EINVAL;
    rf = calloc(1, sizeof *rf);
    if (!rf)
        return GV_ENOMEM;
    rf->n = n;
    rc = gv_fft_create(n / 2, &rf->half);
    if (rc == GV_OK) {
        rf->cos_tab = malloc((n / 4 + 1) * sizeof(double));
        rf->sin_tab = malloc((n / 4 + 1) * sizeof(double));
        if (!rf->cos_tab || !rf->sin_tab)
            rc = GV_ENOMEM;
    }
    if (rc != GV_OK) {
        gv_rfft_destroy(rf);
        return rc;
    }
    for (size_t k = 0; k <= n / 4; k++) {
        double a = 2.0 * GV_RFFT_PI * (double)k / (double)n;
        rf->cos_tab[k] = cos(a);
        rf->sin_tab[k] = sin(a);
    }
    *out = rf;
    return GV_OK;
}

void gv_rfft_destroy(gv_rfft *rf)
{
    if (!rf)
        return;
    gv_fft_destroy(rf->half);
    free(rf->cos_tab);
    free(rf->sin_tab);
    free(rf);
}

int gv_rfft_forward(const gv_rfft *rf, const double *x, double *re, double *im)
{
    if (!rf || !x || !re || !im)
        return GV_EINVAL;
    const size_t h = rf->n / 2;
    for (size_t m = 0; m < h; m++) {
        re[m] = x[2 * m];
        im[m] = x[2 * m + 1];
    }
    gv_fft_forward(rf->half, re, im);
    /* Bins k and h - k come from Z[k] and Z[h - k] together: E = (Z[k] +
     * conj Z[h-k]) / 2 is the even samples' spectrum, O = (Z[k] - conj
     * Z[h-k]) / 2i the odd ones', X[k] = E + w^k O and X[h-k] = conj(E -
     * w^k O) with w = e^(-2 pi i / n). */
    for (size_t k = 1; k <= h / 2; k++) {
        size_t j = h - k;
        double er = 0.5 * (re[k] + re[j]), ei = 0.5 * (im[k] - im[j]);
        double or_ = 0.5 * (im[k] + im[j]), oi = 0.5 * (re[j] - re[k]);
        double c = rf->cos_tab[k], s = rf->sin_tab[k];
        double tr = or_ * c + oi * s, ti = oi * c - or_ * s; /* w^k O */
        re[k] = er + tr;
        im[k] = ei + ti;
        re[j] = er - tr;
        im[j] = ti - ei;
    }
    double z0r = re[0], z0i = im[0];
    re[0] = z0r + z0i;
    im[0] = 0.0;
    re[h] = z0r - z0i;
    im[h] = 0.0;
    return GV_OK;
}

int gv_rfft_inverse(const gv_rfft *rf, double *re, double *im, double *x)
{
    if (!rf || !re || !im || !x)
        return GV_EINVAL;
    const size_t h = rf->n / 2;
    /* The split undone: E = (X[k] + conj X[h-k]) / 2, O = (X[k] - conj
     * X[h-k]) conj(w^k) / 2, and Z[k] = E + i O, whose inverse of size h
     * (scaled by 1/h) has the even samples as real parts and the odd ones
     * as imaginary. */
    for (size_t k = 1; k <= h / 2; k++) {
        size_t j = h - k;
        double er = 0.5 * (re[k] + re[j]), ei = 0.5 * (im[k] - im[j]);
        double dr = 0.5 * (re[k] - re[j]), di = 0.5 * (im[k] + im[j]);
        double c = rf->cos_tab[k], s = rf->sin_tab[k];
        double or_ = dr * c - di * s, oi = di * c + dr * s; /* D conj(w^k) */
        re[k] = er - oi;
        im[k] = ei + or_;
        re[j] = er + oi;
        im[j] = or_ - ei;
    }
    double x0 = re[0], xh = re[h];
    re[0] = 0.5 * (x0 + xh);
    im[0] = 0.5 * (x0 - xh);
    gv_fft_inverse(rf->half, re, im);
    for (size_t m = 0; m < h; m++) {
        x[2 * m] = re[m];
        x[2 * m + 1] = im[m];
    }
    return GV_OK;
}
