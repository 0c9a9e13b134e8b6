#include "audio/gv_splice.h"

#include <math.h>

#define FADE 96     /* 2 ms at 48 kHz: long enough to hide the seam */
#define SPLICE_PI 3.14159265358979323846
#define MIN_LEN 192 /* a frame shorter than two fades is left alone */

/* How alike pcm[0..FADE) and pcm[c..c+FADE) are: normalised correlation,
 * so that loud and quiet stretches compare on the same scale. */
static double likeness(const float *pcm, int c)
{
    double xy = 0, xx = 0, yy = 0;
    int i;

    for (i = 0; i < FADE; i++) {
        xy += (double)pcm[i] * pcm[c + i];
        xx += (double)pcm[i] * pcm[i];
        yy += (double)pcm[c + i] * pcm[c + i];
    }
    return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
}

int gv_splice_shorten(float *pcm, int n, int skip)
{
    int lo, c, best, i;
    double best_like = -2;

    if (!pcm || skip <= 0 || n < MIN_LEN || skip > n / 2)
        return n;
    lo = skip / 2 > 0 ? skip / 2 : 1;
    /* Prefer the longest cut among equally good ones: the jitter buffer
     * asked for skip. */
    best = skip;
    for (c = skip; c >= lo; c--) {
        double l = likeness(pcm, c);
        if (l > best_like + 1e-6) {
            best_like = l;
            best = c;
        }
    }
    for (i = 0; i < FADE; i++) {
        float w = 0.5f - 0.5f * cosf((float)SPLICE_PI * ((float)i + 0.5f) / FADE);
        pcm[i] = pcm[i] * (1.0f - w) + pcm[best + i] * w;
    }
    for (i = FADE; i < n - best; i++)
        pcm[i] = pcm[best + i];
    return n - best;
}
