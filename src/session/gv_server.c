/* The lobby server: handshakes, admission, resumption of lost
 * connections and the voice relay around the players of its lobbies
 * (gv_rooms, each a gv_lobby; who is sent what: gv_relay), whose
 * decisions are pure. Implements the
 * gv_server half of the public API (gvoip/gvoip.h); it has no audio of
 * its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audio/gv_spatial.h"
#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_admission.h"
#include "session/gv_budget.h"
#include "session/gv_coalesce.h"
#include "session/gv_talkers.h"
#include "session/gv_datagram.h"
#include "session/gv_directory.h"
#include "session/gv_events.h"
#include "session/gv_fleetcert.h"
#include "session/gv_keyfile.h"
#include "session/gv_lobby.h"
#include "session/gv_rooms.h"
#include "session/gv_server.h"
#include "session/gv_noise.h"
#include "session/gv_relay.h"
#include "session/gv_seal.h"
#include "session/gv_session.h"
#include "session/gv_sys.h"
#include "session/gv_token.h"
#include "session/gv_transport.h"

#define HANDSHAKE_TIMEOUT_US 5000000u
#define INIT_TIMEOUT_US 2000000u /* a client sends HANDSHAKE_INIT at once on connecting */
#define EXPIRY_INTERVAL_US 100000u
#define MALFORMED_LIMIT 16 /* authenticated nonsense a player may send before removal */
/* Positions are relayed at most this often per sender (20 a second); a
 * newer one that arrives sooner waits and replaces any still waiting. */
#define POSITION_RELAY_US 50000u
#define RTT_INTERVAL_US 2000000u
#define DEFAULT_HOLD_US 2000
#define MAX_HOLD_US 20000
#define DEFAULT_HOLD_RATE 40000
#define DEFAULT_RESUME_GRACE_MS 30000u
#define MAX_RESUME_GRACE_MS 600000u
#define DEFAULT_LOBBY_LINGER_MS 30000u
#define MAX_LOBBY_LINGER_MS 86400000u
/* ENet numbers at most 4095 peers; some are kept for handshakes. */
#define MAX_PLAYERS_IN_ALL 3900
#define MAX_PEERS (MAX_PLAYERS_IN_ALL + GV_ADMISSION_HALF_OPEN + 8)
#define EPOCHS_SPENT "this server has given out all its voice epochs; it needs a restart"

/* SLOT_AWAY: a player whose connection was lost, kept for a resume; it
 * has no peer and no seal, and only the lobby (as the member's owner)
 * knows it. */
enum slot_state { SLOT_HANDSHAKE, SLOT_HELLO, SLOT_PLAYER, SLOT_AWAY, SLOT_CLOSING };

typedef struct slot {
    /* Transport peer index, keys, the lobby member (id, name, voice slot
     * and epoch, while a player) and position, as the relay reads them. */
    gv_relay_party party;
    enum slot_state state;
    gv_noise *noise;
    uint64_t deadline_us;
    gv_room *room; /* the lobby, while a player */
    gv_budget budget;
    int malformed;
    gv_seal_window up; /* the counters of the voice datagrams received */
    uint64_t here_next; /* the next "I am here" counter */
    /* positional voice */
    int pose_pending;
    uint16_t pose_seq;
    uint64_t pose_relayed_us;
} slot;

struct gv_server {
    gv_transport *transport;
    slot **by_peer; /* the slot of each transport peer, or NULL */
    gv_clock clock;
    int local_host;
    int allow_raw;
    int protocol_version;
    gv_room_settings room_defaults; /* what a lobby opens with, unless its token says otherwise */
    gv_rooms *rooms;
    gv_directory *directory; /* NULL: every lobby is ours */
    int worker;              /* our number in the directory */
    uint64_t lobby_linger_us;
    gv_token_keys *tokens; /* NULL: no tokens; else every join needs one */
    int max_players_in_all;
    uint8_t sk[32], pk[32];
    int has_password;
    uint8_t password_hash[crypto_generichash_BYTES];
    uint8_t host_token[GV_HOST_TOKEN_LEN];
    uint64_t resume_grace_us;
    gv_admission *admission;
    uint64_t last_expiry_us;
    uint64_t last_rtt_us; /* when the players' round trips were last sent */
    gv_event_queue events;
    gv_server_stats stats;
    int aes; /* AES-256-GCM may seal sessions whose client offers it */
    uint8_t cert[GV_FLEETCERT_BYTES]; /* the fleet's certificate for pk, if has_cert */
    int has_cert;
    /* Voice waiting to be relayed. A sender in here is a player: the queue
     * is emptied before any player leaves or joins. */
    gv_coalesce relay;
    uint64_t held_us[GV_COALESCE_HELD]; /* when each packet of relay.held arrived: relay_latency_us */
    gv_session_buffers buf;
};

void gv_server_config_default(gv_server_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->port = GV_DEFAULT_PORT;
    cfg->max_players = GV_DEFAULT_MAX_PLAYERS;
    cfg->relay_hold_us = DEFAULT_HOLD_US;
    cfg->relay_hold_rate = DEFAULT_HOLD_RATE;
    gv_spatial_config_default(&cfg->spatial, GV_SPATIAL_MODE_OFF);
    cfg->clock = gv_sys_clock();
    cfg->peer_timeout_ms = GV_TRANSPORT_TIMEOUT_DEFAULT_MS;
    cfg->max_talkers = GV_DEFAULT_MAX_TALKERS;
    cfg->resume_grace_ms = DEFAULT_RESUME_GRACE_MS;
    cfg->max_lobbies = GV_DEFAULT_MAX_LOBBIES;
    cfg->lobby_linger_ms = DEFAULT_LOBBY_LINGER_MS;
}

/* Off needs no parameters: a zero-filled config stays valid, and the
 * lobby then announces the defaults. */
static int spatial_from_config(const gv_spatial_config *c, gv_spatial_config *out)
{
    if (c->mode == GV_SPATIAL_MODE_OFF) {
        gv_spatial_config_default(out, GV_SPATIAL_MODE_OFF);
        return 0;
    }
    *out = *c;
    return gv_spatial_config_check(out);
}

static uint64_t now_us(const gv_server *s)
{
    return s->clock.now_us(s->clock.ctx);
}

/* Seals and sends one message to one peer. */
static int send_sealed(gv_server *s, slot *sl, uint8_t channel, const uint8_t *plain, size_t len, int fragment)
{
    return gv_session_send(s->transport, sl->party.peer, sl->party.seal, &s->buf, channel, plain, len, fragment);
}

static int send_msg(gv_server *s, slot *sl, const gv_msg *m)
{
    return gv_session_send_msg(s->transport, sl->party.peer, sl->party.seal, &s->buf, GV_CH_CONTROL, m);
}

/* Says why (code and text) and disconnects once that is sent. */
static void let_go(gv_server *s, slot *sl, int code, const char *text)
{
    if (sl->party.seal) {
        gv_msg m = {.type = GV_MSG_REFUSE};
        m.u.refuse.code = (uint8_t)code;
        m.u.refuse.len = (uint8_t)strnlen(text, GV_REASON_MAX);
        m.u.refuse.text = text;
        send_msg(s, sl, &m);
    }
    sl->state = SLOT_CLOSING;
    gv_transport_disconnect(s->transport, sl->party.peer, (uint32_t)code, GV_TRANSPORT_LATER);
}

static void refuse(gv_server *s, slot *sl, int code, const char *text)
{
    let_go(s, sl, code, text);
    s->stats.refused++;
}

/* Tells the client where its lobby is: another worker's port on this
 * host, or another node of the fleet. */
static void send_where(gv_server *s, slot *sl, const gv_directory_where *to)
{
    gv_msg m = {.type = GV_MSG_REDIRECT};
    m.u.redirect.port = to->port;
    m.u.redirect.host = to->host;
    m.u.redirect.host_len = (uint8_t)strlen(to->host);
    send_msg(s, sl, &m);
}

/* The lobby is another worker's or another node's: the client goes there
 * with a new handshake. Not a refusal. */
static void redirect(gv_server *s, slot *sl, const gv_directory_where *to)
{
    send_where(s, sl, to);
    s->stats.redirects++;
    sl->state = SLOT_CLOSING;
    gv_transport_disconnect(s->transport, sl->party.peer, GV_REFUSE_REDIRECT, GV_TRANSPORT_LATER);
}

static int player_count(const gv_room *r)
{
    return gv_lobby_count(r->lobby);
}

/* The i-th player of a lobby in join order. */
static slot *player_at(const gv_room *r, int i)
{
    return gv_lobby_at(r->lobby, i)->owner;
}

static slot *find_player(const gv_room *r, uint16_t id)
{
    const gv_lobby_member *m = gv_lobby_find(r->lobby, id);
    return m ? m->owner : NULL;
}

/* A player who has a connection to send to: not away. */
static int present(const slot *sl)
{
    return sl->state == SLOT_PLAYER;
}

static void free_slot(slot *sl);
static void release_held(gv_server *s);
static void drop_player(gv_server *s, slot *sl, int code);
static void send_muted(gv_server *s, const slot *target, uint16_t by, int on, slot *to);

/* When a half-open connection (a peer that is not a player) started, or
 * UINT64_MAX when it has no slot yet (ENet's own handshake). */
static uint64_t started_us(const slot *sl)
{
    return sl && (sl->state == SLOT_HANDSHAKE || sl->state == SLOT_HELLO) ? sl->deadline_us - HANDSHAKE_TIMEOUT_US
                                                                          : UINT64_MAX;
}

/* The half-open connections as admission sees them: from addr, in total,
 * and the one that has waited longest, if it may be evicted (else -1). */
static int half_open(const gv_server *s, const gv_addr *addr, uint64_t now, gv_admission_view *v)
{
    int victim = -1;
    uint64_t oldest = UINT64_MAX;
    *v = (gv_admission_view){0, 0, 0};
    for (int i = 0; i < (int)gv_transport_peers(s->transport); i++) {
        if (!gv_transport_peer_open(s->transport, i))
            continue;
        const slot *sl = s->by_peer[i];
        if (sl && sl->state == SLOT_PLAYER)
            continue;
        ++v->total;
        if (gv_transport_peer_addr(s->transport, i).host == addr->host)
            ++v->mine;
        uint64_t started = started_us(sl);
        if (started < oldest && now - started >= GV_ADMISSION_EVICT_AGE_US) {
            oldest = started;
            victim = i;
        }
    }
    v->evictable = victim >= 0;
    return victim;
}

/* Screens every ENet CONNECT before ENet keeps any state for it. Runs
 * between two datagrams, so an evicted peer can be reset at once. */
static int admit(void *ctx, const gv_addr *addr, uint32_t connect_data, uint32_t *cookie)
{
    gv_server *s = ctx;
    uint64_t now = now_us(s);
    gv_admission_view v;
    int evict, victim = half_open(s, addr, now, &v);
    int verdict = gv_admission_connect(s->admission, addr, connect_data, &v, now, cookie, &evict);
    if (verdict == GV_ADMIT_PASS && evict) {
        free_slot(s->by_peer[victim]);
        s->by_peer[victim] = NULL;
        gv_transport_reset(s->transport, victim);
        s->stats.refused++;
    }
    return verdict;
}

/* To every present player of sender's lobby but sender. */
static void broadcast(gv_server *s, const slot *sender, const gv_msg *m)
{
    const gv_room *r = sender->room;
    for (int i = 0; i < player_count(r); i++)
        if (player_at(r, i) != sender && present(player_at(r, i)))
            send_msg(s, player_at(r, i), m);
}

/* The lobby's positional settings, to a player who was just welcomed. */
static void send_spatial(gv_server *s, slot *sl)
{
    gv_msg m = {.type = GV_MSG_SPATIAL_CONFIG, .u.spatial = sl->room->spatial};
    send_msg(s, sl, &m);
}

/* Sends from's latest pose to one player, or to every other player when
 * to is NULL. */
static void send_pose(gv_server *s, slot *from, slot *to)
{
    gv_msg m = {.type = GV_MSG_POSITION_RELAY};
    m.u.position.sender = from->party.member->id;
    m.u.position.seq = from->pose_seq;
    m.u.position.pose = from->party.pose;
    uint8_t buf[GV_POSITION_RELAY_LEN];
    int n = gv_msg_encode(&m, buf, sizeof buf);
    if (n < 0)
        return;
    const gv_room *r = from->room;
    for (int i = 0; i < player_count(r); i++) {
        slot *p = player_at(r, i);
        if (p == from || (to && p != to) || !present(p))
            continue;
        if (send_sealed(s, p, GV_CH_VOICE, buf, (size_t)n, 0) == 0)
            s->stats.positions_relayed++;
    }
}

/* Where a listener's window for this player starts: the counter of
 * their next voice packet. */
static uint64_t voice_next(const void *owner)
{
    const slot *p = owner;
    return p->up.top;
}

/* sl, now the player sl->party.member on a new session (a join or a resume),
 * is welcomed with a new resumption secret, the lobby's positional
 * settings and what it must know of everyone else: who is away, and
 * where they are. */
static void start_player(gv_server *s, slot *sl, uint8_t flags)
{
    const gv_lobby_member *me = sl->party.member;
    gv_room *r = sl->room;
    if (r->talkers) /* a new stream, heard and heard from afresh */
        gv_talkers_reset(r->talkers, me->slot);
    sl->state = SLOT_PLAYER;
    gv_seal_window_start(&sl->up, 0);
    gv_budget_start(&sl->budget, now_us(s));

    gv_msg_player self;
    int count;
    gv_lobby_describe(me, 0, &self);
    const gv_msg_player *roster = gv_lobby_roster(r->lobby, me, voice_next, &count);
    gv_msg_welcome_self welcome = {.player = &self, .index = (uint16_t)sl->party.peer, .flags = flags, .resume = me->secret};
    uint8_t *buf = s->buf.encoded;
    int n = gv_msg_encode_welcome(&welcome, (uint16_t)count, roster, buf, sizeof s->buf.encoded);
    if (n > 0) {
        send_sealed(s, sl, GV_CH_CONTROL, buf, (size_t)n, 0);
        sodium_memzero(buf, (size_t)n); /* the secret */
    }
    send_spatial(s, sl);
    for (int i = 0; i < player_count(r); i++) {
        slot *p = player_at(r, i);
        if (p->party.member->muted_by) /* themselves too: a mute outlives a resume */
            send_muted(s, p, p->party.member->muted_by, 1, sl);
        if (p == sl)
            continue;
        if (!present(p)) {
            gv_msg away = {.type = GV_MSG_PLAYER_AWAY};
            away.u.player.id = p->party.member->id;
            send_msg(s, sl, &away);
        }
        if (p->party.has_pose)
            send_pose(s, p, sl);
    }
}

static gv_event *push_lobby_event(gv_server *s, gv_event_type type, const gv_room *r)
{
    gv_event *ev = gv_events_push(&s->events, type);
    snprintf(ev->lobby, sizeof ev->lobby, "%s", r->stats.name);
    return ev;
}

static gv_event *push_player_event(gv_server *s, gv_event_type type, const slot *sl)
{
    gv_event *ev = push_lobby_event(s, type, sl->room);
    ev->id = sl->party.member->id;
    snprintf(ev->name, sizeof ev->name, "%s", sl->party.member->name);
    return ev;
}

/* A HELLO with a resumption secret: the new connection sl takes over the
 * player who holds it. Their old connection, if the server has not yet
 * noticed it is lost, is closed without a PLAYER_LEFT. */
static void resume_player(gv_server *s, slot *sl, gv_room *r, const uint8_t *secret)
{
    const gv_lobby_member *me = r ? gv_lobby_by_secret(r->lobby, secret) : NULL;
    if (!me) {
        refuse(s, sl, GV_REFUSE_RESUME,
               "this session cannot be resumed (the server restarted, or the grace period ended)");
        return;
    }
    slot *old = me->owner;
    uint8_t fresh[GV_RESUME_SECRET_LEN];
    randombytes_buf(fresh, sizeof fresh);
    release_held(s); /* held voice may be the old connection's */
    int rc = gv_lobby_resume(r->lobby, me, sl, secret, fresh);
    sodium_memzero(fresh, sizeof fresh);
    if (rc != 0) {
        refuse(s, sl, GV_REFUSE_FULL, EPOCHS_SPENT);
        return;
    }
    sl->room = r;
    sl->party.member = me;
    sl->party.has_pose = old->party.has_pose;
    sl->pose_pending = old->pose_pending;
    sl->pose_seq = old->pose_seq;
    sl->party.pose = old->party.pose;
    sl->pose_relayed_us = old->pose_relayed_us;
    old->party.member = NULL;
    if (present(old))
        refuse(s, old, GV_REFUSE_REPLACED, "this session was resumed on another connection");
    else
        free_slot(old);
    start_player(s, sl, GV_WELCOME_RESUMED);

    /* The others restart the player's voice stream: a new epoch, counters
     * from 0. */
    gv_msg back = {.type = GV_MSG_PLAYER_BACK};
    back.u.player.id = me->id;
    back.u.player.slot = me->slot;
    back.u.player.epoch = me->epoch;
    broadcast(s, sl, &back);
    s->stats.resumed++;
    push_player_event(s, GV_EVENT_PLAYER_RECONNECTED, sl);
}

static void refuse_lobby(gv_server *s, slot *sl, int rc)
{
    char text[GV_REASON_MAX];
    if (rc == GV_EFULL)
        snprintf(text, sizeof text, "this server has its most lobbies open (%d); try again later",
                 s->directory ? gv_directory_max_lobbies(s->directory) : gv_rooms_count(s->rooms));
    else if (rc == GV_DIRECTORY_FLEET_FULL)
        snprintf(text, sizeof text, "every server of the fleet is full; try again later");
    else
        snprintf(text, sizeof text, "the server could not open the lobby");
    refuse(s, sl, GV_REFUSE_LOBBY, text);
}

/* With a directory, a join or a resume for a lobby another worker holds
 * (or, for a join, that placement gives another worker) is redirected
 * there; a join for a new lobby placed here leaves it pending on us, for
 * open_room. 1 when the HELLO has been answered. */
static int elsewhere(gv_server *s, slot *sl, const char *lobby, size_t len, int resuming)
{
    if (!s->directory || gv_rooms_find(s->rooms, lobby, len))
        return 0;
    gv_directory_where where = {0};
    int owner = resuming ? gv_directory_find(s->directory, lobby, len, now_us(s), &where.port)
                         : gv_directory_claim(s->directory, s->worker, lobby, len, now_us(s), &where);
    if (!resuming && (owner == GV_EFULL || owner == GV_DIRECTORY_FLEET_FULL)) {
        refuse_lobby(s, sl, owner);
        return 1;
    }
    if (!resuming && owner < 0) { /* the fleet's store cannot be reached, or the like */
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "the fleet cannot place the lobby now (%s); try again later", gv_strerror(owner));
        refuse(s, sl, GV_REFUSE_LOBBY, text);
        return 1;
    }
    if (owner < 0 || owner == s->worker) /* a resume to a closed lobby is refused as ever */
        return 0;
    redirect(s, sl, &where);
    return 1;
}

/* The lobby a join names, opened for it with settings if need be; NULL
 * when it has been refused. */
static gv_room *open_room(gv_server *s, slot *sl, const char *name, size_t len, const gv_room_settings *settings)
{
    gv_room *r = gv_rooms_find(s->rooms, name, len);
    if (r)
        return r;
    int rc = gv_rooms_open(s->rooms, name, len, settings, now_us(s), &r);
    if (rc < 0) {
        if (s->directory) /* what we claimed goes back */
            gv_directory_closed(s->directory, s->worker, name, len);
        refuse_lobby(s, sl, rc);
        return NULL;
    }
    if (s->directory)
        gv_directory_opened(s->directory, s->worker, name, len);
    s->stats.lobbies_opened++;
    push_lobby_event(s, GV_EVENT_LOBBY_OPENED, r);
    return r;
}

/* Counted by reason, then refused with the reason: never the token. */
static void refuse_token(gv_server *s, slot *sl, gv_token_verdict v)
{
    uint64_t *by_reason[GV_TOKEN_VERDICTS] = {
        [GV_TOKEN_MALFORMED] = &s->stats.token_malformed,
        [GV_TOKEN_UNKNOWN_KEY] = &s->stats.token_unknown_key,
        [GV_TOKEN_BAD_SIGNATURE] = &s->stats.token_bad_signature,
        [GV_TOKEN_EXPIRED] = &s->stats.token_expired,
        [GV_TOKEN_MISSING] = &s->stats.token_missing,
        [GV_TOKEN_WRONG_LOBBY] = &s->stats.token_wrong_lobby,
        [GV_TOKEN_IN_USE] = &s->stats.token_in_use,
    };
    if (v > GV_TOKEN_VALID && v < GV_TOKEN_VERDICTS)
        ++*by_reason[v];
    refuse(s, sl, GV_REFUSE_TOKEN, gv_token_verdict_text(v));
}

/* What a lobby opened by this join starts with: the server's settings,
 * or those its token gives. 0, or -1 when the token's make no sense
 * together with the server's. */
static int room_settings(const gv_server *s, const gv_token *pass, gv_room_settings *out)
{
    *out = s->room_defaults;
    if (!pass)
        return 0;
    if (pass->spatial_mode >= 0 && pass->spatial_mode != (int)out->spatial.mode)
        gv_spatial_config_default(&out->spatial, (gv_spatial_mode_kind)pass->spatial_mode);
    if (pass->max_distance > 0)
        out->spatial.max_distance = pass->max_distance;
    if (pass->max_players)
        out->max_players = pass->max_players;
    return out->spatial.mode == GV_SPATIAL_MODE_OFF || gv_spatial_config_check(&out->spatial) == 0 ? 0 : -1;
}

/* A token admits one connection at a time: a join with the token of a
 * player whose connection was lost takes their place (they left), one
 * with the token of a connected player is refused, and so is one whose
 * fixed id another player has. 0 when the join may go on. */
static int token_free(gv_server *s, slot *sl, gv_room *r, const gv_token *pass)
{
    const gv_lobby_member *holder = gv_lobby_by_token(r->lobby, pass->nonce);
    if (holder && present(holder->owner)) {
        refuse_token(s, sl, GV_TOKEN_IN_USE);
        return -1;
    }
    if (holder) {
        slot *away = holder->owner;
        drop_player(s, away, 0);
        free_slot(away);
    }
    if (pass->id && find_player(r, pass->id)) {
        s->stats.token_in_use++;
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "the token's id %u is taken in this lobby", (unsigned)pass->id);
        refuse(s, sl, GV_REFUSE_TOKEN, text);
        return -1;
    }
    return 0;
}

static void admit_player(gv_server *s, slot *sl, const gv_msg *hello)
{
    const char *why = NULL;
    /* The token proves the host's own player, who needs no password:
     * joining as player 1, or resuming while player 1 is theirs. */
    int has_token = hello->u.hello.host_token_len == GV_HOST_TOKEN_LEN && s->local_host &&
                    sodium_memcmp(hello->u.hello.host_token, s->host_token, GV_HOST_TOKEN_LEN) == 0;
    int resuming = hello->u.hello.resume_len == GV_RESUME_SECRET_LEN;

    uint32_t from = gv_transport_peer_addr(s->transport, sl->party.peer).host;
    if (s->has_password && !has_token) {
        if (!gv_admission_password_allowed(s->admission, from, now_us(s))) {
            refuse(s, sl, GV_REFUSE_RATE_LIMIT, "too many wrong passwords from this address; wait and try again");
            return;
        }
        uint8_t hash[crypto_generichash_BYTES];
        crypto_generichash(hash, sizeof hash, hello->u.hello.password, hello->u.hello.password_len, NULL, 0);
        if (sodium_memcmp(hash, s->password_hash, sizeof hash) != 0) {
            gv_admission_password_failed(s->admission, from, now_us(s));
            refuse(s, sl, GV_REFUSE_PASSWORD,
                   hello->u.hello.password_len ? "wrong password"
                                               : "this lobby needs a password (--password-file FILE or GVOIP_PASSWORD)");
            return;
        }
    }
    const char *lobby = hello->u.hello.lobby.bytes;
    size_t lobby_len = hello->u.hello.lobby.len;
    if (lobby_len && gv_name_check_lobby(lobby, lobby_len, &why) != 0) {
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "bad lobby name: %s", why);
        refuse(s, sl, GV_REFUSE_LOBBY, text);
        return;
    }
    /* With keys, a token names the lobby and the player; the host's own
     * player needs none, and a resume only to find its lobby. */
    gv_token token;
    const gv_token *pass = NULL;
    if (s->tokens && !has_token && !(resuming && !hello->u.hello.access_len)) {
        gv_token_verdict v = gv_token_admit(s->tokens, hello->u.hello.access, hello->u.hello.access_len, lobby,
                                            lobby_len, resuming, (uint64_t)time(NULL), &token);
        if (v != GV_TOKEN_VALID) {
            refuse_token(s, sl, v);
            return;
        }
        pass = &token;
        lobby = token.lobby;
        lobby_len = strlen(token.lobby);
    }
    if (resuming) {
        if (elsewhere(s, sl, lobby, lobby_len, 1))
            return;
        /* The name is the one they had; a lobby that closed kept nobody. */
        resume_player(s, sl, gv_rooms_find(s->rooms, lobby, lobby_len), hello->u.hello.resume);
        return;
    }
    const char *name = pass ? pass->name : hello->u.hello.name.bytes;
    size_t name_len = pass ? strlen(pass->name) : hello->u.hello.name.len;
    if (gv_name_check(name, name_len, &why) != 0) {
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "bad name: %s", why);
        refuse(s, sl, GV_REFUSE_NAME, text);
        return;
    }
    /* Only a join every worker would take further claims a new lobby's
     * place in the directory. */
    gv_room_settings settings;
    int bad_settings = room_settings(s, pass, &settings) != 0;
    if (!bad_settings && elsewhere(s, sl, lobby, lobby_len, 0))
        return;
    if (s->stats.players >= s->max_players_in_all) {
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "the server is full (%d players)", s->max_players_in_all);
        refuse(s, sl, GV_REFUSE_FULL, text);
        return;
    }
    if (bad_settings) {
        refuse(s, sl, GV_REFUSE_LOBBY, "the token's positional settings are out of range");
        return;
    }
    gv_room *r = open_room(s, sl, lobby, lobby_len, &settings);
    if (!r || (pass && token_free(s, sl, r, pass) != 0))
        return;
    if (gv_lobby_full(r->lobby)) {
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "lobby is full (%d of %d players)", player_count(r),
                 gv_lobby_capacity(r->lobby));
        refuse(s, sl, GV_REFUSE_FULL, text);
        return;
    }
    uint16_t id = pass ? pass->id : has_token && !find_player(r, GV_LOBBY_HOST_ID) ? GV_LOBBY_HOST_ID : 0;
    release_held(s); /* voice from before the newcomer joined is not for them */
    uint8_t secret[GV_RESUME_SECRET_LEN];
    randombytes_buf(secret, sizeof secret);
    int rc = gv_lobby_join(r->lobby, name, name_len, id, secret, sl, &sl->party.member);
    sodium_memzero(secret, sizeof secret);
    if (rc != 0) {
        /* The lobby had room and the id was free: only its epochs can
         * have run out. */
        refuse(s, sl, GV_REFUSE_FULL, EPOCHS_SPENT);
        return;
    }
    if (pass)
        gv_lobby_set_token(r->lobby, sl->party.member, pass->nonce, pass->permissions);
    sl->room = r;
    gv_rooms_occupancy(r, now_us(s));
    r->stats.joined++;
    s->stats.players++;
    if (s->directory)
        gv_directory_players(s->directory, s->worker, s->stats.players);
    const gv_lobby_member *me = sl->party.member;
    start_player(s, sl, 0);

    gv_msg joined = {.type = GV_MSG_PLAYER_JOINED};
    joined.u.player.id = me->id;
    joined.u.player.name.bytes = me->name;
    joined.u.player.name.len = (uint8_t)strlen(me->name);
    joined.u.player.slot = me->slot;
    joined.u.player.epoch = me->epoch;
    broadcast(s, sl, &joined);
    push_player_event(s, GV_EVENT_PLAYER_CONNECTED, sl);
}

static void drop_player(gv_server *s, slot *sl, int code)
{
    release_held(s); /* held voice may be sl's, and sl is about to go */
    const gv_lobby_member *me = sl->party.member;
    if (!me)
        return;
    gv_msg left = {.type = GV_MSG_PLAYER_LEFT};
    left.u.player.id = me->id;
    broadcast(s, sl, &left);
    gv_event *ev = push_player_event(s, GV_EVENT_PLAYER_DISCONNECTED, sl);
    ev->refused = (gv_refusal)code;
    if (code)
        ev->reason = gv_refuse_text(code);
    gv_lobby_leave(sl->room->lobby, me); /* frees the member: its id and name are gone */
    gv_rooms_occupancy(sl->room, now_us(s));
    sl->party.member = NULL;
    sl->room = NULL;
    s->stats.players--;
    if (s->directory)
        gv_directory_players(s->directory, s->worker, s->stats.players);
}

/* sl's connection is lost: the player stays, without a peer or a seal,
 * until they resume or the grace ends (expire_rooms). */
static void go_away(gv_server *s, slot *sl)
{
    release_held(s); /* held voice may be sl's, and sl's peer is gone */
    s->by_peer[sl->party.peer] = NULL;
    sl->party.peer = -1;
    sl->state = SLOT_AWAY;
    gv_seal_destroy(sl->party.seal);
    sl->party.seal = NULL;
    const gv_lobby_member *me = sl->party.member;
    gv_lobby_away(sl->room->lobby, me, now_us(s) + s->resume_grace_us);
    gv_msg away = {.type = GV_MSG_PLAYER_AWAY};
    away.u.player.id = me->id;
    broadcast(s, sl, &away);
    push_player_event(s, GV_EVENT_PLAYER_RECONNECTING, sl);
}

/* Lobbies the fleet placed on another node close now: each player is
 * told where the lobby went (a REDIRECT after the welcome) and let go
 * with MOVED, and joins it there; away players are let go too. */
static void move_rooms(gv_server *s)
{
    gv_directory_move mv;
    while (s->directory && gv_directory_take_move(s->directory, s->worker, &mv)) {
        gv_room *r = gv_rooms_find(s->rooms, mv.name, mv.len);
        if (!r)
            continue;
        while (player_count(r) > 0) {
            slot *sl = player_at(r, 0);
            int was_present = present(sl);
            if (was_present && mv.to.port)
                send_where(s, sl, &mv.to);
            drop_player(s, sl, GV_REFUSE_MOVED);
            if (was_present)
                let_go(s, sl, GV_REFUSE_MOVED, gv_refuse_text(GV_REFUSE_MOVED));
            else
                free_slot(sl);
        }
        push_lobby_event(s, GV_EVENT_LOBBY_CLOSED, r);
        s->stats.lobbies_closed++;
        gv_rooms_close(s->rooms, r);
    }
}

/* Away players whose grace ended leave; lobbies empty for the linger
 * time close. */
static void expire_rooms(gv_server *s)
{
    uint64_t now = now_us(s);
    for (int i = 0; i < gv_rooms_count(s->rooms); i++) {
        gv_room *r = gv_rooms_at(s->rooms, i);
        const gv_lobby_member *m;
        while ((m = gv_lobby_expired(r->lobby, now)) != NULL) {
            slot *sl = m->owner;
            drop_player(s, sl, 0);
            free_slot(sl);
        }
    }
    gv_room *r;
    while ((r = gv_rooms_expired(s->rooms, now, s->lobby_linger_us)) != NULL) {
        push_lobby_event(s, GV_EVENT_LOBBY_CLOSED, r);
        s->stats.lobbies_closed++;
        if (s->directory)
            gv_directory_closed(s->directory, s->worker, r->stats.name, strlen(r->stats.name));
        gv_rooms_close(s->rooms, r);
    }
}

static void free_slot(slot *sl)
{
    if (!sl)
        return;
    gv_noise_destroy(sl->noise);
    gv_seal_destroy(sl->party.seal);
    free(sl);
}

/* Counts a message against the player's budget; 0 if it may pass. */
static int charge(gv_server *s, slot *sl, uint8_t channel, const gv_msg *m, size_t bytes)
{
    int voice = channel == GV_CH_VOICE && m->type == GV_MSG_VOICE;
    gv_budget_kind kind = voice ? GV_BUDGET_VOICE : m->type == GV_MSG_POSITION ? GV_BUDGET_POSITION : GV_BUDGET_CONTROL;
    gv_budget_verdict v = gv_budget_charge(&sl->budget, kind, voice ? gv_budget_voice_us(m) : 0, bytes,
                                           player_count(sl->room), now_us(s));
    if (v == GV_BUDGET_PASS)
        return 0;
    s->stats.over_budget++;
    if (v == GV_BUDGET_REMOVE) {
        drop_player(s, sl, GV_REFUSE_FLOODING);
        refuse(s, sl, GV_REFUSE_FLOODING, "flooding");
    }
    return -1;
}

/* An authenticated message that makes no sense from this player: counted;
 * a player who keeps sending them is broken or hostile and is removed. */
static void malformed(gv_server *s, slot *sl)
{
    s->stats.malformed++;
    if (sl->state != SLOT_PLAYER || ++sl->malformed < MALFORMED_LIMIT)
        return;
    drop_player(s, sl, GV_REFUSE_PROTOCOL);
    refuse(s, sl, GV_REFUSE_PROTOCOL, "too many malformed messages");
}

/* What the relay did, in the server's figures and its lobby's. */
static void add_counts(gv_server *s, gv_room *r, const gv_relay_counts *c)
{
    s->stats.relayed_packets += c->relayed;
    r->stats.relayed_packets += c->relayed;
    s->stats.culled_packets += c->culled;
    r->stats.culled_packets += c->culled;
    s->stats.talkers_limited += c->talkers_limited;
    r->stats.talkers_limited += c->talkers_limited;
    s->stats.malformed += c->unsealable;
}

/* The raw baseline travels in ENet, which fragments it. */
static void relay_raw(gv_server *s, slot *from, const gv_msg *m)
{
    gv_msg out = *m;
    out.type = GV_MSG_VOICE_RELAY;
    out.u.voice.sender = from->party.member->id;
    int echo = (m->u.voice.flags & GV_VOICE_ECHO) != 0;
    out.u.voice.flags &= (uint8_t)~GV_VOICE_ECHO;
    int n = gv_msg_encode(&out, s->buf.encoded, sizeof s->buf.encoded);
    if (n < 0) {
        s->stats.malformed++;
        return;
    }
    gv_room *r = from->room;
    gv_relay_counts counts = {0};
    for (int i = 0; i < player_count(r); i++) {
        slot *to = player_at(r, i);
        if (present(to) && gv_relay_hears(r, &from->party, &to->party, echo, &counts) &&
            send_sealed(s, to, GV_CH_VOICE, s->buf.encoded, (size_t)n, 1) == 0)
            counts.relayed++;
    }
    add_counts(s, r, &counts);
}

static void send_datagram(void *ctx, int peer, const uint8_t *datagram, size_t len)
{
    gv_server *s = ctx;
    gv_transport_send_datagram(s->transport, peer, datagram, len);
}

/* Relays the voice packets of one lobby (r) among items to its connected
 * players. Returns the items sent to anyone, bit k for items[k]: only
 * those have a relay latency. */
static uint32_t relay_room(gv_server *s, gv_room *r, const gv_coalesce_item *items, int count)
{
    const gv_relay_party *listeners[GV_MAX_PLAYERS];
    const gv_relay_party *from[GV_COALESCE_HELD];
    int n = 0;
    for (int i = 0; i < player_count(r) && n < GV_MAX_PLAYERS; i++) {
        slot *to = player_at(r, i);
        if (present(to))
            listeners[n++] = &to->party;
    }
    for (int k = 0; k < count; k++) {
        const slot *sender = s->by_peer[items[k].from];
        from[k] = sender->room == r ? &sender->party : NULL;
    }
    gv_relay_counts counts = {0};
    uint32_t forwarded = gv_relay_room(r, listeners, n, items, from, count, now_us(s), s->buf.sealed, &counts,
                                       send_datagram, s);
    add_counts(s, r, &counts);
    return forwarded;
}

static const uint32_t latency_bounds_us[GV_RELAY_LATENCY_BUCKETS - 1] = GV_RELAY_LATENCY_BOUNDS_US;

static void count_latency(gv_server *s, uint64_t us)
{
    int b = 0;
    while (b < GV_RELAY_LATENCY_BUCKETS - 1 && us > latency_bounds_us[b])
        b++;
    s->stats.relay_latency_us[b]++;
    s->stats.relay_latency_sum_us += us;
}

/* Relays voice packets, each to the listeners of its own lobby: a
 * packet never reaches another lobby. arrived_us[k]: when items[k] was
 * handled; one clock read after the last send dates the whole batch. */
static void relay_items(gv_server *s, const gv_coalesce_item *items, const uint64_t *arrived_us, int count)
{
    gv_room *done[GV_COALESCE_HELD];
    uint32_t forwarded = 0;
    int rooms = 0;
    for (int k = 0; k < count; k++) {
        gv_room *r = s->by_peer[items[k].from]->room;
        int seen = 0;
        for (int j = 0; j < rooms && !seen; j++)
            seen = done[j] == r;
        if (seen)
            continue;
        done[rooms++] = r;
        forwarded |= relay_room(s, r, items, count);
    }
    if (!forwarded)
        return;
    uint64_t sent = now_us(s);
    for (int k = 0; k < count; k++)
        if (forwarded & (1u << k))
            count_latency(s, sent - arrived_us[k]);
}

static void release_held(gv_server *s)
{
    relay_items(s, s->relay.held, s->held_us, s->relay.count);
    gv_coalesce_clear(&s->relay);
}

static void relay_voice(gv_server *s, slot *from, const gv_msg *m, uint64_t counter)
{
    /* With nothing held, the packet is relayed from the last place in the
     * queue, which is always free. */
    if (from->room->talkers)
        gv_talkers_heard(from->room->talkers, from->party.member->slot, m->u.voice.level,
                         !(m->u.voice.flags & GV_VOICE_QUIET));
    gv_coalesce_item *h = gv_coalesce_next(&s->relay);
    h->counter = counter;
    h->ts = m->u.voice.ts;
    h->flags = (uint8_t)(m->u.voice.flags & ~GV_VOICE_ECHO);
    h->level = m->u.voice.level;
    memcpy(h->payload, m->u.voice.payload, m->u.voice.len);
    int echo = (m->u.voice.flags & GV_VOICE_ECHO) != 0;
    uint64_t *arrived = &s->held_us[s->relay.count];
    *arrived = now_us(s);
    if (!s->relay.on) {
        h->from = from->party.peer;
        h->echo = echo;
        h->len = m->u.voice.len;
        relay_items(s, h, arrived, 1);
        return;
    }
    if (gv_coalesce_push(&s->relay, from->party.peer, echo, m->u.voice.len, *arrived))
        release_held(s);
}

/* A player's new position (the voice channel is unsequenced: an older one
 * arriving late is ignored), relayed to the others at most every
 * POSITION_RELAY_US; flush_poses sends what had to wait. */
static void update_pose(gv_server *s, slot *sl, const gv_msg *m)
{
    if (sl->party.has_pose && (int16_t)(m->u.position.seq - sl->pose_seq) <= 0)
        return;
    sl->party.has_pose = 1;
    sl->pose_seq = m->u.position.seq;
    sl->party.pose = m->u.position.pose;
    uint64_t now = now_us(s);
    if (now - sl->pose_relayed_us >= POSITION_RELAY_US) {
        sl->pose_relayed_us = now;
        sl->pose_pending = 0;
        send_pose(s, sl, NULL);
    } else {
        sl->pose_pending = 1;
    }
}

static void flush_poses(gv_server *s)
{
    uint64_t now = now_us(s);
    for (int k = 0; k < gv_rooms_count(s->rooms); k++) {
        const gv_room *r = gv_rooms_at(s->rooms, k);
        for (int i = 0; i < player_count(r); i++) {
            slot *sl = player_at(r, i);
            if (sl->pose_pending && now - sl->pose_relayed_us >= POSITION_RELAY_US) {
                sl->pose_relayed_us = now;
                sl->pose_pending = 0;
                send_pose(s, sl, NULL);
            }
        }
    }
}

/* Every player's round trip to the server, to everyone, every
 * RTT_INTERVAL_US: what each client shows as that player's ping. */
static void send_room_rtts(gv_server *s, const gv_room *r)
{
    uint16_t ids[GV_MAX_PLAYERS], rtts[GV_MAX_PLAYERS];
    int n = 0;
    for (int i = 0; i < player_count(r); i++) {
        const slot *sl = player_at(r, i);
        if (!present(sl))
            continue; /* no round trip to measure */
        uint32_t rtt = gv_transport_peer_rtt_ms(s->transport, sl->party.peer);
        ids[n] = sl->party.member->id;
        rtts[n++] = (uint16_t)(rtt > UINT16_MAX ? UINT16_MAX : rtt);
    }
    int len = gv_msg_encode_rtt((uint16_t)n, ids, rtts, s->buf.encoded, sizeof s->buf.encoded);
    for (int i = 0; len > 0 && i < player_count(r); i++)
        if (present(player_at(r, i)))
            send_sealed(s, player_at(r, i), GV_CH_CONTROL, s->buf.encoded, (size_t)len, 0);
}

static void send_rtts(gv_server *s)
{
    uint64_t now = now_us(s);
    if (now - s->last_rtt_us < RTT_INTERVAL_US)
        return;
    s->last_rtt_us = now;
    for (int k = 0; k < gv_rooms_count(s->rooms); k++)
        send_room_rtts(s, gv_rooms_at(s->rooms, k));
}

/* A listen-only player's voice, or a muted one's, goes no further:
 * counted. */
static int silenced(gv_server *s, slot *sl)
{
    if (!(sl->party.member->permissions & GV_TOKEN_LISTEN_ONLY) && !sl->party.member->muted_by)
        return 0;
    s->stats.listen_only_dropped++;
    sl->room->stats.listen_only_dropped++;
    return 1;
}

/* Whom a moderator muted for everyone, to one player, or to the lobby
 * (to NULL), and as an event. */
static void send_muted(gv_server *s, const slot *target, uint16_t by, int on, slot *to)
{
    gv_msg m = {.type = GV_MSG_PLAYER_MUTED};
    m.u.mute.id = target->party.member->id;
    m.u.mute.on = (uint8_t)on;
    m.u.mute.by = by;
    if (to) {
        send_msg(s, to, &m);
        return;
    }
    const gv_room *r = target->room;
    for (int i = 0; i < player_count(r); i++)
        if (present(player_at(r, i)))
            send_msg(s, player_at(r, i), &m);
}

/* MUTE_FOR_ALL: only a moderator's token lets a player ask it; anyone
 * else's is a client's mistake, counted as malformed. */
static void mute_for_all(gv_server *s, slot *sl, const gv_msg *m)
{
    slot *target = find_player(sl->room, m->u.mute.id);
    if (!(sl->party.member->permissions & GV_TOKEN_MODERATOR) || !target) {
        malformed(s, sl);
        return;
    }
    uint16_t by = m->u.mute.on ? sl->party.member->id : 0;
    if (target->party.member->muted_by == by || (m->u.mute.on && target->party.member->muted_by))
        return; /* nothing changes */
    gv_lobby_set_muted(sl->room->lobby, target->party.member, by);
    send_muted(s, target, sl->party.member->id, m->u.mute.on, NULL);
    gv_event *ev = push_player_event(s, GV_EVENT_PLAYER_MUTED_FOR_ALL, target);
    ev->on = m->u.mute.on;
}

static void handle_sealed(gv_server *s, slot *sl, uint8_t channel, const uint8_t *data, size_t len)
{
    gv_msg m;
    int rc = gv_session_open(sl->party.seal, &s->buf, channel, data, len, &m);
    if (rc == GV_EREPLAY) {
        s->stats.replayed++;
        return;
    }
    if (rc == GV_EAUTH) {
        s->stats.auth_failed++;
        return;
    }
    if (sl->state == SLOT_PLAYER)
        gv_lobby_confirm(sl->room->lobby, sl->party.member); /* in use: see handle_datagram */
    if (rc == GV_EUNKNOWN) { /* a later version's message: ignored (docs/protocol.md, versions) */
        s->stats.malformed++;
        return;
    }
    if (rc != 0) {
        malformed(s, sl);
        return;
    }
    if (sl->state == SLOT_HELLO) {
        if (m.type != GV_MSG_HELLO || channel != GV_CH_CONTROL) {
            s->stats.malformed++;
            return;
        }
        admit_player(s, sl, &m);
        return;
    }
    if (sl->state != SLOT_PLAYER)
        return;
    int raw = m.type == GV_MSG_VOICE && (m.u.voice.flags & GV_VOICE_RAW);
    if (raw && !s->allow_raw) {
        s->stats.malformed++;
        return;
    }
    /* The raw baseline is ten times over any sane byte budget by design;
     * a server lets it through only when told to (benchmarks). */
    if (charge(s, sl, channel, &m, raw ? 0 : len) != 0)
        return;
    if (channel == GV_CH_VOICE && raw) {
        if (!silenced(s, sl))
            relay_raw(s, sl, &m);
    } else if (channel == GV_CH_VOICE && m.type == GV_MSG_POSITION) {
        update_pose(s, sl, &m);
    } else if (channel == GV_CH_CONTROL && m.type == GV_MSG_MUTE_FOR_ALL) {
        mute_for_all(s, sl, &m);
    } else if (channel == GV_CH_CONTROL && m.type == GV_MSG_LOSS_REPORT) {
        slot *speaker = find_player(sl->room, m.u.loss.id);
        if (speaker && speaker != sl && present(speaker)) {
            m.u.loss.id = sl->party.member->id;
            send_msg(s, speaker, &m);
        }
    } else {
        malformed(s, sl);
    }
}

/* After an authenticated datagram, the newest of its sender: a player it
 * came from elsewhere was moved by their NAT. */
static void move_player(gv_server *s, slot *sl, const gv_addr *from)
{
    gv_addr at = gv_transport_peer_addr(s->transport, sl->party.peer);
    if (at.host == from->host && at.port == from->port)
        return;
    gv_transport_peer_move(s->transport, sl->party.peer, from);
    s->stats.rebinds++;
}

/* The players a voice datagram's index may name: its 9 bits name one
 * transport peer in 512, and a server with more peers has several that
 * share them. The one at the datagram's address comes first: almost
 * always the sender, so that only a player whose NAT moved them (or a
 * forgery) costs a second try. */
static int candidates(const gv_server *s, const gv_addr *from, int index, slot **out)
{
    int n = 0;
    for (size_t p = (size_t)index; p < gv_transport_peers(s->transport); p += GV_DATAGRAM_INDEX_MAX + 1) {
        slot *sl = s->by_peer[p];
        if (!sl || sl->state != SLOT_PLAYER)
            continue;
        gv_addr at = gv_transport_peer_addr(s->transport, sl->party.peer);
        if (at.host == from->host && at.port == from->port && n > 0) {
            out[n++] = out[0];
            out[0] = sl;
        } else {
            out[n++] = sl;
        }
    }
    return n;
}

/* A voice datagram: its receiver index names the player, its tag proves
 * it theirs, wherever it came from. An authenticated datagram from a new
 * address, the newest so far, means the player's NAT has moved them:
 * everything goes there from now on. Nothing that fails to authenticate
 * counts against the player it names. One that does shows their session
 * in use: if it is a resumed one, the secret the resume presented is
 * spent (a client says "I am here" at once after a resumed WELCOME). */
static void handle_datagram(gv_server *s, const gv_addr *from, const uint8_t *d, size_t len)
{
    slot *maybe[MAX_PEERS / (GV_DATAGRAM_INDEX_MAX + 1) + 1];
    int index = gv_datagram_up_index(d, len);
    int n = index >= 0 ? candidates(s, from, index, maybe) : 0;
    int here = gv_datagram_kind_of(d, len) == GV_DATAGRAM_HERE;
    int replayed = 0;
    for (int i = 0; i < n; i++) {
        slot *sl = maybe[i];
        if (here) {
            if (gv_datagram_open_here(sl->party.seal, &sl->here_next, d, len) != 0)
                continue;
            gv_lobby_confirm(sl->room->lobby, sl->party.member);
            gv_transport_peer_heard(s->transport, sl->party.peer);
            move_player(s, sl, from);
            return;
        }
        gv_msg m;
        uint64_t counter = 0;
        int rc = gv_datagram_open_up(sl->party.seal, &sl->up, d, len, s->buf.plain, sizeof s->buf.plain, &m, &counter);
        if (rc == GV_EREPLAY) {
            /* Refused before its tag was checked: a replay when the
             * first candidate (the only one, or the one at the sender's
             * address) says so, else most likely a forgery. */
            replayed |= i == 0;
            continue;
        }
        if (rc != 0 && rc != GV_EMALFORMED)
            continue;
        gv_lobby_confirm(sl->room->lobby, sl->party.member);
        gv_transport_peer_heard(s->transport, sl->party.peer);
        if (counter + 1 == sl->up.top)
            move_player(s, sl, from);
        if (rc == GV_EMALFORMED) {
            malformed(s, sl);
            return;
        }
        if (charge(s, sl, GV_CH_VOICE, &m, len) == 0 && !silenced(s, sl))
            relay_voice(s, sl, &m, counter);
        return;
    }
    if (replayed)
        s->stats.replayed++;
    else
        s->stats.auth_failed++;
}

static int on_datagram(void *ctx, const gv_addr *from, const uint8_t *d, size_t len)
{
    gv_server *s = ctx;
    handle_datagram(s, from, d, len);
    /* Held voice is released by the service call, which must not wait on
     * past the hold. */
    return s->relay.count > 0;
}

static void handle_handshake(gv_server *s, slot *sl, const uint8_t *data, size_t len)
{
    uint8_t payload[GV_HANDSHAKE_PAD];
    uint8_t answer[1 + GV_FLEETCERT_BYTES]; /* message 2's payload: the cipher, maybe the certificate */
    uint8_t reply[1 + GV_NOISE_MSG2_LEN + sizeof answer];
    int got;
    if (len < 1 || data[0] != GV_HANDSHAKE_INIT ||
        (got = gv_noise_read_message(sl->noise, data + 1, len - 1, payload, sizeof payload)) < 0) {
        s->stats.auth_failed++;
        refuse(s, sl, GV_REFUSE_PROTOCOL, "handshake failed");
        return;
    }
    /* The client's offer is the first payload byte (absent: ChaCha20-Poly1305
     * only); the answer travels encrypted in message 2. */
    uint8_t cipher = got >= 1 && (payload[0] & GV_CIPHER_OFFER_AES256GCM) && s->aes ? GV_SEAL_AES256GCM
                                                                                    : GV_SEAL_CHACHA20POLY1305;
    /* Only a client that asked gets the certificate: one from before
     * certificates refuses a payload longer than the cipher. */
    int with_cert = s->has_cert && got >= 1 && (payload[0] & GV_OFFER_FLEET_CERT);
    answer[0] = cipher;
    memcpy(answer + 1, s->cert, sizeof s->cert);
    reply[0] = GV_HANDSHAKE_RESP;
    int n = gv_noise_write_message(sl->noise, answer, with_cert ? sizeof answer : 1, reply + 1, sizeof reply - 1);
    if (n < 0 || gv_session_keys(&sl->noise, cipher, &sl->party.seal) != 0) {
        refuse(s, sl, GV_REFUSE_PROTOCOL, "handshake failed");
        return;
    }
    sl->state = SLOT_HELLO;
    s->stats.handshakes++;
    gv_transport_send(s->transport, sl->party.peer, GV_CH_CONTROL, reply, (size_t)n + 1, 0);
}

static void on_connect(gv_server *s, int peer, uint32_t data)
{
    uint8_t pro[GV_SESSION_PROLOGUE];
    if ((data & 0xff) != (uint32_t)s->protocol_version) {
        /* Tell the client which version we speak; it prints both. */
        s->stats.refused++;
        gv_transport_disconnect(s->transport, peer, GV_REFUSE_VERSION | (uint32_t)s->protocol_version << 8,
                                GV_TRANSPORT_LATER);
        return;
    }
    slot *sl = calloc(1, sizeof *sl);
    gv_session_prologue(s->protocol_version, pro);
    if (!sl || gv_noise_responder_create(pro, sizeof pro, s->sk, s->pk, &sl->noise) != 0) {
        free(sl);
        gv_transport_reset(s->transport, peer);
        return;
    }
    sl->party.peer = peer;
    sl->state = SLOT_HANDSHAKE;
    sl->deadline_us = now_us(s) + HANDSHAKE_TIMEOUT_US;
    s->by_peer[peer] = sl;
}

/* A player whose connection is lost keeps their place for the grace, to
 * resume it (resume_player); one who left said so. */
static void on_disconnect(gv_server *s, int peer, uint32_t data)
{
    slot *sl = s->by_peer[peer];
    if (!sl)
        return;
    if (sl->state == SLOT_PLAYER && data != GV_DISCONNECT_LEAVING && s->resume_grace_us) {
        go_away(s, sl);
        return;
    }
    if (sl->state == SLOT_PLAYER)
        drop_player(s, sl, 0);
    s->by_peer[peer] = NULL;
    free_slot(sl);
}

static void on_receive(gv_server *s, int peer, uint8_t channel, const uint8_t *data, size_t len)
{
    slot *sl = s->by_peer[peer];
    if (!sl || sl->state == SLOT_CLOSING)
        return;
    if (sl->state == SLOT_HANDSHAKE) {
        if (channel == GV_CH_CONTROL)
            handle_handshake(s, sl, data, len);
        else
            s->stats.malformed++;
        return;
    }
    handle_sealed(s, sl, channel, data, len);
}

/* A peer that never sent HANDSHAKE_INIT has no seal to hear a reason
 * with: it is dropped at once (one unreliable DISCONNECT), freeing its slot
 * for real players. One that finished the handshake but sent no HELLO is
 * told why. */
static void expire_handshakes(gv_server *s)
{
    uint64_t now = now_us(s);
    for (int i = 0; i < (int)gv_transport_peers(s->transport); i++) {
        slot *sl = s->by_peer[i];
        if (!sl)
            continue;
        if (sl->state == SLOT_HANDSHAKE && now > sl->deadline_us - HANDSHAKE_TIMEOUT_US + INIT_TIMEOUT_US) {
            s->by_peer[i] = NULL;
            gv_transport_disconnect(s->transport, i, GV_REFUSE_TIMEOUT, GV_TRANSPORT_NOW);
            free_slot(sl);
            s->stats.refused++;
        } else if (sl->state == SLOT_HELLO && now > sl->deadline_us) {
            refuse(s, sl, GV_REFUSE_TIMEOUT, "handshake timed out");
        }
    }
}

int gv_server_create(const gv_server_config *cfg, gv_server **out, char *why, size_t why_len)
{
    return gv_server_create_with_version(cfg, 0, out, why, why_len);
}

int gv_server_create_with_version(const gv_server_config *cfg, int protocol_version, gv_server **out, char *why,
                                  size_t why_len)
{
    int rc = GV_EINVAL;
    gv_server *s = NULL;
    char path[4096];
    if (why && why_len)
        why[0] = '\0';
    if (out)
        *out = NULL;
    /* Every size published so far: this one. */
    if (!cfg || !out || cfg->size != sizeof *cfg || cfg->max_players < 1 || cfg->max_players > GV_MAX_PLAYERS ||
        cfg->password_len > GV_PASSWORD_MAX || (cfg->password_len && !cfg->password) || !cfg->clock.now_us ||
        protocol_version < 0 || protocol_version > 255 || cfg->relay_hold_us < 0 ||
        cfg->relay_hold_us > MAX_HOLD_US || cfg->relay_hold_rate < 0 ||
        (cfg->peer_timeout_ms &&
         (cfg->peer_timeout_ms < GV_TRANSPORT_TIMEOUT_MIN_MS || cfg->peer_timeout_ms > GV_TRANSPORT_TIMEOUT_MAX_MS)) ||
        cfg->resume_grace_ms > MAX_RESUME_GRACE_MS || cfg->max_talkers < 0 || cfg->max_talkers > GV_TALKERS_MAX ||
        cfg->max_lobbies < 1 || cfg->max_lobbies > GV_MAX_LOBBIES_LIMIT || cfg->lobby_linger_ms > MAX_LOBBY_LINGER_MS ||
        (cfg->directory && (cfg->worker < 0 || cfg->worker >= gv_directory_workers(cfg->directory) ||
                            cfg->max_lobbies != gv_directory_max_lobbies(cfg->directory))) ||
        (cfg->cipher != GV_CIPHER_AUTO && cfg->cipher != GV_CIPHER_CHACHA20POLY1305) ||
        (!cfg->fleet_cert && cfg->fleet_cert_len))
        goto out;
    rc = GV_ENOMEM;
    s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    rc = gv_rooms_create(cfg->max_lobbies, &s->rooms);
    if (rc < 0)
        goto out;
    s->room_defaults.max_players = cfg->max_players;
    s->room_defaults.max_talkers = cfg->max_talkers;
    s->lobby_linger_us = (uint64_t)cfg->lobby_linger_ms * 1000u;
    long in_all = (long)cfg->max_lobbies * cfg->max_players;
    s->max_players_in_all = in_all < MAX_PLAYERS_IN_ALL ? (int)in_all : MAX_PLAYERS_IN_ALL;
    s->clock = cfg->clock;
    s->resume_grace_us = (uint64_t)cfg->resume_grace_ms * 1000u;
    s->local_host = cfg->local_host;
    s->allow_raw = cfg->allow_raw;
    gv_coalesce_init(&s->relay, (uint64_t)cfg->relay_hold_us, (uint64_t)cfg->relay_hold_rate);
    s->aes = cfg->cipher == GV_CIPHER_AUTO && gv_seal_aes256gcm_available();
    if (spatial_from_config(&cfg->spatial, &s->room_defaults.spatial) != 0) {
        rc = GV_EINVAL;
        if (why)
            snprintf(why, why_len, "the positional settings are out of range");
        goto out;
    }
    s->protocol_version = protocol_version ? protocol_version : GV_PROTOCOL_VERSION;
    if (cfg->password_len) {
        s->has_password = 1;
        crypto_generichash(s->password_hash, sizeof s->password_hash, cfg->password, cfg->password_len, NULL, 0);
    }
    randombytes_buf(s->host_token, sizeof s->host_token);
    if (cfg->token_keys && cfg->token_keys[0]) {
        rc = GV_ENOMEM;
        if (!(s->tokens = calloc(1, sizeof *s->tokens)))
            goto out;
        char reason[200];
        rc = gv_token_keys_parse(cfg->token_keys, s->tokens, reason, sizeof reason);
        if (rc < 0) {
            if (why)
                snprintf(why, why_len, "the token keys: %s", reason);
            rc = GV_EKEY;
            goto out;
        }
    }
    rc = gv_admission_create(now_us(s), &s->admission);
    if (rc < 0)
        goto out;

    if (cfg->key_file) {
        snprintf(path, sizeof path, "%s", cfg->key_file);
    } else if ((rc = gv_keyfile_default_path(path, sizeof path)) < 0) {
        if (why)
            snprintf(why, why_len, "no place for the server key: set HOME or use --key FILE");
        goto out;
    }
    int created = 0;
    rc = gv_keyfile_load_or_create(path, s->sk, s->pk, &created, why, why_len);
    if (rc < 0)
        goto out;
    if (cfg->fleet_cert) {
        /* Its time is the clients' to judge: an expired certificate is
         * the operator's to renew, not a reason to stay down. */
        char reason[200];
        gv_fleetcert c;
        gv_fleetcert_verdict v = gv_fleetcert_verify(cfg->fleet_cert, cfg->fleet_cert_len, s->pk, 0, &c, reason,
                                                     sizeof reason);
        if (v != GV_FLEETCERT_VALID && v != GV_FLEETCERT_NOT_YET_VALID && v != GV_FLEETCERT_EXPIRED) {
            if (why)
                snprintf(why, why_len, "the fleet certificate: %s (the server key is %s)", reason, path);
            rc = GV_EKEY;
            goto out;
        }
        memcpy(s->cert, cfg->fleet_cert, sizeof s->cert);
        s->has_cert = 1;
    }

    size_t peers = (size_t)s->max_players_in_all + GV_ADMISSION_HALF_OPEN + 8;
    _Static_assert(MAX_PEERS <= 4095, "ENet numbers at most 4095 peers");
    rc = GV_ENOMEM;
    s->by_peer = calloc(peers, sizeof *s->by_peer);
    if (!s->by_peer)
        goto out;
    errno = 0;
    rc = gv_transport_listen(cfg->bind_address, cfg->port, peers, &s->transport);
    if (rc < 0) {
        /* ENet keeps the failed call's errno: the cause a user can act on
         * (the port in use, a privileged port, an address not ours). */
        int err = errno;
        if (why)
            snprintf(why, why_len, "cannot listen on UDP port %u%s%s%s%s", (unsigned)cfg->port,
                     cfg->bind_address ? " of " : "", cfg->bind_address ? cfg->bind_address : "", err ? ": " : "",
                     err ? strerror(err) : "");
        goto out;
    }
    if (cfg->directory) {
        rc = gv_directory_attach(cfg->directory, cfg->worker, gv_transport_port(s->transport));
        if (rc < 0) {
            if (why)
                snprintf(why, why_len, "worker %d of the lobby directory is another server's", cfg->worker);
            rc = GV_EINVAL;
            goto out;
        }
        s->directory = cfg->directory;
        s->worker = cfg->worker;
    }
    gv_transport_set_admit(s->transport, admit, s);
    gv_transport_set_datagram(s->transport, on_datagram, s);
    gv_transport_set_peer_timeout(s->transport,
                                  cfg->peer_timeout_ms ? cfg->peer_timeout_ms : GV_TRANSPORT_TIMEOUT_DEFAULT_MS);

    gv_event *ev = gv_events_push(&s->events, GV_EVENT_LISTENING);
    ev->port = gv_transport_port(s->transport);
    gv_keyfile_fingerprint(s->pk, ev->fingerprint);
    ev->first_use = created;
    *out = s;
    s = NULL;
    rc = 0;
out:
    gv_server_destroy(s);
    return rc;
}

void gv_server_destroy(gv_server *s)
{
    if (!s)
        return;
    if (s->transport) {
        int peers = (int)gv_transport_peers(s->transport);
        for (int i = 0; i < peers; i++)
            if (gv_transport_peer_connected(s->transport, i))
                gv_transport_disconnect(s->transport, i, s->local_host ? GV_REFUSE_CLOSED : GV_REFUSE_SHUTDOWN,
                                        GV_TRANSPORT_GRACEFUL);
        /* Give the disconnects a moment to leave, so clients hear of it at
         * once instead of timing out. */
        gv_transport_event ev;
        for (int i = 0; i < 10 && gv_transport_service(s->transport, &ev, 20) >= 0;)
            if (ev.type == GV_TRANSPORT_NONE)
                i++;
        for (int k = 0; k < gv_rooms_count(s->rooms); k++) {
            const gv_room *r = gv_rooms_at(s->rooms, k);
            for (int i = 0; i < player_count(r); i++)
                if (player_at(r, i)->state == SLOT_AWAY) /* in no peer's place */
                    free_slot(player_at(r, i));
        }
        for (int i = 0; i < peers; i++)
            free_slot(s->by_peer[i]);
        gv_transport_destroy(s->transport);
    }
    if (s->directory)
        gv_directory_detach(s->directory, s->worker);
    free(s->by_peer);
    gv_admission_destroy(s->admission);
    sodium_memzero(s->sk, sizeof s->sk);
    gv_rooms_destroy(s->rooms);
    free(s->tokens);
    free(s);
}

int gv_server_fd(const gv_server *s)
{
    return s ? gv_transport_fd(s->transport) : GV_EINVAL;
}

int gv_server_port(const gv_server *s)
{
    return s ? gv_transport_port(s->transport) : GV_EINVAL;
}

int gv_server_fingerprint(const gv_server *s, char *out, size_t len)
{
    if (!s || !out)
        return GV_EINVAL;
    if (len < GV_KEYFILE_FINGERPRINT_LEN) {
        if (len)
            out[0] = '\0';
        return GV_ETOOBIG;
    }
    char fp[GV_KEYFILE_FINGERPRINT_LEN];
    gv_keyfile_fingerprint(s->pk, fp);
    memcpy(out, fp, sizeof fp);
    return 0;
}

const uint8_t *gv_server_host_token(const gv_server *s)
{
    return s ? s->host_token : NULL;
}

int gv_server_get_stats(const gv_server *s, gv_server_stats *out)
{
    /* Every size published so far: this one. */
    if (!s || !out || out->size < sizeof *out)
        return GV_EINVAL;
    *out = s->stats;
    out->size = sizeof *out;
    const gv_transport_stats *t = gv_transport_get_stats(s->transport);
    out->datagrams_in = t->datagrams_in;
    out->datagrams_out = t->datagrams_out;
    out->bytes_in = t->bytes_in;
    out->bytes_out = t->bytes_out;
    out->max_datagram_bytes = t->max_datagram_out;
    out->events_dropped = s->events.overwritten;
    out->away = 0;
    for (int k = 0; k < gv_rooms_count(s->rooms); k++)
        out->away += gv_lobby_away_count(gv_rooms_at(s->rooms, k)->lobby);
    out->lobbies = gv_rooms_count(s->rooms);
    return 0;
}

int gv_server_get_lobby_stats(const gv_server *s, gv_lobby_stats *out, int max)
{
    if (!s || max < 0 || (max > 0 && (!out || out[0].size < sizeof(gv_lobby_stats))))
        return GV_EINVAL;
    /* Every size published so far: this one. */
    uint32_t stride = max > 0 ? out[0].size : 0;
    int n = 0;
    for (; n < max && n < gv_rooms_count(s->rooms); n++) {
        gv_lobby_stats *e = (gv_lobby_stats *)((char *)out + (size_t)n * stride);
        e->size = stride;
        gv_rooms_stats(gv_rooms_at(s->rooms, n), now_us(s), e);
    }
    return n;
}

static void on_event(void *ctx, const gv_transport_event *e)
{
    gv_server *s = ctx;
    if (e->type == GV_TRANSPORT_CONNECT)
        on_connect(s, e->peer, e->data);
    else if (e->type == GV_TRANSPORT_DISCONNECT)
        on_disconnect(s, e->peer, e->data);
    else if (e->type == GV_TRANSPORT_RECEIVE)
        on_receive(s, e->peer, e->channel, e->packet, e->len);
}

/* One pass of the network (waiting up to timeout_ms): what it received is
 * handled before the one flush that follows, so ENet puts all of a pass's commands to a peer in
 * one datagram. */
static int drain(gv_server *s, uint32_t timeout_ms)
{
    return gv_transport_drain(s->transport, timeout_ms, 0, on_event, s);
}

int gv_server_service(gv_server *s, gv_event *ev, uint32_t timeout_ms)
{
    if (!s || !ev || ev->size < GV_EVENT_SIZE_MIN)
        return GV_EINVAL;
    if (gv_events_pop(&s->events, ev))
        return 1;
    uint64_t end = now_us(s) + (uint64_t)timeout_ms * 1000u;
    int rc = drain(s, timeout_ms);
    /* Held voice waits within this call only, for at most hold_us and
     * never past the caller's timeout: a caller that polls with 0 is
     * never made to wait, and nothing is held between two calls. The
     * wait is finer than ENet's milliseconds. */
    for (int waits = 0; rc == 0 && waits < GV_COALESCE_HELD; waits++) {
        uint64_t wait = gv_coalesce_wait_us(&s->relay, now_us(s), end);
        if (!wait || !gv_transport_wait(s->transport, wait))
            break;
        rc = drain(s, 0);
    }
    /* Relayed after everything that arrived in this call: ENet puts all of
     * a pass's commands to a peer into one datagram. */
    release_held(s);
    if (rc < 0)
        return rc;
    if (now_us(s) - s->last_expiry_us >= EXPIRY_INTERVAL_US) {
        s->last_expiry_us = now_us(s);
        expire_handshakes(s);
        move_rooms(s);
        expire_rooms(s);
    }
    flush_poses(s);
    send_rtts(s);
    gv_coalesce_tick(&s->relay, s->stats.relayed_packets, now_us(s));
    gv_transport_flush(s->transport);
    return gv_events_pop(&s->events, ev);
}
