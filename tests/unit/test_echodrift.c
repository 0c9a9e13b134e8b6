/* The echo canceller's fine-delay follower on a made-up echo: white noise
 * as the far end, the microphone a copy of it some samples later, and the
 * canceller's state told as the follower sees it. Table-driven: each case
 * has the filter cancel well where the echo is (which sets where its taps
 * have it), moves the echo, and then describes the filter after the move;
 * the follower must order the jump back to the taps, a nudge, or nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_clean.h"
#include "audio/gv_echodrift.h"
#include "audio/gv_fft.h"
#include "gvoip/error.h"
#include "test_rng.h"

#define SEED 0x64726674u
#define B GV_CLEAN_STEP
#define N 1024
#define K (N / 2 + 1)
#define HIST 8192
#define ECHO0 300       /* samples from the reference to the echo before the move */
#define STEPS_BEFORE 300 /* 3 s of cancelling well */
#define STEPS_AFTER 400  /* 4 s after the move */

/* The far end, the microphone made from it, and the reference partitions'
 * spectra as the canceller hands them over (the newest first). */
typedef struct feed {
    gv_fft *fft;
    float x[HIST]; /* the reference, a ring */
    long t;        /* samples written */
    int echo;      /* the echo's delay against the reference, samples */
    float xr[GV_ECHODRIFT_PARTS][K], xi[GV_ECHODRIFT_PARTS][K];
    float mr[K], mi[K];
    double re[N], im[N];
} feed;

static float at(const feed *f, long i)
{
    return i < 0 ? 0.0f : f->x[i % HIST];
}

/* One canceller step: a block of far-end noise, the microphone's block
 * (the echo at -6 dB) and the newest partition's frame, transformed. */
static void feed_step(feed *f)
{
    for (int i = 0; i < B; i++)
        f->x[(f->t + i) % HIST] = (float)(test_rng_uniform() - 0.5);
    f->t += B;
    memmove(f->xr[1], f->xr[0], sizeof f->xr[0] * (GV_ECHODRIFT_PARTS - 1));
    memmove(f->xi[1], f->xi[0], sizeof f->xi[0] * (GV_ECHODRIFT_PARTS - 1));
    for (int n = 0; n < N; n++) {
        f->re[n] = at(f, f->t - N + n);
        f->im[n] = n < N - B ? 0.0 : 0.5 * at(f, f->t - N + n - f->echo);
    }
    gv_fft_forward(f->fft, f->re, f->im);
    gv_fft_split_pair(f->fft, f->re, f->im, f->xr[0], f->xi[0], f->mr, f->mi);
}

typedef struct phase {
    int converged, lost, kept, alone;
    float erle_db;
} phase;

typedef struct drift_case {
    const char *name;
    int move;        /* samples the echo moves by */
    phase relearn;   /* the first second after the move (erle_db 0: as after) */
    phase after;     /* the rest */
    double jump;     /* the jump expected back to the taps; 0: none */
    double nudge;    /* or the first nudge expected; 0: none */
} drift_case;

/* A filter that lost the echo it had: cancelling less than 5 dB. */
#define LOST_KEPT_ALONE {.converged = 1, .kept = 1, .alone = 1, .erle_db = 1.0f}

static const drift_case cases[] = {
    /* A playback underrun the reference reader followed 85 samples off:
     * too small for the jump of a filter without kept taps (half a block),
     * too large for the nudges. */
    {"moved 85, kept taps, far end alone", 85, {0}, LOST_KEPT_ALONE, 85.0, 0.0},
    {"moved -120, kept taps, far end alone", -120, {0}, LOST_KEPT_ALONE, -120.0, 0.0},
    {"moved 40, kept taps, far end alone", 40, {0}, LOST_KEPT_ALONE, 40.0, 0.0},
    /* Over a near talker the search finds chance peaks: never jump then. */
    {"moved 85, kept taps, near talker", 85, {0}, {.converged = 1, .kept = 1, .erle_db = 1.0f}, 0.0, 0.0},
    /* No taps kept: a move under half a block is relearnt, a larger one
     * is jumped to once the filter does worse than none. */
    {"moved 85, no taps kept", 85, {0}, {.converged = 1, .lost = 1, .alone = 1, .erle_db = -3.0f}, 0.0, 0.0},
    {"moved 300, no taps kept", 300, {0}, {.converged = 1, .lost = 1, .alone = 1, .erle_db = -3.0f}, 300.0, 0.0},
    /* A filter relearning the moved echo cancels 5 dB or more there for a
     * while: that is not where its kept taps have it, and the jump, when
     * it loses again, still goes back to them. */
    {"moved 85, relearnt a little, then lost", 85, {.kept = 1, .alone = 1, .erle_db = 8.0f},
     {.kept = 1, .alone = 1, .erle_db = 1.0f}, 85.0, 0.0},
    /* A slow move (drift the record has not caught up with) in double
     * talk: nudged half way back. */
    {"moved 10, converged, near talker", 10, {0}, {.converged = 1, .erle_db = 1.0f}, 0.0, 5.0},
};

static void run_case(const drift_case *c)
{
    feed *f = calloc(1, sizeof *f);
    gv_echodrift *dr;
    gv_echodrift_order order;
    const phase good = {.converged = 1, .kept = 1, .alone = 1, .erle_db = 20.0f};
    double jump = 0.0, nudge = 0.0;

    assert_non_null(f);
    assert_int_equal(gv_fft_create(N, &f->fft), 0);
    assert_int_equal(gv_echodrift_create(f->fft, 50, 20000, &dr), 0);
    f->echo = ECHO0;
    for (int s = 0; s < STEPS_BEFORE + STEPS_AFTER && jump == 0.0 && nudge == 0.0; s++) {
        const phase *ph = s < STEPS_BEFORE                                      ? &good
                          : s < STEPS_BEFORE + 100 && c->relearn.erle_db != 0.0f ? &c->relearn
                                                                                  : &c->after;
        gv_echodrift_filter fl = {.delay = 0.0,
                                  .erle_db = ph->erle_db,
                                  .converged = ph->converged,
                                  .lost = ph->lost,
                                  .kept = ph->kept,
                                  .alone = ph->alone};
        const float *pr[GV_ECHODRIFT_PARTS], *pi[GV_ECHODRIFT_PARTS];
        if (s == STEPS_BEFORE)
            f->echo = ECHO0 + c->move;
        feed_step(f);
        for (int j = 0; j < GV_ECHODRIFT_PARTS; j++) {
            pr[j] = f->xr[j];
            pi[j] = f->xi[j];
        }
        gv_echodrift_listen(dr, f->mr, f->mi, pr, pi);
        gv_echodrift_step(dr, &fl, &order);
        if (s < STEPS_BEFORE) {
            /* Cancelling well where the echo is: nothing to do. */
            if (order.jump != 0.0 || order.nudge != 0.0)
                fail_msg("%s: an order (jump %.1f, nudge %.1f) at step %d, before the move", c->name, order.jump,
                         order.nudge, s);
            continue;
        }
        jump = order.jump;
        nudge = order.nudge;
    }
    print_message("  %-42s jump %6.1f  nudge %5.1f\n", c->name, jump, nudge);
    if (fabs(jump - c->jump) > 1.5 || (c->nudge == 0.0 ? nudge != 0.0 : fabs(nudge - c->nudge) > 1.5))
        fail_msg("%s (seed %#x): jump %.1f, nudge %.1f; expected jump %.1f, nudge %.1f", c->name, SEED, jump, nudge,
                 c->jump, c->nudge);
    gv_echodrift_destroy(dr);
    gv_fft_destroy(f->fft);
    free(f);
}

static void test_moves(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        test_rng_seed(SEED);
        run_case(&cases[i]);
    }
}

static void test_invalid_args(void **state)
{
    gv_fft *fft;
    gv_echodrift *dr = (gv_echodrift *)&dr;
    (void)state;
    assert_int_equal(gv_fft_create(N, &fft), 0);
    assert_int_equal(gv_echodrift_create(fft, 4, 100, NULL), GV_EINVAL);
    assert_int_equal(gv_echodrift_create(fft, 0, 100, &dr), GV_EINVAL);
    assert_null(dr);
    assert_int_equal(gv_echodrift_create(fft, 4, -1, &dr), GV_EINVAL);
    assert_int_equal(gv_echodrift_create(NULL, 4, 100, &dr), GV_EINVAL);
    gv_echodrift_destroy(NULL);
    gv_fft_destroy(fft);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_invalid_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
