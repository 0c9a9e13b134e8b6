/* The relay of one lobby in virtual time: scenario tables of voice batches
 * (who spoke, when, how loud, how large) and what each listener must be
 * sent: whose records, in how many datagrams, which marked as a talk
 * spurt's first. Every record is opened with the listener's own client
 * keys, so a record sealed for somebody else fails the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "seal_pair.h"

#include "audio/gv_spatial.h"
#include "packet/gv_msg.h"
#include "session/gv_datagram.h"
#include "session/gv_relay.h"
#include "session/gv_talkers.h"

#define PLAYERS 4
#define MS 1000u
#define T0 1000000u
#define STEPS 6
#define BATCH 4
#define FAR 1e6f

typedef struct packet {
    int from;     /* player index; -1 ends the batch; -2: another lobby's sender */
    int echo;     /* an echo test */
    int quiet;    /* no voice activity */
    int len;      /* payload bytes; 0 means 60 */
} packet;

typedef struct step {
    uint32_t at_ms;
    packet batch[BATCH + 1];
    /* Per listener: the players whose records it gets, in order, as a
     * string of digits ("" for nothing), with a '*' after a marked one. */
    const char *heard[PLAYERS];
    int datagrams[PLAYERS]; /* -1: not checked */
} step;

typedef struct scenario {
    const char *name;
    int players;
    int max_talkers;    /* 0: no limit */
    int spatial;        /* 2D with max_distance 100 */
    float x[PLAYERS];   /* positions, FAR: not known */
    step steps[STEPS];
    uint64_t culled, talkers_limited;
} scenario;

#define END {.from = -1}
#define ANY {-1, -1, -1, -1}

static const scenario scenarios[] = {
    {"everyone hears everyone else, never themselves", 3, 0, 0, {0},
     {{0, {{.from = 0}, END}, {"", "0", "0"}, {0, 1, 1}}, {20, {{.from = 2}, END}, {"2", "2", ""}, {1, 1, 0}}},
     0, 0},
    {"an echo test comes back to its sender too", 3, 0, 0, {0},
     {{0, {{.from = 1, .echo = 1}, END}, {"1", "1", "1"}, {1, 1, 1}}},
     0, 0},
    {"a batch travels in one datagram per listener", 3, 0, 0, {0},
     {{0, {{.from = 0}, {.from = 1}, {.from = 2}, END}, {"12", "02", "01"}, {1, 1, 1}}},
     0, 0},
    {"records that do not fit the MTU go in the next datagram", 3, 0, 0, {0},
     {{0, {{.from = 0, .len = 700}, {.from = 1, .len = 700}, END}, {"1", "0", "01"}, {1, 1, 2}}},
     0, 0},
    {"another lobby's packet is left alone", 2, 0, 0, {0},
     {{0, {{.from = -2}, {.from = 0}, END}, {"", "0"}, {0, 1}}},
     0, 0},
    {"out of earshot: culled, and counted", 3, 0, 1, {0, 50, 500},
     {{0, {{.from = 0}, END}, {"", "0", ""}, {0, 1, 0}}, {20, {{.from = 2}, END}, {"", "", ""}, {0, 0, 0}}},
     3, 0},
    {"a position not known yet is not culled", 3, 0, 1, {0, FAR, 500},
     {{0, {{.from = 0}, END}, {"", "0", ""}, {0, 1, 0}}, {20, {{.from = 1}, END}, {"1", "", "1"}, {1, 0, 1}}},
     1, 0},
    {"one talker at a time: the second waits for the first's place", 3, 1, 0, {0},
     {{0, {{.from = 0}, END}, {"", "0", "0"}, ANY},
      {10, {{.from = 1}, END}, {"1", "", ""}, ANY},
      {500, {{.from = 0}, {.from = 1}, END}, {"1", "0", "0"}, ANY},
      /* 0 stops; 0.8 s after 0's last voice, 1 takes the place at 2,
       * marked: 2 was not sent 1's packets before */
      {1400, {{.from = 1}, END}, {"1", "", "1*"}, ANY}},
     0, 2},
    /* A quiet packet is sent where a place is free, but takes none: 2's
     * voice then takes the place at 1 that 0's quiet packets passed. */
    {"quiet packets never take a place", 3, 1, 0, {0},
     {{0, {{.from = 1}, END}, {"1", "", "1"}, ANY},
      {20, {{.from = 0, .quiet = 1}, END}, {"", "0", ""}, ANY},
      {40, {{.from = 2}, END}, {"", "2", ""}, ANY}},
     0, 2},
};

typedef struct listener_box {
    int datagrams;
    char heard[64];
} listener_box;

typedef struct world {
    pair keys[PLAYERS];
    gv_lobby_member members[PLAYERS];
    gv_relay_party parties[PLAYERS];
    gv_datagram_stream streams[PLAYERS][PLAYERS];
    int started[PLAYERS][PLAYERS];
    uint64_t first_counter[PLAYERS];
    listener_box box[PLAYERS];
    const char *scenario;
} world;

/* What a listener's client does with a datagram: every record must open
 * under its keys. */
static void receive(void *ctx, int peer, const uint8_t *d, size_t len)
{
    world *w = ctx;
    listener_box *b = &w->box[peer];
    b->datagrams++;
    gv_datagram_record rec;
    int rc;
    while ((rc = gv_datagram_next_record(&d, &len, &rec)) == 1) {
        int speaker = rec.slot - 1;
        assert_true(speaker >= 0 && speaker < PLAYERS);
        if (!w->started[peer][speaker]) {
            gv_datagram_stream_start(&w->streams[peer][speaker], w->members[speaker].epoch,
                                     w->first_counter[speaker]);
            w->started[peer][speaker] = 1;
        }
        uint8_t plain[GV_MTU];
        gv_msg m;
        if (gv_datagram_open_down(w->keys[peer].a, &w->streams[peer][speaker], &rec, plain, sizeof plain, &m) != 0)
            fail_msg("%s: a record for listener %d did not open under its keys", w->scenario, peer);
        size_t at = strlen(b->heard);
        b->heard[at++] = (char)('0' + speaker);
        if (m.u.voice.flags & GV_VOICE_MARKER)
            b->heard[at++] = '*';
        b->heard[at] = 0;
    }
    assert_int_equal(rc, 0);
}

static void run(const scenario *sc)
{
    world w;
    memset(&w, 0, sizeof w);
    w.scenario = sc->name;
    gv_room room;
    memset(&room, 0, sizeof room);
    gv_spatial_config_default(&room.spatial, sc->spatial ? GV_SPATIAL_MODE_2D : GV_SPATIAL_MODE_OFF);
    if (sc->spatial)
        room.spatial.max_distance = 100;
    if (sc->max_talkers)
        assert_int_equal(gv_talkers_create(sc->max_talkers, &room.talkers), 0);
    for (int i = 0; i < sc->players; i++) {
        pair_open_with(&w.keys[i], GV_SEAL_CHACHA20POLY1305);
        w.members[i].id = (uint16_t)(i + 1);
        w.members[i].slot = (uint8_t)(i + 1);
        w.members[i].epoch = (uint32_t)(100 + i);
        w.parties[i] = (gv_relay_party){.peer = i, .seal = w.keys[i].b, .member = &w.members[i]};
        if (sc->spatial && sc->x[i] != FAR) {
            w.parties[i].has_pose = 1;
            w.parties[i].pose.x = sc->x[i];
        }
    }
    gv_relay_party other = {.peer = PLAYERS, .member = &w.members[0]};
    const gv_relay_party *listeners[PLAYERS];
    for (int i = 0; i < sc->players; i++)
        listeners[i] = &w.parties[i];
    uint64_t counters[PLAYERS] = {0};
    gv_relay_counts counts = {0};
    for (int s = 0; s < STEPS && (s == 0 || sc->steps[s].at_ms); s++) {
        const step *st = &sc->steps[s];
        gv_coalesce_item items[BATCH];
        const gv_relay_party *from[BATCH];
        int n = 0;
        for (; st->batch[n].from != -1; n++) {
            const packet *p = &st->batch[n];
            gv_coalesce_item *it = &items[n];
            memset(it, 0, sizeof *it);
            from[n] = p->from == -2 ? &other : &w.parties[p->from];
            int who = p->from == -2 ? 0 : p->from;
            if (counters[who] == 0)
                w.first_counter[who] = counters[who] = 7;
            it->from = who;
            it->echo = p->echo;
            it->counter = counters[who]++;
            it->ts = (uint32_t)(st->at_ms * 48);
            it->flags = p->quiet ? GV_VOICE_QUIET : 0;
            it->level = 30;
            it->len = (size_t)(p->len ? p->len : 60);
            memset(it->payload, 0x5a, it->len);
            it->payload[0] = 0x78; /* an Opus TOC: 20 ms, one frame */
            if (room.talkers && p->from >= 0)
                gv_talkers_heard(room.talkers, w.members[who].slot, it->level, !p->quiet);
            if (p->from == -2)
                from[n] = NULL; /* the server passes NULL for another lobby's sender */
        }
        memset(w.box, 0, sizeof w.box);
        uint8_t out[GV_MTU];
        gv_relay_room(&room, listeners, sc->players, items, from, n, T0 + (uint64_t)st->at_ms * MS, out, &counts,
                      receive, &w);
        for (int i = 0; i < sc->players; i++) {
            if (strcmp(w.box[i].heard, st->heard[i]) != 0)
                fail_msg("%s, at %u ms: listener %d heard \"%s\", expected \"%s\"", sc->name, st->at_ms, i,
                         w.box[i].heard, st->heard[i]);
            if (st->datagrams[i] >= 0 && w.box[i].datagrams != st->datagrams[i])
                fail_msg("%s, at %u ms: listener %d got %d datagrams, expected %d", sc->name, st->at_ms, i,
                         w.box[i].datagrams, st->datagrams[i]);
        }
    }
    if (counts.culled != sc->culled || counts.talkers_limited != sc->talkers_limited)
        fail_msg("%s: culled %llu, limited %llu; expected %llu, %llu", sc->name, (unsigned long long)counts.culled,
                 (unsigned long long)counts.talkers_limited, (unsigned long long)sc->culled,
                 (unsigned long long)sc->talkers_limited);
    assert_int_equal(counts.unsealable, 0);
    gv_talkers_destroy(room.talkers);
    for (int i = 0; i < sc->players; i++)
        pair_close(&w.keys[i]);
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
