/* A minimal game-side embedding of libgvoip, without audio devices: join a
 * lobby, "speak" a short beep every two seconds through push_capture, pull
 * the mixed output as a game's audio callback would, and print once a
 * second how loud the others are. A real game moves samples between its
 * audio thread and this loop with gv_ring (gvoip/ring.h). When the server
 * goes quiet or away the library keeps the lobby and connects anew on its
 * own (cfg.reconnect_ms, two minutes by default): the bot only says so,
 * and gives up when the library does (SERVER_DISCONNECTED).
 *
 *   voice_bot HOST PORT [SECONDS]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gvoip/gvoip.h>

#define RATE 44100     /* any rate works: the library resamples */
#define TICK_FRAMES 441 /* 10 ms at 44.1 kHz */

static void sleep_10ms(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: voice_bot HOST PORT [SECONDS]\n");
        return 2;
    }
    int seconds = argc > 3 ? atoi(argv[3]) : 10;
    if (gv_init() != 0)
        return 1;

    gv_client_config cfg;
    gv_client_config_default(&cfg);
    cfg.server_host = argv[1];
    cfg.server_port = (uint16_t)atoi(argv[2]);
    cfg.name = "voice_bot";
    cfg.known_servers_file = ""; /* a bot: no trust-on-first-use file */
    /* No microphone, no room: what it says is made clean and at the level
     * it means (a steady beep is what a noise suppressor removes). */
    cfg.echo_cancel = GV_ECHO_CANCEL_OFF;
    cfg.noise_suppression = 0;
    cfg.auto_gain = 0;
    gv_client *client = NULL;
    int rc = gv_client_create(&cfg, &client);
    if (rc < 0) {
        fprintf(stderr, "voice_bot: %s\n", gv_strerror(rc));
        return 1;
    }

    float mic[TICK_FRAMES], speaker[TICK_FRAMES * 2];
    double energy = 0, phase = 0;
    int status = 0;
    for (int tick = 0; tick < seconds * 100; tick++) {
        /* The size tells the library how much of an event this program
         * knows of (gvoip.h: evolution). */
        gv_event ev = {.size = sizeof ev};
        while ((rc = gv_client_service(client, &ev, 0)) > 0) {
            if (ev.type == GV_EVENT_CONNECTED)
                printf("joined as %s (id %u)\n", ev.name, (unsigned)ev.id);
            else if (ev.type == GV_EVENT_PLAYER_CONNECTED)
                printf("%s is here\n", ev.name);
            else if (ev.type == GV_EVENT_RECONNECTING)
                printf("reconnecting (attempt %d): %s\n", ev.attempt, ev.reason);
            else if (ev.type == GV_EVENT_RECONNECTED)
                printf("reconnected as %s (id %u)%s\n", ev.name, (unsigned)ev.id,
                       ev.resumed ? "" : ", a newcomer to a restarted server");
            else if (ev.type == GV_EVENT_CONNECTION_FAILED || ev.type == GV_EVENT_SERVER_DISCONNECTED) {
                printf("gone: %s\n", ev.reason);
                status = 3;
                goto out;
            }
        }
        /* The microphone: a 440 Hz beep during the first 300 ms of every
         * two seconds, silence otherwise. */
        int beeping = tick % 200 < 30;
        for (int i = 0; i < TICK_FRAMES; i++) {
            mic[i] = beeping ? 0.3f * (float)sin(phase) : 0.0f;
            phase += 2 * M_PI * 440 / RATE;
        }
        gv_client_push_capture(client, mic, TICK_FRAMES, RATE, 1);

        /* The speaker: what everyone else says, mixed, in stereo. */
        gv_client_pull_mix(client, speaker, TICK_FRAMES, RATE, 2);
        for (int i = 0; i < TICK_FRAMES * 2; i++)
            energy += speaker[i] * speaker[i];
        if (tick % 100 == 99) {
            printf("heard level %.1f dBFS\n", 10 * log10(energy / (TICK_FRAMES * 2 * 100) + 1e-12));
            fflush(stdout);
            energy = 0;
        }
        sleep_10ms();
    }
out:
    gv_client_destroy(client);
    return status;
}
