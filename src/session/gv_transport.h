/* The ENet host every gvoip endpoint sits on: created with gvoip's MTU and
 * ENet's CRC32 checksum, its traffic counted exactly, and raw datagrams
 * screened before ENet keeps any state for them. ENet stays inside this
 * module: callers see peers as small indices, addresses as gv_addr and
 * what happens as gv_transport_event, so a session can be driven by
 * something other than sockets. */
#ifndef GV_TRANSPORT_H
#define GV_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "packet/gv_msg.h"

typedef struct gv_transport gv_transport;

/* An IPv4 address as it travels: host in network byte order, port in the
 * machine's. */
typedef struct gv_addr {
    uint32_t host;
    uint16_t port;
} gv_addr;

typedef struct gv_transport_stats {
    uint64_t datagrams_in, bytes_in, max_datagram_in;
    uint64_t datagrams_out, bytes_out, max_datagram_out;
    uint64_t screened; /* datagrams dropped before ENet saw them */
    uint64_t connects_refused;
    uint64_t cookies_sent;     /* listener: cookie datagrams answered instead of a peer */
    uint64_t cookies_received; /* connector: cookie datagrams that made it retry */
} gv_transport_stats;

typedef enum gv_transport_event_type {
    GV_TRANSPORT_NONE = 0,
    GV_TRANSPORT_CONNECT,    /* a peer finished ENet's handshake; data: its CONNECT data word */
    GV_TRANSPORT_DISCONNECT, /* a peer is gone; data: the DISCONNECT data word (0 on a timeout) */
    GV_TRANSPORT_RECEIVE,    /* a packet arrived on channel */
} gv_transport_event_type;

typedef struct gv_transport_event {
    gv_transport_event_type type;
    int peer; /* index, 0 .. gv_transport_peers() - 1 */
    uint32_t data;
    uint8_t channel;
    /* RECEIVE: the packet, never empty, the transport's until the next
     * call that services, drains or destroys it. */
    const uint8_t *packet;
    size_t len;
} gv_transport_event;

/* What an admission callback decides about one ENet CONNECT. */
enum gv_admit_verdict {
    GV_ADMIT_DROP = 0,   /* drop silently; ENet never sees it */
    GV_ADMIT_PASS = 1,   /* let ENet allocate a peer */
    GV_ADMIT_COOKIE = 2, /* answer with a cookie datagram carrying *cookie; keep no state */
};

/* Decides, before ENet allocates a peer, whether a connection attempt from
 * `from` may proceed. connect_data is the CONNECT's data word (bits 0-7 the
 * protocol version, bits 8-31 a cookie or 0). Returns a gv_admit_verdict;
 * for GV_ADMIT_COOKIE it stores the 24-bit cookie in *cookie. It runs
 * between two datagrams, so it may reset peers (gv_transport_reset). */
typedef int (*gv_transport_admit_fn)(void *ctx, const gv_addr *from, uint32_t connect_data, uint32_t *cookie);

/* The cookie datagram (docs/protocol.md): "GVCK", version, 24-bit cookie,
 * the 4 connectID bytes of the CONNECT it answers. Its first byte carries
 * ENet's compressed flag, which gvoip never sets, so no ENet datagram of a
 * gvoip peer can be mistaken for it. */
#define GV_COOKIE_DATAGRAM 12
#define GV_COOKIE_RETRIES 3 /* cookie answers a connector follows per connect */

/* Once per process, before any transport: ENet's own setup. 0 or GV_ENET. */
int gv_transport_init(void);

/* Binds a listening host (bind_address NULL: any) with room for `peers`
 * peers. port 0 picks a free port: read it with gv_transport_port. The
 * caller owns *out. GV_EINVAL, GV_ENOMEM or GV_ENET. */
int gv_transport_listen(const char *bind_address, uint16_t port, size_t peers, gv_transport **out);

/* A connector: a host with room for two outgoing peers (a session and
 * the one that may replace it, on the same socket) that takes no
 * connections, connecting peer 0 to host:port; connect_data travels in
 * ENet's CONNECT command (gvoip puts its protocol version there). When the
 * server answers with a cookie datagram the transport reconnects that peer
 * at once with the cookie in bits 8-31. Its socket is bound to
 * bind_address (NULL or "": any) on a port the system picks. GV_EINVAL,
 * GV_ENOTFOUND (host), GV_ENOMEM or GV_ENET (also a bind_address that does
 * not resolve or cannot be bound). */
#define GV_TRANSPORT_CONNECTOR_PEERS 2
int gv_transport_connect(const char *bind_address, const char *host, uint16_t port, uint32_t connect_data,
                         gv_transport **out);

/* Connector: a new connection to the same server with the same connect
 * data on a free peer (a fresh connectID, the cookie budget renewed).
 * Returns its peer index, GV_EINVAL or GV_ENET (no free peer: reset one
 * first). */
int gv_transport_open(gv_transport *t);

/* Connector: connections opened from now on go to port on host (NULL:
 * the same host), as a server with many workers, or a node of a fleet,
 * sent us to the one that holds our lobby. A host name is resolved here,
 * blocking. 0, or GV_ENOTFOUND (the host does not resolve; nothing
 * changed). */
int gv_transport_retarget(gv_transport *t, const char *host, uint16_t port);

/* Listener: every CONNECT is screened by fn from now on. */
void gv_transport_set_admit(gv_transport *t, gv_transport_admit_fn fn, void *ctx);

/* Receives every datagram that sets ENet's compressed flag, except the
 * cookie: gvoip's voice datagrams (gv_datagram), which never reach ENet.
 * It runs inside a service call, between two datagrams ENet reads, so it
 * may send datagrams and queue packets; data is valid during the call.
 * Returning 1 ends the service call (with no event) instead of letting it
 * wait on: the caller has something to do. */
typedef int (*gv_transport_datagram_fn)(void *ctx, const gv_addr *from, const uint8_t *data, size_t len);

/* Voice datagrams go to fn from now on; without one they are screened. */
void gv_transport_set_datagram(gv_transport *t, gv_transport_datagram_fn fn, void *ctx);

/* Sends one datagram (at most GV_MTU bytes) to a connected peer's address
 * now, outside ENet. 0, GV_EINVAL or GV_ENET. */
int gv_transport_send_datagram(gv_transport *t, int peer, const uint8_t *data, size_t len);

/* The peer is at `to` from now on, for ENet as for datagrams: its NAT
 * gave it a new address, which a datagram authenticated as its own has
 * shown. */
void gv_transport_peer_move(gv_transport *t, int peer, const gv_addr *to);

/* Sends what is queued and frees. NULL: no-op. */
void gv_transport_destroy(gv_transport *t);

uint16_t gv_transport_port(const gv_transport *t);

/* The UDP socket's descriptor, for a caller's own poll(); -1 for NULL. */
int gv_transport_fd(const gv_transport *t);

const gv_transport_stats *gv_transport_get_stats(const gv_transport *t);

/* Queues one packet; voice goes unsequenced and unreliable, control
 * reliable. An unreliable packet that would not fit one datagram is refused
 * (GV_ETOOBIG) unless `fragment` (the raw baseline only), which lets ENet
 * split it. 0, GV_EINVAL, GV_ENOMEM or GV_ENET. */
int gv_transport_send(gv_transport *t, int peer, uint8_t channel, const uint8_t *data, size_t len, int fragment);

/* Sends what is queued now and accounts the datagrams that left. */
void gv_transport_flush(gv_transport *t);

/* One pass of ENet (send, receive, timers) waiting up to timeout_ms for
 * an event. A listener also makes sure a peer ENet just allocated for a
 * CONNECT answers it with one VERIFY_CONNECT only, so a spoofed CONNECT is
 * never answered with more bytes than it carried. Every connected peer has
 * gvoip's timeouts, MTU and an open throttle. 1 with *ev filled, 0, or
 * GV_ENET. */
int gv_transport_service(gv_transport *t, gv_transport_event *ev, uint32_t timeout_ms);

/* The next event ENet has already received, without sending or receiving
 * anything. 1 with *ev filled, 0 when none is left, or GV_ENET. */
int gv_transport_pending(gv_transport *t, gv_transport_event *ev);

typedef void (*gv_transport_handler)(void *ctx, const gv_transport_event *ev);

/* Services once (waiting up to timeout_ms) and hands every event to fn, at
 * most 256 a call. With `refill`, ENet goes back to the socket whenever
 * the received events are used up (a client: acknowledgements leave
 * sooner); without, only what that one pass received is handed out, and a
 * server that flushes once afterwards puts all of a pass's commands to a
 * peer in one datagram. 0 or GV_ENET. */
int gv_transport_drain(gv_transport *t, uint32_t timeout_ms, int refill, gv_transport_handler fn, void *ctx);

/* Waits up to us microseconds for a datagram, without servicing ENet:
 * finer than ENet's millisecond timeouts. 1 when one has arrived, 0 on
 * timeout, a signal or an error (the next service call reports those). */
int gv_transport_wait(gv_transport *t, uint64_t us);

/* Peer slots: a listener's `peers`, a connector's 1. */
size_t gv_transport_peers(const gv_transport *t);

/* 1 when ENet holds state for the peer (connecting, connected or leaving). */
int gv_transport_peer_open(const gv_transport *t, int peer);

/* 1 when the peer is connected and not leaving. */
int gv_transport_peer_connected(const gv_transport *t, int peer);

gv_addr gv_transport_peer_addr(const gv_transport *t, int peer);

/* ENet's running estimate of the peer's round trip, in ms (0 for no
 * peer). */
uint32_t gv_transport_peer_rtt_ms(const gv_transport *t, int peer);

enum gv_transport_close {
    GV_TRANSPORT_LATER, /* after what is queued; the peer acknowledges */
    GV_TRANSPORT_NOW,   /* one unreliable DISCONNECT, and the peer is forgotten (no event) */
    GV_TRANSPORT_GRACEFUL, /* at once; the peer acknowledges, then a DISCONNECT event */
};

/* How long a connected peer may acknowledge nothing before it is gone
 * (ENet's own default is as little as 5 s under a stall; gvoip's is long
 * enough for a closed laptop lid or a debugger's pause). */
#define GV_TRANSPORT_TIMEOUT_MIN_MS 1000u
#define GV_TRANSPORT_TIMEOUT_MAX_MS 600000u
#define GV_TRANSPORT_TIMEOUT_DEFAULT_MS 10000u

/* Sets that time for every connected peer and those to come. 0 or
 * GV_EINVAL (out of range). */
int gv_transport_set_peer_timeout(gv_transport *t, uint32_t ms);

/* How long ago, as of the last service call, the peer was last heard:
 * an acknowledgement, or an authenticated datagram the caller reported
 * with gv_transport_peer_heard (ENet's pings make it at least twice a
 * second while the peer is there); UINT32_MAX when it is not connected. */
uint32_t gv_transport_peer_silent_ms(const gv_transport *t, int peer);

/* The caller has authenticated a datagram from the peer: it is alive, as
 * surely as an acknowledgement would prove. ENet pings a peer only after
 * half a second without an acknowledgement, so while voice flows neither
 * the ping nor its acknowledgement is sent: the keepalive is passive, as
 * WireGuard's. Round trips are still measured on the reliable messages. */
void gv_transport_peer_heard(gv_transport *t, int peer);

/* Disconnects a peer telling it `data` (gvoip: a refuse code). */
void gv_transport_disconnect(gv_transport *t, int peer, uint32_t data, enum gv_transport_close how);

/* Forgets a peer at once, sending nothing and raising no event. */
void gv_transport_reset(gv_transport *t, int peer);

/* ENet's checksum (the value enet_crc32 gives for the same buffers),
 * faster: the hook every gvoip host uses. Thread-safe. */
uint32_t gv_transport_crc32(const struct iovec *buffers, size_t count);

/* Fuzzing: one raw datagram through the screen, as if it had just arrived
 * from *from, with ENet's checksum on or off. cookie_retries >= 0 first
 * sets what a connector has spent. *admitted: a CONNECT was let through.
 * Returns 1 when screened, 0 when ENet would parse it. */
int gv_transport_screen(gv_transport *t, const gv_addr *from, uint8_t *datagram, size_t len, int checksum,
                        int cookie_retries, int *admitted);

/* Fuzzing: a connector's cookie retries spent so far, and whether its
 * attempt is pending, with the connectID of its CONNECT in id (as on the
 * wire). */
int gv_transport_cookie_retries(const gv_transport *t);
int gv_transport_connect_pending(const gv_transport *t, uint8_t id[4]);

/* ENet fills a datagram with commands up to its `mtu`, counting a 4-byte
 * header but not the 4-byte checksum it then appends, so a full datagram
 * can reach mtu + 4. ENet is told 8 bytes less than gvoip's limit. */
#define GV_ENET_MTU (GV_MTU - 8)

/* The largest packet ENet sends whole on the voice channel: above it ENet
 * would fragment (its mtu minus its 4-byte header and the 24-byte fragment
 * command it sizes fragments with). */
#define GV_TRANSPORT_MAX_UNRELIABLE (GV_ENET_MTU - 4 - 24)

#endif
