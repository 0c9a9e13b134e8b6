#include "align.h"

#include <math.h>
#include <stdlib.h>

#include "audio/gv_fft.h"
#include "gvoip/error.h"

#define GV_ALIGN_MAX_POINTS ((size_t)1 << 25)

static size_t next_pow2(size_t n)
{
    size_t p = 2;
    while (p < n)
        p <<= 1;
    return p;
}

/* Turns Z = FFT(ref + i deg) into the cross-spectrum DEG * conj(REF), in
 * place. Both signals are real, so one complex transform carries both:
 * REF[k] = (Z[k] + conj Z[n-k]) / 2 and DEG[k] = (Z[k] - conj Z[n-k]) / 2i.
 * The product is Hermitian (the correlation is real), so bin n-k is the
 * conjugate of bin k. */
static void cross_spectrum(double *re, double *im, size_t n)
{
    for (size_t k = 0; k <= n / 2; k++) {
        size_t m = (n - k) % n;
        double rr = 0.5 * (re[k] + re[m]);
        double ri = 0.5 * (im[k] - im[m]);
        double dr = 0.5 * (im[k] + im[m]);
        double di = -0.5 * (re[k] - re[m]);
        double pr = dr * rr + di * ri;
        double pi = di * rr - dr * ri;
        re[k] = pr;
        im[k] = pi;
        re[m] = pr;
        im[m] = -pi;
    }
}

int gv_align_delay(const float *ref, size_t ref_n, const float *deg, size_t deg_n,
                   size_t max_lag, double *delay)
{
    gv_fft *fft = NULL;
    double *re = NULL;
    double *im = NULL;
    size_t n, longest, best = 0;
    double best_v = 0.0, ref_e = 0.0, deg_e = 0.0;
    int rc;

    if (delay)
        *delay = 0.0;
    if (!ref || !deg || !delay || ref_n == 0 || deg_n == 0)
        return GV_EINVAL;
    longest = ref_n > deg_n ? ref_n : deg_n;
    if (longest > GV_ALIGN_MAX_POINTS || max_lag > GV_ALIGN_MAX_POINTS - longest)
        return GV_EINVAL;

    /* The circular correlation equals the linear one for every lag within
     * +-max_lag once n covers the longer signal plus max_lag; a full
     * ref_n + deg_n transform would only add lags nobody reads. */
    n = next_pow2(longest + max_lag + 1);
    rc = gv_fft_create(n, &fft);
    if (rc < 0)
        goto out;
    re = calloc(n, sizeof(double));
    im = calloc(n, sizeof(double));
    if (!re || !im) {
        rc = GV_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ref_n; i++) {
        re[i] = ref[i];
        ref_e += re[i] * re[i];
    }
    for (size_t i = 0; i < deg_n; i++) {
        im[i] = deg[i];
        deg_e += im[i] * im[i];
    }
    /* A silent signal correlates with nothing; the transform's rounding
     * noise would otherwise produce an arbitrary peak. */
    if (ref_e == 0.0 || deg_e == 0.0) {
        rc = GV_OK;
        goto out;
    }
    gv_fft_forward(fft, re, im);
    cross_spectrum(re, im, n);
    gv_fft_inverse(fft, re, im);

    /* re[d] holds lag d, re[n - d] lag -d. */
    for (size_t i = 0; i < n; i++) {
        size_t lag = i <= n / 2 ? i : n - i;
        if (lag > max_lag)
            continue;
        if (re[i] > best_v) {
            best_v = re[i];
            best = i;
        }
    }
    if (best_v > 0.0) {
        double l = re[(best + n - 1) % n];
        double c = re[best];
        double r = re[(best + 1) % n];
        double den = l - 2.0 * c + r;
        double frac = den < 0.0 ? 0.5 * (l - r) / den : 0.0;
        if (frac > 0.5)
            frac = 0.5;
        else if (frac < -0.5)
            frac = -0.5;
        *delay = (best <= n / 2 ? (double)best : -(double)(n - best)) + frac;
    }
    rc = GV_OK;
out:
    gv_fft_destroy(fft);
    free(re);
    free(im);
    return rc;
}

int gv_align_xcorr(const float *ref, size_t ref_n, const float *deg, size_t deg_n, double *out,
                   size_t lags)
{
    gv_fft *fft = NULL;
    double *re = NULL, *im = NULL;
    size_t n;
    int rc;

    if (!ref || !deg || !out || ref_n == 0 || deg_n == 0 || lags == 0 ||
        ref_n > GV_ALIGN_MAX_POINTS - deg_n || lags > deg_n)
        return GV_EINVAL;
    /* Lags 0..deg_n-1 never wrap onto negative ones once n holds both. */
    n = next_pow2(ref_n + deg_n);
    rc = gv_fft_create(n, &fft);
    if (rc < 0)
        goto out;
    re = calloc(n, sizeof(double));
    im = calloc(n, sizeof(double));
    if (!re || !im) {
        rc = GV_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ref_n; i++)
        re[i] = ref[i];
    for (size_t i = 0; i < deg_n; i++)
        im[i] = deg[i];
    gv_fft_forward(fft, re, im);
    cross_spectrum(re, im, n);
    gv_fft_inverse(fft, re, im);
    for (size_t l = 0; l < lags; l++)
        out[l] = re[l];
    rc = GV_OK;
out:
    gv_fft_destroy(fft);
    free(re);
    free(im);
    return rc;
}

static double energy(const float *x, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return e;
}

int gv_align_piecewise(const float *ref, size_t n, const float *deg, size_t deg_n, size_t piece,
                       size_t search, float *out, long *min_shift, long *max_shift)
{
    double loudest = 0.0;
    long shift = 0, lo = 0, hi = 0;

    if (!ref || !deg || !out || n == 0 || piece == 0 || search > GV_ALIGN_MAX_POINTS / 4 ||
        piece > GV_ALIGN_MAX_POINTS / 4)
        return GV_EINVAL;
    for (size_t p = 0; p < n; p += piece) {
        size_t len = n - p < piece ? n - p : piece;
        double e = energy(ref + p, len);
        if (e > loudest)
            loudest = e;
    }
    for (size_t p = 0; p < n; p += piece) {
        size_t len = n - p < piece ? n - p : piece;
        /* 40 dB below the loudest piece there is nothing to lock onto. */
        if (energy(ref + p, len) > loudest * 1e-4) {
            size_t from = p > search ? p - search : 0;
            size_t to = p + len + search < deg_n ? p + len + search : deg_n;
            double d = 0.0;
            if (to > from) {
                int rc = gv_align_delay(ref + p, len, deg + from, to - from, to - from, &d);
                if (rc < 0)
                    return rc;
                long found = lround(d) + (long)from - (long)p;
                /* A peak outside the window is another word that looks
                 * alike, not this piece. */
                if (found >= -(long)search && found <= (long)search)
                    shift = found;
            }
        }
        if (p == 0 || shift < lo)
            lo = shift;
        if (p == 0 || shift > hi)
            hi = shift;
        for (size_t i = 0; i < len; i++) {
            long j = (long)(p + i) + shift;
            out[p + i] = j >= 0 && (size_t)j < deg_n ? deg[j] : 0.0f;
        }
    }
    if (min_shift)
        *min_shift = lo;
    if (max_shift)
        *max_shift = hi;
    return 0;
}
