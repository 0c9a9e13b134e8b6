#include "session/gv_transport.h"

#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/select.h>

#include <enet/protocol.h>
#include <enet/time.h>
#include <sodium.h>

#include <enet/enet.h>

#include "gvoip/error.h"

struct gv_transport {
    ENetHost *host;
    gv_transport_stats stats;
    gv_transport_admit_fn admit;
    void *admit_ctx;
    int admitted;       /* listener: a CONNECT went through since the last service */
    ENetAddress remote; /* connector: where to retry with a cookie */
    uint32_t connect_data;
    int cookie_retries;
    ENetPacket *received; /* the last RECEIVE event's, freed on the next call */
    gv_transport_datagram_fn datagram;
    void *datagram_ctx;
    uint32_t peer_timeout_ms;
    uint32_t last_sweep; /* ENet's serviceTime of the last look for silent peers */
    uint32_t *connected_at; /* per peer: ENet's time when it connected (expire_silent) */
};

_Static_assert(sizeof(ENetBuffer) == sizeof(struct iovec) &&
                   offsetof(ENetBuffer, data) == offsetof(struct iovec, iov_base) &&
                   offsetof(ENetBuffer, dataLength) == offsetof(struct iovec, iov_len),
               "ENet's buffers are iovecs on POSIX systems");

/* ENet's host has no user-data slot, but its compressor has a context
 * pointer that ENet only uses together with compress/decompress callbacks.
 * gvoip never compresses (Opus payloads do not shrink), so the context
 * carries the transport back to the intercept callback. */
static gv_transport *transport_of(ENetHost *host)
{
    return (gv_transport *)host->compressor.context;
}

static const uint8_t cookie_magic[4] = {'G', 'V', 'C', 'K'};
#define COOKIE_FORMAT 1

/* Listener: answers a CONNECT with a cookie datagram instead of a peer.
 * 12 bytes against the CONNECT's 56: an address that cannot receive gets
 * nothing larger than what was sent in its name. */
static void send_cookie(gv_transport *t, ENetHost *host, const ENetProtocolConnect *cmd, uint32_t cookie)
{
    uint8_t out[GV_COOKIE_DATAGRAM];
    memcpy(out, cookie_magic, sizeof cookie_magic);
    out[4] = COOKIE_FORMAT;
    out[5] = (uint8_t)(cookie >> 16);
    out[6] = (uint8_t)(cookie >> 8);
    out[7] = (uint8_t)cookie;
    memcpy(out + 8, &cmd->connectID, 4);
    ENetBuffer buf = {.data = out, .dataLength = sizeof out};
    if (enet_socket_send(host->socket, &host->receivedAddress, &buf, 1) != (int)sizeof out)
        return;
    t->stats.cookies_sent++;
    t->stats.datagrams_out++;
    t->stats.bytes_out += sizeof out;
}

/* Connector: the peer whose CONNECT is still unanswered and whose
 * connectID is id, or NULL. */
static ENetPeer *connecting_peer(ENetHost *host, const uint8_t id[4])
{
    for (size_t i = 0; i < host->peerCount; i++) {
        ENetPeer *p = &host->peers[i];
        if (p->state == ENET_PEER_STATE_CONNECTING && memcmp(id, &p->connectID, 4) == 0)
            return p;
    }
    return NULL;
}

/* Connector: a cookie datagram from the server being connected to that
 * echoes one of our CONNECTs' connectID makes that peer connect again at
 * once, with the cookie. ENet is between datagrams here and holds no peer
 * pointer, so the peer may be reset and reused. */
static void take_cookie(gv_transport *t, ENetHost *host, const uint8_t *d, size_t len)
{
    if (t->remote.port == 0 || len != GV_COOKIE_DATAGRAM || memcmp(d, cookie_magic, sizeof cookie_magic) != 0 ||
        d[4] != COOKIE_FORMAT || host->receivedAddress.host != t->remote.host ||
        host->receivedAddress.port != t->remote.port || t->cookie_retries >= GV_COOKIE_RETRIES)
        return;
    ENetPeer *peer = connecting_peer(host, d + 8);
    if (!peer)
        return;
    uint32_t cookie = (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
    t->cookie_retries++;
    t->stats.cookies_received++;
    enet_peer_reset(peer);
    enet_host_connect(host, &t->remote, GV_CH_COUNT, (t->connect_data & 0xff) | cookie << 8);
}

/* Reads the first command of a raw ENet datagram; CONNECT is the one that
 * makes ENet allocate a peer, so it is the one screened (ENet accepts a
 * CONNECT only as the first command of a datagram). */
static int intercept(ENetHost *host, ENetEvent *event)
{
    gv_transport *t = transport_of(host);
    size_t len = host->receivedDataLength;
    const uint8_t *d = host->receivedData;
    t->stats.datagrams_in++;
    t->stats.bytes_in += len;
    if (len > t->stats.max_datagram_in)
        t->stats.max_datagram_in = len;
    if (len < 2) {
        t->stats.screened++;
        return 1;
    }
    uint16_t peer_id = (uint16_t)(d[0] << 8 | d[1]);
    size_t header = (peer_id & ENET_PROTOCOL_HEADER_FLAG_SENT_TIME) ? 4 : 2;
    if (host->checksum)
        header += 4;
    if (peer_id & ENET_PROTOCOL_HEADER_FLAG_COMPRESSED) {
        if (len == GV_COOKIE_DATAGRAM && memcmp(d, cookie_magic, sizeof cookie_magic) == 0) {
            take_cookie(t, host, d, len);
            t->stats.screened++;
        } else if (t->datagram) {
            gv_addr from = {.host = host->receivedAddress.host, .port = host->receivedAddress.port};
            /* ENet's service call goes on waiting after a datagram it did
             * not see; an event without a peer ends it, so that the
             * handler's caller gets its turn (to_event hands it out as
             * nothing). */
            if (t->datagram(t->datagram_ctx, &from, d, len) && event) {
                memset(event, 0, sizeof *event);
                event->type = ENET_EVENT_TYPE_RECEIVE;
            }
        } else {
            t->stats.screened++;
        }
        return 1;
    }
    if (len < header + sizeof(ENetProtocolConnect))
        return 0;
    const ENetProtocolConnect *cmd = (const ENetProtocolConnect *)(d + header);
    if ((cmd->header.command & ENET_PROTOCOL_COMMAND_MASK) != ENET_PROTOCOL_COMMAND_CONNECT)
        return 0;
    if (t->remote.port != 0) {
        /* A connector takes no connections: its spare peer is for
         * connecting anew, not for whoever knows its port. */
        t->stats.connects_refused++;
        t->stats.screened++;
        return 1;
    }
    if (!t->admit)
        return 0;
    uint32_t data, cookie = 0;
    memcpy(&data, &cmd->data, sizeof data);
    gv_addr from = {.host = host->receivedAddress.host, .port = host->receivedAddress.port};
    int verdict = t->admit(t->admit_ctx, &from, ENET_NET_TO_HOST_32(data), &cookie);
    if (verdict == GV_ADMIT_PASS) {
        t->admitted = 1;
        return 0;
    }
    if (verdict == GV_ADMIT_COOKIE)
        send_cookie(t, host, cmd, cookie);
    else
        t->stats.connects_refused++;
    t->stats.screened++;
    return 1;
}

/* A peer ENet allocates for a CONNECT sends VERIFY_CONNECT and, by default,
 * repeats it for up to 30 seconds: several times the bytes of one spoofed
 * CONNECT. With a timeout limit of one attempt ENet drops the peer at the
 * first retransmission instead (about 500 ms, ENet's initial round trip);
 * a real client's own CONNECT retransmission then starts afresh. The
 * server restores normal timeouts on the CONNECT event. */
static void limit_verify(gv_transport *t)
{
    t->admitted = 0;
    for (size_t i = 0; i < t->host->peerCount; i++) {
        ENetPeer *p = &t->host->peers[i];
        if (p->state == ENET_PEER_STATE_ACKNOWLEDGING_CONNECT && p->timeoutLimit != 1)
            enet_peer_timeout(p, 1, 1, 1);
    }
}

/* The smallest datagram ENet can send here: peer id (2), checksum (4) and
 * one command header (4). */
#define MIN_DATAGRAM 10

static void account_sent(gv_transport *t)
{
    ENetHost *h = t->host;
    if (h->totalSentPackets == 0)
        return;
    t->stats.datagrams_out += h->totalSentPackets;
    t->stats.bytes_out += h->totalSentData;
    /* ENet reports only totals. With one datagram since the last call (a
     * client flushes after each voice packet) the size is exact; with more,
     * each of the others had at least a minimal datagram's bytes, which
     * bounds the largest from above: never under-reported. */
    uint64_t others = (uint64_t)(h->totalSentPackets - 1) * MIN_DATAGRAM;
    uint64_t size = h->totalSentData > others ? h->totalSentData - others : 0;
    if (size > h->mtu + 4) /* ENet's largest: its mtu plus the checksum */
        size = h->mtu + 4;
    if (size > t->stats.max_datagram_out)
        t->stats.max_datagram_out = size;
    h->totalSentPackets = 0;
    h->totalSentData = 0;
    h->totalReceivedData = 0;
    h->totalReceivedPackets = 0;
}

/* ENet's own checksum (enet_crc32) walks its table one byte at a time and
 * was a tenth of a busy relay's CPU. This is the same CRC-32 (reflected
 * polynomial 0xEDB88320, as on the wire) eight bytes a step. ENet's
 * checksum hook has no context argument, so the tables are the process's:
 * computed once, then only read (constants, not state). */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc_update(uint32_t c, const uint8_t *p, size_t n)
{
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
            crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    }
    while (n--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return c;
}

uint32_t gv_transport_crc32(const struct iovec *buffers, size_t count)
{
    uint32_t c = 0xFFFFFFFFu;
    pthread_once(&crc_once, crc_init);
    for (size_t i = 0; i < count; i++)
        c = crc_update(c, buffers[i].iov_base, buffers[i].iov_len);
    return ENET_HOST_TO_NET_32(~c);
}

static enet_uint32 checksum_hook(const ENetBuffer *buffers, size_t count)
{
    return gv_transport_crc32((const struct iovec *)(const void *)buffers, count);
}

/* 0, or GV_ENOMEM with the host destroyed and t freed. */
static int setup(gv_transport *t)
{
    t->connected_at = calloc(t->host->peerCount, sizeof *t->connected_at);
    if (!t->connected_at) {
        enet_host_destroy(t->host);
        free(t);
        return GV_ENOMEM;
    }
    /* enet_host_create has already reset every peer with its default MTU,
     * and enet_host_connect does not reset again: set both. */
    t->host->mtu = GV_ENET_MTU;
    for (size_t i = 0; i < t->host->peerCount; i++)
        t->host->peers[i].mtu = GV_ENET_MTU;
    /* ENet seeds connection ids from the clock and the host's address;
     * they seed the datagram checksum that screens forged datagrams, so
     * they come from libsodium like every other value an attacker must
     * not guess. */
    t->host->randomSeed = randombytes_random();
    t->host->checksum = checksum_hook;
    t->host->compressor.context = t;
    t->host->intercept = intercept;
    t->host->maximumPacketSize = 64 * 1024;
    return 0;
}


int gv_transport_init(void)
{
    return enet_initialize() == 0 ? 0 : GV_ENET;
}

static gv_transport *transport_new(void)
{
    gv_transport *t = calloc(1, sizeof(gv_transport));
    if (t)
        t->peer_timeout_ms = GV_TRANSPORT_TIMEOUT_DEFAULT_MS;
    return t;
}

int gv_transport_listen(const char *bind_address, uint16_t port, size_t peers, gv_transport **out)
{
    if (!out || peers == 0 || peers > ENET_PROTOCOL_MAXIMUM_PEER_ID)
        return GV_EINVAL;
    *out = NULL;
    ENetAddress addr = {.host = ENET_HOST_ANY, .port = port};
    if (bind_address && *bind_address && enet_address_set_host(&addr, bind_address) != 0)
        return GV_ENET;
    gv_transport *t = transport_new();
    if (!t)
        return GV_ENOMEM;
    t->host = enet_host_create(&addr, peers, GV_CH_COUNT, 0, 0);
    if (!t->host) {
        free(t);
        return GV_ENET;
    }
    int rc = setup(t);
    if (rc < 0)
        return rc;
    *out = t;
    return 0;
}

int gv_transport_connect(const char *bind_address, const char *host, uint16_t port, uint32_t connect_data,
                         gv_transport **out)
{
    if (!host || !out)
        return GV_EINVAL;
    *out = NULL;
    ENetAddress addr = {.port = port};
    if (enet_address_set_host(&addr, host) != 0)
        return GV_ENOTFOUND;
    ENetAddress local = {.port = 0};
    int bound = bind_address && *bind_address;
    if (bound && enet_address_set_host(&local, bind_address) != 0)
        return GV_ENET;
    gv_transport *t = transport_new();
    if (!t)
        return GV_ENOMEM;
    t->host = enet_host_create(bound ? &local : NULL, GV_TRANSPORT_CONNECTOR_PEERS, GV_CH_COUNT, 0, 0);
    if (!t->host) {
        free(t);
        return GV_ENET;
    }
    int rc = setup(t);
    if (rc < 0)
        return rc;
    t->remote = addr;
    t->connect_data = connect_data;
    if (!enet_host_connect(t->host, &addr, GV_CH_COUNT, connect_data)) {
        gv_transport_destroy(t);
        return GV_ENET;
    }
    *out = t;
    return 0;
}

int gv_transport_open(gv_transport *t)
{
    if (!t || t->remote.port == 0)
        return GV_EINVAL;
    t->cookie_retries = 0;
    ENetPeer *p = enet_host_connect(t->host, &t->remote, GV_CH_COUNT, t->connect_data);
    return p ? (int)(p - t->host->peers) : GV_ENET;
}

int gv_transport_retarget(gv_transport *t, const char *host, uint16_t port)
{
    ENetAddress addr = t->remote;
    if (host && enet_address_set_host(&addr, host) != 0)
        return GV_ENOTFOUND;
    addr.port = port;
    t->remote = addr;
    return 0;
}

void gv_transport_set_admit(gv_transport *t, gv_transport_admit_fn fn, void *ctx)
{
    t->admit = fn;
    t->admit_ctx = ctx;
}

void gv_transport_set_datagram(gv_transport *t, gv_transport_datagram_fn fn, void *ctx)
{
    t->datagram = fn;
    t->datagram_ctx = ctx;
}

static void release_received(gv_transport *t)
{
    if (t->received)
        enet_packet_destroy(t->received);
    t->received = NULL;
}

void gv_transport_destroy(gv_transport *t)
{
    if (!t)
        return;
    release_received(t);
    enet_host_flush(t->host);
    account_sent(t);
    t->host->compressor.context = NULL;
    enet_host_destroy(t->host);
    free(t->connected_at);
    free(t);
}

uint16_t gv_transport_port(const gv_transport *t)
{
    ENetAddress addr;
    if (!t || enet_socket_get_address(t->host->socket, &addr) != 0)
        return 0;
    return addr.port;
}

int gv_transport_fd(const gv_transport *t)
{
    return t ? (int)t->host->socket : -1;
}

const gv_transport_stats *gv_transport_get_stats(const gv_transport *t)
{
    return &t->stats;
}

static ENetPeer *peer_at(const gv_transport *t, int peer)
{
    return peer >= 0 && (size_t)peer < t->host->peerCount ? &t->host->peers[peer] : NULL;
}

int gv_transport_send(gv_transport *t, int peer, uint8_t channel, const uint8_t *data, size_t len, int fragment)
{
    ENetPeer *p = t ? peer_at(t, peer) : NULL;
    if (!p || !data || len == 0 || channel >= GV_CH_COUNT)
        return GV_EINVAL;
    int reliable = channel == GV_CH_CONTROL;
    enet_uint32 flags = reliable ? ENET_PACKET_FLAG_RELIABLE : ENET_PACKET_FLAG_UNSEQUENCED;
    if (!reliable && len > GV_TRANSPORT_MAX_UNRELIABLE) {
        if (!fragment)
            return GV_ETOOBIG;
        flags = ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT;
    }
    ENetPacket *pkt = enet_packet_create(data, len, flags);
    if (!pkt)
        return GV_ENOMEM;
    if (enet_peer_send(p, channel, pkt) != 0) {
        enet_packet_destroy(pkt);
        return GV_ENET;
    }
    return 0;
}

int gv_transport_send_datagram(gv_transport *t, int peer, const uint8_t *data, size_t len)
{
    ENetPeer *p = t ? peer_at(t, peer) : NULL;
    if (!p || !data || len == 0 || len > GV_MTU || p->state != ENET_PEER_STATE_CONNECTED)
        return GV_EINVAL;
    ENetBuffer buf = {.data = (void *)data, .dataLength = len};
    if (enet_socket_send(t->host->socket, &p->address, &buf, 1) != (int)len)
        return GV_ENET;
    t->stats.datagrams_out++;
    t->stats.bytes_out += len;
    if (len > t->stats.max_datagram_out)
        t->stats.max_datagram_out = len;
    return 0;
}

void gv_transport_peer_move(gv_transport *t, int peer, const gv_addr *to)
{
    ENetPeer *p = peer_at(t, peer);
    if (p && to) {
        p->address.host = to->host;
        p->address.port = to->port;
    }
}

void gv_transport_flush(gv_transport *t)
{
    enet_host_flush(t->host);
    account_sent(t);
}

/* ENet throttles unreliable packets: when a peer's round trip varies it
 * silently drops a share of them at the sender, and a busy relay's round
 * trips always vary. Voice has its own answer to congestion (receivers
 * report loss, senders adapt Opus), so the throttle is pinned open on both
 * ends of every connection. */
static void unthrottle(ENetPeer *peer)
{
    peer->packetThrottle = ENET_PEER_PACKET_THROTTLE_SCALE;
    peer->packetThrottleLimit = ENET_PEER_PACKET_THROTTLE_SCALE;
    peer->packetThrottleAcceleration = ENET_PEER_PACKET_THROTTLE_SCALE;
    peer->packetThrottleDeceleration = 0;
}

/* ENet drops a peer once a reliable command has gone unacknowledged for
 * the maximum, or for the minimum after 32 attempts: both are the
 * transport's timeout, so it alone decides. */
static void set_timeout(const gv_transport *t, ENetPeer *peer)
{
    enet_peer_timeout(peer, 32, t->peer_timeout_ms, t->peer_timeout_ms);
}

/* A connected peer gets gvoip's settings whichever side it is: the throttle
 * open; no datagram larger than gvoip's (a connecting peer's MTU is what it
 * asked for); and session timeouts (the listener had cut them to one
 * attempt while the peer was half-open, see limit_verify). */
static void on_connected(gv_transport *t, ENetPeer *peer)
{
    /* ENet dates a peer's last news by acknowledgements only (and reads
     * a 0 as "no round trip measured yet": it is not ours to set), and a
     * connector's peer is connected by VERIFY_CONNECT without one: its
     * silence counts from now at the earliest (expire_silent). */
    t->connected_at[peer - t->host->peers] = t->host->serviceTime;
    unthrottle(peer);
    if (peer->mtu > GV_ENET_MTU)
        peer->mtu = GV_ENET_MTU;
    set_timeout(t, peer);
}

int gv_transport_set_peer_timeout(gv_transport *t, uint32_t ms)
{
    if (!t || ms < GV_TRANSPORT_TIMEOUT_MIN_MS || ms > GV_TRANSPORT_TIMEOUT_MAX_MS)
        return GV_EINVAL;
    t->peer_timeout_ms = ms;
    for (size_t i = 0; i < t->host->peerCount; i++)
        if (t->host->peers[i].state == ENET_PEER_STATE_CONNECTED)
            set_timeout(t, &t->host->peers[i]);
    return 0;
}

static int to_event(gv_transport *t, int rc, const ENetEvent *e, gv_transport_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (rc <= 0)
        return rc < 0 ? GV_ENET : 0;
    if (!e->peer) /* the wake-up of a datagram handler */
        return 0;
    ev->peer = (int)(e->peer - t->host->peers);
    ev->data = e->data;
    switch (e->type) {
    case ENET_EVENT_TYPE_CONNECT:
        on_connected(t, e->peer);
        ev->type = GV_TRANSPORT_CONNECT;
        return 1;
    case ENET_EVENT_TYPE_DISCONNECT:
        ev->type = GV_TRANSPORT_DISCONNECT;
        return 1;
    case ENET_EVENT_TYPE_RECEIVE:
        /* An empty packet carries no gvoip message: nothing to hand out. */
        if (e->packet->dataLength == 0) {
            enet_packet_destroy(e->packet);
            return 0;
        }
        t->received = e->packet;
        ev->type = GV_TRANSPORT_RECEIVE;
        ev->channel = e->channelID;
        ev->packet = e->packet->data;
        ev->len = e->packet->dataLength;
        return 1;
    default:
        return 0;
    }
}

/* ENet notices a silent peer only when it resends a reliable command, at
 * intervals that double from the round trip: the first check past the
 * timeout can come up to twice the timeout, plus a ping interval, after
 * the silence began (a 2 s timeout was seen to fire 4.5 s late). Every
 * 100 ms, a connected peer that has acknowledged nothing for the timeout
 * (ENet's pings make sure a live one does twice a second) is
 * disconnected here instead, one per call. */
static int expire_silent(gv_transport *t, gv_transport_event *ev)
{
    ENetHost *h = t->host;
    if (!t->peer_timeout_ms || ENET_TIME_DIFFERENCE(h->serviceTime, t->last_sweep) < 100)
        return 0;
    for (size_t i = 0; i < h->peerCount; i++) {
        ENetPeer *p = &h->peers[i];
        if (p->state != ENET_PEER_STATE_CONNECTED)
            continue;
        enet_uint32 heard = t->connected_at[i];
        if (p->lastReceiveTime && ENET_TIME_LESS(heard, p->lastReceiveTime))
            heard = p->lastReceiveTime;
        if (ENET_TIME_DIFFERENCE(h->serviceTime, heard) < t->peer_timeout_ms)
            continue;
        enet_peer_reset(p);
        memset(ev, 0, sizeof *ev);
        ev->type = GV_TRANSPORT_DISCONNECT;
        ev->peer = (int)i;
        return 1;
    }
    t->last_sweep = h->serviceTime;
    return 0;
}

int gv_transport_service(gv_transport *t, gv_transport_event *ev, uint32_t timeout_ms)
{
    ENetEvent e;
    release_received(t);
    int rc = enet_host_service(t->host, &e, timeout_ms);
    if (t->admitted)
        limit_verify(t);
    account_sent(t);
    int got = to_event(t, rc, &e, ev);
    if (got == 0 && rc > 0)
        got = gv_transport_pending(t, ev);
    return got == 0 ? expire_silent(t, ev) : got;
}

int gv_transport_pending(gv_transport *t, gv_transport_event *ev)
{
    ENetEvent e;
    release_received(t);
    /* An empty packet is skipped here, not reported as "none left". */
    for (;;) {
        int rc = enet_host_check_events(t->host, &e);
        int got = to_event(t, rc, &e, ev);
        if (got != 0 || rc <= 0)
            return got;
    }
}

int gv_transport_drain(gv_transport *t, uint32_t timeout_ms, int refill, gv_transport_handler fn, void *ctx)
{
    gv_transport_event ev;
    int rc = gv_transport_service(t, &ev, timeout_ms);
    for (int budget = 256; rc > 0 && budget > 0; budget--) {
        fn(ctx, &ev);
        rc = gv_transport_pending(t, &ev);
        if (rc == 0 && refill)
            rc = gv_transport_service(t, &ev, 0);
    }
    release_received(t);
    return rc < 0 ? rc : 0;
}

int gv_transport_wait(gv_transport *t, uint64_t us)
{
    int fd = (int)t->host->socket;
    if (fd >= FD_SETSIZE) {
        /* poll has only milliseconds: round up, never spin. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t ms = (us + 999) / 1000;
        return poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms) > 0;
    }
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(fd, &readable);
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000};
    return pselect(fd + 1, &readable, NULL, NULL, &ts, NULL) > 0;
}

size_t gv_transport_peers(const gv_transport *t)
{
    return t->host->peerCount;
}

int gv_transport_peer_open(const gv_transport *t, int peer)
{
    const ENetPeer *p = peer_at(t, peer);
    return p && p->state != ENET_PEER_STATE_DISCONNECTED && p->state != ENET_PEER_STATE_ZOMBIE;
}

int gv_transport_peer_connected(const gv_transport *t, int peer)
{
    const ENetPeer *p = peer_at(t, peer);
    return p && p->state == ENET_PEER_STATE_CONNECTED;
}

gv_addr gv_transport_peer_addr(const gv_transport *t, int peer)
{
    const ENetPeer *p = peer_at(t, peer);
    return p ? (gv_addr){.host = p->address.host, .port = p->address.port} : (gv_addr){0, 0};
}

uint32_t gv_transport_peer_rtt_ms(const gv_transport *t, int peer)
{
    const ENetPeer *p = peer_at(t, peer);
    return p ? p->roundTripTime : 0;
}

uint32_t gv_transport_peer_silent_ms(const gv_transport *t, int peer)
{
    const ENetPeer *p = peer_at(t, peer);
    if (!p || p->state != ENET_PEER_STATE_CONNECTED)
        return UINT32_MAX;
    return ENET_TIME_DIFFERENCE(t->host->serviceTime, p->lastReceiveTime);
}

void gv_transport_peer_heard(gv_transport *t, int peer)
{
    ENetPeer *p = peer_at(t, peer);
    /* ENet reads a lastReceiveTime of 0 as "no round trip measured yet". */
    if (p && p->state == ENET_PEER_STATE_CONNECTED && p->lastReceiveTime)
        p->lastReceiveTime = t->host->serviceTime ? t->host->serviceTime : 1;
}

void gv_transport_disconnect(gv_transport *t, int peer, uint32_t data, enum gv_transport_close how)
{
    ENetPeer *p = peer_at(t, peer);
    if (!p)
        return;
    if (how == GV_TRANSPORT_NOW)
        enet_peer_disconnect_now(p, data);
    else if (how == GV_TRANSPORT_LATER)
        enet_peer_disconnect_later(p, data);
    else
        enet_peer_disconnect(p, data);
}

void gv_transport_reset(gv_transport *t, int peer)
{
    ENetPeer *p = peer_at(t, peer);
    if (p)
        enet_peer_reset(p);
}

int gv_transport_screen(gv_transport *t, const gv_addr *from, uint8_t *datagram, size_t len, int checksum,
                        int cookie_retries, int *admitted)
{
    ENetHost *h = t->host;
    ENetEvent e;
    memset(&e, 0, sizeof e);
    if (cookie_retries >= 0)
        t->cookie_retries = cookie_retries;
    t->admitted = 0;
    h->checksum = checksum ? checksum_hook : NULL;
    h->receivedAddress.host = from->host;
    h->receivedAddress.port = from->port;
    h->receivedData = datagram;
    h->receivedDataLength = len;
    int rc = intercept(h, &e);
    *admitted = t->admitted;
    h->checksum = checksum_hook;
    h->receivedData = NULL;
    h->receivedDataLength = 0;
    return rc;
}

int gv_transport_cookie_retries(const gv_transport *t)
{
    return t->cookie_retries;
}

int gv_transport_connect_pending(const gv_transport *t, uint8_t id[4])
{
    for (size_t i = 0; t->remote.port != 0 && i < t->host->peerCount; i++) {
        const ENetPeer *p = &t->host->peers[i];
        if (p->state == ENET_PEER_STATE_CONNECTING) {
            memcpy(id, &p->connectID, 4);
            return 1;
        }
    }
    return 0;
}
