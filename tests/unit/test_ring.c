#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gvoip/error.h"
#include "gvoip/ring.h"

#define SEED 0x72696e67u
/* Below 2^24, so every count is exactly representable as a float. */
#define STRESS_SAMPLES (1u << 20)
#define STRESS_CAPACITY 64

static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void test_create_rejects(void **state)
{
    (void)state;
    gv_ring *r = (gv_ring *)&r;
    assert_int_equal(gv_ring_create(16, NULL), GV_EINVAL);
    assert_int_equal(gv_ring_create(0, &r), GV_EINVAL);
    assert_null(r);
    r = (gv_ring *)&r;
    assert_int_equal(gv_ring_create(SIZE_MAX, &r), GV_EINVAL);
    assert_null(r);
    gv_ring_destroy(NULL);
}

static void test_capacity_rounds_up(void **state)
{
    (void)state;
    static const struct {
        size_t asked, got;
    } cases[] = {
        {1, 1}, {2, 2}, {3, 4}, {5, 8}, {8, 8}, {9, 16}, {1000, 1024}, {1024, 1024}, {1025, 2048},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gv_ring *r = NULL;
        assert_int_equal(gv_ring_create(cases[i].asked, &r), GV_OK);
        assert_int_equal(gv_ring_readable(r), 0);
        assert_int_equal(gv_ring_writable(r), cases[i].got);
        gv_ring_destroy(r);
    }
}

static void test_null_arguments(void **state)
{
    (void)state;
    float x[4] = {0};
    gv_ring *r = NULL;
    assert_int_equal(gv_ring_create(4, &r), GV_OK);
    assert_int_equal(gv_ring_write(NULL, x, 4), 0);
    assert_int_equal(gv_ring_write(r, NULL, 4), 0);
    assert_int_equal(gv_ring_read(NULL, x, 4), 0);
    assert_int_equal(gv_ring_read(r, NULL, 4), 0);
    assert_int_equal(gv_ring_readable(NULL), 0);
    assert_int_equal(gv_ring_writable(NULL), 0);
    assert_int_equal(gv_ring_readable(r), 0);
    gv_ring_destroy(r);
}

static void test_partial_writes(void **state)
{
    (void)state;
    float in[12], out[12];
    for (int i = 0; i < 12; i++)
        in[i] = (float)(i + 1);
    gv_ring *r = NULL;
    assert_int_equal(gv_ring_create(8, &r), GV_OK);

    /* Only what fits goes in; the rest is the caller's to keep. */
    assert_int_equal(gv_ring_write(r, in, 10), 8);
    assert_int_equal(gv_ring_writable(r), 0);
    assert_int_equal(gv_ring_readable(r), 8);
    assert_int_equal(gv_ring_write(r, in + 8, 1), 0);

    assert_int_equal(gv_ring_read(r, out, 3), 3);
    assert_int_equal(gv_ring_writable(r), 3);
    assert_int_equal(gv_ring_write(r, in + 8, 4), 3);

    /* A read larger than the content returns the content, in order. */
    memset(out, 0, sizeof(out));
    assert_int_equal(gv_ring_read(r, out, 12), 8);
    for (int i = 0; i < 8; i++)
        assert_true(out[i] == (float)(i + 4));
    assert_int_equal(gv_ring_read(r, out, 12), 0);
    assert_int_equal(gv_ring_readable(r), 0);
    assert_int_equal(gv_ring_writable(r), 8);
    gv_ring_destroy(r);
}

/* Every chunk size against an 8-sample ring, many times round, so each
 * copy splits at every possible place of the wrap. */
static void test_wrap_around(void **state)
{
    (void)state;
    enum { CAP = 8, ROUNDS = 50 };
    for (size_t chunk = 1; chunk <= CAP; chunk++) {
        gv_ring *r = NULL;
        assert_int_equal(gv_ring_create(CAP, &r), GV_OK);
        float next_in = 0.0f, next_out = 0.0f;
        /* Keep some samples in the ring across rounds so reads and writes
         * start at different offsets. */
        size_t keep = (chunk * 3) % CAP;
        for (size_t i = 0; i < keep; i++) {
            float v = next_in++;
            assert_int_equal(gv_ring_write(r, &v, 1), 1);
        }
        for (int round = 0; round < ROUNDS; round++) {
            float buf[CAP];
            size_t n = gv_ring_writable(r) < chunk ? gv_ring_writable(r) : chunk;
            for (size_t i = 0; i < n; i++)
                buf[i] = next_in++;
            assert_int_equal(gv_ring_write(r, buf, n), n);
            assert_int_equal(gv_ring_readable(r), keep + n);
            assert_int_equal(gv_ring_read(r, buf, n), n);
            for (size_t i = 0; i < n; i++) {
                if (buf[i] != next_out)
                    fail_msg("chunk %zu round %d: got %g, expected %g", chunk, round,
                             (double)buf[i], (double)next_out);
                next_out++;
            }
            assert_int_equal(gv_ring_readable(r) + gv_ring_writable(r), CAP);
        }
        gv_ring_destroy(r);
    }
}

typedef struct producer_arg {
    gv_ring *ring;
    uint32_t rng;
    size_t written;
} producer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    float buf[STRESS_CAPACITY];
    size_t next = 0;
    while (next < STRESS_SAMPLES) {
        size_t n = 1 + xorshift32(&a->rng) % STRESS_CAPACITY;
        if (n > STRESS_SAMPLES - next)
            n = STRESS_SAMPLES - next;
        for (size_t i = 0; i < n; i++)
            buf[i] = (float)(next + i);
        /* Whatever did not fit is offered again, like an audio callback
         * that keeps its samples for the next round. */
        size_t done = gv_ring_write(a->ring, buf, n);
        next += done;
        if (done == 0)
            sched_yield();
    }
    a->written = next;
    return NULL;
}

static void test_two_thread_stress(void **state)
{
    (void)state;
    gv_ring *r = NULL;
    assert_int_equal(gv_ring_create(STRESS_CAPACITY, &r), GV_OK);
    producer_arg arg = {.ring = r, .rng = SEED, .written = 0};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, producer, &arg), 0);

    uint32_t rng = SEED ^ 0x9e3779b9u;
    size_t expected = 0, bad_at = SIZE_MAX, level_violations = 0;
    float bad_value = 0.0f;
    float buf[STRESS_CAPACITY];
    while (expected < STRESS_SAMPLES) {
        if (gv_ring_readable(r) > STRESS_CAPACITY)
            level_violations++;
        size_t n = gv_ring_read(r, buf, 1 + xorshift32(&rng) % STRESS_CAPACITY);
        for (size_t i = 0; i < n; i++, expected++) {
            if (buf[i] != (float)expected && bad_at == SIZE_MAX) {
                bad_at = expected;
                bad_value = buf[i];
            }
        }
        if (n == 0)
            sched_yield();
    }
    assert_int_equal(pthread_join(thread, NULL), 0);

    if (bad_at != SIZE_MAX)
        fail_msg("seed 0x%08x: sample %zu read as %g", SEED, bad_at, (double)bad_value);
    assert_int_equal(level_violations, 0);
    assert_int_equal(arg.written, STRESS_SAMPLES);
    assert_int_equal(expected, STRESS_SAMPLES);
    assert_int_equal(gv_ring_readable(r), 0);
    assert_int_equal(gv_ring_read(r, buf, 1), 0);
    gv_ring_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects),
        cmocka_unit_test(test_capacity_rounds_up),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_partial_writes),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_two_thread_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
