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
    unsigned log2n;
    /* cos and sin of 2 pi k / n for k < 3n / 4 (a radix-4 pass reaches
     * w^3k): every pass reads its twiddles from this one table with a
     * stride. */
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
    while (((size_t)1 << fft->log2n) < n)
        fft->log2n++;
    fft->cos_tab = malloc(n * 3 / 4 * sizeof(double));
    fft->sin_tab = malloc(n * 3 / 4 * sizeof(double));
    if (!fft->cos_tab || !fft->sin_tab) {
        rc = GV_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < n * 3 / 4; k++) {
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

/* The four h-point transforms at a, a + h, a + 2h, a + 3h (of the
 * samples 4m, 4m + 2, 4m + 1, 4m + 3: the bit-reversed order puts them
 * there) become the 4h-point transform in place: each output takes all
 * four inputs, so one pass does the work of two radix-2 stages with three
 * complex multiplies instead of four. (w1, w2, w3) = w^k, w^2k, w^3k of
 * the 4h-point circle, already in the transform's direction. */
static inline void radix4(double *re, double *im, size_t a, size_t h, double sign, double w1r, double w1i,
                          double w2r, double w2i, double w3r, double w3i)
{
    size_t b = a + h, c = a + 2 * h, d = a + 3 * h;
    double t0r = re[a], t0i = im[a];
    double t1r = re[c] * w1r - im[c] * w1i, t1i = re[c] * w1i + im[c] * w1r;
    double t2r = re[b] * w2r - im[b] * w2i, t2i = re[b] * w2i + im[b] * w2r;
    double t3r = re[d] * w3r - im[d] * w3i, t3i = re[d] * w3i + im[d] * w3r;
    double s02r = t0r + t2r, s02i = t0i + t2i, d02r = t0r - t2r, d02i = t0i - t2i;
    double s13r = t1r + t3r, s13i = t1i + t3i;
    /* (t1 - t3) turned a quarter circle in the transform's direction. */
    double q13r = -sign * (t1i - t3i), q13i = sign * (t1r - t3r);
    re[a] = s02r + s13r;
    im[a] = s02i + s13i;
    re[c] = s02r - s13r;
    im[c] = s02i - s13i;
    re[b] = d02r + q13r;
    im[b] = d02i + q13i;
    re[d] = d02r - q13r;
    im[d] = d02i - q13i;
}

/* sign -1 is the forward transform, +1 the unscaled inverse. After the
 * bit-reversal permutation, one radix-2 pass when log2 n is odd, then
 * radix-4 passes. Short passes take one set of twiddles at a time through
 * all their blocks; long ones (whose twiddles are many) walk the signal in
 * order. */
static void transform(const gv_fft *fft, double *re, double *im, double sign)
{
    const size_t n = fft->n;
    size_t h = 1;

    permute(fft, re, im);
    if ((fft->log2n & 1) != 0) {
        for (size_t a = 0; a < n; a += 2) {
            double tr = re[a + 1], ti = im[a + 1];
            re[a + 1] = re[a] - tr;
            im[a + 1] = im[a] - ti;
            re[a] += tr;
            im[a] += ti;
        }
        h = 2;
    }
    for (; 4 * h <= n; h *= 4) {
        const size_t len = 4 * h, stride = n / len;
        const double *ct = fft->cos_tab, *st = fft->sin_tab;
        if (len > GV_FFT_SHORT_STAGE) {
            for (size_t start = 0; start < n; start += len)
                for (size_t k = 0; k < h; k++)
                    radix4(re, im, start + k, h, sign, ct[k * stride], sign * st[k * stride], ct[2 * k * stride],
                           sign * st[2 * k * stride], ct[3 * k * stride], sign * st[3 * k * stride]);
            continue;
        }
        for (size_t k = 0; k < h; k++) {
            double w1r = ct[k * stride], w1i = sign * st[k * stride];
            double w2r = ct[2 * k * stride], w2i = sign * st[2 * k * stride];
            double w3r = ct[3 * k * stride], w3i = sign * st[3 * k * stride];
            for (size_t a = k; a < n; a += len)
                radix4(re, im, a, h, sign, w1r, w1i, w2r, w2i, w3r, w3i);
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
