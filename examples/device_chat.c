/* A game's audio devices wired to libgvoip, with SDL2: the smallest voice
 * chat that talks through a real microphone and speaker.
 *
 * The sound card's clock drives playback: SDL's playback callback (its
 * audio thread) calls gv_client_pull_mix directly, which is real-time safe
 * once gv_client_prepare_playback has been told the format. The capture
 * callback only copies samples into a gv_ring and wakes the main thread,
 * which pushes them to the library (encoding and sending belong to the
 * thread that services the network). The main thread sleeps in poll() on
 * the client's socket and the capture wake-up: no fixed tick. With voice
 * activation, a gv_wakegate lets a quiet room's audio wait, and the
 * client's timers say how long the thread may sleep.
 *
 * Echo cancellation: a game plays its own sounds through the same speaker,
 * and the microphone hears all of them, so the canceller must be given the
 * device's final mix, not gvoip's alone. Here the playback callback adds
 * the game's sound to the voice mix and hands the result to
 * gv_client_push_echo_reference (GV_ECHO_CANCEL_EXTERNAL); the devices'
 * buffer sizes tell the library how to line it up with the microphone.
 * A program that plays gvoip's mix alone can keep the default,
 * GV_ECHO_CANCEL_MIX, and skip that call.
 *
 *   device_chat HOST PORT [SECONDS]
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <SDL.h>
#include <gvoip/gvoip.h>
#include <gvoip/ring.h>
#include <gvoip/wakegate.h>

#define RATE 48000
#define PERIOD 480 /* 10 ms device buffers */

typedef struct chat {
    gv_client *client;
    gv_ring *mic;
    gv_wakegate *gate; /* whether captured audio must wake the main thread */
    int wake;          /* eventfd: captured audio waits */
    atomic_int heard; /* playback periods with sound in them */
} chat;

/* SDL's audio thread: nothing here allocates, locks or logs. */
static void on_playback(void *ctx, Uint8 *stream, int len)
{
    chat *c = ctx;
    float *out = (float *)(void *)stream;
    size_t frames = (size_t)len / (2 * sizeof(float));
    gv_client_pull_mix(c->client, out, frames, RATE, 2);
    /* The game's own sounds would be mixed into out here. */
    gv_client_push_echo_reference(c->client, out, frames, RATE, 2);
    float peak = 0;
    for (size_t i = 0; i < frames * 2; i++)
        peak = out[i] > peak ? out[i] : -out[i] > peak ? -out[i] : peak;
    if (peak > 0.01f)
        atomic_fetch_add_explicit(&c->heard, 1, memory_order_relaxed);
}

static void on_capture(void *ctx, Uint8 *stream, int len)
{
    chat *c = ctx;
    const float *in = (const float *)(const void *)stream;
    size_t frames = (size_t)len / sizeof(float);
    gv_ring_write(c->mic, in, frames);
    /* A room too quiet to start a transmission may wait up to 100 ms:
     * an idle client then wakes 10 times a second, not 100. */
    if (!gv_wakegate_block(c->gate, in, frames))
        return;
    uint64_t one = 1;
    ssize_t w = write(c->wake, &one, sizeof one); /* non-blocking counter */
    (void)w;
}

/* Opens a device; *buffer_us gets the length of the buffer SDL granted. */
static SDL_AudioDeviceID open_device(chat *c, int capture, uint32_t *buffer_us)
{
    SDL_AudioSpec want = {.freq = RATE, .format = AUDIO_F32SYS, .channels = capture ? 1 : 2,
                          .samples = PERIOD, .callback = capture ? on_capture : on_playback, .userdata = c};
    SDL_AudioSpec got;
    /* No changes allowed: SDL converts to exactly this format. */
    SDL_AudioDeviceID dev = SDL_OpenAudioDevice(NULL, capture, &want, &got, 0);
    if (!dev)
        fprintf(stderr, "device_chat: cannot open the %s device: %s\n", capture ? "capture" : "playback",
                SDL_GetError());
    else
        *buffer_us = (uint32_t)((uint64_t)got.samples * 1000000u / (uint64_t)got.freq);
    return dev;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: device_chat HOST PORT [SECONDS]\n");
        return 2;
    }
    int seconds = argc > 3 ? atoi(argv[3]) : 10;
    if (gv_init() != 0 || SDL_Init(SDL_INIT_AUDIO) != 0)
        return 1;
    chat c = {.wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    atomic_init(&c.heard, 0);
    gv_client_config cfg;
    gv_client_config_default(&cfg);
    cfg.server_host = argv[1];
    cfg.server_port = (uint16_t)atoi(argv[2]);
    cfg.name = "device_chat";
    cfg.known_servers_file = "";
    cfg.echo_cancel = GV_ECHO_CANCEL_EXTERNAL;
    cfg.transmit_mode = GV_TX_VOICE_ACTIVITY;
    int status = 1;
    SDL_AudioDeviceID play = 0, rec = 0;
    if (c.wake < 0 || gv_ring_create(RATE / 4, &c.mic) != 0 ||
        gv_wakegate_create(RATE, 1, cfg.frame_ms, &c.gate) != 0 || gv_client_create(&cfg, &c.client) != 0 ||
        gv_client_prepare_playback(c.client, RATE, 2) != 0)
        goto out;
    uint32_t play_us = 0, rec_us = 0;
    if (!(play = open_device(&c, 0, &play_us)) || !(rec = open_device(&c, 1, &rec_us)))
        goto out;
    /* SDL2 reports no latency: a buffer each way is the best estimate it
     * gives (the canceller searches beyond it for the echo). */
    gv_client_set_device_latency(c.client, rec_us, play_us);
    /* Unpausing publishes the client and the ring to SDL's thread. */
    SDL_PauseAudioDevice(play, 0);
    SDL_PauseAudioDevice(rec, 0);

    float mic[PERIOD * 4];
    uint64_t end = now_ms() + (uint64_t)seconds * 1000u;
    status = 0;
    while (status == 0 && now_ms() < end) {
        struct pollfd fds[2] = {{.fd = c.wake, .events = POLLIN}, {.fd = gv_client_fd(c.client), .events = POLLIN}};
        poll(fds, fds[1].fd >= 0 ? 2 : 1, (int)gv_client_idle_ms(c.client));
        uint64_t count;
        ssize_t r = read(c.wake, &count, sizeof count);
        (void)r;
        size_t n;
        while ((n = gv_ring_read(c.mic, mic, sizeof mic / sizeof mic[0])) > 0)
            gv_client_push_capture(c.client, mic, n, RATE, 1);
        gv_wakegate_set_quiet(c.gate, gv_client_capture_quiet_db(c.client));
        gv_event ev = {.size = sizeof ev};
        int rc;
        while ((rc = gv_client_service(c.client, &ev, 0)) > 0) {
            if (ev.type == GV_EVENT_CONNECTED)
                printf("joined as %s (id %u)\n", ev.name, (unsigned)ev.id);
            else if (ev.type == GV_EVENT_PLAYER_CONNECTED)
                printf("%s is here\n", ev.name);
            else if (ev.type == GV_EVENT_CONNECTION_FAILED || ev.type == GV_EVENT_SERVER_DISCONNECTED) {
                printf("gone: %s\n", ev.reason);
                status = 3;
            }
        }
        fflush(stdout);
    }
    printf("heard sound in %d periods\n", atomic_load(&c.heard));
out:
    /* Closing waits for the callbacks to return: only then may the client
     * they call go. */
    if (rec)
        SDL_CloseAudioDevice(rec);
    if (play)
        SDL_CloseAudioDevice(play);
    gv_client_destroy(c.client);
    gv_ring_destroy(c.mic);
    gv_wakegate_destroy(c.gate);
    if (c.wake >= 0)
        close(c.wake);
    SDL_Quit();
    return status;
}
