#include "audio/gv_playout.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_codec.h"
#include "audio/gv_mailbox.h"
#include "audio/gv_mixer.h"
#include "audio/gv_resample.h"
#include "audio/gv_splice.h"
#include "gvoip/error.h"

#define RATE 48000
#define MAX_FRAME 2880 /* 60 ms at 48 kHz */
/* The mixer works in 2.5 ms blocks: what it mixes ahead of the device is
 * latency, so the block is small. */
#define MIX_BLOCK 120
#define STREAM_FIFO (MAX_FRAME * 2 + MAX_FRAME / 2)
#define OUT_FIFO 8192                 /* device-rate frames * channels, > one block at 192 kHz stereo */
#define PULL_OUT (MIX_BLOCK * 4 + 64) /* one block resampled to 192 kHz, with slack */
#define RAW_MAX (1024 * 2 * 4)        /* the baseline's frame: 1024 stereo float32 */
/* Packets for a second or more of 32 talkers at 20 ms: a render thread that
 * stalls that long loses packets, not memory. */
#define INBOX_BYTES (256 * 1024)
#define STATS_EVERY_US 20000u
/* Above the jitter buffer's estimate of the network: this machine's own
 * wobble (the sound server's and our threads' scheduling), which no
 * estimate of arrival delays sees. Without it a loaded machine's hiccup
 * made a packet late every few seconds and each raised the delay by a
 * stretched frame: through a sound server one run's words then moved by
 * 10-25 ms; with it most runs hold every word within a millisecond. */
#define MARGIN_MS 5
/* The device's clock, read from the frames it pulls: a callback's own
 * time wanders by a period or more (the sound server wakes the client
 * when it likes), which the jitter buffers would take for network jitter
 * and follow by stretching. The sample count steps evenly; it is pulled
 * towards the wall clock by a sixteenth of the difference per render, so
 * it follows a device whose clock runs fast or slow, and jumps when they
 * part by more than a stall's worth (playback resumed, a starved device). */
#define CLOCK_PULL 16
/* A packet that waited in the mailbox this long (the render side stopped:
 * a game paused its audio, a device stalled) is past any delay the jitter
 * buffer would play it at: taken, a stopped minute's packets played out
 * one after the other and every word came seconds late. */
#define STALE_US 1000000u
#define CLOCK_JUMP_US 40000

enum msg_type { MSG_ADD = 1, MSG_REMOVE, MSG_VOICE, MSG_RAW, MSG_PLAYER, MSG_LISTENER, MSG_FORMAT };
enum retired_type { RETIRED_STREAM = 1, RETIRED_RESAMPLER };

typedef struct stream stream;

typedef struct msg {
    uint8_t type;
    uint16_t id;
    union {
        stream *add;
        struct {
            uint16_t seq;
            uint32_t ts;
            int samples, flags;
            uint64_t arrival_us;
        } voice;
        struct {
            float volume;
            int muted, has_pose;
            gv_player_pose pose;
        } player;
        struct {
            gv_spatial_config spatial;
            int itd, deafened, has_pose;
            gv_player_pose pose;
        } listener;
        struct {
            gv_resampler *rs;
            int rate, channels;
        } format;
    } u;
} msg;

typedef struct retired {
    uint8_t type;
    void *ptr;
} retired;

struct stream {
    uint16_t id;
    int raw;
    gv_jbuf *jbuf;
    gv_decoder *decoder;
    float fifo[STREAM_FIFO]; /* decoded 48 kHz mono, waiting for the mixer */
    size_t fifo_len;
    float volume, last_volume;
    int muted;
    int has_pose;
    gv_player_pose pose;
    gv_spatial_voice render;
    gv_resampler *pull_rs; /* gv_playout_render_player only */
    int pull_rate;
    float pull_out[PULL_OUT];
    size_t pull_len;
};

typedef struct snapshot {
    int n;
    uint16_t ids[GV_PLAYOUT_MAX_STREAMS];
    gv_jbuf_stats st[GV_PLAYOUT_MAX_STREAMS];
} snapshot;

struct gv_playout {
    gv_mailbox *inbox; /* control -> render */
    gv_mailbox *back;  /* render -> control: what to free */
    /* control side */
    int live; /* streams allocated and not yet collected */
    int prepared_rate;
    atomic_uint_fast64_t dropped;
    uint64_t renders_seen; /* the render count when the control side last saw it move */
    uint64_t renders_seen_us;
    int snap_read; /* the snapshot the control side reads */
    /* render side */
    stream *streams[GV_PLAYOUT_MAX_STREAMS];
    int count;
    gv_spatial_config spatial;
    int itd, has_listener, deafened;
    gv_player_pose listener;
    gv_resampler *rs;
    int rate, channels;
    gv_limiter limiter;
    float mix[MIX_BLOCK * 2]; /* interleaved stereo */
    float mono[MIX_BLOCK];
    float out_fifo[OUT_FIFO];
    size_t out_len;
    uint64_t last_now;
    int64_t device_us; /* when the next frame rendered by gv_playout_render is heard */
    int device_started;
    uint64_t stats_at;
    int snap_write; /* the snapshot the render side fills */
    unsigned char body[sizeof(msg) + RAW_MAX];
    /* shared: index of the snapshot between the two, with bit 4 set while
     * it holds news the reader has not taken */
    atomic_int snap_middle;
    atomic_uint_fast64_t renders;
    snapshot snaps[3];
};

#define SNAP_FRESH 4

/* ---- Streams ------------------------------------------------------------ */

static void stream_free(stream *s)
{
    if (!s)
        return;
    gv_jbuf_destroy(s->jbuf);
    gv_decoder_destroy(s->decoder);
    gv_resampler_destroy(s->pull_rs);
    free(s);
}

static int stream_new(uint16_t id, int pull_rate, stream **out)
{
    stream *s = calloc(1, sizeof *s);
    gv_jbuf_config jc;
    gv_jbuf_config_default(&jc);
    jc.margin_ms = MARGIN_MS;
    if (!s || gv_jbuf_create(&jc, &s->jbuf) != 0 || gv_decoder_create(&s->decoder) != 0 ||
        (pull_rate && gv_resampler_create(RATE, 1, pull_rate, 1, -1, &s->pull_rs) != 0)) {
        stream_free(s);
        return GV_ENOMEM;
    }
    s->id = id;
    s->pull_rate = pull_rate;
    s->volume = s->last_volume = 1.0f;
    gv_spatial_voice_init(&s->render);
    *out = s;
    return 0;
}

int gv_playout_create(gv_playout **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    gv_playout *pl = calloc(1, sizeof *pl);
    if (!pl)
        return GV_ENOMEM;
    /* Every allocation the control side makes is handed back once, so a
     * return mailbox with room for all of them never refuses one. */
    size_t back_bytes = (size_t)(2 * GV_PLAYOUT_MAX_STREAMS + 8) * (sizeof(retired) + 4);
    if (gv_mailbox_create(INBOX_BYTES, &pl->inbox) != 0 || gv_mailbox_create(back_bytes, &pl->back) != 0) {
        gv_playout_destroy(pl);
        return GV_ENOMEM;
    }
    atomic_init(&pl->dropped, 0);
    atomic_init(&pl->renders, 0);
    atomic_init(&pl->snap_middle, 1);
    pl->snap_write = 0;
    pl->snap_read = 2;
    gv_spatial_config_default(&pl->spatial, GV_SPATIAL_MODE_OFF);
    /* The limiter runs over interleaved stereo: twice the samples per
     * second keeps its release at 50 ms. */
    gv_limiter_init(&pl->limiter, RATE * 2);
    *out = pl;
    return 0;
}

static void free_retired(const retired *r)
{
    if (r->type == RETIRED_STREAM)
        stream_free(r->ptr);
    else if (r->type == RETIRED_RESAMPLER)
        gv_resampler_destroy(r->ptr);
}

void gv_playout_destroy(gv_playout *pl)
{
    if (!pl)
        return;
    gv_playout_collect(pl);
    /* Whatever is still in the inbox was never seen by the render side. */
    msg m;
    int n;
    while (pl->inbox && (n = gv_mailbox_take(pl->inbox, pl->body, sizeof pl->body)) != 0) {
        if (n < (int)sizeof m)
            continue;
        memcpy(&m, pl->body, sizeof m);
        if (m.type == MSG_ADD)
            stream_free(m.u.add);
        else if (m.type == MSG_FORMAT)
            gv_resampler_destroy(m.u.format.rs);
    }
    for (int i = 0; i < pl->count; i++)
        stream_free(pl->streams[i]);
    gv_resampler_destroy(pl->rs);
    gv_mailbox_destroy(pl->inbox);
    gv_mailbox_destroy(pl->back);
    free(pl);
}

/* ---- Control side ------------------------------------------------------- */

static int post(gv_playout *pl, const msg *m, const void *body, size_t len)
{
    return gv_mailbox_post(pl->inbox, m, sizeof *m, body, len);
}

int gv_playout_add(gv_playout *pl, uint16_t id)
{
    if (!pl)
        return GV_EINVAL;
    if (gv_mailbox_room(pl->inbox) < sizeof(msg))
        return GV_EFULL;
    if (pl->live >= 2 * GV_PLAYOUT_MAX_STREAMS)
        return GV_ENOMEM;
    msg m = {.type = MSG_ADD, .id = id};
    int rc = stream_new(id, pl->prepared_rate, &m.u.add);
    if (rc < 0)
        return rc;
    rc = post(pl, &m, NULL, 0);
    if (rc < 0) {
        stream_free(m.u.add);
        return rc;
    }
    pl->live++;
    return 0;
}

int gv_playout_remove(gv_playout *pl, uint16_t id)
{
    if (!pl)
        return GV_EINVAL;
    msg m = {.type = MSG_REMOVE, .id = id};
    return post(pl, &m, NULL, 0);
}

int gv_playout_voice(gv_playout *pl, uint16_t id, uint16_t seq, uint32_t ts, int samples, int jbuf_flags,
                     const uint8_t *payload, size_t len, uint64_t arrival_us)
{
    if (!pl || !payload || len == 0 || len > GV_JBUF_MAX_PAYLOAD)
        return GV_EINVAL;
    uint64_t renders = atomic_load_explicit(&pl->renders, memory_order_relaxed);
    if (renders != pl->renders_seen || !pl->renders_seen_us) {
        pl->renders_seen = renders;
        pl->renders_seen_us = arrival_us;
    }
    if ((jbuf_flags & GV_PLAYOUT_FAINT) && arrival_us >= pl->renders_seen_us + GV_PLAYOUT_ASLEEP_US)
        return 0;
    msg m = {.type = MSG_VOICE, .id = id};
    m.u.voice.seq = seq;
    m.u.voice.ts = ts;
    m.u.voice.samples = samples;
    m.u.voice.flags = jbuf_flags & ~GV_PLAYOUT_FAINT;
    m.u.voice.arrival_us = arrival_us;
    int rc = post(pl, &m, payload, len);
    if (rc == GV_EFULL)
        atomic_fetch_add_explicit(&pl->dropped, 1, memory_order_relaxed);
    return rc;
}

int gv_playout_raw(gv_playout *pl, uint16_t id, const uint8_t *payload, size_t len)
{
    if (!pl || !payload || len == 0 || len > RAW_MAX)
        return GV_EINVAL;
    msg m = {.type = MSG_RAW, .id = id};
    int rc = post(pl, &m, payload, len);
    if (rc == GV_EFULL)
        atomic_fetch_add_explicit(&pl->dropped, 1, memory_order_relaxed);
    return rc;
}

int gv_playout_player(gv_playout *pl, uint16_t id, float volume, int muted, const gv_player_pose *pose)
{
    if (!pl)
        return GV_EINVAL;
    msg m = {.type = MSG_PLAYER, .id = id};
    m.u.player.volume = volume;
    m.u.player.muted = muted;
    m.u.player.has_pose = pose != NULL;
    if (pose)
        m.u.player.pose = *pose;
    return post(pl, &m, NULL, 0);
}

int gv_playout_listener(gv_playout *pl, const gv_spatial_config *spatial, int itd, const gv_player_pose *pose,
                        int deafened)
{
    if (!pl || !spatial)
        return GV_EINVAL;
    msg m = {.type = MSG_LISTENER};
    m.u.listener.spatial = *spatial;
    m.u.listener.itd = itd;
    m.u.listener.deafened = deafened;
    m.u.listener.has_pose = pose != NULL;
    if (pose)
        m.u.listener.pose = *pose;
    return post(pl, &m, NULL, 0);
}

int gv_playout_prepare(gv_playout *pl, int rate, int channels)
{
    if (!pl || rate < 8000 || rate > 192000 || channels < 1 || channels > 2)
        return GV_EINVAL;
    if (gv_mailbox_room(pl->inbox) < sizeof(msg))
        return GV_EFULL;
    msg m = {.type = MSG_FORMAT};
    int rc = gv_resampler_create(RATE, channels, rate, channels, -1, &m.u.format.rs);
    if (rc < 0)
        return rc;
    m.u.format.rate = rate;
    m.u.format.channels = channels;
    rc = post(pl, &m, NULL, 0);
    if (rc < 0) {
        gv_resampler_destroy(m.u.format.rs);
        return rc;
    }
    pl->prepared_rate = rate;
    return 0;
}

void gv_playout_collect(gv_playout *pl)
{
    if (!pl)
        return;
    retired r;
    while (gv_mailbox_take(pl->back, &r, sizeof r) == (int)sizeof r) {
        if (r.type == RETIRED_STREAM)
            pl->live--;
        free_retired(&r);
    }
}

int gv_playout_stats(gv_playout *pl, uint16_t id, gv_jbuf_stats *out)
{
    if (!pl || !out)
        return GV_EINVAL;
    if (atomic_load_explicit(&pl->snap_middle, memory_order_acquire) & SNAP_FRESH)
        pl->snap_read = atomic_exchange_explicit(&pl->snap_middle, pl->snap_read, memory_order_acq_rel) & 3;
    const snapshot *s = &pl->snaps[pl->snap_read];
    for (int i = 0; i < s->n; i++) {
        if (s->ids[i] == id) {
            *out = s->st[i];
            return 0;
        }
    }
    return GV_ENOTFOUND;
}

uint64_t gv_playout_dropped(const gv_playout *pl)
{
    return pl ? atomic_load_explicit(&((gv_playout *)pl)->dropped, memory_order_relaxed) : 0;
}

/* ---- Render side -------------------------------------------------------- */

static void hand_back(gv_playout *pl, int type, void *ptr)
{
    retired r = {.type = (uint8_t)type, .ptr = ptr};
    /* Sized in gv_playout_create so that this cannot fail. */
    gv_mailbox_post(pl->back, &r, sizeof r, NULL, 0);
}

static stream *find(gv_playout *pl, uint16_t id)
{
    for (int i = 0; i < pl->count; i++)
        if (pl->streams[i]->id == id)
            return pl->streams[i];
    return NULL;
}

/* The baseline has no jitter buffer, exactly like the original example:
 * frames go straight to the player's stream, or are lost when it is full. */
static void take_raw(stream *s, const uint8_t *b, size_t len)
{
    s->raw = 1;
    size_t frames = len / 8;
    if (s->fifo_len + frames > STREAM_FIFO)
        return;
    for (size_t i = 0; i < frames; i++) {
        float ch[2];
        for (int c = 0; c < 2; c++) {
            const uint8_t *p = b + (i * 2 + (size_t)c) * 4;
            uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&ch[c], &bits, sizeof bits);
        }
        float mono = (ch[0] + ch[1]) * 0.5f;
        s->fifo[s->fifo_len++] = mono == mono ? mono : 0.0f;
    }
}

static void take_one(gv_playout *pl, const msg *m, const uint8_t *body, size_t len, uint64_t now)
{
    stream *s = NULL;
    switch (m->type) {
    case MSG_ADD:
        if (pl->count < GV_PLAYOUT_MAX_STREAMS && !find(pl, m->id))
            pl->streams[pl->count++] = m->u.add;
        else
            hand_back(pl, RETIRED_STREAM, m->u.add);
        break;
    case MSG_REMOVE:
        for (int i = 0; i < pl->count; i++) {
            if (pl->streams[i]->id == m->id) {
                hand_back(pl, RETIRED_STREAM, pl->streams[i]);
                pl->streams[i] = pl->streams[--pl->count];
                break;
            }
        }
        break;
    case MSG_VOICE:
        if (m->u.voice.arrival_us + STALE_US < now) {
            atomic_fetch_add_explicit(&pl->dropped, 1, memory_order_relaxed);
            break;
        }
        if ((s = find(pl, m->id)) != NULL) {
            /* An arrival stamped before the last render is put at that
             * render's time: the buffer's clock never runs backwards.
             * Packets that came after it keep their own times, also when
             * this render comes much later (playback paused or stalled):
             * stamped with this render's time, every packet of the pause
             * would look late by its age and push the delay to its cap. */
            uint64_t at = m->u.voice.arrival_us > pl->last_now ? m->u.voice.arrival_us : pl->last_now;
            gv_jbuf_put(s->jbuf, m->u.voice.seq, m->u.voice.ts, m->u.voice.samples, m->u.voice.flags, body, len, at);
        }
        break;
    case MSG_RAW:
        if ((s = find(pl, m->id)) != NULL)
            take_raw(s, body, len);
        break;
    case MSG_PLAYER:
        if ((s = find(pl, m->id)) != NULL) {
            s->volume = m->u.player.volume;
            s->muted = m->u.player.muted;
            s->has_pose = m->u.player.has_pose;
            s->pose = m->u.player.pose;
        }
        break;
    case MSG_LISTENER:
        pl->spatial = m->u.listener.spatial;
        pl->itd = m->u.listener.itd;
        pl->deafened = m->u.listener.deafened;
        pl->has_listener = m->u.listener.has_pose;
        pl->listener = m->u.listener.pose;
        break;
    case MSG_FORMAT:
        if (pl->rs)
            hand_back(pl, RETIRED_RESAMPLER, pl->rs);
        pl->rs = m->u.format.rs;
        pl->rate = m->u.format.rate;
        pl->channels = m->u.format.channels;
        pl->out_len = 0;
        break;
    default:
        break;
    }
}

static void take_posted(gv_playout *pl, uint64_t now)
{
    int n;
    while ((n = gv_mailbox_take(pl->inbox, pl->body, sizeof pl->body)) != 0) {
        if (n < (int)sizeof(msg))
            continue;
        msg m;
        memcpy(&m, pl->body, sizeof m);
        take_one(pl, &m, pl->body + sizeof m, (size_t)n - sizeof m, now);
    }
}

static void publish_stats(gv_playout *pl, uint64_t now)
{
    if (now - pl->stats_at < STATS_EVERY_US && pl->stats_at != 0)
        return;
    pl->stats_at = now ? now : 1;
    snapshot *s = &pl->snaps[pl->snap_write];
    s->n = pl->count;
    for (int i = 0; i < pl->count; i++) {
        s->ids[i] = pl->streams[i]->id;
        gv_jbuf_get_stats(pl->streams[i]->jbuf, &s->st[i]);
    }
    pl->snap_write =
        atomic_exchange_explicit(&pl->snap_middle, pl->snap_write | SNAP_FRESH, memory_order_acq_rel) & 3;
}

/* Tops a stream's FIFO up to need decoded samples from its jitter buffer.
 * now: when the FIFO's first sample is heard; each frame is asked for at
 * the time its own first sample will be, so that audio queued ahead
 * never counts as delay the buffer must hold. */
static void fill(stream *s, size_t need, uint64_t now)
{
    /* Room for the longest frame played half as long again (skip). */
    while (s->fifo_len < need && s->fifo_len + MAX_FRAME + MAX_FRAME / 2 <= STREAM_FIFO) {
        gv_jbuf_frame f;
        uint64_t at = now + (uint64_t)s->fifo_len * 1000000u / RATE;
        if (gv_jbuf_get(s->jbuf, at, &f) < 0 || f.samples <= 0 || f.samples > MAX_FRAME)
            return;
        float *dst = s->fifo + s->fifo_len;
        int got = 0;
        switch (f.kind) {
        case GV_JBUF_PACKET:
            got = gv_decoder_decode(s->decoder, f.payload, f.len, dst, f.samples);
            break;
        case GV_JBUF_FEC:
            got = gv_decoder_decode_fec(s->decoder, f.payload, f.len, dst, f.samples);
            break;
        case GV_JBUF_LOST:
            got = gv_decoder_conceal(s->decoder, dst, f.samples);
            break;
        case GV_JBUF_SILENCE:
            break;
        }
        if (got != f.samples)
            memset(dst, 0, (size_t)f.samples * sizeof *dst);
        s->fifo_len += (size_t)gv_splice_stretch(dst, f.samples, -f.skip, f.samples + f.samples / 2);
    }
}

/* The next MIX_BLOCK samples of s into block (zero-padded where the stream
 * has nothing). */
static void take_block(stream *s, float *block, uint64_t now)
{
    if (!s->raw)
        fill(s, MIX_BLOCK, now);
    size_t n = s->fifo_len < MIX_BLOCK ? s->fifo_len : MIX_BLOCK;
    memcpy(block, s->fifo, n * sizeof *block);
    memset(block + n, 0, (MIX_BLOCK - n) * sizeof *block);
    memmove(s->fifo, s->fifo + n, (s->fifo_len - n) * sizeof *s->fifo);
    s->fifo_len -= n;
}

/* The gains the listener hears s with. A player whose position, or a
 * listener whose own, is not known yet is heard centred at the local
 * volume. */
static void gains(const gv_playout *pl, const stream *s, float *l, float *r, int *itd_l, int *itd_r)
{
    float g = s->muted ? 0.0f : s->volume;
    *itd_l = *itd_r = 0;
    if (pl->spatial.mode == GV_SPATIAL_MODE_OFF || !s->has_pose || !pl->has_listener) {
        *l = *r = g;
        return;
    }
    gv_spatial_gains(&pl->spatial, &pl->listener, &s->pose, l, r, NULL);
    *l *= g;
    *r *= g;
    if (pl->itd)
        gv_spatial_itd(&pl->spatial, &pl->listener, &s->pose, RATE, itd_l, itd_r);
}

static void mix_block(gv_playout *pl, uint64_t now)
{
    float block[MIX_BLOCK];
    memset(pl->mix, 0, sizeof pl->mix);
    for (int i = 0; i < pl->count; i++) {
        stream *s = pl->streams[i];
        take_block(s, block, now);
        if (pl->deafened)
            continue;
        /* Every block is rendered, silent ones too: the renderer's delay
         * line then holds silence, not the end of the last talk spurt. */
        float l, r;
        int itd_l, itd_r;
        gains(pl, s, &l, &r, &itd_l, &itd_r);
        gv_spatial_voice_render(&s->render, block, MIX_BLOCK, l, r, itd_l, itd_r, pl->mix);
    }
    gv_limiter_process(&pl->limiter, pl->mix, MIX_BLOCK * 2);
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

static void begin_render(gv_playout *pl, uint64_t now)
{
    atomic_fetch_add_explicit(&pl->renders, 1, memory_order_relaxed);
    take_posted(pl, now);
    if (now < pl->last_now)
        now = pl->last_now;
    pl->last_now = now;
}

/* The time of the device's next frame, on the clock arrivals are stamped
 * with; see CLOCK_PULL. */
static uint64_t device_time(gv_playout *pl, uint64_t now)
{
    int64_t error = (int64_t)now - pl->device_us;
    if (!pl->device_started || error > CLOCK_JUMP_US || error < -CLOCK_JUMP_US) {
        pl->device_us = (int64_t)now;
        pl->device_started = 1;
    } else {
        pl->device_us += error / CLOCK_PULL;
    }
    return pl->device_us > 0 ? (uint64_t)pl->device_us : 0;
}

int gv_playout_render(gv_playout *pl, float *out, size_t frames, int rate, int channels, uint64_t now_us)
{
    if (!pl || (!out && frames) || rate < 8000 || rate > 192000 || channels < 1 || channels > 2)
        return GV_EINVAL;
    begin_render(pl, device_time(pl, now_us));
    uint64_t now = pl->last_now;
    if (!pl->rs || rate != pl->rate || channels != pl->channels) {
        /* Not prepared for: the one place the render side allocates. */
        gv_resampler *rs = NULL;
        int rc = gv_resampler_create(RATE, channels, rate, channels, -1, &rs);
        if (rc < 0)
            return rc;
        if (pl->rs)
            hand_back(pl, RETIRED_RESAMPLER, pl->rs);
        pl->rs = rs;
        pl->rate = rate;
        pl->channels = channels;
        pl->out_len = 0;
    }
    size_t ch = (size_t)channels;
    size_t done = 0;
    while (done < frames) {
        if (pl->out_len == 0) {
            /* A device asks for its whole buffer at once, but the block
             * mixed now plays done frames after the first: asked for at
             * the call's time, its frames would look early by up to the
             * buffer's length, more or less from call to call. */
            mix_block(pl, now + (uint64_t)done * 1000000u / (uint64_t)rate);
            const float *in = pl->mix;
            if (ch == 1) {
                for (size_t i = 0; i < MIX_BLOCK; i++)
                    pl->mono[i] = 0.5f * (pl->mix[2 * i] + pl->mix[2 * i + 1]);
                in = pl->mono;
            }
            int rc = resample_block(pl->rs, in, ch, pl->out_fifo, OUT_FIFO / ch, &pl->out_len);
            if (rc < 0)
                return rc;
            if (pl->out_len == 0)
                continue;
        }
        size_t n = frames - done < pl->out_len ? frames - done : pl->out_len;
        memcpy(out + done * ch, pl->out_fifo, n * ch * sizeof *out);
        memmove(pl->out_fifo, pl->out_fifo + n * ch, (pl->out_len - n) * ch * sizeof *out);
        pl->out_len -= n;
        done += n;
    }
    pl->device_us += (int64_t)(frames * 1000000u / (size_t)rate);
    publish_stats(pl, now);
    return (int)done;
}

int gv_playout_render_player(gv_playout *pl, uint16_t id, float *out, size_t frames, int rate, uint64_t now_us)
{
    if (!pl || (!out && frames) || rate < 8000 || rate > 192000)
        return GV_EINVAL;
    begin_render(pl, now_us);
    uint64_t now = pl->last_now;
    stream *s = find(pl, id);
    if (!s) {
        memset(out, 0, frames * sizeof *out);
        return GV_ENOTFOUND;
    }
    if (!s->pull_rs || rate != s->pull_rate) {
        gv_resampler *rs = NULL;
        int rc = gv_resampler_create(RATE, 1, rate, 1, -1, &rs);
        if (rc < 0)
            return rc;
        if (s->pull_rs)
            hand_back(pl, RETIRED_RESAMPLER, s->pull_rs);
        s->pull_rs = rs;
        s->pull_rate = rate;
        s->pull_len = 0;
    }
    float block[MIX_BLOCK], gained[MIX_BLOCK];
    size_t done = 0;
    while (done < frames) {
        if (s->pull_len == 0) {
            take_block(s, block, now + (uint64_t)done * 1000000u / (uint64_t)rate);
            float g = s->muted || pl->deafened ? 0.0f : s->volume;
            memset(gained, 0, sizeof gained);
            gv_mix_add_ramp(gained, block, MIX_BLOCK, s->last_volume, g);
            s->last_volume = g;
            int rc = resample_block(s->pull_rs, gained, 1, s->pull_out, PULL_OUT, &s->pull_len);
            if (rc < 0)
                return rc;
            if (s->pull_len == 0)
                continue;
        }
        size_t n = frames - done < s->pull_len ? frames - done : s->pull_len;
        memcpy(out + done, s->pull_out, n * sizeof *out);
        memmove(s->pull_out, s->pull_out + n, (s->pull_len - n) * sizeof *out);
        s->pull_len -= n;
        done += n;
    }
    publish_stats(pl, now);
    return (int)done;
}
