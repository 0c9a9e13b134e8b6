#include "audio/gv_resample.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <speex/speex_resampler.h>

#include "gvoip/error.h"

/* Frames converted per step. Channel conversion goes through a scratch
 * buffer of this size, allocated once, so process() never allocates. */
#define GV_RESAMPLE_CHUNK 1024

struct gv_resampler {
    /* NULL when the rates match: then only channels are converted. */
    SpeexResamplerState *st;
    int in_rate;
    int out_rate;
    int in_channels;
    int out_channels;
    /* Mono frames between the channel conversion and speex: the downmix
     * happens before resampling and the upmix after, so speex always runs
     * on the smaller channel count. NULL when the channel counts match. */
    float *scratch;
};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void convert_channels(const float *src, int src_ch, float *dst, int dst_ch, size_t n)
{
    if (src_ch == dst_ch) {
        memcpy(dst, src, n * (size_t)src_ch * sizeof(float));
    } else if (src_ch == 2) {
        for (size_t i = 0; i < n; i++)
            dst[i] = 0.5f * (src[2 * i] + src[2 * i + 1]);
    } else {
        for (size_t i = 0; i < n; i++) {
            dst[2 * i] = src[i];
            dst[2 * i + 1] = src[i];
        }
    }
}

static int valid_rate(int rate)
{
    return rate >= GV_RESAMPLE_MIN_RATE && rate <= GV_RESAMPLE_MAX_RATE;
}

static int valid_channels(int ch)
{
    return ch == 1 || ch == 2;
}

int gv_resampler_create(int in_rate, int in_channels, int out_rate, int out_channels,
                        int quality, gv_resampler **out)
{
    gv_resampler *r = NULL;
    int err = RESAMPLER_ERR_SUCCESS;
    int rc;

    if (out)
        *out = NULL;
    if (!out || !valid_rate(in_rate) || !valid_rate(out_rate) || !valid_channels(in_channels) ||
        !valid_channels(out_channels) || quality < -1 || quality > 10)
        return GV_EINVAL;
    if (quality == GV_RESAMPLE_QUALITY_DEFAULT)
        quality = SPEEX_RESAMPLER_QUALITY_VOIP;

    r = calloc(1, sizeof(*r));
    if (!r)
        return GV_ENOMEM;
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    r->in_channels = in_channels;
    r->out_channels = out_channels;
    if (in_channels != out_channels) {
        r->scratch = malloc(GV_RESAMPLE_CHUNK * sizeof(float));
        if (!r->scratch) {
            rc = GV_ENOMEM;
            goto out;
        }
    }
    if (in_rate != out_rate) {
        int ch = in_channels < out_channels ? in_channels : out_channels;
        r->st = speex_resampler_init((spx_uint32_t)ch, (spx_uint32_t)in_rate,
                                     (spx_uint32_t)out_rate, quality, &err);
        if (!r->st) {
            rc = err == RESAMPLER_ERR_ALLOC_FAILED ? GV_ENOMEM : GV_EINVAL;
            goto out;
        }
    }
    *out = r;
    r = NULL;
    rc = GV_OK;
out:
    gv_resampler_destroy(r);
    return rc;
}

void gv_resampler_destroy(gv_resampler *r)
{
    if (!r)
        return;
    if (r->st)
        speex_resampler_destroy(r->st);
    free(r->scratch);
    free(r);
}

int gv_resampler_process(gv_resampler *r, const float *in, size_t in_frames, float *out,
                         size_t out_cap_frames, size_t *in_consumed)
{
    size_t used = 0;
    size_t made = 0;

    if (in_consumed)
        *in_consumed = 0;
    if (!r || !in_consumed || (in_frames && !in) || (out_cap_frames && !out))
        return GV_EINVAL;
    /* The frame count is returned as an int. */
    if (out_cap_frames > INT_MAX)
        out_cap_frames = INT_MAX;

    if (!r->st) {
        size_t n = min_size(in_frames, out_cap_frames);
        convert_channels(in, r->in_channels, out, r->out_channels, n);
        *in_consumed = n;
        return (int)n;
    }

    while (used < in_frames && made < out_cap_frames) {
        spx_uint32_t in_n = (spx_uint32_t)min_size(in_frames - used, GV_RESAMPLE_CHUNK);
        spx_uint32_t out_n = (spx_uint32_t)min_size(out_cap_frames - made, GV_RESAMPLE_CHUNK);
        const float *src = in + used * (size_t)r->in_channels;
        float *dst = out + made * (size_t)r->out_channels;

        if (r->in_channels > r->out_channels) {
            convert_channels(src, r->in_channels, r->scratch, r->out_channels, in_n);
            src = r->scratch;
        } else if (r->out_channels > r->in_channels) {
            dst = r->scratch;
        }
        if (speex_resampler_process_interleaved_float(r->st, src, &in_n, dst, &out_n) !=
            RESAMPLER_ERR_SUCCESS)
            return GV_EINVAL;
        if (r->out_channels > r->in_channels)
            convert_channels(r->scratch, r->in_channels, out + made * (size_t)r->out_channels,
                             r->out_channels, out_n);
        used += in_n;
        made += out_n;
        if (in_n == 0 && out_n == 0)
            break;
    }
    *in_consumed = used;
    return (int)made;
}

size_t gv_resampler_max_out_frames(const gv_resampler *r, size_t in_frames)
{
    size_t in_rate, out_rate, whole, part;

    if (!r)
        return 0;
    if (!r->st)
        return in_frames;
    in_rate = (size_t)r->in_rate;
    out_rate = (size_t)r->out_rate;
    /* Split to keep in_frames * out_rate from overflowing. */
    whole = in_frames / in_rate;
    part = ((in_frames % in_rate) * out_rate + in_rate - 1) / in_rate;
    if (whole > (SIZE_MAX - part - 2) / out_rate)
        return SIZE_MAX;
    /* +2: speex carries a fractional output position across calls, so one
     * call may yield one frame more than its share. */
    return whole * out_rate + part + 2;
}
