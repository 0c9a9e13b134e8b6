#include "audio_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <SDL.h>
#include <sndfile.h>

#include "audio_pulse.h"
#include "reason.h"
#include "gvoip/error.h"
#include "gvoip/ring.h"
#include "gvoip/wakegate.h"

#define DEVICE_RATE 48000
#define MIN_RATE 8000 /* what the library resamples from */
#define MAX_RATE 192000
#define PACED_LEAD_MS 10 /* a virtual device with one 10 ms buffer */
#define PACED_TICK_MS 2  /* how often a virtual device wants the main loop */
#define VIRTUAL_STEP_MS 20 /* and an unheard virtual playback device */
#define BACKLOG_MS 250   /* capture kept for a late reader; ring sizing */
/* A paced caller later than this has stalled: the virtual device is taken
 * to have played silence meanwhile. Anything less is a coarse main loop
 * and is forgiven. */
#define PACED_SLACK_MS 100
#define SCRATCH_FRAMES 1024
#define RECORD_RING_MS 500 /* rendered audio waiting to be written to the recording */
/* A running device that calls back for none of this long has stalled (a
 * sound server stopped, a driver hung): reported, so the program never
 * waits on it forever. */
#define STALL_US 2000000u
/* SDL: a lost device is tried again this often, and so is the device
 * chosen while the default stands in for it. */
#define RETRY_US 1000000u
#define WATCH_POLL_MS 500
#define WATCH_TICK_MS 100

enum capture_kind { CAPTURE_NONE, CAPTURE_DEVICE, CAPTURE_FILE };

/* One direction's device as its keeper sees it (main thread). */
typedef struct side {
    char chosen[256];       /* the device asked for; "" the system's default */
    char name[256];         /* the device in use, or last in use */
    int down;               /* reported lost, and not back since */
    int stalled;            /* silent while running: left alone until it calls back */
    int fallback;           /* the default stands in for the chosen device */
    uint64_t watch_from_us; /* callbacks are expected from then on */
    uint64_t retry_at_us;   /* SDL: the next try */
} side;

/* Frames counted against CLOCK_MONOTONIC from the first use. */
typedef struct pace {
    int started;
    struct timespec t0;
    uint64_t frames;
} pace;

struct audio_io {
    int sdl_up;
    audio_pulse *pulse; /* --audio-backend pulse: both directions */

    enum capture_kind capture;
    int cap_rate, cap_channels;
    double cap_buffer_ms;
    SDL_AudioDeviceID cap_dev;
    int cap_running;
    gv_ring *cap_ring;
    int wake_fd;
    int frame_ms;
    gv_wakegate *cap_gate; /* NULL: every capture period wakes */
    int cap_wake;          /* capture thread only: the delivery being passed wakes the main thread */
    SNDFILE *in_sf;
    int in_file_channels;
    int in_eof;
    float *in_scratch; /* SCRATCH_FRAMES * in_file_channels */
    pace in_pace;
    int64_t in_start_unix_ms;

    int play_rate, play_channels;
    double play_buffer_ms;
    int play_device;             /* a real device plays (SDL's or PulseAudio's) */
    int asleep;                  /* playback paused while nothing is heard */
    int clock_ppm;               /* the virtual devices' clock error */
    SDL_AudioDeviceID play_dev;
    audio_io_render_fn render;
    void *render_ctx;
    pace out_pace;
    float *out_buf; /* virtual device: rendered on the main thread */
    size_t out_buf_frames;
    SNDFILE *rec_sf;
    gv_ring *rec_ring; /* device: what the callback rendered, for the recording */
    float *rec_buf;
    int rec_failed;
    atomic_llong rec_start_unix_ms;

    /* The devices' keeper (main thread): watch_checked_us is its last
     * look; events wait here for audio_io_service to hand them out. */
    side cap_side, play_side;
    int buffer_ms, capture_ms; /* asked for; SDL asks again for them */
    uint64_t watch_checked_us;
    audio_events events;
    atomic_int abandoned; /* stalled SDL devices left behind at close: their callbacks do nothing */

    /* Written by the device callbacks, read by anyone. */
    atomic_ullong captured_at_us; /* CLOCK_MONOTONIC of the last capture callback */
    atomic_ullong rendered_at_us; /* and of the last playback callback */
    atomic_ullong underruns;
    atomic_ullong overruns;
    atomic_ullong rec_dropped; /* rendered frames the recording ring had no room for */
};

/* Enough zeros to record silence in a few writes without a buffer. */
static const float zeros[SCRATCH_FRAMES * 2];


static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pace_start(pace *p)
{
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    p->started = 1;
    p->frames = 0;
}

/* Frames a clock at rate, ppm parts per million fast, has produced since
 * p->t0. Seconds and nanoseconds are scaled separately so the product
 * cannot overflow in any run length. */
static uint64_t pace_due(const pace *p, int rate, int ppm)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t sec = (int64_t)now.tv_sec - (int64_t)p->t0.tv_sec;
    int64_t nsec = (int64_t)now.tv_nsec - (int64_t)p->t0.tv_nsec;
    if (nsec < 0) {
        sec -= 1;
        nsec += 1000000000;
    }
    if (sec < 0)
        return 0;
    int64_t frames = sec * (int64_t)rate + nsec * (int64_t)rate / 1000000000;
    return (uint64_t)(frames + frames * ppm / 1000000);
}

static size_t ms_frames(int rate, int ms)
{
    return (size_t)rate * (size_t)ms / 1000;
}

/* ---- Device callbacks: no allocation, locks, logging or I/O. ------------- */

/* One chunk of a delivery; capture_delivered follows the last one. */
static void captured(audio_io *io, const float *in, size_t frames)
{
    if (atomic_load_explicit(&io->abandoned, memory_order_acquire))
        return;
    size_t ch = (size_t)io->cap_channels;
    size_t n = frames * ch;
    size_t room = gv_ring_writable(io->cap_ring);
    /* Whole frames only, so the reader never sees half a frame. */
    room -= room % ch;
    if (n > room) {
        n = room;
        atomic_fetch_add_explicit(&io->overruns, 1, memory_order_relaxed);
    }
    gv_ring_write(io->cap_ring, in, n);
    atomic_store_explicit(&io->captured_at_us, monotonic_us(), memory_order_relaxed);
    if (!io->cap_gate || gv_wakegate_block(io->cap_gate, in, frames) || n < frames * ch)
        io->cap_wake = 1;
}

/* The main thread is woken once per delivery, not per chunk: PulseAudio
 * passes a fragment in two to four chunks at the same instant, and each
 * wake-up costs both threads a switch. */
static void capture_delivered(audio_io *io)
{
    if (!io->cap_wake)
        return;
    io->cap_wake = 0;
    /* A counter that cannot block (EFD_NONBLOCK): a full counter only
     * means the main thread is already due to wake. */
    uint64_t one = 1;
    ssize_t w = write(io->wake_fd, &one, sizeof one);
    (void)w;
}

static void rendered(audio_io *io, float *out, size_t frames)
{
    if (atomic_load_explicit(&io->abandoned, memory_order_acquire)) {
        memset(out, 0, frames * (size_t)io->play_channels * sizeof *out);
        return;
    }
    io->render(io->render_ctx, out, frames);
    atomic_store_explicit(&io->rendered_at_us, monotonic_us(), memory_order_relaxed);
    if (!io->rec_ring)
        return;
    long long expected = -1;
    atomic_compare_exchange_strong(&io->rec_start_unix_ms, &expected, (long long)realtime_ms());
    size_t n = frames * (size_t)io->play_channels;
    size_t put = gv_ring_write(io->rec_ring, out, n);
    if (put < n)
        atomic_fetch_add_explicit(&io->rec_dropped, (n - put) / (size_t)io->play_channels, memory_order_relaxed);
}

static void sdl_capture_callback(void *userdata, Uint8 *stream, int len)
{
    audio_io *io = userdata;
    captured(io, (const float *)(const void *)stream, (size_t)len / sizeof(float) / (size_t)io->cap_channels);
    capture_delivered(io);
}

static void sdl_playback_callback(void *userdata, Uint8 *stream, int len)
{
    audio_io *io = userdata;
    rendered(io, (float *)(void *)stream, (size_t)len / sizeof(float) / (size_t)io->play_channels);
}

static void pulse_captured(void *ctx, const float *in, size_t frames)
{
    captured(ctx, in, frames);
}

static void pulse_delivered(void *ctx)
{
    capture_delivered(ctx);
}

static void pulse_render(void *ctx, float *out, size_t frames)
{
    rendered(ctx, out, frames);
}

/* ---- Opening ------------------------------------------------------------- */

static int sdl_start(char *why, size_t why_len)
{
    /* The program handles SIGINT, SIGTERM and SIGHUP itself. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_AUDIO_DEVICE_APP_NAME, "gvoip");
    SDL_SetHint(SDL_HINT_AUDIO_DEVICE_STREAM_NAME, "voice chat");
    if (SDL_Init(SDL_INIT_AUDIO) != 0) {
        reason_set(why, why_len,
            "no audio system available (SDL: %s); without a sound card use --input-file or "
            "--no-capture, and --record or --no-playback",
            SDL_GetError());
        return GV_EIO;
    }
    return GV_OK;
}

/* Whether SDL lists a device of that name (or cannot list at all: then
 * it may still open it by name). */
static int sdl_listed(int capture, const char *name)
{
    int count = SDL_GetNumAudioDevices(capture);
    if (count < 0)
        return 1;
    for (int i = 0; i < count; i++) {
        const char *n = SDL_GetAudioDeviceName(i, capture);
        if (n && strcmp(n, name) == 0)
            return 1;
    }
    return 0;
}

/* What SDL opens without a name is called "default": SDL 2's notion of
 * the default device can name another one than its driver opens (the
 * server's default sink where PULSE_SINK picks another). */
static void sdl_name(side *sd, const char *name)
{
    snprintf(sd->name, sizeof(sd->name), "%s", name ? name : "default");
}

static SDL_AudioSpec device_spec(audio_io *io, int capture, int rate, int channels, int buffer_ms)
{
    SDL_AudioSpec want;
    memset(&want, 0, sizeof(want));
    want.freq = rate;
    want.format = AUDIO_F32SYS;
    want.channels = (Uint8)channels;
    want.samples = (Uint16)ms_frames(rate, buffer_ms);
    want.callback = capture ? sdl_capture_callback : sdl_playback_callback;
    want.userdata = io;
    return want;
}

/* Opens a device paused, preferring its own rate and channel count (no
 * conversion in SDL) but falling back to letting SDL convert when the
 * device's own format is one the library does not take (surround,
 * exotic rates). */
static int open_device(audio_io *io, int capture, const char *name, int buffer_ms, SDL_AudioSpec *got,
                       SDL_AudioDeviceID *dev, char *why, size_t why_len)
{
    const char *kind = capture ? "capture" : "playback";
    if (name && !sdl_listed(capture, name)) {
        reason_set(why, why_len, "no %s device named \"%s\" (`gvoip devices` lists them)", kind, name);
        return GV_ENOTFOUND;
    }

    const SDL_AudioSpec want = device_spec(io, capture, DEVICE_RATE, capture ? 1 : 2, buffer_ms);
    static const int allowed[] = {
        SDL_AUDIO_ALLOW_FREQUENCY_CHANGE | SDL_AUDIO_ALLOW_CHANNELS_CHANGE,
        SDL_AUDIO_ALLOW_FREQUENCY_CHANGE,
        0,
    };
    const size_t tries = sizeof(allowed) / sizeof(allowed[0]);
    for (size_t i = 0; i < tries; i++) {
        SDL_AudioDeviceID id = SDL_OpenAudioDevice(name, capture, &want, got, allowed[i]);
        if (id == 0 && name) {
            reason_set(why, why_len, "cannot open the %s device \"%s\": %s", kind, name, SDL_GetError());
            return GV_EIO;
        }
        if (id == 0) {
            reason_set(why, why_len, "cannot open the default %s device: %s; without a sound card use %s",
                kind, SDL_GetError(),
                capture ? "--input-file or --no-capture"
                        : "--record with --no-playback, or --no-playback");
            return GV_EIO;
        }
        int usable = got->freq >= MIN_RATE && got->freq <= MAX_RATE && got->channels >= 1 &&
                     got->channels <= 2;
        /* With nothing allowed to change SDL converts to exactly `want`. */
        if (usable || i + 1 == tries) {
            sdl_name(capture ? &io->cap_side : &io->play_side, name);
            *dev = id;
            return GV_OK;
        }
        SDL_CloseAudioDevice(id);
    }
    return GV_EIO;
}

static int capture_handoff(audio_io *io, size_t period_frames, char *why, size_t why_len);

static int open_capture_device(audio_io *io, const char *name, int buffer_ms, char *why, size_t why_len)
{
    SDL_AudioSpec got;
    int err = open_device(io, 1, name, buffer_ms, &got, &io->cap_dev, why, why_len);
    if (err)
        return err;
    io->cap_rate = got.freq;
    io->cap_channels = got.channels;
    io->cap_buffer_ms = 1000.0 * got.samples / got.freq;
    return capture_handoff(io, got.samples, why, why_len);
}

/* The ring and the wake-up a capture callback hands samples over with.
 * Created while the device is stopped: the callback cannot run yet, and
 * starting it publishes them to its thread. */
static int capture_handoff(audio_io *io, size_t period_frames, char *why, size_t why_len)
{
    io->capture = CAPTURE_DEVICE;
    size_t cap = (ms_frames(io->cap_rate, BACKLOG_MS) + period_frames) * (size_t)io->cap_channels;
    if (gv_ring_create(cap, &io->cap_ring) != GV_OK) {
        reason_set(why, why_len, "out of memory");
        return GV_ENOMEM;
    }
    io->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (io->wake_fd < 0) {
        reason_set(why, why_len, "cannot create the capture wake-up: %s", strerror(errno));
        return GV_EIO;
    }
    /* A frame the gate does not know (none, or a codec's 2.5 or 5 ms)
     * leaves it out: every period wakes. */
    if (gv_wakegate_create(io->cap_rate, io->cap_channels, io->frame_ms, &io->cap_gate) == GV_ENOMEM) {
        reason_set(why, why_len, "out of memory");
        return GV_ENOMEM;
    }
    return GV_OK;
}

static int open_playback_device(audio_io *io, const char *name, int buffer_ms, char *why, size_t why_len)
{
    SDL_AudioSpec got;
    int err = open_device(io, 0, name, buffer_ms, &got, &io->play_dev, why, why_len);
    if (err)
        return err;
    io->play_device = 1;
    io->play_rate = got.freq;
    io->play_channels = got.channels;
    io->play_buffer_ms = 1000.0 * got.samples / got.freq;
    return GV_OK;
}

/* Both directions on one PulseAudio connection. */
static int open_pulse(audio_io *io, const audio_io_config *cfg, int capture, int playback, char *why,
                      size_t why_len)
{
    audio_pulse_config pc = {
        .capture_device = cfg->input_device,
        .playback_device = cfg->output_device,
        .capture = capture,
        .playback = playback,
        .rate = DEVICE_RATE,
        .capture_channels = 1,
        .playback_channels = 2,
        .buffer_ms = cfg->buffer_ms,
        .buffer_grows = cfg->buffer_grows,
        .capture_ms = cfg->capture_ms,
        .render = pulse_render,
        .captured = pulse_captured,
        .delivered = pulse_delivered,
        .ctx = io,
    };
    int err = audio_pulse_open(&pc, &io->pulse, why, why_len);
    if (err)
        return err;
    audio_pulse_info info;
    if (playback && audio_pulse_info_get(io->pulse, 0, &info) == 0) {
        io->play_device = 1;
        io->play_rate = info.rate;
        io->play_channels = info.channels;
        io->play_buffer_ms = info.buffer_ms;
        snprintf(io->play_side.name, sizeof(io->play_side.name), "%s", info.device);
    }
    if (capture && audio_pulse_info_get(io->pulse, 1, &info) == 0) {
        snprintf(io->cap_side.name, sizeof(io->cap_side.name), "%s", info.device);
        io->cap_rate = info.rate;
        io->cap_channels = info.channels;
        io->cap_buffer_ms = info.buffer_ms;
        /* PulseAudio does not promise pieces of at most fragsize: room
         * for two. */
        return capture_handoff(io, 2 * ms_frames(info.rate, (int)info.buffer_ms + 1), why, why_len);
    }
    return GV_OK;
}

static int open_input_file(audio_io *io, const char *path, char *why, size_t why_len)
{
    SF_INFO info;
    memset(&info, 0, sizeof(info));
    io->in_sf = sf_open(path, SFM_READ, &info);
    if (!io->in_sf) {
        reason_set(why, why_len, "cannot read the input file %s: %s", path, sf_strerror(NULL));
        return GV_EIO;
    }
    if (info.samplerate < MIN_RATE || info.samplerate > MAX_RATE || info.channels < 1) {
        reason_set(why, why_len, "the input file %s has %d Hz and %d channel(s); %d..%d Hz are supported",
            path, info.samplerate, info.channels, MIN_RATE, MAX_RATE);
        return GV_EIO;
    }
    io->capture = CAPTURE_FILE;
    io->cap_rate = info.samplerate;
    io->in_file_channels = info.channels;
    io->cap_channels = info.channels <= 2 ? info.channels : 1;
    io->in_scratch = malloc(sizeof(float) * SCRATCH_FRAMES * (size_t)info.channels);
    if (!io->in_scratch) {
        reason_set(why, why_len, "out of memory");
        return GV_ENOMEM;
    }
    return GV_OK;
}

static int open_record_file(audio_io *io, const char *path, char *why, size_t why_len)
{
    SF_INFO info;
    memset(&info, 0, sizeof(info));
    info.samplerate = io->play_rate;
    info.channels = io->play_channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    io->rec_sf = sf_open(path, SFM_WRITE, &info);
    if (!io->rec_sf) {
        reason_set(why, why_len, "cannot write the recording %s: %s", path, sf_strerror(NULL));
        return GV_EIO;
    }
    /* Saturate rather than wrap a sample beyond full scale. */
    sf_command(io->rec_sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    /* Keep the header's sizes current, so a run that is killed still
     * leaves a playable WAV. */
    sf_command(io->rec_sf, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
    if (io->play_device) {
        size_t samples = ms_frames(io->play_rate, RECORD_RING_MS) * (size_t)io->play_channels;
        io->rec_buf = malloc(SCRATCH_FRAMES * 2 * sizeof(float));
        if (!io->rec_buf || gv_ring_create(samples, &io->rec_ring) != GV_OK) {
            reason_set(why, why_len, "out of memory");
            return GV_ENOMEM;
        }
    }
    return GV_OK;
}

/* PulseAudio's API when a sound server speaks it (PulseAudio itself, or
 * PipeWire's pulse server on today's desktops): SDL 2.26's PulseAudio
 * driver delivers capture and asks for playback unevenly (measured: sent
 * packets jitter by 7-15 ms, frames concealed at the listener), which our
 * own streams do not. Only a server already running counts, so nothing is
 * spawned; SDL_AUDIODRIVER naming another driver means SDL. */
static int resolve_backend(int backend)
{
    if (backend != AUDIO_BACKEND_AUTO)
        return backend;
    const char *driver = getenv("SDL_AUDIODRIVER");
    if (driver && strcmp(driver, "pulseaudio") != 0 && strcmp(driver, "pulse") != 0)
        return AUDIO_BACKEND_SDL;
    if (getenv("PULSE_SERVER"))
        return AUDIO_BACKEND_PULSE;
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    char path[512];
    if (runtime && snprintf(path, sizeof path, "%s/pulse/native", runtime) < (int)sizeof path &&
        access(path, F_OK) == 0)
        return AUDIO_BACKEND_PULSE;
    return AUDIO_BACKEND_SDL;
}

int audio_io_open(const audio_io_config *cfg, audio_io **out, char *why, size_t why_len)
{
    reason_set(why, why_len, "%s", "");
    if (!out) {
        reason_set(why, why_len, "no place for the handle");
        return GV_EINVAL;
    }
    *out = NULL;
    if (!cfg || cfg->buffer_ms < AUDIO_BUFFER_MS_MIN || cfg->buffer_ms > AUDIO_BUFFER_MS_MAX ||
        cfg->capture_ms < AUDIO_BUFFER_MS_MIN || cfg->capture_ms > AUDIO_BUFFER_MS_MAX ||
        cfg->clock_ppm < -AUDIO_CLOCK_PPM_MAX || cfg->clock_ppm > AUDIO_CLOCK_PPM_MAX) {
        reason_set(why, why_len, "no audio configuration, or a device buffer outside %d..%d ms", AUDIO_BUFFER_MS_MIN,
            AUDIO_BUFFER_MS_MAX);
        return GV_EINVAL;
    }
    const char *names[2] = {cfg->input_device, cfg->output_device};
    for (int i = 0; i < 2; i++) {
        if (names[i] && strlen(names[i]) >= sizeof(((side *)0)->chosen)) {
            reason_set(why, why_len, "a device name of more than 255 bytes (%.40s...)", names[i]);
            return GV_EINVAL;
        }
    }

    int err = GV_ENOMEM;
    audio_io *io = calloc(1, sizeof(*io));
    if (!io) {
        reason_set(why, why_len, "out of memory");
        goto out;
    }
    io->capture = CAPTURE_NONE;
    io->clock_ppm = cfg->clock_ppm;
    io->frame_ms = cfg->frame_ms;
    io->wake_fd = -1;
    io->in_start_unix_ms = -1;
    atomic_init(&io->rec_start_unix_ms, -1);
    io->play_rate = DEVICE_RATE;
    io->play_channels = 2;
    atomic_init(&io->underruns, 0);
    atomic_init(&io->overruns, 0);
    atomic_init(&io->rec_dropped, 0);
    snprintf(io->cap_side.chosen, sizeof(io->cap_side.chosen), "%s", cfg->input_device ? cfg->input_device : "");
    snprintf(io->play_side.chosen, sizeof(io->play_side.chosen), "%s", cfg->output_device ? cfg->output_device : "");
    io->buffer_ms = cfg->buffer_ms;
    io->capture_ms = cfg->capture_ms;

    int want_cap_dev = !cfg->no_capture && !cfg->input_file;
    if (!cfg->no_capture && cfg->input_file) {
        err = open_input_file(io, cfg->input_file, why, why_len);
        if (err)
            goto out;
    }
    if (resolve_backend(cfg->backend) == AUDIO_BACKEND_PULSE && (want_cap_dev || !cfg->no_playback)) {
        err = open_pulse(io, cfg, want_cap_dev, !cfg->no_playback, why, why_len);
        if (err)
            goto out;
    } else if (want_cap_dev || !cfg->no_playback) {
        err = sdl_start(why, why_len);
        if (err)
            goto out;
        io->sdl_up = 1;
    }
    if (want_cap_dev && !io->pulse) {
        err = open_capture_device(io, cfg->input_device, cfg->capture_ms, why, why_len);
        if (err)
            goto out;
    }
    if (!cfg->no_playback && !io->pulse) {
        err = open_playback_device(io, cfg->output_device, cfg->buffer_ms, why, why_len);
        if (err)
            goto out;
    } else if (cfg->no_playback) {
        io->out_buf_frames = ms_frames(io->play_rate, PACED_SLACK_MS + PACED_LEAD_MS);
        io->out_buf = malloc(io->out_buf_frames * (size_t)io->play_channels * sizeof(float));
        if (!io->out_buf) {
            err = GV_ENOMEM;
            reason_set(why, why_len, "out of memory");
            goto out;
        }
    }
    if (cfg->record_file) {
        err = open_record_file(io, cfg->record_file, why, why_len);
        if (err)
            goto out;
    }
    err = GV_OK;
out:
    if (err) {
        audio_io_close(io);
        return err;
    }
    *out = io;
    return GV_OK;
}

int audio_io_start(audio_io *io, audio_io_render_fn render, void *ctx)
{
    if (!io || !render)
        return GV_EINVAL;
    io->render = render;
    io->render_ctx = ctx;
    io->watch_checked_us = io->cap_side.watch_from_us = io->play_side.watch_from_us = monotonic_us();
    /* Unpausing takes SDL's device lock, which publishes render to the
     * callback's thread. */
    if (io->play_dev)
        SDL_PauseAudioDevice(io->play_dev, 0);
    if (io->pulse)
        return audio_pulse_start(io->pulse);
    return GV_OK;
}

static void drain_recording(audio_io *io);

void audio_io_close(audio_io *io)
{
    if (!io)
        return;
    if ((io->cap_side.stalled || io->play_side.stalled) && (io->cap_dev || io->play_dev)) {
        /* SDL's thread for a stalled device is stuck in the driver, and
         * closing would wait for it forever: the devices, and all their
         * callbacks may still touch, are left to the process's exit; should
         * the driver wake up, they no longer reach the caller. */
        atomic_store_explicit(&io->abandoned, 1, memory_order_release);
        drain_recording(io);
        if (io->rec_sf)
            sf_close(io->rec_sf);
        return;
    }
    /* Closing waits for a running callback to return, so the rings are
     * free to go after this. */
    audio_pulse_close(io->pulse);
    if (io->cap_dev)
        SDL_CloseAudioDevice(io->cap_dev);
    if (io->play_dev)
        SDL_CloseAudioDevice(io->play_dev);
    if (io->sdl_up)
        SDL_Quit();
    drain_recording(io);
    gv_ring_destroy(io->cap_ring);
    gv_wakegate_destroy(io->cap_gate);
    gv_ring_destroy(io->rec_ring);
    if (io->wake_fd >= 0)
        close(io->wake_fd);
    if (io->in_sf)
        sf_close(io->in_sf);
    if (io->rec_sf)
        sf_close(io->rec_sf);
    free(io->in_scratch);
    free(io->out_buf);
    free(io->rec_buf);
    free(io);
}

int audio_io_capture_format(const audio_io *io, int *rate, int *channels)
{
    if (!io || !rate || !channels)
        return GV_EINVAL;
    if (io->capture == CAPTURE_NONE)
        return GV_ENOTFOUND;
    *rate = io->cap_rate;
    *channels = io->cap_channels;
    return GV_OK;
}

int audio_io_playback_format(const audio_io *io, int *rate, int *channels)
{
    if (!io || !rate || !channels)
        return GV_EINVAL;
    *rate = io->play_rate;
    *channels = io->play_channels;
    return GV_OK;
}

int audio_io_wake_fd(const audio_io *io)
{
    return io ? io->wake_fd : -1;
}

int audio_io_pace_ms(const audio_io *io)
{
    if (!io)
        return -1;
    /* A virtual device only needs fine pacing when it stands in for a real
     * one: an input file's frames, or a recording of what is heard. */
    if (io->capture == CAPTURE_FILE || (!io->play_device && io->rec_sf))
        return PACED_TICK_MS;
    /* Playback nobody hears still plays out, on the main loop: its jitter
     * buffers count late and lost by a device's steps. Rendered in the
     * 100 ms an idle client may sleep (gv_client_idle_ms), a comfort-noise
     * packet came late. */
    if (!io->play_device && io->render)
        return VIRTUAL_STEP_MS;
    return -1;
}

/* ---- Capture ------------------------------------------------------------- */

/* Reads n frames at the capture format, mixing down files of more than two
 * channels. Returns frames read; fewer at the end of the file. */
static size_t file_read(audio_io *io, float *buf, size_t n)
{
    if (io->in_file_channels == io->cap_channels) {
        sf_count_t got = sf_readf_float(io->in_sf, buf, (sf_count_t)n);
        return got > 0 ? (size_t)got : 0;
    }
    size_t done = 0;
    const size_t fch = (size_t)io->in_file_channels;
    while (done < n) {
        size_t want = n - done < SCRATCH_FRAMES ? n - done : SCRATCH_FRAMES;
        sf_count_t got = sf_readf_float(io->in_sf, io->in_scratch, (sf_count_t)want);
        if (got <= 0)
            break;
        for (size_t f = 0; f < (size_t)got; f++) {
            float sum = 0.0f;
            for (size_t c = 0; c < fch; c++)
                sum += io->in_scratch[f * fch + c];
            buf[done + f] = sum / (float)fch;
        }
        done += (size_t)got;
        if ((size_t)got < want)
            break;
    }
    return done;
}

static void file_skip(audio_io *io, uint64_t frames)
{
    while (frames > 0 && !io->in_eof) {
        size_t n = frames < SCRATCH_FRAMES ? (size_t)frames : SCRATCH_FRAMES;
        sf_count_t got = sf_readf_float(io->in_sf, io->in_scratch, (sf_count_t)n);
        if (got < (sf_count_t)n)
            io->in_eof = 1;
        frames -= n;
    }
}

static size_t read_file_capture(audio_io *io, float *buf, size_t max_frames)
{
    if (!io->in_pace.started) {
        pace_start(&io->in_pace);
        io->in_start_unix_ms = realtime_ms();
        return 0;
    }
    uint64_t clock = pace_due(&io->in_pace, io->cap_rate, io->clock_ppm);
    uint64_t due = clock > io->in_pace.frames ? clock - io->in_pace.frames : 0;
    /* Like a device ring that overflows; dropping the oldest keeps frame k
     * of the file due at start + k / rate, which is what latency is
     * measured against. */
    uint64_t backlog = ms_frames(io->cap_rate, BACKLOG_MS);
    if (due > backlog) {
        file_skip(io, due - backlog);
        io->in_pace.frames += due - backlog;
        due = backlog;
        atomic_fetch_add_explicit(&io->overruns, 1, memory_order_relaxed);
    }
    size_t n = due < max_frames ? (size_t)due : max_frames;
    size_t got = io->in_eof ? 0 : file_read(io, buf, n);
    if (got < n) {
        io->in_eof = 1;
        memset(buf + got * (size_t)io->cap_channels, 0,
               (n - got) * (size_t)io->cap_channels * sizeof(float));
    }
    io->in_pace.frames += n;
    return n;
}

size_t audio_io_read_capture(audio_io *io, float *buf, size_t max_frames)
{
    if (!io || !buf || max_frames == 0)
        return 0;
    switch (io->capture) {
    case CAPTURE_FILE:
        return read_file_capture(io, buf, max_frames);
    case CAPTURE_DEVICE: {
        uint64_t count;
        ssize_t r = read(io->wake_fd, &count, sizeof count);
        (void)r;
        if (!io->cap_running && io->cap_dev) {
            /* Started on demand so that what was said while the program
             * was still connecting is not delivered late. */
            SDL_PauseAudioDevice(io->cap_dev, 0);
        }
        io->cap_running = 1;
        return gv_ring_read(io->cap_ring, buf, max_frames * (size_t)io->cap_channels) /
               (size_t)io->cap_channels;
    }
    case CAPTURE_NONE:
        break;
    }
    return 0;
}

/* ---- Playback ------------------------------------------------------------ */

static void record(audio_io *io, const float *buf, size_t frames)
{
    if (!io->rec_sf || io->rec_failed || frames == 0)
        return;
    if (sf_writef_float(io->rec_sf, buf, (sf_count_t)frames) != (sf_count_t)frames)
        io->rec_failed = 1;
}

static void record_silence(audio_io *io, uint64_t frames)
{
    if (!io->rec_sf)
        return;
    const size_t chunk = sizeof(zeros) / sizeof(zeros[0]) / (size_t)io->play_channels;
    while (frames > 0) {
        size_t n = frames < chunk ? (size_t)frames : chunk;
        record(io, zeros, n);
        frames -= n;
    }
}

static void drain_recording(audio_io *io)
{
    if (!io->rec_ring)
        return;
    const size_t ch = (size_t)io->play_channels;
    size_t n;
    while ((n = gv_ring_read(io->rec_ring, io->rec_buf, SCRATCH_FRAMES * ch)) > 0)
        record(io, io->rec_buf, n / ch);
}

/* A virtual device 10 ms ahead of CLOCK_MONOTONIC, so the mixer runs as
 * with a device. */
static void pump_virtual(audio_io *io)
{
    const uint64_t lead = ms_frames(io->play_rate, PACED_LEAD_MS);
    uint64_t want;
    if (!io->out_pace.started) {
        pace_start(&io->out_pace);
        atomic_store(&io->rec_start_unix_ms, io->rec_sf ? (long long)realtime_ms() : -1);
        want = lead;
    } else {
        uint64_t played = pace_due(&io->out_pace, io->play_rate, io->clock_ppm);
        uint64_t written = io->out_pace.frames;
        if (played > written + ms_frames(io->play_rate, PACED_SLACK_MS)) {
            /* A stall: the virtual device played silence meanwhile. */
            record_silence(io, played - written);
            io->out_pace.frames = played;
            written = played;
            atomic_fetch_add_explicit(&io->underruns, 1, memory_order_relaxed);
        }
        want = played + lead > written ? played + lead - written : 0;
    }
    while (want > 0) {
        size_t n = want < io->out_buf_frames ? (size_t)want : io->out_buf_frames;
        io->render(io->render_ctx, io->out_buf, n);
        record(io, io->out_buf, n);
        io->out_pace.frames += n;
        want -= n;
    }
}

void audio_io_pump_playback(audio_io *io)
{
    if (!io || !io->render)
        return;
    if (io->play_device)
        drain_recording(io);
    else
        pump_virtual(io);
}

void audio_io_set_audible(audio_io *io, int audible)
{
    if (!io || !io->pulse || !io->play_device || io->rec_sf || !io->render || io->asleep == !audible)
        return;
    if (audio_pulse_pause_playback(io->pulse, !audible) == GV_OK) {
        io->asleep = !audible;
        if (audible)
            io->play_side.watch_from_us = monotonic_us();
    }
}

void audio_io_set_capture_quiet(audio_io *io, float quiet_db)
{
    if (io && io->cap_gate)
        gv_wakegate_set_quiet(io->cap_gate, quiet_db);
}

int64_t audio_io_input_start_unix_ms(const audio_io *io)
{
    return io ? io->in_start_unix_ms : -1;
}

int64_t audio_io_record_start_unix_ms(const audio_io *io)
{
    return io ? atomic_load(&((audio_io *)io)->rec_start_unix_ms) : -1;
}

int audio_io_record_error(const audio_io *io)
{
    if (!io)
        return GV_OK;
    return io->rec_failed || atomic_load(&((audio_io *)io)->rec_dropped) ? GV_EIO : GV_OK;
}

uint64_t audio_io_capture_lag_us(const audio_io *io)
{
    if (!io || io->capture != CAPTURE_DEVICE)
        return 0;
    uint64_t at = atomic_load_explicit(&io->captured_at_us, memory_order_relaxed);
    uint64_t now = monotonic_us();
    size_t waiting = gv_ring_readable(io->cap_ring) / (size_t)io->cap_channels;
    return (at && now > at ? now - at : 0) + (uint64_t)waiting * 1000000u / (uint64_t)io->cap_rate;
}

int audio_io_echo_path(const audio_io *io)
{
    return io && io->capture == CAPTURE_DEVICE && io->play_device;
}

void audio_io_get_device_stats(const audio_io *io, int capture, audio_io_device_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!io || (capture ? io->capture != CAPTURE_DEVICE : !io->play_device))
        return;
    audio_io *w = (audio_io *)io;
    out->open = 1;
    audio_pulse_info info;
    if (io->pulse && audio_pulse_info_get(io->pulse, capture, &info) == 0) {
        out->backend = "pulse";
        out->rate = info.rate;
        out->channels = info.channels;
        out->buffer_ms = info.buffer_ms;
        /* A monitor source reads below zero: PulseAudio subtracts its
         * sink's latency. What this stream adds is then nothing. */
        out->latency_ms = info.latency_ms > 0 ? info.latency_ms : 0.0;
        out->underruns = info.underruns;
        out->overruns = info.overruns + (capture ? atomic_load(&w->overruns) : 0);
        out->grown = info.grown;
        out->shortened = info.shortened;
        out->realtime = info.realtime;
        return;
    }
    out->backend = "sdl";
    out->rate = capture ? io->cap_rate : io->play_rate;
    out->channels = capture ? io->cap_channels : io->play_channels;
    out->buffer_ms = capture ? io->cap_buffer_ms : io->play_buffer_ms;
    /* SDL 2 does not say how long the sound server holds a stream. */
    out->latency_ms = -1.0;
    /* Nor whether its audio thread got the priority it asks for. */
    out->realtime = -1;
    if (capture)
        out->overruns = atomic_load_explicit(&w->overruns, memory_order_relaxed);
    else
        out->underruns = atomic_load_explicit(&w->underruns, memory_order_relaxed);
}

/* ---- Keeping the devices ------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void say(audio_io *io, int capture, int lost, const char *fmt, ...)
{
    side *sd = capture ? &io->cap_side : &io->play_side;
    sd->down = lost;
    if (!lost) {
        sd->stalled = 0;
        sd->watch_from_us = monotonic_us();
    }
    va_list ap;
    va_start(ap, fmt);
    audio_events_push(&io->events, capture, lost, !lost && sd->fallback, sd->name, fmt, ap);
    va_end(ap);
}

/* A running device that stops calling back is reported lost; when it
 * calls back again, back. */
static void watch_stall(audio_io *io, int capture, int running, atomic_ullong *at_us, uint64_t now)
{
    side *sd = capture ? &io->cap_side : &io->play_side;
    uint64_t at = atomic_load_explicit(at_us, memory_order_relaxed);
    if (sd->stalled) {
        if (at > sd->watch_from_us)
            say(io, capture, 0, "%s", "");
        return;
    }
    if (!running || sd->down)
        return;
    if (at < sd->watch_from_us)
        at = sd->watch_from_us;
    if (now > at && now - at > STALL_US) {
        sd->stalled = 1;
        sd->watch_from_us = now;
        say(io, capture, 1, "the %s device stopped calling back for %u s (the sound server stalled?)",
            capture ? "capture" : "playback", STALL_US / 1000000u);
    }
}

static void watch_stalls(audio_io *io, uint64_t now)
{
    /* When this loop was stopped itself (SIGSTOP, a debugger, a suspended
     * laptop), so were the callbacks: the watch starts over. */
    if (now - io->watch_checked_us > STALL_US / 4)
        io->cap_side.watch_from_us = io->play_side.watch_from_us = now;
    io->watch_checked_us = now;
    watch_stall(io, 1, io->capture == CAPTURE_DEVICE, &io->captured_at_us, now);
    watch_stall(io, 0, io->play_device && !io->asleep, &io->rendered_at_us, now);
}

static void keep_pulse(audio_io *io)
{
    audio_event pe;
    while (audio_pulse_service(io->pulse, &pe)) {
        side *sd = pe.capture ? &io->cap_side : &io->play_side;
        snprintf(sd->name, sizeof(sd->name), "%s", pe.name);
        sd->fallback = pe.fallback;
        if (!pe.lost) {
            say(io, pe.capture, 0, "%s", "");
        } else {
            /* A stall that turned into a loss is back when the stream is. */
            sd->stalled = 0;
            if (!sd->down)
                say(io, pe.capture, 1, "%s", pe.reason);
        }
    }
}

/* Opens the chosen device if SDL lists it, else (with none in use) the
 * default, in the format in use (SDL converts), and starts it in place of
 * the one in use, if any. */
static void sdl_reopen(audio_io *io, int capture, uint64_t now)
{
    side *sd = capture ? &io->cap_side : &io->play_side;
    SDL_AudioDeviceID *dev = capture ? &io->cap_dev : &io->play_dev;
    const char *name = sd->chosen[0] && sdl_listed(capture, sd->chosen) ? sd->chosen : NULL;
    const SDL_AudioSpec want = capture ? device_spec(io, 1, io->cap_rate, io->cap_channels, io->capture_ms)
                                       : device_spec(io, 0, io->play_rate, io->play_channels, io->buffer_ms);
    SDL_AudioSpec got;
    SDL_AudioDeviceID id = SDL_OpenAudioDevice(name, capture, &want, &got, 0);
    if (id == 0 && name && !*dev) {
        name = NULL;
        id = SDL_OpenAudioDevice(NULL, capture, &want, &got, 0);
    }
    if (id == 0)
        return;
    /* Closing waits for the old device's callback, so the two never run
     * at once. */
    if (*dev)
        SDL_CloseAudioDevice(*dev);
    *dev = id;
    if (capture)
        io->cap_buffer_ms = 1000.0 * got.samples / got.freq;
    else
        io->play_buffer_ms = 1000.0 * got.samples / got.freq;
    sdl_name(sd, name);
    sd->fallback = sd->chosen[0] && !name;
    sd->retry_at_us = now + RETRY_US;
    if (!capture || io->cap_running)
        SDL_PauseAudioDevice(id, 0);
    say(io, capture, 0, "%s", "");
}

static void keep_sdl(audio_io *io, int capture, uint64_t now)
{
    side *sd = capture ? &io->cap_side : &io->play_side;
    SDL_AudioDeviceID *dev = capture ? &io->cap_dev : &io->play_dev;
    if (capture ? io->capture != CAPTURE_DEVICE : !io->play_device)
        return;
    /* SDL stops a device it lost (unplugged, sound server gone). One that
     * stalled is stuck in the driver, where closing it would wait for as
     * long: it is left alone. */
    if (*dev && SDL_GetAudioDeviceStatus(*dev) == SDL_AUDIO_STOPPED) {
        if (!sd->down)
            say(io, capture, 1, "the %s device stopped (unplugged, or the sound server went away)",
                capture ? "capture" : "playback");
        sd->stalled = 0;
        SDL_CloseAudioDevice(*dev);
        *dev = 0;
        sd->retry_at_us = now;
    }
    if (sd->stalled || now < sd->retry_at_us || (*dev && !sd->fallback))
        return;
    sd->retry_at_us = now + RETRY_US;
    if (*dev && !sdl_listed(capture, sd->chosen))
        return;
    /* SDL keeps its device lists, and with PulseAudio its connection, of
     * the sound server it started with: one restarted is only found by
     * starting SDL's audio afresh, which closes every device. */
    if (!io->cap_dev && !io->play_dev) {
        SDL_QuitSubSystem(SDL_INIT_AUDIO);
        if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0)
            return;
    }
    sdl_reopen(io, capture, now);
}

int audio_io_service(audio_io *io, audio_event *ev)
{
    if (!io || !ev)
        return 0;
    if (io->events.count == 0 && io->render) {
        uint64_t now = monotonic_us();
        if (io->pulse) {
            keep_pulse(io);
        } else if (io->sdl_up) {
            keep_sdl(io, 1, now);
            keep_sdl(io, 0, now);
        }
        watch_stalls(io, now);
    }
    return audio_events_pop(&io->events, ev);
}

/* ---- Listing ------------------------------------------------------------- */

static int list_kind(FILE *out, int capture)
{
    int count = SDL_GetNumAudioDevices(capture);
    fprintf(out, "%s devices (%s NAME):\n", capture ? "capture" : "playback",
            capture ? "--input-device" : "--output-device");
    if (count < 0) {
        fprintf(out, "  (this audio driver cannot list them; the default device may still work)\n");
        return 1;
    }
    if (count == 0)
        fprintf(out, "  (none)\n");
    for (int i = 0; i < count; i++) {
        const char *name = SDL_GetAudioDeviceName(i, capture);
        SDL_AudioSpec spec;
        if (SDL_GetAudioDeviceSpec(i, capture, &spec) == 0 && spec.freq > 0)
            fprintf(out, "  %s (%d Hz, %d ch)\n", name ? name : "(unnamed)", spec.freq, spec.channels);
        else
            fprintf(out, "  %s\n", name ? name : "(unnamed)");
    }
    return count;
}

int audio_io_list_devices(FILE *out, int backend)
{
    if (!out)
        return GV_EINVAL;
    if (resolve_backend(backend) == AUDIO_BACKEND_PULSE)
        return audio_pulse_list(out);
    char why[256];
    if (sdl_start(why, sizeof(why)) != GV_OK) {
        fprintf(out, "%s\n", why);
        return GV_ENOTFOUND;
    }
    fprintf(out, "audio driver: %s\n", SDL_GetCurrentAudioDriver());
    int found = list_kind(out, 1);
    found += list_kind(out, 0);
    if (found == 0)
        fprintf(out, "no audio devices found (no sound card?); --input-file and --record work "
                     "without one\n");
    SDL_Quit();
    return found > 0 ? GV_OK : GV_ENOTFOUND;
}

/* ---- Watching ------------------------------------------------------------ */

typedef struct name_list {
    char **names;
    int count;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

/* SDL's list of one kind (none when its driver cannot list). Returns 0
 * or GV_ENOMEM. */
static int names_get(int capture, name_list *out)
{
    int count = SDL_GetNumAudioDevices(capture);
    out->names = NULL;
    out->count = 0;
    if (count <= 0)
        return GV_OK;
    out->names = calloc((size_t)count, sizeof *out->names);
    if (!out->names)
        return GV_ENOMEM;
    for (int i = 0; i < count; i++) {
        const char *name = SDL_GetAudioDeviceName(i, capture);
        out->names[out->count] = strdup(name ? name : "(unnamed)");
        if (!out->names[out->count++]) {
            names_free(out);
            return GV_ENOMEM;
        }
    }
    return GV_OK;
}

/* Reports, as change, each name of to that from does not have (as many
 * times as it has it more often). */
static void names_report(const name_list *from, const name_list *to, int change, int capture, audio_io_device_fn fn,
                         void *ctx)
{
    for (int i = 0; i < to->count; i++) {
        int in_to = 0, in_from = 0;
        for (int j = 0; j <= i; j++)
            in_to += strcmp(to->names[j], to->names[i]) == 0;
        for (int j = 0; j < from->count; j++)
            in_from += strcmp(from->names[j], to->names[i]) == 0;
        if (in_to > in_from)
            fn(ctx, change, capture, to->names[i]);
    }
}

static void nap_ms(int ms, const volatile sig_atomic_t *stop)
{
    for (int t = 0; t < ms && !*stop; t += WATCH_TICK_MS) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = WATCH_TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* SDL tells of devices coming and going only through its event queue,
 * which needs more of SDL; its lists are kept current, and compared. */
static int watch_sdl(int watch, audio_io_device_fn fn, void *ctx, const volatile sig_atomic_t *stop, char *why,
                     size_t why_len)
{
    if (sdl_start(why, why_len) != GV_OK)
        return GV_ENOTFOUND;
    name_list seen[2] = {{0}, {0}}, none = {0};
    int err = GV_OK;
    for (int c = 0; c < 2 && !err; c++) {
        err = names_get(c, &seen[c]);
        if (!err)
            names_report(&none, &seen[c], 0, c, fn, ctx);
    }
    if (!err && !watch && seen[0].count + seen[1].count == 0) {
        reason_set(why, why_len, "no audio devices found (no sound card?); --input-file and --record work without one");
        err = GV_ENOTFOUND;
    }
    while (!err && watch && !*stop) {
        nap_ms(WATCH_POLL_MS, stop);
        for (int c = 0; c < 2 && !err && !*stop; c++) {
            name_list now;
            err = names_get(c, &now);
            if (err)
                break;
            names_report(&now, &seen[c], -1, c, fn, ctx);
            names_report(&seen[c], &now, 1, c, fn, ctx);
            names_free(&seen[c]);
            seen[c] = now;
        }
    }
    if (err == GV_ENOMEM)
        reason_set(why, why_len, "out of memory");
    names_free(&seen[0]);
    names_free(&seen[1]);
    SDL_Quit();
    return err;
}

int audio_io_watch_devices(int backend, int watch, audio_io_device_fn fn, void *ctx, const volatile sig_atomic_t *stop,
                           char *why, size_t why_len)
{
    reason_set(why, why_len, "%s", "");
    if (!fn || !stop)
        return GV_EINVAL;
    if (resolve_backend(backend) == AUDIO_BACKEND_PULSE)
        return audio_pulse_watch(watch, fn, ctx, stop, why, why_len);
    return watch_sdl(watch, fn, ctx, stop, why, why_len);
}
