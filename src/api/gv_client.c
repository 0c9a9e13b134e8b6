/* The public player handle: the session link plus the voice path (capture
 * pipeline out, per-player streams and the mixer in). */
#include "api/gv_client.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/gv_voice.h"
#include "packet/gv_name.h"
#include "session/gv_events.h"
#include "session/gv_link.h"
#include "session/gv_seal.h"
#include "session/gv_sys.h"

/* Players who left keep their statistics: a stats file written at exit
 * still tells how their voice fared. Oldest forgotten first. */
#define DEPARTED_MAX GV_MAX_PLAYERS

/* A player's local volume and mute outlive their stay: when someone of
 * that name joins again (after a server restart everyone does, with a new
 * id) the settings follow. Only settings that differ from the defaults
 * are kept; oldest forgotten first. */
#define REMEMBERED_MAX 64

typedef struct remembered {
    char name[GV_NAME_BYTES];
    float volume;
    int muted;
} remembered;

struct gv_client {
    gv_link *link;
    gv_voice *voice;
    gv_event_queue events; /* one stream: the link's events and the voice's, in order */
    gv_peer_stats departed[DEPARTED_MAX];
    int departed_count;
    unsigned departed_next;
    remembered remembered[REMEMBERED_MAX];
    unsigned remembered_next;
    gv_clock clock;
    uint64_t created_us;
};

void gv_client_config_default(gv_client_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->server_host = "127.0.0.1";
    cfg->server_port = GV_DEFAULT_PORT;
    cfg->name = "player";
    cfg->connect_timeout_ms = 5000;
    cfg->peer_timeout_ms = GV_TRANSPORT_TIMEOUT_DEFAULT_MS;
    cfg->reconnect_ms = 120000;
    cfg->codec = GV_CODEC_OPUS;
    cfg->bitrate = 24000;
    cfg->frame_ms = 20;
    cfg->fec = 1;
    cfg->redundancy = 1;
    cfg->echo_cancel = GV_ECHO_CANCEL_MIX;
    cfg->noise_suppression = 1;
    cfg->auto_gain = 1;
    cfg->clock = gv_sys_clock();
    cfg->random = gv_sys_random();
}

static void on_voice(void *ctx, const gv_msg *relay)
{
    gv_client *c = ctx;
    gv_voice_receive(c->voice, relay, c->link);
}

static remembered *recall(gv_client *c, const char *name)
{
    for (int i = 0; name && i < REMEMBERED_MAX; i++)
        if (c->remembered[i].name[0] && strcmp(c->remembered[i].name, name) == 0)
            return &c->remembered[i];
    return NULL;
}

static void remember(gv_client *c, uint16_t id)
{
    const char *name = gv_link_player_name(c->link, id);
    float volume;
    int muted;
    if (!name || gv_voice_player_settings(c->voice, id, &volume, &muted) != 0)
        return;
    remembered *r = recall(c, name);
    if (volume == 1.0f && !muted) {
        if (r)
            r->name[0] = '\0';
        return;
    }
    if (!r) {
        r = &c->remembered[c->remembered_next];
        c->remembered_next = (c->remembered_next + 1) % REMEMBERED_MAX;
        snprintf(r->name, sizeof r->name, "%s", name);
    }
    r->volume = volume;
    r->muted = muted;
}

/* The player's stream is made ready before they speak (without memory for
 * it their voice is dropped, as from a player beyond the lobby's limit),
 * with the settings a player of that name had. */
static void on_joined(void *ctx, uint16_t id)
{
    gv_client *c = ctx;
    if (gv_voice_add_peer(c->voice, id) != 0)
        return;
    const remembered *r = recall(c, gv_link_player_name(c->link, id));
    if (r)
        gv_voice_set_player(c->voice, id, &r->volume, &r->muted);
}

static void on_restart(void *ctx, uint16_t id)
{
    gv_client *c = ctx;
    gv_voice_restart_peer(c->voice, id);
}

static void on_session(void *ctx)
{
    gv_client *c = ctx;
    gv_voice_new_session(c->voice);
}

static void on_loss(void *ctx, uint16_t reporter, uint16_t permille)
{
    gv_client *c = ctx;
    gv_voice_loss_report(c->voice, reporter, permille);
}

static int on_spatial(void *ctx, const gv_msg *config)
{
    gv_client *c = ctx;
    return gv_voice_spatial_config(c->voice, config);
}

static void on_position(void *ctx, const gv_msg *relay)
{
    gv_client *c = ctx;
    gv_voice_position(c->voice, relay, (uint16_t)gv_link_id(c->link));
}

static void on_left(void *ctx, uint16_t id)
{
    gv_client *c = ctx;
    remember(c, id);
    gv_peer_stats *st = &c->departed[c->departed_next];
    if (gv_voice_peer_stats(c->voice, id, st) == 0) {
        const char *name = gv_link_player_name(c->link, id);
        snprintf(st->name, sizeof st->name, "%s", name ? name : "");
        c->departed_next = (c->departed_next + 1) % DEPARTED_MAX;
        if (c->departed_count < DEPARTED_MAX)
            c->departed_count++;
    }
    gv_voice_remove_peer(c->voice, id);
}

int gv_client_create_with_version(const gv_client_config *cfg, int protocol_version, gv_client **out)
{
    int rc = GV_EINVAL;
    gv_client *c = NULL;
    if (out)
        *out = NULL;
    /* Every size published so far: this one. */
    if (!cfg || !out || cfg->size != sizeof *cfg)
        goto out;
    /* A name the server would refuse is refused before anything is sent. */
    rc = GV_ENAME;
    if (cfg->name && gv_name_check(cfg->name, strlen(cfg->name), NULL) != 0)
        goto out;
    rc = GV_ENOMEM;
    c = calloc(1, sizeof *c);
    if (!c)
        goto out;
    c->clock = cfg->clock;
    if (c->clock.now_us)
        c->created_us = c->clock.now_us(c->clock.ctx);
    rc = gv_voice_create(cfg, &c->events, &c->voice);
    if (rc < 0)
        goto out;
    gv_link_callbacks cb = {.voice = on_voice,
                            .loss = on_loss,
                            .joined = on_joined,
                            .left = on_left,
                            .spatial = on_spatial,
                            .position = on_position,
                            .restart = on_restart,
                            .session = on_session,
                            .ctx = c};
    rc = gv_link_create(cfg, protocol_version, &c->events, &cb, &c->link);
    if (rc < 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    gv_client_destroy(c);
    return rc;
}

int gv_check_name(const char *name, const char **why)
{
    const char *unused;
    if (!why)
        why = &unused;
    if (!name) {
        *why = "no name";
        return GV_EINVAL;
    }
    return gv_name_check(name, strlen(name), why);
}

int gv_client_create(const gv_client_config *cfg, gv_client **out)
{
    return gv_client_create_with_version(cfg, 0, out);
}

void gv_client_destroy(gv_client *c)
{
    if (!c)
        return;
    gv_link_destroy(c->link);
    gv_voice_destroy(c->voice);
    free(c);
}

int gv_client_service(gv_client *c, gv_event *ev, uint32_t timeout_ms)
{
    if (!c || !ev || ev->size < GV_EVENT_SIZE_MIN)
        return GV_EINVAL;
    if (gv_events_pop(&c->events, ev))
        return 1;
    int rc = gv_link_service(c->link, timeout_ms);
    if (rc < 0)
        return rc;
    gv_voice_tick(c->voice, c->link);
    return gv_events_pop(&c->events, ev);
}

int gv_client_fd(const gv_client *c)
{
    return c ? gv_link_fd(c->link) : GV_EINVAL;
}

int gv_client_id(const gv_client *c)
{
    return c ? gv_link_id(c->link) : 0;
}

/* Counts of frames come back as an int. */
int gv_client_push_capture(gv_client *c, const float *samples, size_t frames, int rate, int channels)
{
    if (!c || frames > INT_MAX)
        return GV_EINVAL;
    return gv_voice_push_capture(c->voice, c->link, samples, frames, rate, channels);
}

int gv_client_set_device_latency(gv_client *c, uint32_t capture_us, uint32_t playback_us)
{
    if (!c || capture_us > 1000000 || playback_us > 1000000)
        return GV_EINVAL;
    return gv_voice_set_device_latency(c->voice, capture_us, playback_us);
}

int gv_client_push_echo_reference(gv_client *c, const float *samples, size_t frames, int rate, int channels)
{
    if (!c || (!samples && frames) || frames > INT_MAX || rate < 8000 || rate > 192000 || channels < 1 ||
        channels > 2)
        return GV_EINVAL;
    return gv_voice_push_echo_reference(c->voice, samples, frames, rate, channels);
}

int gv_client_pull_mix(gv_client *c, float *out, size_t frames, int rate, int channels)
{
    if (!c || frames > INT_MAX)
        return GV_EINVAL;
    return gv_voice_pull_mix(c->voice, out, frames, rate, channels);
}

int gv_client_get_stats(const gv_client *c, gv_client_stats *out)
{
    /* Every size published so far: this one. */
    if (!c || !out || out->size < sizeof *out)
        return GV_EINVAL;
    gv_client_stats st = {.size = sizeof st};
    const gv_transport_stats *t = gv_link_transport_stats(c->link);
    gv_link_counters k;
    gv_link_get_counters(c->link, &k);
    st.datagrams = t->datagrams_out;
    st.wire_bytes = t->bytes_out;
    st.max_datagram_bytes = t->max_datagram_out;
    st.malformed = k.malformed;
    st.auth_failed = k.auth_failed;
    st.replayed = k.replayed;
    st.join_retries = k.join_retries;
    st.cipher = gv_link_cipher(c->link) == GV_SEAL_AES256GCM ? "aes-256-gcm" : "chacha20-poly1305";
    st.seconds = (double)(c->clock.now_us(c->clock.ctx) - c->created_us) / 1e6;
    st.events_dropped = c->events.overwritten;
    st.rtt_ms = gv_link_rtt_ms(c->link);
    gv_voice_get_stats(c->voice, &st);
    memcpy(out, &st, sizeof st);
    return 0;
}

int gv_client_get_peer_stats(const gv_client *c, gv_peer_stats *out, int max)
{
    /* Every size published so far: this one. Entries are written at the
     * caller's stride, out[0].size. */
    if (!c || (!out && max > 0) || max < 0 || (max > 0 && out[0].size < sizeof *out))
        return GV_EINVAL;
    size_t stride = max > 0 ? out[0].size : sizeof *out;
    int n = 0;
    for (; n < max; n++) {
        gv_peer_stats st;
        if (gv_voice_peer_stats_at(c->voice, n, &st) != 0)
            break;
        const char *name = gv_link_player_name(c->link, st.id);
        if (name)
            snprintf(st.name, sizeof st.name, "%s", name);
        st.rtt_ms = gv_link_player_rtt_ms(c->link, st.id);
        memcpy((char *)out + (size_t)n * stride, &st, sizeof st);
    }
    for (int i = 0; i < c->departed_count && n < max; i++, n++)
        memcpy((char *)out + (size_t)n * stride,
               &c->departed[(c->departed_next + DEPARTED_MAX - 1 - (unsigned)i) % DEPARTED_MAX], sizeof *out);
    return n;
}

/* Players known to the lobby (or ourselves): the controls refuse others,
 * so that a typo does not create a stream for nobody. */
static int in_lobby(const gv_client *c, uint16_t id)
{
    return gv_link_player_name(c->link, id) != NULL;
}

int gv_client_pull_player(gv_client *c, uint16_t id, float *out, size_t frames, int rate)
{
    if (!c || (!out && frames) || frames > INT_MAX)
        return GV_EINVAL;
    /* The playout silences out for a player it does not know, even when
     * frames is 0, and memset may not be handed NULL. */
    float none;
    return gv_voice_pull_player(c->voice, id, out ? out : &none, frames, rate);
}

int gv_client_prepare_playback(gv_client *c, int rate, int channels)
{
    return c ? gv_voice_prepare_playback(c->voice, rate, channels) : GV_EINVAL;
}

int gv_client_player_pose(const gv_client *c, uint16_t id, gv_player_pose *out)
{
    if (!c || !out)
        return GV_EINVAL;
    return gv_voice_player_pose(c->voice, id, out);
}

int gv_client_set_pose(gv_client *c, const gv_player_pose *pose)
{
    return c ? gv_voice_set_pose(c->voice, pose) : GV_EINVAL;
}

int gv_client_get_spatial(const gv_client *c, gv_spatial_config *out)
{
    if (!c || !out)
        return GV_EINVAL;
    gv_voice_get_spatial(c->voice, out);
    return 0;
}

int gv_client_set_muted(gv_client *c, int on)
{
    return c ? gv_voice_set_muted(c->voice, on != 0) : GV_EINVAL;
}

int gv_client_set_deafened(gv_client *c, int on)
{
    return c ? gv_voice_set_deafened(c->voice, on != 0) : GV_EINVAL;
}

int gv_client_set_transmit_mode(gv_client *c, gv_transmit_mode mode)
{
    return c ? gv_voice_set_transmit_mode(c->voice, (int)mode) : GV_EINVAL;
}

int gv_client_set_ptt(gv_client *c, int down)
{
    return c ? gv_voice_set_ptt(c->voice, down != 0) : GV_EINVAL;
}

int gv_client_set_player_volume(gv_client *c, uint16_t id, float gain)
{
    if (!c || !(gain >= 0.0f && gain <= GV_PLAYER_VOLUME_MAX))
        return GV_EINVAL;
    if (!in_lobby(c, id))
        return GV_ENOTFOUND;
    return gv_voice_set_player(c->voice, id, &gain, NULL);
}

int gv_client_set_player_muted(gv_client *c, uint16_t id, int on)
{
    if (!c)
        return GV_EINVAL;
    if (!in_lobby(c, id))
        return GV_ENOTFOUND;
    on = on != 0;
    return gv_voice_set_player(c->voice, id, NULL, &on);
}

int gv_client_mute_for_all(gv_client *c, uint16_t id, int on)
{
    if (!c || (on != 0 && on != 1))
        return GV_EINVAL;
    if (!in_lobby(c, id))
        return GV_ENOTFOUND;
    return gv_link_send_mute_for_all(c->link, id, on);
}

float gv_client_input_level_db(const gv_client *c)
{
    return c ? gv_voice_input_level_db(c->voice) : -120.0f;
}

float gv_client_loudest_peer_db(const gv_client *c)
{
    return c ? gv_voice_loudest_peer_db(c->voice) : -127.0f;
}

int gv_client_transmitting(const gv_client *c)
{
    return c ? gv_voice_transmitting(c->voice) : 0;
}

uint32_t gv_client_idle_ms(const gv_client *c)
{
    return c && gv_link_steady(c->link) && !gv_voice_busy(c->voice) ? 100u : 20u;
}

float gv_client_capture_quiet_db(const gv_client *c)
{
    return c ? gv_voice_capture_quiet_db(c->voice) : -INFINITY;
}
