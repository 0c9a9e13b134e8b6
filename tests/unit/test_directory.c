/* The lobby directory of a server's workers: placement as a table of
 * loads and the worker each should pick; then scenarios in virtual time
 * of joins, resumes, lobbies opening and closing, players who never
 * arrive where they were sent, the lobby limit across workers and a
 * worker going away. Last, two real workers on loopback sharing one:
 * joins and a resume redirected to the worker that holds their lobby,
 * and the lobby limit across both (real sockets: waits are bounded by a
 * deadline). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mono.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gvoip/gvoip.h"
#include "session/gv_directory.h"
#include "session/gv_events.h"
#include "session/gv_link.h"

#define S 1000000u
#define PENDING GV_DIRECTORY_PENDING_US

typedef struct place_case {
    const char *what;
    int n;
    gv_directory_load load[4];
    int want;
} place_case;

#define W(players, lobbies) {1, players, lobbies}
#define OFF {0, 0, 0}

static const place_case place_cases[] = {
    {"one worker", 1, {W(100, 7)}, 0},
    {"fewest players", 3, {W(5, 0), W(2, 9), W(3, 0)}, 1},
    {"players tie: fewest lobbies", 3, {W(4, 3), W(4, 2), W(4, 2)}, 1},
    {"players and lobbies tie: lowest index", 4, {W(1, 1), W(0, 1), W(0, 1), W(0, 1)}, 1},
    {"all idle: the first", 2, {W(0, 0), W(0, 0)}, 0},
    {"a worker not running is never picked", 3, {OFF, W(9, 9), W(10, 0)}, 1},
    {"an empty worker beats one with players however many lobbies", 2, {W(1, 0), W(0, 40)}, 1},
    {"none running", 2, {OFF, OFF}, -1},
    {"no workers", 0, {OFF}, -1},
};

static void test_place_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof place_cases / sizeof place_cases[0]; i++) {
        const place_case *c = &place_cases[i];
        int got = gv_directory_place(c->load, c->n);
        if (got != c->want)
            fail_msg("%s: worker %d, expected %d", c->what, got, c->want);
    }
}

/* What a worker does and what the directory must answer. */
enum op { OP_END, OP_CLAIM, OP_FIND, OP_OPENED, OP_CLOSED, OP_PLAYERS, OP_DETACH, OP_ATTACH };

typedef struct step {
    enum op op;
    uint64_t at_us;
    int worker;       /* who asks (FIND: nobody in particular) */
    const char *lobby; /* CLAIM, FIND, OPENED, CLOSED */
    int arg;          /* PLAYERS: the count; ATTACH: the port */
    int want;         /* CLAIM, FIND, ATTACH: the answer */
} step;

typedef struct scen {
    const char *name;
    int workers, max_lobbies;
    step steps[24];
} scen;

#define CLAIM(at, w, lobby, want) {OP_CLAIM, at, w, lobby, 0, want}
#define FIND(at, lobby, want) {OP_FIND, at, -1, lobby, 0, want}
#define OPENED(at, w, lobby) {OP_OPENED, at, w, lobby, 0, 0}
#define CLOSED(at, w, lobby) {OP_CLOSED, at, w, lobby, 0, 0}
#define PLAYERS(at, w, n) {OP_PLAYERS, at, w, NULL, n, 0}
#define DETACH(at, w) {OP_DETACH, at, w, NULL, 0, 0}
#define ATTACH(at, w, port, want) {OP_ATTACH, at, w, NULL, port, want}
#define END {OP_END, 0, 0, NULL, 0, 0}

static const scen scenarios[] = {
    {"a new lobby goes to the emptiest worker, and stays there",
     2,
     8,
     {PLAYERS(0, 0, 3), CLAIM(0, 0, "red", 1), /* worker 0 holds players: red goes to 1 */
      FIND(1, "red", 1), CLAIM(2, 1, "red", 1), OPENED(2, 1, "red"), PLAYERS(2, 1, 1),
      CLAIM(3, 0, "red", 1), /* asked anywhere, it is worker 1's */
      CLAIM(4, 0, "blue", 1), /* players 3 and 1: worker 1 again */
      PLAYERS(5, 1, 9), CLAIM(5, 1, "green", 0), END}},
    {"ties: fewest lobbies, then the lowest index", 3, 8,
     {CLAIM(0, 2, "a", 0), CLAIM(0, 2, "b", 1), CLAIM(0, 0, "c", 2), CLAIM(0, 1, "d", 0), END}},
    {"a player who never arrives holds no place for long",
     2,
     8,
     {PLAYERS(0, 0, 1), CLAIM(0, 0, "red", 1),
      FIND(PENDING - 1, "red", 1),
      FIND(PENDING, "red", GV_ENOTFOUND), /* forgotten */
      PLAYERS(PENDING, 1, 5), CLAIM(PENDING, 1, "red", 0), /* placed anew: worker 0 is emptier now */
      END}},
    {"the worker that claims its own pending lobby starts its wait again",
     2,
     8,
     {CLAIM(0, 0, "red", 0), CLAIM(PENDING - 1, 0, "red", 0), FIND(2 * PENDING - 2, "red", 0),
      OPENED(2 * PENDING - 2, 0, "red"), FIND(100 * PENDING, "red", 0), /* open: held until closed */
      CLOSED(100 * PENDING, 0, "red"), FIND(100 * PENDING, "red", GV_ENOTFOUND), END}},
    {"max_lobbies counts every worker's, pending ones too",
     2,
     3,
     {CLAIM(0, 0, "a", 0), OPENED(0, 0, "a"), CLAIM(0, 0, "b", 1), CLAIM(0, 1, "c", 0), OPENED(0, 0, "c"),
      CLAIM(1, 1, "d", GV_EFULL), CLAIM(1, 0, "a", 0), /* an open one is still found */
      CLOSED(2, 0, "a"), CLAIM(2, 1, "d", 0), /* room again */
      CLAIM(3, 1, "e", GV_EFULL),
      CLAIM(PENDING, 1, "e", 1), /* b, never opened, is forgotten: room for e */
      END}},
    {"only the owner closes or opens a lobby",
     2,
     8,
     {CLAIM(0, 0, "red", 0), OPENED(0, 1, "red"), FIND(PENDING, "red", GV_ENOTFOUND), CLAIM(PENDING, 0, "red", 0),
      OPENED(PENDING, 0, "red"), CLOSED(PENDING, 1, "red"), FIND(PENDING, "red", 0), END}},
    {"names are bytes: the default lobby and a prefix are other lobbies", 2, 8,
     {CLAIM(0, 0, "", 0), CLAIM(0, 0, "r", 1), CLAIM(0, 0, "re", 0), FIND(0, "", 0), FIND(0, "r", 1),
      FIND(0, "red", GV_ENOTFOUND), END}},
    {"a worker that goes takes its lobbies along, and is placed on no more",
     3,
     8,
     {CLAIM(0, 0, "a", 0), OPENED(0, 0, "a"), CLAIM(0, 1, "b", 1), OPENED(0, 1, "b"), DETACH(1, 0),
      FIND(1, "a", GV_ENOTFOUND), FIND(1, "b", 1), CLAIM(1, 1, "c", 2), CLAIM(1, 1, "d", 1),
      ATTACH(2, 1, 7001, GV_ESTATE), /* worker 1 is running */
      ATTACH(2, 0, 0, GV_EINVAL), ATTACH(2, 3, 7003, GV_EINVAL), ATTACH(2, 0, 7010, 0),
      CLAIM(3, 1, "e", 0), END}},
};

static void run(const scen *sc)
{
    gv_directory *d = NULL;
    assert_int_equal(gv_directory_create(sc->workers, sc->max_lobbies, &d), 0);
    for (int w = 0; w < sc->workers; w++)
        assert_int_equal(gv_directory_attach(d, w, (uint16_t)(7000 + w)), 0);
    uint16_t port = 0, ports[4];
    for (int w = 0; w < sc->workers; w++)
        ports[w] = (uint16_t)(7000 + w);
    for (const step *st = sc->steps; st->op != OP_END; st++) {
        int got = 0, i = (int)(st - sc->steps);
        size_t len = st->lobby ? strlen(st->lobby) : 0;
        port = 0;
        switch (st->op) {
        case OP_CLAIM: {
            gv_directory_where where;
            got = gv_directory_claim(d, st->worker, st->lobby, len, st->at_us, &where);
            port = where.port;
            break;
        }
        case OP_FIND: got = gv_directory_find(d, st->lobby, len, st->at_us, &port); break;
        case OP_OPENED: gv_directory_opened(d, st->worker, st->lobby, len); break;
        case OP_CLOSED: gv_directory_closed(d, st->worker, st->lobby, len); break;
        case OP_PLAYERS: gv_directory_players(d, st->worker, st->arg); break;
        case OP_DETACH: gv_directory_detach(d, st->worker); break;
        case OP_ATTACH:
            got = gv_directory_attach(d, st->worker, (uint16_t)st->arg);
            if (got == 0)
                ports[st->worker] = (uint16_t)st->arg;
            break;
        case OP_END: break;
        }
        if (got != st->want)
            fail_msg("%s: step %d: %d, expected %d", sc->name, i, got, st->want);
        /* A worker named comes with its port. */
        if ((st->op == OP_CLAIM || st->op == OP_FIND) && got >= 0 && port != ports[got])
            fail_msg("%s: step %d: port %u, expected %u", sc->name, i, (unsigned)port, (unsigned)ports[got]);
    }
    gv_directory_destroy(d);
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
}

#define DEADLINE_US 5000000ull

typedef struct player {
    gv_link *link;
    gv_event_queue events;
    gv_event last;
} player;

static gv_server *workers[2];
static player players[5];
static int nplayers;

static player *join(const char *name, const char *lobby, int worker)
{
    player *p = &players[nplayers++];
    gv_client_config cfg;
    gv_client_config_default(&cfg);
    cfg.server_host = "127.0.0.1";
    cfg.server_port = (uint16_t)gv_server_port(workers[worker]);
    cfg.name = name;
    cfg.lobby = lobby;
    cfg.known_servers_file = "";
    memset(&p->events, 0, sizeof p->events);
    assert_int_equal(gv_link_create(&cfg, 0, &p->events, NULL, &p->link), GV_OK);
    return p;
}

/* Services both workers and every player until p's stream yields an
 * event of type. */
static void wait_event(player *p, gv_event_type type)
{
    uint64_t end = mono_us() + DEADLINE_US;
    while (mono_us() < end) {
        gv_event ev = {.size = sizeof ev};
        for (int w = 0; w < 2; w++)
            while (gv_server_service(workers[w], &ev, 0) > 0)
                ;
        for (int i = 0; i < nplayers; i++)
            assert_int_equal(gv_link_service(players[i].link, 1), GV_OK);
        while (gv_events_pop(&p->events, &ev))
            if (ev.type == type) {
                p->last = ev;
                return;
            }
    }
    fail_msg("no event %d within %llu ms", (int)type, DEADLINE_US / 1000);
}

static gv_server_stats stats_of(int w)
{
    gv_server_stats st = {.size = sizeof st};
    assert_int_equal(gv_server_get_stats(workers[w], &st), GV_OK);
    return st;
}

static void test_workers_redirect(void **state)
{
    (void)state;
    char dir[] = "/tmp/gvoip-test-directory-XXXXXX", key[64], why[256];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof key, "%s/server.key", dir);
    gv_directory *d = NULL;
    assert_int_equal(gv_directory_create(2, 2, &d), GV_OK);
    for (int w = 0; w < 2; w++) {
        gv_server_config cfg;
        gv_server_config_default(&cfg);
        cfg.bind_address = "127.0.0.1";
        cfg.port = 0;
        cfg.key_file = key;
        cfg.max_lobbies = 2;
        cfg.directory = d;
        cfg.worker = w;
        assert_int_equal(gv_server_create(&cfg, &workers[w], why, sizeof why), GV_OK);
    }

    /* Both idle: red goes to worker 0, where alice asked. */
    player *alice = join("alice", "red", 0);
    wait_event(alice, GV_EVENT_CONNECTED);
    assert_int_equal(stats_of(0).players, 1);
    /* Blue goes to worker 1, which has no players: bob is sent there. */
    player *bob = join("bob", "blue", 0);
    wait_event(bob, GV_EVENT_CONNECTED);
    assert_int_equal(stats_of(0).redirects, 1);
    assert_int_equal(stats_of(1).players, 1);
    gv_link_counters counters;
    gv_link_get_counters(bob->link, &counters);
    assert_int_equal(counters.redirects, 1);
    /* Carol asks worker 1 for red: sent to worker 0, where alice is. */
    player *carol = join("carol", "red", 1);
    wait_event(carol, GV_EVENT_PLAYER_CONNECTED);
    assert_string_equal(carol->last.name, "alice");
    assert_int_equal(stats_of(1).redirects, 1);
    assert_int_equal(stats_of(0).players, 2);
    /* Two lobbies are open between them: a third is refused, anywhere. */
    player *dave = join("dave", "green", 1);
    wait_event(dave, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(dave->last.refused, GV_REFUSAL_LOBBY);
    /* A resume of bob's session asked of worker 0 is sent to worker 1,
     * which honours it. */
    uint8_t secret[GV_RESUME_SECRET_LEN];
    assert_int_equal(gv_link_resume_secret(bob->link, secret), GV_OK);
    player *again = join("bob", "blue", 0);
    gv_link_present_secret(again->link, secret);
    wait_event(again, GV_EVENT_CONNECTED);
    assert_int_equal(again->last.id, 2);
    wait_event(bob, GV_EVENT_SERVER_DISCONNECTED);
    assert_int_equal(bob->last.refused, GV_REFUSAL_REPLACED);
    assert_int_equal(stats_of(0).redirects, 2);
    assert_int_equal(stats_of(1).resumed, 1);

    for (int i = 0; i < nplayers; i++)
        gv_link_destroy(players[i].link);
    for (int w = 0; w < 2; w++)
        gv_server_destroy(workers[w]);
    gv_directory_destroy(d);
    assert_int_equal(unlink(key), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* A fleet's gate: lobby "here" is placed on this node, "there" on
 * 10.0.0.2:7100, "full" finds the fleet full, "down" its store away, and
 * "nowhere" comes back with no port. */
static int gate_calls;

static int test_gate_fn(void *user, const char *lobby, size_t len, char *host, size_t host_size, uint16_t *port)
{
    (void)user;
    gate_calls++;
    if (len == 4 && memcmp(lobby, "here", 4) == 0)
        return 0;
    if (len == 5 && memcmp(lobby, "there", 5) == 0) {
        snprintf(host, host_size, "10.0.0.2");
        *port = 7100;
        return 1;
    }
    if (len == 4 && memcmp(lobby, "full", 4) == 0)
        return GV_EFULL;
    if (len == 7 && memcmp(lobby, "nowhere", 7) == 0)
        return 1;
    return GV_EIO;
}

static void test_gate(void **state)
{
    (void)state;
    gv_directory *d = NULL;
    gv_directory_where where;
    assert_int_equal(gv_directory_create(2, 8, &d), 0);
    assert_int_equal(gv_directory_attach(d, 0, 7000), 0);
    assert_int_equal(gv_directory_attach(d, 1, 7001), 0);
    assert_int_equal(gv_directory_set_gate(NULL, test_gate_fn, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_set_gate(d, test_gate_fn, NULL), 0);
    gate_calls = 0;
    /* Placed here: on a worker, and the gate is not asked again while a
     * worker holds it. */
    assert_int_equal(gv_directory_claim(d, 1, "here", 4, 0, &where), 0);
    assert_int_equal(where.port, 7000);
    assert_string_equal(where.host, "");
    assert_int_equal(gv_directory_claim(d, 1, "here", 4, 1, &where), 0);
    assert_int_equal(gate_calls, 1);
    assert_int_equal(gv_directory_claim(d, 0, "there", 5, 2, &where), GV_DIRECTORY_NODE);
    assert_int_equal(where.port, 7100);
    assert_string_equal(where.host, "10.0.0.2");
    assert_int_equal(gv_directory_claim(d, 0, "full", 4, 3, &where), GV_DIRECTORY_FLEET_FULL);
    assert_int_equal(gv_directory_claim(d, 0, "down", 4, 4, &where), GV_EIO);
    assert_int_equal(gv_directory_claim(d, 0, "nowhere", 7, 5, &where), GV_EINVAL);
    /* Nothing but "here" was placed on a worker. */
    gv_directory_lobby list[8];
    int held = -1, lobbies = -1;
    assert_int_equal(gv_directory_list(d, list, 8, &held, &lobbies), 1);
    assert_string_equal(list[0].name, "here");
    assert_int_equal(list[0].opened, 0);
    assert_int_equal(held, 0);
    assert_int_equal(lobbies, 1);
    gv_directory_opened(d, 0, "here", 4);
    gv_directory_players(d, 0, 3);
    assert_int_equal(gv_directory_list(d, list, 8, &held, NULL), 1);
    assert_int_equal(list[0].opened, 1);
    assert_int_equal(held, 3);
    assert_int_equal(gv_directory_list(d, NULL, 0, NULL, &lobbies), 0);
    assert_int_equal(lobbies, 1);
    assert_int_equal(gv_directory_list(d, NULL, 1, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_list(d, list, -1, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_list(NULL, list, 8, NULL, NULL), GV_EINVAL);
    gv_directory_destroy(d);
}

/* A lobby the fleet placed elsewhere leaves its worker, once, with where
 * it went; a pending one is simply forgotten. */
static void test_revoke(void **state)
{
    (void)state;
    gv_directory *d = NULL;
    gv_directory_where where;
    gv_directory_move mv;
    assert_int_equal(gv_directory_create(2, 8, &d), 0);
    assert_int_equal(gv_directory_attach(d, 0, 7000), 0);
    assert_int_equal(gv_directory_attach(d, 1, 7001), 0);
    assert_int_equal(gv_directory_take_move(d, 0, &mv), 0);
    assert_int_equal(gv_directory_claim(d, 1, "a", 1, 0, &where), 0);
    gv_directory_opened(d, 0, "a", 1);
    assert_int_equal(gv_directory_claim(d, 1, "b", 1, 0, &where), 1); /* pending on worker 1 */
    assert_int_equal(gv_directory_revoke(d, "zz", 2, NULL, 0), GV_ENOTFOUND);
    assert_int_equal(gv_directory_revoke(NULL, "a", 1, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(d, NULL, 1, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(d, "a", 65, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(d, "a", 1, "bad host", 7100), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(d, "b", 1, NULL, 0), 0);
    assert_int_equal(gv_directory_take_move(d, 1, &mv), 0); /* nobody was in it */
    assert_int_equal(gv_directory_revoke(d, "a", 1, "10.0.0.2", 7100), 0);
    assert_int_equal(gv_directory_take_move(d, 1, &mv), 0); /* not worker 1's */
    assert_int_equal(gv_directory_take_move(d, 0, &mv), 1);
    assert_int_equal(mv.len, 1);
    assert_string_equal(mv.name, "a");
    assert_string_equal(mv.to.host, "10.0.0.2");
    assert_int_equal(mv.to.port, 7100);
    assert_int_equal(gv_directory_take_move(d, 0, &mv), 0);
    /* Gone from the directory: the next join places it anew. */
    uint16_t port;
    assert_int_equal(gv_directory_find(d, "a", 1, 1, &port), GV_ENOTFOUND);
    assert_int_equal(gv_directory_list(d, NULL, 0, NULL, NULL), 0);
    /* A full queue of moves says so. */
    char name[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "m%d", i);
        assert_true(gv_directory_claim(d, 0, name, strlen(name), 2, &where) >= 0);
        gv_directory_opened(d, where.port == 7000 ? 0 : 1, name, strlen(name));
    }
    int refused = 0;
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 8; i++) {
            snprintf(name, sizeof name, "m%d", i);
            int rc = gv_directory_revoke(d, name, strlen(name), NULL, 0);
            if (rc == GV_EFULL)
                refused++;
            else if (rc == 0) {
                assert_true(gv_directory_claim(d, 0, name, strlen(name), 3, &where) >= 0);
                gv_directory_opened(d, where.port == 7000 ? 0 : 1, name, strlen(name));
            }
        }
    assert_int_equal(refused, 160 - GV_DIRECTORY_MOVES_MAX);
    gv_directory_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_table),
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_revoke),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_workers_redirect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
