/* The echo canceller's reference hand-off (gv_echoref): lined up with the
 * microphone by time, continuous while the stamps merely jitter, re-seated
 * when the latency jumps, silent when nothing played, and whole when a
 * writer thread runs beside the reader. Virtual time throughout, except
 * the thread test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "audio/gv_echoref.h"
#include "gvoip/error.h"
#include "test_rng.h"

#define STEP GV_CLEAN_STEP
#define SPS 48 /* samples per ms */

/* Sample n of the played signal: its own index, exact in a float. */
static float played(int64_t n)
{
    return (float)(n % 1000000);
}

typedef struct sim {
    gv_echoref *er;
    int64_t written;
    uint64_t now_us;
    uint64_t latency_us; /* playback: from a write to its last sample playing */
    int jitter_us;       /* of the playback stamps */
} sim;

static void write_block(sim *s)
{
    float buf[STEP];
    for (int i = 0; i < STEP; i++)
        buf[i] = played(s->written + i);
    s->written += STEP;
    int j = s->jitter_us ? (int)(test_rng_next() % (uint32_t)(2 * s->jitter_us + 1)) - s->jitter_us : 0;
    assert_int_equal(gv_echoref_write(s->er, buf, STEP, 48000, 1, s->now_us + s->latency_us + (uint64_t)(int64_t)j), 0);
}

/* Each 10 ms: a block is written, then the step captured capture_us ago is
 * read. Returns how many reads had a reference; *bad counts the reads whose
 * samples are not the ones that played GV_ECHOREF_LEAD_MS before they were
 * captured, within tol samples, or not continuous with the read before. */
static int run(sim *s, int steps, uint64_t capture_us, int tol, int *bad)
{
    int got = 0;
    float prev_last = -1;
    for (int k = 0; k < steps; k++) {
        s->now_us += 10000;
        write_block(s);
        float ref[STEP];
        uint64_t captured_end = s->now_us - capture_us;
        int rc = gv_echoref_read(s->er, ref, captured_end);
        assert_true(rc == 0 || rc == 1);
        if (!rc) {
            prev_last = -1;
            continue;
        }
        got++;
        /* The sample playing at captured_end - lead: the last one written
         * played at now + latency. */
        double at = (double)(captured_end - GV_ECHOREF_LEAD_MS * 1000);
        double want = (double)(s->written - 1) - ((double)(s->now_us + s->latency_us) - at) * SPS / 1000.0;
        if (fabs(ref[STEP - 1] - played((int64_t)llround(want))) > tol ||
            (prev_last >= 0 && ref[0] != prev_last + 1))
            (*bad)++;
        for (int i = 1; i < STEP; i++)
            assert_true(ref[i] == ref[i - 1] + 1);
        prev_last = ref[STEP - 1];
    }
    return got;
}

/* A new reader over a second of steady stamps, every read in place. */
static void start_steady(sim *s)
{
    int bad = 0;
    assert_int_equal(gv_echoref_create(&s->er), 0);
    run(s, 100, 10000, 1, &bad);
    assert_int_equal(bad, 0);
}

static void test_lined_up_by_time(void **state)
{
    (void)state;
    const uint64_t latencies[] = {5000, 30000, 120000};
    const uint64_t captures[] = {0, 8000, 40000};
    for (size_t i = 0; i < 3; i++) {
        sim s = {.now_us = 1000000, .latency_us = latencies[i]};
        int bad = 0;
        assert_int_equal(gv_echoref_create(&s.er), 0);
        assert_int_equal(gv_echoref_prepare(s.er, 48000, 1), 0);
        int got = run(&s, 300, captures[i], 1, &bad);
        if (bad || got < 280)
            fail_msg("latency %llu us, capture %llu us: %d of 300 reads, %d misplaced",
                     (unsigned long long)latencies[i], (unsigned long long)captures[i], got, bad);
        assert_int_equal(gv_echoref_reseats(s.er), 0);
        gv_echoref_destroy(s.er);
    }
}

/* Stamps that jitter by a few ms (a sound server's latency figures) must
 * not move the reference: the canceller would have to re-learn. */
static void test_jitter_keeps_it_continuous(void **state)
{
    (void)state;
    uint32_t seed = 1234;
    test_rng_seed(seed);
    sim s = {.now_us = 1000000, .latency_us = 30000, .jitter_us = 3000};
    int bad = 0;
    assert_int_equal(gv_echoref_create(&s.er), 0);
    run(&s, 500, 10000, 4 * SPS, &bad);
    if (bad || gv_echoref_reseats(s.er) != 0)
        fail_msg("seed %u: %d reads off or broken, %llu reseats", seed, bad,
                 (unsigned long long)gv_echoref_reseats(s.er));
    gv_echoref_destroy(s.er);
}

/* The sound server's latency jumps by 60 ms: the reader follows at the
 * second read that says so. */
static void test_latency_jump_reseats(void **state)
{
    (void)state;
    sim s = {.now_us = 1000000, .latency_us = 20000};
    int bad = 0;
    assert_int_equal(gv_echoref_create(&s.er), 0);
    run(&s, 100, 10000, 1, &bad);
    s.latency_us = 80000;
    bad = 0;
    run(&s, 2, 10000, 1, &bad);
    assert_int_equal(gv_echoref_reseats(s.er), 1);
    /* A new alignment, not a step the canceller could carry across. */
    assert_int_equal(gv_echoref_take_moved(s.er), 0);
    bad = 0;
    run(&s, 100, 10000, 1, &bad);
    assert_int_equal(bad, 0);
    gv_echoref_destroy(s.er);
}

/* One stamp 40 ms off (a sound server's figure that glitched): the
 * reference goes on as it was, with no jump, nothing told the canceller,
 * and the average it steps by unmoved. */
static void test_stray_stamp_ignored(void **state)
{
    (void)state;
    sim s = {.now_us = 1000000, .latency_us = 20000};
    int bad = 0;
    start_steady(&s);
    for (int k = 0; k < 5; k++) {
        s.latency_us += 40000;
        run(&s, 1, 10000, 1, &bad);
        s.latency_us -= 40000;
        bad = 0;
        run(&s, 60, 10000, 1, &bad);
        assert_int_equal(bad, 0);
    }
    assert_int_equal(gv_echoref_reseats(s.er), 0);
    assert_int_equal(gv_echoref_take_moved(s.er), 0);
    gv_echoref_destroy(s.er);
}

/* The device underran: it played 8 ms of silence that is not in the
 * reference, so from then on everything plays 8 ms later than the ring
 * says. The reader jumps once within half a second, to within
 * GV_ECHOREF_STEP_MS of the new place, and stays put. */
static void test_underrun_gap_is_followed(void **state)
{
    (void)state;
    sim s = {.now_us = 1000000, .latency_us = 20000};
    int bad = 0;
    start_steady(&s);
    assert_int_equal(gv_echoref_take_moved(s.er), 0);
    s.latency_us += 8000;
    run(&s, 50, 10000, 1, &bad);
    assert_int_equal(gv_echoref_reseats(s.er), 1);
    /* The step is told, once: back, by most of the gap. */
    int moved = gv_echoref_take_moved(s.er);
    if (moved > -(8 - GV_ECHOREF_STEP_MS) * SPS || moved < -8 * SPS)
        fail_msg("stepped by %d samples for an 8 ms gap", moved);
    assert_int_equal(gv_echoref_take_moved(s.er), 0);
    bad = 0;
    run(&s, 200, 10000, GV_ECHOREF_STEP_MS * SPS, &bad);
    assert_int_equal(bad, 0);
    assert_int_equal(gv_echoref_reseats(s.er), 1);
    gv_echoref_destroy(s.er);
}

/* Nothing written, or playback stopped for a while: no reference, then
 * the right one again when playback resumes. */
/* The microphone drops 300 samples (its frames lined up with the
 * device's deliveries): each step then ends 6.25 ms later in capture time,
 * and the reference skips with it at once, neither moved nor reseated. */
static void test_skip_with_the_microphone(void **state)
{
    (void)state;
    sim s = {.now_us = 1000000, .latency_us = 30000};
    start_steady(&s);
    gv_echoref_skip(s.er, 300);
    int bad = 0;
    int got = run(&s, 200, 10000 - 300 * 1000 / SPS, 1, &bad);
    if (bad || got != 200)
        fail_msg("after the skip: %d of 200 reads, %d misplaced", got, bad);
    assert_int_equal(gv_echoref_take_moved(s.er), 0);
    assert_int_equal(gv_echoref_reseats(s.er), 0);
    gv_echoref_skip(NULL, 300);
    gv_echoref_skip(s.er, -5);
    gv_echoref_destroy(s.er);
}

static void test_silence_when_nothing_played(void **state)
{
    (void)state;
    sim s = {.now_us = 1000000, .latency_us = 20000};
    float ref[STEP];
    int bad = 0;
    assert_int_equal(gv_echoref_create(&s.er), 0);
    assert_int_equal(gv_echoref_read(s.er, ref, s.now_us), 0);
    run(&s, 50, 10000, 1, &bad);
    s.now_us += 2000000; /* playback corked for 2 s */
    assert_int_equal(gv_echoref_read(s.er, ref, s.now_us - 10000), 0);
    bad = 0;
    int got = run(&s, 50, 10000, 1, &bad);
    assert_int_equal(bad, 0);
    assert_true(got >= 45);
    gv_echoref_destroy(s.er);
}

static void test_formats_and_arguments(void **state)
{
    (void)state;
    gv_echoref *er = NULL;
    float buf[2 * STEP] = {0}, ref[STEP];
    assert_int_equal(gv_echoref_create(NULL), GV_EINVAL);
    assert_int_equal(gv_echoref_create(&er), 0);
    assert_int_equal(gv_echoref_prepare(NULL, 48000, 1), GV_EINVAL);
    assert_int_equal(gv_echoref_prepare(er, 7999, 1), GV_EINVAL);
    assert_int_equal(gv_echoref_prepare(er, 48000, 3), GV_EINVAL);
    assert_int_equal(gv_echoref_write(NULL, buf, 1, 48000, 1, 0), GV_EINVAL);
    assert_int_equal(gv_echoref_write(er, NULL, 1, 48000, 1, 0), GV_EINVAL);
    assert_int_equal(gv_echoref_write(er, buf, STEP, 44100, 3, 0), GV_EINVAL);
    assert_int_equal(gv_echoref_read(NULL, ref, 0), GV_EINVAL);
    assert_int_equal(gv_echoref_read(er, NULL, 0), GV_EINVAL);
    /* Stereo at 44.1 kHz becomes 48 kHz mono: 100 ms of a constant in
     * gives a constant out, once the converter's filter filled. */
    for (int i = 0; i < 2 * STEP; i++)
        buf[i] = 0.25f;
    uint64_t t = 1000000;
    for (int k = 0; k < 20; k++, t += 10000)
        assert_int_equal(gv_echoref_write(er, buf, 441, 44100, 2, t + 10000), 0);
    assert_int_equal(gv_echoref_read(er, ref, t - 50000), 1);
    for (int i = 0; i < STEP; i++)
        assert_true(fabsf(ref[i] - 0.25f) < 1e-3f);
    assert_int_equal(gv_echoref_reseats(NULL), 0);
    assert_int_equal(gv_echoref_take_moved(NULL), 0);
    gv_echoref_destroy(er);
    gv_echoref_destroy(NULL);
}

/* A writer thread (the device callback) and the reader: every sample the
 * reader gets is one the writer wrote, in order, and published stamps are
 * never torn. */
typedef struct shared {
    gv_echoref *er;
    atomic_int stop, done;
    atomic_uint_fast64_t clock_us;
} shared;

static void *writer(void *arg)
{
    shared *sh = arg;
    float buf[STEP];
    int64_t n = 0;
    while (!atomic_load(&sh->stop)) {
        for (int i = 0; i < STEP; i++)
            buf[i] = played(n + i);
        n += STEP;
        uint64_t t = atomic_fetch_add(&sh->clock_us, 10000) + 10000;
        if (gv_echoref_write(sh->er, buf, STEP, 48000, 1, t + 20000) != 0)
            return (void *)1;
        if (n > 900000) /* stays within the exactly representable indices */
            break;
    }
    atomic_store(&sh->done, 1);
    return NULL;
}

static void test_writer_thread(void **state)
{
    (void)state;
    shared sh;
    pthread_t th;
    float ref[STEP];
    int reads = 0, torn = 0;
    void *result = NULL;
    assert_int_equal(gv_echoref_create(&sh.er), 0);
    assert_int_equal(gv_echoref_prepare(sh.er, 48000, 1), 0);
    atomic_init(&sh.stop, 0);
    atomic_init(&sh.done, 0);
    atomic_init(&sh.clock_us, 1000000);
    assert_int_equal(pthread_create(&th, NULL, writer, &sh), 0);
    /* Reads go on until the writer is done, and a while after. */
    for (int after = 0; after < 100 && reads < 5000;) {
        after += atomic_load(&sh.done);
        uint64_t now = atomic_load(&sh.clock_us);
        if (gv_echoref_read(sh.er, ref, now - 5000) == 1) {
            reads++;
            for (int i = 1; i < STEP; i++)
                torn += ref[i] != ref[i - 1] + 1;
        }
    }
    atomic_store(&sh.stop, 1);
    pthread_join(th, &result);
    assert_null(result);
    assert_int_equal(torn, 0);
    assert_true(reads > 0);
    gv_echoref_destroy(sh.er);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lined_up_by_time),
        cmocka_unit_test(test_jitter_keeps_it_continuous),
        cmocka_unit_test(test_latency_jump_reseats),
        cmocka_unit_test(test_stray_stamp_ignored),
        cmocka_unit_test(test_underrun_gap_is_followed),
        cmocka_unit_test(test_skip_with_the_microphone),
        cmocka_unit_test(test_silence_when_nothing_played),
        cmocka_unit_test(test_formats_and_arguments),
        cmocka_unit_test(test_writer_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
