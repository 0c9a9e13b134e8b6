#include "audio/gv_fft.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gvoip/error.h"

/* 2^26 points of two doubles each is already 1 GiB of signal; larger
 * requests are mistakes. */
#define GV_FFT_MAX_SIZE ((size_t)1 << 26)
/* Up to this size the bit-reversal pairs are listed once at creation. */
#define GV_FFT_TABLE_SIZE ((size_t)1 << 16)
/* Stages up to this length loop over twiddles outside. */
#define GV_FFT_SHORT_STAGE 64

#define GV_FFT_PI 3.14159265358979323846

struct gv_fft {
    size_t n;
    /* cos and sin of 2 pi k / n for k < n / 2: every stage reads its
     * twiddles from this one table with a stride. */
    double *cos_tab;
    double *sin_tab;
    /* The pairs (i, j), i < j, the bit-reversal permutation swaps, for
     * sizes up to GV_FFT_TABLE_SIZE; NULL above. */
    uint32_t *swaps;
    size_t nswaps;
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
    if (n <= GV_FFT_TABLE_SIZE) {
        fft->swaps = malloc(n * sizeof(uint32_t));
        if (!fft->swaps) {
            rc = GV_ENOMEM;
            goto out;
        }
        for (size_t i = 1, j = 0; i < n; i++) {
            size_t bit = n >> 1;
            for (; j & bit; bit >>= 1)
                j ^= bit;
            j ^= bit;
            if (i < j) {
                fft->swaps[fft->nswaps++] = (uint32_t)i;
                fft->swaps[fft->nswaps++] = (uint32_t)j;
            }
        }
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
    free(fft->swaps);
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

static void permute(const gv_fft *fft, double *re, double *im)
{
    size_t n = fft->n;

    if (fft->swaps) {
        for (size_t p = 0; p < fft->nswaps; p += 2) {
            swap(&re[fft->swaps[p]], &re[fft->swaps[p + 1]]);
            swap(&im[fft->swaps[p]], &im[fft->swaps[p + 1]]);
        }
        return;
    }
    /* Computed incrementally: a table for such sizes would cost more
     * memory than the signal. */
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
}

static inline void butterfly(double *re, double *im, size_t a, size_t half, double wr, double wi)
{
    size_t b = a + half;
    double tr = re[b] * wr - im[b] * wi;
    double ti = re[b] * wi + im[b] * wr;
    re[b] = re[a] - tr;
    im[b] = im[a] - ti;
    re[a] += tr;
    im[a] += ti;
}

/* sign -1 is the forward transform, +1 the unscaled inverse. The first
 * stage needs no twiddle; short stages take one twiddle at a time through
 * all their butterflies, long ones (whose twiddles are many) walk the
 * signal in order. */
static void transform(const gv_fft *fft, double *re, double *im, double sign)
{
    size_t n = fft->n;

    permute(fft, re, im);
    for (size_t a = 0; a < n; a += 2) {
        double tr = re[a + 1], ti = im[a + 1];
        re[a + 1] = re[a] - tr;
        im[a + 1] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
    }
    for (size_t len = 4; len <= n; len <<= 1) {
        size_t half = len / 2;
        size_t stride = n / len;
        if (len > GV_FFT_SHORT_STAGE) {
            for (size_t start = 0; start < n; start += len)
                for (size_t k = 0; k < half; k++)
                    butterfly(re, im, start + k, half, fft->cos_tab[k * stride], sign * fft->sin_tab[k * stride]);
            continue;
        }
        for (size_t k = 0; k < half; k++) {
            double wr = fft->cos_tab[k * stride], wi = sign * fft->sin_tab[k * stride];
            for (size_t a = k; a < n; a += len)
                butterfly(re, im, a, half, wr, wi);
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

void gv_fft_split_pair(const gv_fft *fft, const double *re, const double *im, float *ar, float *ai,
                       float *br, float *bi)
{
    const size_t n = fft->n;
    for (size_t k = 0; k <= n / 2; k++) {
        size_t j = (n - k) & (n - 1);
        ar[k] = (float)(0.5 * (re[k] + re[j]));
        ai[k] = (float)(0.5 * (im[k] - im[j]));
        br[k] = (float)(0.5 * (im[k] + im[j]));
        bi[k] = (float)(-0.5 * (re[k] - re[j]));
    }
}

void gv_fft_join_pair(const gv_fft *fft, const float *ar, const float *ai, const float *br,
                      const float *bi, double *re, double *im)
{
    const size_t n = fft->n;
    for (size_t k = 0; k <= n / 2; k++) {
        re[k] = (double)ar[k] - (double)bi[k];
        im[k] = (double)ai[k] + (double)br[k];
    }
    for (size_t k = n / 2 + 1; k < n; k++) {
        size_t j = n - k;
        re[k] = (double)ar[j] + (double)bi[j];
        im[k] = -(double)ai[j] + (double)br[j];
    }
}
