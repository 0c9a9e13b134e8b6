/* When a client connects anew, in virtual time: scenario tables of what
 * happens (the server heard, the session lost or closed, an attempt's
 * HELLO carrying the secret, the old session back while an attempt is in
 * flight, an attempt failing, the shell looking at the clock) with the
 * decision each must give and, for a look, the attempt number and wait
 * it leaves. The jitter comes from a scripted gv_random. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "packet/gv_msg.h"
#include "session/gv_reconnect.h"

#define MS 1000u
#define S 1000000u
#define T0 (11 * S) /* virtual time starts here */

enum op {
    OP_END,
    OP_HEARD,
    OP_LOST,
    OP_TICK,
    OP_CLOSED,    /* the server closed the session with refusal `arg`: want 1 carrying on, 0 over */
    OP_PRESENTED, /* an attempt's HELLO carried the secret */
    OP_WELCOMED,  /* a WELCOME gave a new secret */
    OP_RESTORED,  /* the old session heard, an attempt in flight that presented the secret (arg 1) or not: want 1 kept */
    OP_FAILED     /* an attempt ended refused with `arg` (0: unanswered): want the action */
};

typedef struct step {
    enum op op;
    uint64_t at_us; /* from T0 */
    int want;       /* TICK, FAILED: the action; CLOSED, RESTORED: as above */
    int want_attempt;
    uint32_t want_wait_ms; /* TICK: gv_reconnect_wait_ms afterwards */
    int arg;
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
#define J GV_RECONNECT_REJOIN

static const scenario scenarios[] = {
    {"the server heard all along: nothing to do",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 1900 * MS, W, 0, 0, 0},
      {OP_HEARD, 1950 * MS, 0, 0, 0, 0},
      {OP_TICK, 3900 * MS, W, 0, 0, 0}}},
    {"silence: first attempt after 2 s, then 1, 2, 4, 8, 10, 10 s apart",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 1999 * MS, W, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_TICK, 2999 * MS, W, 1, 1, 0},
      {OP_TICK, 3000 * MS, A, 2, 2000, 0},
      {OP_TICK, 5000 * MS, A, 3, 4000, 0},
      {OP_TICK, 9000 * MS, A, 4, 8000, 0},
      {OP_TICK, 17000 * MS, A, 5, 10000, 0},
      {OP_TICK, 27000 * MS, A, 6, 10000, 0},
      {OP_TICK, 37000 * MS, A, 7, 10000, 0}}},
    {"a late look starts from when it looks, not from when it was due",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0}, {OP_TICK, 2500 * MS, A, 1, 1000, 0}, {OP_TICK, 9000 * MS, A, 2, 2000, 0}}},
    {"the old session comes back: the next silence starts again from 1 s",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_TICK, 3000 * MS, A, 2, 2000, 0},
      {OP_HEARD, 4000 * MS, 0, 0, 0, 0},
      {OP_TICK, 5999 * MS, W, 0, 0, 0},
      {OP_TICK, 6000 * MS, A, 1, 1000, 0}}},
    {"the session is lost: the first attempt at once, no two-second wait",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_LOST, 300 * MS, 0, 0, 0, 0},
      {OP_TICK, 300 * MS, A, 1, 1000, 0},
      {OP_TICK, 1300 * MS, A, 2, 2000, 0}}},
    {"lost while the attempts are already running: their rhythm stays",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_LOST, 2500 * MS, 0, 0, 0, 0},
      {OP_TICK, 2500 * MS, W, 1, 500, 0},
      {OP_TICK, 3000 * MS, A, 2, 2000, 0}}},
    {"the limit counts from when the server was last heard",
     10 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_TICK, 3000 * MS, A, 2, 2000, 0},
      {OP_TICK, 5000 * MS, A, 3, 4000, 0},
      {OP_TICK, 8999 * MS, W, 3, 1, 0},
      {OP_TICK, 9000 * MS, A, 4, 8000, 0},
      {OP_TICK, 9999 * MS, W, 4, 7001, 0},
      {OP_TICK, 10000 * MS, G, 4, 0, 0}}},
    {"off: never an attempt, never giving up (the transport's timeout decides)",
     0,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0}, {OP_LOST, 100 * MS, 0, 0, 0, 0}, {OP_TICK, 200 * S, W, 0, 0, 0}}},
    {"jitter: each wait at most a quarter longer",
     120 * S,
     0xffffffffu,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1201, 0}, /* 1 s + 2^32-1 mod 250001 us */
      {OP_TICK, 3201 * MS, A, 2, 2459, 0}}}, /* 2 s + 2^32-1 mod 500001 us */
    /* t_fleet's fence scene: the server stopped for 4 s, attempts after 2
     * and 3 s; it wakes, its answer to the second attempt's handshake
     * lets the HELLO carry the secret out, then the old session is heard.
     * The server, given the HELLO, moves the session to the attempt and
     * closes the old one as replaced: the attempt is kept, and the close
     * does not end the session. */
    {"the old session back while an attempt that presented the secret is in flight: kept; replaced: carry on",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_TICK, 3000 * MS, A, 2, 2000, 0},
      {OP_PRESENTED, 4100 * MS, 0, 0, 0, 0},
      {OP_RESTORED, 4100 * MS, 1, 0, 0, 1},
      {OP_TICK, 4101 * MS, W, 0, 0, 0},
      {OP_CLOSED, 4102 * MS, 1, 0, 0, GV_REFUSE_REPLACED},
      {OP_TICK, 4102 * MS, A, 1, 1000, 0}}},
    {"the old session back before the attempt presented the secret: the attempt is dropped",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_RESTORED, 2300 * MS, 0, 0, 0, 0},
      {OP_TICK, 4299 * MS, W, 0, 0, 0},
      {OP_TICK, 4300 * MS, A, 1, 1000, 0}}},
    {"an attempt that presented the secret went unanswered here, the old session came back, then was replaced: "
     "resume again at once",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_PRESENTED, 2100 * MS, 0, 0, 0, 0},
      {OP_FAILED, 2900 * MS, W, 0, 0, 0},
      {OP_RESTORED, 2950 * MS, 0, 0, 0, 0},
      {OP_CLOSED, 3000 * MS, 1, 0, 0, GV_REFUSE_REPLACED},
      {OP_TICK, 3000 * MS, A, 1, 1000, 0}}},
    {"replaced without an attempt of ours having presented the secret: someone else holds it, over",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0}, {OP_CLOSED, 500 * MS, 0, 0, 0, GV_REFUSE_REPLACED}}},
    {"replaced after the secret an attempt presented was itself replaced by a WELCOME's: over",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_PRESENTED, 2100 * MS, 0, 0, 0, 0},
      {OP_WELCOMED, 2200 * MS, 0, 0, 0, 0},
      {OP_HEARD, 2200 * MS, 0, 0, 0, 0},
      {OP_CLOSED, 2500 * MS, 0, 0, 0, GV_REFUSE_REPLACED}}},
    {"closed: lost, shut down and moved carry on; the host ending the lobby does not",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_CLOSED, 100 * MS, 1, 0, 0, GV_REFUSE_NONE},
      {OP_CLOSED, 200 * MS, 1, 0, 0, GV_REFUSE_SHUTDOWN},
      {OP_CLOSED, 300 * MS, 1, 0, 0, GV_REFUSE_MOVED},
      {OP_CLOSED, 400 * MS, 0, 0, 0, GV_REFUSE_CLOSED},
      {OP_TICK, 400 * MS, A, 1, 1000, 0}}},
    {"off: a closed session is over, replaced or not",
     0,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_PRESENTED, 100 * MS, 0, 0, 0, 0},
      {OP_CLOSED, 200 * MS, 0, 0, 0, GV_REFUSE_REPLACED},
      {OP_CLOSED, 300 * MS, 0, 0, 0, GV_REFUSE_NONE}}},
    {"the session gone, an attempt refused its resume: join anew at once; unanswered or refused otherwise: wait",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_CLOSED, 100 * MS, 1, 0, 0, GV_REFUSE_NONE},
      {OP_TICK, 100 * MS, A, 1, 1000, 0},
      {OP_FAILED, 200 * MS, J, 0, 0, GV_REFUSE_RESUME},
      {OP_FAILED, 300 * MS, W, 0, 0, GV_REFUSE_NONE},
      {OP_FAILED, 400 * MS, W, 0, 0, GV_REFUSE_FULL}}},
    {"an attempt kept after the old session came back is refused its resume: the old session carries on alone",
     120 * S,
     0,
     {{OP_HEARD, 0, 0, 0, 0, 0},
      {OP_TICK, 2000 * MS, A, 1, 1000, 0},
      {OP_PRESENTED, 2100 * MS, 0, 0, 0, 0},
      {OP_RESTORED, 2100 * MS, 1, 0, 0, 1},
      {OP_FAILED, 2200 * MS, W, 0, 0, GV_REFUSE_RESUME},
      {OP_TICK, 4099 * MS, W, 0, 0, 0}}},
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
        } else if (st->op == OP_PRESENTED) {
            gv_reconnect_presented(&r);
        } else if (st->op == OP_WELCOMED) {
            gv_reconnect_welcomed(&r);
        } else if (st->op == OP_CLOSED || st->op == OP_RESTORED || st->op == OP_FAILED) {
            int got;
            if (st->op == OP_CLOSED) {
                got = gv_reconnect_closed(&r, st->arg, heard, now);
            } else if (st->op == OP_RESTORED) {
                heard = now;
                got = gv_reconnect_restored(&r, st->arg);
            } else {
                got = gv_reconnect_failed(&r, st->arg);
            }
            if (got != st->want)
                fail_msg("%s: got %d, want %d", where, got, st->want);
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
