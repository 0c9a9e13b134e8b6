/* The server's lobbies as decisions, in virtual time: names find their
 * lobby, the limit refuses one more, and an empty lobby closes once it
 * has lingered, not before, and not while someone (even away) is in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gvoip/error.h"
#include "session/gv_rooms.h"

#define LINGER 30000000u /* 30 s */

static gv_room_settings settings(int max_players, int max_talkers)
{
    gv_room_settings s = {.max_players = max_players, .max_talkers = max_talkers};
    gv_spatial_config_default(&s.spatial, GV_SPATIAL_MODE_OFF);
    return s;
}

static void test_open_find_limit(void **state)
{
    (void)state;
    gv_rooms *r = NULL;
    assert_int_equal(gv_rooms_create(0, &r), GV_EINVAL);
    assert_int_equal(gv_rooms_create(GV_MAX_LOBBIES_LIMIT + 1, &r), GV_EINVAL);
    assert_int_equal(gv_rooms_create(2, NULL), GV_EINVAL);
    assert_int_equal(gv_rooms_create(2, &r), 0);
    gv_room_settings s = settings(4, 6);
    gv_room *a, *b, *c;
    assert_int_equal(gv_rooms_open(r, "", 0, &s, 0, &a), 0); /* the default lobby */
    assert_int_equal(gv_rooms_open(r, "red", 3, &s, 0, &b), 0);
    assert_int_equal(gv_rooms_open(r, "blue", 4, &s, 0, &c), GV_EFULL);
    assert_null(c);
    assert_ptr_equal(gv_rooms_find(r, "", 0), a);
    assert_ptr_equal(gv_rooms_find(r, "red", 3), b);
    assert_ptr_equal(gv_rooms_find(r, "redx", 3), b); /* len bytes only */
    assert_null(gv_rooms_find(r, "re", 2));
    assert_null(gv_rooms_find(r, "blue", 4));
    assert_int_equal(gv_rooms_count(r), 2);
    assert_ptr_equal(gv_rooms_at(r, 0), a);
    assert_ptr_equal(gv_rooms_at(r, 1), b);
    assert_null(gv_rooms_at(r, 2));
    assert_null(gv_rooms_at(r, -1));
    assert_non_null(b->talkers);
    assert_int_equal(gv_lobby_capacity(b->lobby), 4);
    assert_string_equal(b->stats.name, "red");
    assert_int_equal(b->stats.max_players, 4);
    gv_rooms_close(r, a);
    assert_int_equal(gv_rooms_count(r), 1);
    assert_ptr_equal(gv_rooms_at(r, 0), b);
    s = settings(4, 0);
    assert_int_equal(gv_rooms_open(r, "blue", 4, &s, 0, &c), 0);
    assert_null(c->talkers); /* no limit: no talker table */
    s = settings(0, 0);
    assert_int_equal(gv_rooms_open(r, "green", 5, &s, 0, &c), GV_EINVAL);
    s = settings(4, GV_TALKERS_MAX + 1);
    assert_int_equal(gv_rooms_open(r, "green", 5, &s, 0, &c), GV_EINVAL);
    char long_name[GV_LOBBY_NAME_MAX + 1];
    memset(long_name, 'x', sizeof long_name);
    s = settings(4, 0);
    assert_int_equal(gv_rooms_open(r, long_name, sizeof long_name, &s, 0, &c), GV_EINVAL);
    gv_rooms_destroy(r);
    gv_rooms_destroy(NULL);
}

/* One step of a lobby's life: at `at` us, JOIN or LEAVE a member, AWAY
 * the first one, or ASK which lobby has lingered (want: 1 it, 0 none). */
enum op { JOIN, LEAVE, AWAY, ASK, END };
typedef struct step {
    enum op op;
    uint64_t at;
    int want;
} step;

static const struct {
    const char *name;
    uint64_t linger;
    step steps[12];
} scenarios[] = {
    {"opened and never joined: closes after the linger",
     LINGER,
     {{ASK, 0, 0}, {ASK, LINGER - 1, 0}, {ASK, LINGER, 1}, {END, 0, 0}}},
    {"empty again: the linger counts from the last departure",
     LINGER,
     {{JOIN, 1000, 0},
      {ASK, 2 * LINGER, 0},
      {LEAVE, 2 * LINGER + 5, 0},
      {ASK, 3 * LINGER + 4, 0},
      {ASK, 3 * LINGER + 5, 1},
      {END, 0, 0}}},
    {"a join while lingering keeps it open",
     LINGER,
     {{ASK, LINGER / 2, 0}, {JOIN, LINGER / 2, 0}, {ASK, 5 * LINGER, 0}, {END, 0, 0}}},
    {"an away member keeps it open: their place is kept",
     LINGER,
     {{JOIN, 0, 0}, {AWAY, 10, 0}, {ASK, 5 * LINGER, 0}, {LEAVE, 5 * LINGER, 0}, {ASK, 6 * LINGER, 1}, {END, 0, 0}}},
    {"no linger: closes as soon as it is empty",
     0,
     {{ASK, 0, 1}, {END, 0, 0}}},
};

static void test_linger_table(void **state)
{
    (void)state;
    static const uint8_t secret[GV_RESUME_SECRET_LEN] = {1};
    for (size_t k = 0; k < sizeof scenarios / sizeof scenarios[0]; k++) {
        gv_rooms *r;
        assert_int_equal(gv_rooms_create(4, &r), 0);
        gv_room_settings s = settings(4, 0);
        gv_room *room;
        assert_int_equal(gv_rooms_open(r, "x", 1, &s, 0, &room), 0);
        const gv_lobby_member *members[4];
        int count = 0;
        for (const step *st = scenarios[k].steps; st->op != END; st++) {
            switch (st->op) {
            case JOIN:
                assert_int_equal(gv_lobby_join(room->lobby, "p", 1, 0, secret, NULL, &members[count++]), 0);
                gv_rooms_occupancy(room, st->at);
                break;
            case LEAVE:
                gv_lobby_leave(room->lobby, members[--count]);
                gv_rooms_occupancy(room, st->at);
                break;
            case AWAY:
                gv_lobby_away(room->lobby, members[0], st->at + 1000000);
                break;
            case ASK: {
                gv_room *gone = gv_rooms_expired(r, st->at, scenarios[k].linger);
                if ((gone != NULL) != st->want)
                    fail_msg("%s: at %llu us, %s", scenarios[k].name, (unsigned long long)st->at,
                             gone ? "closed too early" : "still open");
                break;
            }
            case END:
                break;
            }
        }
        gv_rooms_destroy(r);
    }
}

static void test_stats(void **state)
{
    (void)state;
    gv_rooms *r;
    assert_int_equal(gv_rooms_create(1, &r), 0);
    gv_room_settings s = settings(3, 0);
    gv_room *room;
    assert_int_equal(gv_rooms_open(r, "stats", 5, &s, 2000000, &room), 0);
    static const uint8_t secret[GV_RESUME_SECRET_LEN] = {1};
    const gv_lobby_member *m;
    assert_int_equal(gv_lobby_join(room->lobby, "a", 1, 0, secret, NULL, &m), 0);
    assert_int_equal(gv_lobby_join(room->lobby, "b", 1, 0, secret, NULL, &m), 0);
    gv_lobby_away(room->lobby, m, 99);
    room->stats.relayed_packets = 42;
    gv_lobby_stats st = {.size = sizeof st};
    gv_rooms_stats(room, 5000000, &st);
    assert_int_equal(st.size, sizeof st);
    assert_string_equal(st.name, "stats");
    assert_int_equal(st.players, 2);
    assert_int_equal(st.away, 1);
    assert_int_equal(st.max_players, 3);
    assert_int_equal(st.relayed_packets, 42);
    assert_int_equal(st.open_ms, 3000);
    /* An older caller's smaller struct gets only what it has room for. */
    gv_lobby_stats small;
    memset(&small, 0x5a, sizeof small);
    small.size = offsetof(gv_lobby_stats, players);
    gv_rooms_stats(room, 5000000, &small);
    assert_string_equal(small.name, "stats");
    assert_int_equal(small.players, 0x5a5a5a5a);
    gv_rooms_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_find_limit),
        cmocka_unit_test(test_linger_table),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
