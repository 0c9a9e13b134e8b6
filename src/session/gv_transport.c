#include "session/gv_transport.h"

#include <string.h>

#include <enet/protocol.h>

#include "gvoip/error.h"
#include "packet/gv_msg.h"

/* ENet's host has no user-data slot, but its compressor has a context
 * pointer that ENet only uses together with compress/decompress callbacks.
 * gvoip never compresses (Opus payloads do not shrink), so the context
 * carries the transport back to the intercept callback. */
static gv_transport *transport_of(ENetHost *host)
{
    return (gv_transport *)host->compressor.context;
}

/* Reads the first command of a raw ENet datagram; CONNECT is the one that
 * makes ENet allocate a peer, so it is the one screened. */
static int intercept(ENetHost *host, ENetEvent *event)
{
    (void)event;
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
        t->stats.screened++;
        return 1;
    }
    if (len < header + sizeof(ENetProtocolConnect))
        return 0;
    const ENetProtocolConnect *cmd = (const ENetProtocolConnect *)(d + header);
    if ((cmd->header.command & ENET_PROTOCOL_COMMAND_MASK) != ENET_PROTOCOL_COMMAND_CONNECT || !t->admit)
        return 0;
    uint32_t data;
    memcpy(&data, &cmd->data, sizeof data);
    if (t->admit(t->admit_ctx, &host->receivedAddress, ENET_NET_TO_HOST_32(data)))
        return 0;
    t->stats.connects_refused++;
    t->stats.screened++;
    return 1;
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
    if (size > h->mtu)
        size = h->mtu;
    if (size > t->stats.max_datagram_out)
        t->stats.max_datagram_out = size;
    h->totalSentPackets = 0;
    h->totalSentData = 0;
    h->totalReceivedData = 0;
    h->totalReceivedPackets = 0;
}

static void setup(gv_transport *t)
{
    t->host->mtu = GV_MTU;
    t->host->checksum = enet_crc32;
    t->host->compressor.context = t;
    t->host->intercept = intercept;
    t->host->maximumPacketSize = 64 * 1024;
}

int gv_transport_listen(gv_transport *t, const char *bind_address, uint16_t port, size_t peers)
{
    if (!t || peers == 0 || peers > ENET_PROTOCOL_MAXIMUM_PEER_ID)
        return GV_EINVAL;
    memset(&t->stats, 0, sizeof t->stats);
    ENetAddress addr = {.host = ENET_HOST_ANY, .port = port};
    if (bind_address && *bind_address && enet_address_set_host(&addr, bind_address) != 0)
        return GV_ENET;
    t->host = enet_host_create(&addr, peers, GV_CH_COUNT, 0, 0);
    if (!t->host)
        return GV_ENET;
    setup(t);
    return 0;
}

int gv_transport_connect(gv_transport *t, const char *host, uint16_t port, uint32_t connect_data, ENetPeer **peer)
{
    if (!t || !host || !peer)
        return GV_EINVAL;
    memset(&t->stats, 0, sizeof t->stats);
    ENetAddress addr = {.port = port};
    if (enet_address_set_host(&addr, host) != 0)
        return GV_ENOTFOUND;
    t->host = enet_host_create(NULL, 1, GV_CH_COUNT, 0, 0);
    if (!t->host)
        return GV_ENET;
    setup(t);
    *peer = enet_host_connect(t->host, &addr, GV_CH_COUNT, connect_data);
    if (!*peer) {
        enet_host_destroy(t->host);
        t->host = NULL;
        return GV_ENET;
    }
    return 0;
}

void gv_transport_close(gv_transport *t)
{
    if (!t || !t->host)
        return;
    enet_host_flush(t->host);
    account_sent(t);
    t->host->compressor.context = NULL;
    enet_host_destroy(t->host);
    t->host = NULL;
}

uint16_t gv_transport_port(const gv_transport *t)
{
    ENetAddress addr;
    if (!t || !t->host || enet_socket_get_address(t->host->socket, &addr) != 0)
        return 0;
    return addr.port;
}

int gv_transport_send(gv_transport *t, ENetPeer *peer, uint8_t channel, const uint8_t *data, size_t len,
                      int fragment)
{
    if (!t || !peer || !data || len == 0 || channel >= GV_CH_COUNT)
        return GV_EINVAL;
    int reliable = channel == GV_CH_CONTROL;
    enet_uint32 flags = reliable ? ENET_PACKET_FLAG_RELIABLE : ENET_PACKET_FLAG_UNSEQUENCED;
    if (!reliable && len > GV_TRANSPORT_MAX_UNRELIABLE) {
        if (!fragment)
            return GV_ETOOBIG;
        flags = ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT;
    }
    ENetPacket *p = enet_packet_create(data, len, flags);
    if (!p)
        return GV_ENOMEM;
    if (enet_peer_send(peer, channel, p) != 0) {
        enet_packet_destroy(p);
        return GV_ENET;
    }
    return 0;
}

void gv_transport_flush(gv_transport *t)
{
    enet_host_flush(t->host);
    account_sent(t);
}

int gv_transport_service(gv_transport *t, ENetEvent *ev, uint32_t timeout_ms)
{
    int rc = enet_host_service(t->host, ev, timeout_ms);
    account_sent(t);
    return rc < 0 ? GV_ENET : rc;
}
