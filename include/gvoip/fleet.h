/* libgvoip-fleet: a fleet of gvoip servers ("nodes") sharing one Redis.
 *
 * Each node registers under a lease (a Redis key that expires unless the
 * node refreshes it) and a fresh epoch, a fencing token: whatever a node
 * wrote under an epoch counts only while its lease holds that epoch. A
 * game's backend asks gv_fleet_allocate which node hosts a lobby; the
 * first ask places the lobby on the live node with the most room, in one
 * Lua script, so concurrent asks from many backends agree.
 *
 * A separate library so that libgvoip itself never links hiredis. It is
 * built static only, hence no GV_API marks. It needs one Redis (a primary,
 * not a Redis Cluster: its scripts touch keys they compute). The keys are
 * described in docs/operations.md.
 *
 * Conventions are libgvoip's (gvoip/gvoip.h): every call that can fail
 * returns 0 (or a count) or a negative code of gvoip/error.h, listed in
 * its comment; strings and structs passed in are borrowed for the call;
 * structs with a `size` field carry the caller's sizeof. One gv_fleet is
 * one Redis connection and is used by one thread at a time; functions that
 * take no gv_fleet are thread-safe.
 *
 * Every call on a gv_fleet blocks for at most about timeout_ms per Redis
 * round trip. A connection found broken (Redis restarted, a timeout) is
 * replaced at the start of the next call, and a call whose command fails
 * on a connection an earlier call opened reconnects and retries it once:
 * every write here is idempotent or fenced by the epoch, so a retry whose
 * first try did reach Redis does no harm. */
#ifndef GVOIP_FLEET_H
#define GVOIP_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GV_FLEET_DEFAULT_PREFIX "gvoip:"
#define GV_FLEET_PREFIX_MAX 64           /* bytes of printable ASCII, no space */
#define GV_FLEET_DEFAULT_TIMEOUT_MS 500  /* connect, and each command */
#define GV_FLEET_DEFAULT_LEASE_MS 3000   /* refresh about every third of it */
#define GV_FLEET_LEASE_MS_MIN 50
#define GV_FLEET_LEASE_MS_MAX 86400000
#define GV_FLEET_TIMEOUT_MS_MAX 60000
#define GV_FLEET_ID_BYTES 33             /* 32 lowercase hex digits and a NUL */
#define GV_FLEET_ADDRESS_BYTES 262       /* HOST (1..255 bytes) ":" PORT, a NUL */
#define GV_FLEET_FINGERPRINT_BYTES 64    /* "SHA256:" and 43 base64 digits, a NUL */
#define GV_FLEET_LOBBY_MAX 64            /* a lobby's name, bytes; 0 is the default lobby */
#define GV_FLEET_RECLAIM_MAX 4096        /* lobbies per gv_fleet_reclaim call */

typedef struct gv_fleet gv_fleet;

typedef struct gv_fleet_config {
    uint32_t size; /* sizeof(gv_fleet_config), set by gv_fleet_config_default */
    /* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]: PORT 6379 and DB 0 by
     * default; HOST a name, a dotted IPv4 address or [IPv6]; USER and
     * PASSWORD percent-decoded (USER for an ACL user, none for the
     * default one). Required: the default is NULL. */
    const char *redis_url;
    const char *prefix; /* of every key; default GV_FLEET_DEFAULT_PREFIX */
    int timeout_ms;     /* 1..GV_FLEET_TIMEOUT_MS_MAX */
    /* How long a registration lives without a refresh:
     * GV_FLEET_LEASE_MS_MIN..GV_FLEET_LEASE_MS_MAX. Only a node's own
     * handle uses it (register and refresh set it as the expiry), so each
     * node may have its own. */
    int lease_ms;
} gv_fleet_config;

/* Fills *cfg with the defaults above, size included. NULL does nothing.
 * Thread-safe. */
void gv_fleet_config_default(gv_fleet_config *cfg);

/* Connects to Redis, authenticates when the URL has a password, selects
 * its database and checks that Redis answers. Returns 0 with *out the
 * caller's (free it with gv_fleet_destroy), or:
 *   GV_EINVAL  NULL cfg or out, a size this library does not know, a
 *              missing or malformed redis_url, a prefix or number out of
 *              the ranges above
 *   GV_ENOMEM  allocation failed
 *   GV_EAUTH   Redis refused the user or password, or wants one the URL
 *              does not give
 *   GV_EIO     Redis could not be reached or answered with an error (a
 *              database it does not have, ...)
 * On failure *out is NULL and a one-line reason for the user goes to why
 * (why_len bytes, NUL-terminated; why may be NULL); it never holds the
 * password. cfg and its strings are borrowed for the call. Thread-safe
 * for distinct out. */
int gv_fleet_create(const gv_fleet_config *cfg, gv_fleet **out, char *why, size_t why_len);

/* Closes the connection and frees f, wiping the password it kept for
 * reconnecting. Leaves Redis as it is (a node's lease lapses by itself;
 * see gv_fleet_leave). NULL is a no-op. The thread that uses f. */
void gv_fleet_destroy(gv_fleet *f);

/* The one-line reason for the last failure of a call on f (what Redis or
 * the network said), or "" when it succeeded. Owned by f, valid until the
 * next call on f. NULL f gives "". The thread that uses f. */
const char *gv_fleet_last_error(const gv_fleet *f);

/* ---- Nodes: a gvoip server's side ---- */

/* A node as it registers and as gv_fleet_list_nodes reports it. */
typedef struct gv_fleet_node {
    uint32_t size;                               /* the caller's sizeof(gv_fleet_node) */
    char id[GV_FLEET_ID_BYTES];                  /* from gv_fleet_node_id */
    char address[GV_FLEET_ADDRESS_BYTES];        /* "HOST:PORT" as players reach it */
    char fingerprint[GV_FLEET_FINGERPRINT_BYTES]; /* "SHA256:...", as gv_server_fingerprint gives */
    uint32_t protocol;                           /* gv_protocol_version(), 1 or more */
    /* What it may take: a node with no room for either is given no new
     * lobby (capacity 0 drains it). 0 or more. */
    int capacity_players, capacity_lobbies;
    /* Its load now, refreshed with the lease: 0 or more; cpu in cores
     * (0.35 is a third of one). forwarded_per_s and cpu are finite. */
    int players, lobbies;
    double forwarded_per_s, cpu;
} gv_fleet_node;

/* Writes a fresh node id, 32 lowercase hex digits of libsodium's
 * randombytes and a NUL, to out (GV_FLEET_ID_BYTES). Returns 0, GV_EINVAL
 * (NULL out) or GV_EKEY (libsodium could not start: no randomness).
 * Thread-safe. */
int gv_fleet_node_id(char out[GV_FLEET_ID_BYTES]);

/* Registers n under a new lease and a new epoch, larger than any epoch
 * this Redis gave before, even after it lost its data: an epoch is never
 * below Redis's clock in Unix microseconds (unless that clock is set
 * back). Whatever n->id held under an earlier epoch is forgotten: its
 * placements are removed (gv_fleet_reclaim puts back the lobbies the node
 * still hosts). Returns 0 with *epoch set, or:
 *   GV_EINVAL  NULL f, n or epoch, n->size other than sizeof(gv_fleet_node),
 *              an id not as gv_fleet_node_id makes them, an address not
 *              HOST:PORT, a fingerprint not "SHA256:" and 43 base64
 *              digits, protocol 0, or a number out of its range above
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f (see the end)
 * n is borrowed for the call. The thread that uses f. */
int gv_fleet_register(gv_fleet *f, const gv_fleet_node *n, uint64_t *epoch);

/* Renews n's lease and records its load (every field of n). Call it about
 * every lease_ms / 3. Returns 0, or:
 *   GV_ESTATE  the lease lapsed or another registration of n->id took a
 *              newer epoch: nothing was written; the node must register
 *              again and reclaim its lobbies
 *   GV_EINVAL  as for gv_fleet_register, or an epoch it did not give (0,
 *              2^53 or more)
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f
 * The thread that uses f. */
int gv_fleet_refresh(gv_fleet *f, const gv_fleet_node *n, uint64_t epoch);

/* A lobby a node hosts, for gv_fleet_reclaim. Passed in arrays, so it has
 * no size field and never changes. */
typedef struct gv_fleet_lobby {
    char name[GV_FLEET_LOBBY_MAX + 1]; /* raw bytes, len of them */
    size_t len;                        /* 0..GV_FLEET_LOBBY_MAX; 0: the default lobby */
    uint64_t opened_ms;                /* Unix ms it opened on this node (below 2^53); 0: now, by Redis's clock */
} gv_fleet_lobby;

/* Asserts that node_id (registered under epoch, lease alive) hosts each of
 * the n lobbies. A lobby with a valid placement on another node stays
 * there only if that placement is older (created earlier; equal times go
 * to the smaller node id); otherwise it is placed on node_id, whatever its
 * room, with created = opened_ms. lost_out[i] (when lost_out is not NULL)
 * becomes 0 for a lobby this node holds, 1 for one it lost: the node must
 * close it, and its players join again wherever gv_fleet_allocate sends
 * them. One atomic script for all n. Returns how many were lost (0..n), or:
 *   GV_ESTATE  node_id's lease lapsed or has another epoch: nothing was
 *              written (register again, then reclaim)
 *   GV_EINVAL  NULL f, NULL lobbies with n > 0, node_id not an id, an
 *              epoch gv_fleet_register did not give (0, 2^53 or more), n
 *              out of 0..GV_FLEET_RECLAIM_MAX, a len above
 *              GV_FLEET_LOBBY_MAX, an opened_ms of 2^53 or more
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f
 * lobbies is borrowed; lost_out (n ints) is the caller's and written only
 * on success. The thread that uses f. */
int gv_fleet_reclaim(gv_fleet *f, const char *node_id, uint64_t epoch, const gv_fleet_lobby *lobbies, int n,
                     int *lost_out);

/* The node closed lobby (len bytes): its placement goes, if it is still
 * node_id's under epoch (lease alive or not). Returns 0 when it was
 * removed, or:
 *   GV_ENOTFOUND  the lobby is not placed on node_id under epoch (never
 *                 was, released already, or another node holds it now):
 *                 nothing changed
 *   GV_EINVAL     NULL f, node_id not an id, epoch 0 or from 2^53, NULL
 *                 lobby with len > 0, len above GV_FLEET_LOBBY_MAX
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f
 * The thread that uses f. */
int gv_fleet_release(gv_fleet *f, const char *node_id, uint64_t epoch, const char *lobby, size_t len);

/* Placements on node_id that it does not hold (none of the n lobbies of
 * held: those open or about to open on the node) and that were made more
 * than older_than_ms ago are removed: a backend placed them for players
 * who never came, and they would count against the node's room until it
 * registers again. Give an age past the time a player may take to arrive
 * after an allocation. Returns how many were removed (0 or more), or:
 *   GV_ESTATE  node_id's lease lapsed or has another epoch: nothing changed
 *   GV_EINVAL  NULL f, node_id not an id, epoch 0, held NULL with n > 0, n
 *              out of 0..GV_FLEET_RECLAIM_MAX, a len above
 *              GV_FLEET_LOBBY_MAX, older_than_ms of 2^53 or more
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f
 * held is borrowed (opened_ms is not used). The thread that uses f. */
int gv_fleet_prune(gv_fleet *f, const char *node_id, uint64_t epoch, const gv_fleet_lobby *held, int n,
                   uint64_t older_than_ms);

/* A graceful shutdown: removes node_id's registration and every placement
 * on it, so its lobbies go elsewhere at once rather than when the lease
 * lapses. Returns 0 (also when the lease had lapsed already), or:
 *   GV_ESTATE  node_id is registered under another epoch (a newer
 *              registration owns it): nothing changed
 *   GV_EINVAL  NULL f, node_id not an id, epoch 0 or from 2^53
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f
 * The thread that uses f. */
int gv_fleet_leave(gv_fleet *f, const char *node_id, uint64_t epoch);

/* Fills up to max entries of out with the live nodes, by id. out[0].size,
 * set by the caller, gives every entry's size (the array's stride); each
 * entry's size is set to the bytes written. Nodes whose lease lapsed are
 * pruned from the fleet on the way, with their placements. Returns the
 * count written (0..max), or:
 *   GV_EINVAL  NULL f, NULL out with max > 0, a negative max, out[0].size
 *              too small
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f
 * The thread that uses f. */
int gv_fleet_list_nodes(gv_fleet *f, gv_fleet_node *out, int max);

/* ---- Lobbies: the game's backend's side ---- */

typedef struct gv_fleet_placement {
    uint32_t size;                       /* the caller's sizeof(gv_fleet_placement), set before the call */
    char lobby[GV_FLEET_LOBBY_MAX + 1];  /* the name asked for, lobby_len bytes and a NUL */
    size_t lobby_len;
    char node[GV_FLEET_ID_BYTES];
    char address[GV_FLEET_ADDRESS_BYTES];        /* where players join: "HOST:PORT" */
    char fingerprint[GV_FLEET_FINGERPRINT_BYTES]; /* what they pin: "SHA256:..." */
    uint32_t protocol;
    uint64_t created_ms; /* Unix ms the placement was made (or the lobby opened, when reclaimed) */
    int placed_now;      /* 1: this call placed it; 0: it was placed before */
} gv_fleet_placement;

/* The node that hosts lobby (len bytes, binary-safe): its valid placement
 * (the node's lease alive under the placement's epoch), or else, in the
 * same atomic script, a new placement on the live node speaking protocol
 * (0: any) with the most free lobby slots (capacity_lobbies minus the
 * lobbies placed on it), ties going to the fewest players, then the
 * smallest id; a node with no free lobby slot or players at or above
 * capacity_players is full. created_ms is then Redis's clock. Returns 0
 * with *out filled, or:
 *   GV_EVERSION   the lobby is placed on a node speaking another protocol
 *                 than a non-zero protocol: *out says where, and it stays
 *                 there (a lobby lives on one node)
 *   GV_EFULL      every live node speaking protocol is full
 *   GV_ENOTFOUND  no live node speaks protocol (or none is live)
 *   GV_EINVAL     NULL f or out, out->size too small, NULL lobby with
 *                 len > 0, len above GV_FLEET_LOBBY_MAX
 *   GV_EIO, GV_EAUTH, GV_ENOMEM  as for every call on f
 * *out is written only on 0 and GV_EVERSION. The thread that uses f. */
int gv_fleet_allocate(gv_fleet *f, const char *lobby, size_t len, uint32_t protocol, gv_fleet_placement *out);

/* Where lobby is, without placing it: returns 0 with *out filled
 * (placed_now 0), GV_ENOTFOUND when it is not placed or its placement is
 * void (its node's lease lapsed or was renewed under a newer epoch), or
 * the GV_EINVAL, GV_EIO, GV_EAUTH and GV_ENOMEM of gv_fleet_allocate.
 * Read-only. The thread that uses f. */
int gv_fleet_locate(gv_fleet *f, const char *lobby, size_t len, gv_fleet_placement *out);

/* Every call on a gv_fleet may also return:
 *   GV_EIO     Redis could not be reached within timeout_ms, the
 *              connection broke and reconnecting once failed, or Redis
 *              answered with an error (out of memory, read-only replica,
 *              ...); gv_fleet_last_error says which. The next call tries
 *              again on a new connection.
 *   GV_EAUTH   reconnecting, Redis refused the URL's user or password
 *   GV_ENOMEM  allocation failed */

#ifdef __cplusplus
}
#endif
#endif
