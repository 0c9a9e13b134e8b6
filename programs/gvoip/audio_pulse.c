#include "audio_pulse.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <pulse/pulseaudio.h>

#include "gvoip/error.h"
#include "reason.h"

#define MIN_BUFFER_MS 2
#define MAX_BUFFER_MS 200
/* Long enough for a loaded server, short enough that a dead one does not
 * look like a hung program. */
#define ANSWER_TIMEOUT_S 5
#define ZERO_FLOATS 1024

/* One stream and what was last learned about it. */
typedef struct direction {
    pa_stream *s;
    pa_sample_spec ss;
    size_t frame; /* bytes */
    uint64_t underruns, overruns;
    double buffer_ms, latency_ms;
    char device[256];
} direction;

struct audio_pulse {
    pa_threaded_mainloop *ml;
    pa_context *ctx;
    int timed_out;
    int started;
    direction play, cap;
    audio_pulse_render_fn render;
    audio_pulse_capture_fn captured;
    void *user;

    /* audio_pulse_list only. */
    FILE *list_out;
    int listed, list_failed;

    /* Written once, on the mainloop thread or under its lock; why is
     * complete before failed is published, so readers need no lock. */
    atomic_int failed;
    char why[256];
};

/* Holes in a capture stream are delivered from here. */
static const float zeros[ZERO_FLOATS];


/* Called with the mainloop's lock held (or from its thread). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void fail(audio_pulse *a, const char *fmt, ...)
{
    if (!atomic_load_explicit(&a->failed, memory_order_relaxed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->why, sizeof(a->why), fmt, ap);
        va_end(ap);
        atomic_store_explicit(&a->failed, 1, memory_order_release);
    }
    pa_threaded_mainloop_signal(a->ml, 0);
}

static int has_failed(audio_pulse *a)
{
    return atomic_load_explicit(&a->failed, memory_order_acquire);
}

static const char *context_error(audio_pulse *a)
{
    return pa_strerror(pa_context_errno(a->ctx));
}

static const char *kind_of(audio_pulse *a, pa_stream *s)
{
    return s == a->play.s ? "playback" : "capture";
}

static direction *direction_of(audio_pulse *a, pa_stream *s)
{
    return s == a->play.s ? &a->play : &a->cap;
}

/* ---- Mainloop callbacks -------------------------------------------------- */

static void context_state_cb(pa_context *c, void *userdata)
{
    audio_pulse *a = userdata;
    switch (pa_context_get_state(c)) {
    case PA_CONTEXT_READY:
        pa_threaded_mainloop_signal(a->ml, 0);
        break;
    case PA_CONTEXT_FAILED:
    case PA_CONTEXT_TERMINATED:
        fail(a, "lost the PulseAudio server: %s", context_error(a));
        break;
    default:
        break;
    }
}

static void stream_state_cb(pa_stream *s, void *userdata)
{
    audio_pulse *a = userdata;
    switch (pa_stream_get_state(s)) {
    case PA_STREAM_READY:
        pa_threaded_mainloop_signal(a->ml, 0);
        break;
    case PA_STREAM_FAILED:
    case PA_STREAM_TERMINATED:
        /* The server moves a stream off a removed device when it has
         * another one; only without one is the stream killed. */
        if (pa_context_errno(a->ctx) == PA_ERR_KILLED)
            fail(a, "the PulseAudio %s device went away (unplugged or unloaded, and no other "
                    "device to move to)",
                 kind_of(a, s));
        else
            fail(a, "the PulseAudio %s stream stopped: %s", kind_of(a, s), context_error(a));
        break;
    default:
        break;
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
 * pa_stream_begin_write only means another round. The corked stream is
 * asked for a buffer's worth at once: that is answered with silence, so
 * the caller is only rendered for once audio_pulse_start() was called,
 * and always on this thread. */
static void write_cb(pa_stream *s, size_t nbytes, void *userdata)
{
    audio_pulse *a = userdata;
    const size_t frame = a->play.frame;
    while (nbytes >= frame) {
        void *buf = NULL;
        size_t n = nbytes;
        if (pa_stream_begin_write(s, &buf, &n) < 0 || !buf)
            return; /* the stream is failing; its state callback says why */
        n -= n % frame;
        if (n == 0) {
            pa_stream_cancel_write(s);
            return;
        }
        if (a->started)
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
    const void *data;
    size_t n;
    while (pa_stream_peek(s, &data, &n) == 0 && n > 0) {
        if (a->started) {
            if (data)
                a->captured(a->user, data, n / a->cap.frame);
            else
                capture_silence(a, n / a->cap.frame);
        }
        if (pa_stream_drop(s) < 0)
            return;
    }
}

static void underflow_cb(pa_stream *s, void *userdata)
{
    direction_of(userdata, s)->underruns++;
}

static void overflow_cb(pa_stream *s, void *userdata)
{
    direction_of(userdata, s)->overruns++;
}

/* Called as each timing update arrives (automatic ones at most 1.5 s
 * apart, more often around starts and moves): before anything else was
 * written or read, so the latency computed now is measured, not
 * extrapolated. */
static void latency_cb(pa_stream *s, void *userdata)
{
    direction *d = direction_of(userdata, s);
    pa_usec_t usec;
    int negative;
    if (pa_stream_get_latency(s, &usec, &negative) == 0)
        d->latency_ms = (negative ? -1.0 : 1.0) * (double)usec / 1000.0;
}

/* ---- Waiting for the server ---------------------------------------------- */

typedef int (*done_fn)(audio_pulse *a, void *arg);

/* With the lock held: waits until done, a failure or the timeout. Returns
 * 0, GV_EIO after a failure (a->why says which) or GV_ETIMEOUT. */
static int wait_until(audio_pulse *a, done_fn done, void *arg)
{
    a->timed_out = 0;
    pa_time_event *t = pa_context_rttime_new(
        a->ctx, pa_rtclock_now() + (pa_usec_t)ANSWER_TIMEOUT_S * PA_USEC_PER_SEC, timeout_cb, a);
    if (!t)
        return GV_ENOMEM;
    int err = GV_OK;
    while (!done(a, arg)) {
        if (has_failed(a)) {
            err = GV_EIO;
            break;
        }
        if (a->timed_out) {
            err = GV_ETIMEOUT;
            break;
        }
        pa_threaded_mainloop_wait(a->ml);
    }
    pa_threaded_mainloop_get_api(a->ml)->time_free(t);
    return err;
}

static int context_ready(audio_pulse *a, void *arg)
{
    (void)arg;
    return pa_context_get_state(a->ctx) == PA_CONTEXT_READY;
}

static int stream_ready(audio_pulse *a, void *arg)
{
    (void)a;
    return pa_stream_get_state(arg) == PA_STREAM_READY;
}

static int operation_done(audio_pulse *a, void *arg)
{
    (void)a;
    return pa_operation_get_state(arg) != PA_OPERATION_RUNNING;
}

/* ---- Opening ------------------------------------------------------------- */

static int connect_server(audio_pulse *a, char *why, size_t why_len)
{
    atomic_init(&a->failed, 0);
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
    int err = GV_ENOMEM;
    a->ctx = pa_context_new(pa_threaded_mainloop_get_api(a->ml), "gvoip");
    if (!a->ctx) {
        reason_set(why, why_len, "out of memory");
        goto out;
    }
    pa_context_set_state_callback(a->ctx, context_state_cb, a);
    err = pa_context_connect(a->ctx, NULL, PA_CONTEXT_NOFLAGS, NULL) < 0
              ? GV_EIO
              : wait_until(a, context_ready, NULL);
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
out:
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
    /* A quarter: the server asks again once that much has played, so the
     * buffer never drains below three quarters while we keep up. */
    attr.minreq = (frames / 2 > 0 ? frames / 2 : 1) * frame;
    /* Every request is at least minreq, so the first one answered starts
     * playback, and after an underrun the next one restarts it. */
    attr.prebuf = attr.minreq;
    return attr;
}

static void note_granted(direction *d, int capture)
{
    const pa_buffer_attr *ba = pa_stream_get_buffer_attr(d->s);
    if (ba)
        d->buffer_ms =
            (double)pa_bytes_to_usec(capture ? ba->fragsize : ba->tlength, &d->ss) / 1000.0;
    const char *name = pa_stream_get_device_name(d->s);
    if (name)
        snprintf(d->device, sizeof(d->device), "%s", name);
}

static int open_stream(audio_pulse *a, int capture, const audio_pulse_config *cfg, char *why,
                       size_t why_len)
{
    direction *d = capture ? &a->cap : &a->play;
    const char *kind = capture ? "capture" : "playback";
    const char *device = capture ? cfg->capture_device : cfg->playback_device;
    d->ss.format = PA_SAMPLE_FLOAT32NE;
    d->ss.rate = (uint32_t)cfg->rate;
    d->ss.channels = (uint8_t)(capture ? cfg->capture_channels : cfg->playback_channels);
    d->frame = pa_frame_size(&d->ss);

    /* Extended, so any channel count gets a map (1: mono, 2: front left and right). */
    pa_channel_map map;
    pa_channel_map_init_extend(&map, d->ss.channels, PA_CHANNEL_MAP_DEFAULT);

    pa_threaded_mainloop_lock(a->ml);
    int err = GV_EIO;
    d->s = pa_stream_new(a->ctx, capture ? "voice capture" : "voice playback", &d->ss, &map);
    if (!d->s) {
        reason_set(why, why_len, "cannot create the PulseAudio %s stream: %s", kind, context_error(a));
        goto out;
    }
    pa_stream_set_state_callback(d->s, stream_state_cb, a);
    pa_stream_set_latency_update_callback(d->s, latency_cb, a);
    pa_stream_set_overflow_callback(d->s, overflow_cb, a);
    if (capture) {
        pa_stream_set_read_callback(d->s, read_cb, a);
    } else {
        pa_stream_set_write_callback(d->s, write_cb, a);
        pa_stream_set_underflow_callback(d->s, underflow_cb, a);
    }

    const pa_buffer_attr attr = buffer_request(&d->ss, capture, capture ? cfg->capture_ms : cfg->buffer_ms);
    /* No PA_STREAM_INTERPOLATE_TIMING: its smoother extrapolates from the
     * last seconds of history, and after a jump (the stream moved to
     * another device, a sink that ran ahead while idle) it reported
     * latencies off by up to 1.5 s for over 5 s. latency_cb reads
     * each measurement as it arrives instead. */
    const pa_stream_flags_t flags =
        PA_STREAM_START_CORKED | PA_STREAM_ADJUST_LATENCY | PA_STREAM_AUTO_TIMING_UPDATE;
    int rc = capture ? pa_stream_connect_record(d->s, device, &attr, flags)
                     : pa_stream_connect_playback(d->s, device, &attr, flags, NULL, NULL);
    err = rc < 0 ? GV_EIO : wait_until(a, stream_ready, d->s);
    if (err == GV_OK) {
        note_granted(d, capture);
    } else if (err == GV_ENOMEM) {
        reason_set(why, why_len, "out of memory");
    } else if (err == GV_ETIMEOUT) {
        reason_set(why, why_len, "the PulseAudio server did not open the %s stream within %d s", kind,
            ANSWER_TIMEOUT_S);
        err = GV_EIO;
    } else if (device && pa_context_errno(a->ctx) == PA_ERR_NOENTITY) {
        reason_set(why, why_len, "no PulseAudio %s named \"%s\" (`gvoip devices` lists them)",
            capture ? "source" : "sink", device);
        err = GV_ENOTFOUND;
    } else {
        reason_set(why, why_len, "cannot open the PulseAudio %s stream: %s", kind, context_error(a));
    }
out:
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
    return GV_OK;
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
    a->render = cfg->render;
    a->captured = cfg->captured;
    a->user = cfg->ctx;
    err = connect_server(a, why, why_len);
    if (!err && cfg->playback)
        err = open_stream(a, 0, cfg, why, why_len);
    if (!err && cfg->capture)
        err = open_stream(a, 1, cfg, why, why_len);
    if (err) {
        audio_pulse_close(a);
        return err;
    }
    *out = a;
    return GV_OK;
}

/* ---- Running ------------------------------------------------------------- */

static int uncork(pa_stream *s)
{
    pa_operation *op = pa_stream_cork(s, 0, NULL, NULL);
    if (!op)
        return GV_EIO;
    pa_operation_unref(op);
    return GV_OK;
}

int audio_pulse_pause_playback(audio_pulse *a, int paused)
{
    if (!a || !a->play.s)
        return GV_EINVAL;
    pa_threaded_mainloop_lock(a->ml);
    int err = GV_EIO;
    if (!has_failed(a)) {
        pa_operation *op = pa_stream_cork(a->play.s, paused != 0, NULL, NULL);
        if (op) {
            pa_operation_unref(op);
            err = GV_OK;
        }
    }
    pa_threaded_mainloop_unlock(a->ml);
    return err;
}

int audio_pulse_start(audio_pulse *a)
{
    if (!a)
        return GV_EINVAL;
    pa_threaded_mainloop_lock(a->ml);
    int err = GV_OK;
    if (has_failed(a)) {
        err = GV_EIO;
    } else if (a->started) {
        err = GV_ESTATE;
    } else {
        a->started = 1;
        if (a->cap.s)
            err = uncork(a->cap.s);
        if (!err && a->play.s)
            err = uncork(a->play.s);
        if (err)
            fail(a, "cannot start the PulseAudio streams: %s", context_error(a));
    }
    pa_threaded_mainloop_unlock(a->ml);
    return err;
}

int audio_pulse_info_get(audio_pulse *a, int capture, audio_pulse_info *out)
{
    if (!a || !out)
        return GV_EINVAL;
    direction *d = capture ? &a->cap : &a->play;
    if (!d->s)
        return GV_ENOTFOUND;
    pa_threaded_mainloop_lock(a->ml);
    /* Once the stream is gone this learns nothing; the last values stand. */
    note_granted(d, capture);
    out->rate = (int)d->ss.rate;
    out->channels = d->ss.channels;
    out->buffer_ms = d->buffer_ms;
    out->latency_ms = d->latency_ms;
    out->underruns = d->underruns;
    out->overruns = d->overruns;
    memcpy(out->device, d->device, sizeof(out->device));
    pa_threaded_mainloop_unlock(a->ml);
    return GV_OK;
}

int audio_pulse_failed(audio_pulse *a, char *why, size_t why_len)
{
    if (!a || !has_failed(a))
        return 0;
    reason_set(why, why_len, "%s", a->why);
    return 1;
}

static void drop_stream(pa_stream *s)
{
    if (!s)
        return;
    /* Disconnecting ends the stream on our side at once: not a failure. */
    pa_stream_set_state_callback(s, NULL, NULL);
    pa_stream_disconnect(s);
    pa_stream_unref(s);
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
    drop_stream(a->cap.s);
    if (a->ctx) {
        pa_context_set_state_callback(a->ctx, NULL, NULL);
        pa_context_disconnect(a->ctx);
        pa_context_unref(a->ctx);
    }
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
    int err = wait_until(a, operation_done, op);
    pa_operation_unref(op);
    if (err == GV_ETIMEOUT) {
        fprintf(a->list_out, "the PulseAudio server did not list its %s within %d s\n", kind,
                ANSWER_TIMEOUT_S);
        return GV_EIO;
    }
    if (err == GV_EIO || a->list_failed) {
        fprintf(a->list_out, "the PulseAudio server did not list its %s: %s\n", kind,
                has_failed(a) ? a->why : context_error(a));
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
