/* The client's join in virtual time: scenario tables of what happens
 * (the transport connects, the handshake's first message goes out, the
 * server answers, welcomes, refuses, or the connection drops) and when the
 * shell looks at the clock, each with the action, stage and ending it must
 * give. The retry jitter comes from a scripted gv_random. Then the
 * server-key check against a scripted known-servers file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gvoip/gvoip.h"
#include "session/gv_join.h"

#define MS 1000u
#define S 1000000u
#define T0 (7 * S) /* virtual time starts here */
#define RETRY GV_JOIN_RETRY_US
#define ANY -1

enum op { OP_END, OP_CONNECTED, OP_SENT, OP_ANSWERED, OP_WELCOME, OP_REFUSE, OP_REDIRECT, OP_DROP, OP_TICK };

typedef struct step {
    enum op op;
    uint64_t at_us;  /* from T0 */
    uint32_t arg;    /* SENT: the jitter drawn; REFUSE: the code; REDIRECT: the port; DROP: the disconnect's data */
    const char *text; /* REFUSE: its text */
    int want;        /* the action (WELCOME: 1 when it made us a player) */
    int want_stage;
} step;

/* How the join ended (error 0 and reason "": it has not), and after how
 * many retries. */
typedef struct ending {
    int error, refused;
    const char *reason;
    int retries;
    uint16_t port; /* where the join went last; 0: where it started */
} ending;

typedef struct scen {
    const char *name;
    uint64_t timeout_us; /* 0: the default */
    step steps[24];
    ending end;
} scen;

#define CONNECTED(at, want) {OP_CONNECTED, at, 0, NULL, want, ANY}
#define SENT(at, jitter) {OP_SENT, at, jitter, NULL, 0, GV_JOIN_HANDSHAKE}
#define ANSWERED(at, want, stage) {OP_ANSWERED, at, 0, NULL, want, stage}
#define WELCOME(at, want) {OP_WELCOME, at, 0, NULL, want, ANY}
#define REFUSE(at, code, text) {OP_REFUSE, at, code, text, 0, ANY}
#define DROP(at, data, want) {OP_DROP, at, data, NULL, want, GV_JOIN_DONE}
#define TICK(at, want, stage) {OP_TICK, at, 0, NULL, want, stage}
#define REDIRECT(at, port, want) {OP_REDIRECT, at, port, NULL, want, ANY}
/* Sent on by a REDIRECT to port at `at`, and through to the next HELLO. */
#define HOP(at, port)                                                                                                  \
    REDIRECT(at, port, 0), {OP_DROP, at, GV_REFUSE_REDIRECT, NULL, GV_JOIN_REDIRECT, GV_JOIN_CONNECTING},              \
        CONNECTED(at, GV_JOIN_SEND_INIT), SENT(at, 0), ANSWERED(at, GV_JOIN_SEND_HELLO, GV_JOIN_HELLO)
#define END {OP_END, 0, 0, NULL, 0, 0}
/* A join through to the HELLO: connected at 0, answered at `at`. */
#define TO_HELLO(at) CONNECTED(0, GV_JOIN_SEND_INIT), SENT(0, 0), ANSWERED(at, GV_JOIN_SEND_HELLO, GV_JOIN_HELLO)
#define TO_JOINED(at) TO_HELLO(at), WELCOME(at, 1)

static const scen scenarios[] = {
    {"unanswered handshake: again at 1.2 s plus its jitter, until the deadline",
     0,
     {CONNECTED(0, GV_JOIN_SEND_INIT),
      SENT(10 * MS, 0),
      TICK(10 * MS + RETRY, GV_JOIN_NOTHING, GV_JOIN_HANDSHAKE), /* not before it has passed */
      TICK(10 * MS + RETRY + 1, GV_JOIN_RECONNECT, GV_JOIN_CONNECTING),
      TICK(1300 * MS, GV_JOIN_NOTHING, GV_JOIN_CONNECTING), /* no CONNECT yet: nothing to retry */
      CONNECTED(1300 * MS, GV_JOIN_SEND_INIT),
      SENT(1300 * MS, 299999), /* the longest jitter: a quarter of the wait */
      TICK(1300 * MS + RETRY + 299999, GV_JOIN_NOTHING, GV_JOIN_HANDSHAKE),
      TICK(1300 * MS + RETRY + 300000, GV_JOIN_RECONNECT, GV_JOIN_CONNECTING),
      CONNECTED(2900 * MS, GV_JOIN_SEND_INIT),
      SENT(2900 * MS, 0xffffffffu), /* drawn modulo 300 ms: 167.295 ms */
      TICK(2900 * MS + RETRY + 167295, GV_JOIN_NOTHING, GV_JOIN_HANDSHAKE),
      TICK(2900 * MS + RETRY + 167296, GV_JOIN_RECONNECT, GV_JOIN_CONNECTING),
      CONNECTED(4500 * MS, GV_JOIN_SEND_INIT),
      SENT(4500 * MS, 0),
      TICK(5 * S + 1, GV_JOIN_FAILED, GV_JOIN_DONE)},
     {GV_ETIMEOUT, 0, "timed out joining lobby.example:7000 (no gvoip server answered there)", 3, 0}},
    {"no CONNECT at all: the first stage's deadline", 2 * S,
     {TICK(2 * S, GV_JOIN_NOTHING, GV_JOIN_CONNECTING), TICK(2 * S + 1, GV_JOIN_FAILED, GV_JOIN_DONE),
      TICK(3 * S, GV_JOIN_NOTHING, GV_JOIN_DONE), END},
     {GV_ETIMEOUT, 0, "timed out joining lobby.example:7000 (no gvoip server answered there)", 0, 0}},
    {"a deadline before the retry time fails rather than starting over", 1 * S,
     {CONNECTED(0, GV_JOIN_SEND_INIT), SENT(0, 0), TICK(2 * S, GV_JOIN_FAILED, GV_JOIN_DONE), END},
     {GV_ETIMEOUT, 0, "timed out joining lobby.example:7000 (no gvoip server answered there)", 0, 0}},
    {"the server's answer gives the rest of the join the whole timeout again", 0,
     {TO_HELLO(4900 * MS),
      TICK(6 * S, GV_JOIN_NOTHING, GV_JOIN_HELLO), /* past the first deadline and any retry time */
      TICK(9900 * MS, GV_JOIN_NOTHING, GV_JOIN_HELLO),
      TICK(9900 * MS + 1, GV_JOIN_FAILED, GV_JOIN_DONE), END},
     {GV_ETIMEOUT, 0, "timed out joining lobby.example:7000 (no gvoip server answered there)", 0, 0}},
    {"welcomed: no deadline any more", 0,
     {TO_JOINED(100 * MS), TICK(60 * S, GV_JOIN_NOTHING, GV_JOIN_JOINED), END}, {0, 0, "", 0, 0}},
    {"a reply after the deadline was looked at comes too late", 0,
     {CONNECTED(0, GV_JOIN_SEND_INIT), SENT(0, 0), TICK(5 * S + 1, GV_JOIN_FAILED, GV_JOIN_DONE),
      ANSWERED(5 * S + 2, GV_JOIN_NOTHING, GV_JOIN_DONE), WELCOME(5 * S + 3, 0),
      DROP(5 * S + 4, 0, GV_JOIN_NOTHING), /* the end was already told */
      END},
     {GV_ETIMEOUT, 0, "timed out joining lobby.example:7000 (no gvoip server answered there)", 0, 0}},
    {"a reply serviced before the clock is looked at still counts", 0,
     {CONNECTED(0, GV_JOIN_SEND_INIT), SENT(0, 0), ANSWERED(5 * S + 500 * MS, GV_JOIN_SEND_HELLO, GV_JOIN_HELLO),
      TICK(5 * S + 500 * MS, GV_JOIN_NOTHING, GV_JOIN_HELLO), END},
     {0, 0, "", 0, 0}},
    {"duplicate and out-of-order replies are ignored", 0,
     {WELCOME(0, 0),
      ANSWERED(0, GV_JOIN_NOTHING, GV_JOIN_CONNECTING), /* no handshake out yet */
      CONNECTED(0, GV_JOIN_SEND_INIT), SENT(0, 0),
      CONNECTED(0, GV_JOIN_NOTHING), /* a second CONNECT does not start a second handshake */
      WELCOME(10 * MS, 0),             /* before the handshake finished */
      ANSWERED(20 * MS, GV_JOIN_SEND_HELLO, GV_JOIN_HELLO),
      ANSWERED(30 * MS, GV_JOIN_NOTHING, GV_JOIN_HELLO), /* HELLO goes out once */
      WELCOME(40 * MS, 1), WELCOME(50 * MS, 0),
      ANSWERED(60 * MS, GV_JOIN_NOTHING, GV_JOIN_JOINED), TICK(3 * S, GV_JOIN_NOTHING, GV_JOIN_JOINED), END},
     {0, 0, "", 0, 0}},
    {"refused with a text: the text, and the code's error", 0,
     {TO_HELLO(50 * MS), REFUSE(60 * MS, GV_REFUSE_FULL, "lobby is full (64 players)"),
      DROP(70 * MS, GV_REFUSE_FULL, GV_JOIN_FAILED), END},
     {GV_EFULL, GV_REFUSE_FULL, "lobby is full (64 players)", 0, 0}},
    {"refused by the disconnect alone: the code's own text", 0,
     {TO_HELLO(50 * MS), DROP(70 * MS, GV_REFUSE_NAME, GV_JOIN_FAILED), END},
     {GV_ENAME, GV_REFUSE_NAME, "name not acceptable", 0, 0}},
    {"other refusals are a denial", 0,
     {TO_HELLO(50 * MS), DROP(70 * MS, GV_REFUSE_PASSWORD, GV_JOIN_FAILED), END},
     {GV_EDENIED, GV_REFUSE_PASSWORD, "wrong password", 0, 0}},
    {"the REFUSE's code wins over the disconnect's", 0,
     {TO_HELLO(50 * MS), REFUSE(60 * MS, GV_REFUSE_RATE_LIMIT, ""), DROP(70 * MS, 0, GV_JOIN_FAILED), END},
     {GV_EDENIED, GV_REFUSE_RATE_LIMIT, "too many attempts, try again later", 0, 0}},
    {"another protocol version: both versions said", 0,
     {CONNECTED(0, GV_JOIN_SEND_INIT), SENT(0, 0), DROP(30 * MS, GV_REFUSE_VERSION | 9u << 8, GV_JOIN_FAILED), END},
     {GV_EVERSION, GV_REFUSE_VERSION, "server speaks protocol version 9, this client speaks 3", 0, 0}},
    {"dropped without a word before the welcome: no answer", 0,
     {CONNECTED(0, GV_JOIN_SEND_INIT), DROP(30 * MS, 0, GV_JOIN_FAILED), END},
     {GV_ETIMEOUT, 0, "no answer from the server", 0, 0}},
    {"a REFUSE without its disconnect: the timeout carries its code", 0,
     {TO_HELLO(50 * MS), REFUSE(60 * MS, GV_REFUSE_FLOODING, ""), TICK(6 * S, GV_JOIN_FAILED, GV_JOIN_DONE), END},
     {GV_ETIMEOUT, GV_REFUSE_FLOODING, "timed out joining lobby.example:7000 (no gvoip server answered there)", 0, 0}},
    {"lost after the welcome", 0,
     {TO_JOINED(50 * MS), DROP(9 * S, 0, GV_JOIN_LOST), DROP(9 * S, 0, GV_JOIN_NOTHING), END},
     {0, 0, "connection lost", 0, 0}},
    {"removed after the welcome: the code's text", 0,
     {TO_JOINED(50 * MS), DROP(9 * S, GV_REFUSE_SHUTDOWN, GV_JOIN_LOST), END},
     {0, GV_REFUSE_SHUTDOWN, "server shutting down", 0, 0}},
    {"redirected: the join starts over at the port named, with its whole time again", 0,
     {TO_HELLO(50 * MS), REDIRECT(60 * MS, 7001, 0),
      {OP_DROP, 70 * MS, GV_REFUSE_REDIRECT, NULL, GV_JOIN_REDIRECT, GV_JOIN_CONNECTING},
      TICK(5 * S, GV_JOIN_NOTHING, GV_JOIN_CONNECTING), /* the first deadline is gone */
      CONNECTED(5 * S, GV_JOIN_SEND_INIT), SENT(5 * S, 0), ANSWERED(5 * S, GV_JOIN_SEND_HELLO, GV_JOIN_HELLO),
      WELCOME(5 * S, 1), END},
     {0, 0, "", 0, 7001}},
    {"redirected, then silence: the reason names the new port", 0,
     {TO_HELLO(50 * MS), REDIRECT(60 * MS, 7001, 0),
      {OP_DROP, 70 * MS, 0, NULL, GV_JOIN_REDIRECT, GV_JOIN_CONNECTING},
      TICK(5070 * MS + 1, GV_JOIN_FAILED, GV_JOIN_DONE), END},
     {GV_ETIMEOUT, 0, "timed out joining lobby.example:7001 (no gvoip server answered there)", 0, 7001}},
    {"three redirects in a row are followed, a fourth fails the join", 0,
     {TO_HELLO(50 * MS), HOP(100 * MS, 7001), HOP(200 * MS, 7002), HOP(300 * MS, 7000),
      REDIRECT(400 * MS, 7001, 0), DROP(400 * MS, GV_REFUSE_REDIRECT, GV_JOIN_FAILED), END},
     {GV_EDENIED, GV_REFUSE_REDIRECT,
      "the server sent the join on to another of its ports 4 times in a row without admitting it", 0, 7000}},
    {"a REDIRECT out of turn changes nothing", 0,
     {CONNECTED(0, GV_JOIN_SEND_INIT), SENT(0, 0), REDIRECT(10 * MS, 7001, GV_ESTATE),
      ANSWERED(20 * MS, GV_JOIN_SEND_HELLO, GV_JOIN_HELLO), REDIRECT(30 * MS, 0, GV_ESTATE), WELCOME(40 * MS, 1),
      REDIRECT(50 * MS, 7001, GV_ESTATE), DROP(9 * S, 0, GV_JOIN_LOST), END},
     {0, 0, "connection lost", 0, 7000}},
    {"removed after the welcome with a REFUSE: its text", 0,
     {TO_JOINED(50 * MS), REFUSE(9 * S, GV_REFUSE_FLOODING, "flooding: 400 messages a second"),
      DROP(9 * S, GV_REFUSE_FLOODING, GV_JOIN_LOST), END},
     {0, GV_REFUSE_FLOODING, "flooding: 400 messages a second", 0, 0}},
};

static uint32_t next_jitter;

static void scripted_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    assert_int_equal(len, sizeof next_jitter);
    memcpy(buf, &next_jitter, len);
}

static void run(const scen *sc)
{
    gv_join j = {0};
    gv_random random = {scripted_fill, NULL};
    int done = 0;
    gv_join_start(&j, "lobby.example", 7000, 3, random, sc->timeout_us, T0);
    for (const step *st = sc->steps; st->op != OP_END; st++) {
        uint64_t now = T0 + st->at_us;
        int got = 0;
        switch (st->op) {
        case OP_CONNECTED: got = gv_join_connected(&j); break;
        case OP_SENT:
            next_jitter = st->arg;
            gv_join_init_sent(&j, now);
            break;
        case OP_ANSWERED: got = gv_join_answered(&j, now); break;
        case OP_WELCOME: got = gv_join_welcome(&j); break;
        case OP_REFUSE: gv_join_refuse(&j, (int)st->arg, st->text, strlen(st->text)); break;
        case OP_REDIRECT: got = gv_join_redirect(&j, (uint16_t)st->arg, NULL, 0); break;
        case OP_DROP: got = gv_join_disconnected(&j, st->arg, now); break;
        case OP_TICK: got = gv_join_tick(&j, now); break;
        case OP_END: break;
        }
        if (got == GV_JOIN_FAILED || got == GV_JOIN_LOST)
            done++;
        if (got != st->want)
            fail_msg("%s: step %d: action %d, expected %d", sc->name, (int)(st - sc->steps), got, st->want);
        if (st->want_stage != ANY && (int)j.stage != st->want_stage)
            fail_msg("%s: step %d: stage %d, expected %d", sc->name, (int)(st - sc->steps), (int)j.stage,
                     st->want_stage);
    }
    /* The end is told once, and only by a join that ended. */
    assert_int_equal(done, j.stage == GV_JOIN_DONE);
    if (j.end.error != sc->end.error || j.end.refused != sc->end.refused || strcmp(j.end.reason, sc->end.reason) ||
        j.retries != (uint64_t)sc->end.retries || (sc->end.port && j.port != sc->end.port))
        fail_msg("%s: ended %d/%d \"%s\" after %d retries, expected %d/%d \"%s\" after %d", sc->name, j.end.error,
                 j.end.refused, j.end.reason, (int)j.retries, sc->end.error, sc->end.refused, sc->end.reason,
                 sc->end.retries);
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
}

/* A node of a fleet sends the join to another node: the host changes
 * with the port, and a later redirect without a host stays on it. */
static void test_redirect_to_another_node(void **state)
{
    (void)state;
    gv_join j = {0};
    gv_random random = {scripted_fill, NULL};
    gv_join_start(&j, "node-a.example", 7000, 5, random, 0, T0);
    assert_int_equal(gv_join_connected(&j), GV_JOIN_SEND_INIT);
    gv_join_init_sent(&j, T0);
    assert_int_equal(gv_join_answered(&j, T0 + 1000), GV_JOIN_SEND_HELLO);
    assert_int_equal(gv_join_redirect(&j, 7100, "10.0.0.2", 8), 0);
    assert_int_equal(gv_join_disconnected(&j, GV_REFUSE_REDIRECT, T0 + 2000), GV_JOIN_REDIRECT);
    assert_string_equal(j.host, "10.0.0.2");
    assert_int_equal(j.port, 7100);
    assert_string_equal(j.hostport, "10.0.0.2:7100");
    assert_int_equal(j.redirects, 1);

    assert_int_equal(gv_join_connected(&j), GV_JOIN_SEND_INIT);
    gv_join_init_sent(&j, T0 + 3000);
    assert_int_equal(gv_join_answered(&j, T0 + 4000), GV_JOIN_SEND_HELLO);
    assert_int_equal(gv_join_redirect(&j, 7101, NULL, 0), 0);
    assert_int_equal(gv_join_disconnected(&j, GV_REFUSE_REDIRECT, T0 + 5000), GV_JOIN_REDIRECT);
    assert_string_equal(j.hostport, "10.0.0.2:7101");
    assert_int_equal(j.redirects, 2);
    /* A host too long for the join is refused whole, never cut. */
    char longhost[300];
    memset(longhost, 'a', sizeof longhost);
    assert_int_equal(gv_join_connected(&j), GV_JOIN_SEND_INIT);
    gv_join_init_sent(&j, T0 + 6000);
    assert_int_equal(gv_join_answered(&j, T0 + 7000), GV_JOIN_SEND_HELLO);
    assert_int_equal(gv_join_redirect(&j, 7102, longhost, sizeof longhost), GV_ESTATE);
    assert_int_equal(j.redirect, 0);
}

static void test_restart_keeps_retries(void **state)
{
    (void)state;
    gv_join j = {0};
    gv_random random = {scripted_fill, NULL};
    next_jitter = 0;
    gv_join_start(&j, "lobby.example", 7000, 3, random, 0, T0);
    assert_int_equal(gv_join_connected(&j), GV_JOIN_SEND_INIT);
    gv_join_init_sent(&j, T0);
    assert_int_equal(gv_join_tick(&j, T0 + 2 * S), GV_JOIN_RECONNECT);
    assert_int_equal(gv_join_fail(&j, GV_ENET, "could not connect again%s", NULL), GV_JOIN_FAILED);
    assert_int_equal(gv_join_fail(&j, GV_ENOMEM, "again%s", NULL), GV_JOIN_NOTHING);
    assert_int_equal(j.end.error, GV_ENET);
    gv_join_start(&j, "lobby.example", 7000, 3, random, 0, T0 + 10 * S);
    assert_int_equal(j.stage, GV_JOIN_CONNECTING);
    assert_int_equal(j.end.error, 0);
    assert_int_equal(j.retries, 1);
    assert_int_equal(gv_join_tick(&j, T0 + 15 * S), GV_JOIN_NOTHING);
}

/* Other addresses for the same server (a fleet's nodes): one that
 * answers neither the CONNECT nor the handshake by its retry time is left
 * for the next, within the join's one deadline; without others the join
 * waits there for the deadline as ever. */
enum other_op { O_END, O_TICK, O_MOVED, O_CONNECTED, O_SENT, O_ANSWERED };

typedef struct other_step {
    enum other_op op;
    uint32_t at_ms;     /* from T0 */
    uint16_t port;      /* O_MOVED: where to (host "node-PORT") */
    int want;           /* the action */
    const char *where;  /* the join's host:port after the step, NULL: not checked */
} other_step;

typedef struct other_case {
    const char *name;
    int others;
    other_step steps[12];
    const char *reason; /* how it ended, "" for not */
} other_case;

static const other_case other_cases[] = {
    {"a dead first node: on to the next at the retry time", 2,
     {{O_TICK, 1100, 0, GV_JOIN_NOTHING, "node-7000:7000"},
      {O_TICK, 1300, 0, GV_JOIN_NEXT_NODE, NULL},
      {O_MOVED, 1300, 7001, 0, "node-7001:7001"},
      {O_TICK, 2600, 0, GV_JOIN_NEXT_NODE, NULL},
      {O_MOVED, 2600, 7002, 0, "node-7002:7002"},
      {O_CONNECTED, 2650, 0, GV_JOIN_SEND_INIT, NULL},
      {O_SENT, 2650, 0, 0, NULL},
      {O_ANSWERED, 2700, 0, GV_JOIN_SEND_HELLO, NULL},
      /* answered: the rest of the join has its whole time, no rotation */
      {O_TICK, 7000, 0, GV_JOIN_NOTHING, "node-7002:7002"},
      {O_END}},
     ""},
    {"a node that takes the CONNECT but never answers the handshake is left too", 1,
     {{O_CONNECTED, 100, 0, GV_JOIN_SEND_INIT, NULL},
      {O_SENT, 100, 0, 0, NULL},
      {O_TICK, 1250, 0, GV_JOIN_NOTHING, NULL},
      {O_TICK, 1350, 0, GV_JOIN_NEXT_NODE, NULL},
      {O_MOVED, 1350, 7001, 0, "node-7001:7001"},
      {O_END}},
     ""},
    {"nobody anywhere: the one deadline ends it, naming the last tried", 2,
     {{O_TICK, 1300, 0, GV_JOIN_NEXT_NODE, NULL},
      {O_MOVED, 1300, 7001, 0, NULL},
      {O_TICK, 2600, 0, GV_JOIN_NEXT_NODE, NULL},
      {O_MOVED, 2600, 7002, 0, NULL},
      {O_TICK, 3900, 0, GV_JOIN_NEXT_NODE, NULL},
      {O_MOVED, 3900, 7000, 0, NULL},
      {O_TICK, 5001, 0, GV_JOIN_FAILED, NULL},
      {O_END}},
     "timed out joining node-7000:7000 (no gvoip server answered there, nor at the other addresses given)"},
    {"no others: an unanswered CONNECT waits for the deadline", 0,
     {{O_TICK, 1300, 0, GV_JOIN_NOTHING, NULL},
      {O_TICK, 4900, 0, GV_JOIN_NOTHING, NULL},
      {O_TICK, 5001, 0, GV_JOIN_FAILED, NULL},
      {O_END}},
     "timed out joining node-7000:7000 (no gvoip server answered there)"},
};

static void test_other_addresses(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof other_cases / sizeof other_cases[0]; c++) {
        const other_case *oc = &other_cases[c];
        gv_join j = {0};
        gv_random random = {scripted_fill, NULL};
        next_jitter = 0;
        gv_join_start(&j, "node-7000", 7000, 5, random, 0, T0);
        gv_join_set_others(&j, oc->others, T0);
        for (const other_step *st = oc->steps; st->op != O_END; st++) {
            uint64_t now = T0 + (uint64_t)st->at_ms * MS;
            int got = 0;
            char host[32];
            switch (st->op) {
            case O_TICK: got = gv_join_tick(&j, now); break;
            case O_MOVED:
                snprintf(host, sizeof host, "node-%u", (unsigned)st->port);
                gv_join_moved(&j, host, st->port, now);
                break;
            case O_CONNECTED: got = gv_join_connected(&j); break;
            case O_SENT: gv_join_init_sent(&j, now); break;
            case O_ANSWERED: got = gv_join_answered(&j, now); break;
            case O_END: break;
            }
            if (got != st->want)
                fail_msg("%s: step %d: action %d, expected %d", oc->name, (int)(st - oc->steps), got, st->want);
            if (st->where && strcmp(j.hostport, st->where) != 0)
                fail_msg("%s: step %d: at %s, expected %s", oc->name, (int)(st - oc->steps), j.hostport, st->where);
        }
        if (strcmp(j.end.reason, oc->reason) != 0)
            fail_msg("%s: ended \"%s\", expected \"%s\"", oc->name, j.end.reason, oc->reason);
    }
}

/* The known-servers file, scripted: what a lookup answers and what was
 * asked of it. */
typedef struct known_script {
    int rc;
    const char *stored;
    int checks, adds;
    char hostport[300];
} known_script;

static known_script known;

static int scripted_check(const char *path, const char *hostport, const char *fingerprint, char *stored,
                          size_t len)
{
    assert_string_equal(path, "/home/p/.config/gvoip/known_servers");
    assert_non_null(fingerprint);
    known.checks++;
    snprintf(known.hostport, sizeof known.hostport, "%s", hostport);
    if (known.stored)
        snprintf(stored, len, "%s", known.stored);
    return known.rc;
}

static int scripted_add(const char *path, const char *hostport, const char *fingerprint)
{
    (void)path;
    (void)fingerprint;
    known.adds++;
    assert_string_equal(hostport, known.hostport);
    return 0;
}

#define FP_A "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define FP_B "SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define FILE_PATH "/home/p/.config/gvoip/known_servers"

typedef struct key_case {
    const char *name;
    const char *pinned;
    const char *file;
    int file_rc;           /* what the file's lookup answers */
    const char *stored;    /* and the fingerprint it holds */
    int want, want_first_use, want_checks, want_adds;
    const char *want_known; /* known_fingerprint on a refusal */
    const char *want_reason; /* start of the reason on a refusal */
} key_case;

static const key_case key_cases[] = {
    {"pinned, matching: the file is not read", FP_A, FILE_PATH, GV_EKEY, FP_B, 0, 0, 0, 0, "", ""},
    {"pinned, another key", FP_B, FILE_PATH, 0, NULL, GV_EKEY, 0, 0, 0, FP_B,
     "server key does not match the pinned key: server has " FP_A ", --server-key is " FP_B},
    {"no pin, no file: trusted", "", NULL, 0, NULL, 0, 0, 0, 0, "", ""},
    {"known and the same", "", FILE_PATH, 0, NULL, 0, 0, 1, 0, "", ""},
    {"first use: remembered", "", FILE_PATH, 1, NULL, 0, 1, 1, 1, "", ""},
    {"changed key", "", FILE_PATH, GV_EKEY, FP_B, GV_EKEY, 0, 1, 0, FP_B,
     "SERVER KEY CHANGED for lobby.example:7000: known " FP_B ", now " FP_A ". If"},
    {"unreadable file: refused, and said so", "", FILE_PATH, GV_EIO, NULL, GV_EIO, 0, 1, 0, "",
     "cannot check the server key of lobby.example:7000 against " FILE_PATH ": "},
    {"a line that cannot be checked against", "", FILE_PATH, GV_EINVAL, NULL, GV_EINVAL, 0, 1, 0, "",
     "cannot check the server key of lobby.example:7000"},
};

static void test_key_check(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof key_cases / sizeof key_cases[0]; i++) {
        const key_case *c = &key_cases[i];
        gv_join j = {0};
        gv_random random = {scripted_fill, NULL};
        gv_join_start(&j, "lobby.example", 7000, 3, random, 0, T0);
        gv_join_connected(&j);
        gv_join_init_sent(&j, T0);
        known = (known_script){c->file_rc, c->stored, 0, 0, ""};
        gv_join_key_in in = {FP_A, c->pinned, c->file, scripted_check, scripted_add, NULL, NULL, NULL, NULL};
        int first_use = -1;
        int rc = gv_join_check_key(&j, &in, &first_use);
        if (rc != c->want || first_use != c->want_first_use || known.checks != c->want_checks ||
            known.adds != c->want_adds)
            fail_msg("%s: %d (first use %d, %d lookups, %d appends), expected %d (%d, %d, %d)", c->name, rc,
                     first_use, known.checks, known.adds, c->want, c->want_first_use, c->want_checks, c->want_adds);
        if (known.checks)
            assert_string_equal(known.hostport, "lobby.example:7000");
        if (rc == 0) {
            /* Trusted: the join goes on to the HELLO. */
            assert_int_equal(j.stage, GV_JOIN_HANDSHAKE);
            assert_int_equal(gv_join_answered(&j, T0 + 1), GV_JOIN_SEND_HELLO);
            continue;
        }
        assert_int_equal(j.stage, GV_JOIN_DONE);
        assert_int_equal(j.end.error, c->want);
        assert_string_equal(j.end.fingerprint, FP_A);
        assert_string_equal(j.end.known_fingerprint, c->want_known);
        if (strncmp(j.end.reason, c->want_reason, strlen(c->want_reason)) != 0)
            fail_msg("%s: reason \"%s\"", c->name, j.end.reason);
        /* The refusal is the end: nothing after it is told again. */
        assert_int_equal(gv_join_answered(&j, T0 + 1), GV_JOIN_NOTHING);
        assert_int_equal(gv_join_tick(&j, T0 + 60 * S), GV_JOIN_NOTHING);
        assert_int_equal(gv_join_disconnected(&j, 0, T0), GV_JOIN_NOTHING);
    }
}

/* The file's fleet entries, scripted apart from its server entries. */
static known_script known_fleet;

static int scripted_check_fleet(const char *path, const char *hostport, const char *fingerprint, char *stored,
                                size_t len)
{
    assert_string_equal(path, FILE_PATH);
    assert_non_null(fingerprint);
    known_fleet.checks++;
    snprintf(known_fleet.hostport, sizeof known_fleet.hostport, "%s", hostport);
    if (known_fleet.stored)
        snprintf(stored, len, "%s", known_fleet.stored);
    return known_fleet.rc;
}

static int scripted_add_fleet(const char *path, const char *hostport, const char *fingerprint)
{
    (void)path;
    assert_string_equal(fingerprint, "SHA256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF");
    known_fleet.adds++;
    assert_string_equal(hostport, "lobby.example:7000");
    return 0;
}

#define FP_F "SHA256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
#define FP_G "SHA256:GGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG"

/* The server's key is FP_A throughout; fleet is the fleet key of the
 * valid certificate it showed ("" none). */
typedef struct fleet_key_case {
    const char *name;
    const char *fleet, *fleet_pinned, *pinned;
    int fleet_rc;             /* what the file's fleet lookup answers */
    const char *fleet_stored; /* and the fleet key it holds */
    int server_rc;            /* what its server lookup answers */
    const char *server_stored;
    int want, want_first_use;
    int want_fleet_checks, want_fleet_adds, want_checks, want_adds;
    const char *want_fp, *want_known; /* the refusal's fingerprints */
    const char *want_reason;          /* start of the refusal's reason */
} fleet_key_case;

static const fleet_key_case fleet_key_cases[] = {
    {"fleet pinned, its certificate: the file is not read", FP_F, FP_F, "", GV_EKEY, FP_G, GV_EKEY, FP_B, 0, 0, 0, 0,
     0, 0, "", "", ""},
    {"fleet pinned, another fleet's certificate", FP_G, FP_F, "", 0, NULL, 0, NULL, GV_EKEY, 0, 0, 0, 0, 0, FP_G, FP_F,
     "fleet key does not match the pinned key: the server's certificate is signed by the fleet key " FP_G
     ", --fleet-key is " FP_F},
    {"fleet pinned, no certificate", "", FP_F, "", 0, NULL, 0, NULL, GV_EKEY, 0, 0, 0, 0, 0, FP_A, FP_F,
     "the server at lobby.example:7000 shows no fleet certificate, and --fleet-key " FP_F " asks for one"},
    {"fleet pinned, no certificate, its key pinned: the pin decides", "", FP_F, FP_A, 0, NULL, 0, NULL, 0, 0, 0, 0, 0,
     0, "", "", ""},
    {"fleet and server pinned: both must hold", FP_F, FP_F, FP_B, 0, NULL, 0, NULL, GV_EKEY, 0, 0, 0, 0, 0, FP_A, FP_B,
     "server key does not match the pinned key"},
    {"server pinned, a certificate: the pin decides", FP_G, "", FP_A, GV_EKEY, FP_F, 0, NULL, 0, 0, 0, 0, 0, 0, "", "",
     ""},
    {"fleet known for the address: any server key of it", FP_F, "", "", 0, NULL, GV_EKEY, FP_B, 0, 0, 1, 0, 0, 0, "",
     "", ""},
    {"fleet changed", FP_G, "", "", GV_EKEY, FP_F, 0, NULL, GV_EKEY, 0, 1, 0, 0, 0, FP_G, FP_F,
     "FLEET KEY CHANGED for lobby.example:7000: known " FP_F ", now " FP_G ". If"},
    {"first use: the fleet and the server key remembered", FP_F, "", "", 1, NULL, 1, NULL, 0, 1, 1, 1, 1, 1, "", "",
     ""},
    {"a known server now shows a certificate: its fleet remembered", FP_F, "", "", 1, NULL, 0, NULL, 0, 1, 1, 1, 1, 0,
     "", "", ""},
    {"another server key known there, no fleet: a certificate does not displace it", FP_F, "", "", 1, NULL, GV_EKEY,
     FP_B, GV_EKEY, 0, 1, 0, 1, 0, FP_A, FP_B, "SERVER KEY CHANGED for lobby.example:7000: known " FP_B},
    {"the fleet entries cannot be read", FP_F, "", "", GV_EIO, NULL, 0, NULL, GV_EIO, 0, 1, 0, 0, 0, FP_F, "",
     "cannot check the fleet key of lobby.example:7000 against " FILE_PATH ": "},
    {"no certificate: the rules from before fleets, fleet entries unread", "", "", "", GV_EKEY, FP_F, 1, NULL, 0, 1, 0,
     0, 1, 1, "", "", ""},
};

static void test_fleet_key_check(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fleet_key_cases / sizeof fleet_key_cases[0]; i++) {
        const fleet_key_case *c = &fleet_key_cases[i];
        gv_join j = {0};
        gv_random random = {scripted_fill, NULL};
        gv_join_start(&j, "lobby.example", 7000, 3, random, 0, T0);
        gv_join_connected(&j);
        gv_join_init_sent(&j, T0);
        known = (known_script){c->server_rc, c->server_stored, 0, 0, ""};
        known_fleet = (known_script){c->fleet_rc, c->fleet_stored, 0, 0, ""};
        gv_join_key_in in = {FP_A,  c->pinned,       FILE_PATH,           scripted_check,    scripted_add,
                             c->fleet, c->fleet_pinned, scripted_check_fleet, scripted_add_fleet};
        int first_use = -1;
        int rc = gv_join_check_key(&j, &in, &first_use);
        if (rc != c->want || first_use != c->want_first_use || known_fleet.checks != c->want_fleet_checks ||
            known_fleet.adds != c->want_fleet_adds || known.checks != c->want_checks || known.adds != c->want_adds)
            fail_msg("%s: %d (first use %d; fleet %d lookups, %d appends; server %d, %d), expected %d (%d; %d, %d; "
                     "%d, %d)",
                     c->name, rc, first_use, known_fleet.checks, known_fleet.adds, known.checks, known.adds, c->want,
                     c->want_first_use, c->want_fleet_checks, c->want_fleet_adds, c->want_checks, c->want_adds);
        if (rc == 0) {
            assert_int_equal(gv_join_answered(&j, T0 + 1), GV_JOIN_SEND_HELLO);
            continue;
        }
        assert_int_equal(j.stage, GV_JOIN_DONE);
        assert_int_equal(j.end.error, c->want);
        if (strcmp(j.end.fingerprint, c->want_fp) != 0 || strcmp(j.end.known_fingerprint, c->want_known) != 0 ||
            strncmp(j.end.reason, c->want_reason, strlen(c->want_reason)) != 0)
            fail_msg("%s: fingerprints %s and %s, reason \"%s\"", c->name, j.end.fingerprint, j.end.known_fingerprint,
                     j.end.reason);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_redirect_to_another_node),
        cmocka_unit_test(test_restart_keeps_retries),
        cmocka_unit_test(test_other_addresses),
        cmocka_unit_test(test_key_check),
        cmocka_unit_test(test_fleet_key_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
