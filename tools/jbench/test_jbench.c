/* The benchmark's own logic: trace models (delay distributions, FIFO,
 * talk spurts, Gilbert loss windows), the hindsight delay, and that both
 * buffers play a jitter-free trace completely. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "jbench_sim.h"
#include "jbench_trace.h"

#define SEED 7

static jbench_scenario one_leg(double delay, double jitter, int dist)
{
    jbench_scenario s = {.name = "t", .legs = 1, .seconds = 120};
    s.leg[0] = (jbench_leg){delay, jitter, dist};
    return s;
}

static void mean_delay_follows_model(void **state)
{
    /* Mean extra delay is J/2 (uniform), 0.798 J (half-normal), J (exp,
     * pareto); FIFO can only add to it, a little at 20 ms spacing. */
    static const struct { int dist; double factor; } cases[] = {
        {JBENCH_UNIFORM, 0.5}, {JBENCH_NORMAL, 0.798}, {JBENCH_EXP, 1.0}, {JBENCH_PARETO, 1.0}};
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        jbench_scenario s = one_leg(20, 4, cases[c].dist);
        jbench_trace t;
        double sum = 0;
        assert_int_equal(jbench_trace_make(&s, SEED, &t), 0);
        assert_int_equal(t.n, 6000);
        assert_int_equal(t.arrived, t.n);
        for (int i = 0; i < t.n; i++)
            sum += (double)(t.pkt[i].arrive_us - t.pkt[i].send_us) / 1000.0;
        sum /= t.n;
        if (fabs(sum - (20 + 4 * cases[c].factor)) > 0.3)
            fail_msg("dist %d seed %d: mean %.3f ms, want %.3f", cases[c].dist, SEED, sum,
                     20 + 4 * cases[c].factor);
        jbench_trace_free(&t);
    }
}

static void fifo_and_arrival_order(void **state)
{
    jbench_scenario s = one_leg(10, 60, JBENCH_PARETO);
    jbench_trace t;
    (void)state;
    assert_int_equal(jbench_trace_make(&s, SEED, &t), 0);
    for (int i = 1; i < t.arrived; i++) {
        const jbench_pkt *a = &t.pkt[t.by_arrival[i - 1]], *b = &t.pkt[t.by_arrival[i]];
        assert_true(a->arrive_us <= b->arrive_us);
        assert_true(t.by_arrival[i - 1] < t.by_arrival[i]); /* never reordered */
    }
    jbench_trace_free(&t);
}

static void spurts_and_burst_window(void **state)
{
    jbench_scenario s = one_leg(20, 0, JBENCH_UNIFORM);
    jbench_trace t;
    int markers = 0, in_lost = 0, in_n = 0, out_lost = 0;
    (void)state;
    s.spurts = 1;
    s.seconds = 600;
    s.burst = (jbench_window){10, 10, 60};
    s.burst_pct = 20;
    s.burst_len = 4;
    assert_int_equal(jbench_trace_make(&s, SEED, &t), 0);
    /* About half the time talking, spurts of 1.5 s on average. */
    assert_true(t.n > 12000 && t.n < 18000);
    for (int i = 0; i < t.n; i++) {
        const jbench_pkt *p = &t.pkt[i];
        double sec = fmod((double)p->send_us / 1e6 - 10, 60);
        markers += p->marker;
        if (i > 0) {
            assert_int_equal((uint16_t)(t.pkt[i - 1].seq + 1), p->seq);
            assert_true(p->ts - t.pkt[i - 1].ts >= JBENCH_FRAME_SAMPLES);
            assert_true(p->marker || p->ts - t.pkt[i - 1].ts == JBENCH_FRAME_SAMPLES);
        }
        if ((double)p->send_us / 1e6 >= 10 && sec < 10) {
            in_n++;
            in_lost += p->arrive_us < 0;
        } else {
            out_lost += p->arrive_us < 0;
        }
    }
    assert_true(markers > 150 && markers < 250);
    assert_int_equal(out_lost, 0);
    if (fabs(100.0 * in_lost / in_n - 20) > 4)
        fail_msg("seed %d: %.2f%% lost in the windows, want 20", SEED, 100.0 * in_lost / in_n);
    jbench_trace_free(&t);
}

static void hindsight_is_the_order_statistic(void **state)
{
    jbench_pkt pk[5] = {{.send_us = 0, .arrive_us = 30}, {.send_us = 10, .arrive_us = 20},
                        {.send_us = 20, .arrive_us = -1}, {.send_us = 30, .arrive_us = 80},
                        {.send_us = 40, .arrive_us = 45}};
    jbench_trace t = {.pkt = pk, .n = 5, .arrived = 4};
    (void)state;
    /* Delays 30, 10, 50, 5: none late needs 50, one late 30, two 10. */
    assert_int_equal(jbench_hindsight_us(&t, 0), 50);
    assert_int_equal(jbench_hindsight_us(&t, 1), 30);
    assert_int_equal(jbench_hindsight_us(&t, 2), 10);
    assert_int_equal(jbench_hindsight_us(&t, 99), 5);
}

static void clean_trace_plays_everything(void **state)
{
    jbench_scenario s = one_leg(20, 0, JBENCH_UNIFORM);
    jbench_trace t;
    jbench_result g, x;
    (void)state;
    s.seconds = 60;
    assert_int_equal(jbench_trace_make(&s, SEED, &t), 0);
    assert_int_equal(jbench_run_gv(&t, NULL, &g, NULL), 0);
    assert_int_equal(jbench_run_speex(&t, JBENCH_SPEEX_MUMBLE, &x, NULL), 0);
    /* gv_jbuf starts at its initial delay and comes down by playing
     * frames shorter; it used to drop one, so one packet may go unplayed. */
    assert_true(g.late <= 1);
    assert_int_equal(x.late, 0);
    assert_true(g.played >= t.n - 1);
    /* The network takes 20 ms; neither may add more than a frame (and
     * gv_jbuf's drop hysteresis). */
    assert_true(g.delay_ms >= 20 && g.delay_ms <= 42.5);
    assert_true(x.delay_ms >= 20 && x.delay_ms <= 40);
    jbench_trace_free(&t);
}

/* A clean trace from a sender whose clock runs 2% slow or fast: gv_jbuf
 * follows it by playing frames longer or shorter, so it plays every packet
 * but the first few (before the drift shows), at a delay within 10 ms of
 * the trace without drift. */
static void drifting_clock_plays_everything(void **state)
{
    static const double ppm[] = {-20000, 20000};
    jbench_scenario s = one_leg(20, 2, JBENCH_UNIFORM);
    jbench_trace t;
    jbench_result g0, g;
    (void)state;
    s.seconds = 120;
    assert_int_equal(jbench_trace_make(&s, SEED, &t), 0);
    assert_int_equal(jbench_run_gv(&t, NULL, &g0, NULL), 0);
    jbench_trace_free(&t);
    for (size_t i = 0; i < sizeof ppm / sizeof *ppm; i++) {
        s.clock_ppm = ppm[i];
        assert_int_equal(jbench_trace_make(&s, SEED, &t), 0);
        assert_int_equal(jbench_run_gv(&t, NULL, &g, NULL), 0);
        if (g.late > 2 || fabs(g.delay_ms - g0.delay_ms) > 10)
            fail_msg("seed %d, clock %+.0f ppm: %d late, %.1f ms against %.1f without drift", SEED, ppm[i], g.late,
                     g.delay_ms, g0.delay_ms);
        jbench_trace_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mean_delay_follows_model),
        cmocka_unit_test(fifo_and_arrival_order),
        cmocka_unit_test(spurts_and_burst_window),
        cmocka_unit_test(hindsight_is_the_order_statistic),
        cmocka_unit_test(clean_trace_plays_everything),
        cmocka_unit_test(drifting_clock_plays_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
