#include "session/gv_link.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "packet/gv_msg.h"
#include "session/gv_datagram.h"
#include "session/gv_events.h"
#include "session/gv_fleetcert.h"
#include "session/gv_join.h"
#include "session/gv_keyfile.h"
#include "session/gv_known.h"
#include "session/gv_noise.h"
#include "session/gv_reconnect.h"
#include "session/gv_seal.h"
#include "session/gv_session.h"
#include "session/gv_token.h"

typedef struct roster_entry {
    uint16_t id;
    uint8_t slot;    /* in the current session */
    uint16_t rtt_ms; /* their round trip to the server, as it last said */
    int seen;        /* in the roster a new session's WELCOME gave */
    char name[GV_NAME_MAX + 1];
} roster_entry;

/* Whose voice records carry a slot, and where their counters stand. */
typedef struct voice_slot {
    int on;
    uint16_t id;
    gv_datagram_stream stream;
} voice_slot;

/* One session with the server, from its CONNECT on: the first join, or an
 * attempt to replace a session that went quiet. Both share the socket. */
typedef struct conn {
    int peer; /* the transport's; -1: none */
    gv_join join;
    gv_noise *noise;
    gv_seal *seal;
    int cipher;          /* gv_seal_cipher the server chose */
    uint16_t index;      /* what our voice datagrams carry: the server's name for us */
    uint64_t voice_next; /* our next voice counter */
    uint64_t here_next;  /* our next "I am here" counter */
    int presented;       /* its HELLO carried the resumption secret */
    voice_slot slots[GV_MAX_PLAYERS];
} conn;

struct gv_link {
    gv_transport *transport;
    conn conns[2];
    conn *cur;  /* the session (or the first join) */
    conn *next; /* an attempt to replace it, or NULL */
    gv_link_callbacks cb;
    gv_clock clock;
    gv_random random;
    uint64_t timeout_us;
    int protocol_version;
    int offer_aes; /* AES-256-GCM offered in the handshake */
    char *server_host;
    uint16_t server_port;
    /* Where the last welcome came from: the only node that knows our
     * resumption secret (NULL: no welcome yet). */
    char *session_host;
    uint16_t session_port;
    char move_host[256]; /* where a REDIRECT after the welcome said the lobby went; "" none */
    uint16_t move_port;
    /* The nodes of the server's fleet a lost session is looked for at, in
     * turn (the server as given first); one: no fleet. */
    struct node_addr {
        char host[256];
        uint16_t port;
    } nodes[GV_FLEET_NODES_MAX];
    int node_count;
    char name[UINT8_MAX + 1];
    uint8_t password[GV_PASSWORD_MAX];
    size_t password_len;
    char *known_file; /* NULL: trust on first use disabled */
    char pinned[GV_FINGERPRINT_BYTES];
    char trusted[GV_FINGERPRINT_BYTES]; /* the key the first session showed: every later one must too */
    char fleet_pinned[GV_FINGERPRINT_BYTES]; /* gv_client_config.fleet_key; "" none */
    /* The fleet key whose certificate the first session showed: a later
     * session may show another key with a valid certificate of it. */
    char trusted_fleet[GV_FINGERPRINT_BYTES];
    uint8_t host_token[GV_HOST_TOKEN_LEN];
    int has_token;
    char lobby[GV_LOBBY_NAME_MAX + 1];
    uint8_t access[GV_TOKEN_BYTES_MAX]; /* the access token, decoded */
    int access_len;
    uint8_t resume[GV_RESUME_SECRET_LEN];
    int has_resume;
    uint16_t id;
    gv_reconnect reconnect;
    const char *why_reconnecting; /* for the next RECONNECTING */
    int lost;                     /* the current session is gone: only a new one can follow */
    int ended;                    /* SERVER_DISCONNECTED or CONNECTION_FAILED told: nothing follows */
    uint64_t heard_us, here_us;   /* when the server was last heard, and told we are here */
    int interrupted;              /* CONNECTION_INTERRUPTED told, RESTORED or RECONNECTED not yet */
    roster_entry roster[GV_MAX_PLAYERS];
    int roster_count;
    gv_event_queue *events; /* the client's stream, shared with its voice path */
    gv_link_counters counters;
    gv_session_buffers buf;
};

static uint64_t now_us(const gv_link *l)
{
    return l->clock.now_us(l->clock.ctx);
}

static int joined(const gv_link *l)
{
    return l->cur->join.stage == GV_JOIN_JOINED;
}

/* In the lobby: on a session, or between two (the roster kept) until
 * reconnecting ends. */
static int in_lobby(const gv_link *l)
{
    return !l->ended && (joined(l) || l->lost);
}

/* Forgets a session: its peer quietly (the server has either replaced it,
 * forgotten it, or will time it out), its keys and its slots. */
static void conn_close(gv_link *l, conn *c)
{
    if (c->peer >= 0)
        gv_transport_reset(l->transport, c->peer);
    c->peer = -1;
    gv_noise_destroy(c->noise);
    c->noise = NULL;
    gv_seal_destroy(c->seal);
    c->seal = NULL;
    c->presented = 0;
    memset(c->slots, 0, sizeof c->slots);
}

/* Carries out what the first join decided at its end: the one event that
 * ends the link (its reason lives in the join until the link is
 * destroyed). */
static void act(gv_link *l, enum gv_join_action a)
{
    const gv_join_end *end = &l->cur->join.end;
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
    l->ended = 1;
    ev->refused = (gv_refusal)end->refused;
    ev->reason = end->reason;
    if (l->next) /* its WELCOME would come after the end */
        conn_close(l, l->next);
    l->next = NULL;
    if (l->cur->peer >= 0)
        gv_transport_disconnect(l->transport, l->cur->peer, 0, GV_TRANSPORT_GRACEFUL);
}

/* The end of reconnecting: the server is gone for good, or answered as
 * we may not accept. end (NULL: reason alone) gives the refusal and
 * fingerprints; reason outlives the event (static, or in a join). */
static void give_up(gv_link *l, const gv_join_end *end, const char *reason)
{
    gv_event *ev = gv_events_push(l->events, GV_EVENT_SERVER_DISCONNECTED);
    ev->reason = reason;
    if (end) {
        ev->refused = (gv_refusal)end->refused;
        snprintf(ev->fingerprint, sizeof ev->fingerprint, "%s", end->fingerprint);
        snprintf(ev->known_fingerprint, sizeof ev->known_fingerprint, "%s", end->known_fingerprint);
    }
    if (l->next)
        conn_close(l, l->next);
    l->next = NULL;
    if (l->cur->peer >= 0)
        gv_transport_disconnect(l->transport, l->cur->peer, GV_DISCONNECT_LEAVING, GV_TRANSPORT_NOW);
    conn_close(l, l->cur);
    l->cur->join.stage = GV_JOIN_DONE;
    l->ended = 1;
}

static void attempt_over(gv_link *l);

/* Ends c's join with a reason: the first join's end, or an attempt's. */
static void fail(gv_link *l, conn *c, int error, const char *fmt, const char *detail)
{
    enum gv_join_action a = gv_join_fail(&c->join, error, fmt, detail);
    if (c == l->cur)
        act(l, a);
    else if (a == GV_JOIN_FAILED)
        attempt_over(l);
}

static int send_sealed(gv_link *l, uint8_t channel, const uint8_t *plain, size_t len, int fragment)
{
    return gv_session_send(l->transport, l->cur->peer, l->cur->seal, &l->buf, channel, plain, len, fragment);
}

static void slot_start(conn *c, uint8_t slot, uint16_t id, uint32_t epoch, uint64_t next)
{
    voice_slot *v = &c->slots[slot];
    v->on = 1;
    v->id = id;
    gv_datagram_stream_start(&v->stream, epoch, next);
}

static roster_entry *roster_find(gv_link *l, uint16_t id)
{
    for (int i = 0; i < l->roster_count; i++)
        if (l->roster[i].id == id)
            return &l->roster[i];
    return NULL;
}

static void roster_add(gv_link *l, conn *c, const gv_msg_player *p)
{
    if (l->roster_count == GV_MAX_PLAYERS)
        return;
    roster_entry *e = &l->roster[l->roster_count++];
    memset(e, 0, sizeof *e);
    e->id = p->id;
    e->slot = p->slot;
    e->seen = 1;
    snprintf(e->name, sizeof e->name, "%s", p->name);
    slot_start(c, p->slot, p->id, p->epoch, p->next);
    gv_event *ev = gv_events_push(l->events, GV_EVENT_PLAYER_CONNECTED);
    ev->id = p->id;
    snprintf(ev->name, sizeof ev->name, "%s", p->name);
    if (l->cb.joined)
        l->cb.joined(l->cb.ctx, p->id);
}

static void roster_remove_at(gv_link *l, int i)
{
    roster_entry *e = &l->roster[i];
    gv_event *ev = gv_events_push(l->events, GV_EVENT_PLAYER_DISCONNECTED);
    ev->id = e->id;
    snprintf(ev->name, sizeof ev->name, "%s", e->name);
    if (l->cb.left)
        l->cb.left(l->cb.ctx, e->id); /* while the name is still known */
    if (l->cur->slots[e->slot].id == e->id)
        l->cur->slots[e->slot].on = 0;
    *e = l->roster[--l->roster_count];
}

static void roster_remove(gv_link *l, uint16_t id)
{
    for (int i = 0; i < l->roster_count; i++)
        if (l->roster[i].id == id) {
            roster_remove_at(l, i);
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
    return l && joined(l) && !l->lost ? gv_transport_peer_rtt_ms(l->transport, l->cur->peer) : 0;
}

const char *gv_link_player_name(const gv_link *l, uint16_t id)
{
    for (int i = 0; l && i < l->roster_count; i++)
        if (l->roster[i].id == id)
            return l->roster[i].name;
    return NULL;
}

/* Greets the server on c: with the resumption secret when there is one,
 * so that a server that kept our place gives it back. */
static void send_hello(gv_link *l, conn *c)
{
    gv_msg m = {.type = GV_MSG_HELLO};
    m.u.hello.name.bytes = l->name;
    m.u.hello.name.len = (uint8_t)strlen(l->name);
    m.u.hello.password = l->password;
    m.u.hello.password_len = (uint8_t)l->password_len;
    m.u.hello.host_token = l->host_token;
    m.u.hello.host_token_len = l->has_token ? GV_HOST_TOKEN_LEN : 0;
    m.u.hello.lobby.bytes = l->lobby;
    m.u.hello.lobby.len = (uint8_t)strlen(l->lobby);
    m.u.hello.access = l->access;
    m.u.hello.access_len = (uint8_t)l->access_len;
    m.u.hello.resume = l->resume;
    /* Another node of a fleet never knew the secret: presenting it there
     * would only cost a refusal and a second handshake. */
    int at_session = !l->session_host || (l->server_port == l->session_port && !strcmp(l->server_host, l->session_host));
    m.u.hello.resume_len = l->has_resume && at_session ? GV_RESUME_SECRET_LEN : 0;
    if (gv_session_send_msg(l->transport, c->peer, c->seal, &l->buf, GV_CH_CONTROL, &m) < 0) {
        fail(l, c, GV_ENET, "could not send the greeting%s", NULL);
        return;
    }
    c->presented = m.u.hello.resume_len != 0;
    if (c->presented && c != l->cur)
        gv_reconnect_presented(&l->reconnect);
}

/* The key check on c ended it (its reason, fingerprints and error are in
 * its join's end): the first join fails (exit 3 in gvoip), an attempt to
 * replace the session ends reconnecting. */
static void key_refused(gv_link *l, conn *c)
{
    if (c == l->cur)
        act(l, GV_JOIN_FAILED);
    else
        attempt_over(l);
}

/* Refuses c's server for the reason already in its join's end. */
static int refuse_key(gv_link *l, conn *c, const char *fingerprint, const char *known)
{
    gv_join_end *end = &c->join.end;
    snprintf(end->fingerprint, sizeof end->fingerprint, "%s", fingerprint);
    snprintf(end->known_fingerprint, sizeof end->known_fingerprint, "%s", known);
    end->error = GV_EKEY;
    c->join.stage = GV_JOIN_DONE;
    key_refused(l, c);
    return GV_EKEY;
}

/* Checks the server's static key, and the fleet certificate it showed
 * (cert_len 0: none, which keeps the rules from before fleets). A
 * certificate must be valid now and for this key. The first session's
 * key is checked against the pins or the known-servers file
 * (gv_join_check_key); a later one (a reconnection, or a redirect to
 * another port or node, which the file need not know) must show the key
 * the first one showed, or a valid certificate of the fleet key the first
 * one (or the fleet pin) stood for. 0 when the key may be trusted. */
static int check_server_key(gv_link *l, conn *c, const uint8_t pk[32], const uint8_t *cert, size_t cert_len)
{
    char fp[GV_FINGERPRINT_BYTES], fleet[GV_FINGERPRINT_BYTES] = "";
    gv_join_end *end = &c->join.end;
    gv_keyfile_fingerprint(pk, fp);
    if (l->trusted[0] && gv_keyfile_fingerprint_equal(fp, l->trusted))
        return 0;
    if (cert_len) {
        char why[200], signer[GV_FINGERPRINT_BYTES + 32] = "";
        gv_fleetcert fc;
        time_t now = time(NULL);
        gv_fleetcert_verdict v =
            gv_fleetcert_verify(cert, cert_len, pk, now > 0 ? (uint64_t)now : 0, &fc, why, sizeof why);
        if (v != GV_FLEETCERT_MALFORMED && v != GV_FLEETCERT_BAD_SIGNATURE) {
            gv_keyfile_fingerprint(fc.fleet_pk, fleet);
            snprintf(signer, sizeof signer, "; it is signed by the fleet key %s", fleet);
        }
        /* No key was expected here: the certificate itself is wrong. */
        if (v != GV_FLEETCERT_VALID) {
            snprintf(end->reason, sizeof end->reason,
                     "the server at %s showed a fleet certificate that is not valid: %s%s", c->join.hostport, why,
                     signer);
            return refuse_key(l, c, fp, "");
        }
    }
    if (l->trusted[0]) {
        const char *want = l->trusted_fleet[0] ? l->trusted_fleet : l->fleet_pinned;
        const char *when = c == l->cur ? "after a redirect" : "while reconnecting";
        if (want[0] && fleet[0] && gv_keyfile_fingerprint_equal(fleet, want))
            return 0;
        if (want[0] && fleet[0]) {
            snprintf(end->reason, sizeof end->reason,
                     "FLEET KEY CHANGED for %s %s: the fleet's key was %s, this server's certificate is signed by %s; "
                     "not joining it (someone may be impersonating the fleet)",
                     c->join.hostport, when, want, fleet);
            return refuse_key(l, c, fleet, want);
        }
        snprintf(end->reason, sizeof end->reason,
                 "SERVER KEY CHANGED for %s %s: it was %s, now %s%s%s; not joining it (someone may be "
                 "impersonating the server)",
                 c->join.hostport, when, l->trusted, fp, want[0] ? ", with no certificate of the fleet key " : "",
                 want);
        return refuse_key(l, c, fp, l->trusted);
    }
    gv_join_key_in in = {fp,    l->pinned,       l->known_file,        gv_known_check,    gv_known_add,
                         fleet, l->fleet_pinned, gv_known_check_fleet, gv_known_add_fleet};
    int first_use;
    int rc = gv_join_check_key(&c->join, &in, &first_use);
    if (rc != 0) {
        key_refused(l, c);
        return rc;
    }
    snprintf(l->trusted, sizeof l->trusted, "%s", fp);
    snprintf(l->trusted_fleet, sizeof l->trusted_fleet, "%s", fleet);
    gv_event *ev = gv_events_push(l->events, GV_EVENT_SERVER_KEY);
    ev->first_use = first_use;
    snprintf(ev->fingerprint, sizeof ev->fingerprint, "%s", fp);
    snprintf(ev->known_fingerprint, sizeof ev->known_fingerprint, "%s", fleet);
    return 0;
}

static void on_handshake_reply(gv_link *l, conn *c, const uint8_t *data, size_t len)
{
    uint8_t payload[1 + GV_FLEETCERT_BYTES], pk[32];
    int got;
    if (len < 1 || data[0] != GV_HANDSHAKE_RESP ||
        (got = gv_noise_read_message(c->noise, data + 1, len - 1, payload, sizeof payload)) < 0 ||
        gv_noise_remote_static(c->noise, pk) != 0) {
        l->counters.auth_failed++;
        fail(l, c, GV_EAUTH, "the server's handshake did not verify%s", NULL);
        return;
    }
    /* The payload: empty (a server from before the cipher offer), the
     * cipher, or the cipher and the fleet certificate we asked for. */
    if (got != 0 && got != 1 && got != (int)sizeof payload) {
        fail(l, c, GV_EAUTH, "the server's handshake answer is malformed%s", NULL);
        return;
    }
    if (check_server_key(l, c, pk, payload + 1, got == (int)sizeof payload ? GV_FLEETCERT_BYTES : 0) != 0)
        return;
    c->cipher = got == 0 ? GV_SEAL_CHACHA20POLY1305 : payload[0];
    if (c->cipher != GV_SEAL_CHACHA20POLY1305 && !(c->cipher == GV_SEAL_AES256GCM && l->offer_aes)) {
        fail(l, c, GV_EAUTH, "the server chose a cipher this client did not offer%s", NULL);
        return;
    }
    if (gv_session_keys(&c->noise, c->cipher, &c->seal) != 0) {
        fail(l, c, GV_ENOMEM, "could not set up the session keys%s", NULL);
        return;
    }
    if (gv_join_answered(&c->join, now_us(l)) == GV_JOIN_SEND_HELLO)
        send_hello(l, c);
}

/* Tells the server where we are (a NAT may have moved us), which it
 * believes only from the tag. */
static void send_here(gv_link *l, uint64_t now)
{
    conn *c = l->cur;
    uint8_t d[GV_DATAGRAM_HERE_LEN];
    if (gv_datagram_seal_here(c->seal, c->index, c->here_next, d, sizeof d) == GV_DATAGRAM_HERE_LEN) {
        c->here_next++;
        l->here_us = now;
        gv_transport_send_datagram(l->transport, c->peer, d, sizeof d);
    }
}

static void take_welcome(gv_link *l, conn *c, const gv_msg *m)
{
    c->index = m->u.welcome.index;
    c->voice_next = 0;
    c->here_next = 0;
    memcpy(l->resume, m->u.welcome.resume, GV_RESUME_SECRET_LEN);
    l->has_resume = 1;
    gv_reconnect_welcomed(&l->reconnect);
    char *here = strdup(l->server_host);
    if (here) { /* else the secret is presented everywhere, as before fleets */
        free(l->session_host);
        l->session_host = here;
        l->session_port = l->server_port;
    }
    l->id = m->u.welcome.id;
    memcpy(l->name, m->u.welcome.name.bytes, m->u.welcome.name.len);
    l->name[m->u.welcome.name.len] = '\0';
    /* Our own voice comes back in our slot for the echo test. */
    slot_start(c, m->u.welcome.slot, l->id, m->u.welcome.epoch, 0);
}

/* The players a WELCOME lists, against the roster we kept: those still
 * there keep their place silently (a resumed session), the others come
 * and go as events. */
static void merge_roster(gv_link *l, conn *c, const gv_msg *m)
{
    for (int i = 0; i < l->roster_count; i++)
        l->roster[i].seen = 0;
    gv_reader r;
    gv_reader_init(&r, m->u.welcome.players, m->u.welcome.players_len);
    gv_msg_player p;
    for (uint16_t i = 0; i < m->u.welcome.count && gv_msg_next_player(&r, &p) == 0; i++) {
        roster_entry *e = roster_find(l, p.id);
        if (e && strcmp(e->name, p.name) == 0) {
            e->seen = 1;
            e->slot = p.slot;
            slot_start(c, p.slot, p.id, p.epoch, p.next);
        } else {
            if (e)
                roster_remove(l, p.id);
            roster_add(l, c, &p);
        }
    }
    for (int i = l->roster_count - 1; i >= 0; i--)
        if (!l->roster[i].seen)
            roster_remove_at(l, i);
}

/* A new session's WELCOME: it replaces the old one, which is dropped
 * quietly (the server has replaced it or forgotten it). A server that
 * did not resume us has given out new ids: every player we knew is gone
 * and every player it lists is new. */
static void adopt(gv_link *l, const gv_msg *m)
{
    conn *c = l->next;
    conn_close(l, l->cur);
    l->cur = c;
    l->next = NULL;
    l->lost = 0;
    int resumed = (m->u.welcome.flags & GV_WELCOME_RESUMED) && m->u.welcome.id == l->id;
    if (!resumed)
        while (l->roster_count > 0)
            roster_remove_at(l, l->roster_count - 1);
    take_welcome(l, c, m);
    gv_event *ev = gv_events_push(l->events, GV_EVENT_RECONNECTED);
    ev->id = l->id;
    ev->resumed = resumed;
    memcpy(ev->name, l->name, strlen(l->name) + 1);
    merge_roster(l, c, m);
    if (l->cb.session)
        l->cb.session(l->cb.ctx);
    uint64_t now = now_us(l);
    l->heard_us = now;
    l->interrupted = 0;
    gv_reconnect_heard(&l->reconnect);
    /* The first thing the new session carries: the server retires the
     * secret it was resumed with once it hears from it. */
    send_here(l, now);
}

static void on_welcome(gv_link *l, conn *c, const gv_msg *m)
{
    if (!gv_join_welcome(&c->join))
        return;
    if (c == l->next) {
        adopt(l, m);
        return;
    }
    take_welcome(l, c, m);
    gv_event *ev = gv_events_push(l->events, GV_EVENT_CONNECTED);
    ev->id = l->id;
    memcpy(ev->name, l->name, strlen(l->name) + 1);
    merge_roster(l, c, m);
    l->heard_us = now_us(l);
    send_here(l, l->heard_us); /* retires a secret this join was resumed with */
}

static void on_player_back(gv_link *l, const gv_msg *m)
{
    roster_entry *e = roster_find(l, m->u.player.id);
    if (!e)
        return;
    if (l->cur->slots[e->slot].id == e->id)
        l->cur->slots[e->slot].on = 0;
    e->slot = m->u.player.slot;
    slot_start(l->cur, e->slot, e->id, m->u.player.epoch, 0);
    if (l->cb.restart)
        l->cb.restart(l->cb.ctx, e->id);
    gv_event *ev = gv_events_push(l->events, GV_EVENT_PLAYER_RECONNECTED);
    ev->id = e->id;
    snprintf(ev->name, sizeof ev->name, "%s", e->name);
}

static void on_control(gv_link *l, conn *c, const gv_msg *m)
{
    if (m->type == GV_MSG_WELCOME) {
        on_welcome(l, c, m);
        return;
    }
    if (m->type == GV_MSG_REFUSE) {
        gv_join_refuse(&c->join, m->u.refuse.code, m->u.refuse.text, m->u.refuse.len);
        return;
    }
    if (m->type == GV_MSG_REDIRECT) {
        if (c == l->cur && joined(l)) { /* a move: the MOVED disconnect that follows takes us there */
            memcpy(l->move_host, m->u.redirect.host ? m->u.redirect.host : "", m->u.redirect.host_len);
            l->move_host[m->u.redirect.host_len] = '\0';
            l->move_port = m->u.redirect.port;
        } else if (gv_join_redirect(&c->join, m->u.redirect.port, m->u.redirect.host, m->u.redirect.host_len) != 0) {
            l->counters.malformed++;
        }
        return;
    }
    if (c != l->cur || !joined(l)) {
        l->counters.malformed++;
        return;
    }
    switch (m->type) {
    case GV_MSG_PLAYER_JOINED: {
        gv_msg_player p = {.id = m->u.player.id, .slot = m->u.player.slot, .epoch = m->u.player.epoch};
        memcpy(p.name, m->u.player.name.bytes, m->u.player.name.len);
        p.name[m->u.player.name.len] = '\0';
        if (m->u.player.id != l->id && !roster_find(l, p.id))
            roster_add(l, c, &p);
        break;
    }
    case GV_MSG_PLAYER_LEFT:
        roster_remove(l, m->u.player.id);
        break;
    case GV_MSG_PLAYER_AWAY: {
        roster_entry *e = roster_find(l, m->u.player.id);
        if (e) {
            gv_event *ev = gv_events_push(l->events, GV_EVENT_PLAYER_RECONNECTING);
            ev->id = e->id;
            snprintf(ev->name, sizeof ev->name, "%s", e->name);
        }
        break;
    }
    case GV_MSG_PLAYER_BACK:
        on_player_back(l, m);
        break;
    case GV_MSG_PLAYER_MUTED: {
        gv_event *ev;
        if (m->u.mute.id == l->id) {
            ev = gv_events_push(l->events, GV_EVENT_MUTED_BY_MODERATOR);
            ev->id = m->u.mute.by;
        } else {
            roster_entry *e = roster_find(l, m->u.mute.id);
            if (!e)
                break;
            ev = gv_events_push(l->events, GV_EVENT_PLAYER_MUTED_FOR_ALL);
            ev->id = e->id;
            snprintf(ev->name, sizeof ev->name, "%s", e->name);
        }
        ev->on = m->u.mute.on;
        break;
    }
    case GV_MSG_LOSS_REPORT:
        if (l->cb.loss)
            l->cb.loss(l->cb.ctx, m->u.loss.id, m->u.loss.loss_permille);
        break;
    case GV_MSG_PLAYER_RTT: {
        gv_reader r;
        gv_reader_init(&r, m->u.rtt.entries, (size_t)m->u.rtt.count * 4);
        uint16_t id, rtt;
        while (gv_msg_next_rtt(&r, &id, &rtt) == 0) {
            roster_entry *e = roster_find(l, id);
            if (e)
                e->rtt_ms = rtt;
        }
        break;
    }
    case GV_MSG_SPATIAL_CONFIG:
        if (l->cb.spatial && l->cb.spatial(l->cb.ctx, m) < 0)
            l->counters.malformed++;
        break;
    default:
        l->counters.malformed++;
    }
}

static void on_receive(gv_link *l, conn *c, uint8_t channel, const uint8_t *data, size_t len)
{
    if (c->join.stage == GV_JOIN_HANDSHAKE) {
        if (channel == GV_CH_CONTROL)
            on_handshake_reply(l, c, data, len);
        return;
    }
    if (c->join.stage != GV_JOIN_HELLO && c->join.stage != GV_JOIN_JOINED)
        return;
    gv_msg m;
    int rc = gv_session_open(c->seal, &l->buf, channel, data, len, &m);
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
    if (c == l->cur && joined(l))
        l->heard_us = now_us(l);
    if (channel == GV_CH_VOICE && m.type == GV_MSG_VOICE_RELAY) {
        /* Only the raw baseline's voice travels in ENet. Like any voice, it
         * is heard only after the news of its sender's arrival. */
        if (c == l->cur && joined(l) && l->cb.voice &&
            (m.u.voice.sender == l->id || gv_link_player_name(l, m.u.voice.sender)))
            l->cb.voice(l->cb.ctx, &m);
    } else if (channel == GV_CH_VOICE && m.type == GV_MSG_POSITION_RELAY) {
        if (c == l->cur && joined(l) && l->cb.position && gv_link_player_name(l, m.u.position.sender))
            l->cb.position(l->cb.ctx, &m);
    } else if (channel == GV_CH_CONTROL) {
        on_control(l, c, &m);
    } else {
        l->counters.malformed++;
    }
}

/* Relayed voice: only from the server's address, records of the players
 * the roster has announced, under the current session's keys. Voice may
 * overtake the (reliable) news of its sender's arrival; it is heard only
 * after it, so that the event stream tells of a player before their first
 * SPEAKING. */
static void handle_datagram(gv_link *l, const gv_addr *from, const uint8_t *d, size_t len)
{
    conn *c = l->cur;
    gv_addr server = gv_transport_peer_addr(l->transport, c->peer);
    if (c->peer < 0 || from->host != server.host || from->port != server.port || !joined(l) ||
        gv_datagram_kind_of(d, len) != GV_DATAGRAM_DOWN) {
        l->counters.auth_failed++;
        return;
    }
    gv_datagram_record rec;
    int rc;
    while ((rc = gv_datagram_next_record(&d, &len, &rec)) == 1) {
        voice_slot *v = &c->slots[rec.slot];
        gv_msg m;
        rc = v->on ? gv_datagram_open_down(c->seal, &v->stream, &rec, l->buf.plain, sizeof l->buf.plain, &m)
                   : GV_EAUTH;
        if (rc == GV_EREPLAY) {
            l->counters.replayed++;
        } else if (rc == GV_EAUTH) {
            l->counters.auth_failed++;
        } else if (rc < 0) {
            l->counters.malformed++;
        } else {
            l->heard_us = now_us(l);
            if (l->cb.voice) {
                m.u.voice.sender = v->id;
                l->cb.voice(l->cb.ctx, &m);
            }
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

static void on_connect(gv_link *l, conn *c)
{
    if (gv_join_connected(&c->join) != GV_JOIN_SEND_INIT)
        return;
    uint8_t msg[GV_SESSION_INIT_LEN];
    int n = gv_session_initiate(l->protocol_version, l->offer_aes, &c->noise, msg);
    if (n < 0 || gv_transport_send(l->transport, c->peer, GV_CH_CONTROL, msg, (size_t)n, 0) != 0) {
        fail(l, c, GV_ENOMEM, "could not start the handshake%s", NULL);
        return;
    }
    gv_join_init_sent(&c->join, now_us(l));
}

/* A new CONNECT and handshake for c, nothing of its last kept. */
static int conn_open(gv_link *l, conn *c)
{
    conn_close(l, c);
    c->peer = gv_transport_open(l->transport);
    return c->peer < 0 ? c->peer : 0;
}

static void restart_handshake(gv_link *l, conn *c)
{
    l->counters.join_retries++;
    if (conn_open(l, c) < 0)
        fail(l, c, GV_ENET, "could not connect again%s", NULL);
}

static int move_server(gv_link *l, const char *host, uint16_t port);

/* A new attempt after the first goes to the next node of the fleet that is
 * not where the last one went: the server may be dead, and any live node
 * knows where the lobby is now. */
static void next_node(gv_link *l)
{
    int attempt = l->reconnect.attempt;
    if (l->node_count < 2 || attempt < 2)
        return;
    for (int k = 0; k < l->node_count; k++) {
        const struct node_addr *n = &l->nodes[(attempt - 2 + k) % l->node_count];
        if ((n->port != l->server_port || strcmp(n->host, l->server_host) != 0) &&
            move_server(l, n->host, n->port) == 0)
            return;
    }
}

/* The first join's address went unanswered: on to the next of the
 * addresses given (a fleet's nodes, the name's other addresses), round
 * and round until the join's deadline. One that no longer resolves is
 * passed over. */
static void next_first_node(gv_link *l, conn *c)
{
    for (int k = 0; k < l->node_count; k++) {
        const struct node_addr *n = &l->nodes[(c->join.tried + k) % l->node_count];
        if (move_server(l, n->host, n->port) == 0) {
            gv_join_moved(&c->join, n->host, n->port, now_us(l));
            restart_handshake(l, c);
            return;
        }
    }
    fail(l, c, GV_ENOTFOUND, "none of the server's addresses resolves any more%s", NULL);
}

/* rotate: a new attempt of the schedule, which may go to another node;
 * else the same server again (it refused to resume us: we join anew). */
static void start_attempt(gv_link *l, int rotate)
{
    /* An attempt the server has answered is left to finish. */
    if (l->next && l->next->join.stage == GV_JOIN_HELLO)
        return;
    if (rotate)
        next_node(l);
    conn *c = l->cur == &l->conns[0] ? &l->conns[1] : &l->conns[0];
    l->next = c;
    gv_join_start(&c->join, l->server_host, l->server_port, l->protocol_version, l->random, l->timeout_us,
                  now_us(l));
    if (conn_open(l, c) < 0) {
        l->next = NULL;
        return;
    }
    gv_event *ev = gv_events_push(l->events, GV_EVENT_RECONNECTING);
    ev->attempt = l->reconnect.attempt;
    ev->retry_ms = gv_reconnect_wait_ms(&l->reconnect, now_us(l));
    ev->reason = l->why_reconnecting;
}

/* How an attempt ended when it did not get us back in: a server that
 * could not resume us is asked again at once as a newcomer; a key we may
 * not trust, another protocol or a refused password end reconnecting;
 * anything else waits for the next attempt. */
static void attempt_over(gv_link *l)
{
    conn *c = l->next;
    const gv_join_end *end = &c->join.end;
    int refused = end->refused;
    l->next = NULL;
    if (end->error == GV_EKEY || end->error == GV_EVERSION || refused == GV_REFUSE_PASSWORD ||
        refused == GV_REFUSE_NAME || (end->error < 0 && end->fingerprint[0])) {
        conn_close(l, c);
        give_up(l, end, end->reason);
        return;
    }
    conn_close(l, c);
    if (gv_reconnect_failed(&l->reconnect, refused) == GV_RECONNECT_REJOIN) {
        l->has_resume = 0;
        l->why_reconnecting = "the server could not resume the session; joining it anew";
        start_attempt(l, 0);
        return;
    }
    l->why_reconnecting = "the last attempt failed; trying again";
}

/* The current session is gone for certain: the server closed it with
 * code, or the transport lost it (0). Replaced by an attempt of ours
 * that is still in flight, that attempt's WELCOME carries on (start_attempt
 * leaves it be); by one we dropped, the next attempt resumes the session
 * at once. */
static void session_lost(gv_link *l, int code)
{
    if (!gv_reconnect_closed(&l->reconnect, code, l->heard_us, now_us(l))) {
        act(l, GV_JOIN_LOST);
        return;
    }
    l->lost = 1;
    if (!l->interrupted) {
        l->interrupted = 1;
        gv_event *ev = gv_events_push(l->events, GV_EVENT_CONNECTION_INTERRUPTED);
        ev->reason = code == GV_REFUSE_SHUTDOWN   ? "the server is shutting down"
                     : code == GV_REFUSE_MOVED    ? "the lobby moved to another server"
                     : code == GV_REFUSE_REPLACED ? "the session was resumed on a newer connection of ours"
                                                  : "the connection to the server was lost";
    }
    l->why_reconnecting = code == GV_REFUSE_SHUTDOWN   ? "the server shut down; waiting for it to come back"
                          : code == GV_REFUSE_MOVED    ? "the lobby moved to another server; joining it there"
                          : code == GV_REFUSE_REPLACED ? "the session moved to a newer connection of ours; following it"
                                                       : "the connection to the server was lost";
}

/* Where the server is from now on (reconnecting goes there): another of
 * its ports, or another node of its fleet. 0, or GV_ENOTFOUND (host does
 * not resolve) or GV_ENOMEM. */
static int move_server(gv_link *l, const char *host, uint16_t port)
{
    if (host[0] && strcmp(host, l->server_host) != 0) {
        char *copy = strdup(host);
        if (!copy)
            return GV_ENOMEM;
        int rc = gv_transport_retarget(l->transport, host, port);
        if (rc < 0) {
            free(copy);
            return rc;
        }
        free(l->server_host);
        l->server_host = copy;
    } else {
        gv_transport_retarget(l->transport, NULL, port);
    }
    l->server_port = port;
    return 0;
}

/* The server's worker, or the node of its fleet, that holds our lobby is
 * elsewhere: c connects there anew. The key it shows must be the one
 * already trusted. */
static void follow_redirect(gv_link *l, conn *c)
{
    l->counters.redirects++;
    if (move_server(l, c->join.host, c->join.port) < 0)
        fail(l, c, GV_ENOTFOUND, "the server sent the join to %s, which does not resolve", c->join.hostport);
    else if (conn_open(l, c) < 0)
        fail(l, c, GV_ENET, "could not connect to the lobby's port%s", NULL);
}

static void on_disconnect(gv_link *l, conn *c, uint32_t data)
{
    c->peer = -1;
    enum gv_join_action a = gv_join_disconnected(&c->join, data, now_us(l));
    if (a == GV_JOIN_REDIRECT) {
        follow_redirect(l, c);
        return;
    }
    if (c == l->next) {
        if (a != GV_JOIN_NOTHING)
            attempt_over(l);
        return;
    }
    if (a == GV_JOIN_LOST && c->join.end.refused == GV_REFUSE_MOVED && l->move_port) {
        /* The lobby went to another node: reconnecting goes there. */
        if (move_server(l, l->move_host[0] ? l->move_host : l->server_host, l->move_port) == 0)
            l->counters.redirects++;
        l->move_port = 0;
    }
    if (a == GV_JOIN_LOST)
        session_lost(l, c->join.end.refused);
    else
        act(l, a);
}

static void on_event(void *ctx, const gv_transport_event *e)
{
    gv_link *l = ctx;
    conn *c = l->cur->peer == e->peer ? l->cur : l->next && l->next->peer == e->peer ? l->next : NULL;
    if (!c)
        return;
    if (e->type == GV_TRANSPORT_CONNECT)
        on_connect(l, c);
    else if (e->type == GV_TRANSPORT_DISCONNECT)
        on_disconnect(l, c, e->data);
    else if (e->type == GV_TRANSPORT_RECEIVE)
        on_receive(l, c, e->channel, e->packet, e->len);
}

/* The server's ENet and ours exchange something at least every half
 * second. After a second of nothing the connection is interrupted: the
 * user is told, the session kept. The server may also be sending to an
 * address our NAT has given up: tell it where we are (once a second), so
 * that a player who is not speaking survives a rebinding too. From two
 * seconds on a new session is tried as well (gv_reconnect); whichever
 * answers first carries on. */
#define HERE_AFTER_US 1000000u

static void watch(gv_link *l)
{
    if (!in_lobby(l))
        return;
    uint64_t now = now_us(l);
    if (!l->lost) {
        uint64_t silent_us = (uint64_t)gv_transport_peer_silent_ms(l->transport, l->cur->peer) * 1000u;
        if (silent_us < now && now - silent_us > l->heard_us)
            l->heard_us = now - silent_us;
    }
    if (!l->lost && now - l->heard_us < HERE_AFTER_US) {
        if (l->interrupted)
            gv_events_push(l->events, GV_EVENT_CONNECTION_RESTORED);
        l->interrupted = 0;
        /* The old session answered first. An attempt whose HELLO carried
         * the secret is left to finish: the server may have moved the
         * session to it already, and dropping it here would leave us on a
         * connection about to be closed as replaced, the session on one
         * we no longer hold. */
        if (!gv_reconnect_restored(&l->reconnect, l->next && l->next->presented) && l->next) {
            conn_close(l, l->next);
            l->next = NULL;
        }
        /* Its node is the server again, should an attempt have gone to
         * another node of the fleet meanwhile. */
        if (l->session_host && (l->server_port != l->session_port || strcmp(l->server_host, l->session_host)))
            move_server(l, l->session_host, l->session_port);
        return;
    }
    if (!l->interrupted) {
        l->interrupted = 1;
        gv_event *ev = gv_events_push(l->events, GV_EVENT_CONNECTION_INTERRUPTED);
        ev->reason = "nothing from the server for a second; waiting for it";
        l->why_reconnecting = "nothing from the server for two seconds";
    }
    if (!l->lost && now - l->here_us >= HERE_AFTER_US)
        send_here(l, now);
    enum gv_reconnect_action a = gv_reconnect_tick(&l->reconnect, l->heard_us, now);
    if (a == GV_RECONNECT_ATTEMPT)
        start_attempt(l, 1);
    else if (a == GV_RECONNECT_GIVE_UP)
        give_up(l, NULL, "the server did not come back; gave up reconnecting");
}

int gv_link_service(gv_link *l, uint32_t timeout_ms)
{
    if (!l)
        return GV_EINVAL;
    int rc = gv_transport_drain(l->transport, timeout_ms, 1, on_event, l);
    if (rc < 0)
        return rc;
    uint64_t now = now_us(l);
    watch(l);
    if (!joined(l)) {
        enum gv_join_action a = gv_join_tick(&l->cur->join, now);
        if (a == GV_JOIN_RECONNECT)
            restart_handshake(l, l->cur);
        else if (a == GV_JOIN_NEXT_NODE)
            next_first_node(l, l->cur);
        else
            act(l, a);
    }
    if (l->next) {
        enum gv_join_action a = gv_join_tick(&l->next->join, now);
        if (a == GV_JOIN_RECONNECT)
            restart_handshake(l, l->next);
        else if (a == GV_JOIN_FAILED)
            attempt_over(l);
    }
    gv_transport_flush(l->transport);
    return 0;
}

/* checked: a node from the list, which must be a plain host (the server
 * as given is whatever the transport resolved). */
static int add_node(gv_link *l, const char *host, size_t len, long port, int checked)
{
    if (len == 0 || len > 255 || (checked && !gv_msg_host_ok(host, len)) || port < 1 || port > 65535)
        return GV_EINVAL;
    for (int i = 0; i < l->node_count; i++)
        if (l->nodes[i].port == port && strlen(l->nodes[i].host) == len && memcmp(l->nodes[i].host, host, len) == 0)
            return 0;
    if (l->node_count == GV_FLEET_NODES_MAX)
        return GV_EINVAL;
    memcpy(l->nodes[l->node_count].host, host, len);
    l->nodes[l->node_count].host[len] = '\0';
    l->nodes[l->node_count++].port = (uint16_t)port;
    return 0;
}

/* gv_client_config.fleet_nodes: "HOST:PORT,HOST:PORT". 0 or GV_EINVAL. */
static int add_nodes(gv_link *l, const char *list)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t colon = n;
        while (colon > 0 && p[colon - 1] != ':')
            colon--;
        if (colon < 2 || colon == n || n - colon > 5 || strspn(p + colon, "0123456789") != n - colon)
            return GV_EINVAL;
        if (add_node(l, p, colon - 1, strtol(p + colon, NULL, 10), 1) < 0)
            return GV_EINVAL;
        p += n;
        if (*p == ',' && !*++p) /* a list ends with a node, not a comma */
            return GV_EINVAL;
    }
    return 0;
}

/* A server name that resolves to several IPv4 addresses is that many
 * nodes (one address: just the server). */
static void add_resolved(gv_link *l)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(l->server_host, NULL, &hints, &res) != 0)
        return;
    int count = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        count++;
    for (const struct addrinfo *a = res; a && count > 1; a = a->ai_next) {
        char text[INET_ADDRSTRLEN];
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)a->ai_addr;
        if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text))
            add_node(l, text, strlen(text), l->server_port, 1);
    }
    freeaddrinfo(res);
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
    if ((cfg->server_key && !gv_keyfile_fingerprint_valid(cfg->server_key)) ||
        (cfg->fleet_key && !gv_keyfile_fingerprint_valid(cfg->fleet_key)))
        goto out;
    /* The lobby's name too is the server's to judge, within what the
     * handshake carries. */
    if (cfg->lobby && strlen(cfg->lobby) > GV_LOBBY_NAME_MAX)
        goto out;
    uint8_t access[GV_TOKEN_BYTES_MAX];
    int access_len = cfg->token ? gv_token_from_text(cfg->token, strlen(cfg->token), access, sizeof access) : 0;
    if (access_len < 0)
        goto out;
    uint32_t peer_timeout = cfg->peer_timeout_ms ? cfg->peer_timeout_ms : GV_TRANSPORT_TIMEOUT_DEFAULT_MS;
    if (peer_timeout < GV_TRANSPORT_TIMEOUT_MIN_MS || peer_timeout > GV_TRANSPORT_TIMEOUT_MAX_MS ||
        cfg->reconnect_ms > GV_RECONNECT_LIMIT_MAX_MS)
        goto out;
    *out = NULL;
    rc = GV_ENOMEM;
    l = calloc(1, sizeof *l);
    if (!l)
        goto out;
    if (cb)
        l->cb = *cb;
    l->clock = cfg->clock;
    l->random = cfg->random;
    l->events = events;
    l->cur = &l->conns[0];
    l->conns[0].peer = l->conns[1].peer = -1;
    l->timeout_us = (uint64_t)cfg->connect_timeout_ms * 1000u;
    gv_reconnect_init(&l->reconnect, (uint64_t)cfg->reconnect_ms * 1000u, cfg->random);
    l->protocol_version = protocol_version ? protocol_version : GV_PROTOCOL_VERSION;
    l->offer_aes = cfg->cipher == GV_CIPHER_AUTO && gv_seal_aes256gcm_available();
    l->server_port = cfg->server_port;
    l->server_host = strdup(cfg->server_host);
    if (!l->server_host)
        goto out;
    rc = GV_EINVAL;
    if (strlen(l->server_host) <= 255)
        add_node(l, l->server_host, strlen(l->server_host), l->server_port, 0);
    if (cfg->fleet_nodes && add_nodes(l, cfg->fleet_nodes) < 0)
        goto out;
    add_resolved(l);
    if (l->node_count > 1)
        gv_reconnect_cap(&l->reconnect, GV_RECONNECT_FLEET_BACKOFF_MAX_US);
    rc = GV_ENOMEM;
    snprintf(l->name, sizeof l->name, "%s", cfg->name);
    if (cfg->password_len)
        memcpy(l->password, cfg->password, cfg->password_len);
    l->password_len = cfg->password_len;
    if (cfg->server_key)
        snprintf(l->pinned, sizeof l->pinned, "%s", cfg->server_key);
    if (cfg->fleet_key)
        snprintf(l->fleet_pinned, sizeof l->fleet_pinned, "%s", cfg->fleet_key);
    if (cfg->host_token) {
        memcpy(l->host_token, cfg->host_token, GV_HOST_TOKEN_LEN);
        l->has_token = 1;
    }
    snprintf(l->lobby, sizeof l->lobby, "%s", cfg->lobby ? cfg->lobby : "");
    memcpy(l->access, access, (size_t)access_len);
    l->access_len = access_len;
    if (!cfg->known_servers_file) {
        char path[4096];
        if (gv_known_default_path(path, sizeof path) == 0 && !(l->known_file = strdup(path)))
            goto out;
    } else if (cfg->known_servers_file[0] && !(l->known_file = strdup(cfg->known_servers_file))) {
        goto out;
    }
    gv_join_start(&l->cur->join, l->server_host, l->server_port, l->protocol_version, cfg->random, l->timeout_us,
                  now_us(l));
    gv_join_set_others(&l->cur->join, l->node_count - 1, now_us(l));
    rc = gv_transport_connect(cfg->bind_address, l->server_host, l->server_port, (uint32_t)l->protocol_version,
                              &l->transport);
    if (rc < 0)
        goto out;
    l->cur->peer = 0;
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
    if (l->next)
        conn_close(l, l->next);
    int peer = l->cur->peer;
    if (peer >= 0) {
        /* Leaving on purpose: the server frees our place at once. */
        gv_transport_disconnect(l->transport, peer, GV_DISCONNECT_LEAVING, GV_TRANSPORT_GRACEFUL);
        gv_transport_event e;
        for (int i = 0; i < 20 && gv_transport_service(l->transport, &e, 10) >= 0; i++)
            if (e.type == GV_TRANSPORT_DISCONNECT && e.peer == peer)
                break;
        l->cur->peer = -1;
    }
    for (int i = 0; i < 2; i++) {
        l->conns[i].peer = -1; /* the transport goes as a whole */
        conn_close(l, &l->conns[i]);
    }
    gv_transport_destroy(l->transport);
    free(l->server_host);
    free(l->known_file);
    free(l->session_host);
    sodium_memzero(l, sizeof *l);
    free(l);
}

int gv_link_resume_secret(const gv_link *l, uint8_t out[GV_RESUME_SECRET_LEN])
{
    if (!l || !l->has_resume)
        return GV_ESTATE;
    memcpy(out, l->resume, GV_RESUME_SECRET_LEN);
    return 0;
}

void gv_link_present_secret(gv_link *l, const uint8_t secret[GV_RESUME_SECRET_LEN])
{
    memcpy(l->resume, secret, GV_RESUME_SECRET_LEN);
    l->has_resume = 1;
}

int gv_link_cipher(const gv_link *l)
{
    return l ? l->cur->cipher : 0;
}

int gv_link_id(const gv_link *l)
{
    return l && in_lobby(l) ? l->id : 0;
}

/* Sending needs a live session; between sessions what would be sent is
 * dropped (GV_ESTATE, which the voice path ignores). */
static int live(const gv_link *l)
{
    return joined(l) && !l->lost;
}

int gv_link_steady(const gv_link *l)
{
    return l && !l->ended && live(l) && !l->interrupted && !l->next;
}

int gv_link_send_voice(gv_link *l, const gv_msg *voice)
{
    if (!l || !voice || voice->type != GV_MSG_VOICE)
        return GV_EINVAL;
    if (!live(l))
        return GV_ESTATE;
    conn *c = l->cur;
    uint8_t *buf = l->buf.encoded;
    if (voice->u.voice.flags & GV_VOICE_RAW) {
        int n = gv_msg_encode(voice, buf, sizeof l->buf.encoded);
        int rc = n < 0 ? n : send_sealed(l, GV_CH_VOICE, buf, (size_t)n, 1);
        if (rc == 0)
            gv_transport_flush(l->transport);
        return rc;
    }
    int n = gv_datagram_seal_up(c->seal, c->index, c->voice_next, voice, buf, GV_MTU);
    if (n < 0)
        return n;
    /* Sealed: this counter is spent whatever becomes of the datagram. */
    c->voice_next++;
    return gv_transport_send_datagram(l->transport, c->peer, buf, (size_t)n);
}

int gv_link_send_loss(gv_link *l, uint16_t speaker, uint16_t loss_permille)
{
    if (!l || loss_permille > 1000)
        return GV_EINVAL;
    if (!live(l))
        return GV_ESTATE;
    gv_msg m = {.type = GV_MSG_LOSS_REPORT};
    m.u.loss.id = speaker;
    m.u.loss.loss_permille = loss_permille;
    uint8_t buf[16];
    int n = gv_msg_encode(&m, buf, sizeof buf);
    return n < 0 ? n : send_sealed(l, GV_CH_CONTROL, buf, (size_t)n, 0);
}

int gv_link_send_mute_for_all(gv_link *l, uint16_t id, int on)
{
    if (!l || id == 0 || (on != 0 && on != 1))
        return GV_EINVAL;
    if (!live(l))
        return GV_ESTATE;
    gv_msg m = {.type = GV_MSG_MUTE_FOR_ALL};
    m.u.mute.id = id;
    m.u.mute.on = (uint8_t)on;
    uint8_t buf[8];
    int n = gv_msg_encode(&m, buf, sizeof buf);
    return n < 0 ? n : send_sealed(l, GV_CH_CONTROL, buf, (size_t)n, 0);
}

int gv_link_send_position(gv_link *l, const gv_msg *position)
{
    if (!l || !position || position->type != GV_MSG_POSITION)
        return GV_EINVAL;
    if (!live(l))
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
