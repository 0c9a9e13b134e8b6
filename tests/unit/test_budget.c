/* Per-player budgets in virtual time: scenario tables of message trains
 * (how many, how far apart, what kind) and how many of each train pass, are
 * dropped over budget, or get the player removed; and the audio time a
 * packet is charged from its Opus TOC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gvoip/gvoip.h"
#include "session/gv_budget.h"

#define MS 1000u
#define S 1000000u
#define T0 (5 * S)

typedef struct train {
    uint64_t at_us; /* from T0 */
    int n;
    uint64_t every_us;
    gv_budget_kind kind;
    uint64_t voice_us;
    size_t bytes;
    int pass, over, remove; /* expected counts */
} train;

typedef struct scen {
    const char *name;
    int players;
    train trains[8];
} scen;

#define VOICE(at, n, every, frame_ms, bytes, pass, over, remove) \
    {at, n, every, GV_BUDGET_VOICE, (frame_ms) * MS, bytes, pass, over, remove}
#define OTHER(at, n, kind, pass, over) {at, n, MS, kind, 0, 60, pass, over, 0}
#define END {0, 0, 0, GV_BUDGET_CONTROL, 0, 0, 0, 0, 0}

static const scen scenarios[] = {
    {"20 ms frames: 67 a second", 2, {VOICE(0, 68, MS, 20, 80, 67, 1, 0), VOICE(S, 67, 14 * MS, 20, 80, 67, 0, 0), END}},
    {"10 ms frames: 135 a second", 2, {VOICE(0, 136, MS, 10, 40, 135, 1, 0), END}},
    {"a steady talker at 50 packets a second never counts over", 2, {VOICE(0, 500, 20 * MS, 20, 80, 500, 0, 0), END}},
    {"flood: over in three windows in a row removes",
     2,
     {VOICE(0, 100, MS, 20, 80, 67, 33, 0), VOICE(S, 100, MS, 20, 80, 67, 33, 0),
      VOICE(2 * S, 100, MS, 20, 80, 67, 0, 33), END}},
    {"a quiet window between two bad ones clears the strikes",
     2,
     {VOICE(0, 100, MS, 20, 80, 67, 33, 0), VOICE(S, 100, MS, 20, 80, 67, 33, 0),
      VOICE(3500 * MS, 100, MS, 20, 80, 67, 33, 0), VOICE(4500 * MS, 100, MS, 20, 80, 67, 33, 0),
      VOICE(5500 * MS, 100, MS, 20, 80, 67, 0, 33), END}},
    {"control: 20 plus one per player", 4, {OTHER(0, 25, GV_BUDGET_CONTROL, 24, 1), END}},
    {"positions: 75 a second", 4,
     {OTHER(0, 76, GV_BUDGET_POSITION, 75, 1), OTHER(S, 75, GV_BUDGET_POSITION, 75, 0), END}},
    {"bytes: 40 KiB a second", 2, {VOICE(0, 32, MS, 20, 1300, 31, 1, 0), END}},
};

static void run(const scen *sc)
{
    gv_budget b;
    gv_budget_start(&b, T0);
    for (const train *t = sc->trains; t->n; t++) {
        int got[3] = {0, 0, 0};
        for (int k = 0; k < t->n; k++)
            got[gv_budget_charge(&b, t->kind, t->voice_us, t->bytes, sc->players, T0 + t->at_us +
                                                                                     (uint64_t)k * t->every_us)]++;
        if (got[GV_BUDGET_PASS] != t->pass || got[GV_BUDGET_OVER] != t->over || got[GV_BUDGET_REMOVE] != t->remove)
            fail_msg("%s: train %d: %d passed, %d over, %d removing; expected %d, %d, %d", sc->name,
                     (int)(t - sc->trains), got[0], got[1], got[2], t->pass, t->over, t->remove);
    }
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
}

/* RFC 6716, 3.1: config (bits 3-7) gives the frame size, code (bits 0-1)
 * the frame count; code 3 has the count in the next byte. */
static void test_voice_duration(void **state)
{
    static const struct {
        uint8_t toc, count;
        uint8_t flags;
        uint64_t want_us;
    } cases[] = {
        {0 << 3, 0, 0, 10 * MS},                /* SILK 10 ms */
        {1 << 3, 0, 0, 20 * MS},                /* SILK 20 ms */
        {3 << 3, 0, 0, 60 * MS},                /* SILK 60 ms */
        {(1 << 3) | 1, 0, 0, 40 * MS},          /* two 20 ms frames */
        {(1 << 3) | 3, 3, 0, 60 * MS},          /* code 3: three of them */
        {(3 << 3) | 3, 6, 0, 120 * MS},         /* six 60 ms frames: capped */
        {13 << 3, 0, 0, 20 * MS},               /* hybrid 20 ms */
        {16 << 3, 0, 0, 10 * MS},               /* CELT 2.5 ms counts as 10 */
        {19 << 3, 0, 0, 20 * MS},               /* CELT 20 ms */
        {(19 << 3) | 3, 0, 0, 10 * MS},         /* code 3 with no count byte: the floor */
        {0, 0, GV_VOICE_RAW, 1024 * S / 48000}, /* the raw baseline */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t payload[2] = {cases[i].toc, cases[i].count};
        gv_msg m = {.type = GV_MSG_VOICE};
        m.u.voice.flags = cases[i].flags;
        m.u.voice.payload = payload;
        m.u.voice.len = cases[i].count ? 2 : 1;
        if (gv_budget_voice_us(&m) != cases[i].want_us)
            fail_msg("case %zu: %llu us, expected %llu", i, (unsigned long long)gv_budget_voice_us(&m),
                     (unsigned long long)cases[i].want_us);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_voice_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
