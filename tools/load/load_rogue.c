#include "load_rogue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "gvoip/gvoip.h"
#include "load_swarm.h"
#include "packet/gv_msg.h"
#include "session/gv_datagram.h"
#include "session/gv_noise.h"
#include "session/gv_seal.h"
#include "session/gv_session.h"
#include "session/gv_transport.h"

enum rogue_state { ROGUE_CONNECTING, ROGUE_HANDSHAKE, ROGUE_HELLO, ROGUE_JOINED, ROGUE_DONE };

struct load_rogue {
    load_rogue_kind kind;
    gv_transport *t;
    int has_peer;
    enum rogue_state state;
    gv_noise *noise;
    gv_seal *seal;
    char name[256];
    char lobby[GV_LOBBY_NAME_BYTES];
    uint8_t password[GV_PASSWORD_MAX];
    size_t password_len;
    uint16_t id;
    uint16_t index; /* the receiver index our voice datagrams would carry */
    unsigned step;
    uint16_t seq;
    uint32_t ts;
    uint64_t first_attack_us, now_us;
    load_rogue_report rep;
    gv_session_buffers buf;
};

static void send_sealed(load_rogue *r, uint8_t channel, const uint8_t *plain, size_t len)
{
    gv_session_send(r->t, 0, r->seal, &r->buf, channel, plain, len, 0);
}

static void send_msg(load_rogue *r, uint8_t channel, const gv_msg *m)
{
    gv_session_send_msg(r->t, 0, r->seal, &r->buf, channel, m);
}

static void send_hello(load_rogue *r)
{
    char long_name[201];
    gv_msg m = {.type = GV_MSG_HELLO};
    m.u.hello.name.bytes = r->name;
    m.u.hello.name.len = (uint8_t)strlen(r->name);
    m.u.hello.lobby.bytes = r->lobby;
    m.u.hello.lobby.len = (uint8_t)strlen(r->lobby);
    if (r->kind == LOAD_ROGUE_LONG_NAME) {
        memset(long_name, 'x', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        m.u.hello.name.bytes = long_name;
        m.u.hello.name.len = (uint8_t)(sizeof long_name - 1);
    }
    m.u.hello.password = r->password;
    m.u.hello.password_len = (uint8_t)r->password_len;
    send_msg(r, GV_CH_CONTROL, &m);
}

static void on_connect(load_rogue *r)
{
    uint8_t msg[GV_SESSION_INIT_LEN];
    int n = gv_session_initiate(GV_PROTOCOL_VERSION, 0, &r->noise, msg);
    if (n < 0 || gv_transport_send(r->t, 0, GV_CH_CONTROL, msg, (size_t)n, 0) != 0) {
        r->state = ROGUE_DONE;
        return;
    }
    r->state = ROGUE_HANDSHAKE;
}

static void on_handshake_reply(load_rogue *r, const uint8_t *data, size_t len)
{
    /* The cipher byte, and a node's certificate when it sends one. */
    uint8_t payload[1 + GV_FLEETCERT_BYTES];
    if (len < 1 || data[0] != GV_HANDSHAKE_RESP ||
        gv_noise_read_message(r->noise, data + 1, len - 1, payload, sizeof payload) < 0 ||
        gv_session_keys(&r->noise, GV_SEAL_CHACHA20POLY1305, &r->seal) != 0) {
        r->state = ROGUE_DONE;
        return;
    }
    r->state = ROGUE_HELLO;
    send_hello(r);
}

static void on_receive(load_rogue *r, uint8_t channel, const uint8_t *data, size_t len)
{
    if (r->state == ROGUE_HANDSHAKE) {
        if (channel == GV_CH_CONTROL)
            on_handshake_reply(r, data, len);
        return;
    }
    if (r->state != ROGUE_HELLO && r->state != ROGUE_JOINED)
        return;
    gv_msg m;
    if (gv_session_open(r->seal, &r->buf, channel, data, len, &m) != 0 || channel != GV_CH_CONTROL)
        return;
    if (m.type == GV_MSG_WELCOME && r->state == ROGUE_HELLO) {
        r->id = m.u.welcome.id;
        r->index = m.u.welcome.index;
        r->state = ROGUE_JOINED;
        r->rep.joined = 1;
    } else if (m.type == GV_MSG_REFUSE) {
        r->rep.refused = m.u.refuse.code;
    }
}

static void on_disconnect(load_rogue *r, uint32_t data)
{
    if (!r->rep.refused)
        r->rep.refused = (int)(data & 0xff);
    if (r->state == ROGUE_JOINED) {
        r->rep.removed = 1;
        if (r->first_attack_us)
            r->rep.removed_after_s = (double)(r->now_us - r->first_attack_us) / 1e6;
    }
    r->state = ROGUE_DONE;
    r->has_peer = 0;
}

void load_rogue_service(load_rogue *r, uint64_t now_us)
{
    if (!r)
        return;
    r->now_us = now_us;
    gv_transport_event e;
    while (gv_transport_service(r->t, &e, 0) > 0) {
        if (e.type == GV_TRANSPORT_CONNECT)
            on_connect(r);
        else if (e.type == GV_TRANSPORT_DISCONNECT)
            on_disconnect(r, e.data);
        else if (e.type == GV_TRANSPORT_RECEIVE)
            on_receive(r, e.channel, e.packet, e.len);
    }
    gv_transport_flush(r->t);
}

/* Speaking as someone else, two ways in turn. VOICE_RELAY is the server's
 * message: a client sending one, whatever id it names, is malformed and
 * never relayed. A voice datagram under another player's receiver index
 * (a neighbour of ours) cannot carry their tag: it is dropped unheard and
 * counted, and costs that player nothing. */
static void impersonate(load_rogue *r, uint16_t victim, uint64_t now_us)
{
    uint8_t payload[60], d[GV_MTU];
    load_swarm_fill_payload(payload, sizeof payload, 20, now_us, LOAD_KIND_IMPOSTOR, 0);
    gv_msg m = {.type = GV_MSG_VOICE_RELAY};
    m.u.voice.sender = victim;
    m.u.voice.seq = r->seq++;
    m.u.voice.ts = r->ts;
    r->ts += 960;
    m.u.voice.len = sizeof payload;
    m.u.voice.payload = payload;
    if (r->seq % 2) {
        m.u.voice.flags = GV_VOICE_RAW;
        send_msg(r, GV_CH_VOICE, &m);
        return;
    }
    m.type = GV_MSG_VOICE;
    /* Counters well ahead of anything the neighbour sent, so that the tag
     * is what refuses them, not the neighbour's replay window. */
    int n = gv_datagram_seal_up(r->seal, (uint16_t)(r->index ^ 1), 20000u + r->seq, &m, d, sizeof d);
    if (n > 0)
        gv_transport_send_datagram(r->t, 0, d, (size_t)n);
}

/* One of a rotation of messages a correct client never sends. */
static void misbehave(load_rogue *r, uint64_t now_us)
{
    uint8_t payload[60], raw[64];
    load_swarm_fill_payload(payload, sizeof payload, 20, now_us, LOAD_KIND_IMPOSTOR, 0);
    gv_msg voice = {.type = GV_MSG_VOICE};
    voice.u.voice.seq = r->seq++;
    voice.u.voice.ts = r->ts;
    r->ts += 960;
    voice.u.voice.len = sizeof payload;
    voice.u.voice.payload = payload;
    voice.u.voice.flags = GV_VOICE_RAW;
    switch (r->step++ % 6) {
    case 0: /* an unknown type */
        randombytes_buf(raw, sizeof raw);
        raw[0] = 0x7f;
        send_sealed(r, GV_CH_CONTROL, raw, 20);
        break;
    case 1: /* voice on the control channel */
        send_msg(r, GV_CH_CONTROL, &voice);
        break;
    case 2: /* a truncated voice header */
        raw[0] = GV_MSG_VOICE;
        raw[1] = 0;
        send_sealed(r, GV_CH_VOICE, raw, 2);
        break;
    case 3: { /* a second HELLO, with an oversized name */
        char name[255];
        memset(name, 'n', sizeof name);
        gv_msg m = {.type = GV_MSG_HELLO};
        m.u.hello.name.bytes = name;
        m.u.hello.name.len = sizeof name;
        send_msg(r, GV_CH_CONTROL, &m);
        break;
    }
    case 4: /* a loss report out of range */
        raw[0] = GV_MSG_LOSS_REPORT;
        raw[1] = 0;
        raw[2] = 2;
        raw[3] = 0xea;
        raw[4] = 0x60;
        send_sealed(r, GV_CH_CONTROL, raw, 5);
        break;
    default: /* a server-only message */
        send_msg(r, GV_CH_CONTROL, &(gv_msg){.type = GV_MSG_PLAYER_LEFT, .u.player.id = 2});
        break;
    }
}

void load_rogue_attack(load_rogue *r, uint16_t victim, uint64_t now_us)
{
    if (!r || r->state != ROGUE_JOINED)
        return;
    if (!r->first_attack_us)
        r->first_attack_us = now_us;
    if (r->kind == LOAD_ROGUE_IMPERSONATE)
        impersonate(r, victim, now_us);
    else
        misbehave(r, now_us);
    r->rep.hostile_sent++;
    gv_transport_flush(r->t);
}

int load_rogue_create(load_rogue_kind kind, const char *host, uint16_t port, const char *name, const char *lobby,
                      const uint8_t *password, size_t password_len, load_rogue **out)
{
    if (!host || !name || !lobby || !out || strlen(name) > 255 || strlen(lobby) >= GV_LOBBY_NAME_BYTES ||
        password_len > GV_PASSWORD_MAX || (password_len && !password))
        return GV_EINVAL;
    load_rogue *r = calloc(1, sizeof *r);
    if (!r)
        return GV_ENOMEM;
    r->kind = kind;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->lobby, sizeof r->lobby, "%s", lobby);
    if (password_len)
        memcpy(r->password, password, password_len);
    r->password_len = password_len;
    int rc = gv_transport_connect(NULL, host, port, GV_PROTOCOL_VERSION, &r->t);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->has_peer = 1;
    *out = r;
    return 0;
}

void load_rogue_destroy(load_rogue *r)
{
    if (!r)
        return;
    if (r->has_peer)
        gv_transport_disconnect(r->t, 0, 0, GV_TRANSPORT_NOW);
    gv_transport_destroy(r->t);
    gv_noise_destroy(r->noise);
    gv_seal_destroy(r->seal);
    sodium_memzero(r, sizeof *r);
    free(r);
}

int load_rogue_fd(const load_rogue *r)
{
    return r ? gv_transport_fd(r->t) : -1;
}

int load_rogue_id(const load_rogue *r)
{
    return r && r->state == ROGUE_JOINED ? r->id : 0;
}

int load_rogue_done(const load_rogue *r)
{
    return !r || r->state == ROGUE_DONE;
}

void load_rogue_get_report(const load_rogue *r, load_rogue_report *out)
{
    *out = r->rep;
}
