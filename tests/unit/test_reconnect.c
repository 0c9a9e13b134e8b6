/* When a client connects anew, in virtual time: scenario tables of what
 * happens (the server heard, the session lost, the shell looking at the
 * clock) with the action each look must give and the attempt number and
 * wait it leaves. The jitter comes from a scripted gv_random. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "session/gv_reconnect.h"

#define MS 1000u
#define S 1000000u
#define T0 (11 * S) /* virtual time starts here */

enum op { OP_END, OP_HEARD, OP_LOST, OP_TICK };

typedef struct step {
    enum op op;
    uint64_t at_us; /* from T0 */
    int want;       /* TICK: the action */
    int want_attempt;
    uint32_t want_wait_ms; /* TICK: gv_reconnect_wait_ms afterwards */
} step;

typedef struct scenario {
    const char *name;
    uint64_t limit_us;
    uint32_t jitter; /* every draw */
    step steps[24];
} scenario;

#define W GV_RECONNECT_WAIT
#define A GV_RECONNECT_ATTEMPT
#define G GV_RECONNECT_GIVE_UP

static const scenario scenarios[] = {
    {"the server heard all along: nothing to do",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0},
      {OP_TICK, 1900 * MS, W, 0, 0},
      {OP_HEARD, 1950 * MS, 0, 0, 0},
      {OP_TICK, 3900 * MS, W, 0, 0}}},
    {"silence: first attempt after 2 s, then 1, 2, 4, 8, 10, 10 s apart",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0},
      {OP_TICK, 1999 * MS, W, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000},
      {OP_TICK, 2999 * MS, W, 1, 1},
      {OP_TICK, 3000 * MS, A, 2, 2000},
      {OP_TICK, 5000 * MS, A, 3, 4000},
      {OP_TICK, 9000 * MS, A, 4, 8000},
      {OP_TICK, 17000 * MS, A, 5, 10000},
      {OP_TICK, 27000 * MS, A, 6, 10000},
      {OP_TICK, 37000 * MS, A, 7, 10000}}},
    {"a late look starts from when it looks, not from when it was due",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0}, {OP_TICK, 2500 * MS, A, 1, 1000}, {OP_TICK, 9000 * MS, A, 2, 2000}}},
    {"the old session comes back: the next silence starts again from 1 s",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000},
      {OP_TICK, 3000 * MS, A, 2, 2000},
      {OP_HEARD, 4000 * MS, 0, 0, 0},
      {OP_TICK, 5999 * MS, W, 0, 0},
      {OP_TICK, 6000 * MS, A, 1, 1000}}},
    {"the session is lost: the first attempt at once, no two-second wait",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0},
      {OP_LOST, 300 * MS, 0, 0, 0},
      {OP_TICK, 300 * MS, A, 1, 1000},
      {OP_TICK, 1300 * MS, A, 2, 2000}}},
    {"lost while the attempts are already running: their rhythm stays",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000},
      {OP_LOST, 2500 * MS, 0, 0, 0},
      {OP_TICK, 2500 * MS, W, 1, 500},
      {OP_TICK, 3000 * MS, A, 2, 2000}}},
    {"the limit counts from when the server was last heard",
     10 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000},
      {OP_TICK, 3000 * MS, A, 2, 2000},
      {OP_TICK, 5000 * MS, A, 3, 4000},
      {OP_TICK, 8999 * MS, W, 3, 1},
      {OP_TICK, 9000 * MS, A, 4, 8000},
      {OP_TICK, 9999 * MS, W, 4, 7001},
      {OP_TICK, 10000 * MS, G, 4, 0}}},
    {"off: never an attempt, never giving up (the transport's timeout decides)",
     0,
     0,
     {{OP_HEARD, 0, 0, 0, 0}, {OP_LOST, 100 * MS, 0, 0, 0}, {OP_TICK, 200 * S, W, 0, 0}}},
    {"jitter: each wait at most a quarter longer",
     120 * S,
     0xffffffffu,
     {{OP_HEARD, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1201}, /* 1 s + 2^32-1 mod 250001 us */
      {OP_TICK, 3201 * MS, A, 2, 2459}}}, /* 2 s + 2^32-1 mod 500001 us */
};

static void scripted_fill(void *ctx, void *buf, size_t len)
{
    const uint32_t *jitter = ctx;
    memcpy(buf, jitter, len < sizeof *jitter ? len : sizeof *jitter);
}

static void run(const scenario *sc)
{
    uint32_t jitter = sc->jitter;
    gv_reconnect r;
    gv_reconnect_init(&r, sc->limit_us, (gv_random){scripted_fill, &jitter});
    uint64_t heard = T0;
    for (const step *st = sc->steps; st->op != OP_END; st++) {
        uint64_t now = T0 + st->at_us;
        char where[200];
        snprintf(where, sizeof where, "%s, step at %llu ms", sc->name, (unsigned long long)(st->at_us / MS));
        if (st->op == OP_HEARD) {
            heard = now;
            gv_reconnect_heard(&r);
        } else if (st->op == OP_LOST) {
            gv_reconnect_lost(&r, heard, now);
        } else {
            int got = gv_reconnect_tick(&r, heard, now);
            if (got != st->want || r.attempt != st->want_attempt ||
                gv_reconnect_wait_ms(&r, now) != st->want_wait_ms)
                fail_msg("%s: action %d attempt %d wait %u ms, want %d, %d, %u", where, got, r.attempt,
                         gv_reconnect_wait_ms(&r, now), st->want, st->want_attempt, st->want_wait_ms);
        }
    }
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
}

/* A client that knows several nodes of a fleet: 1 s, then 1.6 s apart,
 * and never more than 2 s whatever the jitter draws. */
static void test_fleet_cap(void **state)
{
    (void)state;
    static const uint32_t jitters[] = {0, 399999, 400000, 0xffffffffu, 12345};
    for (size_t j = 0; j < sizeof jitters / sizeof jitters[0]; j++) {
        uint32_t jitter = jitters[j];
        gv_reconnect r;
        gv_reconnect_init(&r, 120 * S, (gv_random){scripted_fill, &jitter});
        gv_reconnect_cap(&r, GV_RECONNECT_FLEET_BACKOFF_MAX_US);
        uint64_t now = T0 + 2 * S, last = 0;
        for (int attempt = 1; attempt <= 20; attempt++) {
            assert_int_equal(gv_reconnect_tick(&r, T0, now), GV_RECONNECT_ATTEMPT);
            assert_int_equal(r.attempt, attempt);
            uint64_t gap = r.next_us - now;
            if (gap > 2 * S)
                fail_msg("jitter %u: attempt %d waits %llu us", jitter, attempt, (unsigned long long)gap);
            if (jitter == 0)
                assert_int_equal(gap, attempt == 1 ? 1 * S : GV_RECONNECT_FLEET_BACKOFF_MAX_US);
            last = gap;
            now = r.next_us;
        }
        assert_true(last >= GV_RECONNECT_FLEET_BACKOFF_MAX_US);
    }
    /* Asked for less than the least wait: the least wait. */
    gv_reconnect r;
    uint32_t none = 0;
    gv_reconnect_init(&r, 120 * S, (gv_random){scripted_fill, &none});
    gv_reconnect_cap(&r, 1);
    assert_int_equal(gv_reconnect_tick(&r, T0, T0 + 2 * S), GV_RECONNECT_ATTEMPT);
    assert_int_equal(gv_reconnect_tick(&r, T0, r.next_us), GV_RECONNECT_ATTEMPT);
    assert_int_equal(r.next_us - (T0 + 3 * S), GV_RECONNECT_BACKOFF_MIN_US);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_fleet_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
