#include "session/gv_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "session/gv_datagram.h"
#include "session/gv_events.h"
#include "session/gv_join.h"
#include "session/gv_keyfile.h"
#include "session/gv_known.h"
#include "session/gv_noise.h"
#include "session/gv_seal.h"
#include "session/gv_session.h"

typedef struct roster_entry {
    uint16_t id;
    uint8_t slot;
    uint16_t rtt_ms; /* their round trip to the server, as it last said */
    char name[GV_NAME_MAX + 1];
} roster_entry;

/* Whose voice records carry a slot, and where their counters stand. */
typedef struct voice_slot {
    int on;
    uint16_t id;
    gv_datagram_stream stream;
} voice_slot;

struct gv_link {
    gv_transport *transport;
    int has_peer; /* the transport's peer is connecting or connected: tell it we leave */
    gv_join join;
    gv_link_callbacks cb;
    gv_clock clock;
    int protocol_version;
    int offer_aes;               /* AES-256-GCM offered in the handshake */
    int cipher;                  /* gv_seal_cipher the server chose */
    char *server_host;
    uint16_t server_port;
    char name[UINT8_MAX + 1];
    uint8_t password[GV_PASSWORD_MAX];
    size_t password_len;
    char *known_file; /* NULL: trust on first use disabled */
    char pinned[GV_FINGERPRINT_BYTES];
    uint8_t host_token[GV_HOST_TOKEN_LEN];
    int has_token;
    gv_noise *noise;
    gv_seal *seal;
    uint16_t id;
    uint16_t index;      /* what our voice datagrams carry: the server's name for us */
    uint64_t voice_next; /* our next voice counter */
    uint64_t here_next;  /* our next "I am here" counter */
    uint64_t heard_datagrams, heard_us, here_us; /* when the server was last heard, and told we are here */
    int interrupted; /* CONNECTION_INTERRUPTED told, RESTORED not yet */
    roster_entry roster[GV_MAX_PLAYERS];
    int roster_count;
    voice_slot slots[GV_MAX_PLAYERS];
    gv_event_queue *events; /* the client's stream, shared with its voice path */
    gv_link_counters counters;
    gv_session_buffers buf;
};

static uint64_t now_us(const gv_link *l)
{
    return l->clock.now_us(l->clock.ctx);
}

/* Carries out what the join decided at its end: the one event that ends
 * the link (its reason lives in the join until the link is destroyed). */
static void act(gv_link *l, enum gv_join_action a)
{
    const gv_join_end *end = &l->join.end;
    gv_event *ev;
    if (a == GV_JOIN_LOST) {
        ev = gv_events_push(l->events, GV_EVENT_SERVER_DISCONNECTED);
    } else if (a == GV_JOIN_FAILED) {
        ev = gv_events_push(l->events, GV_EVENT_CONNECTION_FAILED);
        ev->error = end->error;
        snprintf(ev->fingerprint, sizeof ev->fingerprint, "%s", end->fingerprint);
        snprintf(ev->known_fingerprint, sizeof ev->known_fingerprint, "%s", end->known_fingerprint);
    } else {
        return;
    }
    ev->refused = (gv_refusal)end->refused;
    ev->reason = end->reason;
    if (l->has_peer)
        gv_transport_disconnect(l->transport, 0, 0, GV_TRANSPORT_GRACEFUL);
}

static void fail(gv_link *l, int error, const char *fmt, const char *detail)
{
    act(l, gv_join_fail(&l->join, error, fmt, detail));
}

static int send_sealed(gv_link *l, uint8_t channel, const uint8_t *plain, size_t len, int fragment)
{
    return gv_session_send(l->transport, 0, l->seal, &l->buf, channel, plain, len, fragment);
}

static void slot_start(gv_link *l, uint8_t slot, uint16_t id, uint32_t epoch, uint64_t next)
{
    voice_slot *v = &l->slots[slot];
    v->on = 1;
    v->id = id;
    gv_datagram_stream_start(&v->stream, epoch, next);
}

static void roster_add(gv_link *l, const gv_msg_player *p)
{
    if (l->roster_count == GV_MAX_PLAYERS)
        return;
    uint16_t id = p->id;
    const char *name = p->name;
    roster_entry *e = &l->roster[l->roster_count++];
    e->id = id;
    e->slot = p->slot;
    snprintf(e->name, sizeof e->name, "%s", name);
    slot_start(l, p->slot, id, p->epoch, p->next);
    gv_event *ev = gv_events_push(l->events, GV_EVENT_PLAYER_CONNECTED);
    ev->id = id;
    snprintf(ev->name, sizeof ev->name, "%s", name);
    if (l->cb.joined)
        l->cb.joined(l->cb.ctx, id);
}

static void roster_remove(gv_link *l, uint16_t id)
{
    for (int i = 0; i < l->roster_count; i++) {
        if (l->roster[i].id != id)
            continue;
        gv_event *ev = gv_events_push(l->events, GV_EVENT_PLAYER_DISCONNECTED);
        ev->id = id;
        snprintf(ev->name, sizeof ev->name, "%s", l->roster[i].name);
        if (l->cb.left)
            l->cb.left(l->cb.ctx, id); /* while the name is still known */
        l->slots[l->roster[i].slot].on = 0;
        l->roster[i] = l->roster[--l->roster_count];
        return;
    }
}

uint32_t gv_link_player_rtt_ms(const gv_link *l, uint16_t id)
{
    for (int i = 0; l && i < l->roster_count; i++)
        if (l->roster[i].id == id)
            return l->roster[i].rtt_ms;
    return 0;
}

uint32_t gv_link_rtt_ms(const gv_link *l)
{
    return l && l->join.stage == GV_JOIN_JOINED ? gv_transport_peer_rtt_ms(l->transport, 0) : 0;
}

const char *gv_link_player_name(const gv_link *l, uint16_t id)
{
    for (int i = 0; l && i < l->roster_count; i++)
        if (l->roster[i].id == id)
            return l->roster[i].name;
    return NULL;
}

static void send_hello(gv_link *l)
{
    gv_msg m = {.type = GV_MSG_HELLO};
    m.u.hello.name.bytes = l->name;
    m.u.hello.name.len = (uint8_t)strlen(l->name);
    m.u.hello.password = l->password;
    m.u.hello.password_len = (uint8_t)l->password_len;
    m.u.hello.token = l->host_token;
    m.u.hello.token_len = l->has_token ? GV_HOST_TOKEN_LEN : 0;
    if (gv_session_send_msg(l->transport, 0, l->seal, &l->buf, GV_CH_CONTROL, &m) < 0)
        fail(l, GV_ENET, "could not send the greeting%s", NULL);
}

/* Checks the server's static key against the pin or the known-servers
 * file; 0 when the key may be trusted. */
static int check_server_key(gv_link *l, const uint8_t pk[32])
{
    char fp[GV_FINGERPRINT_BYTES];
    gv_keyfile_fingerprint(pk, fp);
    gv_join_key_in in = {fp, l->pinned, l->known_file, gv_known_check, gv_known_add};
    int first_use;
    int rc = gv_join_check_key(&l->join, &in, &first_use);
    if (rc != 0) {
        act(l, GV_JOIN_FAILED);
        return rc;
    }
    gv_event *ev = gv_events_push(l->events, GV_EVENT_SERVER_KEY);
    ev->first_use = first_use;
    snprintf(ev->fingerprint, sizeof ev->fingerprint, "%s", fp);
    return 0;
}

static void on_handshake_reply(gv_link *l, const uint8_t *data, size_t len)
{
    uint8_t payload[64], pk[32];
    int got;
    if (len < 1 || data[0] != GV_HANDSHAKE_RESP ||
        (got = gv_noise_read_message(l->noise, data + 1, len - 1, payload, sizeof payload)) < 0 ||
        gv_noise_remote_static(l->noise, pk) != 0) {
        l->counters.auth_failed++;
        fail(l, GV_EAUTH, "the server's handshake did not verify%s", NULL);
        return;
    }
    if (check_server_key(l, pk) != 0)
        return;
    l->cipher = got == 0 ? GV_SEAL_CHACHA20POLY1305 : payload[0];
    if (got > 1 || (l->cipher != GV_SEAL_CHACHA20POLY1305 && !(l->cipher == GV_SEAL_AES256GCM && l->offer_aes))) {
        fail(l, GV_EAUTH, "the server chose a cipher this client did not offer%s", NULL);
        return;
    }
    if (gv_session_keys(&l->noise, l->cipher, &l->seal) != 0) {
        fail(l, GV_ENOMEM, "could not set up the session keys%s", NULL);
        return;
    }
    if (gv_join_answered(&l->join, now_us(l)) == GV_JOIN_SEND_HELLO)
        send_hello(l);
}

static void on_control(gv_link *l, const gv_msg *m)
{
    switch (m->type) {
    case GV_MSG_WELCOME: {
        if (!gv_join_welcome(&l->join))
            break;
        l->id = m->u.welcome.id;
        l->index = m->u.welcome.index;
        memcpy(l->name, m->u.welcome.name.bytes, m->u.welcome.name.len);
        l->name[m->u.welcome.name.len] = '\0';
        /* Our own voice comes back in our slot for the echo test. */
        slot_start(l, m->u.welcome.slot, l->id, m->u.welcome.epoch, 0);
        gv_event *ev = gv_events_push(l->events, GV_EVENT_CONNECTED);
        ev->id = l->id;
        memcpy(ev->name, l->name, m->u.welcome.name.len + 1u);
        gv_reader r;
        gv_reader_init(&r, m->u.welcome.players, m->u.welcome.players_len);
        gv_msg_player p;
        for (uint16_t i = 0; i < m->u.welcome.count && gv_msg_next_player(&r, &p) == 0; i++)
            roster_add(l, &p);
        break;
    }
    case GV_MSG_PLAYER_JOINED: {
        gv_msg_player p = {.id = m->u.player.id, .slot = m->u.player.slot, .epoch = m->u.player.epoch};
        memcpy(p.name, m->u.player.name.bytes, m->u.player.name.len);
        p.name[m->u.player.name.len] = '\0';
        if (l->join.stage == GV_JOIN_JOINED && m->u.player.id != l->id)
            roster_add(l, &p);
        break;
    }
    case GV_MSG_PLAYER_LEFT:
        roster_remove(l, m->u.player.id);
        break;
    case GV_MSG_REFUSE:
        gv_join_refuse(&l->join, m->u.refuse.code, m->u.refuse.text, m->u.refuse.len);
        break;
    case GV_MSG_LOSS_REPORT:
        if (l->cb.loss)
            l->cb.loss(l->cb.ctx, m->u.loss.id, m->u.loss.loss_permille);
        break;
    case GV_MSG_PLAYER_RTT: {
        gv_reader r;
        gv_reader_init(&r, m->u.rtt.entries, (size_t)m->u.rtt.count * 4);
        uint16_t id, rtt;
        while (gv_msg_next_rtt(&r, &id, &rtt) == 0)
            for (int i = 0; i < l->roster_count; i++)
                if (l->roster[i].id == id)
                    l->roster[i].rtt_ms = rtt;
        break;
    }
    case GV_MSG_SPATIAL_CONFIG:
        if (l->join.stage != GV_JOIN_JOINED || (l->cb.spatial && l->cb.spatial(l->cb.ctx, m) < 0))
            l->counters.malformed++;
        break;
    default:
        l->counters.malformed++;
    }
}

static void on_receive(gv_link *l, uint8_t channel, const uint8_t *data, size_t len)
{
    if (l->join.stage == GV_JOIN_HANDSHAKE) {
        if (channel == GV_CH_CONTROL)
            on_handshake_reply(l, data, len);
        return;
    }
    if (l->join.stage != GV_JOIN_HELLO && l->join.stage != GV_JOIN_JOINED)
        return;
    gv_msg m;
    int rc = gv_session_open(l->seal, &l->buf, channel, data, len, &m);
    if (rc == GV_EREPLAY) {
        l->counters.replayed++;
        return;
    }
    if (rc == GV_EAUTH) {
        l->counters.auth_failed++;
        return;
    }
    if (rc != 0) {
        l->counters.malformed++;
        return;
    }
    if (channel == GV_CH_VOICE && m.type == GV_MSG_VOICE_RELAY) {
        /* Only the raw baseline's voice travels in ENet. Like any voice, it
         * is heard only after the news of its sender's arrival. */
        if (l->join.stage == GV_JOIN_JOINED && l->cb.voice &&
            (m.u.voice.sender == l->id || gv_link_player_name(l, m.u.voice.sender)))
            l->cb.voice(l->cb.ctx, &m);
    } else if (channel == GV_CH_VOICE && m.type == GV_MSG_POSITION_RELAY) {
        if (l->join.stage == GV_JOIN_JOINED && l->cb.position && gv_link_player_name(l, m.u.position.sender))
            l->cb.position(l->cb.ctx, &m);
    } else if (channel == GV_CH_CONTROL) {
        on_control(l, &m);
    } else {
        l->counters.malformed++;
    }
}

/* Relayed voice: only from the server's address, records of the players
 * the roster has announced. Voice may overtake the (reliable) news of its
 * sender's arrival; it is heard only after it, so that the event stream
 * tells of a player before their first SPEAKING. */
static void handle_datagram(gv_link *l, const gv_addr *from, const uint8_t *d, size_t len)
{
    gv_addr server = gv_transport_peer_addr(l->transport, 0);
    if (from->host != server.host || from->port != server.port || l->join.stage != GV_JOIN_JOINED ||
        gv_datagram_kind_of(d, len) != GV_DATAGRAM_DOWN) {
        l->counters.auth_failed++;
        return;
    }
    gv_datagram_record rec;
    int rc;
    while ((rc = gv_datagram_next_record(&d, &len, &rec)) == 1) {
        voice_slot *v = &l->slots[rec.slot];
        gv_msg m;
        rc = v->on ? gv_datagram_open_down(l->seal, &v->stream, &rec, l->buf.plain, sizeof l->buf.plain, &m)
                   : GV_EAUTH;
        if (rc == GV_EREPLAY) {
            l->counters.replayed++;
        } else if (rc == GV_EAUTH) {
            l->counters.auth_failed++;
        } else if (rc < 0) {
            l->counters.malformed++;
        } else if (l->cb.voice) {
            m.u.voice.sender = v->id;
            l->cb.voice(l->cb.ctx, &m);
        }
    }
    if (rc < 0)
        l->counters.auth_failed++;
}

/* Voice goes to the jitter buffer at once; the service call may wait on. */
static int on_datagram(void *ctx, const gv_addr *from, const uint8_t *d, size_t len)
{
    handle_datagram(ctx, from, d, len);
    return 0;
}

static void on_connect(gv_link *l)
{
    if (gv_join_connected(&l->join) != GV_JOIN_SEND_INIT)
        return;
    uint8_t msg[GV_SESSION_INIT_LEN];
    int n = gv_session_initiate(l->protocol_version, l->offer_aes, &l->noise, msg);
    if (n < 0 || gv_transport_send(l->transport, 0, GV_CH_CONTROL, msg, (size_t)n, 0) != 0) {
        fail(l, GV_ENOMEM, "could not start the handshake%s", NULL);
        return;
    }
    gv_join_init_sent(&l->join, now_us(l));
}

static void reconnect(gv_link *l)
{
    gv_noise_destroy(l->noise);
    l->noise = NULL;
    l->counters.join_retries = l->join.retries;
    if (gv_transport_reconnect(l->transport) < 0) {
        l->has_peer = 0;
        fail(l, GV_ENET, "could not connect again%s", NULL);
    }
}

static void on_disconnect(gv_link *l, uint32_t data)
{
    l->has_peer = 0;
    act(l, gv_join_disconnected(&l->join, data));
}

static void on_event(void *ctx, const gv_transport_event *e)
{
    gv_link *l = ctx;
    if (e->type == GV_TRANSPORT_CONNECT)
        on_connect(l);
    else if (e->type == GV_TRANSPORT_DISCONNECT)
        on_disconnect(l, e->data);
    else if (e->type == GV_TRANSPORT_RECEIVE)
        on_receive(l, e->channel, e->packet, e->len);
}

/* The server's ENet and ours exchange something at least every half
 * second. After a second of nothing the connection is interrupted: the
 * user is told, the session kept (until the transport's peer timeout).
 * The server may also be sending to an address our NAT has given up: tell
 * it where we are (once a second), which it believes only from the tag,
 * so that a player who is not speaking survives a rebinding too. */
#define HERE_AFTER_US 1000000u

static void keep_here(gv_link *l)
{
    uint64_t now = now_us(l), in = gv_transport_get_stats(l->transport)->datagrams_in;
    if (in != l->heard_datagrams || l->join.stage != GV_JOIN_JOINED) {
        l->heard_datagrams = in;
        l->heard_us = now;
        if (l->interrupted && l->join.stage == GV_JOIN_JOINED)
            gv_events_push(l->events, GV_EVENT_CONNECTION_RESTORED);
        l->interrupted = 0;
        return;
    }
    if (now - l->heard_us >= HERE_AFTER_US && !l->interrupted) {
        l->interrupted = 1;
        gv_event *ev = gv_events_push(l->events, GV_EVENT_CONNECTION_INTERRUPTED);
        ev->reason = "nothing from the server for a second; waiting for it";
    }
    if (now - l->heard_us < HERE_AFTER_US || now - l->here_us < HERE_AFTER_US)
        return;
    uint8_t d[GV_DATAGRAM_HERE_LEN];
    if (gv_datagram_seal_here(l->seal, l->index, l->here_next, d, sizeof d) == GV_DATAGRAM_HERE_LEN) {
        l->here_next++;
        l->here_us = now;
        gv_transport_send_datagram(l->transport, 0, d, sizeof d);
    }
}

int gv_link_service(gv_link *l, uint32_t timeout_ms)
{
    if (!l)
        return GV_EINVAL;
    int rc = gv_transport_drain(l->transport, timeout_ms, 1, on_event, l);
    if (rc < 0)
        return rc;
    keep_here(l);
    enum gv_join_action a = gv_join_tick(&l->join, now_us(l));
    if (a == GV_JOIN_RECONNECT)
        reconnect(l);
    else
        act(l, a);
    gv_transport_flush(l->transport);
    return 0;
}

int gv_link_create(const gv_client_config *cfg, int protocol_version, gv_event_queue *events,
                   const gv_link_callbacks *cb, gv_link **out)
{
    int rc = GV_EINVAL;
    gv_link *l = NULL;
    if (!cfg || !events || !out || !cfg->server_host || !cfg->name || !cfg->clock.now_us || !cfg->random.fill ||
        cfg->password_len > GV_PASSWORD_MAX || (cfg->password_len && !cfg->password) || protocol_version < 0 ||
        protocol_version > 255 ||
        (cfg->cipher != GV_CIPHER_AUTO && cfg->cipher != GV_CIPHER_CHACHA20POLY1305))
        goto out;
    /* The server judges names (and says why it refuses one); only what
     * cannot be encoded is refused here. */
    if (strlen(cfg->name) > UINT8_MAX) {
        rc = GV_ENAME;
        goto out;
    }
    if (cfg->server_key && !gv_keyfile_fingerprint_valid(cfg->server_key))
        goto out;
    uint32_t peer_timeout = cfg->peer_timeout_ms ? cfg->peer_timeout_ms : GV_TRANSPORT_TIMEOUT_DEFAULT_MS;
    if (peer_timeout < GV_TRANSPORT_TIMEOUT_MIN_MS || peer_timeout > GV_TRANSPORT_TIMEOUT_MAX_MS)
        goto out;
    *out = NULL;
    rc = GV_ENOMEM;
    l = calloc(1, sizeof *l);
    if (!l)
        goto out;
    if (cb)
        l->cb = *cb;
    l->clock = cfg->clock;
    l->events = events;
    l->protocol_version = protocol_version ? protocol_version : GV_PROTOCOL_VERSION;
    l->offer_aes = cfg->cipher == GV_CIPHER_AUTO && gv_seal_aes256gcm_available();
    l->server_port = cfg->server_port;
    l->server_host = strdup(cfg->server_host);
    if (!l->server_host)
        goto out;
    snprintf(l->name, sizeof l->name, "%s", cfg->name);
    if (cfg->password_len)
        memcpy(l->password, cfg->password, cfg->password_len);
    l->password_len = cfg->password_len;
    if (cfg->server_key)
        snprintf(l->pinned, sizeof l->pinned, "%s", cfg->server_key);
    if (cfg->host_token) {
        memcpy(l->host_token, cfg->host_token, GV_HOST_TOKEN_LEN);
        l->has_token = 1;
    }
    if (!cfg->known_servers_file) {
        char path[4096];
        if (gv_known_default_path(path, sizeof path) == 0 && !(l->known_file = strdup(path)))
            goto out;
    } else if (cfg->known_servers_file[0] && !(l->known_file = strdup(cfg->known_servers_file))) {
        goto out;
    }
    gv_join_start(&l->join, l->server_host, l->server_port, l->protocol_version, cfg->random,
                  (uint64_t)cfg->connect_timeout_ms * 1000u, now_us(l));
    rc = gv_transport_connect(l->server_host, l->server_port, (uint32_t)l->protocol_version, &l->transport);
    if (rc < 0)
        goto out;
    l->has_peer = 1;
    gv_transport_set_datagram(l->transport, on_datagram, l);
    gv_transport_set_peer_timeout(l->transport, peer_timeout);
    *out = l;
    l = NULL;
    rc = 0;
out:
    gv_link_destroy(l);
    return rc;
}

void gv_link_destroy(gv_link *l)
{
    if (!l)
        return;
    if (l->has_peer) {
        gv_transport_disconnect(l->transport, 0, 0, GV_TRANSPORT_GRACEFUL);
        gv_transport_event e;
        for (int i = 0; i < 20 && gv_transport_service(l->transport, &e, 10) >= 0; i++)
            if (e.type == GV_TRANSPORT_DISCONNECT)
                break;
    }
    gv_transport_destroy(l->transport);
    gv_noise_destroy(l->noise);
    gv_seal_destroy(l->seal);
    free(l->server_host);
    free(l->known_file);
    sodium_memzero(l, sizeof *l);
    free(l);
}

int gv_link_cipher(const gv_link *l)
{
    return l ? l->cipher : 0;
}

int gv_link_id(const gv_link *l)
{
    return l && l->join.stage == GV_JOIN_JOINED ? l->id : 0;
}

int gv_link_send_voice(gv_link *l, const gv_msg *voice)
{
    if (!l || !voice || voice->type != GV_MSG_VOICE)
        return GV_EINVAL;
    if (l->join.stage != GV_JOIN_JOINED)
        return GV_ESTATE;
    uint8_t *buf = l->buf.encoded;
    if (voice->u.voice.flags & GV_VOICE_RAW) {
        int n = gv_msg_encode(voice, buf, sizeof l->buf.encoded);
        int rc = n < 0 ? n : send_sealed(l, GV_CH_VOICE, buf, (size_t)n, 1);
        if (rc == 0)
            gv_transport_flush(l->transport);
        return rc;
    }
    int n = gv_datagram_seal_up(l->seal, l->index, l->voice_next, voice, buf, GV_MTU);
    if (n < 0)
        return n;
    /* Sealed: this counter is spent whatever becomes of the datagram. */
    l->voice_next++;
    return gv_transport_send_datagram(l->transport, 0, buf, (size_t)n);
}

int gv_link_send_loss(gv_link *l, uint16_t speaker, uint16_t loss_permille)
{
    if (!l || loss_permille > 1000)
        return GV_EINVAL;
    if (l->join.stage != GV_JOIN_JOINED)
        return GV_ESTATE;
    gv_msg m = {.type = GV_MSG_LOSS_REPORT};
    m.u.loss.id = speaker;
    m.u.loss.loss_permille = loss_permille;
    uint8_t buf[16];
    int n = gv_msg_encode(&m, buf, sizeof buf);
    return n < 0 ? n : send_sealed(l, GV_CH_CONTROL, buf, (size_t)n, 0);
}

int gv_link_send_position(gv_link *l, const gv_msg *position)
{
    if (!l || !position || position->type != GV_MSG_POSITION)
        return GV_EINVAL;
    if (l->join.stage != GV_JOIN_JOINED)
        return GV_ESTATE;
    uint8_t buf[GV_POSITION_LEN];
    int n = gv_msg_encode(position, buf, sizeof buf);
    if (n < 0)
        return n;
    int rc = send_sealed(l, GV_CH_VOICE, buf, (size_t)n, 0);
    if (rc == 0)
        gv_transport_flush(l->transport);
    return rc;
}

int gv_link_fd(const gv_link *l)
{
    return l ? gv_transport_fd(l->transport) : -1;
}

const gv_transport_stats *gv_link_transport_stats(const gv_link *l)
{
    return gv_transport_get_stats(l->transport);
}

void gv_link_get_counters(const gv_link *l, gv_link_counters *out)
{
    *out = l->counters;
}
