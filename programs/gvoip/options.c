#include "options.h"

#include "audio_io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/gvoip.h"

static const char usage[] =
    "usage: gvoip server [--port N] [--max-players N] [options]\n"
    "       gvoip host [--port N] [--max-players N] [--name NAME] [options]\n"
    "       gvoip join ADDRESS[:PORT] [--name NAME] [options]\n"
    "       gvoip devices [--audio-backend auto|sdl|pulse]\n"
    "\n"
    "lobby:\n"
    "  --port N             UDP port (default 7000; 0 picks a free one and reports it)\n"
    "  --max-players N      players the lobby holds, 1..256 (default 32)\n"
    "  --name NAME          your name, 1..32 bytes of UTF-8 (default: player)\n"
    "  --json               every event as one JSON line on stdout\n"
    "  --duration SECONDS   leave cleanly after that long\n"
    "security:\n"
    "  --key FILE           server key file (default ~/.config/gvoip/server.key)\n"
    "  --password-file FILE lobby password (or the GVOIP_PASSWORD environment variable)\n"
    "  --server-key FP      join only a server whose key has this fingerprint (SHA256:...)\n"
    "  --known-servers FILE trust-on-first-use file (default ~/.config/gvoip/known_servers)\n"
    "  --cipher auto|chacha20-poly1305  what seals the session: auto takes AES-256-GCM when\n"
    "                       both ends' CPUs have AES-NI, else ChaCha20-Poly1305 (default auto)\n"
    "voice:\n"
    "  --codec opus|raw     raw is the original example's uncompressed frames (benchmarks only)\n"
    "  --allow-raw          server, host: relay --codec raw players (benchmarks only)\n"
    "  --relay-hold-us US   server, host: when busy, hold a voice packet up to US for a second one\n"
    "                       to share its datagrams (0..20000, default 2000; 0 never)\n"
    "  --relay-hold-rate N  server, host: busy means N relayed packets a second (default 40000)\n"
    "  --bitrate BPS        Opus bit rate, 6000..128000 (default 24000)\n"
    "  --frame-ms N         10, 20, 40 or 60 (default 20)\n"
    "  --no-fec             disable Opus in-band forward error correction\n"
    "  --no-redundancy      never repeat packets, however much loss is reported\n"
    "  --echo-test          hear yourself through the server (microphone check)\n"
    "  --input-device NAME  capture device (default: the system default)\n"
    "  --output-device NAME playback device (default: the system default)\n"
    "  --input-file FILE    use an audio file as the microphone, paced in real time\n"
    "  --record FILE        write what you hear (the mix) to a WAV file\n"
    "  --no-capture         listen only\n"
    "  --no-playback        do not open a playback device\n"
    "  --audio-buffer-ms N  device buffer, 2..200 ms: more is safer on a slow machine, less is\n"
    "                       less delay (default 10; the audio system may grant another size)\n"
    "  --audio-backend auto|sdl|pulse  pulse: PulseAudio's (or PipeWire's) own API, even\n"
    "                       timing, reports latency and underruns; sdl: SDL2, portable; auto\n"
    "                       (default): pulse when such a sound server runs, else sdl\n"
    "  --low-latency        10 ms Opus frames and 5 ms device buffers\n"
    "  --no-aec             no echo cancellation (on when both devices are real sound cards)\n"
    "  --no-denoise         no noise suppression on the microphone\n"
    "  --no-agc             no automatic gain on the microphone\n"
    "  --stats FILE         write statistics as JSON at exit\n"
    "controls:\n"
    "  --transmit continuous|voice|ptt  when to send your voice (default continuous; voice: only while you speak)\n"
    "  --mute               start muted\n"
    "  --no-tui             line output even in a terminal (--json implies it)\n"
    "positional voice (server, host: the lobby's settings; host, join: where you are):\n"
    "  --spatial off|2d|3d  positional mode of the lobby (default off)\n"
    "  --max-distance D     not heard (and not sent) beyond D (2D default 2000; 3D default 0 = unlimited)\n"
    "  --attenuation-model inverse|inverse-square|logarithmic|disabled   3D distance model (default inverse)\n"
    "  --unit-size U        3D: distance of full volume (default 10)\n"
    "  --attenuation EXP    2D: exponent of the fall-off curve (default 1)\n"
    "  --panning-strength S 0..3 (default 1)\n"
    "  --position X,Y[,Z]   your position (default 0,0,0)\n"
    "  --facing DEG|X,Y,Z   your facing: degrees clockwise from north (up the map; 3D: from -Z), or a vector\n"
    "  --itd                add a small interaural delay (headphones)\n"
    "  -h, --help           this text\n";

void gvoip_print_usage(FILE *out)
{
    fputs(usage, out);
}

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "gvoip: %s: '%s'\n", what, value ? value : "");
    fprintf(stderr, "Run 'gvoip --help' for the options.\n");
    return EXIT_USAGE;
}

static int parse_float(const char *s, float min, float max, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
        return -1;
    *out = (float)v;
    return 0;
}

/* "X,Y" or "X,Y,Z" (z 0 when missing), each finite and within 1e7. */
static int parse_vector(const char *s, int allow_two, float out[3])
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    out[2] = 0.0f;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == 3 || parse_float(tok, -1e7f, 1e7f, &out[n]) != 0)
            return -1;
        n++;
    }
    return n == 3 || (allow_two && n == 2) ? 0 : -1;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ADDRESS, ADDRESS:PORT, or [IPv6]:PORT. The returned host is a
 * pointer into a static-lifetime copy owned by argv. */
static int parse_address(char *arg, gvoip_options *opt)
{
    char *colon = strrchr(arg, ':');
    if (colon && strchr(arg, ':') == colon) {
        long port;
        if (parse_long(colon + 1, 1, 65535, &port) != 0)
            return -1;
        *colon = '\0';
        opt->port = (uint16_t)port;
    }
    if (!*arg)
        return -1;
    opt->address = arg;
    return 0;
}

int gvoip_parse_options(int argc, char **argv, gvoip_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->port = 7000;
    opt->max_players = 32;
    opt->name = "player";
    opt->codec = "opus";
    opt->bitrate = 24000;
    opt->frame_ms = 0;
    opt->audio_buffer_ms = 0;
    opt->fec = 1;
    opt->relay_hold_us = -1;
    opt->relay_hold_rate = -1;
    opt->redundancy = 1;
    opt->aec = 1;
    opt->denoise = 1;
    opt->agc = 1;
    opt->spatial_mode = 0;
    opt->atten_model = -1;
    opt->max_distance = opt->unit_size = opt->attenuation = opt->panning_strength = -1.0f;
    /* GV_TX_CONTINUOUS: voice activation's pre-roll costs every talk spurt
     * a frame of latency (BENCHMARKS.md), so it is a choice, not the default. */
    opt->transmit_mode = 0;
    if (argc < 2)
        return bad("missing command", "");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        gvoip_print_usage(stdout);
        return -1;
    }
    if (!strcmp(cmd, "server"))
        opt->mode = MODE_SERVER;
    else if (!strcmp(cmd, "host"))
        opt->mode = MODE_HOST;
    else if (!strcmp(cmd, "join"))
        opt->mode = MODE_JOIN;
    else if (!strcmp(cmd, "devices"))
        opt->mode = MODE_DEVICES;
    else
        return bad("unknown command", cmd);

    int i = 2;
    if (opt->mode == MODE_JOIN) {
        if (argc < 3 || argv[2][0] == '-')
            return bad("join needs an address", "");
        if (parse_address(argv[2], opt) != 0)
            return bad("bad address", argv[2]);
        i = 3;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
#define NEEDS_VALUE()                                                                                                  \
    do {                                                                                                               \
        if (!v)                                                                                                        \
            return bad("option needs a value", a);                                                                     \
        i++;                                                                                                           \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            gvoip_print_usage(stdout);
            return -1;
        } else if (!strcmp(a, "--json")) {
            opt->json = 1;
        } else if (!strcmp(a, "--port")) {
            NEEDS_VALUE();
            if (parse_long(v, 0, 65535, &n) != 0)
                return bad("--port takes 0..65535", v);
            opt->port = (uint16_t)n;
        } else if (!strcmp(a, "--max-players")) {
            NEEDS_VALUE();
            if (parse_long(v, 1, 256, &n) != 0)
                return bad("--max-players takes 1..256", v);
            opt->max_players = (int)n;
        } else if (!strcmp(a, "--name")) {
            NEEDS_VALUE();
            opt->name = v;
        } else if (!strcmp(a, "--duration")) {
            NEEDS_VALUE();
            char *end;
            opt->duration = strtod(v, &end);
            if (end == v || *end || opt->duration <= 0 || opt->duration > 1e7)
                return bad("--duration takes a positive number of seconds", v);
        } else if (!strcmp(a, "--key")) {
            NEEDS_VALUE();
            opt->key_file = v;
        } else if (!strcmp(a, "--password-file")) {
            NEEDS_VALUE();
            opt->password_file = v;
        } else if (!strcmp(a, "--password")) {
            return bad("passwords are never taken on the command line (every local user can read it); "
                       "use --password-file FILE or GVOIP_PASSWORD", a);
        } else if (!strcmp(a, "--server-key")) {
            NEEDS_VALUE();
            if (strncmp(v, "SHA256:", 7) != 0 || strlen(v) != 50)
                return bad("--server-key takes a fingerprint like SHA256:<43 base64 characters>", v);
            opt->server_key = v;
        } else if (!strcmp(a, "--known-servers")) {
            NEEDS_VALUE();
            opt->known_servers = v;
        } else if (!strcmp(a, "--protocol-version")) {
            NEEDS_VALUE();
            if (parse_long(v, 1, 255, &n) != 0)
                return bad("--protocol-version takes 1..255", v);
            opt->protocol_version = (int)n;
        } else if (!strcmp(a, "--relay-hold-us")) {
            NEEDS_VALUE();
            if (parse_long(v, 0, 20000, &n) != 0)
                return bad("--relay-hold-us takes 0..20000", v);
            opt->relay_hold_us = (int)n;
        } else if (!strcmp(a, "--relay-hold-rate")) {
            NEEDS_VALUE();
            if (parse_long(v, 0, 100000000, &n) != 0)
                return bad("--relay-hold-rate takes 0..100000000", v);
            opt->relay_hold_rate = (int)n;
        } else if (!strcmp(a, "--allow-raw")) {
            opt->allow_raw = 1;
        } else if (!strcmp(a, "--codec")) {
            NEEDS_VALUE();
            if (strcmp(v, "opus") && strcmp(v, "raw"))
                return bad("--codec takes opus or raw", v);
            opt->codec = v;
        } else if (!strcmp(a, "--bitrate")) {
            NEEDS_VALUE();
            if (parse_long(v, 6000, 128000, &n) != 0)
                return bad("--bitrate takes 6000..128000", v);
            opt->bitrate = (int)n;
        } else if (!strcmp(a, "--frame-ms")) {
            NEEDS_VALUE();
            if (parse_long(v, 10, 60, &n) != 0 || (n != 10 && n != 20 && n != 40 && n != 60))
                return bad("--frame-ms takes 10, 20, 40 or 60", v);
            opt->frame_ms = (int)n;
        } else if (!strcmp(a, "--no-fec")) {
            opt->fec = 0;
        } else if (!strcmp(a, "--no-redundancy")) {
            opt->redundancy = 0;
        } else if (!strcmp(a, "--no-aec")) {
            opt->aec = 0;
        } else if (!strcmp(a, "--no-denoise")) {
            opt->denoise = 0;
        } else if (!strcmp(a, "--no-agc")) {
            opt->agc = 0;
        } else if (!strcmp(a, "--echo-test")) {
            opt->echo_test = 1;
        } else if (!strcmp(a, "--input-device")) {
            NEEDS_VALUE();
            opt->input_device = v;
        } else if (!strcmp(a, "--output-device")) {
            NEEDS_VALUE();
            opt->output_device = v;
        } else if (!strcmp(a, "--input-file")) {
            NEEDS_VALUE();
            opt->input_file = v;
        } else if (!strcmp(a, "--record")) {
            NEEDS_VALUE();
            opt->record_file = v;
        } else if (!strcmp(a, "--stats")) {
            NEEDS_VALUE();
            opt->stats_file = v;
        } else if (!strcmp(a, "--no-capture")) {
            opt->no_capture = 1;
        } else if (!strcmp(a, "--no-playback")) {
            opt->no_playback = 1;
        } else if (!strcmp(a, "--audio-buffer-ms")) {
            NEEDS_VALUE();
            if (parse_long(v, 2, 200, &n) != 0)
                return bad("--audio-buffer-ms takes 2..200", v);
            opt->audio_buffer_ms = (int)n;
        } else if (!strcmp(a, "--audio-backend")) {
            NEEDS_VALUE();
            if (!strcmp(v, "auto"))
                opt->audio_backend = AUDIO_BACKEND_AUTO;
            else if (!strcmp(v, "sdl"))
                opt->audio_backend = AUDIO_BACKEND_SDL;
            else if (!strcmp(v, "pulse"))
                opt->audio_backend = AUDIO_BACKEND_PULSE;
            else
                return bad("--audio-backend takes auto, sdl or pulse", v);
        } else if (!strcmp(a, "--file-clock-ppm")) {
            /* Tests: a sound card whose clock is off, with files. */
            NEEDS_VALUE();
            if (parse_long(v, -AUDIO_CLOCK_PPM_MAX, AUDIO_CLOCK_PPM_MAX, &n) != 0)
                return bad("--file-clock-ppm takes -50000..50000", v);
            opt->clock_ppm = (int)n;
        } else if (!strcmp(a, "--low-latency")) {
            opt->low_latency = 1;
        } else if (!strcmp(a, "--cipher")) {
            NEEDS_VALUE();
            if (!strcmp(v, "auto"))
                opt->cipher = GV_CIPHER_AUTO;
            else if (!strcmp(v, "chacha20-poly1305"))
                opt->cipher = GV_CIPHER_CHACHA20POLY1305;
            else
                return bad("--cipher takes auto or chacha20-poly1305", v);
        } else if (!strcmp(a, "--transmit")) {
            NEEDS_VALUE();
            if (!strcmp(v, "continuous"))
                opt->transmit_mode = 0;
            else if (!strcmp(v, "voice"))
                opt->transmit_mode = 1;
            else if (!strcmp(v, "ptt"))
                opt->transmit_mode = 2;
            else
                return bad("--transmit takes voice, continuous or ptt", v);
        } else if (!strcmp(a, "--mute")) {
            opt->mute = 1;
        } else if (!strcmp(a, "--no-tui")) {
            opt->no_tui = 1;
        } else if (!strcmp(a, "--itd")) {
            opt->itd = 1;
        } else if (!strcmp(a, "--spatial")) {
            NEEDS_VALUE();
            if (!strcmp(v, "off"))
                opt->spatial_mode = 0;
            else if (!strcmp(v, "2d"))
                opt->spatial_mode = 1;
            else if (!strcmp(v, "3d"))
                opt->spatial_mode = 2;
            else
                return bad("--spatial takes off, 2d or 3d", v);
        } else if (!strcmp(a, "--max-distance")) {
            NEEDS_VALUE();
            if (parse_float(v, 0.0f, 1e7f, &opt->max_distance) != 0)
                return bad("--max-distance takes a distance 0..1e7", v);
        } else if (!strcmp(a, "--attenuation-model")) {
            NEEDS_VALUE();
            static const char *const models[] = {"inverse", "inverse-square", "logarithmic", "disabled"};
            opt->atten_model = -1;
            for (int m = 0; m < 4; m++)
                if (!strcmp(v, models[m]))
                    opt->atten_model = m;
            if (opt->atten_model < 0)
                return bad("--attenuation-model takes inverse, inverse-square, logarithmic or disabled", v);
        } else if (!strcmp(a, "--unit-size")) {
            NEEDS_VALUE();
            if (parse_float(v, 1e-3f, 1e7f, &opt->unit_size) != 0)
                return bad("--unit-size takes a positive distance", v);
        } else if (!strcmp(a, "--attenuation")) {
            NEEDS_VALUE();
            if (parse_float(v, 0.0f, 100.0f, &opt->attenuation) != 0)
                return bad("--attenuation takes an exponent 0..100", v);
        } else if (!strcmp(a, "--panning-strength")) {
            NEEDS_VALUE();
            if (parse_float(v, 0.0f, 3.0f, &opt->panning_strength) != 0)
                return bad("--panning-strength takes 0..3", v);
        } else if (!strcmp(a, "--position")) {
            NEEDS_VALUE();
            if (parse_vector(v, 1, opt->position) != 0)
                return bad("--position takes X,Y or X,Y,Z", v);
            opt->has_position = 1;
        } else if (!strcmp(a, "--facing")) {
            NEEDS_VALUE();
            if (strchr(v, ',')) {
                if (parse_vector(v, 1, opt->facing) != 0)
                    return bad("--facing takes degrees or X,Y[,Z]", v);
                opt->facing_kind = 2;
            } else {
                if (parse_float(v, -1e6f, 1e6f, &opt->facing_deg) != 0)
                    return bad("--facing takes degrees or X,Y[,Z]", v);
                opt->facing_kind = 1;
            }
        } else if (!strcmp(a, "--move-after")) {
            /* Tests only: --move-after SECONDS X,Y[,Z] */
            if (i + 2 >= argc)
                return bad("--move-after takes SECONDS X,Y[,Z]", a);
            char *end;
            opt->move_after = strtod(argv[i + 1], &end);
            if (end == argv[i + 1] || *end || !(opt->move_after >= 0) || parse_vector(argv[i + 2], 1, opt->move_to) != 0)
                return bad("--move-after takes SECONDS X,Y[,Z]", argv[i + 1]);
            opt->has_move = 1;
            i += 2;
        } else {
            return bad("unknown option", a);
        }
#undef NEEDS_VALUE
    }
    if (opt->mode == MODE_SERVER && (opt->input_file || opt->record_file || opt->echo_test))
        return bad("a dedicated server has no audio", "server");
    if (opt->mode == MODE_JOIN && (opt->spatial_mode || opt->atten_model >= 0 || opt->max_distance >= 0 ||
                                   opt->unit_size >= 0 || opt->attenuation >= 0 || opt->panning_strength >= 0))
        return bad("the positional settings are the lobby's: give them to gvoip server or host", "join");
    if (opt->mode == MODE_SERVER && (opt->has_position || opt->facing_kind || opt->has_move))
        return bad("a dedicated server has no position", "server");
    if (opt->spatial_mode == 1 && opt->max_distance == 0.0f)
        return bad("--spatial 2d needs a --max-distance above 0", "0");
    /* --low-latency chooses what was not chosen explicitly. */
    if (!opt->frame_ms)
        opt->frame_ms = opt->low_latency ? 10 : 20;
    if (!opt->audio_buffer_ms)
        opt->audio_buffer_ms = opt->low_latency ? 5 : 10;
    return 0;
}
