/* When a client that has lost its server connects anew, and when it gives
 * up: the first new connection two seconds after the server was last
 * heard (a second after the user was told of the interruption), or at
 * once when the session is known to be gone; then one every 1, 2, 4, 8,
 * 10, 10... seconds, each a quarter longer at most at random so that a
 * restarted server is not met by all its players in step; and an end to
 * it all once the server has been silent for the limit. And which of the
 * old session and an attempt carries on when both are alive: an attempt
 * that has presented the resumption secret may be given the session by
 * the server whatever the client does, so the client follows the session
 * there rather than end it. Pure: the time comes in, the jitter from a
 * gv_random, decisions go out; gv_link runs the attempts. */
#ifndef GV_RECONNECT_H
#define GV_RECONNECT_H

#include <stdint.h>

#include "gvoip/platform.h"

#define GV_RECONNECT_AFTER_US 2000000u
#define GV_RECONNECT_BACKOFF_MIN_US 1000000u
#define GV_RECONNECT_BACKOFF_MAX_US 10000000u
#define GV_RECONNECT_LIMIT_MAX_MS 3600000u /* the longest a client may be told to keep trying */
/* A client that knows several nodes of a fleet tries the next one at most
 * 2 s after the last, jitter included: a quarter on top of this. */
#define GV_RECONNECT_FLEET_BACKOFF_MAX_US 1600000u

enum gv_reconnect_action {
    GV_RECONNECT_WAIT,
    GV_RECONNECT_ATTEMPT, /* connect anew now (attempt number in gv_reconnect.attempt), dropping an
                           * unanswered earlier attempt */
    GV_RECONNECT_GIVE_UP, /* the limit passed: the server is gone */
    GV_RECONNECT_REJOIN   /* connect anew now without the secret: the server could not resume us */
};

typedef struct gv_reconnect {
    uint64_t limit_us; /* 0: never connect anew */
    gv_random random;
    int active;          /* an interruption is being handled */
    uint64_t since_us;   /* when the server was last heard before it */
    uint64_t next_us;    /* when the next attempt starts */
    uint64_t backoff_us; /* the wait after the next attempt, before jitter */
    uint64_t backoff_max_us;
    int attempt;         /* attempts started in this interruption */
    int presented;       /* the secret we hold went out on an attempt: the server may move the session there */
} gv_reconnect;

/* limit_us 0 turns reconnecting off. */
void gv_reconnect_init(gv_reconnect *r, uint64_t limit_us, gv_random random);

/* The waits between attempts grow to at most max_us (from
 * GV_RECONNECT_BACKOFF_MIN_US up; GV_RECONNECT_BACKOFF_MAX_US unless told). */
void gv_reconnect_cap(gv_reconnect *r, uint64_t max_us);

/* A session (the old one or a new one) is carrying on: the interruption,
 * if any, is over and the next starts afresh. */
void gv_reconnect_heard(gv_reconnect *r);

/* The session is gone for certain at now_us (the transport lost it, or
 * the server closed it), last heard at heard_us: the first attempt is
 * due at once. */
void gv_reconnect_lost(gv_reconnect *r, uint64_t heard_us, uint64_t now_us);

/* The server closed the session at now_us (code: a gv_refusal, 0 when
 * the connection was lost), last heard at heard_us: 1 when the client
 * carries on (as gv_reconnect_lost: the first attempt at once), 0 when
 * the session is over. A connection lost, a server shutting down and a
 * lobby moved are worth coming back from; so is a session replaced after
 * an attempt of ours presented the secret, since that attempt is who
 * replaced it: the session lives on there, or, when the attempt is gone,
 * a new one resumes it with the same secret (the server honours it until
 * the session it moved to is heard from, which one we no longer hold
 * never is). Replaced otherwise, someone else holds the secret: over. */
int gv_reconnect_closed(gv_reconnect *r, int code, uint64_t heard_us, uint64_t now_us);

/* An attempt's HELLO presented the secret we hold. */
void gv_reconnect_presented(gv_reconnect *r);

/* A WELCOME gave a new secret, which no attempt has presented yet. */
void gv_reconnect_welcomed(gv_reconnect *r);

/* The old session was heard again while an attempt to replace it may be
 * in flight, which has presented the secret (presented 1) or not: the
 * interruption is over (gv_reconnect_heard), and 1 when the attempt is to
 * finish, 0 when it is to be dropped. One that presented the secret is
 * kept: the server may already have given it the session and be closing
 * the old one as replaced, so its WELCOME carries on. Before that the
 * server holds nothing for it. */
int gv_reconnect_restored(gv_reconnect *r, int presented);

/* An attempt ended without a WELCOME, refused with code (0: not
 * refused). GV_RECONNECT_REJOIN when the server could not resume us and
 * we have no session: a newcomer's join is due at once. Else
 * GV_RECONNECT_WAIT: the next attempt when it is due, or none at all
 * while the old session carries on (an attempt kept by
 * gv_reconnect_restored), which a newcomer's join would only duplicate. */
enum gv_reconnect_action gv_reconnect_failed(const gv_reconnect *r, int code);

/* What to do at now_us when the server was last heard at heard_us. */
enum gv_reconnect_action gv_reconnect_tick(gv_reconnect *r, uint64_t heard_us, uint64_t now_us);

/* Milliseconds from now_us to the next attempt (0 when due or idle). */
uint32_t gv_reconnect_wait_ms(const gv_reconnect *r, uint64_t now_us);

#endif
