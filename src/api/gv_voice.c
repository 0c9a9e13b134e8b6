#include "api/gv_voice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_codec.h"
#include "audio/gv_jbuf.h"
#include "audio/gv_mixer.h"
#include "audio/gv_resample.h"
#include "audio/gv_spatial.h"
#include "audio/gv_splice.h"
#include "audio/gv_vad.h"
#include "session/gv_events.h"

#define MAX_FRAME 2880         /* 60 ms at 48 kHz */
#define MIX_BLOCK 120 /* the mixer works in 2.5 ms blocks: what it mixes ahead is latency */
#define PEER_FIFO (MAX_FRAME * 2)
#define OUT_FIFO 8192          /* device-rate frames * channels, > one mixed block at 192 kHz stereo */
#define REPORT_INTERVAL_US 1000000u
/* The encoder's expected loss follows the mean over the last few seconds
 * of the worst loss any listener reported in each second. The worst alone
 * swings with one-second noise; above 15% Opus spends more of a 24 kbit/s
 * budget on FEC than it wins back (measured with gvoip-degrade, see
 * BENCHMARKS.md). */
#define LOSS_HISTORY 4
#define EXPECTED_LOSS_MAX_PCT 15
/* Redundancy: from this mean reported loss on, each packet also carries the
 * previous one and Opus runs at half the bit rate without in-band FEC; that
 * costs the same bits and, on generated speech, scores better than FEC from
 * about 4% random loss up (gvoip-degrade, BENCHMARKS.md). Off again below
 * the lower mark. Per mille. */
#define REDUNDANCY_ON_PERMILLE 60
#define REDUNDANCY_OFF_PERMILLE 30
#define MAX_PEERS GV_MAX_PLAYERS
#define PREROLL_MS 20
#define SPEAKING_OFF_US 300000u /* a remote player stops "speaking" after this long without packets */
#define POSE_MOVING_US 50000u   /* own pose: 20 a second while it changes */
#define POSE_STILL_US 1000000u  /* and once a second while it does not */
#define PULL_OUT (MIX_BLOCK * 4 + 64) /* one mixed block resampled to 192 kHz, with slack */
#define VOLUME_MAX 4.0f

typedef struct peer {
    uint16_t id;
    int raw;
    gv_jbuf *jbuf;
    gv_decoder *decoder;
    float fifo[PEER_FIFO]; /* decoded 48 kHz mono, waiting for the mixer */
    size_t fifo_len;
    float volume, last_volume; /* local setting; per-player pulls ramp from last_volume */
    int muted;                 /* locally: packets are dropped before the jitter buffer */
    int speaking;
    uint64_t last_packet_us;
    int has_pose;
    uint16_t pose_seq;
    gv_pose pose;
    gv_spatial_voice render; /* the mixer's click-free gains and delays */
    gv_resampler *pull_rs;   /* gv_client_pull_player only */
    int pull_rate;
    float pull_out[PULL_OUT];
    size_t pull_len;
    uint64_t packets;
    uint16_t last_seq;
    int have_seq;
    uint64_t expected_at_report, packets_at_report;
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
    gv_vad *vad;
    int tx_mode, ptt, muted, deafened;
    int transmitting;
    float input_level_db;
    /* own pose */
    gv_spatial_params spatial; /* the lobby's, from SPATIAL_CONFIG */
    int itd;
    int has_pose, pose_dirty;
    gv_pose pose;
    uint16_t pose_seq;
    uint64_t pose_sent_us;
    gv_event_queue events;
    /* playout */
    peer *peers[MAX_PEERS];
    int peer_count;
    gv_resampler *playback_rs;
    int playback_rate, playback_channels;
    gv_limiter limiter;
    float mix[MIX_BLOCK * 2]; /* interleaved stereo */
    float mono[MIX_BLOCK];
    float out_fifo[OUT_FIFO];
    size_t out_len;
    /* sender adaptation */
    uint16_t worst_this_second; /* permille, the worst report since the last tick */
    uint16_t loss_history[LOSS_HISTORY];
    unsigned loss_history_next;
    int expected_loss_pct;
    uint64_t next_report_us;
    int bitrate;             /* as configured (clamped as the encoder does) */
    int bitrate_now;         /* halved while redundancy is on */
    int redundancy_allowed;
    int redundancy;          /* on now */
    uint8_t prev_packet[GV_VOICE_REDUNDANT_MAX];
    size_t prev_len;         /* 0: no previous packet in this talk spurt to repeat */
    /* stats */
    uint64_t voice_packets, voice_payload_bytes, redundant_packets;
};

int gv_voice_create(const gv_client_config *cfg, gv_voice **out)
{
    int rc = GV_EINVAL;
    gv_voice *v = NULL;
    if (!cfg || !out || (cfg->codec != GV_CODEC_OPUS && cfg->codec != GV_CODEC_RAW))
        goto out;
    if (cfg->frame_ms != 10 && cfg->frame_ms != 20 && cfg->frame_ms != 40 && cfg->frame_ms != 60)
        goto out;
    if (cfg->transmit_mode < GV_TX_CONTINUOUS || cfg->transmit_mode > GV_TX_PUSH_TO_TALK ||
        (cfg->itd != 0 && cfg->itd != 1) || (cfg->redundancy != 0 && cfg->redundancy != 1))
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
    v->bitrate = cfg->bitrate < GV_CODEC_MIN_BITRATE   ? GV_CODEC_MIN_BITRATE
                 : cfg->bitrate > GV_CODEC_MAX_BITRATE ? GV_CODEC_MAX_BITRATE
                                                       : cfg->bitrate;
    v->bitrate_now = v->bitrate;
    v->redundancy_allowed = cfg->redundancy && cfg->codec == GV_CODEC_OPUS;
    rc = gv_encoder_create(&ec, &v->encoder);
    if (rc < 0)
        goto out;
    v->frame_samples = v->raw ? GV_RAW_FRAMES : gv_encoder_frame_samples(v->encoder);
    gv_vad_config vc;
    gv_vad_config_default(&vc, v->frame_samples);
    /* Every pre-roll frame delays its whole talk spurt by a frame at the
     * listener (it is sent late by design). One frame covers the detector's
     * reaction time; its -55 dBFS gate triggers on the first soft sound. */
    vc.preroll_ms = PREROLL_MS;
    rc = gv_vad_create(&vc, &v->vad);
    if (rc < 0)
        goto out;
    v->tx_mode = cfg->transmit_mode;
    v->itd = cfg->itd;
    v->input_level_db = -120.0f;
    gv_spatial_params_default(&v->spatial, GV_SPATIAL_OFF);
    /* The limiter runs over interleaved stereo: twice the samples per
     * second keeps its release at 50 ms. */
    gv_limiter_init(&v->limiter, GV_SAMPLE_RATE * 2);
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
    gv_resampler_destroy(p->pull_rs);
    free(p);
}

void gv_voice_destroy(gv_voice *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->peer_count; i++)
        peer_free(v->peers[i]);
    gv_encoder_destroy(v->encoder);
    gv_vad_destroy(v->vad);
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
    if (!p || gv_jbuf_create(NULL, &p->jbuf) != 0 || gv_decoder_create(&p->decoder) != 0) {
        peer_free(p);
        return NULL;
    }
    p->id = id;
    p->volume = p->last_volume = 1.0f;
    gv_spatial_voice_init(&p->render);
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
    size_t len = relay->u.voice.len, copy_len = 0;
    const uint8_t *copy = NULL;
    if (gv_voice_split(relay->u.voice.payload, relay->u.voice.len, relay->u.voice.flags, &len, &copy,
                       &copy_len) < 0)
        return;
    int samples = raw ? 0 : gv_codec_packet_samples(relay->u.voice.payload, len);
    if (!raw && (samples <= 0 || samples > MAX_FRAME))
        return;
    peer *p = find_peer(v, relay->u.voice.sender);
    if (!p && !(p = add_peer(v, relay->u.voice.sender)))
        return;
    p->packets++;
    p->last_packet_us = v->clock.now_us(v->clock.ctx);
    if (!p->speaking) {
        p->speaking = 1;
        gv_event *ev = gv_events_push(&v->events, GV_EVENT_SPEAKING);
        ev->id = p->id;
        ev->on = 1;
    }
    if (raw) {
        if (!p->muted && !v->deafened)
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
    if (p->muted || v->deafened)
        return;
    uint64_t now = v->clock.now_us(v->clock.ctx);
    if (copy) {
        /* The previous frame: it ends where this one starts. */
        int copy_samples = gv_codec_packet_samples(copy, copy_len);
        if (copy_samples > 0 && copy_samples <= MAX_FRAME)
            gv_jbuf_put(p->jbuf, (uint16_t)(relay->u.voice.seq - 1), relay->u.voice.ts - (uint32_t)copy_samples,
                        copy_samples, GV_JBUF_REDUNDANT, copy, copy_len, now);
    }
    gv_jbuf_put(p->jbuf, relay->u.voice.seq, relay->u.voice.ts, samples,
                ((relay->u.voice.flags & GV_VOICE_MARKER) ? GV_JBUF_MARKER : 0) |
                    ((relay->u.voice.flags & GV_VOICE_PREROLL) ? GV_JBUF_PREROLL : 0),
                relay->u.voice.payload, len, now);
}

void gv_voice_loss_report(gv_voice *v, uint16_t reporter, uint16_t loss_permille)
{
    (void)reporter;
    if (loss_permille > v->worst_this_second)
        v->worst_this_second = loss_permille;
}

/* Remote players stop "speaking" once their packets stop. */
static void expire_speaking(gv_voice *v, uint64_t now)
{
    for (int i = 0; i < v->peer_count; i++) {
        peer *p = v->peers[i];
        if (p->speaking && now - p->last_packet_us > SPEAKING_OFF_US) {
            p->speaking = 0;
            gv_event *ev = gv_events_push(&v->events, GV_EVENT_SPEAKING);
            ev->id = p->id;
        }
    }
}

static void send_pose(gv_voice *v, gv_link *link, uint64_t now)
{
    if (!v->has_pose || now - v->pose_sent_us < (v->pose_dirty ? POSE_MOVING_US : POSE_STILL_US))
        return;
    gv_msg m = {.type = GV_MSG_POSITION};
    m.u.position.seq = v->pose_seq;
    m.u.position.pos[0] = v->pose.position.x;
    m.u.position.pos[1] = v->pose.position.y;
    m.u.position.pos[2] = v->pose.position.z;
    m.u.position.facing[0] = v->pose.facing.x;
    m.u.position.facing[1] = v->pose.facing.y;
    m.u.position.facing[2] = v->pose.facing.z;
    if (gv_link_send_position(link, &m) != 0)
        return;
    v->pose_seq++;
    v->pose_sent_us = now;
    v->pose_dirty = 0;
}

void gv_voice_tick(gv_voice *v, gv_link *link)
{
    uint64_t now = v->clock.now_us(v->clock.ctx);
    expire_speaking(v, now);
    send_pose(v, link, now);
    if (now < v->next_report_us)
        return;
    v->next_report_us = now + REPORT_INTERVAL_US;
    for (int i = 0; i < v->peer_count; i++) {
        peer *p = v->peers[i];
        uint64_t expected = p->expected - p->expected_at_report;
        uint64_t received = p->packets - p->packets_at_report; /* packets counted at the last report */
        if (expected == 0)
            continue;
        uint64_t lost = expected > received ? expected - received : 0;
        gv_link_send_loss(link, p->id, (uint16_t)(lost * 1000 / expected));
        p->expected_at_report = p->expected;
        p->packets_at_report = p->packets;
    }
    v->loss_history[v->loss_history_next] = v->worst_this_second;
    v->loss_history_next = (v->loss_history_next + 1) % LOSS_HISTORY;
    v->worst_this_second = 0;
    unsigned sum = 0;
    for (int i = 0; i < LOSS_HISTORY; i++)
        sum += v->loss_history[i];
    int pct = (int)((sum + LOSS_HISTORY * 10 - 1) / (LOSS_HISTORY * 10));
    if (pct > EXPECTED_LOSS_MAX_PCT)
        pct = EXPECTED_LOSS_MAX_PCT;
    unsigned mean = sum / LOSS_HISTORY;
    int red = v->redundancy_allowed &&
              (v->redundancy ? mean >= REDUNDANCY_OFF_PERMILLE : mean >= REDUNDANCY_ON_PERMILLE);
    if (red != v->redundancy) {
        v->redundancy = red;
        int applied = gv_encoder_set_bitrate(v->encoder, red ? v->bitrate / 2 : v->bitrate);
        if (applied > 0)
            v->bitrate_now = applied;
        v->prev_len = 0;
    }
    /* With the copy there, in-band FEC would only spend bits twice. */
    if (red)
        pct = 0;
    if (pct != v->expected_loss_pct) {
        v->expected_loss_pct = pct;
        gv_encoder_set_expected_loss(v->encoder, pct);
    }
}

/* As the original example sent it: stereo float32 frames, little-endian. */
static int raw_frame(gv_voice *v, const float *frame)
{
    for (int i = 0; i < GV_RAW_FRAMES; i++) {
        uint32_t bits;
        memcpy(&bits, &frame[i], sizeof bits);
        for (int ch = 0; ch < 2; ch++)
            for (int b = 0; b < 4; b++)
                v->raw_payload[(i * 2 + ch) * 4 + b] = (uint8_t)(bits >> (8 * b));
    }
    return GV_RAW_PAYLOAD;
}

/* The packet just encoded, joined to a copy of the one before it when
 * redundancy is on and that one belongs to the same talk spurt; returns
 * the payload length and sets *flags. The packet becomes the next copy. */
static int add_redundancy(gv_voice *v, const uint8_t *opus, int n, uint8_t *joined, size_t cap, uint8_t *flags)
{
    int len = n;
    if (v->redundancy && v->spurt_started && v->prev_len > 0) {
        int j = gv_voice_join(joined, cap, opus, (size_t)n, v->prev_packet, v->prev_len);
        if (j > 0) {
            len = j;
            *flags |= GV_VOICE_REDUNDANT;
        }
    }
    v->prev_len = 0;
    if (v->redundancy && (size_t)n <= sizeof v->prev_packet) {
        memcpy(v->prev_packet, opus, (size_t)n);
        v->prev_len = (size_t)n;
    }
    return len;
}

static int send_frame(gv_voice *v, gv_link *link, const float *frame, uint32_t ts, int preroll)
{
    uint8_t opus[GV_VOICE_PAYLOAD_MAX], joined[GV_VOICE_PAYLOAD_MAX];
    const uint8_t *packet = v->raw ? v->raw_payload : opus;
    int n = v->raw ? raw_frame(v, frame) : gv_encoder_encode(v->encoder, frame, opus, sizeof opus);
    if (n < 0)
        return n;
    gv_msg m = {.type = GV_MSG_VOICE};
    m.u.voice.seq = v->seq++;
    m.u.voice.ts = ts;
    m.u.voice.flags = (uint8_t)((v->spurt_started ? 0 : GV_VOICE_MARKER) | (v->echo_test ? GV_VOICE_ECHO : 0) |
                                (v->raw ? GV_VOICE_RAW : 0) | (preroll ? GV_VOICE_PREROLL : 0));
    if (!v->raw) {
        int len = add_redundancy(v, opus, n, joined, sizeof joined, &m.u.voice.flags);
        if (len != n)
            packet = joined;
        n = len;
    }
    m.u.voice.len = (uint16_t)n;
    m.u.voice.payload = packet;
    int rc = gv_link_send_voice(link, &m);
    if (rc == 0) {
        v->spurt_started = 1;
        v->voice_packets++;
        v->voice_payload_bytes += (uint64_t)n;
        if (m.u.voice.flags & GV_VOICE_REDUNDANT)
            v->redundant_packets++;
    }
    return rc == GV_ESTATE ? 0 : rc;
}

/* One whole frame in capture_buf: the detector always sees it (the level
 * meter and the noise floor keep running); what is sent depends on the
 * mode. A voice-activity onset sends the pre-roll frames first, each with
 * its own earlier timestamp; the timestamp advances over everything not
 * sent, which the receivers play as silence. */
static int capture_frame(gv_voice *v, gv_link *link)
{
    const float *send[GV_VAD_MAX_SEND];
    int count = 0, rc = 0;
    float level = -120.0f;
    gv_vad_process(v->vad, v->capture_buf, send, &count, &level);
    v->input_level_db = level;
    if (v->muted || v->deafened)
        count = 0;
    else if (v->tx_mode == GV_TX_CONTINUOUS || (v->tx_mode == GV_TX_PUSH_TO_TALK && v->ptt))
        send[0] = v->capture_buf, count = 1;
    else if (v->tx_mode == GV_TX_PUSH_TO_TALK)
        count = 0;
    if (count == 0)
        v->spurt_started = 0;
    for (int i = 0; i < count && rc >= 0; i++)
        rc = send_frame(v, link, send[i], v->ts - (uint32_t)((count - 1 - i) * v->frame_samples), i < count - 1);
    v->ts += (uint32_t)v->frame_samples;
    int on = count > 0;
    uint16_t own = (uint16_t)gv_link_id(link);
    if (on != v->transmitting && own) {
        v->transmitting = on;
        gv_event *ev = gv_events_push(&v->events, GV_EVENT_SPEAKING);
        ev->id = own;
        ev->on = on;
    }
    return rc;
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
            int rc = capture_frame(v, link);
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
        p->fifo_len += (size_t)gv_splice_shorten(dst, f.samples, f.skip);
    }
}

/* The gains the listener (own pose) hears p with. A player whose pose, or
 * a listener whose own pose, is not known yet is heard as without
 * positional audio: centred at the local volume. */
static void peer_gains(const gv_voice *v, const peer *p, float *l, float *r, int *itd_l, int *itd_r)
{
    float g = p->muted ? 0.0f : p->volume;
    *itd_l = *itd_r = 0;
    if (v->spatial.mode == GV_SPATIAL_OFF || !p->has_pose || !v->has_pose) {
        *l = *r = g;
        return;
    }
    gv_spatial_gains(&v->spatial, &v->pose, &p->pose.position, l, r, NULL);
    *l *= g;
    *r *= g;
    gv_spatial_itd(&v->spatial, &v->pose, &p->pose.position, GV_SAMPLE_RATE, itd_l, itd_r);
}

/* Takes the next MIX_BLOCK samples of p's stream into block (zero-padded
 * where the stream has nothing). */
static void take_block(peer *p, float *block, uint64_t now)
{
    if (!p->raw)
        fill_peer(p, MIX_BLOCK, now);
    size_t n = p->fifo_len < MIX_BLOCK ? p->fifo_len : MIX_BLOCK;
    memcpy(block, p->fifo, n * sizeof *block);
    memset(block + n, 0, (MIX_BLOCK - n) * sizeof *block);
    memmove(p->fifo, p->fifo + n, (p->fifo_len - n) * sizeof *p->fifo);
    p->fifo_len -= n;
}

static void mix_block(gv_voice *v)
{
    uint64_t now = v->clock.now_us(v->clock.ctx);
    float block[MIX_BLOCK];
    memset(v->mix, 0, sizeof v->mix);
    for (int i = 0; i < v->peer_count; i++) {
        peer *p = v->peers[i];
        take_block(p, block, now);
        if (v->deafened)
            continue;
        /* Every block is rendered, silent ones too: the renderer's delay
         * line then holds silence, not the end of the last talk spurt. */
        float l, r;
        int itd_l, itd_r;
        peer_gains(v, p, &l, &r, &itd_l, &itd_r);
        gv_spatial_voice_render(&p->render, block, MIX_BLOCK, l, r, itd_l, itd_r, v->mix);
    }
    gv_limiter_process(&v->limiter, v->mix, MIX_BLOCK * 2);
}

/* Resamples one 48 kHz block (mono or interleaved stereo) into fifo. */
static int resample_block(gv_resampler *rs, const float *in, size_t ch, float *fifo, size_t cap_frames, size_t *len)
{
    size_t consumed = 0, offset = 0;
    while (offset < MIX_BLOCK) {
        int got = gv_resampler_process(rs, in + offset * ch, MIX_BLOCK - offset, fifo + *len * ch, cap_frames - *len,
                                       &consumed);
        if (got < 0)
            return got;
        *len += (size_t)got;
        offset += consumed;
        if (consumed == 0 && got == 0)
            break;
    }
    return 0;
}

int gv_voice_pull_mix(gv_voice *v, float *out, size_t frames, int rate, int channels)
{
    if (!v || (!out && frames) || rate < 8000 || rate > 192000 || channels < 1 || channels > 2)
        return GV_EINVAL;
    if (!v->playback_rs || rate != v->playback_rate || channels != v->playback_channels) {
        gv_resampler_destroy(v->playback_rs);
        v->playback_rs = NULL;
        int rc = gv_resampler_create(GV_SAMPLE_RATE, channels, rate, channels, -1, &v->playback_rs);
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
            const float *in = v->mix;
            if (ch == 1) {
                for (size_t i = 0; i < MIX_BLOCK; i++)
                    v->mono[i] = 0.5f * (v->mix[2 * i] + v->mix[2 * i + 1]);
                in = v->mono;
            }
            int rc = resample_block(v->playback_rs, in, ch, v->out_fifo, OUT_FIFO / ch, &v->out_len);
            if (rc < 0)
                return rc;
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

int gv_voice_pull_player(gv_voice *v, uint16_t id, float *out, size_t frames, int rate)
{
    if (!v || (!out && frames) || rate < 8000 || rate > 192000)
        return GV_EINVAL;
    peer *p = find_peer(v, id);
    if (!p && !(p = add_peer(v, id)))
        return GV_ENOMEM;
    if (!p->pull_rs || rate != p->pull_rate) {
        gv_resampler_destroy(p->pull_rs);
        p->pull_rs = NULL;
        int rc = gv_resampler_create(GV_SAMPLE_RATE, 1, rate, 1, -1, &p->pull_rs);
        if (rc < 0)
            return rc;
        p->pull_rate = rate;
        p->pull_len = 0;
    }
    uint64_t now = v->clock.now_us(v->clock.ctx);
    float block[MIX_BLOCK], gained[MIX_BLOCK];
    size_t done = 0;
    while (done < frames) {
        if (p->pull_len == 0) {
            take_block(p, block, now);
            float g = p->muted || v->deafened ? 0.0f : p->volume;
            memset(gained, 0, sizeof gained);
            gv_mix_add_ramp(gained, block, MIX_BLOCK, p->last_volume, g);
            p->last_volume = g;
            int rc = resample_block(p->pull_rs, gained, 1, p->pull_out, PULL_OUT, &p->pull_len);
            if (rc < 0)
                return rc;
            if (p->pull_len == 0)
                continue;
        }
        size_t n = frames - done < p->pull_len ? frames - done : p->pull_len;
        memcpy(out + done, p->pull_out, n * sizeof *out);
        memmove(p->pull_out, p->pull_out + n, (p->pull_len - n) * sizeof *out);
        p->pull_len -= n;
        done += n;
    }
    return (int)done;
}

static int pose_ok(const gv_player_pose *pose)
{
    const float f[6] = {pose->x, pose->y, pose->z, pose->fx, pose->fy, pose->fz};
    for (int i = 0; i < 6; i++)
        if (!isfinite(f[i]) || fabsf(f[i]) > GV_POSITION_MAX)
            return 0;
    return 1;
}

int gv_voice_set_pose(gv_voice *v, const gv_player_pose *pose)
{
    if (!v || !pose || !pose_ok(pose))
        return GV_EINVAL;
    gv_pose next = {{pose->x, pose->y, pose->z}, {pose->fx, pose->fy, pose->fz}};
    if (!v->has_pose || memcmp(&next, &v->pose, sizeof next) != 0)
        v->pose_dirty = 1;
    v->pose = next;
    v->has_pose = 1;
    return 0;
}

void gv_voice_position(gv_voice *v, const gv_msg *relay, uint16_t own_id)
{
    if (relay->u.position.sender == own_id)
        return;
    peer *p = find_peer(v, relay->u.position.sender);
    if (!p && !(p = add_peer(v, relay->u.position.sender)))
        return;
    /* Unsequenced: an older position that arrives late is ignored. */
    if (p->has_pose && (int16_t)(relay->u.position.seq - p->pose_seq) <= 0)
        return;
    p->has_pose = 1;
    p->pose_seq = relay->u.position.seq;
    p->pose.position = (gv_vec3){relay->u.position.pos[0], relay->u.position.pos[1], relay->u.position.pos[2]};
    p->pose.facing = (gv_vec3){relay->u.position.facing[0], relay->u.position.facing[1], relay->u.position.facing[2]};
}

int gv_voice_player_pose(const gv_voice *v, uint16_t id, gv_player_pose *out)
{
    const peer *p = find_peer((gv_voice *)v, id);
    if (!p || !p->has_pose)
        return GV_ENOTFOUND;
    *out = (gv_player_pose){p->pose.position.x, p->pose.position.y, p->pose.position.z,
                            p->pose.facing.x,   p->pose.facing.y,   p->pose.facing.z};
    return 0;
}

int gv_voice_spatial_config(gv_voice *v, const gv_msg *m)
{
    gv_spatial_params sp;
    gv_spatial_params_default(&sp, m->u.spatial.mode);
    sp.mode = m->u.spatial.mode;
    sp.model = m->u.spatial.model;
    sp.unit_size = m->u.spatial.unit_size;
    sp.max_distance = m->u.spatial.max_distance;
    sp.volume_db = m->u.spatial.volume_db;
    sp.max_db = m->u.spatial.max_db;
    sp.attenuation = m->u.spatial.attenuation;
    sp.panning_strength = m->u.spatial.panning_strength;
    sp.pan_width = m->u.spatial.pan_width;
    sp.godot_pan = (m->u.spatial.flags & GV_SPATIAL_FLAG_GODOT_PAN) != 0;
    sp.itd = v->itd;
    if (gv_spatial_params_check(&sp) != 0)
        return GV_EINVAL;
    v->spatial = sp;
    return 0;
}

void gv_voice_get_spatial(const gv_voice *v, gv_spatial_config *out)
{
    const gv_spatial_params *sp = &v->spatial;
    *out = (gv_spatial_config){.mode = sp->mode,
                               .model = sp->model,
                               .unit_size = sp->unit_size,
                               .max_distance = sp->max_distance,
                               .volume_db = sp->volume_db,
                               .max_db = sp->max_db,
                               .attenuation = sp->attenuation,
                               .panning_strength = sp->panning_strength,
                               .godot_pan = sp->godot_pan};
}

int gv_voice_set_muted(gv_voice *v, int on)
{
    if (on != 0 && on != 1)
        return GV_EINVAL;
    v->muted = on;
    return 0;
}

int gv_voice_set_deafened(gv_voice *v, int on)
{
    if (on != 0 && on != 1)
        return GV_EINVAL;
    v->deafened = on;
    return 0;
}

int gv_voice_set_transmit_mode(gv_voice *v, int mode)
{
    if (mode < GV_TX_CONTINUOUS || mode > GV_TX_PUSH_TO_TALK)
        return GV_EINVAL;
    if (mode != v->tx_mode)
        gv_vad_reset(v->vad);
    v->tx_mode = mode;
    return 0;
}

int gv_voice_set_ptt(gv_voice *v, int down)
{
    if (down != 0 && down != 1)
        return GV_EINVAL;
    v->ptt = down;
    return 0;
}

int gv_voice_set_player(gv_voice *v, uint16_t id, const float *volume, const int *muted)
{
    if ((volume && !(*volume >= 0.0f && *volume <= VOLUME_MAX)) || (muted && *muted != 0 && *muted != 1))
        return GV_EINVAL;
    peer *p = find_peer(v, id);
    if (!p && !(p = add_peer(v, id)))
        return GV_ENOMEM;
    if (volume)
        p->volume = *volume;
    if (muted)
        p->muted = *muted;
    return 0;
}

float gv_voice_input_level_db(const gv_voice *v)
{
    return v->input_level_db;
}

int gv_voice_transmitting(const gv_voice *v)
{
    return v->transmitting;
}

int gv_voice_pop_event(gv_voice *v, gv_event *ev)
{
    return gv_events_pop(&v->events, ev);
}

void gv_voice_get_stats(const gv_voice *v, gv_client_stats *out)
{
    out->voice_packets = v->voice_packets;
    out->voice_payload_bytes = v->voice_payload_bytes;
    out->peer_count = v->peer_count;
    out->expected_loss_pct = v->expected_loss_pct;
    out->redundancy = v->redundancy;
    out->bitrate = v->raw ? 0 : v->bitrate_now;
    out->redundant_packets = v->redundant_packets;
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
    out->redundant_recovered = st.redundant_used;
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
