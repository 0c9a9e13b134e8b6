/* gvoip: run a dedicated lobby server, host a lobby as player 1, or join
 * one, talking through real audio devices or files. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "allocate.h"
#include "clock.h"
#include "audio_io.h"
#include "fleetcert.h"
#include "gvoip/gvoip.h"
#include "metrics.h"
#include "options.h"
#include "output.h"
#include "stats.h"
#include "token.h"
#include "tui.h"
#include "workers.h"

/* The most a --token-key file may hold: 16 keys and many comments. */
#define TOKEN_KEYS_FILE_MAX 65536

/* The longest the main loop sleeps with nothing to do while it hosts a
 * server or redraws the screen; a client alone sleeps as long as its
 * timers allow (gv_client_idle_ms: 100 ms on a quiet, steady session). */
#define IDLE_MS 20
#define MAX_IO_FRAMES 8192
/* Playback sleeps after this long with nobody to hear: a speaker's first
 * packet wakes it (about a millisecond). Waking costs the next words about
 * 8 ms of delay until the jitter buffer drains it (the sound server's
 * first request after the uncork comes after the spurt's time), so with
 * others in the lobby a pause in the conversation keeps it awake far
 * longer than alone. */
#define QUIET_MS 3000
#define QUIET_TOGETHER_MS 20000
/* The sound server's latency figures are looked at this often, averaged
 * over this many looks, and passed on when the average moved this far. */
#define LATENCY_CHECK_MS 500
#define LATENCY_AVERAGE 8.0
#define LATENCY_SLACK_MS 5.0

static volatile sig_atomic_t quit_requested;

static void on_signal(int sig)
{
    (void)sig;
    quit_requested = 1;
}

/* SIGINT, SIGTERM and SIGHUP (the terminal closed) end the main loop,
 * which then leaves cleanly: peers are told, stats written, the recording
 * finalised. SDL's own handlers are disabled (audio_io sets the hint) so
 * that this holds with and without audio devices. */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The password comes from a file or the environment, never argv, which
 * every local user can read. */
static int load_password(const gvoip_options *opt, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (opt->password_file) {
        FILE *f = fopen(opt->password_file, "r");
        if (!f) {
            output_error(0, "cannot read password file %s: %s", opt->password_file, strerror(errno));
            return -1;
        }
        size_t n = fread(buf, 1, cap, f);
        int more = fgetc(f) != EOF;
        fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (more || n > 128) {
            output_error(0, "the password in %s is longer than 128 bytes", opt->password_file);
            return -1;
        }
        *len = n;
        return 0;
    }
    const char *env = getenv("GVOIP_PASSWORD");
    if (env) {
        size_t n = strlen(env);
        if (n > 128 || n > cap) {
            output_error(0, "GVOIP_PASSWORD is longer than 128 bytes");
            return -1;
        }
        memcpy(buf, env, n);
        *len = n;
    }
    return 0;
}

/* A small file whole, as text: NULL after saying why (unreadable, or more
 * than cap bytes). The caller frees it. */
static char *read_text(const char *path, size_t cap, const char *what)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        output_error(0, "cannot read %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *text = malloc(cap + 1);
    size_t n = text ? fread(text, 1, cap, f) : 0;
    int failed = !text || ferror(f), more = !failed && fgetc(f) != EOF;
    fclose(f);
    if (failed || more) {
        if (more)
            output_error(0, "%s %s is longer than %zu bytes", what, path, cap);
        else
            output_error(0, "cannot read %s %s", what, path);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* The access token, like the password, from a file or the environment,
 * never argv: whoever holds it joins as its player. *out NULL: none. */
static int load_token(const gvoip_options *opt, char **out)
{
    *out = NULL;
    const char *env = getenv("GVOIP_TOKEN");
    char *text;
    if (opt->token_file) {
        if (!(text = read_text(opt->token_file, GV_TOKEN_TEXT_MAX + 2, "token file")))
            return -1;
    } else if (env) {
        if (!(text = strdup(env))) {
            output_error(0, "out of memory");
            return -1;
        }
    } else {
        return 0;
    }
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    *out = text;
    return 0;
}

static void free_secret(char *text)
{
    if (text)
        sodium_memzero(text, strlen(text));
    free(text);
}

static int create_server(const gvoip_options *opt, const char *password, size_t password_len, int local_host,
                         gv_server **out)
{
    gv_server_config cfg = opt->server;
    char why[512];
    cfg.password = (const uint8_t *)password;
    cfg.password_len = password_len;
    cfg.local_host = local_host;
    int rc = gv_server_create(&cfg, out, why, sizeof why);
    if (rc < 0) {
        output_error(opt->json, "cannot start the server: %s", why[0] ? why : gv_strerror(rc));
        return rc == GV_EKEY ? EXIT_USAGE : EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* --threads' default: a worker per core. */
static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > GV_DIRECTORY_WORKERS_MAX ? GV_DIRECTORY_WORKERS_MAX : (int)n;
}

static int run_server(const gvoip_options *opt, const char *password, size_t password_len)
{
    int threads = opt->threads ? opt->threads : cores();
    /* A node of a fleet runs through the directory, whose gate asks the
     * fleet, even on one thread. */
    workers_fleet fleet = {opt->redis_url, opt->advertise_host, opt->advertise_port, opt->drain_s};
    if (threads > 1 || opt->redis_url) {
        gv_server_config cfg = opt->server;
        cfg.password = (const uint8_t *)password;
        cfg.password_len = password_len;
        return workers_run(&cfg, threads, opt->json, opt->duration, opt->stats_file, opt->metrics_host,
                           opt->metrics_port, opt->redis_url ? &fleet : NULL, &quit_requested);
    }
    gv_server *server = NULL;
    int code = create_server(opt, password, password_len, 0, &server);
    if (code != EXIT_OK)
        return code;
    /* --metrics is served from this loop, on the server's own thread: its
     * figures are read directly. */
    metrics *m = NULL;
    if (opt->metrics_host) {
        char why[512];
        int rc = metrics_open(opt->metrics_host, opt->metrics_port, 1, metrics_collect_server, server, &m, why,
                              sizeof why);
        if (rc < 0) {
            output_error(opt->json, "%s", why[0] ? why : gv_strerror(rc));
            gv_server_destroy(server);
            return EXIT_RUNTIME;
        }
    }
    uint64_t end = opt->duration > 0 ? clock_mono_ms() + (uint64_t)(opt->duration * 1000) : 0;
    uint64_t metrics_at = 0;
    while (!quit_requested && (!end || clock_mono_ms() < end)) {
        gv_event ev = {.size = sizeof ev};
        int rc = gv_server_service(server, &ev, 10);
        if (rc < 0) {
            output_error(opt->json, "network error: %s", gv_strerror(rc));
            code = EXIT_RUNTIME;
            break;
        }
        if (rc > 0 && ev.type == GV_EVENT_LISTENING)
            output_listening(&ev, NULL, 1, m ? metrics_port(m) : 0, opt->json);
        else if (rc > 0)
            output_event(&ev, opt->json);
        if (m && clock_mono_ms() >= metrics_at) {
            metrics_poll(m);
            metrics_at = clock_mono_ms() + METRICS_POLL_MS;
        }
    }
    if (m) {
        /* A scrape already asked gets the last figures, and /healthz says
         * the server is stopping. */
        metrics_stopping(m);
        metrics_poll(m);
    }
    if (opt->stats_file && stats_write_server(opt->stats_file, server) != 0 && code == EXIT_OK)
        code = EXIT_RUNTIME;
    gv_server_destroy(server);
    metrics_close(m);
    return code;
}

typedef struct player {
    const gvoip_options *opt;
    gv_server *server; /* host mode only */
    gv_client *client;
    audio_io *io;
    tui *screen; /* NULL: line output */
    gv_player_pose pose;
    int pose_mode; /* the lobby mode the pose's facing was computed for; -1 none yet */
    int capture_rate, capture_channels;
    int playback_rate, playback_channels;
    uint8_t speaking[65536 / 8]; /* players heard speaking now, by id */
    int speaking_count;
    uint64_t quiet_since_ms;
    int echo_cancel; /* the client cancels echo: it needs the devices' timing */
    uint64_t latency_checked_ms;
    double capture_latency_ms, playback_latency_ms; /* as told to the client; < 0 not yet */
    double capture_latency_avg, playback_latency_avg; /* of the sound server's figures; < 0 none yet */
    float buf[MAX_IO_FRAMES * 2];
} player;

/* The playback device's callback (or the virtual device's, on the main
 * thread): the library mixes exactly what the device asks for. */
static void render(void *ctx, float *out, size_t frames)
{
    player *p = ctx;
    if (gv_client_pull_mix(p->client, out, frames, p->playback_rate, p->playback_channels) < 0)
        memset(out, 0, frames * (size_t)p->playback_channels * sizeof *out);
}

/* Moves captured audio to the library, and the virtual device's playback
 * (or the recording of the real one) along. */
static int pump_audio(player *p)
{
    int rc;
    size_t n;
    if (p->capture_rate) {
        while ((n = audio_io_read_capture(p->io, p->buf, MAX_IO_FRAMES)) > 0) {
            if (p->echo_cancel && p->capture_latency_ms >= 0) {
                /* Each push's own age: a main loop that woke late, or
                 * reads a backlog in pieces, pushes older audio. */
                uint64_t lag = audio_io_capture_lag_us(p->io);
                gv_client_set_device_latency(p->client, (uint32_t)(p->capture_latency_ms * 1000 + (double)lag),
                                             (uint32_t)(p->playback_latency_ms * 1000));
            }
            if ((rc = gv_client_push_capture(p->client, p->buf, n, p->capture_rate, p->capture_channels)) < 0)
                return rc;
        }
        audio_io_set_capture_quiet(p->io, gv_client_capture_quiet_db(p->client));
    }
    audio_io_pump_playback(p->io);
    return 0;
}

/* Who is speaking now, for sleep_when_quiet (run after the events). */
static void follow_speakers(player *p, const gv_event *ev)
{
    int own = ev->id == gv_client_id(p->client) && !p->opt->client.echo_test;
    if ((ev->type != GV_EVENT_SPEAKING && ev->type != GV_EVENT_PLAYER_DISCONNECTED) || own)
        return;
    uint8_t bit = (uint8_t)(1u << (ev->id & 7));
    uint8_t *byte = &p->speaking[ev->id >> 3];
    int on = ev->type == GV_EVENT_SPEAKING && ev->on;
    if (on && !(*byte & bit)) {
        *byte |= bit;
        p->speaking_count++;
    } else if (!on && (*byte & bit)) {
        *byte &= (uint8_t)~bit;
        p->speaking_count--;
    }
}

/* Heard is speaking, or sending anything loud enough: the first frame of
 * a word comes before the speaker's voice detector says so (woken by the
 * voice alone, playback started every word after a pause a frame late),
 * and a noisy room sent in continuous mode is heard too. */
static void sleep_when_quiet(player *p)
{
    uint64_t now = clock_mono_ms();
    if (p->speaking_count > 0 || !p->quiet_since_ms || gv_client_loudest_peer_db(p->client) >= GV_AUDIBLE_DBOV) {
        p->quiet_since_ms = now;
        audio_io_set_audible(p->io, 1);
    } else if (now - p->quiet_since_ms >= QUIET_MS) {
        gv_client_stats cs = {.size = sizeof cs};
        if (now - p->quiet_since_ms >= QUIET_TOGETHER_MS || gv_client_get_stats(p->client, &cs) != 0 ||
            cs.peer_count == 0)
            audio_io_set_audible(p->io, 0);
    }
}

/* The echo canceller lines its reference up with the microphone by the
 * devices' latencies, as the sound server reports them, and by how long
 * each push's audio waited in the program (pump_audio). A stream's
 * reported latency is how full its buffer is at that instant, which swings
 * by a callback's worth from one look to the next: what the canceller is
 * told is an average over a few seconds, moved only when it moved by more
 * than LATENCY_SLACK_MS (every move makes the canceller look again). */
static double follow(double told, double *avg, double now_ms)
{
    *avg = *avg < 0 ? now_ms : *avg + (now_ms - *avg) / LATENCY_AVERAGE;
    return told < 0 || fabs(*avg - told) > LATENCY_SLACK_MS ? *avg : told;
}

static void follow_device_latency(player *p)
{
    uint64_t now = clock_mono_ms();
    if (!p->echo_cancel || now < p->latency_checked_ms + LATENCY_CHECK_MS)
        return;
    p->latency_checked_ms = now;
    audio_io_device_stats cap, play;
    audio_io_get_device_stats(p->io, 1, &cap);
    audio_io_get_device_stats(p->io, 0, &play);
    /* Without a figure from the sound server, the buffer it granted. */
    p->capture_latency_ms = follow(p->capture_latency_ms, &p->capture_latency_avg,
                                   cap.latency_ms >= 0 ? cap.latency_ms : cap.buffer_ms);
    p->playback_latency_ms = follow(p->playback_latency_ms, &p->playback_latency_avg,
                                    play.latency_ms >= 0 ? play.latency_ms : play.buffer_ms);
}

/* A device that went away or stalled costs that side's audio, never the
 * session: audio_io opens another (or the same one again) and says so. It
 * asks every device for the format in use, so the playout stays prepared
 * for what the callback pulls. A new device has latencies of its own: the
 * canceller is told them from the first look at it, not from an average
 * that still holds the old device's. */
static void follow_devices(player *p)
{
    audio_event ev;
    while (audio_io_service(p->io, &ev)) {
        if (p->screen) {
            char text[600];
            output_device_sentence(&ev, text, sizeof text);
            tui_note(p->screen, text);
        } else {
            output_device_event(&ev, p->opt->json);
        }
        if (ev.lost)
            continue;
        if (ev.capture)
            p->capture_latency_avg = -1;
        else
            p->playback_latency_avg = -1;
        /* The stream's first measurement comes with its start. */
        p->latency_checked_ms = clock_mono_ms();
    }
}

/* Sleeps until the network, the capture device, a key or a timer needs
 * the main loop: no fixed tick. */
static void wait_for_work(player *p, int timeout_ms)
{
    struct pollfd fds[4];
    nfds_t n = 0;
    int fd;
    if ((fd = gv_client_fd(p->client)) >= 0)
        fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    if (p->server && (fd = gv_server_fd(p->server)) >= 0)
        fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    if ((fd = audio_io_wake_fd(p->io)) >= 0)
        fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    if (p->screen)
        fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    int pace = audio_io_pace_ms(p->io);
    if (pace >= 0 && pace < timeout_ms)
        timeout_ms = pace;
    poll(fds, n, timeout_ms);
}

/* ALSA's library (under SDL2) reports its configuration errors on stderr
 * while devices are looked for, and without a sound card that is eight
 * lines before gvoip's own clear message: unless --verbose they go to
 * /dev/null for that time. Returns the saved descriptor, or -1. */
static int hide_stderr(int verbose)
{
    if (verbose)
        return -1;
    fflush(stderr);
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved < 0 || null < 0 || dup2(null, STDERR_FILENO) < 0) {
        if (saved >= 0)
            close(saved);
        saved = -1;
    }
    if (null >= 0)
        close(null);
    return saved;
}

static void restore_stderr(int saved)
{
    if (saved < 0)
        return;
    dup2(saved, STDERR_FILENO);
    close(saved);
}

static int open_audio(player *p)
{
    const gvoip_options *opt = p->opt;
    audio_io_config cfg = {
        .input_device = opt->input_device,
        .output_device = opt->output_device,
        .input_file = opt->input_file,
        .record_file = opt->record_file,
        .no_capture = opt->no_capture,
        .no_playback = opt->no_playback,
        .buffer_ms = opt->audio_buffer_ms,
        .buffer_grows = !opt->audio_buffer_chosen,
        .capture_ms = opt->audio_buffer_ms > opt->client.frame_ms ? opt->audio_buffer_ms : opt->client.frame_ms,
        .frame_ms = opt->client.frame_ms,
        .backend = opt->audio_backend,
        .clock_ppm = opt->clock_ppm,
    };
    char why[512] = "";
    int hidden = hide_stderr(opt->verbose);
    int rc = audio_io_open(&cfg, &p->io, why, sizeof why);
    restore_stderr(hidden);
    if (rc < 0) {
        output_error(opt->json, "audio: %s", why[0] ? why : gv_strerror(rc));
        return EXIT_RUNTIME;
    }
    if (audio_io_capture_format(p->io, &p->capture_rate, &p->capture_channels) < 0)
        p->capture_rate = 0;
    audio_io_playback_format(p->io, &p->playback_rate, &p->playback_channels);
    return EXIT_OK;
}

/* --facing in degrees turns clockwise from north: up the 2D map (0,-1),
 * or Godot's forward -Z in 3D. */
static void facing_for_mode(const gvoip_options *opt, int mode, gv_player_pose *pose)
{
    if (opt->facing_kind == FACING_VECTOR) {
        pose->fx = opt->facing[0];
        pose->fy = opt->facing[1];
        pose->fz = opt->facing[2];
    } else if (opt->facing_kind == FACING_DEGREES) {
        double a = opt->facing_deg * 3.14159265358979323846 / 180.0;
        pose->fx = (float)sin(a);
        pose->fy = mode == GV_SPATIAL_MODE_3D ? 0.0f : (float)-cos(a);
        pose->fz = mode == GV_SPATIAL_MODE_3D ? (float)-cos(a) : 0.0f;
    }
}

/* Publishes the pose once there is one to publish: given on the command
 * line, or the lobby turned out to be positional (then the origin). The
 * facing is recomputed when the lobby's mode becomes known. */
static void keep_pose(player *p)
{
    gv_spatial_config sp;
    gv_client_get_spatial(p->client, &sp);
    if ((int)sp.mode == p->pose_mode)
        return;
    if (sp.mode == GV_SPATIAL_MODE_OFF && !p->opt->has_position && !p->opt->facing_kind)
        return;
    p->pose_mode = sp.mode;
    if (p->screen)
        tui_pose(p->screen, &p->pose);
    facing_for_mode(p->opt, sp.mode, &p->pose);
    gv_client_set_pose(p->client, &p->pose);
    if (p->screen)
        tui_set_pose(p->screen, &p->pose);
}

static void move_now(player *p)
{
    if (p->screen)
        tui_pose(p->screen, &p->pose);
    p->pose.x = p->opt->move_to[0];
    p->pose.y = p->opt->move_to[1];
    p->pose.z = p->opt->move_to[2];
    gv_client_set_pose(p->client, &p->pose);
    if (p->screen)
        tui_set_pose(p->screen, &p->pose);
}

static void show_event(player *p, const gv_event *ev)
{
    if (p->screen)
        tui_event(p->screen, ev);
    else
        output_event(ev, p->opt->json);
}

static int run_player(const gvoip_options *opt, const char *password, size_t password_len)
{
    player *p = calloc(1, sizeof *p);
    if (!p)
        return EXIT_RUNTIME;
    p->opt = opt;
    p->pose_mode = -1;
    p->capture_latency_ms = p->playback_latency_ms = -1;
    p->capture_latency_avg = p->playback_latency_avg = -1;
    p->pose.x = opt->position[0];
    p->pose.y = opt->position[1];
    p->pose.z = opt->position[2];
    int code = EXIT_OK;
    gv_event failure = {.type = GV_EVENT_NONE};
    char fingerprint[GV_FINGERPRINT_BYTES];
    gv_client_config cfg = opt->client;
    /* The server judges lobby names, but one too long for the handshake
     * cannot reach it: refused here as it would be there. */
    if (cfg.lobby && strlen(cfg.lobby) >= GV_LOBBY_NAME_BYTES) {
        failure = (gv_event){.size = sizeof failure,
                             .type = GV_EVENT_CONNECTION_FAILED,
                             .refused = GV_REFUSAL_LOBBY,
                             .reason = "bad lobby name: name is longer than 64 bytes"};
        output_event(&failure, opt->json);
        code = EXIT_JOIN;
        goto out;
    }
    if (opt->mode == MODE_HOST) {
        code = create_server(opt, password, password_len, 1, &p->server);
        if (code != EXIT_OK)
            goto out;
        gv_server_fingerprint(p->server, fingerprint, sizeof fingerprint);
        cfg.server_host = "127.0.0.1";
        cfg.server_port = (uint16_t)gv_server_port(p->server);
        cfg.host_token = gv_server_host_token(p->server);
        cfg.server_key = fingerprint; /* our own server: pinned, nothing to trust on first use */
        cfg.known_servers_file = "";
    } else {
        cfg.password = (const uint8_t *)password;
        cfg.password_len = password_len;
    }
    code = open_audio(p);
    if (code != EXIT_OK)
        goto out;
    if (!audio_io_echo_path(p->io))
        cfg.echo_cancel = GV_ECHO_CANCEL_OFF;
    p->echo_cancel = cfg.echo_cancel != GV_ECHO_CANCEL_OFF;
    int rc = gv_client_create(&cfg, &p->client);
    if (rc == GV_ENOTFOUND) {
        output_error(opt->json, "cannot join %s: no such host (gvoip speaks IPv4: a name or a dotted address)",
                     cfg.server_host);
        code = EXIT_JOIN;
        goto out;
    }
    if (rc == GV_EINVAL && cfg.token) {
        /* The options' ranges hold everything else: the token is not one
         * (a server would refuse it as malformed). */
        failure = (gv_event){.size = sizeof failure,
                             .type = GV_EVENT_CONNECTION_FAILED,
                             .refused = GV_REFUSAL_TOKEN,
                             .reason = opt->token_file ? "the token in --token-file is not an access token"
                                                       : "GVOIP_TOKEN is not an access token"};
        output_event(&failure, opt->json);
        code = EXIT_JOIN;
        goto out;
    }
    if (rc < 0) {
        output_error(opt->json, "cannot join %s:%u: %s", cfg.server_host, (unsigned)cfg.server_port,
                     gv_strerror(rc));
        code = EXIT_RUNTIME;
        goto out;
    }
    /* The mix's converter is built here, so the device's callback never
     * allocates; then the device's clock starts driving the mix. */
    rc = gv_client_prepare_playback(p->client, p->playback_rate, p->playback_channels);
    if (rc == 0)
        rc = audio_io_start(p->io, render, p);
    if (rc < 0) {
        output_error(opt->json, "audio: %s", gv_strerror(rc));
        code = EXIT_RUNTIME;
        goto out;
    }
    if (opt->mute)
        gv_client_set_muted(p->client, 1);
    char target[300];
    snprintf(target, sizeof target, "%s:%u", cfg.server_host, (unsigned)cfg.server_port);
    if (!opt->json && !opt->no_tui && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) &&
        tui_open(target, &p->pose, opt->mute, opt->client.transmit_mode, &p->screen) != 0)
        p->screen = NULL;
    uint64_t start = clock_mono_ms();
    uint64_t end = opt->duration > 0 ? start + (uint64_t)(opt->duration * 1000) : 0;
    uint64_t move_at = opt->has_move ? start + (uint64_t)(opt->move_after * 1000) : 0;
    uint64_t encoder_at = start + 1000; /* --json: the loss-adaptive encoder, polled once a second */
    int encoder_loss = 0, encoder_redundancy = 0;
    while (!quit_requested && (!end || clock_mono_ms() < end) && code == EXIT_OK) {
        gv_event ev = {.size = sizeof ev};
        if (p->server) {
            while ((rc = gv_server_service(p->server, &ev, 0)) > 0)
                if (ev.type == GV_EVENT_LISTENING)
                    show_event(p, &ev);
            if (rc < 0) {
                output_error(opt->json, "network error: %s", gv_strerror(rc));
                code = EXIT_RUNTIME;
            }
        }
        while ((rc = gv_client_service(p->client, &ev, 0)) > 0) {
            show_event(p, &ev);
            follow_speakers(p, &ev);
            if (ev.type == GV_EVENT_CONNECTION_FAILED)
                code = EXIT_JOIN;
            else if (ev.type == GV_EVENT_SERVER_DISCONNECTED)
                code = EXIT_LOST;
            if (code != EXIT_OK && failure.type == GV_EVENT_NONE)
                failure = ev;
        }
        sleep_when_quiet(p);
        keep_pose(p);
        follow_device_latency(p);
        if (move_at && clock_mono_ms() >= move_at) {
            move_at = 0;
            move_now(p);
        }
        if (opt->json && clock_mono_ms() >= encoder_at) {
            gv_client_stats cs = {.size = sizeof cs};
            gv_client_get_stats(p->client, &cs);
            encoder_at += 1000;
            if (cs.expected_loss_pct != encoder_loss || cs.redundancy != encoder_redundancy) {
                encoder_loss = cs.expected_loss_pct;
                encoder_redundancy = cs.redundancy;
                output_encoder(&cs, (unsigned long long)(clock_mono_ms() - start));
            }
        }
        if (p->screen && tui_update(p->screen, p->client))
            break;
        if (rc < 0 && code == EXIT_OK) {
            output_error(opt->json, "network error: %s", gv_strerror(rc));
            code = EXIT_RUNTIME;
        }
        if (code == EXIT_OK && (rc = pump_audio(p)) < 0) {
            output_error(opt->json, "audio: %s", gv_strerror(rc));
            code = EXIT_RUNTIME;
        }
        follow_devices(p);
        if (code == EXIT_OK && !quit_requested)
            wait_for_work(p, p->server || p->screen ? IDLE_MS : (int)gv_client_idle_ms(p->client));
    }
    if (code == EXIT_OK && !quit_requested && gv_client_id(p->client) == 0) {
        /* --duration ran out first: a run that never joined did not succeed. */
        failure = (gv_event){.size = sizeof failure,
                             .type = GV_EVENT_CONNECTION_FAILED,
                             .error = GV_ETIMEOUT,
                             .reason = "--duration ended before the join completed"};
        show_event(p, &failure);
        code = EXIT_JOIN;
    }
    if (code == EXIT_OK && audio_io_record_error(p->io) < 0) {
        output_error(opt->json, "the recording %s is incomplete (a write failed, or the program fell behind)",
                     opt->record_file);
        code = EXIT_RUNTIME;
    }
out:
    if (p->screen) {
        tui_close(p->screen);
        if (failure.type != GV_EVENT_NONE)
            output_event(&failure, 0);
    }
    if (opt->stats_file && p->client && stats_write_client(opt->stats_file, opt, p->client, p->io, p->server) != 0 &&
        code == EXIT_OK)
        code = EXIT_RUNTIME;
    /* The device's callback calls into the client: stop it first. */
    audio_io_close(p->io);
    gv_client_destroy(p->client);
    gv_server_destroy(p->server);
    free(p);
    return code;
}

static void show_device(void *ctx, int change, int capture, const char *name)
{
    const gvoip_options *opt = ctx;
    output_device_listed(opt->json, change, capture ? "capture" : "playback", name);
}

/* `gvoip devices`: the listing, or with --watch or --json one line per
 * device, and with --watch one per device added or removed until a
 * signal. */
static int list_devices(const gvoip_options *opt)
{
    int hidden = hide_stderr(opt->verbose);
    int rc;
    char why[512] = "";
    if (opt->watch || opt->json) {
        install_signals();
        rc = audio_io_watch_devices(opt->audio_backend, opt->watch, show_device, (void *)opt, &quit_requested, why,
                                    sizeof why);
    } else {
        rc = audio_io_list_devices(stdout, opt->audio_backend);
    }
    restore_stderr(hidden);
    if (rc < 0 && (opt->watch || opt->json))
        output_error(opt->json, "%s", why[0] ? why : gv_strerror(rc));
    return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

int main(int argc, char **argv)
{
    /* allocate is the game's backend's command: it shares no option with
     * the others. */
    if (argc >= 2 && !strcmp(argv[1], "allocate"))
        return allocate_command(argc - 1, argv + 1);
    gvoip_options opt;
    int code = gvoip_parse_options(argc, argv, &opt);
    if (code < 0)
        return EXIT_OK;
    if (code != 0)
        return code;
    if (opt.mode == MODE_DEVICES)
        return list_devices(&opt);
    if (opt.mode == MODE_TOKEN_KEY)
        return token_key_command(&opt);
    if (opt.mode == MODE_TOKEN)
        return token_command(&opt);
    if (opt.mode == MODE_FLEET_KEY)
        return fleet_key_command(&opt);
    if (opt.mode == MODE_FLEET_SIGN)
        return fleet_sign_command(&opt);
    if (gv_init() != 0) {
        output_error(0, "cannot initialise libsodium or ENet");
        return EXIT_RUNTIME;
    }
    if (opt.stats_file && stats_check(opt.stats_file) != 0)
        return EXIT_RUNTIME;
    uint8_t fleet_cert[GV_FLEETCERT_BYTES];
    if (opt.fleet_cert_file) {
        code = fleet_cert_load(opt.fleet_cert_file, opt.json, fleet_cert);
        if (code != EXIT_OK)
            return code;
        opt.server.fleet_cert = fleet_cert;
        opt.server.fleet_cert_len = sizeof fleet_cert;
    }
    install_signals();
    char password[130];
    size_t password_len = 0;
    if (load_password(&opt, password, sizeof password, &password_len) != 0)
        return EXIT_USAGE;
    char *token = NULL, *token_keys = NULL;
    if ((opt.mode != MODE_SERVER && load_token(&opt, &token) != 0) ||
        (opt.mode != MODE_JOIN && opt.token_keys_file &&
         !(token_keys = read_text(opt.token_keys_file, TOKEN_KEYS_FILE_MAX, "token key file")))) {
        code = EXIT_USAGE;
    } else {
        opt.client.token = token;
        opt.server.token_keys = token_keys;
        if (opt.mode == MODE_SERVER)
            code = run_server(&opt, password, password_len);
        else
            code = run_player(&opt, password, password_len);
    }
    free_secret(token);
    free(token_keys);
    sodium_memzero(password, sizeof password);
    return code;
}
