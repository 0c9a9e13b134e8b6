/* SCHED_RESET_ON_FORK is Linux's own. */
#define _GNU_SOURCE
#include "audio_pulse.h"
#include "playbuf.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <pulse/pulseaudio.h>

#include "gvoip/error.h"
#include "reason.h"

#define MIN_BUFFER_MS 2
#define MAX_BUFFER_MS 200
/* Long enough for a loaded server, short enough that a dead one does not
 * look like a hung program. */
#define ANSWER_TIMEOUT_S 5
#define ZERO_FLOATS 1024
/* A lost device or server is looked for this often, and so is a device
 * asked for while the default stands in for it. */
#define RETRY_US 1000000u
/* A connection or stream the server has not finished opening by then is
 * given up and tried anew: a stopped server accepts the connection and
 * answers nothing. */
#define OPEN_TIMEOUT_US 3000000u
#define WATCH_TICK_MS 100
/* The sound server's own threads run at 5 (PulseAudio's realtime-priority,
 * PipeWire's data loop is higher): the thread that feeds it stays below. */
#define REALTIME_PRIORITY 4
/* A playback buffer that underran grows to at most this (one asked for
 * longer stays as it is): a machine that cannot keep 10 ms filled may well
 * keep 40, and a click every few seconds is worse than 30 ms more delay.
 * playbuf.h decides when it grows and when it goes back. */
#define GROW_MAX_MS 40

/* One direction: the stream in use and what was last learned about it.
 * The main thread alone writes s, pending and the rest (under the
 * mainloop's lock); the mainloop thread's callbacks read them, and write
 * the counters, grow and request_ms (after an underrun, and when a grown
 * buffer goes back). */
typedef struct direction {
    int capture;
    int wanted;           /* opened at all */
    int request_ms;       /* the buffer asked for */
    int grows;            /* request_ms follows grow, which underruns lengthen up to GROW_MAX_MS */
    playbuf grow;
    char chosen[256];     /* the device asked for; "" the server's default */
    pa_stream *s;         /* in use; NULL while lost */
    pa_stream *pending;   /* being opened, to take s's place */
    int pending_chosen;   /* pending is on the chosen device, not the default */
    uint64_t pending_since_us, retry_at_us;
    int fallback;         /* s is the default, standing in for the chosen device */
    int moved;            /* the server moved s to another device */
    int lost_error;       /* the PA_ERR_* s failed with */
    pa_sample_spec ss;
    size_t frame; /* bytes */
    uint64_t underruns, overruns;
    uint64_t grown, shortened; /* playback: changes of request_ms that grow made */
    double buffer_ms, latency_ms;
    char device[256];
} direction;

typedef struct seen_device {
    uint32_t index;
    int capture;
    char name[256];
} seen_device;

/* `gvoip devices --watch`: what the server was last known to have. */
typedef struct watcher {
    audio_pulse_device_fn fn;
    void *ctx;
    int change; /* what a device newly seen is: 0 at the start, then added */
    seen_device *seen;
    size_t count, room;
} watcher;

struct audio_pulse {
    pa_threaded_mainloop *ml;
    pa_context *ctx; /* NULL after the server was lost, until the next try */
    int ctx_was_ready;
    uint64_t ctx_since_us, ctx_retry_at_us;
    int timed_out;
    int started, paused;
    direction play, cap;
    audio_pulse_render_fn render;
    audio_pulse_capture_fn captured;
    audio_pulse_delivered_fn delivered;
    void *user;
    /* Set by the callbacks that change a state audio_pulse_service acts on. */
    atomic_int dirty;
    audio_events events;
    atomic_int realtime; /* the mainloop thread got real-time priority */
    pa_time_event *settle; /* when the grown playback buffer may go back; mainloop thread */

    /* audio_pulse_list and audio_pulse_watch only. */
    FILE *list_out;
    int listed, list_failed;
    watcher *watch;
};

/* Holes in a capture stream are delivered from here. */
static const float zeros[ZERO_FLOATS];


static const char *context_error(audio_pulse *a)
{
    return pa_strerror(pa_context_errno(a->ctx));
}

/* The direction whose stream in use s is; NULL for a stream being opened
 * or dropped. */
static direction *current(audio_pulse *a, pa_stream *s)
{
    if (s == a->play.s)
        return &a->play;
    return s == a->cap.s ? &a->cap : NULL;
}

static void poke(audio_pulse *a)
{
    atomic_store_explicit(&a->dirty, 1, memory_order_release);
    pa_threaded_mainloop_signal(a->ml, 0);
}

/* ---- Mainloop callbacks -------------------------------------------------- */

static void context_state_cb(pa_context *c, void *userdata)
{
    (void)c;
    poke(userdata);
}

static void stream_state_cb(pa_stream *s, void *userdata)
{
    audio_pulse *a = userdata;
    direction *d = current(a, s);
    if (d && !PA_STREAM_IS_GOOD(pa_stream_get_state(s)))
        d->lost_error = pa_context_errno(a->ctx);
    poke(a);
}

static void moved_cb(pa_stream *s, void *userdata)
{
    audio_pulse *a = userdata;
    direction *d = current(a, s);
    if (d) {
        d->moved = 1;
        poke(a);
    }
}

static void timeout_cb(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv,
                       void *userdata)
{
    (void)api;
    (void)e;
    (void)tv;
    audio_pulse *a = userdata;
    a->timed_out = 1;
    pa_threaded_mainloop_signal(a->ml, 0);
}

/* Renders straight into PulseAudio's memory, so nothing is allocated or
 * copied here. The server asks for whole frames; a short buffer from
 * pa_stream_begin_write only means another round. A corked stream is
 * asked for a buffer's worth at once: that, and whatever a stream not yet
 * (or no longer) in use asks for, is answered with silence, so the caller
 * is only rendered for once audio_pulse_start() was called, by one stream
 * at a time, and always on this thread. */
static void write_cb(pa_stream *s, size_t nbytes, void *userdata)
{
    audio_pulse *a = userdata;
    const size_t frame = a->play.frame;
    const int live = a->started && s == a->play.s;
    while (nbytes >= frame) {
        void *buf = NULL;
        size_t n = nbytes;
        if (pa_stream_begin_write(s, &buf, &n) < 0 || !buf)
            return; /* the stream is failing; its state callback says so */
        n -= n % frame;
        if (n == 0) {
            pa_stream_cancel_write(s);
            return;
        }
        if (live)
            a->render(a->user, buf, n / frame);
        else
            memset(buf, 0, n);
        if (pa_stream_write(s, buf, n, NULL, 0, PA_SEEK_RELATIVE) < 0)
            return;
        nbytes -= n;
    }
}

static void capture_silence(audio_pulse *a, size_t frames)
{
    const size_t chunk = ZERO_FLOATS / (size_t)a->cap.ss.channels;
    while (frames > 0) {
        size_t n = frames < chunk ? frames : chunk;
        a->captured(a->user, zeros, n);
        frames -= n;
    }
}

/* Fragments are frame-aligned (the server and the client's queue only
 * hold whole frames), so each one is delivered as it comes. */
static void read_cb(pa_stream *s, size_t nbytes, void *userdata)
{
    (void)nbytes;
    audio_pulse *a = userdata;
    const int live = a->started && s == a->cap.s;
    const void *data;
    size_t n;
    int got = 0;
    while (pa_stream_peek(s, &data, &n) == 0 && n > 0) {
        if (live) {
            if (data)
                a->captured(a->user, data, n / a->cap.frame);
            else
                capture_silence(a, n / a->cap.frame);
            got = 1;
        }
        if (pa_stream_drop(s) < 0)
            break;
    }
    if (got && a->delivered)
        a->delivered(a->user);
}

static pa_buffer_attr buffer_request(const pa_sample_spec *ss, int capture, int buffer_ms);

/* Asks the server for a playback buffer of d->request_ms (the stream's
 * latency follows, which the playout and the echo reference read back). */
static void ask_buffer(direction *d, pa_stream *s)
{
    const pa_buffer_attr attr = buffer_request(&d->ss, d->capture, d->request_ms);
    pa_operation *op = pa_stream_set_buffer_attr(s, &attr, NULL, NULL);
    if (op)
        pa_operation_unref(op);
}

static void settle_cb(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv, void *userdata);

/* Wakes settle_cb when the playback buffer may next go back a step.
 * Without a server (lost, not back yet) it cannot: adopt() arms it again
 * when a stream is back. */
static void arm_settle(audio_pulse *a)
{
    const uint64_t due = playbuf_due_us(&a->play.grow);
    if (!due || !a->ctx)
        return;
    if (a->settle)
        pa_context_rttime_restart(a->ctx, a->settle, due);
    else
        a->settle = pa_context_rttime_new(a->ctx, due, settle_cb, a);
}

static void settle_cb(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv, void *userdata)
{
    (void)api;
    (void)e;
    (void)tv;
    audio_pulse *a = userdata;
    direction *d = &a->play;
    if (playbuf_settle(&d->grow, pa_rtclock_now())) {
        d->shortened++;
        d->request_ms = d->grow.ms;
        if (d->s)
            ask_buffer(d, d->s);
    }
    arm_settle(a);
}

static void underflow_cb(pa_stream *s, void *userdata)
{
    audio_pulse *a = userdata;
    direction *d = current(a, s);
    if (!d)
        return;
    d->underruns++;
    if (!d->grows)
        return;
    if (playbuf_underrun(&d->grow, pa_rtclock_now())) {
        d->grown++;
        d->request_ms = d->grow.ms;
        ask_buffer(d, s);
    }
    arm_settle(a);
}

static void overflow_cb(pa_stream *s, void *userdata)
{
    direction *d = current(userdata, s);
    if (d)
        d->overruns++;
}

/* Called as each timing update arrives (automatic ones at most 1.5 s
 * apart, more often around starts and moves): before anything else was
 * written or read, so the latency computed now is measured, not
 * extrapolated. */
static void latency_cb(pa_stream *s, void *userdata)
{
    direction *d = current(userdata, s);
    pa_usec_t usec;
    int negative;
    if (d && pa_stream_get_latency(s, &usec, &negative) == 0)
        d->latency_ms = (negative ? -1.0 : 1.0) * (double)usec / 1000.0;
}

/* ---- Waiting for the server ---------------------------------------------- */

/* > 0 done, < 0 failed, 0 not yet. */
typedef int (*check_fn)(audio_pulse *a, void *arg);

/* With the lock held: waits until check says done or failed, or the
 * timeout. Returns 0, GV_EIO when it failed or GV_ETIMEOUT. */
static int wait_until(audio_pulse *a, check_fn check, void *arg)
{
    a->timed_out = 0;
    pa_time_event *t = pa_context_rttime_new(
        a->ctx, pa_rtclock_now() + (pa_usec_t)ANSWER_TIMEOUT_S * PA_USEC_PER_SEC, timeout_cb, a);
    if (!t)
        return GV_ENOMEM;
    int err = GV_OK, state;
    while ((state = check(a, arg)) == 0) {
        if (a->timed_out) {
            err = GV_ETIMEOUT;
            break;
        }
        pa_threaded_mainloop_wait(a->ml);
    }
    if (state < 0)
        err = GV_EIO;
    pa_threaded_mainloop_get_api(a->ml)->time_free(t);
    return err;
}

static int context_check(audio_pulse *a, void *arg)
{
    (void)arg;
    pa_context_state_t st = pa_context_get_state(a->ctx);
    if (st == PA_CONTEXT_READY)
        return 1;
    return PA_CONTEXT_IS_GOOD(st) ? 0 : -1;
}

static int stream_check(audio_pulse *a, void *arg)
{
    pa_stream_state_t st = pa_stream_get_state(arg);
    if (st == PA_STREAM_READY)
        return 1;
    return PA_STREAM_IS_GOOD(st) && context_check(a, NULL) >= 0 ? 0 : -1;
}

static int operation_check(audio_pulse *a, void *arg)
{
    if (pa_operation_get_state(arg) != PA_OPERATION_RUNNING)
        return 1;
    return context_check(a, NULL) >= 0 ? 0 : -1;
}

/* ---- Opening ------------------------------------------------------------- */

/* With the lock held: a new context, connecting. Returns 0 or GV_ENOMEM,
 * GV_EIO. */
static int new_context(audio_pulse *a)
{
    a->ctx_was_ready = 0;
    a->ctx = pa_context_new(pa_threaded_mainloop_get_api(a->ml), "gvoip");
    if (!a->ctx)
        return GV_ENOMEM;
    pa_context_set_state_callback(a->ctx, context_state_cb, a);
    return pa_context_connect(a->ctx, NULL, PA_CONTEXT_NOFLAGS, NULL) < 0 ? GV_EIO : GV_OK;
}

static void drop_context(audio_pulse *a)
{
    if (!a->ctx)
        return;
    pa_context_set_state_callback(a->ctx, NULL, NULL);
    pa_context_set_subscribe_callback(a->ctx, NULL, NULL);
    pa_context_disconnect(a->ctx);
    pa_context_unref(a->ctx);
    a->ctx = NULL;
}

/* Runs on the mainloop thread before the streams open. Its callbacks must
 * answer the server's requests within a few milliseconds, or the device
 * underruns: on a loaded machine an ordinary thread waits longer than that
 * now and then.
 * Real-time priority where the system grants it (root, or RLIMIT_RTPRIO as
 * the audio group has); an ordinary thread otherwise, as before. RR, so
 * that a callback that ran away cannot hold a core forever beside the
 * kernel's real-time throttling; reset on fork, so that nothing started
 * from here inherits it. */
static void raise_priority(pa_threaded_mainloop *ml, void *userdata)
{
    (void)ml;
    audio_pulse *a = userdata;
    struct sched_param p = {.sched_priority = REALTIME_PRIORITY};
    struct rlimit rl;
    int ok = sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &p) == 0;
    if (!ok && getrlimit(RLIMIT_RTPRIO, &rl) == 0 && rl.rlim_cur >= 1 && rl.rlim_cur < REALTIME_PRIORITY) {
        p.sched_priority = (int)rl.rlim_cur;
        ok = sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &p) == 0;
    }
    atomic_store(&a->realtime, ok);
}

static int connect_server(audio_pulse *a, char *why, size_t why_len)
{
    a->ml = pa_threaded_mainloop_new();
    if (!a->ml) {
        reason_set(why, why_len, "out of memory");
        return GV_ENOMEM;
    }
    pa_threaded_mainloop_set_name(a->ml, "gvoip-pulse");
    if (pa_threaded_mainloop_start(a->ml) < 0) {
        reason_set(why, why_len, "cannot start the PulseAudio mainloop thread");
        return GV_EIO;
    }

    pa_threaded_mainloop_lock(a->ml);
    int err = new_context(a);
    if (err == GV_OK)
        err = wait_until(a, context_check, NULL);
    if (err == GV_ETIMEOUT) {
        reason_set(why, why_len, "the PulseAudio server did not answer within %d s", ANSWER_TIMEOUT_S);
        err = GV_EIO;
    } else if (err == GV_ENOMEM) {
        reason_set(why, why_len, "out of memory");
    } else if (err) {
        reason_set(why, why_len,
            "cannot connect to the PulseAudio server: %s (is it, or pipewire-pulse, running? "
            "PULSE_SERVER selects another one)",
            context_error(a));
    }
    a->ctx_was_ready = err == GV_OK;
    pa_threaded_mainloop_unlock(a->ml);
    return err;
}

/* The buffer attributes asked for. With PA_STREAM_ADJUST_LATENCY, tlength
 * is the overall playback latency: the server sets the device to part of
 * it and grants the stream's own queue the rest. fragsize is the capture
 * latency the source is set up for. */
static pa_buffer_attr buffer_request(const pa_sample_spec *ss, int capture, int buffer_ms)
{
    const uint32_t frame = (uint32_t)pa_frame_size(ss);
    const uint32_t frames = ss->rate * (uint32_t)buffer_ms / 1000;
    pa_buffer_attr attr;
    attr.maxlength = (uint32_t)-1;
    attr.tlength = (uint32_t)-1;
    attr.prebuf = (uint32_t)-1;
    attr.minreq = (uint32_t)-1;
    attr.fragsize = (uint32_t)-1;
    if (capture) {
        attr.fragsize = frames * frame;
        return attr;
    }
    attr.tlength = frames * frame;
    /* A quarter: the server asks again once that much has played (2.5 ms,
     * one mixing block, at the default 10 ms), so a request answered a few
     * milliseconds late still finds three quarters of the buffer to play.
     * With a half, one that came 5 ms late (the server's or this thread's
     * scheduling on a busy machine, logged) found it empty, and each
     * underrun grows the buffer and moves every later word (docs/devices.md
     * has the runs before and after). The extra requests cost PulseAudio's
     * own player 0.15-0.4 points of a core here (BENCHMARKS.md, the device
     * path's CPU), less than a client's figure moves between runs. */
    attr.minreq = (frames / 4 > 0 ? frames / 4 : 1) * frame;
    /* Every request is at least minreq, so the first one answered starts
     * playback, and after an underrun the next one restarts it. */
    attr.prebuf = attr.minreq;
    return attr;
}

static void note_granted(direction *d)
{
    const pa_buffer_attr *ba = pa_stream_get_buffer_attr(d->s);
    if (ba)
        d->buffer_ms =
            (double)pa_bytes_to_usec(d->capture ? ba->fragsize : ba->tlength, &d->ss) / 1000.0;
    const char *name = pa_stream_get_device_name(d->s);
    if (name)
        snprintf(d->device, sizeof(d->device), "%s", name);
    d->fallback = d->chosen[0] && strcmp(d->device, d->chosen) != 0;
}

static void drop_stream(pa_stream *s)
{
    if (!s)
        return;
    /* Disconnecting ends the stream on our side at once: not a failure. */
    pa_stream_set_state_callback(s, NULL, NULL);
    pa_stream_set_moved_callback(s, NULL, NULL);
    pa_stream_disconnect(s);
    pa_stream_unref(s);
}

/* With the lock held: a new stream of d's direction, corked, connecting
 * to device (NULL: the server's default). A device asked for by name is
 * one the server must not move the stream off: when it goes, the stream
 * dies, and audio_pulse_service decides where to go and when to return.
 * Returns 0 with *out, or GV_EIO. */
static int connect_stream(audio_pulse *a, direction *d, const char *device, pa_stream **out)
{
    /* Extended, so any channel count gets a map (1: mono, 2: front left and right). */
    pa_channel_map map;
    pa_channel_map_init_extend(&map, d->ss.channels, PA_CHANNEL_MAP_DEFAULT);
    pa_stream *s = pa_stream_new(a->ctx, d->capture ? "voice capture" : "voice playback", &d->ss, &map);
    if (!s)
        return GV_EIO;
    pa_stream_set_state_callback(s, stream_state_cb, a);
    pa_stream_set_moved_callback(s, moved_cb, a);
    pa_stream_set_latency_update_callback(s, latency_cb, a);
    pa_stream_set_overflow_callback(s, overflow_cb, a);
    if (d->capture) {
        pa_stream_set_read_callback(s, read_cb, a);
    } else {
        pa_stream_set_write_callback(s, write_cb, a);
        pa_stream_set_underflow_callback(s, underflow_cb, a);
    }
    const pa_buffer_attr attr = buffer_request(&d->ss, d->capture, d->request_ms);
    /* No PA_STREAM_INTERPOLATE_TIMING: its smoother extrapolates from the
     * last seconds of history, and after a jump (the stream moved to
     * another device, a sink that ran ahead while idle) it reported
     * latencies off by up to 1.5 s for over 5 s. latency_cb reads
     * each measurement as it arrives instead. */
    pa_stream_flags_t flags = PA_STREAM_START_CORKED | PA_STREAM_ADJUST_LATENCY | PA_STREAM_AUTO_TIMING_UPDATE;
    if (device)
        flags |= PA_STREAM_DONT_MOVE;
    int rc = d->capture ? pa_stream_connect_record(s, device, &attr, flags)
                        : pa_stream_connect_playback(s, device, &attr, flags, NULL, NULL);
    if (rc < 0) {
        drop_stream(s);
        return GV_EIO;
    }
    *out = s;
    return GV_OK;
}

static int open_stream(audio_pulse *a, direction *d, char *why, size_t why_len)
{
    const char *kind = d->capture ? "capture" : "playback";
    const char *device = d->chosen[0] ? d->chosen : NULL;
    pa_threaded_mainloop_lock(a->ml);
    int err = connect_stream(a, d, device, &d->s);
    if (err == GV_OK)
        err = wait_until(a, stream_check, d->s);
    if (err == GV_OK) {
        note_granted(d);
    } else if (err == GV_ENOMEM) {
        reason_set(why, why_len, "out of memory");
    } else if (err == GV_ETIMEOUT) {
        reason_set(why, why_len, "the PulseAudio server did not open the %s stream within %d s", kind,
            ANSWER_TIMEOUT_S);
        err = GV_EIO;
    } else if (device && pa_context_errno(a->ctx) == PA_ERR_NOENTITY) {
        reason_set(why, why_len, "no PulseAudio %s named \"%s\" (`gvoip devices` lists them)",
            d->capture ? "source" : "sink", device);
        err = GV_ENOTFOUND;
    } else {
        reason_set(why, why_len, "cannot open the PulseAudio %s stream: %s", kind, context_error(a));
    }
    pa_threaded_mainloop_unlock(a->ml);
    return err;
}

static int validate(const audio_pulse_config *cfg, char *why, size_t why_len)
{
    if (!cfg->capture && !cfg->playback) {
        reason_set(why, why_len, "neither capture nor playback asked for");
        return GV_EINVAL;
    }
    if (cfg->buffer_ms < MIN_BUFFER_MS || cfg->buffer_ms > MAX_BUFFER_MS || cfg->capture_ms < MIN_BUFFER_MS ||
        cfg->capture_ms > MAX_BUFFER_MS) {
        reason_set(why, why_len, "an audio buffer of %d ms (capture %d ms); %d..%d ms are supported", cfg->buffer_ms,
            cfg->capture_ms, MIN_BUFFER_MS, MAX_BUFFER_MS);
        return GV_EINVAL;
    }
    if (cfg->rate <= 0 || (unsigned)cfg->rate > PA_RATE_MAX) {
        reason_set(why, why_len, "an audio rate of %d Hz; 1..%u Hz are supported", cfg->rate, PA_RATE_MAX);
        return GV_EINVAL;
    }
    const int cap_bad = cfg->capture && (cfg->capture_channels < 1 ||
                                         (unsigned)cfg->capture_channels > PA_CHANNELS_MAX);
    const int play_bad = cfg->playback && (cfg->playback_channels < 1 ||
                                           (unsigned)cfg->playback_channels > PA_CHANNELS_MAX);
    if (cap_bad || play_bad) {
        reason_set(why, why_len, "%d %s channels; 1..%u are supported",
            cap_bad ? cfg->capture_channels : cfg->playback_channels,
            cap_bad ? "capture" : "playback", PA_CHANNELS_MAX);
        return GV_EINVAL;
    }
    if ((cfg->playback && !cfg->render) || (cfg->capture && !cfg->captured)) {
        reason_set(why, why_len, "no audio callback for %s",
            cfg->playback && !cfg->render ? "playback" : "capture");
        return GV_EINVAL;
    }
    const char *names[2] = {cfg->capture_device, cfg->playback_device};
    for (int i = 0; i < 2; i++) {
        if (names[i] && strlen(names[i]) >= sizeof(((direction *)0)->chosen)) {
            reason_set(why, why_len, "a device name of more than 255 bytes (%.40s...)", names[i]);
            return GV_EINVAL;
        }
    }
    return GV_OK;
}

static void setup_direction(direction *d, int capture, int wanted, const char *device, int rate, int channels,
                            int request_ms)
{
    d->capture = capture;
    d->wanted = wanted;
    d->request_ms = request_ms;
    snprintf(d->chosen, sizeof(d->chosen), "%s", device ? device : "");
    d->ss.format = PA_SAMPLE_FLOAT32NE;
    d->ss.rate = (uint32_t)rate;
    d->ss.channels = (uint8_t)channels;
    d->frame = pa_frame_size(&d->ss);
}

int audio_pulse_open(const audio_pulse_config *cfg, audio_pulse **out, char *why, size_t why_len)
{
    reason_set(why, why_len, "%s", "");
    if (!out) {
        reason_set(why, why_len, "no place for the handle");
        return GV_EINVAL;
    }
    *out = NULL;
    if (!cfg) {
        reason_set(why, why_len, "no audio configuration");
        return GV_EINVAL;
    }
    int err = validate(cfg, why, why_len);
    if (err)
        return err;

    audio_pulse *a = calloc(1, sizeof(*a));
    if (!a) {
        reason_set(why, why_len, "out of memory");
        return GV_ENOMEM;
    }
    atomic_init(&a->dirty, 0);
    atomic_init(&a->realtime, 0);
    a->render = cfg->render;
    a->captured = cfg->captured;
    a->delivered = cfg->delivered;
    a->user = cfg->ctx;
    setup_direction(&a->play, 0, cfg->playback, cfg->playback_device, cfg->rate, cfg->playback_channels,
                    cfg->buffer_ms);
    a->play.grows = cfg->buffer_grows;
    playbuf_init(&a->play.grow, cfg->buffer_ms, GROW_MAX_MS);
    setup_direction(&a->cap, 1, cfg->capture, cfg->capture_device, cfg->rate, cfg->capture_channels,
                    cfg->capture_ms);
    err = connect_server(a, why, why_len);
    if (!err) {
        /* It queues the call on the mainloop, which the lock guards. */
        pa_threaded_mainloop_lock(a->ml);
        pa_threaded_mainloop_once_unlocked(a->ml, raise_priority, a);
        pa_threaded_mainloop_unlock(a->ml);
    }
    if (!err && cfg->playback)
        err = open_stream(a, &a->play, why, why_len);
    if (!err && cfg->capture)
        err = open_stream(a, &a->cap, why, why_len);
    if (err) {
        audio_pulse_close(a);
        return err;
    }
    *out = a;
    return GV_OK;
}

/* ---- Running ------------------------------------------------------------- */

/* With the lock held. A failure means the connection is failing, which
 * audio_pulse_service sees for itself. */
static void cork(pa_stream *s, int corked)
{
    pa_operation *op = pa_stream_cork(s, corked, NULL, NULL);
    if (op)
        pa_operation_unref(op);
}

int audio_pulse_pause_playback(audio_pulse *a, int paused)
{
    if (!a || !a->play.wanted)
        return GV_EINVAL;
    pa_threaded_mainloop_lock(a->ml);
    if (a->play.s && a->paused && !paused) {
        /* What the stream had queued when it paused is the quiet of
         * seconds ago; played first, it would put the voice that woke it
         * that much later. */
        pa_operation *op = pa_stream_flush(a->play.s, NULL, NULL);
        if (op)
            pa_operation_unref(op);
    }
    a->paused = paused != 0;
    if (a->play.s)
        cork(a->play.s, a->paused);
    pa_threaded_mainloop_unlock(a->ml);
    return GV_OK;
}

int audio_pulse_start(audio_pulse *a)
{
    if (!a)
        return GV_EINVAL;
    pa_threaded_mainloop_lock(a->ml);
    int err = GV_ESTATE;
    if (!a->started) {
        a->started = 1;
        if (a->cap.s)
            cork(a->cap.s, 0);
        if (a->play.s)
            cork(a->play.s, 0);
        err = GV_OK;
    }
    pa_threaded_mainloop_unlock(a->ml);
    return err;
}

int audio_pulse_info_get(audio_pulse *a, int capture, audio_pulse_info *out)
{
    if (!a || !out)
        return GV_EINVAL;
    direction *d = capture ? &a->cap : &a->play;
    if (!d->wanted)
        return GV_ENOTFOUND;
    pa_threaded_mainloop_lock(a->ml);
    if (d->s)
        note_granted(d);
    out->rate = (int)d->ss.rate;
    out->channels = d->ss.channels;
    out->buffer_ms = d->buffer_ms;
    out->latency_ms = d->latency_ms;
    out->underruns = d->underruns;
    out->overruns = d->overruns;
    out->grown = d->grown;
    out->shortened = d->shortened;
    out->realtime = atomic_load(&a->realtime);
    memcpy(out->device, d->device, sizeof(out->device));
    pa_threaded_mainloop_unlock(a->ml);
    return GV_OK;
}

/* ---- Keeping the devices ------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void report(audio_pulse *a, const direction *d, int lost, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    audio_events_push(&a->events, d->capture, lost, !lost && d->fallback, d->device, fmt, ap);
    va_end(ap);
}

static void open_pending(audio_pulse *a, direction *d, int chosen, uint64_t now)
{
    d->pending_chosen = chosen;
    d->pending_since_us = now;
    if (connect_stream(a, d, chosen ? d->chosen : NULL, &d->pending) != GV_OK) {
        d->pending = NULL;
        d->retry_at_us = now + RETRY_US;
    }
}

/* The pending stream is ready: it replaces the one in use, if any (the
 * default that stood in for the chosen device). */
static void adopt(audio_pulse *a, direction *d)
{
    pa_stream *old = d->s;
    d->s = d->pending;
    d->pending = NULL;
    drop_stream(old);
    d->moved = 0;
    d->latency_ms = 0.0;
    note_granted(d);
    if (a->started && !(d == &a->play && a->paused))
        cork(d->s, 0);
    /* The server was lost while the buffer waited to go back: wait anew. */
    if (d == &a->play && d->grows)
        arm_settle(a);
    report(a, d, 0, "%s", "");
}

static void lost_stream(audio_pulse *a, direction *d, uint64_t now)
{
    const char *kind = d->capture ? "source" : "sink";
    if (d->lost_error == PA_ERR_KILLED)
        report(a, d, 1, "the PulseAudio %s went away (unplugged or unloaded)", kind);
    else
        report(a, d, 1, "the PulseAudio %s stream stopped: %s", d->capture ? "capture" : "playback",
               pa_strerror(d->lost_error));
    drop_stream(d->s);
    d->s = NULL;
    d->retry_at_us = now;
}

static void keep_direction(audio_pulse *a, direction *d, uint64_t now)
{
    if (d->s && !PA_STREAM_IS_GOOD(pa_stream_get_state(d->s)))
        lost_stream(a, d, now);
    if (d->s && d->moved) {
        d->moved = 0;
        note_granted(d);
        report(a, d, 0, "%s", "");
    }
    if (d->pending) {
        pa_stream_state_t st = pa_stream_get_state(d->pending);
        if (st == PA_STREAM_READY) {
            adopt(a, d);
        } else if (!PA_STREAM_IS_GOOD(st) || now - d->pending_since_us > OPEN_TIMEOUT_US) {
            int was_chosen = d->pending_chosen;
            drop_stream(d->pending);
            d->pending = NULL;
            /* The chosen device is not there: with nothing in use, the
             * default at once. */
            if (was_chosen && !d->s)
                open_pending(a, d, 0, now);
            else
                d->retry_at_us = now + RETRY_US;
        }
        return;
    }
    if (now < d->retry_at_us || (d->s && !d->fallback))
        return;
    d->retry_at_us = now + RETRY_US;
    open_pending(a, d, d->chosen[0] != 0, now);
}

/* With the lock held: notices what went wrong since the last look and
 * starts what puts it right. */
static void keep(audio_pulse *a, uint64_t now)
{
    direction *dirs[2] = {&a->play, &a->cap};
    if (a->ctx && !PA_CONTEXT_IS_GOOD(pa_context_get_state(a->ctx))) {
        for (int i = 0; i < 2; i++) {
            direction *d = dirs[i];
            if (d->s)
                report(a, d, 1, "lost the PulseAudio server: %s", context_error(a));
            drop_stream(d->s);
            drop_stream(d->pending);
            d->s = d->pending = NULL;
            d->retry_at_us = now;
        }
        /* A server that was there may be back already (restarted);
         * one that never answered is given a second. */
        a->ctx_retry_at_us = a->ctx_was_ready ? now : now + RETRY_US;
        drop_context(a);
    }
    if (!a->ctx) {
        if (now < a->ctx_retry_at_us)
            return;
        a->ctx_since_us = now;
        if (new_context(a) != GV_OK) {
            drop_context(a);
            a->ctx_retry_at_us = now + RETRY_US;
        }
        return;
    }
    if (pa_context_get_state(a->ctx) != PA_CONTEXT_READY) {
        if (now - a->ctx_since_us > OPEN_TIMEOUT_US) {
            drop_context(a);
            a->ctx_retry_at_us = now + RETRY_US;
        }
        return;
    }
    a->ctx_was_ready = 1;
    for (int i = 0; i < 2; i++)
        if (dirs[i]->wanted)
            keep_direction(a, dirs[i], now);
}

/* Without the lock: only the main thread changes what this reads. */
static int amiss(const direction *d)
{
    return d->wanted && (!d->s || d->pending || d->fallback);
}

int audio_pulse_service(audio_pulse *a, audio_event *ev)
{
    if (!a || !ev)
        return 0;
    if (a->events.count == 0 &&
        (atomic_exchange_explicit(&a->dirty, 0, memory_order_acq_rel) || !a->ctx || amiss(&a->play) ||
         amiss(&a->cap))) {
        pa_threaded_mainloop_lock(a->ml);
        keep(a, pa_rtclock_now());
        pa_threaded_mainloop_unlock(a->ml);
    }
    return audio_events_pop(&a->events, ev);
}

void audio_pulse_close(audio_pulse *a)
{
    if (!a)
        return;
    /* With the thread gone no callback can run, so nothing below needs
     * the lock, and nothing waits for the server: a dead one cannot hang
     * us. */
    if (a->ml)
        pa_threaded_mainloop_stop(a->ml);
    drop_stream(a->play.s);
    drop_stream(a->play.pending);
    drop_stream(a->cap.s);
    drop_stream(a->cap.pending);
    drop_context(a);
    if (a->settle)
        pa_threaded_mainloop_get_api(a->ml)->time_free(a->settle);
    if (a->ml)
        pa_threaded_mainloop_free(a->ml);
    free(a);
}

/* ---- Listing ------------------------------------------------------------- */

static void list_line(audio_pulse *a, const char *name, const char *description,
                      const pa_sample_spec *ss)
{
    fprintf(a->list_out, "  %s (%s) %u Hz %u ch\n", name, description ? description : "",
            ss->rate, ss->channels);
    a->listed++;
}

static void sink_cb(pa_context *c, const pa_sink_info *i, int eol, void *userdata)
{
    (void)c;
    audio_pulse *a = userdata;
    if (eol < 0)
        a->list_failed = 1;
    if (eol)
        pa_threaded_mainloop_signal(a->ml, 0);
    else
        list_line(a, i->name, i->description, &i->sample_spec);
}

static void source_cb(pa_context *c, const pa_source_info *i, int eol, void *userdata)
{
    (void)c;
    audio_pulse *a = userdata;
    if (eol < 0)
        a->list_failed = 1;
    if (eol)
        pa_threaded_mainloop_signal(a->ml, 0);
    else
        list_line(a, i->name, i->description, &i->sample_spec);
}

/* With the lock held: prints one kind under its header, or why not. */
static int list_kind(audio_pulse *a, int sources)
{
    const char *kind = sources ? "sources" : "sinks";
    fprintf(a->list_out, "%s:\n", sources ? "sources (capture)" : "sinks (playback)");
    const int before = a->listed;
    pa_operation *op = sources ? pa_context_get_source_info_list(a->ctx, source_cb, a)
                               : pa_context_get_sink_info_list(a->ctx, sink_cb, a);
    if (!op) {
        fprintf(a->list_out, "cannot ask the PulseAudio server for its %s: %s\n", kind,
                context_error(a));
        return GV_EIO;
    }
    int err = wait_until(a, operation_check, op);
    pa_operation_unref(op);
    if (err == GV_ETIMEOUT) {
        fprintf(a->list_out, "the PulseAudio server did not list its %s within %d s\n", kind,
                ANSWER_TIMEOUT_S);
        return GV_EIO;
    }
    if (err == GV_EIO || a->list_failed) {
        fprintf(a->list_out, "the PulseAudio server did not list its %s: %s\n", kind, context_error(a));
        return GV_EIO;
    }
    if (err)
        return err;
    if (a->listed == before)
        fprintf(a->list_out, "  (none)\n");
    return GV_OK;
}

int audio_pulse_list(FILE *out)
{
    if (!out)
        return GV_EINVAL;
    audio_pulse *a = calloc(1, sizeof(*a));
    if (!a) {
        fprintf(out, "out of memory\n");
        return GV_ENOMEM;
    }
    a->list_out = out;
    char why[256];
    int err = connect_server(a, why, sizeof(why));
    if (err) {
        fprintf(out, "%s\n", why);
    } else {
        pa_threaded_mainloop_lock(a->ml);
        const char *server = pa_context_get_server(a->ctx);
        fprintf(out, "PulseAudio server: %s\n", server ? server : "(unnamed)");
        err = list_kind(a, 0);
        if (!err)
            err = list_kind(a, 1);
        if (!err && a->listed == 0)
            err = GV_ENOTFOUND;
        pa_threaded_mainloop_unlock(a->ml);
    }
    audio_pulse_close(a);
    return err;
}

/* ---- Watching ------------------------------------------------------------ */

static seen_device *find_seen(watcher *w, int capture, uint32_t index)
{
    for (size_t i = 0; i < w->count; i++)
        if (w->seen[i].capture == capture && w->seen[i].index == index)
            return &w->seen[i];
    return NULL;
}

/* A device the server has: reported unless already known (the listing
 * and a subscription event may both bring it). */
static void saw(audio_pulse *a, int capture, uint32_t index, const char *name)
{
    watcher *w = a->watch;
    if (find_seen(w, capture, index))
        return;
    if (w->count == w->room) {
        size_t room = w->room ? 2 * w->room : 16;
        seen_device *grown = realloc(w->seen, room * sizeof *grown);
        if (!grown)
            return;
        w->seen = grown;
        w->room = room;
    }
    seen_device *s = &w->seen[w->count++];
    s->capture = capture;
    s->index = index;
    snprintf(s->name, sizeof s->name, "%s", name);
    w->fn(w->ctx, w->change, capture, name);
}

static void gone(watcher *w, seen_device *s)
{
    w->fn(w->ctx, -1, s->capture, s->name);
    *s = w->seen[--w->count];
}

/* A device gone before its question was answered (eol < 0) is simply
 * not reported; a server gone is seen by the waiting. */
static void seen_sink_cb(pa_context *c, const pa_sink_info *i, int eol, void *userdata)
{
    (void)c;
    audio_pulse *a = userdata;
    if (eol)
        pa_threaded_mainloop_signal(a->ml, 0);
    else
        saw(a, 0, i->index, i->name);
}

static void seen_source_cb(pa_context *c, const pa_source_info *i, int eol, void *userdata)
{
    (void)c;
    audio_pulse *a = userdata;
    if (eol)
        pa_threaded_mainloop_signal(a->ml, 0);
    else
        saw(a, 1, i->index, i->name);
}

static void subscribe_cb(pa_context *c, pa_subscription_event_type_t t, uint32_t index, void *userdata)
{
    audio_pulse *a = userdata;
    const pa_subscription_event_type_t facility = t & PA_SUBSCRIPTION_EVENT_FACILITY_MASK;
    const pa_subscription_event_type_t type = t & PA_SUBSCRIPTION_EVENT_TYPE_MASK;
    const int capture = facility == PA_SUBSCRIPTION_EVENT_SOURCE;
    if (facility != PA_SUBSCRIPTION_EVENT_SINK && !capture)
        return;
    if (type == PA_SUBSCRIPTION_EVENT_REMOVE) {
        seen_device *s = find_seen(a->watch, capture, index);
        if (s)
            gone(a->watch, s);
        return;
    }
    if (type != PA_SUBSCRIPTION_EVENT_NEW)
        return;
    pa_operation *op = capture ? pa_context_get_source_info_by_index(c, index, seen_source_cb, a)
                               : pa_context_get_sink_info_by_index(c, index, seen_sink_cb, a);
    if (op)
        pa_operation_unref(op);
}

/* With the lock held: subscribes, then lists what is there (so nothing
 * added in between is missed). */
static int watch_server(audio_pulse *a)
{
    pa_context_set_subscribe_callback(a->ctx, subscribe_cb, a);
    pa_operation *ops[3] = {
        pa_context_subscribe(a->ctx, PA_SUBSCRIPTION_MASK_SINK | PA_SUBSCRIPTION_MASK_SOURCE, NULL, NULL),
        pa_context_get_sink_info_list(a->ctx, seen_sink_cb, a),
        pa_context_get_source_info_list(a->ctx, seen_source_cb, a),
    };
    int err = GV_OK;
    for (int i = 0; i < 3; i++) {
        if (!ops[i]) {
            err = GV_EIO;
            continue;
        }
        if (!err)
            err = wait_until(a, operation_check, ops[i]);
        pa_operation_unref(ops[i]);
    }
    return err;
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Until *stop, or the server goes away (then 1). */
static int watch_until_lost(audio_pulse *a, const volatile sig_atomic_t *stop)
{
    while (!*stop) {
        nap_ms(WATCH_TICK_MS);
        pa_threaded_mainloop_lock(a->ml);
        int alive = context_check(a, NULL) > 0;
        pa_threaded_mainloop_unlock(a->ml);
        if (!alive)
            return 1;
    }
    return 0;
}

int audio_pulse_watch(int watch, audio_pulse_device_fn fn, void *ctx, const volatile sig_atomic_t *stop, char *why,
                      size_t why_len)
{
    reason_set(why, why_len, "%s", "");
    if (!fn || !stop)
        return GV_EINVAL;
    watcher w = {.fn = fn, .ctx = ctx};
    int err = GV_OK;
    for (int first = 1; !*stop; first = 0) {
        audio_pulse *a = calloc(1, sizeof(*a));
        if (!a) {
            err = GV_ENOMEM;
            break;
        }
        a->watch = &w;
        char later[256];
        err = connect_server(a, first ? why : later, first ? why_len : sizeof later);
        if (!err) {
            pa_threaded_mainloop_lock(a->ml);
            err = watch_server(a);
            if (err == GV_ETIMEOUT && first)
                reason_set(why, why_len, "the PulseAudio server did not list its devices within %d s", ANSWER_TIMEOUT_S);
            else if (err && first)
                reason_set(why, why_len, "the PulseAudio server did not list its devices: %s", context_error(a));
            if (err == GV_ETIMEOUT)
                err = GV_EIO;
            pa_threaded_mainloop_unlock(a->ml);
        }
        w.change = 1;
        if (!watch || (err && first)) {
            if (!err && w.count == 0) {
                reason_set(why, why_len, "the PulseAudio server has no sink and no source");
                err = GV_ENOTFOUND;
            }
            audio_pulse_close(a);
            break;
        }
        /* A later server that cannot be reached is tried again. */
        int lost = err || watch_until_lost(a, stop);
        /* The mainloop thread is stopped by this, so the removals below
         * are reported from this thread alone. */
        audio_pulse_close(a);
        err = GV_OK;
        if (!lost)
            break;
        while (w.count > 0)
            gone(&w, &w.seen[w.count - 1]);
        for (unsigned t = 0; t < RETRY_US / 1000u / WATCH_TICK_MS && !*stop; t++)
            nap_ms(WATCH_TICK_MS);
    }
    free(w.seen);
    return err;
}
