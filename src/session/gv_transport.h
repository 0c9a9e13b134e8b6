/* The ENet host every gvoip endpoint sits on: created with gvoip's MTU and
 * ENet's CRC32 checksum, its traffic counted exactly, and raw datagrams
 * screened before ENet keeps any state for them. */
#ifndef GV_TRANSPORT_H
#define GV_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <enet/enet.h>

typedef struct gv_transport_stats {
    uint64_t datagrams_in, bytes_in, max_datagram_in;
    uint64_t datagrams_out, bytes_out, max_datagram_out;
    uint64_t screened; /* datagrams dropped before ENet saw them */
    uint64_t connects_refused;
    uint64_t cookies_sent;     /* listener: cookie datagrams answered instead of a peer */
    uint64_t cookies_received; /* connector: cookie datagrams that made it retry */
} gv_transport_stats;

/* What an admission callback decides about one ENet CONNECT. */
enum gv_admit_verdict {
    GV_ADMIT_DROP = 0,   /* drop silently; ENet never sees it */
    GV_ADMIT_PASS = 1,   /* let ENet allocate a peer */
    GV_ADMIT_COOKIE = 2, /* answer with a cookie datagram carrying *cookie; keep no state */
};

/* Decides, before ENet allocates a peer, whether a connection attempt from
 * addr may proceed. connect_data is the CONNECT's data word (bits 0-7 the
 * protocol version, bits 8-31 a cookie or 0). Returns a gv_admit_verdict;
 * for GV_ADMIT_COOKIE it stores the 24-bit cookie in *cookie. */
typedef int (*gv_transport_admit_fn)(void *ctx, const ENetAddress *addr, uint32_t connect_data, uint32_t *cookie);

/* The cookie datagram (docs/protocol.md): "GVCK", version, 24-bit cookie,
 * the 4 connectID bytes of the CONNECT it answers. Its first byte carries
 * ENet's compressed flag, which gvoip never sets, so no ENet datagram of a
 * gvoip peer can be mistaken for it. */
#define GV_COOKIE_DATAGRAM 12
#define GV_COOKIE_RETRIES 3 /* cookie answers a connector follows per connect */

typedef struct gv_transport {
    ENetHost *host;
    gv_transport_stats stats;
    gv_transport_admit_fn admit;
    void *admit_ctx;
    int admitted; /* listener: a CONNECT went through since the last service */
    ENetAddress remote; /* connector: where to retry with a cookie */
    uint32_t connect_data;
    int cookie_retries;
} gv_transport;

/* Binds a listening host (bind_address NULL: any) with room for `peers`
 * peers. port 0 picks a free port: read it with gv_transport_port. The
 * transport struct is the caller's and must not move while in use. */
int gv_transport_listen(gv_transport *t, const char *bind_address, uint16_t port, size_t peers);

/* A host with one outgoing peer slot, connected to host:port; connect_data
 * travels in ENet's CONNECT command (gvoip puts its protocol version there).
 * When the server answers with a cookie datagram the transport reconnects
 * at once with the cookie in bits 8-31; *peer stays the same pointer. */
int gv_transport_connect(gv_transport *t, const char *host, uint16_t port, uint32_t connect_data, ENetPeer **peer);

/* Connector: drops the connection attempt of *peer and starts a new one
 * to the same server with the same connect data (a fresh connectID, the
 * cookie budget renewed); *peer stays the same pointer. */
int gv_transport_reconnect(gv_transport *t, ENetPeer **peer);

void gv_transport_close(gv_transport *t);

uint16_t gv_transport_port(const gv_transport *t);

/* Queues one packet; voice goes unsequenced and unreliable, control
 * reliable. An unreliable packet that would not fit one datagram is refused
 * unless `fragment` (the raw baseline only), which lets ENet split it. */
int gv_transport_send(gv_transport *t, ENetPeer *peer, uint8_t channel, const uint8_t *data, size_t len,
                      int fragment);

/* ENet's checksum (the value enet_crc32 gives), faster: the hook every
 * gvoip host uses. Thread-safe. */
enet_uint32 gv_transport_crc32(const ENetBuffer *buffers, size_t count);

/* Sends what is queued now and accounts the datagrams that left. */
void gv_transport_flush(gv_transport *t);

/* A connecting peer's MTU is what it asked for; never send it datagrams
 * larger than gvoip's. Call on ENet's CONNECT event. */
void gv_transport_clamp_mtu(ENetPeer *peer);

/* enet_host_service with the accounting around it. A listener also makes
 * sure a peer ENet just allocated for a CONNECT answers it with one
 * VERIFY_CONNECT only, so a spoofed CONNECT is never answered with more
 * bytes than it carried. */
int gv_transport_service(gv_transport *t, ENetEvent *ev, uint32_t timeout_ms);

/* Waits up to us microseconds for a datagram, without servicing ENet:
 * finer than ENet's millisecond timeouts. 1 when one has arrived, 0 on
 * timeout, a signal or an error (the next service call reports those). */
int gv_transport_wait(gv_transport *t, uint64_t us);

/* The UDP socket's descriptor, for a caller's own poll(); -1 without a
 * host. */
int gv_transport_fd(const gv_transport *t);

/* The next event ENet has already received, without sending or receiving
 * anything: a server that drains these before its one flush per pass puts
 * all of a pass's commands to a peer in one datagram. Returns 1 with *ev
 * filled, 0 when none is left, or a negative code. */
int gv_transport_pending(gv_transport *t, ENetEvent *ev);

/* ENet fills a datagram with commands up to its `mtu`, counting a 4-byte
 * header but not the 4-byte checksum it then appends, so a full datagram
 * can reach mtu + 4. ENet is told 8 bytes less than gvoip's limit. */
#define GV_ENET_MTU (GV_MTU - 8)

/* The largest packet ENet sends whole on the voice channel: above it ENet
 * would fragment (its mtu minus its 4-byte header and the 24-byte fragment
 * command it sizes fragments with). */
#define GV_TRANSPORT_MAX_UNRELIABLE (GV_ENET_MTU - 4 - 24)

#endif
