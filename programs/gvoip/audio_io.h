/* The program's audio devices and files: SDL2 devices, an input file used
 * as the microphone and a WAV recording of what this player hears. The
 * rest of the program only sees interleaved float frames at the formats
 * reported here and a real-time pace to pull and push them at.
 *
 * All functions run on the program's main thread, except the counters,
 * which any thread may read. SDL starts its audio thread(s) behind this;
 * the callbacks only move samples through gv_rings. At most one audio_io
 * (or audio_io_list_devices call) per process at a time: closing quits
 * SDL. */
#ifndef GVOIP_AUDIO_IO_H
#define GVOIP_AUDIO_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct audio_io audio_io;

typedef struct audio_io_config {
    const char *input_device;  /* NULL: the default capture device */
    const char *output_device; /* NULL: the default playback device */
    const char *input_file;    /* used as the microphone instead of a device */
    const char *record_file;   /* WAV of the playback stream */
    int no_capture;            /* no device and no input file (wins over both) */
    int no_playback;           /* no device; playback is still paced (and recorded) */
} audio_io_config;

/* Opens what cfg asks for (strings are borrowed only during the call).
 * Returns 0 with *out owned by the caller, or a negative GV_E* code with a
 * human reason in why (may be NULL): GV_ENOTFOUND for a device name SDL
 * does not list, GV_EIO for an audio system or device that fails or a file
 * that cannot be read or written, GV_EINVAL or GV_ENOMEM. Needs SDL audio
 * (and a sound card) only when a device is opened. Never waits for a
 * device. */
int audio_io_open(const audio_io_config *cfg, audio_io **out, char *why, size_t why_len);

/* Stops the devices, finalises the recording and frees. NULL is a no-op. */
void audio_io_close(audio_io *io);

/* The rate and channels (1 or 2) of capture, from the device or the input
 * file (files with more channels are mixed down to mono). Returns 0, or
 * GV_ENOTFOUND when there is no capture, GV_EINVAL for NULL arguments. */
int audio_io_capture_format(const audio_io *io, int *rate, int *channels);

/* The rate and channels (1 or 2) the caller must write playback at: the
 * device's, or 48000 Hz stereo without one. Returns 0 or GV_EINVAL. */
int audio_io_playback_format(const audio_io *io, int *rate, int *channels);

/* Moves up to max_frames interleaved frames captured since the last call
 * into buf (max_frames * channels floats, borrowed) and returns how many.
 * The first call starts the capture (it returns 0); an input file then
 * delivers frames at its rate in real time and silence after its end. A
 * caller that falls 250 ms behind loses the oldest frames (counted as an
 * overrun). 0 for no capture or NULL arguments. */
size_t audio_io_read_capture(audio_io *io, float *buf, size_t max_frames);

/* Frames the playback side can take now. With a device: what brings its
 * buffer up to about 40 ms. Without: what keeps a virtual device 10 ms
 * ahead of CLOCK_MONOTONIC, so the caller's mixer runs as with a device. */
size_t audio_io_playback_wanted(const audio_io *io);

/* Plays frames interleaved frames from buf (borrowed) and appends what is
 * heard to the recording, underruns included as silence. Frames beyond
 * audio_io_playback_wanted() may be dropped with a device (not recorded
 * then). The first call starts playback. Never waits for the device. */
void audio_io_write_playback(audio_io *io, const float *buf, size_t frames);

/* CLOCK_REALTIME milliseconds at which input-file frame 0 was due, -1
 * before the first read or with no input file. */
int64_t audio_io_input_start_unix_ms(const audio_io *io);

/* CLOCK_REALTIME milliseconds at which recorded frame 0 was played, -1
 * before the first write or with no recording. Recorded frame k played at
 * this time + k / rate (plus the device's own output latency, which SDL
 * does not report). */
int64_t audio_io_record_start_unix_ms(const audio_io *io);

/* GV_EIO once a write to the recording failed (it is then incomplete),
 * else 0. */
int audio_io_record_error(const audio_io *io);

/* Playback underruns (the device or the virtual clock found nothing to
 * play) and capture overruns (captured frames dropped because the caller
 * read too late). Any thread. */
size_t audio_io_underruns(const audio_io *io);
size_t audio_io_overruns(const audio_io *io);

/* `gvoip devices`: the SDL audio driver and the capture and playback
 * device names, one per line under a header per kind, or a clear message
 * when there are none. Returns 0, or GV_ENOTFOUND when no device at all
 * (or no audio system) was found, GV_EINVAL for NULL. */
int audio_io_list_devices(FILE *out);

#endif
