/* Admission in virtual time: scenario tables of CONNECTs and password
 * tries, each step at a given time from a given address with a given view
 * of the half-open connections, and the verdict it must get. Cookies are
 * keyed by libsodium, so a step that needs a valid one takes the cookie
 * the scenario was last answered with for that address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_admission.h"

#define T0 1000000u /* virtual time starts here: 0 reads as "never" in the tables */
#define MS 1000u
#define S 1000000u

enum op { OP_END, OP_CONNECT, OP_PASSWORD, OP_WRONG };
enum cookie_use { NO_COOKIE, LAST_COOKIE, BAD_COOKIE };

typedef struct step {
    enum op op;
    uint64_t at_us;  /* from T0 */
    int repeat;      /* this many times (0: once), each `every_us` apart */
    uint64_t every_us;
    uint8_t addr;    /* 10.0.0.addr */
    uint16_t port;   /* 0: 5000 */
    int mine, total, evictable;
    enum cookie_use cookie;
    int want;        /* verdict (CONNECT) or allowed (PASSWORD) on every repeat; -1: see want_passes */
    int want_evict;
    int want_passes; /* with want -1: how many of the repeats pass */
} step;

typedef struct scen {
    const char *name;
    step steps[12];
} scen;

/* A CONNECT from 10.0.0.addr (port 5000 unless given) seeing `mine` and
 * `total` half-open connections, `evictable` of them old enough. */
#define CONNECT(at, addr, port, mine, total, evictable, cookie, want, evict) \
    {OP_CONNECT, at, 0, 0, addr, port, mine, total, evictable, cookie, want, evict, 0}
#define ASK(at, addr, mine, total, cookie, want) CONNECT(at, addr, 0, mine, total, 0, cookie, want, 0)
/* n CONNECTs from an idle lobby, `every` apart: all get `want`, or with
 * want -1, `passes` of them pass. */
#define FLOOD(at, n, every, addr, want, passes) \
    {OP_CONNECT, at, n, every, addr, 0, 0, 0, 0, NO_COOKIE, want, 0, passes}
#define PASSWORD(at, addr, want) {OP_PASSWORD, at, 0, 0, addr, 0, 0, 0, 0, NO_COOKIE, want, 0, 0}
#define WRONG(at, n, addr) {OP_WRONG, at, n, 0, addr, 0, 0, 0, 0, NO_COOKIE, 0, 0, 0}
#define END {OP_END, 0, 0, 0, 0, 0, 0, 0, 0, NO_COOKIE, 0, 0, 0}

static const scen scenarios[] = {
    {"flood: a burst of 32 attempts from one address, then 20 a second",
     {FLOOD(0, 32, 0, 1, GV_ADMIT_PASS, 0),
      ASK(0, 1, 0, 0, NO_COOKIE, GV_ADMIT_DROP),
      ASK(0, 2, 0, 0, NO_COOKIE, GV_ADMIT_PASS), /* another address is not held back */
      ASK(50 * MS, 1, 0, 0, NO_COOKIE, GV_ADMIT_PASS),
      ASK(50 * MS, 1, 0, 0, NO_COOKIE, GV_ADMIT_DROP),
      /* 1000 a second for a second: the steady rate gets through */
      FLOOD(100 * MS, 1000, MS, 1, -1, 20),
      END}},
    {"at most 4 half-open connections from one address",
     {ASK(0, 3, 3, 3, NO_COOKIE, GV_ADMIT_PASS),
      ASK(0, 3, 4, 4, NO_COOKIE, GV_ADMIT_DROP),
      ASK(0, 4, 0, 4, NO_COOKIE, GV_ADMIT_PASS),
      END}},
    {"storm: from 16 half-open a CONNECT needs its cookie",
     {ASK(0, 5, 0, 15, NO_COOKIE, GV_ADMIT_PASS),
      ASK(0, 5, 0, 16, NO_COOKIE, GV_ADMIT_COOKIE),
      ASK(10 * MS, 5, 0, 16, LAST_COOKIE, GV_ADMIT_PASS),
      ASK(10 * MS, 5, 0, 40, BAD_COOKIE, GV_ADMIT_COOKIE),
      CONNECT(10 * MS, 5, 5001, 0, 40, 0, LAST_COOKIE, GV_ADMIT_COOKIE, 0), /* another port */
      ASK(10 * MS, 6, 0, 40, LAST_COOKIE, GV_ADMIT_COOKIE),                /* another address */
      END}},
    {"cookie: valid 30 to 60 seconds",
     {ASK(0, 7, 0, 20, NO_COOKIE, GV_ADMIT_COOKIE),
      ASK(29 * S, 7, 0, 20, LAST_COOKIE, GV_ADMIT_PASS),
      ASK(31 * S, 7, 0, 20, LAST_COOKIE, GV_ADMIT_PASS),   /* rotated: the previous key */
      ASK(62 * S, 7, 0, 20, LAST_COOKIE, GV_ADMIT_COOKIE), /* two rotations on */
      ASK(63 * S, 7, 0, 20, LAST_COOKIE, GV_ADMIT_PASS),   /* the new one works */
      END}},
    {"eviction: from 64 half-open a verified CONNECT replaces one that waited",
     {ASK(0, 8, 0, 64, NO_COOKIE, GV_ADMIT_COOKIE),
      ASK(0, 8, 0, 64, LAST_COOKIE, GV_ADMIT_DROP),
      CONNECT(0, 8, 0, 0, 64, 1, LAST_COOKIE, GV_ADMIT_PASS, 1),
      CONNECT(0, 8, 0, 0, 63, 1, LAST_COOKIE, GV_ADMIT_PASS, 0),
      CONNECT(0, 9, 0, 0, 64, 1, NO_COOKIE, GV_ADMIT_COOKIE, 0), /* never without the cookie */
      END}},
    {"wrong passwords: 5 at once, then one every 2 seconds",
     {PASSWORD(0, 10, 1),
      WRONG(0, 5, 10),
      PASSWORD(0, 10, 0),
      PASSWORD(0, 11, 1),
      PASSWORD(1900 * MS, 10, 0),
      PASSWORD(2100 * MS, 10, 1),
      WRONG(2100 * MS, 1, 10),
      PASSWORD(2200 * MS, 10, 0),
      PASSWORD(60 * S, 10, 1), /* refilled, to the burst only: */
      WRONG(60 * S, 5, 10),
      PASSWORD(60 * S, 10, 0),
      END}},
};

static gv_addr addr_of(const step *st)
{
    gv_addr a = {.host = 0, .port = st->port ? st->port : 5000};
    uint8_t b[4] = {10, 0, 0, st->addr};
    memcpy(&a.host, b, 4); /* network order */
    return a;
}

static void run(const scen *sc)
{
    gv_admission *a = NULL;
    uint32_t last_cookie[256] = {0};
    assert_int_equal(gv_admission_create(T0, &a), GV_OK);
    for (const step *st = sc->steps; st->op != OP_END; st++) {
        int n = st->repeat ? st->repeat : 1, passes = 0;
        for (int k = 0; k < n; k++) {
            uint64_t now = T0 + st->at_us + (uint64_t)k * st->every_us;
            gv_addr from = addr_of(st);
            int got;
            if (st->op == OP_CONNECT) {
                gv_admission_view v = {st->mine, st->total, st->evictable};
                uint32_t data = 2, cookie = 0;
                int evict = -1;
                if (st->cookie == LAST_COOKIE)
                    data |= last_cookie[st->addr] << 8;
                else if (st->cookie == BAD_COOKIE)
                    data |= ((last_cookie[st->addr] ^ 0x5a5a5a) & 0xffffff) << 8;
                got = gv_admission_connect(a, &from, data, &v, now, &cookie, &evict);
                if (got == GV_ADMIT_COOKIE) {
                    assert_true(cookie != 0 && cookie <= 0xffffff);
                    last_cookie[st->addr] = cookie;
                }
                if (st->want >= 0 && got == GV_ADMIT_PASS && evict != st->want_evict)
                    fail_msg("%s: step %d: evict %d, expected %d", sc->name, (int)(st - sc->steps), evict,
                             st->want_evict);
                passes += got == GV_ADMIT_PASS;
            } else if (st->op == OP_PASSWORD) {
                got = gv_admission_password_allowed(a, from.host, now);
                passes += got;
            } else {
                gv_admission_password_failed(a, from.host, now);
                continue;
            }
            if (st->want >= 0 && got != st->want)
                fail_msg("%s: step %d, try %d: got %d, expected %d", sc->name, (int)(st - sc->steps), k, got,
                         st->want);
        }
        if (st->want < 0 && passes != st->want_passes)
            fail_msg("%s: step %d: %d passed, expected %d", sc->name, (int)(st - sc->steps), passes,
                     st->want_passes);
    }
    gv_admission_destroy(a);
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
