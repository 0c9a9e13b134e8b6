/* The lobby directory shared by the workers of one server, each a
 * gv_server on a thread and a UDP port of its own (the public half is in
 * gvoip.h): which worker holds a lobby, how many players and lobbies each
 * holds, and where a lobby nobody holds yet goes. A lobby lives on one
 * worker, so its voice never crosses threads; the directory's mutex is
 * taken only when a player joins, resumes or leaves and when a lobby
 * opens or closes, never for a voice packet.
 *
 * A lobby placed on a worker is pending until that worker opens it (the
 * player who asked is on their way there, redirected); one still pending
 * GV_DIRECTORY_PENDING_US later is forgotten, so a player who never
 * arrives holds no place. Time comes in as now_us. */
#ifndef GV_DIRECTORY_H
#define GV_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"

/* Twice a join's stage timeout: a redirected player's new connection,
 * handshake and HELLO fit in it, however slow the path. */
#define GV_DIRECTORY_PENDING_US 10000000u

/* One worker as placement sees it. */
typedef struct gv_directory_load {
    int attached; /* its server is running (it has a port) */
    int players;  /* away ones included */
    int lobbies;  /* open or pending */
} gv_directory_load;

/* A claim's answer for a lobby on another node of the fleet (the gate said
 * so): *where has its host and port. */
#define GV_DIRECTORY_NODE 1000000
/* A claim's answer when the gate found every node of the fleet full (its
 * GV_EFULL), told apart from this server's own limit. */
#define GV_DIRECTORY_FLEET_FULL (-1000000)

/* Where a join goes when its lobby is not on the worker it reached. */
typedef struct gv_directory_where {
    uint16_t port;
    char host[256]; /* "" this host */
} gv_directory_where;

/* A lobby a worker must close, its players sent on (gv_directory_revoke). */
typedef struct gv_directory_move {
    char name[GV_LOBBY_NAME_BYTES];
    size_t len;
    gv_directory_where to; /* port 0: the player's own */
} gv_directory_move;

/* Where a new lobby goes: the attached worker with the fewest players,
 * then the fewest lobbies, then the lowest index. The index, or -1 when
 * none of the n is attached. Pure; thread-safe. */
int gv_directory_place(const gv_directory_load *load, int n);

/* The server of worker (0..workers-1) runs on port: 0, GV_EINVAL (NULL d,
 * worker out of range, port 0) or GV_ESTATE (another server is that
 * worker already). */
int gv_directory_attach(gv_directory *d, int worker, uint16_t port);

/* That server is going: its lobbies leave the directory with it. */
void gv_directory_detach(gv_directory *d, int worker);

/* The worker that holds the lobby name (len bytes, 0: the default lobby)
 * for a join arriving at worker: the one that has it open or pending, or
 * else, when the gate (if any) places it on this node, the one placement
 * picks, where it is now pending. Returns that worker's index with its
 * port in where->port; GV_DIRECTORY_NODE with where filled when the gate
 * says another node holds it; GV_EFULL when the lobby would be one more
 * than max_lobbies (or the fleet is full), or the gate's own error. A
 * lobby pending on worker itself starts its wait again: the caller is
 * about to open it. The gate is asked without the lock. */
int gv_directory_claim(gv_directory *d, int worker, const char *name, size_t len, uint64_t now_us,
                       gv_directory_where *where);

/* The worker that holds the lobby, open or pending, with its port, for a
 * resume (which never opens one); GV_ENOTFOUND when none does. */
int gv_directory_find(gv_directory *d, const char *name, size_t len, uint64_t now_us, uint16_t *port);

/* Worker opened the lobby it claimed: it stays its own until closed. */
void gv_directory_opened(gv_directory *d, int worker, const char *name, size_t len);

/* Worker closed the lobby, or could not open what it claimed. */
void gv_directory_closed(gv_directory *d, int worker, const char *name, size_t len);

/* Worker holds this many players now. */
void gv_directory_players(gv_directory *d, int worker, int players);

/* 1 and *out filled (and forgotten by the directory) when a lobby of
 * worker's is to leave the node; 0 when none is. Cheap when none is: the
 * server asks at every expiry pass. */
int gv_directory_take_move(gv_directory *d, int worker, gv_directory_move *out);

/* The max_lobbies it was created with. */
int gv_directory_max_lobbies(const gv_directory *d);

/* How many workers it was created with. */
int gv_directory_workers(const gv_directory *d);

#endif
