/* The loudest-talkers limit in virtual time: scenario tables of voice
 * packets (when, from which talker, how loud, with voice or not) and the
 * verdict each must get for a listener. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "gvoip/gvoip.h"
#include "session/gv_talkers.h"

#define MS 1000u
#define T0 (5000 * MS)

enum { D = GV_TALKERS_DROP, P = GV_TALKERS_PASS, S = GV_TALKERS_START, RESET = 9 };

typedef struct step {
    uint32_t at_ms;
    int listener, talker;
    int level; /* -dBov */
    int voiced;
    int want; /* a verdict, or RESET: gv_talkers_reset(talker) */
} step;

typedef struct scenario {
    const char *name;
    int max;
    step steps[24];
} scenario;

static const scenario scenarios[] = {
    {"two places: the first two talkers take them, a third waits",
     2,
     {{0, 0, 1, 20, 1, P}, {0, 0, 2, 20, 1, P}, {0, 0, 3, 20, 1, D}, {20, 0, 1, 20, 1, P}, {20, 0, 3, 20, 1, D}}},
    {"a place is free once its talker has been silent for the hold; the waiting talker's first packet opens a spurt",
     2,
     {{0, 0, 1, 20, 1, P},
      {0, 0, 2, 20, 1, P},
      {0, 0, 3, 20, 1, D},
      {700, 0, 2, 20, 1, P},
      {799, 0, 3, 20, 1, D},
      {800, 0, 3, 20, 1, S},
      {820, 0, 3, 20, 1, P},
      {820, 0, 1, 20, 1, D}}},
    {"silence claims no place: it goes while there is room, not when the places are taken",
     2,
     {{0, 0, 1, 120, 0, P},
      {0, 0, 2, 20, 1, P},
      {0, 0, 1, 120, 0, P},
      {0, 0, 3, 20, 1, P},
      {20, 0, 1, 120, 0, D},
      {40, 0, 1, 20, 1, D}}},
    {"a louder talker never cuts one mid-word, only between words",
     1,
     {{0, 0, 1, 40, 1, P},
      {0, 0, 2, 10, 1, D},
      {20, 0, 2, 10, 1, D},
      {150, 0, 1, 40, 1, P},
      {300, 0, 2, 10, 1, D},  /* 1 spoke 150 ms ago: mid-word */
      {360, 0, 2, 10, 1, S},  /* 210 ms of silence from 1: between words, and 2 is 30 dB louder */
      {380, 0, 1, 40, 1, D},
      {1100, 0, 1, 40, 1, D}, /* 2 spoke at 360 ms: still holding, and louder */
      {1200, 0, 2, 10, 0, P}, /* silent for 840 ms: the place is free, and silence goes while it is */
      {1220, 0, 1, 40, 1, S}}},
    {"not clearly louder: the quieter talker keeps the place",
     1,
     {{0, 0, 1, 22, 1, P}, {0, 0, 2, 20, 1, D}, {300, 0, 2, 20, 1, D}, {300, 0, 1, 22, 0, P}}},
    {"each listener has its own places",
     1,
     {{0, 0, 1, 20, 1, P}, {0, 1, 2, 20, 1, P}, {0, 0, 2, 20, 1, D}, {0, 1, 1, 20, 1, D}}},
    {"a slot given to someone new is forgotten: as talker, as listener",
     1,
     {{0, 0, 1, 20, 1, P},
      {0, 0, 2, 20, 1, D},
      {10, 0, 1, 0, 0, RESET},
      {20, 0, 2, 20, 1, S},
      {20, 0, 1, 20, 1, D},
      {30, 0, 0, 0, 0, RESET},
      {40, 0, 1, 20, 1, P}}},
};

static void run(const scenario *sc)
{
    gv_talkers *t = NULL;
    assert_int_equal(gv_talkers_create(sc->max, &t), GV_OK);
    for (const step *st = sc->steps; st->want || st->at_ms || st->talker; st++) {
        uint64_t now = T0 + (uint64_t)st->at_ms * MS;
        if (st->want == RESET) {
            gv_talkers_reset(t, (uint8_t)st->talker);
            continue;
        }
        gv_talkers_heard(t, (uint8_t)st->talker, (uint8_t)st->level, st->voiced);
        int got = gv_talkers_admit(t, (uint8_t)st->listener, (uint8_t)st->talker, st->voiced, now);
        if (got != st->want)
            fail_msg("%s: at %u ms, talker %d to listener %d: verdict %d, want %d", sc->name, st->at_ms,
                     st->talker, st->listener, got, st->want);
    }
    gv_talkers_destroy(t);
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
}

static void test_limits(void **state)
{
    (void)state;
    gv_talkers *t = NULL;
    assert_int_equal(gv_talkers_create(0, &t), GV_EINVAL);
    assert_int_equal(gv_talkers_create(GV_TALKERS_MAX + 1, &t), GV_EINVAL);
    assert_int_equal(gv_talkers_create(1, NULL), GV_EINVAL);
    gv_talkers_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
