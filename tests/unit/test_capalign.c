/* gv_capalign against a frame assembler fed by a device's deliveries:
 * pieces a frame long starting off the frames' phase, pieces pushed in
 * two parts, a device's own block size, pieces a few samples long or
 * short around a frame (also with their ends on the frames' ends),
 * pieces a little long (the phase drifting), speech that forbids a drop
 * for a while. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "audio/gv_capalign.h"

#define RATE 48000
#define FRAME 960
#define MS (RATE / 1000)
#define UNIT 120 /* drops are whole multiples of it (a voice timestamp's tick) */
#define LEAST (MS * GV_CAPALIGN_MIN_MS)
/* What a frame waits after a drop from w: least, and what is short of a
 * whole unit above it. */
#define AFTER(w) ((w) - ((w) - LEAST) / UNIT * UNIT)

typedef struct {
    const char *name;
    int first;      /* the first piece's length: what each frame then waits */
    int piece;      /* every later piece's length */
    int jitter;     /* > 0: later pieces up to this many samples longer or shorter (mean 0) */
    int split;      /* > 0: every piece pushed as split then the rest, 50 us apart */
    int audible_ms; /* the first this much of the stream may not be dropped */
    int drops_min, drops_max;
    int settled_max; /* the largest wait after a piece over the last second */
    int mean_max;    /* the mean wait after a piece over the last 5 s */
} scene;

/* Pieces come at the rate they hold (a piece of n samples n / 48 ms after
 * the one before); before each push the frame being assembled holds
 * waiting samples. */
static void run(const scene *sc)
{
    gv_capalign a;
    gv_capalign_init(&a, RATE, UNIT, FRAME);
    long total = 0; /* samples delivered */
    uint64_t now = 1000000;
    int waiting = 0, drops = 0, settled = 0, pieces = 0;
    long waited = 0;
    long dropped_audible = 0;
    /* The frames' timestamps against the capture clock: frame_start is
     * the index of the current frame's first sample among those delivered,
     * ts its timestamp. Their difference may move once, by the first drop. */
    long frame_start = 0, ts = 0, offset = 0;
    int offsets = 0;
    const long end = 10L * RATE;
    for (int k = 0; total < end; k++) {
        int len = k == 0 ? sc->first : sc->piece;
        if (k > 0 && sc->jitter > 0)
            len += (k * 7) % (2 * sc->jitter + 1) - sc->jitter;
        int parts[2] = {len, 0};
        if (sc->split > 0 && sc->split < len)
            parts[0] = sc->split, parts[1] = len - sc->split;
        now += (uint64_t)len * 1000000u / RATE;
        for (int j = 0; j < 2 && parts[j] > 0; j++) {
            int inaudible = total > (long)sc->audible_ms * MS;
            int drop = gv_capalign_push(&a, now + (uint64_t)j * 50, waiting, inaudible);
            if (drop) {
                if (drop > waiting || drop % UNIT != 0)
                    fail_msg("%s: dropped %d of %d waiting (units of %d)", sc->name, drop, waiting, UNIT);
                if (!inaudible)
                    dropped_audible += drop;
                drops++;
                waiting -= drop;
            }
            /* Each frame completed by this part: where the next one
             * starts, and that one's timestamp. */
            for (long w = waiting, left = parts[j], at = total; w + left >= FRAME; w = 0) {
                if (offsets == 0 || ts - frame_start != offset) {
                    offset = ts - frame_start;
                    offsets++;
                }
                at += FRAME - w;
                left -= FRAME - w;
                frame_start = at;
                ts += FRAME + gv_capalign_take_skip(&a);
            }
            total += parts[j];
            waiting = (waiting + parts[j]) % FRAME;
            gv_capalign_pushed(&a, parts[j]);
        }
        /* After each whole piece: what the frame being assembled waits. */
        if (total > end - RATE && waiting > settled)
            settled = waiting;
        if (total > end - 5L * RATE)
            waited += waiting, pieces++;
    }
    if (dropped_audible)
        fail_msg("%s: %ld audible samples dropped", sc->name, dropped_audible);
    /* The first drop moves the timestamps' origin; the later ones are
     * skipped over, so the timestamps keep the capture clock's pace. */
    if (offsets > (drops > 0 ? 2 : 1))
        fail_msg("%s: the timestamps moved against the capture clock %d times", sc->name, offsets - 1);
    if (drops < sc->drops_min || drops > sc->drops_max)
        fail_msg("%s: %d drops, expected %d..%d", sc->name, drops, sc->drops_min, sc->drops_max);
    if (settled > sc->settled_max)
        fail_msg("%s: frames still wait %d samples after pieces (at most %d)", sc->name, settled, sc->settled_max);
    if (waited > (long)sc->mean_max * pieces)
        fail_msg("%s: frames wait %ld samples on average (at most %d)", sc->name, waited / pieces, sc->mean_max);
}

static void test_scenes(void **state)
{
    (void)state;
    /* Pieces drifting 2 samples each move the phase about 20 samples a
     * window; a window must wait least plus a unit or more throughout
     * before a drop takes it back, so the wait climbs up to two windows'
     * worth past that. */
    const int drift = 2 * 2 * (GV_CAPALIGN_WINDOW_MS / 20 + 1);
    const scene scenes[] = {
        {"pieces on the frames' phase", FRAME, FRAME, 0, 0, 0, 0, 0, 0, 0},
        {"pieces 300 samples off the frames' phase", 300, FRAME, 0, 0, 0, 1, 1, AFTER(300), AFTER(300)},
        {"off by less than worth dropping", LEAST + UNIT - 1, FRAME, 0, 0, 0, 0, 0, LEAST + UNIT - 1,
         LEAST + UNIT - 1},
        {"off, dropped only once it is quiet", 300, FRAME, 0, 0, 3000, 1, 1, AFTER(300), AFTER(300)},
        {"off, never quiet", 300, FRAME, 0, 0, 20000, 0, 0, 300, 300},
        {"pieces pushed in two parts, on phase", FRAME, FRAME, 0, 303, 0, 0, 0, 0, 0},
        {"pieces pushed in two parts, 800 off", 800, FRAME, 0, 303, 0, 1, 1, AFTER(800), AFTER(800)},
        /* PulseAudio's pieces: a few samples long or short, about a frame
         * on average. What a drop leaves waiting keeps them from missing
         * their frame's end. */
        {"pieces a few samples off a frame, 500 off", 500, FRAME, 4, 0, 0, 1, 2, AFTER(500) + 8, AFTER(500) + 4},
        /* Pieces whose ends sit on the frames' ends, a sample or two either
         * way: a frame now and then misses its end by a sample and waits
         * for the whole next piece. On the frame's circle that is one
         * steady phase; the drop is taken from a piece that just missed. */
        {"pieces on the frames' phase, a sample or two long or short", FRAME - 1, FRAME, 2, 0, 0, 1, 1,
         AFTER(FRAME - 1) + 2, AFTER(FRAME - 1) + 2},
        /* What such blocks wait cycles through 0, 64, ... 896: nothing to drop. */
        {"a device's 512-sample blocks", 512, 512, 0, 0, 0, 0, 0, FRAME - 64, FRAME / 2},
        {"pieces 2 samples long", 100, FRAME + 2, 0, 0, 0, 1, 60, LEAST + UNIT + drift, LEAST + UNIT + drift},
        /* Audio pushed as a loop's wake-ups come (a file paced by the
         * clock): what waits wanders by up to 200 samples, and is what
         * keeps a frame from going out a delivery late. Nothing dropped. */
        {"pushes as wake-ups come, 500 off", 500, FRAME, 100, 0, 0, 0, 0, FRAME, FRAME},
    };
    for (size_t i = 0; i < sizeof scenes / sizeof scenes[0]; i++)
        run(&scenes[i]);
}

static void test_arguments(void **state)
{
    (void)state;
    gv_capalign a;
    gv_capalign_init(&a, RATE, UNIT, FRAME);
    assert_int_equal(gv_capalign_push(&a, 1000, -1, 1), 0);
    gv_capalign_pushed(&a, -5);
    gv_capalign_pushed(&a, 0);
    assert_int_equal(a.delivering, 0);
    /* The first push ends no delivery. */
    assert_int_equal(gv_capalign_push(&a, 1000, 300, 1), 0);
    assert_int_equal(a.seen, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenes),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
