#include "devrec_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pulse/pulseaudio.h>

#include "gvoip/error.h"

/* The record streams' fragment size. It is also the latency they ask of
 * their source (no PA_STREAM_ADJUST_LATENCY), and a sink runs at the
 * smallest latency any of its streams or its monitor's streams ask for:
 * 50 ms leaves the program under test in charge of its devices' latency,
 * while timing is per sample whatever the fragment size. */
#define FRAGMENT_MS 50
/* The played sound's buffer: large for the same reason. */
#define PLAY_BUFFER_MS 200
/* A server that has not started every stream by then (beyond the
 * requested stagger) is not answering. */
#define START_TIMEOUT_USEC (5 * PA_USEC_PER_SEC)
/* Recording goes on this much past the requested length, so that every
 * stream's last fragment has arrived however they were staggered. */
#define END_MARGIN_USEC (4 * FRAGMENT_MS * PA_USEC_PER_MSEC)

typedef struct session session;

typedef struct rec {
    session *ss;
    const char *source;
    pa_stream *stream;
    devrec_track *track;
    int updating; /* a timing request is in flight */
    int mouth;    /* the monitor of the sink played into */
    int asking;   /* a request for that sink's block is in flight */
} rec;

struct session {
    const devrec_session_config *cfg;
    pa_mainloop *ml;
    pa_context *ctx;
    rec recs[DEVREC_MAX_SOURCES];
    size_t connected, running;
    pa_stream *play;
    /* The mouth stream connects at once and plays zeros until the lead is
     * over: a stream joining a null sink rewinds it, and its monitor (a
     * player's microphone) then hands over pieces at a new phase. Joining
     * as the sound starts put that under the first words. */
    int sounding;
    size_t lead_frames; /* zeros written before the sound */
    size_t play_pos;    /* frames of the sound written, zeros after it included */
    int play_updating;
    devrec_origin *played;
    pa_time_event *watchdog, *stagger, *lead, *end;
    int err;
    char *why;
    size_t why_len;
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fail(session *ss, int err, const char *fmt, ...)
{
    if (ss->err)
        return; /* the first failure is the one worth telling */
    ss->err = err;
    if (ss->why && ss->why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ss->why, ss->why_len, fmt, ap);
        va_end(ap);
    }
    pa_mainloop_quit(ss->ml, 1);
}

static const char *server_name(void)
{
    const char *s = getenv("PULSE_SERVER");
    return s && *s ? s : "(the default server)";
}

static const char *context_error(session *ss)
{
    return pa_strerror(pa_context_errno(ss->ctx));
}

static void free_timer(session *ss, pa_time_event **e)
{
    if (*e) {
        pa_mainloop_api *api = pa_mainloop_get_api(ss->ml);
        api->time_free(*e);
        *e = NULL;
    }
}

static pa_time_event *timer(session *ss, pa_usec_t after, pa_time_event_cb_t cb)
{
    pa_time_event *e = pa_context_rttime_new(ss->ctx, pa_rtclock_now() + after, cb, ss);
    if (!e)
        fail(ss, GV_ENOMEM, "cannot create a timer");
    return e;
}

static devrec_timing timing_of(pa_stream *s, const pa_timing_info *ti, int record)
{
    const pa_sample_spec *spec = pa_stream_get_sample_spec(s);
    return (devrec_timing){
        .record = record,
        .timestamp_usec = (int64_t)pa_timeval_load(&ti->timestamp),
        .index_bytes = record ? ti->write_index : ti->read_index,
        .source_usec = ti->source_usec,
        .sink_usec = ti->sink_usec,
        .bytes_per_usec = (double)pa_bytes_per_second(spec) / 1e6,
    };
}

/* ---- Recording ----------------------------------------------------------- */

static int append(devrec_track *t, const float *data, size_t frames)
{
    if (t->frames + frames > t->cap) {
        size_t cap = t->cap ? t->cap : (size_t)DEVREC_RATE;
        while (cap < t->frames + frames)
            cap *= 2;
        float *v = realloc(t->samples, cap * sizeof *v);
        if (!v)
            return GV_ENOMEM;
        t->samples = v;
        t->cap = cap;
    }
    if (data)
        memcpy(t->samples + t->frames, data, frames * sizeof *data);
    else
        memset(t->samples + t->frames, 0, frames * sizeof *t->samples);
    t->frames += frames;
    return GV_OK;
}

static void on_mouth_sink(pa_context *c, const pa_sink_info *i, int eol, void *userdata)
{
    rec *r = userdata;
    (void)c;
    if (eol) {
        r->asking = 0;
        return;
    }
    if (devrec_origin_add(&r->track->block, (double)i->configured_latency) < 0)
        fail(r->ss, GV_ENOMEM, "out of memory");
}

static void ask_block(rec *r)
{
    if (!r->mouth || r->asking)
        return;
    pa_operation *op = pa_context_get_sink_info_by_name(r->ss->ctx, r->ss->cfg->sink, on_mouth_sink, r);
    if (op) {
        r->asking = 1;
        pa_operation_unref(op);
    }
}

static void on_record_timing(pa_stream *s, int success, void *userdata)
{
    rec *r = userdata;
    r->updating = 0;
    const pa_timing_info *ti = success ? pa_stream_get_timing_info(s) : NULL;
    /* Before the first byte is queued the index says nothing yet. */
    if (!ti || ti->write_index_corrupt || ti->write_index <= 0)
        return;
    devrec_timing t = timing_of(s, ti, 1);
    if (devrec_origin_add(&r->track->origin, devrec_origin_of(&t)) < 0)
        fail(r->ss, GV_ENOMEM, "out of memory");
    ask_block(r);
}

static void on_read(pa_stream *s, size_t nbytes, void *userdata)
{
    rec *r = userdata;
    (void)nbytes;
    while (pa_stream_readable_size(s) > 0) {
        const void *data;
        size_t n;
        if (pa_stream_peek(s, &data, &n) < 0) {
            fail(r->ss, GV_EIO, "reading from %s failed: %s", r->source, context_error(r->ss));
            return;
        }
        if (n == 0)
            break;
        /* A hole (data NULL) is a stretch the server never captured:
         * zeros keep every later frame at its own index. */
        if (append(r->track, data, n / sizeof(float)) < 0) {
            fail(r->ss, GV_ENOMEM, "out of memory after %zu frames from %s", r->track->frames,
                 r->source);
            return;
        }
        pa_stream_drop(s);
    }
    if (!r->updating) {
        pa_operation *op = pa_stream_update_timing_info(s, on_record_timing, r);
        if (op) {
            r->updating = 1;
            pa_operation_unref(op);
        }
    }
}

static void connect_next_record(session *ss);

static void on_stagger(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv,
                       void *userdata)
{
    session *ss = userdata;
    (void)api, (void)e, (void)tv;
    free_timer(ss, &ss->stagger);
    connect_next_record(ss);
}

static void connect_play(session *ss);

static void on_lead(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv,
                    void *userdata)
{
    session *ss = userdata;
    (void)api, (void)e, (void)tv;
    free_timer(ss, &ss->lead);
    ss->sounding = 1;
}

static void on_end(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv,
                   void *userdata)
{
    session *ss = userdata;
    (void)api, (void)e, (void)tv;
    free_timer(ss, &ss->end);
    pa_mainloop_quit(ss->ml, 0);
}

/* Every record stream runs: the lead and the length count from here. */
static void all_running(session *ss)
{
    const devrec_session_config *cfg = ss->cfg;
    free_timer(ss, &ss->watchdog);
    if (cfg->sink)
        ss->lead = timer(ss, (pa_usec_t)(cfg->lead_ms * PA_USEC_PER_MSEC), on_lead);
    ss->end = timer(ss, (pa_usec_t)(cfg->seconds * PA_USEC_PER_SEC) + END_MARGIN_USEC, on_end);
}

static void on_record_state(pa_stream *s, void *userdata)
{
    rec *r = userdata;
    session *ss = r->ss;
    switch (pa_stream_get_state(s)) {
    case PA_STREAM_READY:
        ss->running++;
        if (ss->running == ss->cfg->n_sources)
            all_running(ss);
        else if (ss->cfg->stagger_ms > 0)
            ss->stagger = timer(ss, (pa_usec_t)(ss->cfg->stagger_ms * PA_USEC_PER_MSEC), on_stagger);
        else
            connect_next_record(ss);
        break;
    case PA_STREAM_FAILED:
        if (pa_context_errno(ss->ctx) == PA_ERR_NOENTITY)
            fail(ss, GV_EIO, "no source named \"%s\" on %s (`pactl list short sources` lists them)",
                 r->source, server_name());
        else
            fail(ss, GV_EIO, "recording from %s failed: %s", r->source, context_error(ss));
        break;
    case PA_STREAM_TERMINATED:
        fail(ss, GV_EIO, "the server ended the recording from %s", r->source);
        break;
    default:
        break;
    }
}

static int is_monitor_of(const char *source, const char *sink)
{
    size_t n = sink ? strlen(sink) : 0;
    return n > 0 && strncmp(source, sink, n) == 0 && strcmp(source + n, ".monitor") == 0;
}

static void connect_next_record(session *ss)
{
    rec *r = &ss->recs[ss->connected];
    const pa_sample_spec spec = {.format = PA_SAMPLE_FLOAT32NE, .rate = DEVREC_RATE, .channels = 1};
    pa_buffer_attr attr = {
        .maxlength = (uint32_t)-1,
        .tlength = (uint32_t)-1,
        .prebuf = (uint32_t)-1,
        .minreq = (uint32_t)-1,
        .fragsize = (uint32_t)pa_usec_to_bytes(FRAGMENT_MS * PA_USEC_PER_MSEC, &spec),
    };
    r->ss = ss;
    r->source = ss->cfg->sources[ss->connected];
    r->mouth = is_monitor_of(r->source, ss->cfg->sink);
    r->stream = pa_stream_new(ss->ctx, r->source, &spec, NULL);
    if (!r->stream) {
        fail(ss, GV_ENOMEM, "cannot create a stream for %s: %s", r->source, context_error(ss));
        return;
    }
    ss->connected++;
    pa_stream_set_state_callback(r->stream, on_record_state, r);
    pa_stream_set_read_callback(r->stream, on_read, r);
    /* Not moved elsewhere if the source goes away: that is a failure. */
    if (pa_stream_connect_record(r->stream, r->source, &attr, PA_STREAM_DONT_MOVE) < 0)
        fail(ss, GV_EIO, "cannot record from %s: %s", r->source, context_error(ss));
}

/* ---- Playing ------------------------------------------------------------- */

static void on_play_timing(pa_stream *s, int success, void *userdata)
{
    session *ss = userdata;
    ss->play_updating = 0;
    const pa_timing_info *ti = success ? pa_stream_get_timing_info(s) : NULL;
    /* Only while the sound itself plays: its start is what is asked. */
    if (!ti || ti->read_index_corrupt || !ti->playing || ti->read_index <= 0)
        return;
    size_t frame = sizeof(float) * (size_t)ss->cfg->play_channels;
    const int64_t lead = (int64_t)(ss->lead_frames * frame);
    if (!ss->sounding || ti->read_index < lead ||
        (uint64_t)(ti->read_index - lead) >= (uint64_t)ss->cfg->play_frames * frame)
        return;
    devrec_timing t = timing_of(s, ti, 0);
    t.index_bytes -= lead;
    if (devrec_origin_add(ss->played, devrec_origin_of(&t)) < 0)
        fail(ss, GV_ENOMEM, "out of memory");
}

static void on_write(pa_stream *s, size_t nbytes, void *userdata)
{
    session *ss = userdata;
    const devrec_session_config *cfg = ss->cfg;
    size_t ch = (size_t)cfg->play_channels;
    size_t frame = sizeof(float) * ch;
    while (nbytes >= frame) {
        void *buf;
        size_t len = nbytes;
        if (pa_stream_begin_write(s, &buf, &len) < 0 || len < frame) {
            fail(ss, GV_EIO, "playing into %s failed: %s", cfg->sink, context_error(ss));
            return;
        }
        size_t frames = len / frame;
        float *out = buf;
        /* After the sound, silence: the stream never underruns, so its
         * clock stays the sink's. */
        if (!ss->sounding) {
            memset(out, 0, frames * frame);
            ss->lead_frames += frames;
        }
        for (size_t i = 0; ss->sounding && i < frames; i++, ss->play_pos++) {
            if (ss->play_pos < cfg->play_frames)
                memcpy(out + i * ch, cfg->play + ss->play_pos * ch, frame);
            else
                memset(out + i * ch, 0, frame);
        }
        if (pa_stream_write(s, buf, frames * frame, NULL, 0, PA_SEEK_RELATIVE) < 0) {
            fail(ss, GV_EIO, "playing into %s failed: %s", cfg->sink, context_error(ss));
            return;
        }
        nbytes -= frames * frame;
    }
    if (!ss->play_updating) {
        pa_operation *op = pa_stream_update_timing_info(s, on_play_timing, ss);
        if (op) {
            ss->play_updating = 1;
            pa_operation_unref(op);
        }
    }
}

static void on_play_state(pa_stream *s, void *userdata)
{
    session *ss = userdata;
    switch (pa_stream_get_state(s)) {
    case PA_STREAM_FAILED:
        if (pa_context_errno(ss->ctx) == PA_ERR_NOENTITY)
            fail(ss, GV_EIO, "no sink named \"%s\" on %s (`pactl list short sinks` lists them)",
                 ss->cfg->sink, server_name());
        else
            fail(ss, GV_EIO, "playing into %s failed: %s", ss->cfg->sink, context_error(ss));
        break;
    case PA_STREAM_TERMINATED:
        fail(ss, GV_EIO, "the server ended the playback into %s", ss->cfg->sink);
        break;
    default:
        break;
    }
}

static void connect_play(session *ss)
{
    const devrec_session_config *cfg = ss->cfg;
    const pa_sample_spec spec = {
        .format = PA_SAMPLE_FLOAT32NE,
        .rate = (uint32_t)cfg->play_rate,
        .channels = (uint8_t)cfg->play_channels,
    };
    pa_channel_map map;
    pa_channel_map_init_extend(&map, spec.channels, PA_CHANNEL_MAP_DEFAULT);
    pa_buffer_attr attr = {
        .maxlength = (uint32_t)-1,
        .tlength = (uint32_t)pa_usec_to_bytes(PLAY_BUFFER_MS * PA_USEC_PER_MSEC, &spec),
        .prebuf = (uint32_t)-1,
        .minreq = (uint32_t)-1,
        .fragsize = (uint32_t)-1,
    };
    ss->play = pa_stream_new(ss->ctx, "devrec mouth", &spec, &map);
    if (!ss->play) {
        fail(ss, GV_ENOMEM, "cannot create a stream for %s: %s", cfg->sink, context_error(ss));
        return;
    }
    pa_stream_set_state_callback(ss->play, on_play_state, ss);
    pa_stream_set_write_callback(ss->play, on_write, ss);
    if (pa_stream_connect_playback(ss->play, cfg->sink, &attr, PA_STREAM_DONT_MOVE, NULL, NULL) < 0)
        fail(ss, GV_EIO, "cannot play into %s: %s", cfg->sink, context_error(ss));
}

/* ---- The session ----------------------------------------------------------- */

/* The time the stagger alone takes to start every record stream. */
static pa_usec_t start_stagger_usec(const devrec_session_config *cfg)
{
    return (pa_usec_t)(cfg->stagger_ms * PA_USEC_PER_MSEC) * (cfg->n_sources - 1);
}

static void on_watchdog(pa_mainloop_api *api, pa_time_event *e, const struct timeval *tv,
                        void *userdata)
{
    session *ss = userdata;
    (void)api, (void)e, (void)tv;
    free_timer(ss, &ss->watchdog);
    fail(ss, GV_EIO, "%s started %zu of %zu record streams within %.1f s", server_name(), ss->running,
         ss->cfg->n_sources,
         (double)(START_TIMEOUT_USEC + start_stagger_usec(ss->cfg)) / PA_USEC_PER_SEC);
}

static void on_context_state(pa_context *c, void *userdata)
{
    session *ss = userdata;
    switch (pa_context_get_state(c)) {
    case PA_CONTEXT_READY:
        ss->watchdog = timer(ss, START_TIMEOUT_USEC + start_stagger_usec(ss->cfg), on_watchdog);
        if (ss->cfg->sink)
            connect_play(ss);
        connect_next_record(ss);
        break;
    case PA_CONTEXT_FAILED:
    case PA_CONTEXT_TERMINATED:
        fail(ss, GV_EIO, "cannot talk to the PulseAudio server %s: %s", server_name(),
             context_error(ss));
        break;
    default:
        break;
    }
}

static void close_stream(pa_stream *s)
{
    if (!s)
        return;
    pa_stream_set_state_callback(s, NULL, NULL);
    pa_stream_set_read_callback(s, NULL, NULL);
    pa_stream_set_write_callback(s, NULL, NULL);
    pa_stream_disconnect(s);
    pa_stream_unref(s);
}

static int check(const devrec_session_config *cfg)
{
    if (!cfg || !cfg->sources || cfg->n_sources == 0 || cfg->n_sources > DEVREC_MAX_SOURCES ||
        cfg->seconds <= 0 || cfg->lead_ms < 0 || cfg->stagger_ms < 0)
        return GV_EINVAL;
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (!cfg->sources[i] || !*cfg->sources[i])
            return GV_EINVAL;
    if (cfg->sink && (!cfg->play || cfg->play_frames == 0 || cfg->play_channels < 1 ||
                      cfg->play_channels > (int)PA_CHANNELS_MAX || cfg->play_rate < 1 ||
                      (uint32_t)cfg->play_rate > PA_RATE_MAX))
        return GV_EINVAL;
    return GV_OK;
}

int devrec_session_run(const devrec_session_config *cfg, devrec_track *tracks,
                       devrec_origin *played, char *why, size_t why_len)
{
    session ss = {.cfg = cfg, .played = played, .why = why, .why_len = why_len};
    int quit = 0;

    if (why && why_len)
        why[0] = '\0';
    if (check(cfg) < 0 || !tracks || (cfg->sink && !played)) {
        if (why && why_len)
            snprintf(why, why_len, "invalid session settings");
        return GV_EINVAL;
    }
    for (size_t i = 0; i < cfg->n_sources; i++)
        ss.recs[i].track = &tracks[i];
    ss.ml = pa_mainloop_new();
    if (!ss.ml) {
        if (why && why_len)
            snprintf(why, why_len, "out of memory");
        return GV_ENOMEM;
    }
    ss.ctx = pa_context_new(pa_mainloop_get_api(ss.ml), "gvoip-devrec");
    if (!ss.ctx) {
        fail(&ss, GV_ENOMEM, "out of memory");
        goto out;
    }
    pa_context_set_state_callback(ss.ctx, on_context_state, &ss);
    /* Never start a daemon behind the caller's back: a missing server is
     * an error here. */
    if (pa_context_connect(ss.ctx, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0) {
        fail(&ss, GV_EIO, "cannot connect to the PulseAudio server %s: %s", server_name(),
             context_error(&ss));
        goto out;
    }
    if (pa_mainloop_run(ss.ml, &quit) < 0)
        fail(&ss, GV_EIO, "the PulseAudio main loop failed");
out:
    free_timer(&ss, &ss.watchdog);
    free_timer(&ss, &ss.stagger);
    free_timer(&ss, &ss.lead);
    free_timer(&ss, &ss.end);
    /* Disconnecting reports TERMINATED to the state callbacks, which would
     * take our own hang-up for the server's: they go first. */
    for (size_t i = 0; i < ss.connected; i++)
        close_stream(ss.recs[i].stream);
    close_stream(ss.play);
    if (ss.ctx) {
        pa_context_set_state_callback(ss.ctx, NULL, NULL);
        pa_context_disconnect(ss.ctx);
        pa_context_unref(ss.ctx);
    }
    pa_mainloop_free(ss.ml);
    return ss.err;
}

void devrec_track_clear(devrec_track *t)
{
    if (!t)
        return;
    free(t->samples);
    devrec_origin_clear(&t->origin);
    devrec_origin_clear(&t->block);
    *t = (devrec_track){0};
}
