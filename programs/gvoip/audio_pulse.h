/* A full-duplex audio backend on libpulse's asynchronous API, for
 * `--audio-backend pulse`: explicit buffer sizes, measured stream latency
 * and counted xruns, which the SDL2 backend cannot give.
 *
 * One audio_pulse owns a PulseAudio connection and the thread of its
 * threaded mainloop. The render and captured callbacks run on that thread,
 * inside the streams' write and read callbacks: they must neither block,
 * allocate nor log, and must not call back into this module. Every other
 * function is for one thread at a time (the program's main thread); never
 * call them from a callback. */
#ifndef GVOIP_AUDIO_PULSE_H
#define GVOIP_AUDIO_PULSE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audio_event.h"

typedef struct audio_pulse audio_pulse;

/* Playback: fill frames * channels interleaved floats at out. */
typedef void (*audio_pulse_render_fn)(void *ctx, float *out, size_t frames);
/* Capture: frames * channels interleaved floats arrived at in (borrowed
 * for the call), a chunk as the server delivered it: in practice at most
 * the granted fragsize, but PulseAudio does not promise that. */
typedef void (*audio_pulse_capture_fn)(void *ctx, const float *in, size_t frames);
/* Capture: the chunks that arrived together were all passed to the
 * captured callback (PulseAudio hands one fragment over in several: a
 * few frames, then the rest). The place to wake a consumer, once. */
typedef void (*audio_pulse_delivered_fn)(void *ctx);

typedef struct audio_pulse_config {
    const char *capture_device;  /* PulseAudio source name; NULL: the default source */
    const char *playback_device; /* sink name; NULL: the default sink */
    int capture, playback;       /* which directions to open (1/0) */
    int rate;                    /* 48000 */
    int capture_channels;        /* 1 */
    int playback_channels;       /* 2 */
    int buffer_ms;               /* 2..200: playback's tlength */
    int buffer_grows;            /* 1: a playback underrun makes buffer_ms half as long again, up
                                    to GROW_MAX_MS, and 20 s without one take a step back
                                    (playbuf.h; the user did not choose it); 0: it stays */
    int capture_ms;              /* 2..200: capture's fragsize */
    audio_pulse_render_fn render;    /* needed with playback */
    audio_pulse_capture_fn captured; /* needed with capture */
    audio_pulse_delivered_fn delivered; /* optional, with capture */
    void *ctx;                       /* passed to the callbacks */
} audio_pulse_config;

typedef struct audio_pulse_info {
    int rate, channels;
    double buffer_ms;  /* what the server granted (tlength / fragsize); playback: the
                          stream's queue only, the device holding the rest of the
                          buffer_ms asked for (PulseAudio 16: tlength = 3/4 of it) */
    double latency_ms; /* stream latency as last measured, at most 1.5 s ago (playback:
                          until played; capture: from the source to this client, negative
                          on a monitor source); 0 before the first measurement */
    uint64_t underruns; /* playback: underflows; capture: 0 */
    uint64_t overruns;  /* overflows: capture fell behind, or playback was written too much */
    uint64_t grown, shortened; /* playback: times the buffer asked for was lengthened after a
                                  stall, and taken a step back after a quiet while */
    int realtime;       /* 1: the thread that serves both streams runs at real-time priority */
    char device[256];   /* the sink or source actually used */
} audio_pulse_info;

/* Connects to the server (PULSE_SERVER and client.conf honoured) and opens
 * the directions cfg asks for, corked: no callback runs before
 * audio_pulse_start(). Strings in cfg are borrowed for the call; ctx and
 * the callbacks until close. Waits at most a few seconds for the server.
 * Returns 0 with *out owned by the caller, or a negative GV_E* code with a
 * human reason in why (may be NULL): GV_EINVAL for a bad configuration,
 * GV_ENOTFOUND for a sink or source the server does not have, GV_EIO when
 * the server cannot be reached or refuses a stream, GV_ENOMEM. */
int audio_pulse_open(const audio_pulse_config *cfg, audio_pulse **out, char *why, size_t why_len);

/* Uncorks the open streams: the callbacks run from now on (playback
 * starts with one buffer of silence queued while corked); streams opened
 * later by audio_pulse_service start uncorked. Returns 0, GV_ESTATE if
 * already started, GV_EINVAL for NULL. */
int audio_pulse_start(audio_pulse *a);

/* Pauses (corks) or resumes the started playback: a paused stream asks
 * for nothing, so the mainloop thread sleeps. What it held plays when it
 * resumes; a stream opened while paused starts corked. Returns 0, or
 * GV_EINVAL without playback. */
int audio_pulse_pause_playback(audio_pulse *a, int paused);

/* The format, granted buffer, current latency, xrun counts (over every
 * stream of that direction) and device of one direction (capture nonzero:
 * the capture stream); the last known while it has no stream. Returns 0,
 * GV_ENOTFOUND if that direction was not opened, GV_EINVAL for NULL.
 * Takes the mainloop's lock, so it waits for a callback in progress. */
int audio_pulse_info_get(audio_pulse *a, int capture, audio_pulse_info *out);


/* Keeps the directions playing: a stream that dies (its device removed:
 * a device asked for is never moved by the server) is opened again at
 * once on the device asked for, else on the server's default; a lost
 * server is connected to again; and until the device asked for is back
 * it is tried every second and returned to. Each try is asynchronous:
 * this never waits for the server (a stopped one included), and takes the
 * mainloop's lock only while something is amiss or being tried. Call it
 * often (the main loop); returns 1 with *ev filled, once per event, or 0
 * when there is nothing to report. */
int audio_pulse_service(audio_pulse *a, audio_event *ev);

/* Stops the mainloop thread (no callback runs after this), then
 * disconnects and frees. Never waits for the server. NULL is a no-op. */
void audio_pulse_close(audio_pulse *a);

/* `gvoip devices`: the server's sinks and sources, one per line as
 * "  NAME (DESCRIPTION) 48000 Hz 2 ch" under a header per kind, or a clear
 * message when the server cannot be reached. Returns 0, GV_ENOTFOUND when
 * there is no sink and no source, GV_EIO without a server, GV_EINVAL for
 * NULL, GV_ENOMEM. */
int audio_pulse_list(FILE *out);

/* A sink (capture 0) or source (capture 1) present at the start (change
 * 0), added (1) or removed (-1). */
typedef void (*audio_pulse_device_fn)(void *ctx, int change, int capture, const char *name);

/* `gvoip devices --watch` (watch nonzero) and `--json`: reports the sinks
 * and sources present, then, with watch, each one added or removed (from
 * the server's subscription) until *stop is set. A server that goes away
 * takes its devices with it (each reported removed); it is connected to
 * again every second, and what it then has is reported added. fn runs on
 * the mainloop thread or the caller's, one call at a time. Returns 0,
 * GV_ENOTFOUND when (without watch) the server has no device, GV_EIO when
 * it cannot be reached at the start (why says so), GV_EINVAL, GV_ENOMEM. */
int audio_pulse_watch(int watch, audio_pulse_device_fn fn, void *ctx, const volatile sig_atomic_t *stop, char *why,
                      size_t why_len);

#endif
