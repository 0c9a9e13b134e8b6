#include "api/gv_voice.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_capalign.h"
#include "audio/gv_clean.h"
#include "audio/gv_codec.h"
#include "audio/gv_echoref.h"
#include "audio/gv_jbuf.h"
#include "audio/gv_playout.h"
#include "audio/gv_resample.h"
#include "audio/gv_spatial.h"
#include "audio/gv_vad.h"
#include "session/gv_events.h"

#define MAX_FRAME 2880         /* 60 ms at 48 kHz */
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
#define SPEAKING_OFF_US 300000u /* a remote player stops "speaking" after this long without voice */
#define POSE_MOVING_US 50000u   /* own pose: 20 a second while it changes */
#define POSE_STILL_US 1000000u  /* and once a second while it does not */

/* What the control thread knows of a remote player. Their stream (jitter
 * buffer, decoder, mixer state) lives in the playout, which the render
 * thread owns; settings reach it as messages, posted again later when the
 * playout's mailbox had no room. */
typedef struct peer {
    uint16_t id;
    int announced; /* the playout has a stream for this player */
    int dirty;     /* volume, mute or pose changed since last posted */
    float volume;
    int muted; /* locally: packets are dropped before the jitter buffer */
    int speaking;
    uint64_t last_voice_us; /* the last packet that carried voice activity */
    uint8_t level;          /* the last packet's level, -dBov (RFC 6464) */
    uint64_t level_us;      /* when it arrived */
    int has_pose;
    uint16_t pose_seq;
    gv_player_pose pose;
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
    /* Cleaning runs in its own steps; a frame is assembled from them. */
    gv_clean *clean;
    float step[GV_CLEAN_STEP];
    size_t step_len;
    gv_capalign align; /* frames' ends onto the deliveries' */
    float ref_step[GV_CLEAN_STEP];
    int echo_mode;
    gv_echoref *echoref; /* written by the render thread (or the game's audio thread) */
    uint32_t capture_latency_us;
    atomic_uint_least32_t playback_latency_us; /* read by the writer of echoref */
    uint16_t seq;
    uint32_t ts; /* of the frame being assembled: the capture clock's (see gv_capalign) */
    int spurt_started;
    gv_vad *vad;
    float vad_gate_db; /* quieter frames never start speech */
    int ref_heard;     /* the last cleaned step's reference had sound in it */
    int tx_mode, ptt, muted, deafened;
    int transmitting;
    int speaking; /* your own voice activity while transmitting, as the events said it */
    float input_level_db;
    /* own pose */
    gv_spatial_config spatial; /* the lobby's, from SPATIAL_CONFIG */
    int itd;
    int has_pose, pose_dirty;
    gv_player_pose pose;
    uint16_t pose_seq;
    uint64_t pose_sent_us;
    gv_event_queue *events; /* the client's stream */
    /* playout */
    peer *peers[MAX_PEERS];
    int peer_count;
    gv_playout *playout;
    int listener_dirty;          /* own pose, the lobby's settings or deafen not yet posted */
    uint16_t leaving[MAX_PEERS]; /* players whose stream removal is not posted yet */
    int leaving_count;
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
    uint64_t voice_packets, voice_payload_bytes, redundant_packets, dtx_frames;
};

int gv_voice_create(const gv_client_config *cfg, gv_event_queue *events, gv_voice **out)
{
    int rc = GV_EINVAL;
    gv_voice *v = NULL;
    if (!cfg || !events || !out || (cfg->codec != GV_CODEC_OPUS && cfg->codec != GV_CODEC_RAW))
        goto out;
    if (cfg->frame_ms != 10 && cfg->frame_ms != 20 && cfg->frame_ms != 40 && cfg->frame_ms != 60)
        goto out;
    if ((int)cfg->transmit_mode < GV_TX_CONTINUOUS || (int)cfg->transmit_mode > GV_TX_PUSH_TO_TALK ||
        (cfg->itd != 0 && cfg->itd != 1) || (cfg->redundancy != 0 && cfg->redundancy != 1))
        goto out;
    if ((int)cfg->echo_cancel < GV_ECHO_CANCEL_OFF || (int)cfg->echo_cancel > GV_ECHO_CANCEL_EXTERNAL ||
        (cfg->noise_suppression & ~1) || (cfg->auto_gain & ~1))
        goto out;
    *out = NULL;
    rc = GV_ENOMEM;
    v = calloc(1, sizeof *v);
    if (!v)
        goto out;
    v->clock = cfg->clock;
    v->events = events;
    v->echo_test = cfg->echo_test;
    v->raw = cfg->codec == GV_CODEC_RAW;
    gv_encoder_config ec;
    gv_encoder_config_default(&ec);
    ec.bitrate = cfg->bitrate;
    ec.frame_ms = cfg->frame_ms;
    ec.fec = cfg->fec;
    /* Silence goes as Opus DTX in every mode: a comfort-noise frame every
     * 400 ms instead of 50 packets a second (continuous mode, or a
     * push-to-talk key held in silence). */
    ec.dtx = 1;
    v->bitrate = cfg->bitrate < GV_CODEC_MIN_BITRATE   ? GV_CODEC_MIN_BITRATE
                 : cfg->bitrate > GV_CODEC_MAX_BITRATE ? GV_CODEC_MAX_BITRATE
                                                       : cfg->bitrate;
    v->bitrate_now = v->bitrate;
    v->redundancy_allowed = cfg->redundancy && cfg->codec == GV_CODEC_OPUS;
    rc = gv_encoder_create(&ec, &v->encoder);
    if (rc < 0)
        goto out;
    v->frame_samples = v->raw ? GV_RAW_FRAMES : gv_encoder_frame_samples(v->encoder);
    gv_capalign_init(&v->align, GV_SAMPLE_RATE, GV_VOICE_TICK, v->frame_samples);
    gv_vad_config vc;
    gv_vad_config_default(&vc, v->frame_samples);
    /* Every pre-roll frame delays its whole talk spurt by a frame at the
     * listener (it is sent late by design). One frame covers the detector's
     * reaction time; its -55 dBFS gate triggers on the first soft sound. */
    vc.preroll_ms = PREROLL_MS;
    v->vad_gate_db = vc.min_level_dbfs;
    rc = gv_vad_create(&vc, &v->vad);
    if (rc < 0)
        goto out;
    v->tx_mode = cfg->transmit_mode;
    v->itd = cfg->itd;
    v->input_level_db = -120.0f;
    gv_spatial_config_default(&v->spatial, GV_SPATIAL_MODE_OFF);
    rc = gv_playout_create(&v->playout);
    if (rc < 0)
        goto out;
    v->echo_mode = cfg->echo_cancel;
    if (cfg->echo_cancel != GV_ECHO_CANCEL_OFF && (rc = gv_echoref_create(&v->echoref)) < 0)
        goto out;
    if (cfg->echo_cancel != GV_ECHO_CANCEL_OFF || cfg->noise_suppression || cfg->auto_gain) {
        gv_clean_config cc = {
            .echo = cfg->echo_cancel != GV_ECHO_CANCEL_OFF,
            .denoise = cfg->noise_suppression,
            .agc = cfg->auto_gain,
        };
        if ((rc = gv_clean_create(&cc, &v->clean)) < 0)
            goto out;
    }
    *out = v;
    v = NULL;
    rc = 0;
out:
    gv_voice_destroy(v);
    return rc;
}

void gv_voice_destroy(gv_voice *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->peer_count; i++)
        free(v->peers[i]);
    gv_playout_destroy(v->playout);
    gv_encoder_destroy(v->encoder);
    gv_vad_destroy(v->vad);
    gv_resampler_destroy(v->capture_rs);
    gv_clean_destroy(v->clean);
    gv_echoref_destroy(v->echoref);
    free(v);
}

/* Posts to the playout what it does not know yet. A full mailbox (the
 * render thread is not taking) leaves the rest for the next call. */
static void sync_playout(gv_voice *v)
{
    gv_playout_collect(v->playout);
    while (v->leaving_count > 0 && gv_playout_remove(v->playout, v->leaving[v->leaving_count - 1]) == 0)
        v->leaving_count--;
    for (int i = 0; i < v->peer_count; i++) {
        peer *p = v->peers[i];
        if (!p->announced) {
            if (gv_playout_add(v->playout, p->id) != 0)
                return;
            p->announced = 1;
            p->dirty = 1;
        }
        if (p->dirty && gv_playout_player(v->playout, p->id, p->volume, p->muted, p->has_pose ? &p->pose : NULL) == 0)
            p->dirty = 0;
    }
    if (v->listener_dirty &&
        gv_playout_listener(v->playout, &v->spatial, v->itd, v->has_pose ? &v->pose : NULL, v->deafened) == 0)
        v->listener_dirty = 0;
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
    if (!p)
        return NULL;
    p->id = id;
    p->volume = 1.0f;
    v->peers[v->peer_count++] = p;
    sync_playout(v);
    return p;
}

int gv_voice_add_peer(gv_voice *v, uint16_t id)
{
    return find_peer(v, id) || add_peer(v, id) ? 0 : GV_ENOMEM;
}

void gv_voice_remove_peer(gv_voice *v, uint16_t id)
{
    for (int i = 0; i < v->peer_count; i++) {
        if (v->peers[i]->id != id)
            continue;
        if (v->peers[i]->announced && v->leaving_count < MAX_PEERS)
            v->leaving[v->leaving_count++] = id;
        free(v->peers[i]);
        v->peers[i] = v->peers[--v->peer_count];
        sync_playout(v);
        return;
    }
}

void gv_voice_restart_peer(gv_voice *v, uint16_t id)
{
    peer *p = find_peer(v, id);
    if (p)
        p->have_seq = 0;
}

void gv_voice_new_session(gv_voice *v)
{
    if (v->encoder)
        gv_encoder_reset(v->encoder);
    v->spurt_started = 0;
    v->prev_len = 0;
    v->pose_sent_us = 0;
    v->pose_dirty = v->has_pose;
}

int gv_voice_player_settings(const gv_voice *v, uint16_t id, float *volume, int *muted)
{
    for (int i = 0; i < v->peer_count; i++) {
        if (v->peers[i]->id == id) {
            *volume = v->peers[i]->volume;
            *muted = v->peers[i]->muted;
            return 0;
        }
    }
    return GV_ENOTFOUND;
}

/* A player started or stopped speaking; name NULL for none. */
static void speaking_event(gv_voice *v, uint16_t id, int on, const char *name)
{
    gv_event *ev = gv_events_push(v->events, GV_EVENT_SPEAKING);
    ev->id = id;
    ev->on = on;
    if (name)
        snprintf(ev->name, sizeof ev->name, "%s", name);
}

void gv_voice_receive(gv_voice *v, const gv_msg *relay, const gv_link *link)
{
    /* Your own voice only comes back in an explicit echo test. */
    if (relay->u.voice.sender == gv_link_id(link) && !v->echo_test)
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
    p->level = relay->u.voice.level;
    p->level_us = v->clock.now_us(v->clock.ctx);
    /* A packet flagged quiet is sent, but nobody speaks in it. */
    if (!(relay->u.voice.flags & GV_VOICE_QUIET)) {
        p->last_voice_us = v->clock.now_us(v->clock.ctx);
        if (!p->speaking) {
            p->speaking = 1;
            speaking_event(v, p->id, 1, gv_link_player_name(link, p->id));
        }
    }
    if (raw) {
        if (!p->muted && !v->deafened && p->announced)
            gv_playout_raw(v->playout, p->id, relay->u.voice.payload, relay->u.voice.len);
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
    if (p->muted || v->deafened || !p->announced)
        return;
    uint64_t now = v->clock.now_us(v->clock.ctx);
    /* Comfort noise of a quiet room is of no use to a device asleep. */
    int faint = (relay->u.voice.flags & GV_VOICE_QUIET) && -(float)relay->u.voice.level < GV_AUDIBLE_DBOV
                    ? GV_PLAYOUT_FAINT
                    : 0;
    if (copy) {
        /* The previous frame: it ends where this one starts. */
        int copy_samples = gv_codec_packet_samples(copy, copy_len);
        if (copy_samples > 0 && copy_samples <= MAX_FRAME)
            gv_playout_voice(v->playout, p->id, (uint16_t)(relay->u.voice.seq - 1),
                             relay->u.voice.ts - (uint32_t)copy_samples, copy_samples, GV_JBUF_REDUNDANT | faint,
                             copy, copy_len, now);
    }
    gv_playout_voice(v->playout, p->id, relay->u.voice.seq, relay->u.voice.ts, samples,
                     ((relay->u.voice.flags & GV_VOICE_MARKER) ? GV_JBUF_MARKER : 0) |
                         ((relay->u.voice.flags & GV_VOICE_PREROLL) ? GV_JBUF_PREROLL : 0) | faint,
                     relay->u.voice.payload, len, now);
}

void gv_voice_loss_report(gv_voice *v, uint16_t reporter, uint16_t loss_permille)
{
    (void)reporter;
    if (loss_permille > v->worst_this_second)
        v->worst_this_second = loss_permille;
}

/* Remote players stop "speaking" once their voice stops: no packets, or
 * only packets flagged quiet. */
static void expire_speaking(gv_voice *v, const gv_link *link, uint64_t now)
{
    for (int i = 0; i < v->peer_count; i++) {
        peer *p = v->peers[i];
        if (p->speaking && now - p->last_voice_us > SPEAKING_OFF_US) {
            p->speaking = 0;
            speaking_event(v, p->id, 0, gv_link_player_name(link, p->id));
        }
    }
}

static void send_pose(gv_voice *v, gv_link *link, uint64_t now)
{
    if (!v->has_pose || now - v->pose_sent_us < (v->pose_dirty ? POSE_MOVING_US : POSE_STILL_US))
        return;
    gv_msg m = {.type = GV_MSG_POSITION};
    m.u.position.seq = v->pose_seq;
    m.u.position.pose = v->pose;
    if (gv_link_send_position(link, &m) != 0)
        return;
    v->pose_seq++;
    v->pose_sent_us = now;
    v->pose_dirty = 0;
}

void gv_voice_tick(gv_voice *v, gv_link *link)
{
    uint64_t now = v->clock.now_us(v->clock.ctx);
    sync_playout(v);
    expire_speaking(v, link, now);
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
        /* To the speaker, a second without a report reads as one without
         * loss: a clean second costs nobody a message (nor its
         * acknowledgement). */
        if (lost > 0)
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

/* A frame's level as voice datagrams carry it (RFC 6464): its mean
 * square in dB below full scale, 0..127, so that a relay can tell the
 * loudest talkers without decoding. */
static uint8_t frame_level(const float *frame, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)frame[i] * frame[i];
    double db = sum > 0 ? 10.0 * log10(sum / n) : -127.0;
    return (uint8_t)(db >= 0 ? 0 : db <= -127.0 ? 127 : (int)lround(-db));
}

static int send_frame(gv_voice *v, gv_link *link, const float *frame, uint32_t ts, int preroll, int quiet)
{
    uint8_t opus[GV_VOICE_PAYLOAD_MAX], joined[GV_VOICE_PAYLOAD_MAX];
    const uint8_t *packet = v->raw ? v->raw_payload : opus;
    int n = v->raw ? raw_frame(v, frame) : gv_encoder_encode(v->encoder, frame, opus, sizeof opus);
    if (n < 0)
        return n;
    if (!v->raw && n <= GV_CODEC_DTX_BYTES) {
        /* Nothing worth sending: the receivers' decoders carry the comfort
         * noise on. The timestamp moves on past it; the next packet sent
         * opens a talk spurt, as after any silence, and has no previous
         * packet to repeat. */
        v->spurt_started = 0;
        v->prev_len = 0;
        v->dtx_frames++;
        return 0;
    }
    gv_msg m = {.type = GV_MSG_VOICE};
    m.u.voice.seq = v->seq++;
    m.u.voice.ts = ts;
    m.u.voice.level = v->raw ? 127 : frame_level(frame, v->frame_samples);
    m.u.voice.flags = (uint8_t)((v->spurt_started ? 0 : GV_VOICE_MARKER) | (v->echo_test ? GV_VOICE_ECHO : 0) |
                                (v->raw ? GV_VOICE_RAW : 0) | (preroll ? GV_VOICE_PREROLL : 0) |
                                (quiet ? GV_VOICE_QUIET : 0));
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
    /* Speaking is voice activity in every mode: what a mode that sends
     * everything sends of silence is flagged so, and shows nobody
     * speaking. */
    int active = gv_vad_active(v->vad);
    for (int i = 0; i < count && rc >= 0; i++)
        rc = send_frame(v, link, send[i],
                        (v->ts + GV_VOICE_TS_WRAP - (uint32_t)((count - 1 - i) * v->frame_samples)) % GV_VOICE_TS_WRAP,
                        i < count - 1, !active);
    v->ts = (v->ts + (uint32_t)v->frame_samples + (uint32_t)gv_capalign_take_skip(&v->align)) % GV_VOICE_TS_WRAP;
    v->transmitting = count > 0;
    int on = count > 0 && active;
    uint16_t own = (uint16_t)gv_link_id(link);
    if (on != v->speaking && own) {
        v->speaking = on;
        speaking_event(v, own, on, NULL);
    }
    return rc;
}

/* Appends cleaned samples to the frame being assembled, sending each frame
 * as it fills. */
static int append_frame(gv_voice *v, gv_link *link, const float *samples, size_t n)
{
    while (n > 0) {
        size_t take = (size_t)v->frame_samples - v->capture_len;
        if (take > n)
            take = n;
        memcpy(v->capture_buf + v->capture_len, samples, take * sizeof *samples);
        v->capture_len += take;
        samples += take;
        n -= take;
        if (v->capture_len == (size_t)v->frame_samples) {
            v->capture_len = 0;
            int rc = capture_frame(v, link);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* One whole step in v->step, its last sample captured at captured_end_us. */
static int clean_step(gv_voice *v, gv_link *link, uint64_t captured_end_us)
{
    const float *ref = NULL;

    v->step_len = 0;
    if (v->echoref && gv_echoref_read(v->echoref, v->ref_step, captured_end_us) == 1)
        ref = v->ref_step;
    v->ref_heard = 0;
    for (int i = 0; ref && i < GV_CLEAN_STEP && !v->ref_heard; i++)
        v->ref_heard = ref[i] != 0.0f;
    if (v->echoref)
        gv_clean_reference_moved(v->clean, gv_echoref_take_moved(v->echoref));
    gv_clean_process(v->clean, v->step, ref);
    return append_frame(v, link, v->step, GV_CLEAN_STEP);
}

/* Whether the samples of the frame being assembled that wait for the
 * next delivery (cleaned ones, then the raw step's) are below
 * GV_AUDIBLE_DBOV, less the automatic gain's boost (which the raw ones
 * have yet to get): a gap between words, not a quiet word. */
static int waiting_inaudible(const gv_voice *v)
{
    double sum = 0.0;
    for (size_t i = 0; i < v->capture_len; i++)
        sum += (double)v->capture_buf[i] * v->capture_buf[i];
    for (size_t i = 0; v->clean && i < v->step_len; i++)
        sum += (double)v->step[i] * v->step[i];
    size_t n = v->capture_len + (v->clean ? v->step_len : 0);
    float boost = 0.0f;
    if (v->clean) {
        gv_clean_stats cs;
        gv_clean_get_stats(v->clean, &cs);
        boost = cs.agc_gain_db > 0.0f ? cs.agc_gain_db : 0.0f;
    }
    return n > 0 && sum / (double)n < pow(10.0, (GV_AUDIBLE_DBOV - boost) / 10.0);
}

/* Before a push: drops the newest waiting samples gv_capalign asks for,
 * raw ones (which the cleaning then never sees; the echo canceller's
 * reference skips them too) before cleaned ones, when they cannot be
 * heard. */
static void align_frames(gv_voice *v)
{
    size_t waiting = v->capture_len + (v->clean ? v->step_len : 0);
    int inaudible = v->align.due > 0 && waiting_inaudible(v);
    size_t drop = (size_t)gv_capalign_push(&v->align, v->clock.now_us(v->clock.ctx), (int)waiting, inaudible);
    if (v->clean) {
        size_t raw = drop < v->step_len ? drop : v->step_len;
        v->step_len -= raw;
        drop -= raw;
        gv_echoref_skip(v->echoref, (int)raw);
    }
    v->capture_len -= drop;
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
    align_frames(v);
    /* The last of these samples was captured capture_latency_us ago. */
    uint64_t last_captured_us = v->clock.now_us(v->clock.ctx) - v->capture_latency_us;
    size_t done = 0;
    while (done < frames) {
        float *dst = v->clean ? v->step + v->step_len : v->capture_buf + v->capture_len;
        size_t room = v->clean ? GV_CLEAN_STEP - v->step_len : (size_t)v->frame_samples - v->capture_len;
        size_t consumed = 0;
        int rc = 0;
        int got = gv_resampler_process(v->capture_rs, samples + done * (size_t)channels, frames - done, dst, room,
                                       &consumed);
        if (got < 0)
            return got;
        done += consumed;
        if (v->clean) {
            v->step_len += (size_t)got;
            if (v->step_len == GV_CLEAN_STEP)
                rc = clean_step(v, link, last_captured_us - (uint64_t)(frames - done) * 1000000u / (uint64_t)rate);
        } else {
            v->capture_len += (size_t)got;
            if (v->capture_len == (size_t)v->frame_samples) {
                v->capture_len = 0;
                rc = capture_frame(v, link);
            }
        }
        if (rc < 0)
            return rc;
        if (consumed == 0 && got == 0)
            break;
    }
    gv_capalign_pushed(&v->align, (int)((uint64_t)done * GV_SAMPLE_RATE / (uint64_t)rate));
    return (int)done;
}

int gv_voice_set_device_latency(gv_voice *v, uint32_t capture_us, uint32_t playback_us)
{
    v->capture_latency_us = capture_us;
    atomic_store_explicit(&v->playback_latency_us, playback_us, memory_order_relaxed);
    return 0;
}

static int write_reference(gv_voice *v, const float *samples, size_t frames, int rate, int channels)
{
    uint64_t play_end = v->clock.now_us(v->clock.ctx) +
                        atomic_load_explicit(&v->playback_latency_us, memory_order_relaxed);
    return gv_echoref_write(v->echoref, samples, frames, rate, channels, play_end);
}

int gv_voice_push_echo_reference(gv_voice *v, const float *samples, size_t frames, int rate, int channels)
{
    if (v->echo_mode != GV_ECHO_CANCEL_EXTERNAL)
        return GV_ESTATE;
    return write_reference(v, samples, frames, rate, channels);
}

int gv_voice_prepare_playback(gv_voice *v, int rate, int channels)
{
    int rc = gv_playout_prepare(v->playout, rate, channels);
    if (rc == 0 && v->echoref)
        rc = gv_echoref_prepare(v->echoref, rate, channels);
    return rc;
}

int gv_voice_pull_mix(gv_voice *v, float *out, size_t frames, int rate, int channels)
{
    int rc = gv_playout_render(v->playout, out, frames, rate, channels, v->clock.now_us(v->clock.ctx));
    if (rc >= 0 && v->echo_mode == GV_ECHO_CANCEL_MIX)
        write_reference(v, out, frames, rate, channels);
    return rc;
}

int gv_voice_pull_player(gv_voice *v, uint16_t id, float *out, size_t frames, int rate)
{
    return gv_playout_render_player(v->playout, id, out, frames, rate, v->clock.now_us(v->clock.ctx));
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
    if (!v->has_pose || memcmp(pose, &v->pose, sizeof *pose) != 0)
        v->pose_dirty = 1;
    v->pose = *pose;
    v->has_pose = 1;
    v->listener_dirty = 1;
    sync_playout(v);
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
    p->pose = relay->u.position.pose;
    p->dirty = 1;
    sync_playout(v);
}

int gv_voice_player_pose(const gv_voice *v, uint16_t id, gv_player_pose *out)
{
    const peer *p = find_peer((gv_voice *)v, id);
    if (!p || !p->has_pose)
        return GV_ENOTFOUND;
    *out = p->pose;
    return 0;
}

int gv_voice_spatial_config(gv_voice *v, const gv_msg *m)
{
    if (gv_spatial_config_check(&m->u.spatial) != 0)
        return GV_EINVAL;
    v->spatial = m->u.spatial;
    v->listener_dirty = 1;
    sync_playout(v);
    return 0;
}

void gv_voice_get_spatial(const gv_voice *v, gv_spatial_config *out)
{
    *out = v->spatial;
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
    v->listener_dirty = 1;
    sync_playout(v);
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
    if ((volume && !(*volume >= 0.0f && *volume <= GV_PLAYER_VOLUME_MAX)) || (muted && *muted != 0 && *muted != 1))
        return GV_EINVAL;
    peer *p = find_peer(v, id);
    if (!p && !(p = add_peer(v, id)))
        return GV_ENOMEM;
    if (volume)
        p->volume = *volume;
    if (muted)
        p->muted = *muted;
    p->dirty = 1;
    sync_playout(v);
    return 0;
}

float gv_voice_input_level_db(const gv_voice *v)
{
    return v->input_level_db;
}

float gv_voice_loudest_peer_db(const gv_voice *v)
{
    float loudest = -127.0f;
    if (v->deafened)
        return loudest;
    uint64_t now = v->clock.now_us(v->clock.ctx);
    for (int i = 0; i < v->peer_count; i++) {
        const peer *p = v->peers[i];
        if (!p->muted && p->level_us && now - p->level_us < SPEAKING_OFF_US && -(float)p->level > loudest)
            loudest = -(float)p->level;
    }
    return loudest;
}

int gv_voice_transmitting(const gv_voice *v)
{
    return v->transmitting;
}

int gv_voice_busy(const gv_voice *v)
{
    if (v->transmitting || v->pose_dirty)
        return 1;
    for (int i = 0; i < v->peer_count; i++)
        if (v->peers[i]->speaking)
            return 1;
    return 0;
}

/* The margin covers what the capture resampler's ripple and the automatic
 * gain's rise over GV_WAKEGATE_WAIT_MS can add. */
#define QUIET_MARGIN_DB 1.0f

float gv_voice_capture_quiet_db(const gv_voice *v)
{
    if (v->muted || v->deafened || (v->tx_mode == GV_TX_PUSH_TO_TALK && !v->ptt))
        return INFINITY;
    /* The echo canceller lines the microphone up with the reference by
     * when it was captured, which a wait keeps; still, while the far end
     * sounds it gets every step on time, as it was measured. */
    if (v->tx_mode != GV_TX_VOICE_ACTIVITY || v->transmitting || v->ref_heard || v->raw)
        return -INFINITY;
    float boost = 0.0f;
    if (v->clean) {
        gv_clean_stats cs;
        gv_clean_get_stats(v->clean, &cs);
        boost = cs.agc_gain_db > 0.0f ? cs.agc_gain_db : 0.0f;
    }
    return v->vad_gate_db - boost - QUIET_MARGIN_DB;
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
    out->dtx_frames = v->dtx_frames;
    out->playout_dropped = gv_playout_dropped(v->playout);
    out->echo_delay_ms = -1.0;
    if (v->clean) {
        gv_clean_stats cs;
        gv_clean_get_stats(v->clean, &cs);
        if (cs.echo_delay_samples >= 0)
            out->echo_delay_ms = cs.echo_delay_samples / 48.0 - GV_ECHOREF_LEAD_MS;
        out->echo_erle_db = cs.echo_erle_db;
        out->agc_gain_db = cs.agc_gain_db;
    }
}

static void peer_stats(const gv_voice *v, const peer *p, gv_peer_stats *out)
{
    gv_jbuf_stats st;
    if (gv_playout_stats(v->playout, p->id, &st) != 0)
        memset(&st, 0, sizeof st);
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->id = p->id;
    out->volume = p->volume;
    out->muted = p->muted;
    /* A level older than a talk spurt's gap is no level: silence. */
    out->level_db = p->level_us && v->clock.now_us(v->clock.ctx) - p->level_us < SPEAKING_OFF_US
                        ? -(float)p->level
                        : -127.0f;
    out->voice_packets = p->packets;
    /* What the buffer dropped to keep its delay under the cap arrived and
     * never played: late, and so lost too for a listener. */
    out->lost = st.lost + st.dropped_for_cap;
    out->late = st.late + st.dropped_for_cap;
    out->duplicates = st.duplicates;
    out->fec_recovered = st.fec_recovered;
    out->redundant_recovered = st.redundant_used;
    out->concealed_frames = st.concealed_frames;
    out->jitter_ms = st.jitter_ms;
    out->playout_delay_ms = st.playout_delay_ms;
    out->shortened_frames = st.shortened_frames;
    out->lengthened_frames = st.lengthened_frames;
    out->shortened_ms = st.shortened_ms;
    out->lengthened_ms = st.lengthened_ms;
}

int gv_voice_peer_stats(const gv_voice *v, uint16_t id, gv_peer_stats *out)
{
    for (int i = 0; i < v->peer_count; i++) {
        if (v->peers[i]->id == id) {
            peer_stats(v, v->peers[i], out);
            return 0;
        }
    }
    return GV_ENOTFOUND;
}

int gv_voice_peer_stats_at(const gv_voice *v, int index, gv_peer_stats *out)
{
    if (index < 0 || index >= v->peer_count)
        return GV_ENOTFOUND;
    peer_stats(v, v->peers[index], out);
    return 0;
}
