/* The program's audio devices and files: SDL2 (or PulseAudio) devices, an
 * input file used as the microphone and a WAV recording of what this player
 * hears.
 *
 * The playback device's clock drives the mix: its callback calls the
 * render function given to audio_io_start (gv_client_pull_mix), so nothing
 * but the device's own buffer sits between the jitter buffers and the
 * speaker. Captured audio is handed to the main thread through a lock-free
 * ring, and the callback wakes the main thread through an eventfd (a
 * non-blocking write, the callback's one system call) so each frame is
 * encoded as soon as it is whole. Without a device, a virtual device paced
 * by CLOCK_MONOTONIC does the same on the main thread (files).
 *
 * All functions run on the program's main thread, except the counters,
 * which any thread may read. At most one audio_io (or device listing) per
 * process at a time: closing quits SDL. */
#ifndef GVOIP_AUDIO_IO_H
#define GVOIP_AUDIO_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audio_event.h"

typedef struct audio_io audio_io;

enum audio_backend { AUDIO_BACKEND_AUTO = 0, AUDIO_BACKEND_SDL = 1, AUDIO_BACKEND_PULSE = 2 };

#define AUDIO_BUFFER_MS_MIN 2
#define AUDIO_BUFFER_MS_MAX 200
#define AUDIO_CLOCK_PPM_MAX 50000

typedef struct audio_io_config {
    const char *input_device;  /* NULL: the default capture device */
    const char *output_device; /* NULL: the default playback device */
    const char *input_file;    /* used as the microphone instead of a device */
    const char *record_file;   /* WAV of the playback stream */
    int no_capture;            /* no device and no input file (wins over both) */
    int no_playback;           /* no device; playback is still paced (and recorded) */
    int buffer_ms;             /* playback device buffer asked for, AUDIO_BUFFER_MS_MIN..MAX */
    int buffer_grows;          /* 1: the pulse backend lengthens it after an underrun and shortens
                                  it again after a quiet while (not chosen by the user); SDL
                                  cannot see underruns */
    int capture_ms;            /* capture period, AUDIO_BUFFER_MS_MIN..MAX: the encoder's frame.
                                * gv_capalign lines the frames up with the pieces, so a frame is
                                * whole as its last piece arrives, with half the wake-ups of 10 ms
                                * pieces; 5 ms pieces while sending measured no faster through
                                * PulseAudio (mouth to ear 53.0-53.8 ms against 49.0-55.4) for
                                * 1.2 points of a core more (docs/devices.md) */
    int frame_ms;              /* the client's frame (10, 20, 40, 60): capture quieter than
                                * audio_io_set_capture_quiet's level waits for it (gv_wakegate);
                                * 0: every capture period wakes the main loop */
    int clock_ppm;             /* the virtual devices (files) run this many parts per million
                                * fast (negative: slow), as a cheap sound card's clock does;
                                * +-AUDIO_CLOCK_PPM_MAX */
    int backend;               /* enum audio_backend; AUTO: PulseAudio's own API when a
                                * PulseAudio (or PipeWire) server is there, else SDL2 */
} audio_io_config;

/* Renders frames interleaved frames at the playback format into out. Runs
 * in the playback device's callback: real-time rules apply. */
typedef void (*audio_io_render_fn)(void *ctx, float *out, size_t frames);

/* Opens what cfg asks for (strings are borrowed only during the call),
 * devices stopped. Returns 0 with *out owned by the caller, or a negative
 * GV_E* code with a human reason in why (may be NULL): GV_ENOTFOUND for a
 * device name the audio system does not list, GV_EIO for an audio system or
 * device that fails or a file that cannot be read or written, GV_EINVAL or
 * GV_ENOMEM. Needs an audio system only when a device is opened. */
int audio_io_open(const audio_io_config *cfg, audio_io **out, char *why, size_t why_len);

/* Starts the playback device, which from now on calls render(ctx, ...)
 * from its callback. Capture starts on the first audio_io_read_capture.
 * Returns 0 or GV_EINVAL. */
int audio_io_start(audio_io *io, audio_io_render_fn render, void *ctx);

/* Stops the devices (no callback runs after this returns), finalises the
 * recording and frees. NULL is a no-op. */
void audio_io_close(audio_io *io);

/* The rate and channels (1 or 2) of capture, from the device or the input
 * file (files with more channels are mixed down to mono). Returns 0, or
 * GV_ENOTFOUND when there is no capture, GV_EINVAL for NULL arguments. */
int audio_io_capture_format(const audio_io *io, int *rate, int *channels);

/* The rate and channels (1 or 2) playback renders at: the device's, or
 * 48000 Hz stereo without one. Returns 0 or GV_EINVAL. */
int audio_io_playback_format(const audio_io *io, int *rate, int *channels);

/* A descriptor that becomes readable when captured audio waits (poll it
 * with the network's), or -1 when capture needs no waking (no device).
 * audio_io_read_capture clears it. */
int audio_io_wake_fd(const audio_io *io);

/* How long the main loop may sleep, in ms, before a virtual device (input
 * file, or playback without a device, recorded or not) needs it; -1 when
 * nothing is paced by the main loop. */
int audio_io_pace_ms(const audio_io *io);

/* Moves up to max_frames interleaved frames captured since the last call
 * into buf (max_frames * channels floats, borrowed) and returns how many.
 * The first call starts the capture (it returns 0); an input file then
 * delivers frames at its rate in real time and silence after its end. A
 * caller that falls 250 ms behind loses the oldest frames (counted as an
 * overrun). 0 for no capture or NULL arguments. */
size_t audio_io_read_capture(audio_io *io, float *buf, size_t max_frames);

/* The main thread's share of playback: without a device, renders what the
 * virtual device is due (into the recording); with one, writes what the
 * callback rendered to the recording. */
void audio_io_pump_playback(audio_io *io);

/* Says whether anything may be heard: while nothing is, a playback device
 * that can sleep does (PulseAudio: the stream is corked, and neither the
 * sound server nor this process wakes for it). Never while recording: the
 * recording keeps real time. */
void audio_io_set_audible(audio_io *io, int audible);

/* Capture quieter than quiet_db (gv_client_capture_quiet_db) may wait up
 * to GV_WAKEGATE_WAIT_MS before it wakes the main loop: an idle client
 * otherwise wakes for every capture period. Main thread. */
void audio_io_set_capture_quiet(audio_io *io, float quiet_db);

/* CLOCK_REALTIME milliseconds at which input-file frame 0 was due, -1
 * before the first read or with no input file. */
int64_t audio_io_input_start_unix_ms(const audio_io *io);

/* CLOCK_REALTIME milliseconds at which recorded frame 0 was rendered, -1
 * before the first render or with no recording. Recorded frame k was
 * rendered at this time + k / rate; a device plays it its latency later. */
int64_t audio_io_record_start_unix_ms(const audio_io *io);

/* GV_EIO once a write to the recording failed (it is then incomplete),
 * else 0. */
int audio_io_record_error(const audio_io *io);

typedef struct audio_io_device_stats {
    int open;            /* 0: no device in this direction (the rest is 0) */
    const char *backend; /* "sdl" or "pulse" (static) */
    int rate, channels;
    double buffer_ms;    /* the device buffer the audio system granted */
    double latency_ms;   /* the stream's latency as the sound server reports it; < 0 unknown */
    uint64_t underruns;  /* playback found nothing to play (device or virtual clock) */
    uint64_t overruns;   /* captured frames dropped (read too late), or a stream overflow */
    uint64_t grown, shortened; /* playback, pulse: the buffer lengthened after a stall, and
                                  taken a step back after a quiet while (audio_io_config's
                                  buffer_grows) */
    int realtime;        /* the thread serving the device runs at real-time priority: 1, 0, -1 unknown */
} audio_io_device_stats;

/* How long ago the last frame audio_io_read_capture returned came out of
 * the capture device: the time since its last callback plus the frames
 * still waiting behind it. 0 without a capture device. Main thread. */
uint64_t audio_io_capture_lag_us(const audio_io *io);

/* 1 when both directions are sound cards, so that the microphone may hear
 * the speaker (files and a missing device cannot echo), else 0. */
int audio_io_echo_path(const audio_io *io);

/* Figures of the capture (capture = 1) or playback device. Main thread. */
void audio_io_get_device_stats(const audio_io *io, int capture, audio_io_device_stats *out);


/* Keeps the started devices going, and says what happened to them: a
 * device that goes away (unplugged, the sound server killed or restarted)
 * or stops calling back for 2 s (a stalled sound server) is reported lost,
 * and within a second the device chosen is opened again if it is there,
 * else the system's default, in the same format (the audio system
 * converts); while none can be opened, or the default stands in for the
 * device chosen, it tries again every second and returns to the chosen
 * device when it is back. A device that only stalled is left alone until
 * it calls back again. The PulseAudio backend never waits for the sound
 * server here; SDL opens devices on this thread (with a sound server
 * gone, SDL's audio is started afresh before each try). Returns 1 with *ev
 * filled, once per event, or 0 when there is nothing to report (and
 * before audio_io_start). Main thread; call it often. */
int audio_io_service(audio_io *io, audio_event *ev);

/* `gvoip devices`: the audio system and the capture and playback devices
 * with their default rate, one per line under a header per kind, or a
 * clear message when there are none. Returns 0, or GV_ENOTFOUND when no
 * device at all (or no audio system) was found, GV_EINVAL for NULL. */
int audio_io_list_devices(FILE *out, int backend);

/* A device present when the listing was made (change 0), added (1) or
 * removed (-1): capture 1 for a capture device. */
typedef void (*audio_io_device_fn)(void *ctx, int change, int capture, const char *name);

/* `gvoip devices --watch` (watch nonzero) and `--json`: reports the
 * capture and playback devices present through fn, then, with watch, each
 * one added or removed until *stop is set (a signal handler's flag): from
 * the sound server's own notices with PulseAudio (a server that goes away
 * takes its devices along, and is looked for again every second), by
 * comparing SDL's lists every 500 ms otherwise. Returns 0, GV_ENOTFOUND
 * without an audio system or (without watch) a device, GV_EIO when the
 * sound server cannot be reached at the start, GV_EINVAL, GV_ENOMEM; why
 * says what went wrong. */
int audio_io_watch_devices(int backend, int watch, audio_io_device_fn fn, void *ctx, const volatile sig_atomic_t *stop,
                           char *why, size_t why_len);

#endif
