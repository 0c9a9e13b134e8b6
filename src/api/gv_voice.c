#include "api/gv_voice.h"

#include <stdlib.h>
#include <string.h>

#include "audio/gv_codec.h"
#include "audio/gv_jbuf.h"
#include "audio/gv_mixer.h"
#include "audio/gv_resample.h"

#define MAX_FRAME 2880         /* 60 ms at 48 kHz */
#define MIX_BLOCK 120 /* the mixer works in 2.5 ms blocks: what it mixes ahead is latency */
#define PEER_FIFO (MAX_FRAME * 2)
#define OUT_FIFO 8192          /* device-rate frames * channels, > one mixed block at 192 kHz stereo */
#define REPORT_INTERVAL_US 1000000u
#define LOSS_MEMORY_US 5000000u /* how long a receiver's report keeps the encoder cautious */
#define MAX_PEERS GV_MAX_PLAYERS
#define INITIAL_DELAY_MS 10

typedef struct peer {
    uint16_t id;
    int raw;
    gv_jbuf *jbuf;
    gv_decoder *decoder;
    float fifo[PEER_FIFO]; /* decoded 48 kHz mono, waiting for the mixer */
    size_t fifo_len;
    float gain, last_gain; /* the ramp goes from last_gain to gain over a block */
    uint64_t packets;
    uint16_t last_seq;
    int have_seq;
    uint64_t expected_at_report, lost_at_report;
    uint64_t expected;
} peer;

struct gv_voice {
    gv_clock clock;
    int echo_test;
    int raw; /* the original example's uncompressed frames, for benchmarks */
    gv_encoder *encoder;
    int frame_samples;
    /* capture */
    gv_resampler *capture_rs;
    int capture_rate, capture_channels;
    float capture_buf[MAX_FRAME];
    uint8_t raw_payload[GV_RAW_PAYLOAD];
    size_t capture_len;
    float capture_tmp[MAX_FRAME * 4];
    uint16_t seq;
    uint32_t ts;
    int spurt_started;
    /* playout */
    peer *peers[MAX_PEERS];
    int peer_count;
    gv_resampler *playback_rs;
    int playback_rate, playback_channels;
    gv_limiter limiter;
    float mix[MIX_BLOCK];
    float out_fifo[OUT_FIFO];
    size_t out_len;
    /* sender adaptation */
    uint16_t reported_loss; /* permille, the worst recent report */
    uint64_t reported_at_us;
    int expected_loss_pct;
    uint64_t next_report_us;
    /* stats */
    uint64_t voice_packets, voice_payload_bytes;
};

int gv_voice_create(const gv_client_config *cfg, gv_voice **out)
{
    int rc = GV_EINVAL;
    gv_voice *v = NULL;
    if (!cfg || !out || (cfg->codec != GV_CODEC_OPUS && cfg->codec != GV_CODEC_RAW))
        goto out;
    if (cfg->frame_ms != 10 && cfg->frame_ms != 20 && cfg->frame_ms != 40 && cfg->frame_ms != 60)
        goto out;
    *out = NULL;
    rc = GV_ENOMEM;
    v = calloc(1, sizeof *v);
    if (!v)
        goto out;
    v->clock = cfg->clock;
    v->echo_test = cfg->echo_test;
    v->raw = cfg->codec == GV_CODEC_RAW;
    gv_encoder_config ec;
    gv_encoder_config_default(&ec);
    ec.bitrate = cfg->bitrate;
    ec.frame_ms = cfg->frame_ms;
    ec.fec = cfg->fec;
    rc = gv_encoder_create(&ec, &v->encoder);
    if (rc < 0)
        goto out;
    v->frame_samples = v->raw ? GV_RAW_FRAMES : gv_encoder_frame_samples(v->encoder);
    gv_limiter_init(&v->limiter, GV_SAMPLE_RATE);
    *out = v;
    v = NULL;
    rc = 0;
out:
    gv_voice_destroy(v);
    return rc;
}

static void peer_free(peer *p)
{
    if (!p)
        return;
    gv_jbuf_destroy(p->jbuf);
    gv_decoder_destroy(p->decoder);
    free(p);
}

void gv_voice_destroy(gv_voice *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->peer_count; i++)
        peer_free(v->peers[i]);
    gv_encoder_destroy(v->encoder);
    gv_resampler_destroy(v->capture_rs);
    gv_resampler_destroy(v->playback_rs);
    free(v);
}

static peer *find_peer(gv_voice *v, uint16_t id)
{
    for (int i = 0; i < v->peer_count; i++)
        if (v->peers[i]->id == id)
            return v->peers[i];
    return NULL;
}

static peer *add_peer(gv_voice *v, uint16_t id)
{
    if (v->peer_count == MAX_PEERS)
        return NULL;
    peer *p = calloc(1, sizeof *p);
    gv_jbuf_config jc;
    gv_jbuf_config_default(&jc);
    /* A talk spurt keeps the delay it started with (it only shrinks by whole
     * frames), so start low and let the first late packets raise it. */
    jc.initial_delay_ms = INITIAL_DELAY_MS;
    if (!p || gv_jbuf_create(&jc, &p->jbuf) != 0 || gv_decoder_create(&p->decoder) != 0) {
        peer_free(p);
        return NULL;
    }
    p->id = id;
    p->gain = p->last_gain = 1.0f;
    v->peers[v->peer_count++] = p;
    return p;
}

void gv_voice_remove_peer(gv_voice *v, uint16_t id)
{
    for (int i = 0; i < v->peer_count; i++) {
        if (v->peers[i]->id != id)
            continue;
        peer_free(v->peers[i]);
        v->peers[i] = v->peers[--v->peer_count];
        return;
    }
}

/* The baseline has no jitter buffer, exactly like the original example:
 * frames go straight to the player's stream, or are lost when it is full. */
static void receive_raw(peer *p, const gv_msg *relay)
{
    p->raw = 1;
    const uint8_t *b = relay->u.voice.payload;
    size_t frames = relay->u.voice.len / 8;
    if (p->fifo_len + frames > PEER_FIFO)
        return;
    for (size_t i = 0; i < frames; i++) {
        float ch[2];
        for (int c = 0; c < 2; c++) {
            const uint8_t *s = b + (i * 2 + (size_t)c) * 4;
            uint32_t bits = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
            memcpy(&ch[c], &bits, sizeof bits);
        }
        float mono = (ch[0] + ch[1]) * 0.5f;
        p->fifo[p->fifo_len++] = mono == mono ? mono : 0.0f;
    }
}

void gv_voice_receive(gv_voice *v, const gv_msg *relay, uint16_t own_id)
{
    /* Your own voice only comes back in an explicit echo test. */
    if (relay->u.voice.sender == own_id && !v->echo_test)
        return;
    int raw = (relay->u.voice.flags & GV_VOICE_RAW) != 0;
    int samples = raw ? 0 : gv_codec_packet_samples(relay->u.voice.payload, relay->u.voice.len);
    if (!raw && (samples <= 0 || samples > MAX_FRAME))
        return;
    peer *p = find_peer(v, relay->u.voice.sender);
    if (!p && !(p = add_peer(v, relay->u.voice.sender)))
        return;
    p->packets++;
    if (raw) {
        receive_raw(p, relay);
        return;
    }
    /* Loss for the speaker's encoder: sequence numbers expected so far. */
    if (!p->have_seq || (relay->u.voice.flags & GV_VOICE_MARKER)) {
        p->have_seq = 1;
        p->expected++;
    } else {
        int16_t ahead = (int16_t)(relay->u.voice.seq - p->last_seq);
        if (ahead > 0)
            p->expected += (uint64_t)ahead;
    }
    if ((int16_t)(relay->u.voice.seq - p->last_seq) > 0 || p->packets == 1 ||
        (relay->u.voice.flags & GV_VOICE_MARKER))
        p->last_seq = relay->u.voice.seq;
    gv_jbuf_put(p->jbuf, relay->u.voice.seq, relay->u.voice.ts, samples,
                (relay->u.voice.flags & GV_VOICE_MARKER) != 0, relay->u.voice.payload, relay->u.voice.len,
                v->clock.now_us(v->clock.ctx));
}

void gv_voice_loss_report(gv_voice *v, uint16_t reporter, uint16_t loss_permille)
{
    (void)reporter;
    uint64_t now = v->clock.now_us(v->clock.ctx);
    if (loss_permille >= v->reported_loss || now - v->reported_at_us > LOSS_MEMORY_US) {
        v->reported_loss = loss_permille;
        v->reported_at_us = now;
    }
}

void gv_voice_tick(gv_voice *v, gv_link *link)
{
    uint64_t now = v->clock.now_us(v->clock.ctx);
    if (now < v->next_report_us)
        return;
    v->next_report_us = now + REPORT_INTERVAL_US;
    for (int i = 0; i < v->peer_count; i++) {
        peer *p = v->peers[i];
        gv_jbuf_stats st;
        gv_jbuf_get_stats(p->jbuf, &st);
        uint64_t expected = p->expected - p->expected_at_report;
        uint64_t received = p->packets - p->lost_at_report; /* packets counted at the last report */
        if (expected == 0)
            continue;
        uint64_t lost = expected > received ? expected - received : 0;
        gv_link_send_loss(link, p->id, (uint16_t)(lost * 1000 / expected));
        p->expected_at_report = p->expected;
        p->lost_at_report = p->packets;
    }
    /* Follow what the receivers lose, with headroom; decay once they stop
     * reporting loss. */
    if (now - v->reported_at_us > LOSS_MEMORY_US)
        v->reported_loss = 0;
    int pct = v->reported_loss ? (v->reported_loss + 9) / 10 + 2 : 0;
    if (pct > 30)
        pct = 30;
    if (pct != v->expected_loss_pct) {
        v->expected_loss_pct = pct;
        gv_encoder_set_expected_loss(v->encoder, pct);
    }
}

/* As the original example sent it: stereo float32 frames, little-endian. */
static int raw_frame(gv_voice *v)
{
    for (int i = 0; i < GV_RAW_FRAMES; i++) {
        uint32_t bits;
        memcpy(&bits, &v->capture_buf[i], sizeof bits);
        for (int ch = 0; ch < 2; ch++)
            for (int b = 0; b < 4; b++)
                v->raw_payload[(i * 2 + ch) * 4 + b] = (uint8_t)(bits >> (8 * b));
    }
    return GV_RAW_PAYLOAD;
}

static int send_frame(gv_voice *v, gv_link *link)
{
    uint8_t opus[GV_VOICE_PAYLOAD_MAX];
    const uint8_t *packet = v->raw ? v->raw_payload : opus;
    int n = v->raw ? raw_frame(v) : gv_encoder_encode(v->encoder, v->capture_buf, opus, sizeof opus);
    if (n < 0)
        return n;
    gv_msg m = {.type = GV_MSG_VOICE};
    m.u.voice.seq = v->seq++;
    m.u.voice.ts = v->ts;
    m.u.voice.flags = (uint8_t)((v->spurt_started ? 0 : GV_VOICE_MARKER) | (v->echo_test ? GV_VOICE_ECHO : 0) |
                                (v->raw ? GV_VOICE_RAW : 0));
    m.u.voice.len = (uint16_t)n;
    m.u.voice.payload = packet;
    v->ts += (uint32_t)v->frame_samples;
    int rc = gv_link_send_voice(link, &m);
    if (rc == 0) {
        v->spurt_started = 1;
        v->voice_packets++;
        v->voice_payload_bytes += (uint64_t)n;
    }
    return rc == GV_ESTATE ? 0 : rc;
}

int gv_voice_push_capture(gv_voice *v, gv_link *link, const float *samples, size_t frames, int rate, int channels)
{
    if (!v || (!samples && frames) || rate < 8000 || rate > 192000 || channels < 1 || channels > 2)
        return GV_EINVAL;
    if (!v->capture_rs || rate != v->capture_rate || channels != v->capture_channels) {
        gv_resampler_destroy(v->capture_rs);
        v->capture_rs = NULL;
        int rc = gv_resampler_create(rate, channels, GV_SAMPLE_RATE, 1, -1, &v->capture_rs);
        if (rc < 0)
            return rc;
        v->capture_rate = rate;
        v->capture_channels = channels;
    }
    size_t done = 0;
    while (done < frames) {
        size_t room = (size_t)v->frame_samples - v->capture_len;
        size_t consumed = 0;
        int got = gv_resampler_process(v->capture_rs, samples + done * (size_t)channels, frames - done,
                                       v->capture_buf + v->capture_len, room, &consumed);
        if (got < 0)
            return got;
        v->capture_len += (size_t)got;
        done += consumed;
        if (v->capture_len == (size_t)v->frame_samples) {
            int rc = send_frame(v, link);
            v->capture_len = 0;
            if (rc < 0)
                return rc;
        } else if (consumed == 0 && got == 0) {
            break;
        }
    }
    return (int)done;
}

/* Tops a player's FIFO up to `need` decoded samples from its jitter buffer. */
static void fill_peer(peer *p, size_t need, uint64_t now)
{
    while (p->fifo_len < need) {
        gv_jbuf_frame f;
        if (gv_jbuf_get(p->jbuf, now, &f) < 0 || f.samples <= 0 || f.samples > MAX_FRAME ||
            p->fifo_len + (size_t)f.samples > PEER_FIFO)
            return;
        float *dst = p->fifo + p->fifo_len;
        int got = 0;
        switch (f.kind) {
        case GV_JBUF_PACKET:
            got = gv_decoder_decode(p->decoder, f.payload, f.len, dst, f.samples);
            break;
        case GV_JBUF_FEC:
            got = gv_decoder_decode_fec(p->decoder, f.payload, f.len, dst, f.samples);
            break;
        case GV_JBUF_LOST:
            got = gv_decoder_conceal(p->decoder, dst, f.samples);
            break;
        case GV_JBUF_SILENCE:
            break;
        }
        if (got != f.samples)
            memset(dst, 0, (size_t)f.samples * sizeof *dst);
        p->fifo_len += (size_t)f.samples;
    }
}

static void mix_block(gv_voice *v)
{
    uint64_t now = v->clock.now_us(v->clock.ctx);
    memset(v->mix, 0, sizeof v->mix);
    for (int i = 0; i < v->peer_count; i++) {
        peer *p = v->peers[i];
        if (!p->raw)
            fill_peer(p, MIX_BLOCK, now);
        size_t n = p->fifo_len < MIX_BLOCK ? p->fifo_len : MIX_BLOCK;
        gv_mix_add_ramp(v->mix, p->fifo, n, p->last_gain, p->gain);
        p->last_gain = p->gain;
        memmove(p->fifo, p->fifo + n, (p->fifo_len - n) * sizeof *p->fifo);
        p->fifo_len -= n;
    }
    gv_limiter_process(&v->limiter, v->mix, MIX_BLOCK);
}

int gv_voice_pull_mix(gv_voice *v, float *out, size_t frames, int rate, int channels)
{
    if (!v || (!out && frames) || rate < 8000 || rate > 192000 || channels < 1 || channels > 2)
        return GV_EINVAL;
    if (!v->playback_rs || rate != v->playback_rate || channels != v->playback_channels) {
        gv_resampler_destroy(v->playback_rs);
        v->playback_rs = NULL;
        int rc = gv_resampler_create(GV_SAMPLE_RATE, 1, rate, channels, -1, &v->playback_rs);
        if (rc < 0)
            return rc;
        v->playback_rate = rate;
        v->playback_channels = channels;
        v->out_len = 0;
    }
    size_t ch = (size_t)channels;
    size_t done = 0;
    while (done < frames) {
        if (v->out_len == 0) {
            mix_block(v);
            size_t consumed = 0, offset = 0;
            while (offset < MIX_BLOCK) {
                int got = gv_resampler_process(v->playback_rs, v->mix + offset, MIX_BLOCK - offset,
                                               v->out_fifo + v->out_len * ch, OUT_FIFO / ch - v->out_len, &consumed);
                if (got < 0)
                    return got;
                v->out_len += (size_t)got;
                offset += consumed;
                if (consumed == 0 && got == 0)
                    break;
            }
            if (v->out_len == 0)
                continue;
        }
        size_t n = frames - done < v->out_len ? frames - done : v->out_len;
        memcpy(out + done * ch, v->out_fifo, n * ch * sizeof *out);
        memmove(v->out_fifo, v->out_fifo + n * ch, (v->out_len - n) * ch * sizeof *out);
        v->out_len -= n;
        done += n;
    }
    return (int)done;
}

void gv_voice_get_stats(const gv_voice *v, gv_client_stats *out)
{
    out->voice_packets = v->voice_packets;
    out->voice_payload_bytes = v->voice_payload_bytes;
    out->peer_count = v->peer_count;
}

static void peer_stats(const peer *p, gv_peer_stats *out)
{
    gv_jbuf_stats st;
    gv_jbuf_get_stats(p->jbuf, &st);
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->voice_packets = p->packets;
    out->lost = st.lost;
    out->late = st.late;
    out->duplicates = st.duplicates;
    out->fec_recovered = st.fec_recovered;
    out->concealed_frames = st.concealed_frames;
    out->jitter_ms = st.jitter_ms;
    out->playout_delay_ms = st.playout_delay_ms;
}

int gv_voice_peer_stats(const gv_voice *v, uint16_t id, gv_peer_stats *out)
{
    for (int i = 0; i < v->peer_count; i++) {
        if (v->peers[i]->id == id) {
            peer_stats(v->peers[i], out);
            return 0;
        }
    }
    return GV_ENOTFOUND;
}

int gv_voice_get_peer_stats(const gv_voice *v, gv_peer_stats *out, int max)
{
    int n = 0;
    for (; n < v->peer_count && n < max; n++)
        peer_stats(v->peers[n], &out[n]);
    return n;
}
