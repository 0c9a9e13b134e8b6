/* The impairment model measured over many datagrams: every statistic the
 * relay promises (loss rates, burst lengths, delay distributions, FIFO
 * order, reordering, duplication, the rate cap) and the schedule format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"
#include "netem_heap.h"
#include "netem_model.h"
#include "netem_rng.h"
#include "netem_schedule.h"

#define SEED 0x5eed2024u
#define PI 3.14159265358979323846

/* Fails with the seed, so a failing run can be replayed. */
static void near(double got, double want, double tol, const char *what)
{
    if (fabs(got - want) > tol) {
        print_error("seed %llu: %s = %.6f, expected %.6f +- %.6f\n", (unsigned long long)SEED, what, got, want,
                    tol);
        fail();
    }
}

static void truth(int ok, const char *what)
{
    if (!ok) {
        print_error("seed %llu: %s\n", (unsigned long long)SEED, what);
        fail();
    }
}

static netem_model *model_with(const netem_model_params *p, uint64_t seed)
{
    netem_model_config cfg;
    netem_model_config_default(&cfg);
    cfg.params = *p;
    cfg.seed = seed;
    netem_model *m = NULL;
    assert_int_equal(netem_model_create(&cfg, &m), GV_OK);
    return m;
}

static void test_random_loss(void **state)
{
    (void)state;
    netem_model_params p;
    netem_model_params_default(&p);
    p.loss = 10;
    netem_model *m = model_with(&p, SEED);
    const int n = 100000;
    int lost = 0;
    uint64_t rel[NETEM_MODEL_MAX_COPIES];
    for (int i = 0; i < n; i++) {
        int c = netem_model_packet(m, (uint64_t)i * 20000u, 100, rel);
        assert_true(c == 0 || c == 1);
        if (!c)
            lost++;
        else
            assert_int_equal(rel[0], (uint64_t)i * 20000u); /* no delay asked for */
    }
    near(100.0 * lost / n, 10.0, 0.5, "random loss percent");
    netem_model_stats st;
    netem_model_get_stats(m, &st);
    assert_int_equal(st.received, n);
    assert_int_equal(st.dropped_random, lost);
    assert_int_equal(st.dropped_burst, 0);
    assert_int_equal(st.delayed, 0);
    netem_model_destroy(m);
}

static void test_burst_loss(void **state)
{
    (void)state;
    netem_model_params p;
    netem_model_params_default(&p);
    p.burst_loss = 5;
    p.burst_len = 4;
    netem_model *m = model_with(&p, SEED);
    const int n = 1000000;
    int lost = 0, bursts = 0, prev_lost = 0;
    uint64_t rel[NETEM_MODEL_MAX_COPIES];
    for (int i = 0; i < n; i++) {
        int is_lost = netem_model_packet(m, (uint64_t)i * 20000u, 100, rel) == 0;
        lost += is_lost;
        bursts += is_lost && !prev_lost;
        prev_lost = is_lost;
    }
    near(100.0 * lost / n, 5.0, 0.3, "burst loss percent");
    near((double)lost / bursts, 4.0, 0.2, "mean burst length");
    netem_model_stats st;
    netem_model_get_stats(m, &st);
    assert_int_equal(st.dropped_burst, lost);
    assert_int_equal(st.dropped_random, 0);
    netem_model_destroy(m);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Extra delay above `delay`, jitter J = 20 ms: mean and spread of each
 * distribution as README.md documents them. */
static void test_jitter_distributions(void **state)
{
    (void)state;
    const double J = 20, delay = 30, a = 2.5;
    const struct {
        int dist;
        double mean, sd, mean_tol, sd_tol;
    } cases[] = {
        {NETEM_JITTER_UNIFORM, J / 2, J / sqrt(12.0), 0.1, 0.1},
        {NETEM_JITTER_NORMAL, J * sqrt(2.0 / PI), J * sqrt(1.0 - 2.0 / PI), 0.15, 0.15},
        {NETEM_JITTER_EXP, J, J, 0.3, 0.4},
        {NETEM_JITTER_PARETO, J, -1, 0.8, 0},
    };
    const int n = 100000;
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netem_model_params p;
        netem_model_params_default(&p);
        p.delay_ms = delay;
        p.jitter_ms = J;
        p.jitter_dist = cases[k].dist;
        p.jitter_shape = a;
        netem_model *m = model_with(&p, SEED + k);
        double sum = 0, sum2 = 0;
        uint64_t rel[NETEM_MODEL_MAX_COPIES];
        for (int i = 0; i < n; i++) {
            /* Far apart, so FIFO never holds one back behind another. */
            uint64_t t = (uint64_t)i * NETEM_MODEL_MAX_HOLD_US;
            assert_int_equal(netem_model_packet(m, t, 100, rel), 1);
            double extra = (double)(rel[0] - t) / 1000.0 - delay;
            truth(extra >= 0, "a packet left before the constant delay");
            if (cases[k].dist == NETEM_JITTER_UNIFORM)
                truth(extra <= J, "uniform jitter went past delay + jitter");
            x[i] = extra;
            sum += extra;
            sum2 += extra * extra;
        }
        double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
        char what[64];
        snprintf(what, sizeof what, "dist %d mean extra ms", cases[k].dist);
        near(mean, cases[k].mean, cases[k].mean_tol, what);
        if (cases[k].sd > 0) {
            snprintf(what, sizeof what, "dist %d sd extra ms", cases[k].dist);
            near(sd, cases[k].sd, cases[k].sd_tol, what);
        }
        if (cases[k].dist == NETEM_JITTER_PARETO) {
            qsort(x, n, sizeof *x, cmp_double);
            double median = x[n / 2], p999 = x[n - n / 1000];
            double scale = J * (a - 1);
            near(median, scale * (pow(2.0, 1.0 / a) - 1.0), 0.3, "pareto median ms");
            near(p999, scale * (pow(1000.0, 1.0 / a) - 1.0), 60, "pareto 99.9th percentile ms");
            truth(p999 > 20 * median, "pareto tail is not heavy: p99.9 <= 20 x median");
        }
        netem_model_destroy(m);
    }
    free(x);
}

/* Without --reorder nothing overtakes, whatever the jitter. */
static void test_fifo_without_reorder(void **state)
{
    (void)state;
    for (int dist = NETEM_JITTER_UNIFORM; dist <= NETEM_JITTER_PARETO; dist++) {
        netem_model_params p;
        netem_model_params_default(&p);
        p.delay_ms = 10;
        p.jitter_ms = 50;
        p.jitter_dist = dist;
        p.duplicate = 5;
        netem_model *m = model_with(&p, SEED);
        uint64_t last = 0, rel[NETEM_MODEL_MAX_COPIES];
        int held = 0;
        for (int i = 0; i < 20000; i++) {
            uint64_t t = (uint64_t)i * 1000u;
            int c = netem_model_packet(m, t, 100, rel);
            for (int k = 0; k < c; k++) {
                truth(rel[k] >= last, "a packet left before its predecessor");
                truth(rel[k] >= t + 10000u, "a packet left before the constant delay");
                held += rel[k] > t + 10000u + 50000u;
                last = rel[k];
            }
        }
        /* Uniform never exceeds the jitter by itself, so any release past
         * delay + jitter is FIFO waiting; the test above is not vacuous. */
        truth(held > 0 || dist == NETEM_JITTER_UNIFORM, "no packet ever waited for a predecessor");
        netem_model_stats st;
        netem_model_get_stats(m, &st);
        assert_int_equal(st.reordered, 0);
        netem_model_destroy(m);
    }
}

static void test_reorder(void **state)
{
    (void)state;
    netem_model_params p;
    netem_model_params_default(&p);
    p.delay_ms = 10;
    p.reorder = 10;
    p.reorder_gap_ms = 50;
    netem_model *m = model_with(&p, SEED);
    const int n = 100000;
    uint64_t *rel = malloc(n * sizeof *rel);
    assert_non_null(rel);
    for (int i = 0; i < n; i++) {
        uint64_t r[NETEM_MODEL_MAX_COPIES];
        assert_int_equal(netem_model_packet(m, (uint64_t)i * 20000u, 100, r), 1);
        rel[i] = r[0];
    }
    /* A packet is out of order if a later-sent one leaves strictly before. */
    int late = 0;
    uint64_t later_min = UINT64_MAX;
    for (int i = n - 1; i >= 0; i--) {
        late += later_min < rel[i];
        if (rel[i] < later_min)
            later_min = rel[i];
    }
    netem_model_stats st;
    netem_model_get_stats(m, &st);
    near(100.0 * (double)st.reordered / n, 10.0, 0.5, "held back percent");
    near(100.0 * late / n, 10.0, 0.5, "arrived-out-of-order percent");
    free(rel);
    netem_model_destroy(m);
}

static void test_duplicate(void **state)
{
    (void)state;
    netem_model_params p;
    netem_model_params_default(&p);
    p.duplicate = 5;
    netem_model *m = model_with(&p, SEED);
    const int n = 100000;
    int twice = 0;
    uint64_t rel[NETEM_MODEL_MAX_COPIES];
    for (int i = 0; i < n; i++) {
        int c = netem_model_packet(m, (uint64_t)i * 20000u, 100, rel);
        assert_true(c == 1 || c == 2);
        twice += c == 2;
    }
    near(100.0 * twice / n, 5.0, 0.3, "duplicated percent");
    netem_model_stats st;
    netem_model_get_stats(m, &st);
    assert_int_equal(st.duplicated, twice);
    netem_model_destroy(m);
}

/* 200-byte packets at 128 kbit/s into a 64 kbit/s cap with a 100 ms queue. */
static void test_rate_cap(void **state)
{
    (void)state;
    netem_model_params p;
    netem_model_params_default(&p);
    p.rate_kbit = 64;
    p.queue_ms = 100;
    netem_model *m = model_with(&p, SEED);
    const int n = 4800; /* 60 s */
    const uint64_t gap = 12500, tx = 25000;
    int sent = 0, sent_late = 0;
    uint64_t first_late = 0, last = 0, rel[NETEM_MODEL_MAX_COPIES];
    for (int i = 0; i < n; i++) {
        uint64_t t = (uint64_t)i * gap;
        int c = netem_model_packet(m, t, 200, rel);
        if (!c)
            continue;
        sent++;
        truth(rel[0] - t <= 100000u + tx, "held longer than the queue plus one transmission");
        truth(!last || rel[0] - last >= tx, "left faster than the cap");
        last = rel[0];
        if (t >= 1000000u) {
            if (!sent_late++)
                first_late = rel[0];
        }
    }
    near((double)(n - sent) / n, 0.5, 0.02, "dropped fraction at twice the cap");
    double bits = (double)(sent_late - 1) * 200 * 8;
    near(bits / ((double)(last - first_late) / 1e6), 64000, 640, "output bit rate");
    netem_model_stats st;
    netem_model_get_stats(m, &st);
    assert_int_equal(st.dropped_queue, n - sent);
    netem_model_destroy(m);

    /* Below the cap nothing is lost and nothing queues for long. */
    m = model_with(&p, SEED);
    for (int i = 0; i < 1000; i++) {
        uint64_t t = (uint64_t)i * 50000u;
        assert_int_equal(netem_model_packet(m, t, 200, rel), 1);
        assert_int_equal(rel[0], t + tx);
    }
    netem_model_destroy(m);
}

static void run_decisions(uint64_t seed, int stream, uint64_t *out, int n)
{
    netem_model_params p;
    netem_model_params_default(&p);
    p.loss = 3;
    p.burst_loss = 4;
    p.delay_ms = 20;
    p.jitter_ms = 15;
    p.jitter_dist = NETEM_JITTER_PARETO;
    p.reorder = 2;
    p.duplicate = 2;
    p.rate_kbit = 500;
    netem_model_config cfg;
    netem_model_config_default(&cfg);
    cfg.params = p;
    cfg.seed = seed;
    cfg.stream = (uint64_t)stream;
    netem_model *m = NULL;
    assert_int_equal(netem_model_create(&cfg, &m), GV_OK);
    for (int i = 0; i < n; i++) {
        uint64_t rel[NETEM_MODEL_MAX_COPIES] = {0, 0};
        int c = netem_model_packet(m, (uint64_t)i * 7000u, 60 + (size_t)(i % 200), rel);
        out[i] = (uint64_t)c << 62 ^ rel[0] ^ (rel[1] << 1);
    }
    netem_model_destroy(m);
}

static void test_same_seed_same_decisions(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint64_t a[N], b[N], c[N], d[N];
    run_decisions(SEED, NETEM_UP, a, N);
    run_decisions(SEED, NETEM_UP, b, N);
    run_decisions(SEED + 1, NETEM_UP, c, N);
    run_decisions(SEED, NETEM_DOWN, d, N);
    assert_memory_equal(a, b, sizeof a);
    truth(memcmp(a, c, sizeof a) != 0, "another seed made the same decisions");
    truth(memcmp(a, d, sizeof a) != 0, "the two directions share one random stream");
}

static void test_set_params_keeps_order(void **state)
{
    (void)state;
    netem_model_params p;
    netem_model_params_default(&p);
    p.delay_ms = 100;
    netem_model *m = model_with(&p, SEED);
    uint64_t rel[NETEM_MODEL_MAX_COPIES];
    assert_int_equal(netem_model_packet(m, 0, 100, rel), 1);
    assert_int_equal(rel[0], 100000);
    /* A step down in delay must not let the next packet overtake. */
    p.delay_ms = 0;
    assert_int_equal(netem_model_set_params(m, &p), GV_OK);
    assert_int_equal(netem_model_packet(m, 20000, 100, rel), 1);
    assert_int_equal(rel[0], 100000);
    assert_int_equal(netem_model_packet(m, 200000, 100, rel), 1);
    assert_int_equal(rel[0], 200000);
    p.burst_loss = 60;
    p.burst_len = 1;
    assert_int_equal(netem_model_set_params(m, &p), GV_EINVAL);
    netem_model_destroy(m);
}

static void test_params_set(void **state)
{
    (void)state;
    const struct {
        const char *key, *value;
        int want; /* bit index, or a negative code */
    } cases[] = {
        {"loss", "12.5", 0},      {"loss", "100", 0},          {"loss", "100.1", GV_EINVAL},
        {"loss", "-1", GV_EINVAL}, {"loss", "", GV_EINVAL},     {"loss", "5x", GV_EINVAL},
        {"loss", "nan", GV_EINVAL}, {"burst-loss", "5", 1},     {"burst-len", "0.5", GV_EINVAL},
        {"burst-len", "4", 2},    {"delay", "40", 3},          {"jitter", "20", 4},
        {"jitter-dist", "pareto", 5}, {"jitter-dist", "normal", 5}, {"jitter-dist", "exp", 5},
        {"jitter-dist", "cauchy", GV_EINVAL}, {"jitter-shape", "1", GV_EINVAL}, {"jitter-shape", "1.5", 6},
        {"reorder", "3", 7},      {"reorder-gap", "25", 8},    {"duplicate", "1", 9},
        {"rate", "64", 10},       {"queue-ms", "200", 11},     {"colour", "red", GV_ENOTFOUND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        netem_model_params p, before;
        netem_model_params_default(&p);
        before = p;
        int rc = netem_model_params_set(&p, cases[i].key, cases[i].value);
        if (rc != cases[i].want) {
            print_error("%s=%s gave %d, expected %d\n", cases[i].key, cases[i].value, rc, cases[i].want);
            fail();
        }
        if (rc < 0)
            assert_memory_equal(&p, &before, sizeof p);
    }
    netem_model_params p;
    netem_model_params_default(&p);
    p.burst_loss = 50;
    p.burst_len = 1;
    assert_int_equal(netem_model_params_check(&p), GV_OK);
    p.burst_loss = 51;
    assert_int_equal(netem_model_params_check(&p), GV_EINVAL);
    p.burst_len = 2;
    assert_int_equal(netem_model_params_check(&p), GV_OK);
}

static void test_schedule_parse_valid(void **state)
{
    (void)state;
    const char *text = "# a Wi-Fi afternoon\n"
                       "\n"
                       "30 both jitter=80 every=30 duration=2   # spikes\n"
                       "12.5 up loss=5 jitter=20 jitter-dist=pareto\n"
                       "   \t\n"
                       "0 delay=40\n"
                       "5 down burst-loss=10 burst-len=5 duration=3\n";
    netem_schedule *s = NULL;
    int line = -1;
    char why[200] = "";
    assert_int_equal(netem_schedule_parse(text, strlen(text), &s, &line, why, sizeof why), GV_OK);
    const unsigned both = (1u << NETEM_UP) | (1u << NETEM_DOWN);
    const struct {
        uint64_t at, every, duration;
        unsigned dirs;
        uint32_t mask;
        int line;
    } want[] = {
        {0, 0, 0, both, 1u << 3, 6},
        {5000000, 0, 3000000, 1u << NETEM_DOWN, (1u << 1) | (1u << 2), 7},
        {12500000, 0, 0, 1u << NETEM_UP, (1u << 0) | (1u << 4) | (1u << 5), 4},
        {30000000, 30000000, 2000000, both, 1u << 4, 3},
    };
    assert_int_equal(netem_schedule_count(s), 4);
    for (size_t i = 0; i < 4; i++) {
        const netem_schedule_event *e = netem_schedule_get(s, i);
        assert_non_null(e);
        assert_int_equal(e->at_us, want[i].at);
        assert_int_equal(e->every_us, want[i].every);
        assert_int_equal(e->duration_us, want[i].duration);
        assert_int_equal(e->dirs, want[i].dirs);
        assert_int_equal(e->mask, want[i].mask);
        assert_int_equal(e->line, want[i].line);
    }
    assert_true(netem_schedule_get(s, 2)->values.jitter_dist == NETEM_JITTER_PARETO);
    assert_true(netem_schedule_get(s, 1)->values.burst_len == 5);
    assert_null(netem_schedule_get(s, 4));
    netem_schedule_destroy(s);

    assert_int_equal(netem_schedule_parse("", 0, &s, &line, why, sizeof why), GV_OK);
    assert_int_equal(netem_schedule_count(s), 0);
    netem_schedule_destroy(s);
}

static void test_schedule_parse_malformed(void **state)
{
    (void)state;
    const struct {
        const char *line;
        const char *reason; /* a word the message must contain */
    } cases[] = {
        {"abc delay=1", "time"},
        {"-1 delay=1", "time"},
        {"5", "nothing"},
        {"5 sideways delay=1", "up, down"},
        {"5 delay", "key=value"},
        {"5 =3", "key=value"},
        {"5 delay=abc", "bad value"},
        {"5 colour=red", "unknown key"},
        {"5 loss=101", "bad value"},
        {"5 jitter-dist=cauchy", "bad value"},
        {"5 jitter=10 every=30", "needs duration"},
        {"5 jitter=10 every=2 duration=2", "shorter"},
        {"5 jitter=10 duration=0", "duration"},
        {"5 delay=1 delay=2", "twice"},
        {"5 delay=1 duration=1 duration=2", "twice"},
        {"5 up down delay=1", "key=value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "0 delay=1\n# fine so far\n\n%s\n1 loss=1\n", cases[i].line);
        netem_schedule *s = NULL;
        int line = 0;
        char why[256] = "";
        int rc = netem_schedule_parse(text, strlen(text), &s, &line, why, sizeof why);
        if (rc != GV_EMALFORMED || line != 4 || !strstr(why, cases[i].reason)) {
            print_error("'%s': rc %d line %d why '%s'\n", cases[i].line, rc, line, why);
            fail();
        }
        assert_null(s);
    }
}

static void test_schedule_eval(void **state)
{
    (void)state;
    const char *text = "10 both delay=40\n"
                       "30 both jitter=80 every=30 duration=2\n"
                       "5 up loss=50 duration=1\n"
                       "20 delay=60 duration=5\n";
    netem_schedule *s = NULL;
    assert_int_equal(netem_schedule_parse(text, strlen(text), &s, NULL, NULL, 0), GV_OK);
    netem_model_params base, p;
    netem_model_params_default(&base);
    base.jitter_ms = 5;
    const struct {
        int dir;
        double t, delay, jitter, loss, next;
    } cases[] = {
        {NETEM_UP, 0, 0, 5, 0, 5},       {NETEM_DOWN, 0, 0, 5, 0, 10},   {NETEM_UP, 5.5, 0, 5, 50, 6},
        {NETEM_DOWN, 5.5, 0, 5, 0, 10},  {NETEM_UP, 6, 0, 5, 0, 10},     {NETEM_UP, 10, 40, 5, 0, 20},
        {NETEM_UP, 22, 60, 5, 0, 25},    {NETEM_UP, 25, 40, 5, 0, 30},   {NETEM_UP, 30.5, 40, 80, 0, 32},
        {NETEM_DOWN, 32, 40, 5, 0, 60},  {NETEM_DOWN, 61.9, 40, 80, 0, 62}, {NETEM_UP, 3603, 40, 5, 0, 3630},  {NETEM_UP, 3600, 40, 80, 0, 3602},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t t = (uint64_t)llround(cases[i].t * 1e6);
        uint64_t next = netem_schedule_eval(s, cases[i].dir, &base, t, &p);
        if (p.delay_ms != cases[i].delay || p.jitter_ms != cases[i].jitter || p.loss != cases[i].loss ||
            next != (uint64_t)llround(cases[i].next * 1e6)) {
            print_error("case %zu (t=%.1f): delay %.0f jitter %.0f loss %.0f next %.3f\n", i, cases[i].t, p.delay_ms,
                        p.jitter_ms, p.loss, (double)next / 1e6);
            fail();
        }
    }
    netem_schedule_destroy(s);
    assert_int_equal(netem_schedule_eval(NULL, NETEM_UP, &base, 0, &p), UINT64_MAX);
    assert_memory_equal(&p, &base, sizeof p);
}

static void test_heap_order(void **state)
{
    (void)state;
    netem_heap *h = NULL;
    assert_int_equal(netem_heap_create(0, &h), GV_EINVAL);
    assert_int_equal(netem_heap_create(5000, &h), GV_OK);
    netem_rng rng;
    netem_rng_seed(&rng, SEED, 0);
    for (uintptr_t i = 0; i < 5000; i++) {
        /* Few distinct keys, so ties are common. */
        assert_int_equal(netem_heap_push(h, netem_rng_next(&rng) % 50, (void *)(i + 1)), GV_OK);
    }
    assert_int_equal(netem_heap_push(h, 1, (void *)1), GV_EFULL);
    uint64_t prev_key = 0, key;
    uintptr_t prev_item = 0;
    for (int i = 0; i < 5000; i++) {
        uintptr_t item = (uintptr_t)netem_heap_pop(h, &key);
        assert_true(key >= prev_key);
        if (key == prev_key)
            truth(item > prev_item, "equal release times left out of insertion order");
        prev_key = key;
        prev_item = item;
    }
    assert_null(netem_heap_pop(h, &key));
    assert_int_equal(netem_heap_peek(h, &key), 0);
    netem_heap_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_loss),
        cmocka_unit_test(test_burst_loss),
        cmocka_unit_test(test_jitter_distributions),
        cmocka_unit_test(test_fifo_without_reorder),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_rate_cap),
        cmocka_unit_test(test_same_seed_same_decisions),
        cmocka_unit_test(test_set_params_keeps_order),
        cmocka_unit_test(test_params_set),
        cmocka_unit_test(test_schedule_parse_valid),
        cmocka_unit_test(test_schedule_parse_malformed),
        cmocka_unit_test(test_schedule_eval),
        cmocka_unit_test(test_heap_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
