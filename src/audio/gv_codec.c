#include "audio/gv_codec.h"

#include <stdlib.h>

#include <opus/opus.h>

#include "gvoip/error.h"

/* Opus addresses time in 2.5 ms steps; PLC and FEC lengths must be whole
 * steps or libopus refuses them. */
#define GV_CODEC_STEP_SAMPLES (GV_CODEC_RATE / 400)

struct gv_encoder {
    OpusEncoder *opus;
    int frame_samples;
    int bitrate;
    int expected_loss_pct;
};

struct gv_decoder {
    OpusDecoder *opus;
};

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static int valid_frame_ms(int ms)
{
    return ms == 10 || ms == 20 || ms == 40 || ms == 60;
}

void gv_encoder_config_default(gv_encoder_config *cfg)
{
    if (!cfg)
        return;
    *cfg = (gv_encoder_config){
        .bitrate = 24000,
        .frame_ms = 20,
        .fec = 1,
        .expected_loss_pct = 0,
        .complexity = 8,
        .dtx = 0,
    };
}

int gv_encoder_create(const gv_encoder_config *cfg, gv_encoder **out)
{
    gv_encoder *enc = NULL;
    int err;
    int rc;

    if (out)
        *out = NULL;
    if (!cfg || !out || !valid_frame_ms(cfg->frame_ms) || cfg->complexity < 0 ||
        cfg->complexity > 10)
        return GV_EINVAL;

    enc = calloc(1, sizeof(*enc));
    if (!enc)
        return GV_ENOMEM;
    enc->frame_samples = GV_CODEC_RATE / 1000 * cfg->frame_ms;
    enc->bitrate = clamp_int(cfg->bitrate, GV_CODEC_MIN_BITRATE, GV_CODEC_MAX_BITRATE);
    enc->expected_loss_pct = clamp_int(cfg->expected_loss_pct, 0, 100);

    enc->opus = opus_encoder_create(GV_CODEC_RATE, 1, OPUS_APPLICATION_VOIP, &err);
    if (!enc->opus) {
        rc = err == OPUS_ALLOC_FAIL ? GV_ENOMEM : GV_ECODEC;
        goto out;
    }
    if (opus_encoder_ctl(enc->opus, OPUS_SET_BITRATE(enc->bitrate)) != OPUS_OK ||
        opus_encoder_ctl(enc->opus, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK ||
        opus_encoder_ctl(enc->opus, OPUS_SET_INBAND_FEC(cfg->fec ? 1 : 0)) != OPUS_OK ||
        opus_encoder_ctl(enc->opus, OPUS_SET_PACKET_LOSS_PERC(enc->expected_loss_pct)) !=
            OPUS_OK ||
        opus_encoder_ctl(enc->opus, OPUS_SET_COMPLEXITY(cfg->complexity)) != OPUS_OK ||
        opus_encoder_ctl(enc->opus, OPUS_SET_DTX(cfg->dtx ? 1 : 0)) != OPUS_OK) {
        rc = GV_ECODEC;
        goto out;
    }
    *out = enc;
    enc = NULL;
    rc = GV_OK;
out:
    gv_encoder_destroy(enc);
    return rc;
}

void gv_encoder_destroy(gv_encoder *enc)
{
    if (!enc)
        return;
    if (enc->opus)
        opus_encoder_destroy(enc->opus);
    free(enc);
}

int gv_encoder_frame_samples(const gv_encoder *enc)
{
    return enc ? enc->frame_samples : GV_EINVAL;
}

int gv_encoder_encode(gv_encoder *enc, const float *pcm, uint8_t *out, size_t cap)
{
    int n;

    if (!enc || !pcm || !out)
        return GV_EINVAL;
    if (cap == 0)
        return GV_ETOOBIG;
    /* A larger buffer is never needed and must not overflow opus_int32. */
    if (cap > GV_CODEC_MAX_PACKET)
        cap = GV_CODEC_MAX_PACKET;
    n = opus_encode_float(enc->opus, pcm, enc->frame_samples, out, (opus_int32)cap);
    if (n == OPUS_BUFFER_TOO_SMALL)
        return GV_ETOOBIG;
    return n < 0 ? GV_ECODEC : n;
}

int gv_encoder_set_bitrate(gv_encoder *enc, int bps)
{
    int v;

    if (!enc)
        return GV_EINVAL;
    v = clamp_int(bps, GV_CODEC_MIN_BITRATE, GV_CODEC_MAX_BITRATE);
    if (opus_encoder_ctl(enc->opus, OPUS_SET_BITRATE(v)) != OPUS_OK)
        return GV_ECODEC;
    enc->bitrate = v;
    return v;
}

int gv_encoder_reset(gv_encoder *enc)
{
    if (!enc)
        return GV_EINVAL;
    return opus_encoder_ctl(enc->opus, OPUS_RESET_STATE) == OPUS_OK ? 0 : GV_ECODEC;
}

int gv_encoder_set_expected_loss(gv_encoder *enc, int pct)
{
    int v;

    if (!enc)
        return GV_EINVAL;
    v = clamp_int(pct, 0, 100);
    if (opus_encoder_ctl(enc->opus, OPUS_SET_PACKET_LOSS_PERC(v)) != OPUS_OK)
        return GV_ECODEC;
    enc->expected_loss_pct = v;
    return v;
}

int gv_decoder_create(gv_decoder **out)
{
    gv_decoder *dec = NULL;
    int err;
    int rc;

    if (!out)
        return GV_EINVAL;
    *out = NULL;

    dec = calloc(1, sizeof(*dec));
    if (!dec)
        return GV_ENOMEM;
    dec->opus = opus_decoder_create(GV_CODEC_RATE, 1, &err);
    if (!dec->opus) {
        rc = err == OPUS_ALLOC_FAIL ? GV_ENOMEM : GV_ECODEC;
        goto out;
    }
    *out = dec;
    dec = NULL;
    rc = GV_OK;
out:
    gv_decoder_destroy(dec);
    return rc;
}

void gv_decoder_destroy(gv_decoder *dec)
{
    if (!dec)
        return;
    if (dec->opus)
        opus_decoder_destroy(dec->opus);
    free(dec);
}

static int map_decode_error(int n)
{
    if (n == OPUS_INVALID_PACKET)
        return GV_EMALFORMED;
    if (n == OPUS_BUFFER_TOO_SMALL)
        return GV_ETOOBIG;
    return GV_ECODEC;
}

static int valid_gap(int samples)
{
    return samples > 0 && samples <= GV_CODEC_MAX_FRAME_SAMPLES &&
           samples % GV_CODEC_STEP_SAMPLES == 0;
}

int gv_decoder_decode(gv_decoder *dec, const uint8_t *pkt, size_t len, float *pcm,
                      int max_samples)
{
    int need;
    int n;

    if (!dec || !pkt || len == 0 || !pcm || max_samples <= 0)
        return GV_EINVAL;
    /* Checked up front so a short buffer is reported as such rather than as
     * whatever libopus makes of it, and no partial output is written. */
    need = gv_codec_packet_samples(pkt, len);
    if (need < 0)
        return need;
    if (need > max_samples)
        return GV_ETOOBIG;
    n = opus_decode_float(dec->opus, pkt, (opus_int32)len, pcm, max_samples, 0);
    return n < 0 ? map_decode_error(n) : n;
}

int gv_decoder_decode_fec(gv_decoder *dec, const uint8_t *next_pkt, size_t len, float *pcm,
                          int samples)
{
    int n;

    if (!dec || !next_pkt || len == 0 || !pcm || !valid_gap(samples))
        return GV_EINVAL;
    n = gv_codec_packet_samples(next_pkt, len);
    if (n < 0)
        return n;
    n = opus_decode_float(dec->opus, next_pkt, (opus_int32)len, pcm, samples, 1);
    return n < 0 ? map_decode_error(n) : n;
}

int gv_decoder_conceal(gv_decoder *dec, float *pcm, int samples)
{
    int n;

    if (!dec || !pcm || !valid_gap(samples))
        return GV_EINVAL;
    n = opus_decode_float(dec->opus, NULL, 0, pcm, samples, 0);
    return n < 0 ? map_decode_error(n) : n;
}

int gv_codec_packet_samples(const uint8_t *pkt, size_t len)
{
    int n;

    if (!pkt || len == 0)
        return GV_EINVAL;
    /* The largest packet Opus can describe (48 frames of 1275 bytes plus
     * lengths) is under 64 KiB; the bound also keeps len within opus_int32. */
    if (len > 65536)
        return GV_EMALFORMED;
    n = opus_packet_get_nb_samples(pkt, (opus_int32)len, GV_CODEC_RATE);
    if (n <= 0 || n > GV_CODEC_MAX_FRAME_SAMPLES)
        return GV_EMALFORMED;
    return n;
}
