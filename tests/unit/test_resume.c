/* Resumption secrets against a real server on loopback: a secret taken
 * from one player's session and presented by another connection takes
 * that player's place over (same id and name; the old connection is told
 * it was replaced), and once the new session has been heard the same
 * secret presented again is refused. And a server restarted under its
 * players: they come back as newcomers, settings following names. Real sockets, so waits are bounded
 * by a deadline rather than by virtual time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mono.h"

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_events.h"
#include "session/gv_link.h"
#include "session/gv_server.h"

#define DEADLINE_US 5000000ull

typedef struct player {
    gv_link *link;
    gv_event_queue events;
    gv_event last; /* the last event of the type waited for */
} player;

static gv_server *server;

static void start_player(player *p, const char *name, uint16_t port)
{
    gv_client_config cfg;
    gv_client_config_default(&cfg);
    cfg.server_host = "127.0.0.1";
    cfg.server_port = port;
    cfg.name = name;
    cfg.known_servers_file = "";
    memset(&p->events, 0, sizeof p->events);
    assert_int_equal(gv_link_create(&cfg, 0, &p->events, NULL, &p->link), GV_OK);
}

/* Services the server and the players until p's stream yields an event
 * of type; fails at the deadline. */
static void wait_event(player *players, int n, player *p, gv_event_type type)
{
    uint64_t end = mono_us() + DEADLINE_US;
    while (mono_us() < end) {
        gv_event ev = {.size = sizeof ev};
        while (gv_server_service(server, &ev, 0) > 0)
            ;
        for (int i = 0; i < n; i++)
            assert_int_equal(gv_link_service(players[i].link, 1), GV_OK);
        while (gv_events_pop(&p->events, &ev))
            if (ev.type == type) {
                p->last = ev;
                return;
            }
    }
    fail_msg("no event %d within %llu ms", (int)type, DEADLINE_US / 1000);
}

/* A few rounds of servicing everyone, for what is in flight to land. */
static void settle(player *players, int n)
{
    uint64_t end = mono_us() + 200000;
    gv_event ev = {.size = sizeof ev};
    while (mono_us() < end) {
        while (gv_server_service(server, &ev, 0) > 0)
            ;
        for (int i = 0; i < n; i++)
            gv_link_service(players[i].link, 1);
    }
}

static void test_secret_takes_over_once(void **state)
{
    (void)state;
    char dir[] = "/tmp/gvoip-test-resume-XXXXXX", key[64];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof key, "%s/server.key", dir);
    gv_server_config cfg;
    gv_server_config_default(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.key_file = key;
    char why[256];
    assert_int_equal(gv_server_create(&cfg, &server, why, sizeof why), GV_OK);
    uint16_t port = (uint16_t)gv_server_port(server);

    player p[3];
    memset(p, 0, sizeof p);
    start_player(&p[0], "alice", port);
    wait_event(p, 1, &p[0], GV_EVENT_CONNECTED);
    uint16_t alice = p[0].last.id;
    uint8_t first[GV_RESUME_SECRET_LEN], second[GV_RESUME_SECRET_LEN];
    assert_int_equal(gv_link_resume_secret(p[0].link, first), GV_OK);

    /* Another connection with alice's secret becomes alice. */
    start_player(&p[1], "mallory", port);
    gv_link_present_secret(p[1].link, first);
    wait_event(p, 2, &p[1], GV_EVENT_CONNECTED);
    assert_int_equal(p[1].last.id, alice);
    assert_string_equal(p[1].last.name, "alice");
    wait_event(p, 2, &p[0], GV_EVENT_SERVER_DISCONNECTED);
    assert_int_equal(p[0].last.refused, GV_REFUSAL_REPLACED);
    assert_int_equal(gv_link_resume_secret(p[1].link, second), GV_OK);
    assert_memory_not_equal(first, second, GV_RESUME_SECRET_LEN);
    settle(p, 2); /* the new session's "I am here" reaches the server */

    /* The same secret again: refused. */
    start_player(&p[2], "eve", port);
    gv_link_present_secret(p[2].link, first);
    wait_event(p, 3, &p[2], GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(p[2].last.refused, GV_REFUSAL_RESUME);

    gv_server_stats st = {.size = sizeof st};
    assert_int_equal(gv_server_get_stats(server, &st), GV_OK);
    assert_int_equal(st.resumed, 1);
    assert_int_equal(st.players, 1);
    for (int i = 0; i < 3; i++)
        gv_link_destroy(p[i].link);
    gv_server_destroy(server);
    assert_int_equal(unlink(key), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Services the server (when there is one) and two clients until c's
 * stream yields an event of type; *out gets it. */
static void client_wait(gv_client *a, gv_client *b, gv_client *c, gv_event_type type, gv_event *out)
{
    uint64_t end = mono_us() + 3 * DEADLINE_US;
    while (mono_us() < end) {
        gv_event ev = {.size = sizeof ev};
        while (server && gv_server_service(server, &ev, 0) > 0)
            ;
        gv_client *other = c == a ? b : a;
        while (gv_client_service(other, &ev, 0) > 0)
            ;
        while (gv_client_service(c, &ev, 1) > 0)
            if (ev.type == type) {
                *out = ev;
                return;
            }
    }
    fail_msg("no event %d within %llu ms", (int)type, 3 * DEADLINE_US / 1000);
}

static gv_client *start_client(const char *name, uint16_t port)
{
    gv_client_config cfg;
    gv_client_config_default(&cfg);
    cfg.server_port = port;
    cfg.name = name;
    cfg.known_servers_file = "";
    gv_client *c = NULL;
    assert_int_equal(gv_client_create(&cfg, &c), GV_OK);
    return c;
}

static float volume_of(const gv_client *c, const char *name)
{
    gv_peer_stats ps[8] = {{.size = sizeof ps[0]}};
    int n = gv_client_get_peer_stats(c, ps, 8);
    for (int i = 0; i < n; i++)
        if (strcmp(ps[i].name, name) == 0 && ps[i].id != 0)
            return ps[i].volume;
    return -1.0f;
}

/* A server restarted on its port with its key: both players come back as
 * newcomers (new session, not resumed), and the volume alice had set for
 * bob follows bob's name to his new id. */
static void test_settings_follow_names_across_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/gvoip-test-restart-XXXXXX", key[64];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof key, "%s/server.key", dir);
    gv_server_config cfg;
    gv_server_config_default(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.key_file = key;
    char why[256];
    assert_int_equal(gv_server_create(&cfg, &server, why, sizeof why), GV_OK);
    cfg.port = (uint16_t)gv_server_port(server);

    gv_client *a = start_client("alice", cfg.port), *b = start_client("bob", cfg.port);
    gv_event ev;
    client_wait(a, b, a, GV_EVENT_PLAYER_CONNECTED, &ev); /* the other's events are drained meanwhile */
    assert_string_equal(ev.name, "bob");
    assert_int_equal(gv_client_set_player_volume(a, ev.id, 0.5f), GV_OK);

    gv_server_destroy(server); /* every session gone with it */
    server = NULL;
    client_wait(a, b, a, GV_EVENT_CONNECTION_INTERRUPTED, &ev);
    assert_int_equal(gv_server_create(&cfg, &server, why, sizeof why), GV_OK);
    client_wait(a, b, a, GV_EVENT_RECONNECTED, &ev);
    assert_int_equal(ev.resumed, 0);
    client_wait(a, b, a, GV_EVENT_PLAYER_CONNECTED, &ev);
    assert_string_equal(ev.name, "bob");
    assert_true(volume_of(a, "bob") == 0.5f);

    gv_client_destroy(a);
    gv_client_destroy(b);
    gv_server_destroy(server);
    server = NULL;
    assert_int_equal(unlink(key), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    if (gv_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_takes_over_once),
        cmocka_unit_test(test_settings_follow_names_across_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
