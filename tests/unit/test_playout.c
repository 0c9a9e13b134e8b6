/* The hand-off between the control thread and the render thread: the
 * mailbox alone, the playout on one thread, and the playout rendered from
 * a second thread while the first posts packets and settings, as a
 * device callback would. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mono.h"

#include "audio/gv_codec.h"
#include "audio/gv_mailbox.h"
#include "audio/gv_playout.h"
#include "gvoip/error.h"
#include "test_rng.h"

#define PI 3.14159265358979323846
#define FRAME 960 /* 20 ms */

/* GV_TEST_SEED overrides it; every failure prints it. */
static uint32_t g_seed = 0x706c6179u;

static void seed_from_env(void)
{
    const char *s = getenv("GV_TEST_SEED");
    if (s)
        g_seed = (uint32_t)strtoul(s, NULL, 0);
    test_rng_seed(g_seed);
}

/* ---- Mailbox -------------------------------------------------------------- */

static void mailbox_order_wrap_and_full(void **state)
{
    (void)state;
    gv_mailbox *mb;
    assert_int_equal(gv_mailbox_create(100, &mb), 0); /* rounded up to 128 */
    uint8_t in[64], out[64];
    /* Many rounds of messages of varying length walk the indices across
     * the end of the buffer many times; order and bytes survive. */
    for (int round = 0; round < 200; round++) {
        size_t len = 1 + (size_t)round % 40;
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)(round + i);
        uint32_t tag = (uint32_t)round;
        assert_int_equal(gv_mailbox_post(mb, &tag, sizeof tag, in, len), 0);
        int n = gv_mailbox_take(mb, out, sizeof out);
        assert_int_equal(n, (int)(sizeof tag + len));
        uint32_t got;
        memcpy(&got, out, sizeof got);
        assert_int_equal(got, tag);
        assert_memory_equal(out + sizeof tag, in, len);
    }
    assert_int_equal(gv_mailbox_take(mb, out, sizeof out), 0);
    /* Full: the post that does not fit is refused whole. */
    int posted = 0;
    while (gv_mailbox_post(mb, in, 20, NULL, 0) == 0)
        posted++;
    assert_int_equal(posted, 128 / 24);
    assert_int_equal(gv_mailbox_post(mb, in, 20, NULL, 0), GV_EFULL);
    for (int i = 0; i < posted; i++)
        assert_int_equal(gv_mailbox_take(mb, out, sizeof out), 20);
    assert_int_equal(gv_mailbox_take(mb, out, sizeof out), 0);
    /* Never fits; too long for the reader's buffer: dropped, not stuck. */
    uint8_t big[200] = {0};
    assert_int_equal(gv_mailbox_post(mb, big, sizeof big, NULL, 0), GV_ETOOBIG);
    assert_int_equal(gv_mailbox_post(mb, big, 50, NULL, 0), 0);
    assert_int_equal(gv_mailbox_post(mb, big, 3, NULL, 0), 0);
    assert_int_equal(gv_mailbox_take(mb, out, 10), GV_ETOOBIG);
    assert_int_equal(gv_mailbox_take(mb, out, 10), 3);
    /* Bad arguments. */
    assert_int_equal(gv_mailbox_post(NULL, in, 1, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_mailbox_post(mb, NULL, 1, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_mailbox_post(mb, in, 0, NULL, 0), GV_ETOOBIG);
    assert_int_equal(gv_mailbox_take(NULL, out, 1), GV_EINVAL);
    gv_mailbox_destroy(mb);
    gv_mailbox_destroy(NULL);
    assert_int_equal(gv_mailbox_create(0, &mb), GV_EINVAL);
    assert_null(mb);
}

#define THREAD_MESSAGES 200000

static void *mailbox_consumer(void *arg)
{
    gv_mailbox *mb = arg;
    uint8_t buf[300];
    uint32_t expect = 0;
    while (expect < THREAD_MESSAGES) {
        int n = gv_mailbox_take(mb, buf, sizeof buf);
        if (n == 0)
            continue;
        uint32_t seq;
        memcpy(&seq, buf, sizeof seq);
        /* Length and content both follow from the sequence number. */
        if (seq != expect || n != (int)(sizeof seq + seq % 251))
            return (void *)1;
        for (int i = 4; i < n; i++)
            if (buf[i] != (uint8_t)(seq * 7 + (uint32_t)i))
                return (void *)1;
        expect++;
    }
    return NULL;
}

static void mailbox_two_threads(void **state)
{
    (void)state;
    gv_mailbox *mb;
    assert_int_equal(gv_mailbox_create(4096, &mb), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, mailbox_consumer, mb), 0);
    uint8_t body[300];
    for (uint32_t seq = 0; seq < THREAD_MESSAGES;) {
        size_t len = seq % 251;
        for (size_t i = 0; i < len; i++)
            body[i] = (uint8_t)(seq * 7 + (uint32_t)(i + 4));
        if (gv_mailbox_post(mb, &seq, sizeof seq, body, len) == 0)
            seq++;
    }
    void *result;
    pthread_join(t, &result);
    assert_null(result);
    gv_mailbox_destroy(mb);
}

/* ---- Playout ------------------------------------------------------------- */

typedef struct talker {
    gv_encoder *enc;
    uint16_t seq;
    uint32_t ts;
    double phase;
    double amplitude;
    uint8_t packet[1275];
} talker;

static void talker_init(talker *t)
{
    gv_encoder_config ec;
    gv_encoder_config_default(&ec);
    assert_int_equal(gv_encoder_create(&ec, &t->enc), 0);
    t->seq = 0;
    t->ts = 0;
    t->phase = 0;
    t->amplitude = 0.3;
}

/* Encodes the next 20 ms of a 300 Hz tone and returns its length. */
static int talker_next(talker *t)
{
    float pcm[FRAME];
    for (int i = 0; i < FRAME; i++) {
        pcm[i] = (float)(t->amplitude * sin(t->phase));
        t->phase += 2 * PI * 300.0 / 48000.0;
    }
    int n = gv_encoder_encode(t->enc, pcm, t->packet, sizeof t->packet);
    assert_true(n > 0);
    return n;
}

static double rms(const float *x, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return sqrt(e / (double)n);
}

/* Renders a second of the mix in 10 ms device periods, one 20 ms packet
 * posted every other period, and returns the RMS of the last half. */
static double talk_for_a_second(gv_playout *pl, talker *t, uint16_t id, uint64_t *now)
{
    float out[480 * 2];
    double e = 0;
    int counted = 0;
    for (int period = 0; period < 100; period++) {
        if (period % 2 == 0) {
            int n = talker_next(t);
            assert_int_equal(gv_playout_voice(pl, id, t->seq, t->ts, FRAME, t->seq == 0 ? GV_JBUF_MARKER : 0,
                                              t->packet, (size_t)n, *now),
                             0);
            t->seq++;
            t->ts += FRAME;
        }
        assert_int_equal(gv_playout_render(pl, out, 480, 48000, 2, *now), 480);
        if (period >= 50) {
            double r = rms(out, 960);
            e += r * r;
            counted++;
        }
        *now += 10000;
    }
    return sqrt(e / counted);
}

/* A playout prepared for 48 kHz stereo that has played a second of
 * player id talking (now moves on by that second). */
static gv_playout *heard_talking(talker *t, uint16_t id, uint64_t *now)
{
    gv_playout *pl;
    assert_int_equal(gv_playout_create(&pl), 0);
    assert_int_equal(gv_playout_prepare(pl, 48000, 2), 0);
    assert_int_equal(gv_playout_add(pl, id), 0);
    talker_init(t);
    assert_true(talk_for_a_second(pl, t, id, now) > 0.05);
    return pl;
}

static void playout_one_thread(void **state)
{
    (void)state;
    gv_playout *pl;
    assert_int_equal(gv_playout_create(&pl), 0);
    assert_int_equal(gv_playout_prepare(pl, 48000, 2), 0);
    talker t;
    talker_init(&t);
    uint64_t now = 1000000;

    /* Packets for a player the playout was never told of go nowhere. */
    double r = talk_for_a_second(pl, &t, 7, &now);
    assert_true(r < 1e-4);
    gv_jbuf_stats st;
    assert_int_equal(gv_playout_stats(pl, 7, &st), GV_ENOTFOUND);

    assert_int_equal(gv_playout_add(pl, 7), 0);
    t.seq = 0; /* a new talk spurt for the buffer */
    r = talk_for_a_second(pl, &t, 7, &now);
    assert_true(r > 0.05);
    assert_int_equal(gv_playout_stats(pl, 7, &st), 0);
    assert_true(st.received >= 45);

    /* Local volume 0: the stream plays on (stats move), the mix is silent. */
    assert_int_equal(gv_playout_player(pl, 7, 0.0f, 0, NULL), 0);
    r = talk_for_a_second(pl, &t, 7, &now);
    assert_true(r < 1e-4);
    assert_int_equal(gv_playout_player(pl, 7, 1.0f, 0, NULL), 0);
    r = talk_for_a_second(pl, &t, 7, &now);
    assert_true(r > 0.05);

    /* One player alone, at a rate nobody prepared (it builds its converter). */
    float mono[441];
    assert_int_equal(gv_playout_render_player(pl, 7, mono, 441, 44100, now), 441);
    assert_int_equal(gv_playout_render_player(pl, 9, mono, 441, 44100, now), GV_ENOTFOUND);
    assert_true(rms(mono, 441) == 0.0);

    /* Removed: gone from the mix and, once collected, freed (ASan checks). */
    assert_int_equal(gv_playout_remove(pl, 7), 0);
    r = talk_for_a_second(pl, &t, 7, &now);
    assert_true(r < 1e-3);
    gv_playout_collect(pl);

    /* Bad arguments. */
    float out[4];
    assert_int_equal(gv_playout_render(pl, out, 2, 7999, 2, now), GV_EINVAL);
    assert_int_equal(gv_playout_render(pl, out, 2, 48000, 3, now), GV_EINVAL);
    assert_int_equal(gv_playout_render(pl, NULL, 2, 48000, 2, now), GV_EINVAL);
    assert_int_equal(gv_playout_prepare(pl, 48000, 0), GV_EINVAL);
    assert_int_equal(gv_playout_voice(pl, 1, 0, 0, FRAME, 0, NULL, 10, now), GV_EINVAL);
    assert_int_equal(gv_playout_voice(pl, 1, 0, 0, FRAME, 0, t.packet, 2000, now), GV_EINVAL);
    gv_encoder_destroy(t.enc);
    gv_playout_destroy(pl);
    gv_playout_destroy(NULL);
}

/* A device that asks for 40 ms at once: the frames at the end of its
 * buffer play 40 ms after those at the start, and must be asked for as
 * such, or they look early by up to the buffer's length, differently from
 * call to call: the jitter buffer either keeps cutting and stretching its
 * delay (a saw-tooth heard as wobbling timing) or keeps most of a buffer
 * too much. A steady stream plays with no frame stretched once the delay
 * settled, nothing late, and little delay. */
static void playout_large_device_buffers(void **state)
{
    (void)state;
    enum { PERIOD_US = 40000, PERIOD = 1920, SECONDS = 60 };
    gv_playout *pl;
    talker t;
    float out[PERIOD * 2];
    gv_jbuf_stats settled, st;
    uint64_t now = 1000000, next_packet = now;
    assert_int_equal(gv_playout_create(&pl), 0);
    assert_int_equal(gv_playout_prepare(pl, 48000, 2), 0);
    assert_int_equal(gv_playout_add(pl, 3), 0);
    talker_init(&t);
    seed_from_env();
    test_rng_seed(g_seed);
    for (int period = 0; period < SECONDS * 1000000 / PERIOD_US; period++) {
        /* Packets arrive every 20 ms, 0..1 ms late, between device calls. */
        while (next_packet < now + PERIOD_US) {
            int n = talker_next(&t);
            uint64_t at = next_packet + test_rng_next() % 1000;
            assert_int_equal(gv_playout_voice(pl, 3, t.seq, t.ts, FRAME, t.seq == 0 ? GV_JBUF_MARKER : 0,
                                              t.packet, (size_t)n, at),
                             0);
            t.seq++;
            t.ts += FRAME;
            next_packet += 20000;
        }
        assert_int_equal(gv_playout_render(pl, out, PERIOD, 48000, 2, now), PERIOD);
        if (period == 10 * 1000000 / PERIOD_US)
            assert_int_equal(gv_playout_stats(pl, 3, &settled), 0);
        now += PERIOD_US;
    }
    assert_int_equal(gv_playout_stats(pl, 3, &st), 0);
    uint64_t stretched = st.shortened_frames + st.lengthened_frames -
                         (settled.shortened_frames + settled.lengthened_frames);
    /* 0..1 ms of jitter and the playout's 5 ms margin: about 7 ms (29 when
     * every block was asked for at the call's time). */
    if (stretched > 2 || st.late > 0 || st.playout_delay_ms > 15.0)
        fail_msg("seed %u: %llu frames stretched after the first 10 s, %llu late (delay %.1f ms)", g_seed,
                 (unsigned long long)stretched, (unsigned long long)st.late, st.playout_delay_ms);
    gv_encoder_destroy(t.enc);
    gv_playout_destroy(pl);
}

/* Playback paused (the program corks its stream once nobody has been
 * heard for a while): no render for 1.5 s while a quiet speaker's lone
 * frames keep coming, then a talk spurt, whose first packet wakes
 * playback. The packets posted meanwhile keep their arrival times: put at
 * the first render's time instead, each would look late by its age, and
 * the buffer's target rose to its cap (295 ms) and took seconds to come
 * down, words played that much late. */
static void playout_paused_render(void **state)
{
    (void)state;
    gv_playout *pl;
    talker t;
    float out[480 * 2];
    gv_jbuf_stats st;
    uint64_t now = 1000000;
    pl = heard_talking(&t, 5, &now);
    /* The sender's clock: a packet sent at time x carries ts_at(x). */
    const uint64_t t_ref = now;
    const uint32_t ts_ref = t.ts;
#define TS_AT(x) (ts_ref + (uint32_t)(((x) - t_ref) * 48 / 1000) / FRAME * FRAME)
    for (int i = 0; i < 100; i++, now += 10000)
        assert_int_equal(gv_playout_render(pl, out, 480, 48000, 2, now), 480);
    /* Paused: lone frames every 420 ms. */
    uint64_t resume = now + 1500000;
    for (uint64_t at = now + 200000; at < resume - 100000; at += 420000) {
        int n = talker_next(&t);
        assert_int_equal(gv_playout_voice(pl, 5, t.seq++, TS_AT(at), FRAME, GV_JBUF_MARKER, t.packet, (size_t)n, at),
                         0);
    }
    now = resume;
    for (int period = 0; period < 200; period++, now += 10000) {
        if (period % 2 == 0) {
            int n = talker_next(&t);
            assert_int_equal(gv_playout_voice(pl, 5, t.seq, TS_AT(resume) + (uint32_t)(period / 2 * FRAME), FRAME,
                                              period == 0 ? GV_JBUF_MARKER : 0, t.packet, (size_t)n, now),
                             0);
            t.seq++;
        }
        /* The first render 5 ms after the packet that woke playback. */
        assert_int_equal(gv_playout_render(pl, out, 480, 48000, 2, now + 5000), 480);
    }
#undef TS_AT
    assert_int_equal(gv_playout_stats(pl, 5, &st), 0);
    if (st.target_delay_ms > 30.0 || st.playout_delay_ms > 40.0)
        fail_msg("after the pause: target %.1f ms, playout delay %.1f ms", st.target_delay_ms, st.playout_delay_ms);
    gv_encoder_destroy(t.enc);
    gv_playout_destroy(pl);
}

/* Playback asleep for long: a player in a quiet room, sent in continuous
 * mode, keeps sending comfort noise (a frame every 400 ms, too faint to
 * wake the device) for half an hour. Queued, they filled the mailbox in
 * about a quarter of an hour, the word that woke playback found no room,
 * and what had queued played before it: the word came 25 s late. Such
 * frames are no longer kept while nobody renders (the word's packets find
 * room), and what waited in the mailbox longer than any jitter buffer's
 * delay is dropped when taken (the word plays at once, not after them). */
static void playout_long_sleep(void **state)
{
    (void)state;
    gv_playout *pl;
    talker t;
    float out[480 * 2];
    gv_jbuf_stats st;
    uint64_t now = 1000000;
    pl = heard_talking(&t, 5, &now);
    uint64_t asleep = now;
    t.amplitude = 0.0003; /* -70 dBFS */
    for (uint64_t at = asleep + 400000; at < asleep + 30 * 60 * 1000000ull; at += 400000) {
        int n = talker_next(&t);
        t.ts += (uint32_t)(400000 / 1000 * 48) - FRAME;
        (void)gv_playout_voice(pl, 5, t.seq++, t.ts, FRAME, GV_PLAYOUT_FAINT, t.packet, (size_t)n, at);
        t.ts += FRAME;
    }
    /* Faint frames kept coming while playback woke: they are kept again
     * once the device renders. */
    now = asleep + 30 * 60 * 1000000ull;
    t.amplitude = 0.3;
    double first_heard_ms = -1;
    int refused = 0;
    for (int period = 0; period < 100; period++, now += 10000) {
        if (period % 2 == 0) {
            int n = talker_next(&t);
            if (gv_playout_voice(pl, 5, t.seq, t.ts, FRAME, period == 0 ? GV_JBUF_MARKER : 0, t.packet, (size_t)n,
                                 now) != 0)
                refused++;
            t.seq++;
            t.ts += FRAME;
        }
        assert_int_equal(gv_playout_render(pl, out, 480, 48000, 2, now + 5000), 480);
        if (first_heard_ms < 0 && rms(out, 960) > 0.05)
            first_heard_ms = period * 10.0;
    }
    assert_int_equal(gv_playout_stats(pl, 5, &st), 0);
    if (refused || first_heard_ms < 0 || first_heard_ms > 40.0 || st.playout_delay_ms > 40.0)
        fail_msg("after half an hour asleep: %d of the word's packets refused, the word heard after %.0f ms, playout "
                 "delay %.1f ms",
                 refused, first_heard_ms, st.playout_delay_ms);
    /* Kept: the two posted before the playout could tell that nobody
     * renders (one packet's interval at worst), dropped as stale. */
    assert_int_equal(gv_playout_dropped(pl), 2);
    gv_encoder_destroy(t.enc);
    gv_playout_destroy(pl);
}

/* A render thread that stalls fills the mailbox: packets are dropped and
 * counted, and a stream announced meanwhile is freed by destroy (nothing
 * leaks under ASan). */
static void playout_stalled_render(void **state)
{
    (void)state;
    gv_playout *pl;
    assert_int_equal(gv_playout_create(&pl), 0);
    assert_int_equal(gv_playout_add(pl, 3), 0);
    talker t;
    talker_init(&t);
    int n = talker_next(&t);
    int full = 0;
    for (int i = 0; i < 10000 && !full; i++)
        full = gv_playout_voice(pl, 3, (uint16_t)i, (uint32_t)i * FRAME, FRAME, 0, t.packet, (size_t)n, 0) == GV_EFULL;
    assert_true(full);
    assert_int_equal(gv_playout_dropped(pl), 1);
    assert_int_equal(gv_playout_add(pl, 4), GV_EFULL);
    gv_encoder_destroy(t.enc);
    gv_playout_destroy(pl);
}

typedef struct render_thread {
    gv_playout *pl;
    volatile int stop;
    double energy;
    long periods;
    int error;
} render_thread;

static void sleep_us(long us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000L};
    nanosleep(&ts, NULL);
}

/* The device: a 5 ms period on its own thread, on the real clock. */
static void *render_loop(void *arg)
{
    render_thread *r = arg;
    float out[240 * 2];
    uint64_t next = mono_us();
    while (!r->stop) {
        int n = gv_playout_render(r->pl, out, 240, 48000, 2, mono_us());
        if (n != 240)
            r->error = 1;
        double e = rms(out, 480);
        r->energy += e * e;
        r->periods++;
        next += 5000;
        uint64_t now = mono_us();
        if (next > now)
            sleep_us((long)(next - now));
    }
    return NULL;
}

static void playout_two_threads(void **state)
{
    (void)state;
    seed_from_env();
    gv_playout *pl;
    assert_int_equal(gv_playout_create(&pl), 0);
    assert_int_equal(gv_playout_prepare(pl, 48000, 2), 0);
    render_thread r = {.pl = pl};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, render_loop, &r), 0);

    talker t[3];
    for (int k = 0; k < 3; k++)
        talker_init(&t[k]);
    /* Players come and go, change volume and position, while packets flow
     * every 20 ms from the real clock: everything the control thread does
     * while the device renders. */
    uint64_t start = mono_us();
    for (int tick = 0; tick < 100; tick++) {
        int k = tick % 3;
        uint16_t id = (uint16_t)(10 + k);
        if (tick % 30 == 0) {
            gv_playout_remove(pl, id);
            assert_int_equal(gv_playout_add(pl, id), 0);
            t[k].seq = 0;
        }
        gv_player_pose pose = {(float)(test_rng_uniform() * 10), 0, 0, 0, -1, 0};
        gv_playout_player(pl, id, 0.5f + (float)test_rng_uniform(), 0, &pose);
        for (int j = 0; j < 3; j++) {
            int n = talker_next(&t[j]);
            gv_playout_voice(pl, (uint16_t)(10 + j), t[j].seq, t[j].ts, FRAME, t[j].seq == 0 ? GV_JBUF_MARKER : 0,
                             t[j].packet, (size_t)n, mono_us());
            t[j].seq++;
            t[j].ts += FRAME;
        }
        gv_playout_collect(pl);
        uint64_t due = start + (uint64_t)(tick + 1) * 20000u;
        uint64_t now = mono_us();
        if (due > now)
            sleep_us((long)(due - now));
    }
    r.stop = 1;
    pthread_join(th, NULL);
    if (r.error || r.periods < 50 || r.energy / (double)r.periods < 1e-4)
        print_message("seed 0x%x: error %d, %ld periods, mean energy %g\n", g_seed, r.error, r.periods,
                      r.energy / (double)(r.periods ? r.periods : 1));
    assert_false(r.error);
    assert_true(r.periods >= 50);
    assert_true(r.energy / (double)r.periods > 1e-4); /* the voices were heard */
    assert_int_equal(gv_playout_dropped(pl), 0);
    for (int k = 0; k < 3; k++)
        gv_encoder_destroy(t[k].enc);
    gv_playout_destroy(pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mailbox_order_wrap_and_full),
        cmocka_unit_test(mailbox_two_threads),
        cmocka_unit_test(playout_one_thread),
        cmocka_unit_test(playout_large_device_buffers),
        cmocka_unit_test(playout_paused_render),
        cmocka_unit_test(playout_long_sleep),
        cmocka_unit_test(playout_stalled_render),
        cmocka_unit_test(playout_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
