#include "audio/gv_splice.h"

#include <math.h>

#define FADE 96     /* 2 ms at 48 kHz: long enough to hide the seam */
#define SPLICE_PI 3.14159265358979323846
#define MIN_LEN 192 /* a frame shorter than two fades is left alone */

/* How alike pcm[0..len) and pcm[c..c+len) are: normalised correlation,
 * so that loud and quiet stretches compare on the same scale. */
static double likeness(const float *pcm, int c, int len)
{
    double xy = 0, xx = 0, yy = 0;
    int i;

    for (i = 0; i < len; i++) {
        xy += (double)pcm[i] * pcm[c + i];
        xx += (double)pcm[i] * pcm[i];
        yy += (double)pcm[c + i] * pcm[c + i];
    }
    return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
}

/* The lag in [lo, hi] whose audio best resembles the start of pcm over
 * len samples, and how well (*like). The longest wins among equally good
 * ones: the jitter buffer asked for hi. */
static int best_lag(const float *pcm, int lo, int hi, int len, double *like)
{
    int c, best = hi;
    double best_like = -2;

    for (c = hi; c >= lo; c--) {
        double l = likeness(pcm, c, len);
        if (l > best_like + 1e-6) {
            best_like = l;
            best = c;
        }
    }
    *like = best_like;
    return best;
}

/* Sample i of a raised-cosine cross-fade over len samples from `from` to
 * `to`. Alike sides add up in amplitude; unlike ones (noise) would dip in
 * power by up to half in the middle, so the sum is scaled back to the
 * power the sides have, given how alike they are. */
static float blend(float from, float to, int i, int len, double like)
{
    double w = 0.5 - 0.5 * cos(SPLICE_PI * ((double)i + 0.5) / len);
    double a = 1.0 - w, r = like > 0 ? like : 0;
    return (float)((a * from + w * to) / sqrt(a * a + w * w + 2.0 * a * w * r));
}

int gv_splice_shorten(float *pcm, int n, int skip)
{
    int lo, best, i;
    double like;

    if (!pcm || skip <= 0 || n < MIN_LEN || skip > n / 2)
        return n;
    lo = skip / 2 > 0 ? skip / 2 : 1;
    best = best_lag(pcm, lo, skip, FADE, &like);
    /* Plain amplitude fade (likeness 1): 2 ms say too little about how
     * alike the sides are to scale them by it, and a gain swell on a poor
     * seam (a low voice cut by less than its period) steepens it. */
    for (i = 0; i < FADE; i++)
        pcm[i] = blend(pcm[i], pcm[best + i], i, FADE, 1.0);
    for (i = FADE; i < n - best; i++)
        pcm[i] = pcm[best + i];
    return n - best;
}

/* Lengthening plays pcm[0..lag) and then starts over from pcm[0]: the
 * audio at lag fades into the audio at 0 over len samples (as long as the
 * change, so a repeated pitch period is faded over a whole period), and
 * from there the frame plays on to its own end. */
int gv_splice_stretch(float *pcm, int n, int change, int cap)
{
    int lo, lag, len, i;
    double like;

    if (change <= 0)
        return gv_splice_shorten(pcm, n, -change);
    if (!pcm || n < MIN_LEN || change > n / 2 || change > cap - n)
        return n;
    lo = change / 2 > 0 ? change / 2 : 1;
    len = change > FADE ? change : FADE;
    lag = best_lag(pcm, lo, change, len, &like);
    /* The tail moves up first; the fade then runs backwards, since it
     * reads pcm[i] where, for i >= lag, an earlier step would have written. */
    for (i = n - 1; i >= len; i--)
        pcm[lag + i] = pcm[i];
    for (i = len - 1; i >= 0; i--)
        pcm[lag + i] = blend(pcm[lag + i], pcm[i], i, len, like);
    return n + lag;
}
