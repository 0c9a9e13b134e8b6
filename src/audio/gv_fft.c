#include "audio/gv_fft.h"

#include <math.h>
#include <stdlib.h>

#include "gvoip/error.h"

/* 2^26 points of two doubles each is already 1 GiB of signal; larger
 * requests are mistakes. */
#define GV_FFT_MAX_SIZE ((size_t)1 << 26)

#define GV_FFT_PI 3.14159265358979323846

struct gv_fft {
    size_t n;
    /* cos and sin of 2 pi k / n for k < n / 2: every stage reads its
     * twiddles from this one table with a stride. */
    double *cos_tab;
    double *sin_tab;
};

int gv_fft_create(size_t n, gv_fft **out)
{
    gv_fft *fft = NULL;
    int rc;

    if (out)
        *out = NULL;
    if (!out || n < 2 || n > GV_FFT_MAX_SIZE || (n & (n - 1)) != 0)
        return GV_EINVAL;
    fft = calloc(1, sizeof(*fft));
    if (!fft)
        return GV_ENOMEM;
    fft->n = n;
    fft->cos_tab = malloc(n / 2 * sizeof(double));
    fft->sin_tab = malloc(n / 2 * sizeof(double));
    if (!fft->cos_tab || !fft->sin_tab) {
        rc = GV_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < n / 2; k++) {
        double a = 2.0 * GV_FFT_PI * (double)k / (double)n;
        fft->cos_tab[k] = cos(a);
        fft->sin_tab[k] = sin(a);
    }
    *out = fft;
    fft = NULL;
    rc = GV_OK;
out:
    gv_fft_destroy(fft);
    return rc;
}

void gv_fft_destroy(gv_fft *fft)
{
    if (!fft)
        return;
    free(fft->cos_tab);
    free(fft->sin_tab);
    free(fft);
}

size_t gv_fft_size(const gv_fft *fft)
{
    return fft ? fft->n : 0;
}

static void swap(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* sign -1 is the forward transform, +1 the unscaled inverse. */
static void transform(const gv_fft *fft, double *re, double *im, double sign)
{
    size_t n = fft->n;

    /* Bit-reversal permutation, computed incrementally: a table of n
     * indices would cost more memory than the signal for large n. */
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            swap(&re[i], &re[j]);
            swap(&im[i], &im[j]);
        }
    }
    for (size_t len = 2; len <= n; len <<= 1) {
        size_t half = len / 2;
        size_t stride = n / len;
        for (size_t start = 0; start < n; start += len) {
            for (size_t k = 0; k < half; k++) {
                double wr = fft->cos_tab[k * stride];
                double wi = sign * fft->sin_tab[k * stride];
                size_t a = start + k;
                size_t b = a + half;
                double tr = re[b] * wr - im[b] * wi;
                double ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
    }
}

int gv_fft_forward(const gv_fft *fft, double *re, double *im)
{
    if (!fft || !re || !im)
        return GV_EINVAL;
    transform(fft, re, im, -1.0);
    return GV_OK;
}

int gv_fft_inverse(const gv_fft *fft, double *re, double *im)
{
    double scale;

    if (!fft || !re || !im)
        return GV_EINVAL;
    transform(fft, re, im, 1.0);
    scale = 1.0 / (double)fft->n;
    for (size_t i = 0; i < fft->n; i++) {
        re[i] *= scale;
        im[i] *= scale;
    }
    return GV_OK;
}
