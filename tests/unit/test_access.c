/* Lobbies and access tokens against a real server on loopback: tokens
 * forged, expired, unknown, malformed, missing, for another lobby and in
 * use are each refused with their reason and counted; two keys are taken
 * at once (rotation); a token's fixed id, name and lobby settings hold; a
 * listen-only player's voice and a muted one's stop at the server; a
 * moderator mutes a player for everyone; voice never crosses lobbies.
 * Real sockets, so waits are bounded by a deadline rather than by virtual
 * time; keys come from fixed seeds. */
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
#include <sodium.h>

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_events.h"
#include "session/gv_link.h"
#include "session/gv_token.h"

#define DEADLINE_US 5000000ull
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

typedef struct player {
    gv_link *link;
    gv_event_queue events;
    gv_event last;   /* the last event of the type waited for */
    int heard;       /* voice packets relayed to this player */
    uint8_t heard_from; /* the first payload byte of the last one */
    int spatial_mode;   /* the lobby's, as SPATIAL_CONFIG said; -1 before */
} player;

enum { MAX_PLAYERS = 6 };
static gv_server *server;
static uint16_t port;
static char dir[64];
static player players[MAX_PLAYERS];

typedef struct backend {
    uint8_t seed[32];
    char secret[GV_TOKEN_KEY_BYTES], public[GV_TOKEN_KEY_BYTES];
} backend;

static void backend_make(uint8_t fill, backend *b)
{
    uint8_t pk[32], sk[64];
    for (int i = 0; i < 32; i++)
        b->seed[i] = (uint8_t)(fill + i);
    crypto_sign_seed_keypair(pk, sk, b->seed);
    sodium_bin2base64(b->secret, sizeof b->secret, b->seed, 32, B64);
    sodium_bin2base64(b->public, sizeof b->public, pk, 32, B64);
}

static void on_voice(void *ctx, const gv_msg *relay)
{
    player *p = ctx;
    p->heard++;
    p->heard_from = relay->u.voice.payload[1];
}

static int on_spatial(void *ctx, const gv_msg *config)
{
    player *p = ctx;
    p->spatial_mode = (int)config->u.spatial.mode;
    return 0;
}

static void start_server(const char *token_keys, int max_lobbies)
{
    gv_server_config cfg;
    gv_server_config_default(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    char key[96];
    snprintf(key, sizeof key, "%s/server.key", dir);
    cfg.key_file = key;
    cfg.token_keys = token_keys;
    cfg.max_lobbies = max_lobbies;
    cfg.relay_hold_us = 0;
    char why[256];
    assert_int_equal(gv_server_create(&cfg, &server, why, sizeof why), GV_OK);
    port = (uint16_t)gv_server_port(server);
    gv_event ev = {.size = sizeof ev};
    assert_int_equal(gv_server_service(server, &ev, 0), 1); /* LISTENING */
}

static void stop_all(void)
{
    for (int i = 0; i < MAX_PLAYERS; i++)
        gv_link_destroy(players[i].link);
    memset(players, 0, sizeof players);
    gv_server_destroy(server);
    server = NULL;
}

static void join(int i, const char *name, const char *lobby, const char *token)
{
    gv_client_config cfg;
    gv_client_config_default(&cfg);
    cfg.server_host = "127.0.0.1";
    cfg.server_port = port;
    cfg.name = name;
    cfg.lobby = lobby;
    cfg.token = token;
    cfg.known_servers_file = "";
    cfg.reconnect_ms = 0;
    player *p = &players[i];
    gv_link_destroy(p->link);
    memset(p, 0, sizeof *p);
    p->spatial_mode = -1;
    gv_link_callbacks cb = {.voice = on_voice, .spatial = on_spatial, .ctx = p};
    assert_int_equal(gv_link_create(&cfg, 0, &p->events, &cb, &p->link), GV_OK);
}

static void service_all(void)
{
    gv_event ev = {.size = sizeof ev};
    while (gv_server_service(server, &ev, 0) > 0)
        ;
    for (int i = 0; i < MAX_PLAYERS; i++)
        if (players[i].link)
            gv_link_service(players[i].link, 1);
}

/* Services everyone until player i's stream yields an event of type (or
 * of type2, when not GV_EVENT_NONE); fails at the deadline. */
static const gv_event *wait_event2(int i, gv_event_type type, gv_event_type type2)
{
    uint64_t end = mono_us() + DEADLINE_US;
    player *p = &players[i];
    while (mono_us() < end) {
        service_all();
        gv_event ev = {.size = sizeof ev};
        while (gv_events_pop(&p->events, &ev))
            if (ev.type == type || (type2 != GV_EVENT_NONE && ev.type == type2)) {
                p->last = ev;
                return &p->last;
            }
    }
    fail_msg("player %d: no event %d within %llu ms", i, (int)type, DEADLINE_US / 1000);
    return NULL;
}

static const gv_event *wait_event(int i, gv_event_type type)
{
    return wait_event2(i, type, GV_EVENT_NONE);
}

static void settle(uint64_t us)
{
    uint64_t end = mono_us() + us;
    while (mono_us() < end)
        service_all();
}

/* Ten voice packets from player i, in real time, marked with `mark`
 * after an Opus TOC byte of 20 ms (so that the server's voice budget
 * counts them as such). */
static void talk(int i, uint8_t mark)
{
    uint8_t payload[40];
    memset(payload, mark, sizeof payload);
    payload[0] = 0x08; /* SILK narrow-band, 20 ms, one frame */
    for (uint16_t k = 0; k < 10; k++) {
        gv_msg m = {.type = GV_MSG_VOICE};
        m.u.voice.seq = k;
        m.u.voice.ts = (uint32_t)k * 960u;
        m.u.voice.flags = k == 0 ? GV_VOICE_MARKER : 0;
        m.u.voice.len = sizeof payload;
        m.u.voice.payload = payload;
        assert_int_equal(gv_link_send_voice(players[i].link, &m), GV_OK);
        settle(20000);
    }
    settle(100000);
}

/* A token's text for claims, signed by b; expires as given (0: in 10 min). */
static void token_text(const backend *b, const char *lobby, const char *name, unsigned permissions, uint16_t id,
                       uint64_t expires, char *out)
{
    gv_token_claims c;
    gv_token_claims_default(&c);
    c.lobby = lobby;
    c.name = name;
    c.permissions = permissions;
    c.id = id;
    c.expires = expires ? expires : (uint64_t)time(NULL) + 600;
    uint8_t nonce[GV_TOKEN_NONCE], bytes[GV_TOKEN_BYTES_MAX];
    randombytes_buf(nonce, sizeof nonce);
    int n = gv_token_sign(&c, b->seed, nonce, bytes, sizeof bytes);
    assert_true(n > 0);
    sodium_bin2base64(out, GV_TOKEN_TEXT_MAX, bytes, (size_t)n, B64);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gvoip-test-access-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char key[96];
    snprintf(key, sizeof key, "%s/server.key", dir);
    unlink(key);
    rmdir(dir);
    return 0;
}

/* Every way a token can be wrong is refused with its reason, and counted
 * under it. */
static void test_refusals(void **state)
{
    (void)state;
    backend ours, rotated, stranger;
    backend_make(0, &ours);
    backend_make(50, &rotated);
    backend_make(100, &stranger);
    char keys[256];
    snprintf(keys, sizeof keys, "# the backend's key and the next one\n%s\n%s\n", ours.public, rotated.public);
    start_server(keys, 8);

    char good[GV_TOKEN_TEXT_MAX], forged[GV_TOKEN_TEXT_MAX], expired[GV_TOKEN_TEXT_MAX], unknown[GV_TOKEN_TEXT_MAX],
        next[GV_TOKEN_TEXT_MAX];
    token_text(&ours, "red", "alice", 0, 0, 0, good);
    token_text(&rotated, "red", "carol", 0, 0, 0, next);
    token_text(&ours, "red", "bob", 0, 0, (uint64_t)time(NULL) - 1, expired);
    token_text(&stranger, "red", "eve", 0, 0, 0, unknown);
    snprintf(forged, sizeof forged, "%s", good);
    size_t at = strlen(forged) - 10; /* inside the signature */
    forged[at] = forged[at] == 'A' ? 'B' : 'A';
    const struct {
        const char *token;
        const char *lobby;
        const char *reason;
    } cases[] = {
        {NULL, "red", "access token only"},
        {"AQID", "red", "token malformed"},
        {unknown, NULL, "token signed by an unknown key"},
        {forged, NULL, "token signature invalid"},
        {expired, NULL, "token expired"},
        {good, "blue", "token is for another lobby"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        join(0, "x", cases[i].lobby, cases[i].token);
        const gv_event *ev = wait_event(0, GV_EVENT_CONNECTION_FAILED);
        assert_int_equal(ev->refused, GV_REFUSAL_TOKEN);
        if (!strstr(ev->reason, cases[i].reason))
            fail_msg("case %zu: \"%s\", want \"%s\"", i, ev->reason, cases[i].reason);
    }
    gv_server_stats st = {.size = sizeof st};
    assert_int_equal(gv_server_get_stats(server, &st), 0);
    assert_int_equal(st.token_missing, 1);
    assert_int_equal(st.token_malformed, 1);
    assert_int_equal(st.token_unknown_key, 1);
    assert_int_equal(st.token_bad_signature, 1);
    assert_int_equal(st.token_expired, 1);
    assert_int_equal(st.token_wrong_lobby, 1);
    assert_int_equal(st.players, 0);

    /* Both keys admit (a rotation); the token names lobby and player. */
    join(0, "ignored", NULL, good);
    const gv_event *ev = wait_event(0, GV_EVENT_CONNECTED);
    assert_string_equal(ev->name, "alice");
    join(1, "ignored", "red", next);
    assert_string_equal(wait_event(1, GV_EVENT_CONNECTED)->name, "carol");

    /* One connection per token: a second use is refused while the first
     * is connected, and taken once it has left. */
    join(2, "x", NULL, good);
    ev = wait_event(2, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev->refused, GV_REFUSAL_TOKEN);
    assert_non_null(strstr(ev->reason, "token in use"));
    gv_link_destroy(players[0].link);
    players[0].link = NULL;
    wait_event(1, GV_EVENT_PLAYER_DISCONNECTED);
    join(2, "x", NULL, good);
    assert_string_equal(wait_event(2, GV_EVENT_CONNECTED)->name, "alice");
    assert_int_equal(gv_server_get_stats(server, &st), 0);
    assert_int_equal(st.token_in_use, 1);

    gv_lobby_stats ls[4] = {{.size = sizeof ls[0]}};
    assert_int_equal(gv_server_get_lobby_stats(server, ls, 4), 1);
    assert_string_equal(ls[0].name, "red");
    assert_int_equal(ls[0].players, 2);
    stop_all();
}

/* The token's fixed id; its lobby's own player limit; a listen-only
 * player's voice and a muted one's go nowhere; a moderator mutes and
 * unmutes; a non-moderator's request changes nothing. */
static void test_permissions(void **state)
{
    (void)state;
    backend b;
    backend_make(7, &b);
    start_server(b.public, 8);
    char mod[GV_TOKEN_TEXT_MAX], talker[GV_TOKEN_TEXT_MAX], listener[GV_TOKEN_TEXT_MAX], other[GV_TOKEN_TEXT_MAX];
    token_text(&b, "arena", "mod", GV_TOKEN_MODERATOR, 40, 0, mod);
    token_text(&b, "arena", "talker", 0, 0, 0, talker);
    token_text(&b, "arena", "quiet", GV_TOKEN_LISTEN_ONLY, 0, 0, listener);
    token_text(&b, "arena", "other", 0, 40, 0, other);
    join(0, "m", NULL, mod);
    assert_int_equal(wait_event(0, GV_EVENT_CONNECTED)->id, 40);
    join(1, "t", NULL, talker);
    uint16_t talker_id = wait_event(1, GV_EVENT_CONNECTED)->id;
    join(2, "q", NULL, listener);
    uint16_t quiet_id = wait_event(2, GV_EVENT_CONNECTED)->id;
    join(3, "o", NULL, other); /* its fixed id is the moderator's */
    const gv_event *ev = wait_event(3, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev->refused, GV_REFUSAL_TOKEN);
    assert_non_null(strstr(ev->reason, "id 40 is taken"));
    settle(100000);

    talk(1, 0x11);
    assert_int_equal(players[0].heard, 10);
    assert_int_equal(players[2].heard, 10);
    talk(2, 0x22); /* listen-only: nobody hears it */
    assert_int_equal(players[0].heard, 10);
    assert_int_equal(players[1].heard, 0);
    gv_server_stats st = {.size = sizeof st};
    assert_int_equal(gv_server_get_stats(server, &st), 0);
    assert_int_equal(st.listen_only_dropped, 10);

    /* A non-moderator's mute changes nothing. */
    assert_int_equal(gv_link_send_mute_for_all(players[1].link, quiet_id, 1), GV_OK);
    settle(200000);
    assert_int_equal(gv_server_get_stats(server, &st), 0);
    assert_int_equal(st.malformed, 1);

    /* The moderator mutes the talker: everyone is told, the talker by
     * MUTED_BY_MODERATOR, and their voice stops at the server. */
    assert_int_equal(gv_link_send_mute_for_all(players[0].link, talker_id, 1), GV_OK);
    ev = wait_event(1, GV_EVENT_MUTED_BY_MODERATOR);
    assert_int_equal(ev->on, 1);
    assert_int_equal(ev->id, 40);
    ev = wait_event(2, GV_EVENT_PLAYER_MUTED_FOR_ALL);
    assert_int_equal(ev->id, talker_id);
    assert_int_equal(ev->on, 1);
    assert_string_equal(ev->name, "talker");
    wait_event(0, GV_EVENT_PLAYER_MUTED_FOR_ALL);
    talk(1, 0x11);
    assert_int_equal(players[0].heard, 10);
    /* A newcomer learns who is muted. */
    char late[GV_TOKEN_TEXT_MAX];
    token_text(&b, "arena", "late", 0, 0, 0, late);
    join(3, "l", NULL, late);
    ev = wait_event2(3, GV_EVENT_PLAYER_MUTED_FOR_ALL, GV_EVENT_NONE);
    assert_int_equal(ev->id, talker_id);
    assert_int_equal(ev->on, 1);
    /* Unmuted, they are heard again. */
    assert_int_equal(gv_link_send_mute_for_all(players[0].link, talker_id, 0), GV_OK);
    ev = wait_event(1, GV_EVENT_MUTED_BY_MODERATOR);
    assert_int_equal(ev->on, 0);
    talk(1, 0x11);
    assert_int_equal(players[0].heard, 20);
    assert_int_equal(gv_server_get_stats(server, &st), 0);
    assert_int_equal(st.listen_only_dropped, 20);
    stop_all();
}

/* The first token into a lobby may give it its own settings: here a
 * positional mode and a size of 2, where the server's are off and 32. */
static void test_token_lobby_settings(void **state)
{
    (void)state;
    backend b;
    backend_make(9, &b);
    start_server(b.public, 8);
    gv_token_claims c;
    gv_token_claims_default(&c);
    c.lobby = "duel";
    c.spatial_mode = GV_SPATIAL_MODE_2D;
    c.max_distance = 25.0f;
    c.max_players = 2;
    c.expires = (uint64_t)time(NULL) + 600;
    char text[3][GV_TOKEN_TEXT_MAX];
    const char *names[3] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        c.name = names[i];
        assert_true(gv_token_mint(&c, b.secret, text[i], sizeof text[i]) > 0);
    }
    join(0, "x", NULL, text[0]);
    wait_event(0, GV_EVENT_CONNECTED);
    join(1, "x", NULL, text[1]);
    wait_event(1, GV_EVENT_CONNECTED);
    join(2, "x", NULL, text[2]);
    const gv_event *ev = wait_event(2, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev->refused, GV_REFUSAL_FULL);
    assert_non_null(strstr(ev->reason, "lobby is full (2 of 2 players)"));
    settle(100000);
    assert_int_equal(players[0].spatial_mode, GV_SPATIAL_MODE_2D);
    assert_int_equal(players[1].spatial_mode, GV_SPATIAL_MODE_2D);
    gv_lobby_stats ls[1] = {{.size = sizeof ls[0]}};
    assert_int_equal(gv_server_get_lobby_stats(server, ls, 1), 1);
    assert_int_equal(ls[0].max_players, 2);
    stop_all();
}

/* Lobbies without tokens: each hears only itself, a join beyond
 * max_lobbies is refused, and a bad lobby name too. */
static void test_lobbies(void **state)
{
    (void)state;
    start_server(NULL, 2);
    join(0, "a1", "a", NULL);
    wait_event(0, GV_EVENT_CONNECTED);
    join(1, "a2", "a", NULL);
    wait_event(1, GV_EVENT_CONNECTED);
    join(2, "b1", "b", NULL);
    wait_event(2, GV_EVENT_CONNECTED);
    join(3, "b2", "b", NULL);
    assert_int_equal(wait_event(3, GV_EVENT_CONNECTED)->id, 3); /* ids are per lobby: 2, then 3 */
    join(4, "c1", "c", NULL);
    const gv_event *ev = wait_event(4, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev->refused, GV_REFUSAL_LOBBY);
    assert_non_null(strstr(ev->reason, "most lobbies"));
    join(4, "c1", "bad\x01name", NULL);
    ev = wait_event(4, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev->refused, GV_REFUSAL_LOBBY);
    assert_non_null(strstr(ev->reason, "bad lobby name"));
    settle(100000);

    talk(0, 0xaa);
    talk(2, 0xbb);
    assert_int_equal(players[1].heard, 10);
    assert_int_equal(players[1].heard_from, 0xaa);
    assert_int_equal(players[3].heard, 10);
    assert_int_equal(players[3].heard_from, 0xbb);
    assert_int_equal(players[0].heard, 0);
    assert_int_equal(players[2].heard, 0);

    gv_lobby_stats ls[3] = {{.size = sizeof ls[0]}};
    assert_int_equal(gv_server_get_lobby_stats(server, ls, 3), 2);
    assert_string_equal(ls[0].name, "a");
    assert_string_equal(ls[1].name, "b");
    assert_int_equal(ls[0].relayed_packets, 10);
    assert_int_equal(ls[1].relayed_packets, 10);
    assert_int_equal(ls[0].joined, 2);
    stop_all();
}

int main(void)
{
    assert_int_equal(gv_init(), GV_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_token_lobby_settings),
        cmocka_unit_test(test_lobbies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
