/* A player's way into a lobby, as decisions: the stages of the join, each
 * stage's deadline, when an unanswered handshake starts again, what a
 * refusal or a lost connection means to the caller, and whether the
 * server's key may be trusted. Pure: the time comes in as now_us, the
 * retry jitter from a gv_random, the known-servers file through the two
 * functions in gv_join_key_in; gv_link is the shell that does the I/O and
 * feeds the transport's events in. The join ends once (GV_JOIN_DONE) with
 * what the caller's last event says in gv_join.end. */
#ifndef GV_JOIN_H
#define GV_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"

/* Twice the server's half-open lifetime and several round trips; each
 * retry waits up to a quarter longer (GV_JOIN_RETRY_JITTER_US), drawn
 * from gv_random, so that clients started together (a load test, a game
 * reconnecting its bots) do not retry in step. */
#define GV_JOIN_RETRY_US 1200000u
#define GV_JOIN_RETRY_JITTER_US (GV_JOIN_RETRY_US / 4)
#define GV_JOIN_TIMEOUT_US 5000000u /* a stage's silence when the caller gives none */
/* A server whose workers keep sending a join on to one another (a lobby
 * closing and reopening elsewhere just then) is given up on after this
 * many redirects without a welcome. */
#define GV_JOIN_REDIRECTS_MAX 3

enum gv_join_stage {
    GV_JOIN_CONNECTING, /* waiting for the transport's CONNECT */
    GV_JOIN_HANDSHAKE,  /* the handshake's first message is out */
    GV_JOIN_HELLO,      /* the server answered and was trusted: HELLO is out */
    GV_JOIN_JOINED,     /* welcomed */
    GV_JOIN_DONE        /* failed or lost: gv_join.end says how */
};

/* What the caller does next. */
enum gv_join_action {
    GV_JOIN_NOTHING,
    GV_JOIN_SEND_INIT,  /* send the handshake's first message, then gv_join_init_sent */
    GV_JOIN_SEND_HELLO, /* keys are set: greet */
    GV_JOIN_RECONNECT,  /* a new CONNECT and a new handshake: nothing of the old one is kept */
    GV_JOIN_FAILED,     /* CONNECTION_FAILED from gv_join.end; close the connection if it is open */
    GV_JOIN_LOST,       /* SERVER_DISCONNECTED from gv_join.end */
    GV_JOIN_REDIRECT,   /* connect anew to gv_join.port on gv_join.host, which are the server's from now on */
    GV_JOIN_NEXT_NODE   /* nobody answered here in time: connect to the next of the others, then gv_join_moved */
};

/* How the join ended, for the one event that says so. reason stays valid
 * as long as the gv_join. */
typedef struct gv_join_end {
    int error;   /* CONNECTION_FAILED: a negative GV_E* code */
    int refused; /* a gv_refusal, 0 when the server refused nothing */
    char fingerprint[GV_FINGERPRINT_BYTES];       /* a key that was refused */
    char known_fingerprint[GV_FINGERPRINT_BYTES]; /* and the pinned or remembered one */
    char reason[1024];
} gv_join_end;

typedef struct gv_join {
    enum gv_join_stage stage;
    char hostport[300]; /* "host:port", for the reasons */
    uint16_t port;      /* where the join goes */
    int protocol_version;
    gv_random random;
    uint64_t timeout_us;  /* each stage: silence this long fails the join */
    uint64_t deadline_us;
    uint64_t retry_us;    /* GV_JOIN_HANDSHAKE: connect again if still there then */
    uint64_t retries;
    int refused; /* the last REFUSE the server sent */
    uint16_t redirect;  /* the port the last REDIRECT named, 0: none */
    char redirect_host[256]; /* and its host, "" for the one the join went to */
    char host[256];          /* where the join goes (after a redirect, maybe another node) */
    int redirects;      /* followed since the join started */
    int others;         /* other addresses the caller may try (gv_join_set_others) */
    int tried;          /* addresses tried so far, this one included */
    char refuse_text[GV_REASON_MAX + 1];
    gv_join_end end;
} gv_join;

/* Starts (or, for a caller that rejoins, starts again) a join to host and
 * port; timeout_us 0 means GV_JOIN_TIMEOUT_US. The
 * caller connects the transport. The retry count carries over. */
void gv_join_start(gv_join *j, const char *host, uint16_t port, int protocol_version, gv_random random,
                   uint64_t timeout_us, uint64_t now_us);

/* The caller has others (0..) other addresses for the same server (the
 * nodes of a fleet, a name's other addresses): one that has not answered
 * the CONNECT or the handshake by its retry time (GV_JOIN_RETRY_US and
 * jitter) is left for the next (GV_JOIN_NEXT_NODE), within the same
 * deadline, so that a dead first node does not fail a join a live second
 * one would take. Call after gv_join_start. */
void gv_join_set_others(gv_join *j, int others, uint64_t now_us);

/* The caller went on to host and port after GV_JOIN_NEXT_NODE: the join
 * starts there (GV_JOIN_CONNECTING), keeping its deadline. */
void gv_join_moved(gv_join *j, const char *host, uint16_t port, uint64_t now_us);

/* The transport connected: GV_JOIN_SEND_INIT, or GV_JOIN_NOTHING when no
 * handshake is due. */
enum gv_join_action gv_join_connected(gv_join *j);

/* The handshake's first message went out at now_us: its retry is armed. */
void gv_join_init_sent(gv_join *j, uint64_t now_us);

/* A handshake reply verified, its key trusted and the session keys set:
 * GV_JOIN_SEND_HELLO, and the rest of the join gets the whole timeout
 * again, so a slow, lossy path does not fail a join in progress.
 * GV_JOIN_NOTHING outside GV_JOIN_HANDSHAKE. */
enum gv_join_action gv_join_answered(gv_join *j, uint64_t now_us);

/* WELCOME: 1 when it makes us a player now, 0 when it is out of turn. */
int gv_join_welcome(gv_join *j);

/* The server's REFUSE (text len bytes): it explains the disconnect that
 * follows. */
void gv_join_refuse(gv_join *j, int code, const char *text, size_t len);

/* The server's REDIRECT before the welcome: the disconnect that follows
 * sends the join to port on host (host_len bytes, 0: the same host; the
 * message layer checked it). 0, or GV_ESTATE out of turn (after the
 * welcome it is a move, which is the caller's). */
int gv_join_redirect(gv_join *j, uint16_t port, const char *host, size_t host_len);

/* The transport lost the server; data is the disconnect's value (the
 * refusal code, and for GV_REFUSE_VERSION the server's version above it).
 * GV_JOIN_LOST after the welcome, GV_JOIN_FAILED before it, GV_JOIN_NOTHING
 * once done. After a REDIRECT, GV_JOIN_REDIRECT: the join starts over at
 * that host and port (GV_JOIN_CONNECTING, its whole time again), or GV_JOIN_FAILED
 * past GV_JOIN_REDIRECTS_MAX of them. */
enum gv_join_action gv_join_disconnected(gv_join *j, uint32_t data, uint64_t now_us);

/* Ends the join with error and a reason (printf format with one %s for
 * detail, which may be NULL): GV_JOIN_FAILED, or GV_JOIN_NOTHING once
 * done. */
enum gv_join_action gv_join_fail(gv_join *j, int error, const char *fmt, const char *detail);

/* After servicing the transport: GV_JOIN_FAILED when the stage's deadline
 * passed, GV_JOIN_NEXT_NODE when this address went unanswered past its
 * retry time and there are others, GV_JOIN_RECONNECT when the handshake
 * did (the join is GV_JOIN_CONNECTING again), else GV_JOIN_NOTHING. */
enum gv_join_action gv_join_tick(gv_join *j, uint64_t now_us);

/* What the server-key check needs: the server's fingerprint, the pin
 * ("" for none), the known-servers file (NULL: trust on first use off),
 * and that file's
 * lookup and append (gv_known_check and gv_known_add, or a test's). For a
 * fleet: the fleet key whose certificate, valid now and for this server's
 * key, the server showed (NULL or "": none), the fleet pin (NULL or "":
 * none), and the file's lookup and append of fleet entries
 * (gv_known_check_fleet and gv_known_add_fleet; needed only with a
 * fleet). */
typedef struct gv_join_key_in {
    const char *fingerprint;
    const char *pinned;
    const char *known_file;
    int (*check)(const char *path, const char *hostport, const char *fingerprint, char *stored, size_t len);
    int (*add)(const char *path, const char *hostport, const char *fingerprint);
    const char *fleet;
    const char *fleet_pinned;
    int (*check_fleet)(const char *path, const char *hostport, const char *fingerprint, char *stored, size_t len);
    int (*add_fleet)(const char *path, const char *hostport, const char *fingerprint);
} gv_join_key_in;

/* Checks the server's key on a first session: 0 when it may be trusted
 * (*first_use 1 when it, or its fleet's key, was just remembered), else
 * the join is done with GV_EKEY, or the file's error when the key could
 * not be checked, and the fingerprints in gv_join.end (the fleet's, when
 * the fleet key is what was refused). The rules, in order
 * (docs/security.md, "Fleets"): every pin given must hold (a fleet pin
 * needs a certificate); without pins, a certificate's fleet key is looked
 * up among the file's fleet entries for this address, and only when
 * there is none the server key among its server entries; whatever was
 * new is remembered. */
int gv_join_check_key(gv_join *j, const gv_join_key_in *in, int *first_use);

#endif
