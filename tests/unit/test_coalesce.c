/* Relay coalescing in virtual time: scenario tables of what a server does
 * (ticks with its running count of relayed packets, voice held, a service
 * call asking how long to wait) and what the module must answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "session/gv_coalesce.h"

#define MS 1000u
#define T0 1000000u

enum op { OP_END, OP_TICK, OP_PUSH, OP_WAIT, OP_CLEAR };

typedef struct step {
    enum op op;
    uint64_t at_us;  /* from T0 */
    uint64_t arg;    /* TICK: relayed since the previous tick; PUSH: how many; WAIT: the call's end, from T0 */
    int64_t want;    /* TICK: holding after it; PUSH: the last push says "full"; WAIT: microseconds */
} step;

typedef struct scen {
    const char *name;
    uint64_t hold_us, hold_rate;
    step steps[12];
} scen;

#define END {OP_END, 0, 0, 0}

static const scen scenarios[] = {
    {"an idle relay never holds", 2000, 40000,
     {{OP_TICK, 100 * MS, 3000, 0}, {OP_TICK, 200 * MS, 100, 0}, END}},
    {"busy from 40000 a second, idle again below 30000", 2000, 40000,
     {{OP_TICK, 100 * MS, 4000, 1},
      {OP_TICK, 150 * MS, 0, 1}, /* measured over 100 ms only */
      {OP_TICK, 200 * MS, 3000, 1},
      {OP_TICK, 300 * MS, 2900, 0},
      {OP_TICK, 400 * MS, 3900, 0},
      {OP_TICK, 500 * MS, 4000, 1},
      END}},
    {"hold 0: never", 0, 40000, {{OP_TICK, 100 * MS, 100000, 0}, END}},
    {"a held packet waits up to hold_us, never past the call", 2000, 40000,
     {{OP_TICK, 100 * MS, 5000, 1},
      {OP_WAIT, 100 * MS, 200 * MS, 0}, /* nothing held */
      {OP_PUSH, 101 * MS, 1, 0},
      {OP_WAIT, 101 * MS, 200 * MS, 2000},
      {OP_WAIT, 102 * MS + 500, 200 * MS, 500},
      {OP_WAIT, 103 * MS, 200 * MS, 0},
      {OP_WAIT, 101 * MS, 101 * MS + 800, 800},
      {OP_PUSH, 102 * MS, 1, 0},
      {OP_WAIT, 102 * MS, 200 * MS, 0}, /* a batch is there */
      {OP_CLEAR, 102 * MS, 0, 0},
      {OP_WAIT, 102 * MS, 200 * MS, 0},
      END}},
    {"a burst of 16 is released at once", 2000, 40000,
     {{OP_TICK, 100 * MS, 5000, 1}, {OP_PUSH, 101 * MS, 15, 0}, {OP_PUSH, 101 * MS, 1, 1}, END}},
};

static void run(const scen *sc)
{
    gv_coalesce c;
    uint64_t relayed = 0;
    gv_coalesce_init(&c, sc->hold_us, sc->hold_rate);
    gv_coalesce_tick(&c, relayed, T0); /* the server's first call */
    for (const step *st = sc->steps; st->op != OP_END; st++) {
        uint64_t now = T0 + st->at_us;
        int64_t got = 0;
        switch (st->op) {
        case OP_TICK:
            relayed += st->arg;
            gv_coalesce_tick(&c, relayed, now);
            got = c.on;
            break;
        case OP_PUSH:
            for (uint64_t k = 0; k < st->arg; k++) {
                gv_coalesce_item *h = gv_coalesce_next(&c);
                h->payload[0] = (uint8_t)k;
                got = gv_coalesce_push(&c, 7, 0, 1, now);
            }
            break;
        case OP_WAIT:
            got = (int64_t)gv_coalesce_wait_us(&c, now, T0 + st->arg);
            break;
        default:
            gv_coalesce_clear(&c);
            continue;
        }
        if (got != st->want)
            fail_msg("%s: step %d: %lld, expected %lld", sc->name, (int)(st - sc->steps), (long long)got,
                     (long long)st->want);
    }
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
