/* playbuf in virtual time, driven as the PulseAudio backend drives it: an
 * underrun when the server reports one, a settle when playbuf_due_us says.
 * Each scene lists its underruns and every change of the length asked for,
 * over three minutes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "playbuf.h"

#define MAX_EVENTS 12
#define HORIZON_MS 180000u

typedef struct {
    unsigned t_ms;
    int ms;
} change;

typedef struct {
    const char *name;
    int base_ms, max_ms;
    unsigned underruns_ms[MAX_EVENTS]; /* ascending; 0 ends the list */
    change want[MAX_EVENTS];           /* every change of p.ms; {0, 0} ends the list */
} scene;

static const scene scenes[] = {
    {"one stall: two underruns 9 ms apart lengthen it once, and it goes back after 20 s", 10, 40,
     {1000, 1009}, {{1000, 15}, {21009, 10}}},
    {"underruns 250 ms or more apart are separate stalls", 10, 40,
     {1000, 1249, 1250}, {{1000, 15}, {1250, 23}, {21250, 15}, {41250, 10}}},
    {"stalls a second apart: half as long again each time, back a step every 20 s", 10, 40,
     {1000, 2000, 3000}, {{1000, 15}, {2000, 23}, {3000, 35}, {23000, 23}, {43000, 15}, {63000, 10}}},
    {"the ceiling holds, and the way back retraces the steps", 10, 40,
     {1000, 2000, 3000, 4000, 5000},
     {{1000, 15}, {2000, 23}, {3000, 35}, {4000, 40}, {25000, 35}, {45000, 23}, {65000, 15}, {85000, 10}}},
    {"an underrun while holding restarts the hold", 10, 40,
     {1000, 15000, 30000}, {{1000, 15}, {15000, 23}, {30000, 35}, {50000, 23}, {70000, 15}, {90000, 10}}},
    {"underrunning again at the length it went back to doubles the hold", 10, 40,
     {1000, 25000, 70000},
     {{1000, 15}, {21000, 10}, {25000, 15}, {65000, 10}, {70000, 15}, {150000, 10}}},
    {"an underrun at the ceiling is counted, nothing else", 40, 40, {1000, 2000}, {{0, 0}}},
    {"a buffer asked for beyond the ceiling never grows", 60, 40, {1000}, {{0, 0}}},
    {"at its base there is nothing to wait for", 5, 40, {0}, {{0, 0}}},
    {"a 5 ms base: 5, 8, 12", 5, 40, {1000, 3000}, {{1000, 8}, {3000, 12}, {23000, 8}, {43000, 5}}},
};

static void run(const scene *sc)
{
    playbuf p;
    playbuf_init(&p, sc->base_ms, sc->max_ms);
    change got[4 * MAX_EVENTS];
    int n = 0, u = 0;
    for (;;) {
        const uint64_t due = playbuf_due_us(&p);
        const uint64_t next_underrun =
            u < MAX_EVENTS && sc->underruns_ms[u] ? (uint64_t)sc->underruns_ms[u] * 1000u : UINT64_MAX;
        if (!due && next_underrun == UINT64_MAX)
            break;
        int changed;
        uint64_t now;
        if (due && due < next_underrun) {
            now = due;
            changed = playbuf_settle(&p, now);
            /* Due means due: the backend's timer fires once per due time. */
            assert_true(changed);
        } else {
            now = next_underrun;
            changed = playbuf_underrun(&p, now);
            u++;
        }
        if (now > (uint64_t)HORIZON_MS * 1000u)
            break;
        if (changed) {
            assert_true(n < 4 * MAX_EVENTS);
            got[n++] = (change){(unsigned)(now / 1000u), p.ms};
        }
        assert_true(p.ms >= sc->base_ms);
        assert_true(p.ms <= (sc->base_ms > sc->max_ms ? sc->base_ms : sc->max_ms));
    }
    int want = 0;
    while (want < MAX_EVENTS && sc->want[want].ms)
        want++;
    for (int i = 0; i < n || i < want; i++) {
        if (i >= n || i >= want || got[i].t_ms != sc->want[i].t_ms || got[i].ms != sc->want[i].ms) {
            fprintf(stderr, "scene \"%s\": change %d: got %s%u ms -> %d, want %s%u ms -> %d\n", sc->name, i,
                    i < n ? "" : "none ", i < n ? got[i].t_ms : 0, i < n ? got[i].ms : 0, i < want ? "" : "none ",
                    i < want ? sc->want[i].t_ms : 0, i < want ? sc->want[i].ms : 0);
            fail();
        }
    }
    assert_int_equal(p.ms, sc->base_ms);
}

static void test_scenes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scenes) / sizeof(scenes[0]); i++)
        run(&scenes[i]);
}

/* A settle before its time changes nothing. */
static void test_early_settle(void **state)
{
    (void)state;
    playbuf p;
    playbuf_init(&p, 10, 40);
    assert_int_equal(playbuf_settle(&p, 5000000), 0);
    assert_int_equal(playbuf_underrun(&p, 1000000), 1);
    assert_int_equal(playbuf_due_us(&p), 1000000 + PLAYBUF_HOLD_US);
    assert_int_equal(playbuf_settle(&p, PLAYBUF_HOLD_US), 0);
    assert_int_equal(p.ms, 15);
    assert_int_equal(playbuf_settle(&p, 1000000 + PLAYBUF_HOLD_US), 1);
    assert_int_equal(p.ms, 10);
    assert_int_equal(playbuf_due_us(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenes),
        cmocka_unit_test(test_early_settle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
