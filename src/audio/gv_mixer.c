#include "audio/gv_mixer.h"

#include <limits.h>
#include <math.h>

#include "gvoip/error.h"

#define GV_LIMITER_THRESHOLD_DB (-1.0)
#define GV_LIMITER_RELEASE_S 0.050

void gv_mix_add_ramp(float *acc, const float *src, size_t n, float gain_from, float gain_to)
{
    if (!acc || !src || n == 0)
        return;
    if (gain_from == gain_to) {
        for (size_t i = 0; i < n; i++)
            acc[i] += src[i] * gain_to;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        /* The two-product form lands exactly on gain_to at t == 1, where
         * from + (to - from) * t may miss it by an ulp. */
        float t = (float)(i + 1) / (float)n;
        acc[i] += src[i] * (gain_from * (1.0f - t) + gain_to * t);
    }
}

int gv_limiter_init(gv_limiter *lim, int sample_rate)
{
    if (!lim || sample_rate < 8000 || sample_rate > 192000)
        return GV_EINVAL;
    lim->threshold = (float)pow(10.0, GV_LIMITER_THRESHOLD_DB / 20.0);
    lim->release = (float)exp(-1.0 / (GV_LIMITER_RELEASE_S * sample_rate));
    lim->env = 0.0f;
    return GV_OK;
}

void gv_limiter_process(gv_limiter *lim, float *buf, size_t n)
{
    if (!lim || !buf)
        return;
    const float t = lim->threshold;
    const float headroom = 1.0f - t;
    float env = lim->env;

    for (size_t i = 0; i < n; i++) {
        float x = isfinite(buf[i]) ? buf[i] : 0.0f;
        float a = fabsf(x);

        env *= lim->release;
        if (a > env)
            env = a;
        if (env > t) {
            /* The envelope's peak maps onto t + headroom * tanh(excess):
             * slope 1 at the threshold (no corner to hear) and never above
             * 1. Since |x| <= env, the sample lands inside that too. */
            float peak = t + headroom * tanhf((env - t) / headroom);
            x *= peak / env;
        } else {
            /* Below the threshold the exact value cannot matter: the next
             * sample's envelope only crosses it through a louder sample.
             * Resetting keeps unity gain exact and avoids denormals. */
            env = 0.0f;
        }
        buf[i] = x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x);
    }
    lim->env = env;
}

int gv_mix_to_s16(const float *in, int16_t *out, size_t n)
{
    int clipped = 0;

    if ((n && (!in || !out)) || n > INT_MAX)
        return GV_EINVAL;
    for (size_t i = 0; i < n; i++) {
        float v = in[i] * 32767.0f;
        if (isnan(v)) {
            out[i] = 0;
            clipped++;
        } else if (v > 32767.0f) {
            out[i] = INT16_MAX;
            clipped++;
        } else if (v < -32768.0f) {
            out[i] = INT16_MIN;
            clipped++;
        } else {
            out[i] = (int16_t)lrintf(v);
        }
    }
    return clipped;
}
