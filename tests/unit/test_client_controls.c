/* The client's controls (self mute, deafen, push-to-talk, per-player mute
 * and volume, per-player streams, speaking events, input meter) driven
 * through the public API only: one server and three clients in one
 * process on loopback, serviced by one loop in real time. Speaker A sends
 * a 440 Hz tone, speaker B 660 Hz, listener L 550 Hz when it talks; what a
 * client hears is measured per frequency with a Goertzel filter over
 * 100 ms windows, which hold a whole number of cycles of each tone. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mono.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audio/gv_vad.h"
#include "gvoip/gvoip.h"

#define RATE 48000
#define CHUNK 480                   /* 10 ms */
#define WINDOW 4800                 /* 100 ms: whole cycles of 440, 550 and 660 Hz */
#define REC_CAP (RATE * 2)          /* 2 s per recording */
#define TONE_AMP 0.3f
#define TWO_PI 6.283185307179586
#define HEARD 0.1                   /* a tone of amplitude 0.3 comes back near 0.3 */
#define SILENT 0.01                 /* -30 dB below the tone */
#define CONNECT_DEADLINE_US 8000000ull
#define WAIT_DEADLINE_US 4000000ull
#define MAX_CATCHUP 10              /* chunks pushed at once after a stall */

enum { A = 0, B = 1, L = 2, NCLIENTS = 3 };
enum { PULL_MIX = 0, PULL_PLAYERS = 1, PULL_THREAD = 2 };

static const double tone_hz[NCLIENTS] = {440.0, 660.0, 550.0};
static const char *const names[NCLIENTS] = {"A", "B", "L"};

#define MAX_SPEAK_EVENTS 64
typedef struct speak_event {
    uint16_t id;
    int on;
    uint64_t at_us;
} speak_event;

typedef struct world {
    gv_server *server;
    gv_client *c[NCLIENTS];
    uint16_t id[NCLIENTS];
    int talking[NCLIENTS]; /* push the tone (1) or silence (0) */
    int pull_mode[NCLIENTS];
    double phase[NCLIENTS];
    uint64_t t0_us;
    uint64_t chunks;
    /* What each client heard since the last rec_reset: its mono mix, or
     * in PULL_PLAYERS mode each other client's stream. */
    float *mix[NCLIENTS];
    size_t mix_len[NCLIENTS];
    float *player[NCLIENTS][NCLIENTS];
    size_t player_len[NCLIENTS][NCLIENTS];
    speak_event speak[NCLIENTS][MAX_SPEAK_EVENTS];
    int speak_count[NCLIENTS];
    /* The players each client was told of (PLAYER_CONNECTED), by id. */
    char known_name[NCLIENTS][NCLIENTS + 2][GV_NAME_BYTES];
    int closing;         /* the server is gone on purpose */
    int server_gone[NCLIENTS];
    char dir[64];
    char key_path[128];
} world;

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Amplitude of the hz component of x[0..n). */
static double goertzel_amp(const float *x, size_t n, double hz)
{
    double w = TWO_PI * hz / RATE, coeff = 2.0 * cos(w);
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    double re = s1 - s2 * cos(w), im = s2 * sin(w);
    return 2.0 * sqrt(re * re + im * im) / (double)n;
}

static double rms(const float *x, size_t n)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += (double)x[i] * x[i];
    return n ? sqrt(acc / (double)n) : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The hz amplitude over whole windows of buf: the median window when
 * judging a level (a scheduling hiccup on a loaded machine may spoil one
 * window), the loudest when judging silence (no window may leak). */
static double tone_stat(const float *buf, size_t len, double hz, int loudest)
{
    double amps[REC_CAP / WINDOW];
    size_t windows = len / WINDOW;
    if (windows == 0)
        return 0.0;
    for (size_t w = 0; w < windows; w++)
        amps[w] = goertzel_amp(buf + w * WINDOW, WINDOW, hz);
    qsort(amps, windows, sizeof *amps, cmp_double);
    return loudest ? amps[windows - 1] : amps[windows / 2];
}

static double tone_amp(const float *buf, size_t len, double hz)
{
    return tone_stat(buf, len, hz, 0);
}

static double tone_peak(const float *buf, size_t len, double hz)
{
    return tone_stat(buf, len, hz, 1);
}

/* One stream in order: a player is announced before they are heard, and
 * their SPEAKING events carry the announced name (your own, none). */
static void check_speaker(const world *w, int i, const gv_event *ev)
{
    if (ev->id == w->id[i]) {
        if (ev->name[0])
            fail_msg("client %s: own SPEAKING event named \"%s\", want empty", names[i], ev->name);
        return;
    }
    if (ev->id >= NCLIENTS + 2 || !w->known_name[i][ev->id][0])
        fail_msg("client %s: SPEAKING for id %u before its PLAYER_CONNECTED", names[i], ev->id);
    if (strcmp(ev->name, w->known_name[i][ev->id]) != 0)
        fail_msg("client %s: SPEAKING for id %u named \"%s\", announced as \"%s\"", names[i], ev->id, ev->name,
                 w->known_name[i][ev->id]);
}

static void handle_event(world *w, int i, const gv_event *ev)
{
    if (ev->size != sizeof *ev || !ev->reason)
        fail_msg("client %s: event of size %u, reason %p", names[i], ev->size, (const void *)ev->reason);
    if (ev->type == GV_EVENT_CONNECTED)
        w->id[i] = ev->id;
    else if (ev->type == GV_EVENT_PLAYER_CONNECTED && ev->id < NCLIENTS + 2)
        snprintf(w->known_name[i][ev->id], GV_NAME_BYTES, "%s", ev->name);
    if (ev->type == GV_EVENT_SPEAKING)
        check_speaker(w, i, ev);
    if (ev->type == GV_EVENT_SPEAKING && w->speak_count[i] < MAX_SPEAK_EVENTS) {
        speak_event *s = &w->speak[i][w->speak_count[i]++];
        s->id = ev->id;
        s->on = ev->on;
        s->at_us = mono_us();
    } else if (ev->type == GV_EVENT_SERVER_DISCONNECTED && w->closing)
        w->server_gone[i] = 1;
    else if (ev->type == GV_EVENT_CONNECTION_FAILED || ev->type == GV_EVENT_SERVER_DISCONNECTED)
        fail_msg("client %s: connection failed or lost (error %d, reason \"%s\")", names[i], ev->error, ev->reason);
}

static void service_all(world *w)
{
    gv_event ev = {.size = sizeof ev};
    int rc;
    while ((rc = gv_server_service(w->server, &ev, 0)) > 0) {
    }
    assert_true(rc >= 0);
    for (int i = 0; i < NCLIENTS; i++) {
        while ((rc = gv_client_service(w->c[i], &ev, 0)) > 0)
            handle_event(w, i, &ev);
        if (rc < 0)
            fail_msg("gv_client_service(%s) returned %d", names[i], rc);
    }
}

static void append(float *dst, size_t *len, const float *src, size_t n)
{
    if (*len + n > REC_CAP)
        n = REC_CAP - *len;
    memcpy(dst + *len, src, n * sizeof *src);
    *len += n;
}

/* One 10 ms chunk for every client: capture in, playback out. */
static void audio_chunk(world *w)
{
    float cap[CHUNK], stereo[CHUNK * 2], mono[CHUNK];
    for (int i = 0; i < NCLIENTS; i++) {
        double step = TWO_PI * tone_hz[i] / RATE;
        for (int k = 0; k < CHUNK; k++) {
            cap[k] = w->talking[i] ? TONE_AMP * (float)sin(w->phase[i]) : 0.0f;
            w->phase[i] = fmod(w->phase[i] + step, TWO_PI);
        }
        int rc = gv_client_push_capture(w->c[i], cap, CHUNK, RATE, 1);
        if (rc < 0)
            fail_msg("gv_client_push_capture(%s) returned %d", names[i], rc);
    }
    for (int i = 0; i < NCLIENTS; i++) {
        if (w->pull_mode[i] == PULL_THREAD)
            continue; /* a render thread of its own pulls */
        if (w->pull_mode[i] == PULL_MIX) {
            int rc = gv_client_pull_mix(w->c[i], stereo, CHUNK, RATE, 2);
            if (rc != CHUNK)
                fail_msg("gv_client_pull_mix(%s) returned %d", names[i], rc);
            for (int k = 0; k < CHUNK; k++)
                mono[k] = 0.5f * (stereo[2 * k] + stereo[2 * k + 1]);
            append(w->mix[i], &w->mix_len[i], mono, CHUNK);
            continue;
        }
        for (int j = 0; j < NCLIENTS; j++) {
            if (j == i)
                continue;
            int rc = gv_client_pull_player(w->c[i], w->id[j], mono, CHUNK, RATE);
            if (rc != CHUNK)
                fail_msg("gv_client_pull_player(%s, id of %s) returned %d", names[i], names[j], rc);
            append(w->player[i][j], &w->player_len[i][j], mono, CHUNK);
        }
    }
}

/* Services everything and feeds the audio due by the real clock. */
static void step(world *w)
{
    service_all(w);
    uint64_t due = (mono_us() - w->t0_us) / 10000u;
    if (due > w->chunks + MAX_CATCHUP)
        w->chunks = due - MAX_CATCHUP; /* a long stall: do not burst seconds of audio */
    while (w->chunks < due) {
        audio_chunk(w);
        w->chunks++;
    }
    service_all(w);
    sleep_ms(2);
}

static void run_ms(world *w, int ms)
{
    uint64_t end = mono_us() + (uint64_t)ms * 1000u;
    while (mono_us() < end)
        step(w);
}

static void rec_reset(world *w)
{
    for (int i = 0; i < NCLIENTS; i++) {
        w->mix_len[i] = 0;
        for (int j = 0; j < NCLIENTS; j++)
            w->player_len[i][j] = 0;
    }
}

/* Runs until client i recorded ms of audio (mix or, in PULL_PLAYERS mode,
 * every stream). */
static void record_ms(world *w, int i, int ms)
{
    size_t want = (size_t)ms * (RATE / 1000);
    assert_true(want <= REC_CAP);
    rec_reset(w);
    int other = i == 0 ? 1 : 0;
    for (;;) {
        size_t have = w->pull_mode[i] == PULL_MIX ? w->mix_len[i] : w->player_len[i][other];
        if (have >= want)
            break;
        step(w);
    }
}

/* Speaker j's tone in client i's recorded mix: median and loudest window. */
static double mix_amp(const world *w, int i, int j)
{
    return tone_amp(w->mix[i], w->mix_len[i], tone_hz[j]);
}

static double mix_peak(const world *w, int i, int j)
{
    return tone_peak(w->mix[i], w->mix_len[i], tone_hz[j]);
}

/* Records 100 ms windows of i's mix until speaker j's tone is heard
 * (want_heard) or silent, or the deadline passes; returns the last
 * amplitude. */
static double wait_tone(world *w, int i, int j, int want_heard)
{
    uint64_t end = mono_us() + WAIT_DEADLINE_US;
    double amp;
    do {
        record_ms(w, i, 100);
        amp = mix_amp(w, i, j);
        if (want_heard ? amp > HEARD : amp < SILENT)
            break;
    } while (mono_us() < end);
    return amp;
}

static uint64_t sent_packets(const world *w, int i)
{
    gv_client_stats st = {.size = sizeof st};
    assert_int_equal(gv_client_get_stats(w->c[i], &st), 0);
    return st.voice_packets;
}

/* How many of j's voice packets client i received (0 before the first). */
static uint64_t received_packets(const world *w, int i, int j)
{
    gv_peer_stats ps[GV_DEFAULT_MAX_PLAYERS];
    ps[0].size = sizeof ps[0];
    int n = gv_client_get_peer_stats(w->c[i], ps, GV_DEFAULT_MAX_PLAYERS);
    for (int k = 0; k < n; k++)
        if (ps[k].id == w->id[j])
            return ps[k].voice_packets;
    return 0;
}

/* Waits until every client has its id and knows the other two. */
static void wait_lobby(world *w)
{
    uint64_t end = mono_us() + CONNECT_DEADLINE_US;
    for (;;) {
        int ready = 1;
        for (int i = 0; i < NCLIENTS && ready; i++) {
            if (!w->id[i]) {
                ready = 0;
                break;
            }
            for (int j = 0; j < NCLIENTS; j++)
                if (j != i && (!w->id[j] || gv_client_set_player_volume(w->c[i], w->id[j], 1.0f) != 0))
                    ready = 0;
        }
        if (ready)
            return;
        if (mono_us() > end) {
            fail_msg("lobby not ready after %llu ms: ids A=%u B=%u L=%u", CONNECT_DEADLINE_US / 1000,
                     w->id[A], w->id[B], w->id[L]);
        }
        step(w);
    }
}

/* Creates the lobby. Muted clients are muted before they connect, so their
 * first voice packet comes only when a test unmutes them. */
static world *start(void **state, int transmit_mode_a, int mute_a)
{
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    *state = w; /* the teardown frees whatever was made if a step fails */
    strcpy(w->dir, "/tmp/gv_controls_XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->key_path, sizeof w->key_path, "%s/server.key", w->dir);
    for (int i = 0; i < NCLIENTS; i++) {
        w->mix[i] = calloc(REC_CAP, sizeof(float));
        assert_non_null(w->mix[i]);
        for (int j = 0; j < NCLIENTS; j++) {
            w->player[i][j] = calloc(REC_CAP, sizeof(float));
            assert_non_null(w->player[i][j]);
        }
    }
    gv_server_config sc;
    gv_server_config_default(&sc);
    sc.port = 0;
    sc.key_file = w->key_path;
    sc.local_host = 0;
    sc.bind_address = "127.0.0.1";
    char why[256] = "";
    int rc = gv_server_create(&sc, &w->server, why, sizeof why);
    if (rc != 0)
        fail_msg("gv_server_create: %d (%s)", rc, why);
    int port = gv_server_port(w->server);
    assert_true(port > 0);
    for (int i = 0; i < NCLIENTS; i++) {
        gv_client_config cc;
        gv_client_config_default(&cc);
        cc.server_host = "127.0.0.1";
        cc.server_port = (uint16_t)port;
        cc.name = names[i];
        cc.known_servers_file = "";
        cc.transmit_mode = i == A ? transmit_mode_a : GV_TX_CONTINUOUS;
        /* Steady tones are what the noise suppressor removes; the controls
         * are judged on the tones as sent. */
        cc.echo_cancel = GV_ECHO_CANCEL_OFF;
        cc.noise_suppression = 0;
        cc.auto_gain = 0;
        rc = gv_client_create(&cc, &w->c[i]);
        if (rc != 0)
            fail_msg("gv_client_create(%s): %d", names[i], rc);
    }
    if (mute_a)
        assert_int_equal(gv_client_set_muted(w->c[A], 1), 0);
    w->t0_us = mono_us();
    wait_lobby(w);
    return w;
}

static void world_free(world *w)
{
    if (!w)
        return;
    /* The server goes first and the clients hear of it: a client leaving
     * a live server waits for an acknowledgement that nobody services
     * while it blocks, which would cost most of a second per test. */
    gv_server_destroy(w->server);
    w->closing = 1;
    uint64_t end = mono_us() + 1000000u;
    for (int done = 0; !done && mono_us() < end; sleep_ms(2)) {
        done = 1;
        for (int i = 0; i < NCLIENTS; i++) {
            gv_event ev = {.size = sizeof ev};
            while (w->c[i] && !w->server_gone[i] && gv_client_service(w->c[i], &ev, 0) > 0)
                handle_event(w, i, &ev);
            if (w->c[i] && !w->server_gone[i])
                done = 0;
        }
    }
    for (int i = 0; i < NCLIENTS; i++)
        gv_client_destroy(w->c[i]);
    for (int i = 0; i < NCLIENTS; i++) {
        free(w->mix[i]);
        for (int j = 0; j < NCLIENTS; j++)
            free(w->player[i][j]);
    }
    unlink(w->key_path);
    rmdir(w->dir);
    free(w);
}

static int teardown(void **state)
{
    world_free(*state);
    *state = NULL;
    return 0;
}

/* ---- 1. Baseline --------------------------------------------------------- */

static void test_baseline(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    w->talking[A] = w->talking[B] = 1;
    double a_at_l = wait_tone(w, L, A, 1);
    if (a_at_l <= HEARD)
        fail_msg("L's mix: A's 440 Hz amplitude %.4f, want > %.2f", a_at_l, HEARD);
    record_ms(w, L, 500);
    double l_rms = rms(w->mix[L], w->mix_len[L]);
    if (l_rms < 0.1)
        fail_msg("L's mix RMS %.4f with A and B talking, want >= 0.1", l_rms);
    /* A hears B (so its mix works) but never itself. */
    double b_at_a = wait_tone(w, A, B, 1);
    if (b_at_a <= HEARD)
        fail_msg("A's mix: B's 660 Hz amplitude %.4f, want > %.2f", b_at_a, HEARD);
    record_ms(w, A, 500);
    double self = mix_peak(w, A, A), other = mix_amp(w, A, B);
    print_message("baseline: L hears A at %.4f (mix RMS %.4f); A hears itself at %.5f, B at %.4f\n", a_at_l, l_rms,
                  self, other);
    if (self >= SILENT || other <= HEARD)
        fail_msg("A's mix: own 440 Hz amplitude %.4f (want < %.2f), B's 660 Hz %.4f (want > %.2f)", self, SILENT,
                 other, HEARD);
}

/* ---- 2. Self mute ---------------------------------------------------------- */

static void test_self_mute(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    w->talking[A] = w->talking[B] = 1;
    double amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("before mute: A's tone at L %.4f, want > %.2f", amp, HEARD);

    assert_int_equal(gv_client_set_muted(w->c[A], 1), 0);
    step(w);
    uint64_t sent = sent_packets(w, A);
    amp = wait_tone(w, L, A, 0);
    if (amp >= SILENT)
        fail_msg("A muted: A's tone still in L's mix at %.4f after %llu ms, want < %.2f", amp,
                 WAIT_DEADLINE_US / 1000, SILENT);
    record_ms(w, L, 500);
    double a_amp = mix_peak(w, L, A), b_amp = mix_amp(w, L, B);
    uint64_t sent_after = sent_packets(w, A);
    print_message("self mute: A sent %llu -> %llu; L hears A at %.5f, B at %.4f\n", (unsigned long long)sent,
                  (unsigned long long)sent_after, a_amp, b_amp);
    if (sent_after != sent)
        fail_msg("A muted: voice_packets went from %llu to %llu", (unsigned long long)sent,
                 (unsigned long long)sent_after);
    if (gv_client_transmitting(w->c[A]))
        fail_msg("A muted: gv_client_transmitting says 1");
    if (a_amp >= SILENT || b_amp <= HEARD)
        fail_msg("A muted: L hears A at %.4f (want < %.2f), B at %.4f (want > %.2f)", a_amp, SILENT, b_amp, HEARD);

    assert_int_equal(gv_client_set_muted(w->c[A], 0), 0);
    amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("A unmuted: A's tone at L %.4f, want > %.2f", amp, HEARD);
    if (sent_packets(w, A) <= sent_after)
        fail_msg("A unmuted: voice_packets stuck at %llu", (unsigned long long)sent_after);
}

/* ---- 3. Deafen ------------------------------------------------------------- */

static void test_deafen(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    w->talking[A] = w->talking[B] = w->talking[L] = 1;
    double amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("before deafen: A's tone at L %.4f, want > %.2f", amp, HEARD);
    amp = wait_tone(w, A, L, 1);
    if (amp <= HEARD)
        fail_msg("before deafen: L's tone at A %.4f, want > %.2f", amp, HEARD);

    assert_int_equal(gv_client_set_deafened(w->c[L], 1), 0);
    step(w);
    uint64_t l_sent = sent_packets(w, L);
    uint64_t a_recv = received_packets(w, L, A);
    /* Let what was buffered play out, then L must hear nothing at all. */
    uint64_t end = mono_us() + WAIT_DEADLINE_US;
    double l_rms;
    do {
        record_ms(w, L, 100);
        l_rms = rms(w->mix[L], w->mix_len[L]);
    } while (l_rms > 1e-4 && mono_us() < end);
    record_ms(w, L, 500);
    l_rms = rms(w->mix[L], w->mix_len[L]);
    uint64_t a_recv_after = received_packets(w, L, A), l_sent_after = sent_packets(w, L);
    print_message("deafen: L mix RMS %.6f; A's packets at L %llu -> %llu; L sent %llu -> %llu\n", l_rms,
                  (unsigned long long)a_recv, (unsigned long long)a_recv_after, (unsigned long long)l_sent,
                  (unsigned long long)l_sent_after);
    if (l_rms > 1e-4)
        fail_msg("L deafened: mix RMS %.6f (A at %.4f, B at %.4f), want silence", l_rms, mix_amp(w, L, A),
                 mix_amp(w, L, B));
    if (a_recv_after <= a_recv)
        fail_msg("L deafened: A's packets stopped arriving at L (%llu -> %llu), the check is void",
                 (unsigned long long)a_recv, (unsigned long long)a_recv_after);
    if (l_sent_after != l_sent)
        fail_msg("L deafened: L still sends (voice_packets %llu -> %llu)", (unsigned long long)l_sent,
                 (unsigned long long)l_sent_after);
    if (gv_client_transmitting(w->c[L]))
        fail_msg("L deafened: gv_client_transmitting says 1");

    assert_int_equal(gv_client_set_deafened(w->c[L], 0), 0);
    amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("L undeafened: A's tone at L %.4f, want > %.2f", amp, HEARD);
    if (sent_packets(w, L) <= l_sent_after)
        fail_msg("L undeafened: L does not send again");
}

/* ---- 4. Push-to-talk ------------------------------------------------------ */

static void test_push_to_talk(void **state)
{
    world *w = start(state, GV_TX_PUSH_TO_TALK, 0);
    w->talking[A] = 1;
    assert_int_equal(gv_client_set_ptt(w->c[A], 0), 0);
    run_ms(w, 500);
    uint64_t sent = sent_packets(w, A), recv = received_packets(w, L, A);
    if (sent != 0 || recv != 0)
        fail_msg("PTT up: A sent %llu voice packets, L received %llu, want 0", (unsigned long long)sent,
                 (unsigned long long)recv);
    if (gv_client_transmitting(w->c[A]))
        fail_msg("PTT up: gv_client_transmitting says 1");
    /* Nothing is sent whatever its level: all of it may wait. */
    if (gv_client_capture_quiet_db(w->c[A]) != INFINITY)
        fail_msg("PTT up: capture quiet below %.1f dBFS, want +infinity", gv_client_capture_quiet_db(w->c[A]));

    assert_int_equal(gv_client_set_ptt(w->c[A], 1), 0);
    if (gv_client_capture_quiet_db(w->c[A]) != -INFINITY)
        fail_msg("PTT down: capture quiet below %.1f dBFS, want -infinity", gv_client_capture_quiet_db(w->c[A]));
    double amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("PTT down: A's tone at L %.4f, want > %.2f", amp, HEARD);
    sent = sent_packets(w, A);
    if (sent == 0 || received_packets(w, L, A) == 0)
        fail_msg("PTT down: A sent %llu, L received %llu", (unsigned long long)sent,
                 (unsigned long long)received_packets(w, L, A));

    assert_int_equal(gv_client_set_ptt(w->c[A], 0), 0);
    step(w);
    sent = sent_packets(w, A);
    run_ms(w, 300);
    if (sent_packets(w, A) != sent)
        fail_msg("PTT released: voice_packets %llu -> %llu", (unsigned long long)sent,
                 (unsigned long long)sent_packets(w, A));
    amp = wait_tone(w, L, A, 0);
    if (amp >= SILENT)
        fail_msg("PTT released: A's tone still at L %.4f", amp);
}

/* ---- 5. Per-player mute --------------------------------------------------- */

static void test_player_mute(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    w->talking[A] = w->talking[B] = 1;
    double amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("before mute: A's tone at L %.4f, want > %.2f", amp, HEARD);

    assert_int_equal(gv_client_set_player_muted(w->c[L], w->id[A], 1), 0);
    amp = wait_tone(w, L, A, 0);
    uint64_t recv = received_packets(w, L, A);
    record_ms(w, L, 500);
    double a_amp = mix_peak(w, L, A), b_amp = mix_amp(w, L, B);
    uint64_t recv_after = received_packets(w, L, A);
    print_message("player mute: L hears A at %.5f, B at %.4f; A's packets at L %llu -> %llu\n", a_amp, b_amp,
                  (unsigned long long)recv, (unsigned long long)recv_after);
    if (a_amp >= SILENT || b_amp <= HEARD)
        fail_msg("A muted at L: L hears A at %.4f (want < %.2f), B at %.4f (want > %.2f)", a_amp, SILENT, b_amp,
                 HEARD);
    if (recv_after <= recv)
        fail_msg("A muted at L: L's peer stats stopped counting A's packets (%llu -> %llu)",
                 (unsigned long long)recv, (unsigned long long)recv_after);
    if (sent_packets(w, A) == 0)
        fail_msg("A muted at L: A itself sends nothing");

    /* A's own stream, pulled alone, is silent too. */
    w->pull_mode[L] = PULL_PLAYERS;
    run_ms(w, 200);
    record_ms(w, L, 500);
    double a_stream = rms(w->player[L][A], w->player_len[L][A]);
    double b_stream = tone_amp(w->player[L][B], w->player_len[L][B], tone_hz[B]);
    print_message("player mute: pull_player(A) RMS %.6f, pull_player(B) 660 Hz %.4f\n", a_stream, b_stream);
    if (a_stream > 1e-4 || b_stream <= HEARD)
        fail_msg("A muted at L: pull_player(A) RMS %.6f (want silence), pull_player(B) 660 Hz %.4f (want > %.2f)",
                 a_stream, b_stream, HEARD);

    w->pull_mode[L] = PULL_MIX;
    assert_int_equal(gv_client_set_player_muted(w->c[L], w->id[A], 0), 0);
    amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("A unmuted at L: A's tone at L %.4f, want > %.2f", amp, HEARD);
}

/* ---- 6. Per-player volume ------------------------------------------------- */

static void test_player_volume(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    w->talking[A] = w->talking[B] = 1;
    double amp = wait_tone(w, L, A, 1);
    if (amp <= HEARD)
        fail_msg("before: A's tone at L %.4f, want > %.2f", amp, HEARD);
    amp = wait_tone(w, L, B, 1);
    if (amp <= HEARD)
        fail_msg("before: B's tone at L %.4f, want > %.2f", amp, HEARD);
    record_ms(w, L, 800);
    double a0 = mix_amp(w, L, A), b0 = mix_amp(w, L, B);

    assert_int_equal(gv_client_set_player_volume(w->c[L], w->id[A], 0.5f), 0);
    run_ms(w, 200); /* what was mixed at the old gain plays out */
    record_ms(w, L, 800);
    double a1 = mix_amp(w, L, A), b1 = mix_amp(w, L, B);
    double da = 20.0 * log10(a1 / a0), db = 20.0 * log10(b1 / b0);
    print_message("volume: A %.4f -> %.4f (%+.2f dB), B %.4f -> %.4f (%+.2f dB)\n", a0, a1, da, b0, b1, db);
    if (fabs(da + 6.02) > 1.5 || fabs(db) > 1.5)
        fail_msg("volume 0.5 on A: A's tone %.4f -> %.4f (%+.2f dB, want -6.02 +- 1.5), "
                 "B's %.4f -> %.4f (%+.2f dB, want 0 +- 1.5)",
                 a0, a1, da, b0, b1, db);
    assert_int_equal(gv_client_set_player_volume(w->c[L], w->id[A], 5.0f), GV_EINVAL);
}

/* ---- 7. Per-player stream --------------------------------------------------- */

static void test_pull_player(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    w->talking[A] = w->talking[B] = 1;
    w->pull_mode[L] = PULL_PLAYERS;
    uint64_t end = mono_us() + WAIT_DEADLINE_US;
    double aa, ab, ba, bb;
    do {
        record_ms(w, L, 100);
        aa = tone_amp(w->player[L][A], w->player_len[L][A], tone_hz[A]);
        bb = tone_amp(w->player[L][B], w->player_len[L][B], tone_hz[B]);
    } while ((aa <= HEARD || bb <= HEARD) && mono_us() < end);
    record_ms(w, L, 500);
    aa = tone_amp(w->player[L][A], w->player_len[L][A], tone_hz[A]);
    ab = tone_peak(w->player[L][A], w->player_len[L][A], tone_hz[B]);
    ba = tone_peak(w->player[L][B], w->player_len[L][B], tone_hz[A]);
    bb = tone_amp(w->player[L][B], w->player_len[L][B], tone_hz[B]);
    print_message("pull_player: A stream 440 %.4f / 660 %.5f; B stream 660 %.4f / 440 %.5f\n", aa, ab, bb, ba);
    if (aa <= HEARD || ab >= SILENT)
        fail_msg("pull_player(L, A): 440 Hz %.4f (want > %.2f), 660 Hz %.4f (want < %.2f)", aa, HEARD, ab, SILENT);
    if (bb <= HEARD || ba >= SILENT)
        fail_msg("pull_player(L, B): 660 Hz %.4f (want > %.2f), 440 Hz %.4f (want < %.2f)", bb, HEARD, ba, SILENT);
    float buf[CHUNK];
    assert_int_equal(gv_client_pull_player(w->c[L], 999, buf, CHUNK, RATE), GV_ENOTFOUND);
}

/* The mix pulled from another thread, as a device callback does, while
 * this thread services the network, pushes capture and changes settings:
 * the voice arrives, and a volume set here reaches the render side. */
typedef struct render_thread {
    gv_client *c;
    atomic_int stop, failed;
    atomic_int volume_epoch; /* bumped by the control thread; the render side copies it */
    float rec[REC_CAP];
    atomic_size_t len;
    atomic_int rec_epoch;
} render_thread;

static void *render_loop(void *arg)
{
    render_thread *r = arg;
    float stereo[240 * 2];
    while (!atomic_load(&r->stop)) {
        int epoch = atomic_load(&r->volume_epoch);
        if (epoch != atomic_load(&r->rec_epoch)) {
            atomic_store(&r->len, 0);
            atomic_store(&r->rec_epoch, epoch);
        }
        if (gv_client_pull_mix(r->c, stereo, 240, RATE, 2) != 240)
            atomic_store(&r->failed, 1);
        size_t len = atomic_load(&r->len);
        for (int k = 0; k < 240 && len < REC_CAP; k++)
            r->rec[len++] = 0.5f * (stereo[2 * k] + stereo[2 * k + 1]);
        atomic_store(&r->len, len);
        sleep_ms(5);
    }
    return NULL;
}

static double thread_amp(world *w, render_thread *r, int epoch)
{
    atomic_store(&r->volume_epoch, epoch);
    run_ms(w, 600);
    size_t len = atomic_load(&r->len);
    return atomic_load(&r->rec_epoch) == epoch ? tone_amp(r->rec, len, tone_hz[A]) : -1.0;
}

static void test_render_thread(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    render_thread *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->c = w->c[L];
    assert_int_equal(gv_client_prepare_playback(w->c[L], RATE, 2), 0);
    w->pull_mode[L] = PULL_THREAD;
    w->talking[A] = 1;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, render_loop, r), 0);
    run_ms(w, 500);
    double heard = thread_amp(w, r, 1);
    assert_int_equal(gv_client_set_player_volume(w->c[L], w->id[A], 0.0f), 0);
    run_ms(w, 100);
    double silenced = thread_amp(w, r, 2);
    atomic_store(&r->stop, 1);
    pthread_join(th, NULL);
    print_message("render thread: A's tone %.4f, at volume 0 %.5f\n", heard, silenced);
    int failed = atomic_load(&r->failed);
    free(r);
    assert_false(failed);
    if (heard <= HEARD || silenced >= SILENT || silenced < 0)
        fail_msg("render thread: A's tone %.4f (want > %.2f), at volume 0 %.5f (want < %.2f)", heard, HEARD,
                 silenced, SILENT);
}

/* The calls added for device-driven programs refuse what they cannot use. */
static void test_device_calls_arguments(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    assert_int_equal(gv_client_prepare_playback(NULL, RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_prepare_playback(w->c[L], 7999, 2), GV_EINVAL);
    assert_int_equal(gv_client_prepare_playback(w->c[L], 192001, 2), GV_EINVAL);
    assert_int_equal(gv_client_prepare_playback(w->c[L], RATE, 0), GV_EINVAL);
    assert_int_equal(gv_client_prepare_playback(w->c[L], RATE, 3), GV_EINVAL);
    assert_int_equal(gv_client_prepare_playback(w->c[L], 44100, 1), 0);
    assert_int_equal(gv_client_fd(NULL), GV_EINVAL);
    assert_true(gv_client_fd(w->c[L]) >= 0);
    assert_int_equal(gv_server_fd(NULL), GV_EINVAL);
    assert_true(gv_server_fd(w->server) >= 0);
    float buf[8];
    assert_int_equal(gv_client_pull_mix(w->c[L], NULL, 4, RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_pull_mix(w->c[L], buf, 4, RATE, 0), GV_EINVAL);
    assert_int_equal(gv_client_pull_mix(NULL, buf, 4, RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_pull_mix(w->c[L], buf, 4, 44100, 1), 4);
    assert_int_equal(gv_client_set_device_latency(NULL, 0, 0), GV_EINVAL);
    assert_int_equal(gv_client_set_device_latency(w->c[L], 1000001, 0), GV_EINVAL);
    assert_int_equal(gv_client_set_device_latency(w->c[L], 0, 1000001), GV_EINVAL);
    assert_int_equal(gv_client_set_device_latency(w->c[L], 20000, 30000), 0);
    assert_int_equal(gv_client_push_echo_reference(NULL, buf, 4, RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_push_echo_reference(w->c[L], NULL, 4, RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_push_echo_reference(w->c[L], buf, 4, 7999, 2), GV_EINVAL);
    assert_int_equal(gv_client_push_echo_reference(w->c[L], buf, 4, RATE, 3), GV_EINVAL);
    /* These clients cancel no echo: there is nowhere for a reference to go. */
    assert_int_equal(gv_client_push_echo_reference(w->c[L], buf, 4, RATE, 2), GV_ESTATE);
    gv_client_config cc;
    gv_client *bad = NULL;
    gv_client_config_default(&cc);
    cc.known_servers_file = "";
    const int modes[][3] = {{-1, 1, 1}, {3, 1, 1}, {1, 2, 1}, {1, -1, 1}, {1, 1, 2}, {1, 1, -1}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        cc.echo_cancel = modes[i][0];
        cc.noise_suppression = modes[i][1];
        cc.auto_gain = modes[i][2];
        assert_int_equal(gv_client_create(&cc, &bad), GV_EINVAL);
        assert_null(bad);
    }
    cc.echo_cancel = GV_ECHO_CANCEL_EXTERNAL;
    cc.noise_suppression = cc.auto_gain = 1;
    assert_int_equal(gv_client_create(&cc, &bad), 0);
    assert_int_equal(gv_client_prepare_playback(bad, RATE, 2), 0);
    assert_int_equal(gv_client_push_echo_reference(bad, buf, 4, RATE, 2), 0);
    assert_int_equal(gv_client_push_echo_reference(bad, NULL, 0, RATE, 2), 0);
    gv_client_destroy(bad);
}

/* ---- 8. Speaking events --------------------------------------------------- */

/* Index of the first SPEAKING event {id, on} client i got at or after
 * from, or -1. */
static int find_speak(const world *w, int i, int from, uint16_t id, int on)
{
    for (int k = from; k < w->speak_count[i]; k++)
        if (w->speak[i][k].id == id && w->speak[i][k].on == on)
            return k;
    return -1;
}

static int wait_speak(world *w, int i, int from, uint16_t id, int on, uint64_t deadline_us)
{
    int k;
    while ((k = find_speak(w, i, from, id, on)) < 0 && mono_us() < deadline_us)
        step(w);
    return k;
}

/* A player's pose reaches the others, for engines that spatialize each
 * player's stream themselves. */
static void test_player_pose(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    gv_player_pose pose = {.x = 12.5f, .y = -3.0f, .z = 0.25f, .fx = 0.0f, .fy = 0.0f, .fz = -1.0f};
    assert_int_equal(gv_client_set_pose(w->c[A], &pose), 0);
    gv_player_pose got = {0};
    uint64_t end = mono_us() + WAIT_DEADLINE_US;
    do {
        record_ms(w, L, 50);
    } while ((gv_client_player_pose(w->c[L], w->id[A], &got) != 0 || got.x != pose.x) && mono_us() < end);
    print_message("pose of A as L sees it: %.2f %.2f %.2f\n", got.x, got.y, got.z);
    if (got.x != pose.x || got.y != pose.y || got.z != pose.z || got.fz != pose.fz)
        fail_msg("L sees A at %.2f,%.2f,%.2f facing %.2f, want 12.5,-3,0.25 facing -1", got.x, got.y, got.z, got.fz);
}

static void test_speaking_events(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 1);
    w->talking[A] = 1;
    run_ms(w, 300);
    if (find_speak(w, L, 0, w->id[A], 1) >= 0 || find_speak(w, A, 0, w->id[A], 1) >= 0)
        fail_msg("A muted since before joining, yet a SPEAKING on event for A arrived");

    /* Speaking is voice activity: a tone that was there all along is a
     * noise floor, so A falls silent and starts again as it unmutes. */
    w->talking[A] = 0;
    run_ms(w, 500);
    int l_from = w->speak_count[L], a_from = w->speak_count[A];
    assert_int_equal(gv_client_set_muted(w->c[A], 0), 0);
    w->talking[A] = 1;
    uint64_t deadline = mono_us() + WAIT_DEADLINE_US;
    int kl = wait_speak(w, L, l_from, w->id[A], 1, deadline);
    if (kl < 0)
        fail_msg("L got no SPEAKING {id=A(%u), on=1} within %llu ms of A unmuting", w->id[A],
                 WAIT_DEADLINE_US / 1000);
    int ka = wait_speak(w, A, a_from, w->id[A], 1, deadline);
    if (ka < 0)
        fail_msg("A got no SPEAKING {own id %u, on=1} when it started sending", w->id[A]);
    if (!gv_client_transmitting(w->c[A]))
        fail_msg("A unmuted: gv_client_transmitting says 0");

    run_ms(w, 200);
    l_from = w->speak_count[L];
    a_from = w->speak_count[A];
    assert_int_equal(gv_client_set_muted(w->c[A], 1), 0);
    uint64_t muted_at = mono_us();
    kl = wait_speak(w, L, l_from, w->id[A], 0, muted_at + WAIT_DEADLINE_US);
    if (kl < 0)
        fail_msg("L got no SPEAKING {id=A, on=0} within %llu ms of A muting", WAIT_DEADLINE_US / 1000);
    uint64_t took_ms = (w->speak[L][kl].at_us - muted_at) / 1000u;
    if (took_ms > 1000)
        fail_msg("L's SPEAKING {id=A, on=0} came %llu ms after A muted, want <= 1000",
                 (unsigned long long)took_ms);
    ka = wait_speak(w, A, a_from, w->id[A], 0, muted_at + WAIT_DEADLINE_US);
    if (ka < 0)
        fail_msg("A got no SPEAKING {own id, on=0} after muting");
    took_ms = (w->speak[A][ka].at_us - muted_at) / 1000u;
    print_message("speaking: L's off event %llu ms after mute, A's own %llu ms\n",
                  (unsigned long long)(w->speak[L][kl].at_us - muted_at) / 1000u, (unsigned long long)took_ms);
    if (took_ms > 1000)
        fail_msg("A's own SPEAKING on=0 came %llu ms after muting", (unsigned long long)took_ms);
    /* No flapping: A stays silent at L. */
    l_from = w->speak_count[L];
    run_ms(w, 400);
    if (find_speak(w, L, l_from, w->id[A], 1) >= 0)
        fail_msg("L got SPEAKING {id=A, on=1} while A is muted");
}

/* ---- 9. Input level ------------------------------------------------------- */

static void test_input_level(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    float before = gv_client_input_level_db(w->c[A]);
    w->talking[A] = 1;
    run_ms(w, 300);
    float tone_db = gv_client_input_level_db(w->c[A]);
    double want = 10.0 * log10(0.5 * TONE_AMP * TONE_AMP); /* -13.47 dBFS */
    if (fabs(tone_db - want) > 1.0)
        fail_msg("input level with a 0.3 sine: %.2f dBFS, want %.2f +- 1 (silence before: %.2f)", tone_db, want,
                 before);
    w->talking[A] = 0;
    run_ms(w, 300);
    float silent_db = gv_client_input_level_db(w->c[A]);
    print_message("input level: before %.2f, tone %.2f (want %.2f), silence %.2f dBFS\n", before, tone_db, want,
                  silent_db);
    if (silent_db > -90.0f)
        fail_msg("input level in digital silence: %.2f dBFS, want <= -90", silent_db);
}

/* ---- The capture that may wait ------------------------------------------ */

static void test_capture_quiet(void **state)
{
    world *w = start(state, GV_TX_VOICE_ACTIVITY, 0);
    gv_vad_config vc;
    gv_vad_config_default(&vc, 960);
    run_ms(w, 300);
    /* A silent, with voice activation and no gain: the detector's gate,
     * less the margin. B sends every frame. */
    float silent = gv_client_capture_quiet_db(w->c[A]), continuous = gv_client_capture_quiet_db(w->c[B]);
    /* Nobody talks on a steady session: A's timers allow 100 ms (B and L,
     * in continuous mode, send all the time). */
    uint32_t idle_silent = gv_client_idle_ms(w->c[A]);
    w->talking[A] = 1;
    run_ms(w, 300);
    int sending = gv_client_transmitting(w->c[A]);
    float talking = gv_client_capture_quiet_db(w->c[A]);
    uint32_t idle_talking = gv_client_idle_ms(w->c[A]);
    assert_int_equal(gv_client_set_muted(w->c[A], 1), 0);
    float muted = gv_client_capture_quiet_db(w->c[A]);
    assert_int_equal(gv_client_set_muted(w->c[A], 0), 0);
    w->talking[A] = 0;
    run_ms(w, 1000);
    float after = gv_client_capture_quiet_db(w->c[A]);
    uint32_t idle_after = gv_client_idle_ms(w->c[A]);
    /* B speaks: A hears him (the end of it is a timeout). */
    w->talking[B] = 1;
    run_ms(w, 300);
    uint32_t idle_hearing = gv_client_idle_ms(w->c[A]);
    w->talking[B] = 0;
    run_ms(w, 1000);
    uint32_t idle_end = gv_client_idle_ms(w->c[A]);
    print_message("capture quiet below: A silent %.1f, talking %.1f, muted %.1f, silent again %.1f; B %.1f dBFS\n",
                  silent, talking, muted, after, continuous);
    print_message("A's idle ms: silent %u, talking %u, silent again %u, hearing B %u, B stopped %u\n", idle_silent,
                  idle_talking, idle_after, idle_hearing, idle_end);
    if (idle_silent != 100 || idle_talking != 20 || idle_after != 100 || idle_hearing != 20 || idle_end != 100)
        fail_msg("A's gv_client_idle_ms: silent %u (want 100), talking %u (want 20), silent again %u (want 100), "
                 "hearing B %u (want 20), B stopped %u (want 100)",
                 idle_silent, idle_talking, idle_after, idle_hearing, idle_end);
    if (fabsf(silent - (vc.min_level_dbfs - 1.0f)) > 0.01f || fabsf(after - silent) > 0.01f)
        fail_msg("A silent with voice activation: capture quiet below %.2f, then %.2f dBFS, want %.2f (the "
                 "detector's gate less 1 dB)",
                 silent, after, vc.min_level_dbfs - 1.0f);
    if (!sending || talking != -INFINITY)
        fail_msg("A talking (transmitting %d): capture quiet below %.1f dBFS, want -infinity", sending, talking);
    if (muted != INFINITY)
        fail_msg("A muted: capture quiet below %.1f dBFS, want +infinity", muted);
    if (continuous != -INFINITY)
        fail_msg("B in continuous mode: capture quiet below %.1f dBFS, want -infinity", continuous);
}

/* ---- 10. The loudest player heard --------------------------------------- */

static void test_loudest_peer(void **state)
{
    world *w = start(state, GV_TX_CONTINUOUS, 0);
    float before = gv_client_loudest_peer_db(w->c[L]);
    w->talking[A] = 1;
    run_ms(w, 300);
    float talking = gv_client_loudest_peer_db(w->c[L]);
    w->talking[A] = 0;
    run_ms(w, 400);
    float stopped = gv_client_loudest_peer_db(w->c[L]);
    w->talking[A] = 1;
    assert_int_equal(gv_client_set_player_muted(w->c[L], w->id[A], 1), 0);
    run_ms(w, 400);
    float muted = gv_client_loudest_peer_db(w->c[L]);
    assert_int_equal(gv_client_set_player_muted(w->c[L], w->id[A], 0), 0);
    assert_int_equal(gv_client_set_deafened(w->c[L], 1), 0);
    run_ms(w, 100);
    float deafened = gv_client_loudest_peer_db(w->c[L]);
    assert_int_equal(gv_client_set_deafened(w->c[L], 0), 0);
    run_ms(w, 100);
    float again = gv_client_loudest_peer_db(w->c[L]);
    print_message("loudest at L: before %.1f, A's tone %.1f, A stopped %.1f, A muted %.1f, L deafened %.1f, "
                  "again %.1f dBov\n",
                  before, talking, stopped, muted, deafened, again);
    if (before != -127.0f || talking < -30.0f || stopped > -90.0f || muted != -127.0f || deafened != -127.0f ||
        again < -30.0f)
        fail_msg("loudest player at L: before %.1f (want -127), A's tone %.1f (want >= -30), A stopped %.1f "
                 "(want <= -90), A muted %.1f, L deafened %.1f (want -127), A again %.1f (want >= -30)",
                 before, talking, stopped, muted, deafened, again);
}

int main(void)
{
    if (gv_init() != 0) {
        fprintf(stderr, "gv_init failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_baseline, teardown),
        cmocka_unit_test_teardown(test_self_mute, teardown),
        cmocka_unit_test_teardown(test_deafen, teardown),
        cmocka_unit_test_teardown(test_push_to_talk, teardown),
        cmocka_unit_test_teardown(test_player_mute, teardown),
        cmocka_unit_test_teardown(test_player_volume, teardown),
        cmocka_unit_test_teardown(test_pull_player, teardown),
        cmocka_unit_test_teardown(test_render_thread, teardown),
        cmocka_unit_test_teardown(test_device_calls_arguments, teardown),
        cmocka_unit_test_teardown(test_player_pose, teardown),
        cmocka_unit_test_teardown(test_speaking_events, teardown),
        cmocka_unit_test_teardown(test_input_level, teardown),
        cmocka_unit_test_teardown(test_loudest_peer, teardown),
        cmocka_unit_test_teardown(test_capture_quiet, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
