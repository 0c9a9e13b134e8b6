/* The command line. One table says, per option, what it takes, where the
 * value goes, which commands it is for and what it does; parsing, the
 * usage errors and --help are all read from it. Defaults are not restated
 * here: the options start as the library's _default() configurations, and
 * --help prints what those hold. */
#include "options.h"

#include "audio_io.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The device buffer is the program's own choice: the library has no
 * devices. */
#define AUDIO_BUFFER_MS 10
/* A token is minted just before its player joins: long enough for that,
 * short enough that a leaked one soon stops working. */
#define TOKEN_TTL_S 600
/* A year: renewing a node's certificate is then a yearly chore; a fleet
 * that wants a stolen node key to stop working sooner chooses days. */
#define FLEET_CERT_DAYS 365

#define HELP_WIDTH 100
#define HELP_INDENT 23

enum {
    CMD_SERVER = 1u << MODE_SERVER,
    CMD_HOST = 1u << MODE_HOST,
    CMD_JOIN = 1u << MODE_JOIN,
    CMD_DEVICES = 1u << MODE_DEVICES,
    CMD_TOKEN_KEY = 1u << MODE_TOKEN_KEY,
    CMD_TOKEN = 1u << MODE_TOKEN,
    CMD_FLEET_KEY = 1u << MODE_FLEET_KEY,
    CMD_FLEET_SIGN = 1u << MODE_FLEET_SIGN,
    CMD_LOBBY = CMD_SERVER | CMD_HOST | CMD_JOIN,
    CMD_PLAYER = CMD_HOST | CMD_JOIN,
    CMD_ANY = CMD_LOBBY | CMD_DEVICES,
    CMD_KEYS = CMD_TOKEN_KEY | CMD_FLEET_KEY, /* make a signing key pair */
    CMD_ALL = CMD_ANY | CMD_TOKEN_KEY | CMD_TOKEN | CMD_FLEET_KEY | CMD_FLEET_SIGN,
};

#define MODE_LAST MODE_FLEET_SIGN

static const char *const command_names[] = {
    [MODE_SERVER] = "server",       [MODE_HOST] = "host",          [MODE_JOIN] = "join",
    [MODE_DEVICES] = "devices",     [MODE_TOKEN_KEY] = "token-key", [MODE_TOKEN] = "token",
    [MODE_FLEET_KEY] = "fleet-key", [MODE_FLEET_SIGN] = "fleet-sign"};

enum arg_kind {
    ARG_FLAG,    /* no value: stores .value, an int */
    ARG_INT,     /* an integer in min..max (or one of .steps): an int */
    ARG_PORT,    /* an integer in min..max: a uint16_t */
    ARG_FLOAT,   /* a finite number in min..max: a float */
    ARG_STRING,  /* any text: a const char * into argv */
    ARG_CHOICE,  /* one of .choices' names: its value, an int */
    ARG_CUSTOM,  /* .nargs values, which .parse checks and stores */
    ARG_REFUSED, /* never taken: .refusal says why */
    ARG_HELP,
    ARG_VERSION,
};

enum group {
    GROUP_LOBBY,
    GROUP_SECURITY,
    GROUP_TOKENS,
    GROUP_FLEET,
    GROUP_VOICE,
    GROUP_CONTROLS,
    GROUP_POSITIONAL,
    GROUP_OTHER
};

static const char *const group_headings[] = {
    [GROUP_LOBBY] = "lobby",
    [GROUP_SECURITY] = "security",
    [GROUP_TOKENS] = "access tokens",
    [GROUP_FLEET] = "fleet (docs/operations.md)",
    [GROUP_VOICE] = "voice",
    [GROUP_CONTROLS] = "controls",
    [GROUP_POSITIONAL] = "positional voice",
    [GROUP_OTHER] = "other",
};

typedef struct choice {
    const char *name;
    int value;
} choice;

typedef struct option_def {
    const char *name;
    const char *alias;
    const char *metavar; /* ARG_CHOICE: made from the choices */
    enum arg_kind kind;
    enum group group;
    /* The commands the option is for. Elsewhere it is ignored, except by
     * the commands in .refused, which refuse it with .refusal: a command
     * line that asks for what cannot happen is an error. */
    unsigned commands;
    unsigned refused;
    const char *refusal;
    size_t at, also; /* destinations in gvoip_options; also == 0: none */
    double min, max;
    const int *steps; /* ARG_INT: the only values, 0-terminated */
    const choice *choices;
    int value;          /* ARG_FLAG */
    int low_latency;    /* ARG_INT: what --low-latency makes it when not given; 0 nothing */
    int spatial;        /* a lobby parameter whose default depends on --spatial */
    int nargs;          /* ARG_CUSTOM */
    int (*parse)(gvoip_options *opt, char *const *args);
    const char *takes;  /* the usage error's "--X takes ..." when the range does not say it */
    const char *help;   /* NULL: hidden (tests and benchmarks only) */
} option_def;

#define AT(field) offsetof(gvoip_options, field)

static const char no_audio[] = "a dedicated server has no audio";
static const char no_position[] = "a dedicated server has no position";
static const char one_thread[] = "a host is one thread: --threads is for gvoip server";
static const char lobby_setting[] = "the positional settings are the lobby's: give them to gvoip server or host";
static const char server_metrics[] = "--metrics is for gvoip server (a dedicated server's figures)";
static const char server_fleet[] = "a fleet is made of dedicated servers: --redis and --advertise are for gvoip server";
static const char server_cert[] = "a fleet is made of dedicated servers: --fleet-cert is for gvoip server";

static const int frame_sizes[] = {10, 20, 40, 60, 0};

static const choice ciphers[] = {{"auto", GV_CIPHER_AUTO}, {"chacha20-poly1305", GV_CIPHER_CHACHA20POLY1305}, {0}};
static const choice codecs[] = {{"opus", GV_CODEC_OPUS}, {"raw", GV_CODEC_RAW}, {0}};
static const choice backends[] = {
    {"auto", AUDIO_BACKEND_AUTO}, {"sdl", AUDIO_BACKEND_SDL}, {"pulse", AUDIO_BACKEND_PULSE}, {0}};
static const choice transmit_modes[] = {
    {"continuous", GV_TX_CONTINUOUS}, {"voice", GV_TX_VOICE_ACTIVITY}, {"ptt", GV_TX_PUSH_TO_TALK}, {0}};
static const choice spatial_modes[] = {
    {"off", GV_SPATIAL_MODE_OFF}, {"2d", GV_SPATIAL_MODE_2D}, {"3d", GV_SPATIAL_MODE_3D}, {0}};
static const choice attenuation_models[] = {{"inverse", GV_ATTENUATION_INVERSE},
                                            {"inverse-square", GV_ATTENUATION_INVERSE_SQUARE},
                                            {"logarithmic", GV_ATTENUATION_LOGARITHMIC},
                                            {"disabled", GV_ATTENUATION_DISABLED},
                                            {0}};

static int parse_duration(gvoip_options *opt, char *const *args);
static int parse_peer_timeout(gvoip_options *opt, char *const *args);
static int parse_reconnect(gvoip_options *opt, char *const *args);
static int parse_resume_grace(gvoip_options *opt, char *const *args);
static int parse_lobby_linger(gvoip_options *opt, char *const *args);
static int parse_server_key(gvoip_options *opt, char *const *args);
static int parse_fleet_key(gvoip_options *opt, char *const *args);
static int parse_not_before(gvoip_options *opt, char *const *args);
static int parse_metrics(gvoip_options *opt, char *const *args);
static int parse_advertise(gvoip_options *opt, char *const *args);
static int parse_drain(gvoip_options *opt, char *const *args);
static int parse_position(gvoip_options *opt, char *const *args);
static int parse_facing(gvoip_options *opt, char *const *args);
static int parse_move_after(gvoip_options *opt, char *const *args);

static const option_def options[] = {
    /* lobby */
    {.name = "--port", .metavar = "N", .kind = ARG_PORT, .group = GROUP_LOBBY, .commands = CMD_LOBBY,
     .at = AT(server.port), .also = AT(client.server_port), .min = 0, .max = 65535,
     .help = "UDP port; 0 picks a free one and reports it"},
    {.name = "--max-players", .metavar = "N", .kind = ARG_INT, .group = GROUP_LOBBY,
     .commands = CMD_SERVER | CMD_HOST, .at = AT(server.max_players), .min = 1, .max = GV_MAX_PLAYERS_LIMIT,
     .help = "players each lobby holds"},
    {.name = "--threads", .metavar = "N", .kind = ARG_INT, .group = GROUP_LOBBY, .commands = CMD_SERVER,
     .refused = CMD_HOST, .refusal = one_thread, .at = AT(threads), .min = 1, .max = GV_DIRECTORY_WORKERS_MAX,
     .help = "worker threads, each with a UDP port of its own from --port on, a lobby on one of them (default: "
             "the number of cores; 1: one thread on one port)"},
    {.name = "--max-lobbies", .metavar = "N", .kind = ARG_INT, .group = GROUP_LOBBY,
     .commands = CMD_SERVER | CMD_HOST, .at = AT(server.max_lobbies), .min = 1, .max = GV_MAX_LOBBIES_LIMIT,
     .help = "lobbies open at once; a join that would open one more is refused"},
    {.name = "--lobby-linger-s", .metavar = "SECONDS", .kind = ARG_CUSTOM, .group = GROUP_LOBBY,
     .commands = CMD_SERVER | CMD_HOST, .nargs = 1, .parse = parse_lobby_linger, .takes = "0 to 86400 seconds",
     .help = "close a lobby once it has been empty this long (default 30; 0 at once)"},
    {.name = "--max-talkers", .metavar = "N", .kind = ARG_INT, .group = GROUP_LOBBY,
     .commands = CMD_SERVER | CMD_HOST, .at = AT(server.max_talkers), .min = 0, .max = GV_MAX_TALKERS_LIMIT,
     .help = "a listener hears at most N talkers at once, the first and the loudest, none cut mid-word (default "
             "6; 0 no limit)"},
    {.name = "--name", .metavar = "NAME", .kind = ARG_STRING, .group = GROUP_LOBBY,
     .commands = CMD_PLAYER | CMD_TOKEN, .at = AT(client.name), .also = AT(token.name),
     .help = "your name, 1..32 bytes of UTF-8; token: the player's (required)"},
    {.name = "--lobby", .metavar = "NAME", .kind = ARG_STRING, .group = GROUP_LOBBY,
     .commands = CMD_PLAYER | CMD_TOKEN, .at = AT(client.lobby), .also = AT(token.lobby),
     .help = "the lobby to join, 1..64 bytes of UTF-8 (default: the server's default lobby, or the token's); "
             "token: the lobby it admits to (required)"},
    {.name = "--json", .alias = "--log-json", .kind = ARG_FLAG, .group = GROUP_LOBBY,
     .commands = CMD_ANY | CMD_KEYS | CMD_FLEET_SIGN, .at = AT(json), .value = 1,
     .help = "every event as one JSON line on stdout (a server's structured log); token-key: the public key as "
             "JSON; fleet-key: the fingerprint; fleet-sign: what the certificate says"},
    {.name = "--duration", .metavar = "SECONDS", .kind = ARG_CUSTOM, .group = GROUP_LOBBY, .commands = CMD_LOBBY,
     .nargs = 1, .parse = parse_duration, .takes = "a positive number of seconds",
     .help = "leave cleanly after that long"},
    {.name = "--peer-timeout-s", .metavar = "SECONDS", .kind = ARG_CUSTOM, .group = GROUP_LOBBY,
     .commands = CMD_LOBBY, .nargs = 1, .parse = parse_peer_timeout, .takes = "1 to 600 seconds",
     .help = "a peer that answers nothing this long is gone (default 10); shorter silences are waited out"},
    {.name = "--reconnect-s", .metavar = "SECONDS", .kind = ARG_CUSTOM, .group = GROUP_LOBBY, .commands = CMD_JOIN,
     .nargs = 1, .parse = parse_reconnect, .takes = "0 to 3600 seconds",
     .help = "when the server goes quiet or away, keep connecting anew for this long (default 120; 0 never)"},
    {.name = "--resume-grace-s", .metavar = "SECONDS", .kind = ARG_CUSTOM, .group = GROUP_LOBBY,
     .commands = CMD_SERVER | CMD_HOST, .nargs = 1, .parse = parse_resume_grace, .takes = "0 to 600 seconds",
     .help = "keep a player's place this long after their connection is lost, for them to resume it with the "
             "same id (default 30; 0 never)"},
    /* security */
    {.name = "--key", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_SECURITY,
     .commands = CMD_SERVER | CMD_HOST | CMD_TOKEN | CMD_FLEET_SIGN, .at = AT(server.key_file),
     .help = "server key file (default ~/.config/gvoip/server.key); token, fleet-sign: the secret key that signs "
             "(required)"},
    {.name = "--password-file", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_SECURITY,
     .commands = CMD_LOBBY, .at = AT(password_file),
     .help = "lobby password (or the GVOIP_PASSWORD environment variable)"},
    {.name = "--password", .kind = ARG_REFUSED, .group = GROUP_SECURITY,
     .refusal = "passwords are never taken on the command line (every local user can read it); "
                "use --password-file FILE or GVOIP_PASSWORD"},
    {.name = "--server-key", .metavar = "FP|FILE", .kind = ARG_CUSTOM, .group = GROUP_SECURITY,
     .commands = CMD_JOIN | CMD_FLEET_SIGN, .nargs = 1, .parse = parse_server_key,
     .takes = "a fingerprint like SHA256:<43 base64 characters>",
     .help = "join only a server whose key has this fingerprint (SHA256:...); fleet-sign: the node's server key "
             "file, the one its gvoip server --key uses (required)"},
    {.name = "--fleet-key", .metavar = "FP", .kind = ARG_CUSTOM, .group = GROUP_SECURITY, .commands = CMD_JOIN,
     .nargs = 1, .parse = parse_fleet_key, .takes = "a fingerprint like SHA256:<43 base64 characters>",
     .help = "join only a server that shows a valid certificate of the fleet key with this fingerprint "
             "(SHA256:..., what gvoip fleet-key printed), or whose own key --server-key pins"},
    {.name = "--known-servers", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_SECURITY,
     .commands = CMD_JOIN, .at = AT(client.known_servers_file),
     .help = "trust-on-first-use file (default ~/.config/gvoip/known_servers)"},
    {.name = "--cipher", .kind = ARG_CHOICE, .group = GROUP_SECURITY, .commands = CMD_LOBBY, .at = AT(server.cipher),
     .also = AT(client.cipher), .choices = ciphers,
     .help = "what seals the session: auto takes AES-256-GCM when both ends' CPUs have AES-NI, else "
             "ChaCha20-Poly1305"},
    /* access tokens */
    {.name = "--token-key", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_TOKENS,
     .commands = CMD_SERVER | CMD_HOST, .at = AT(token_keys_file),
     .help = "admit only players with a token signed by one of these public keys (one per line, # comments), "
             "in every lobby"},
    {.name = "--token-file", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_TOKENS, .commands = CMD_PLAYER,
     .at = AT(token_file), .help = "your access token (or the GVOIP_TOKEN environment variable)"},
    {.name = "--token", .kind = ARG_REFUSED, .group = GROUP_TOKENS,
     .refusal = "tokens are never taken on the command line (every local user can read it); "
                "use --token-file FILE or GVOIP_TOKEN"},
    {.name = "--out", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_TOKENS,
     .commands = CMD_KEYS | CMD_FLEET_SIGN, .at = AT(out_file),
     .help = "write the new secret key to FILE (mode 0600, never over an existing file) and the public key to "
             "FILE.pub (required); fleet-sign: the certificate to FILE (0644, never over an existing file)"},
    {.name = "--ttl", .metavar = "SECONDS", .kind = ARG_INT, .group = GROUP_TOKENS, .commands = CMD_TOKEN,
     .at = AT(ttl_s), .min = 1, .max = 31536000, .help = "the token expires this long from now"},
    {.name = "--listen-only", .kind = ARG_FLAG, .group = GROUP_TOKENS, .commands = CMD_TOKEN, .at = AT(listen_only),
     .value = 1, .help = "its player's voice is dropped at the server"},
    {.name = "--moderator", .kind = ARG_FLAG, .group = GROUP_TOKENS, .commands = CMD_TOKEN, .at = AT(moderator),
     .value = 1, .help = "its player may mute others for everyone"},
    {.name = "--id", .metavar = "N", .kind = ARG_PORT, .group = GROUP_TOKENS, .commands = CMD_TOKEN,
     .at = AT(token.id), .min = 2, .max = 65535, .help = "its player always gets this id, not one the server picks"},
    {.name = "--lobby-spatial", .kind = ARG_CHOICE, .group = GROUP_TOKENS, .commands = CMD_TOKEN,
     .at = AT(token.spatial_mode), .choices = spatial_modes,
     .help = "the positional mode of a lobby it opens, instead of the server's --spatial"},
    {.name = "--lobby-max-distance", .metavar = "D", .kind = ARG_FLOAT, .group = GROUP_TOKENS, .commands = CMD_TOKEN,
     .at = AT(token.max_distance), .min = 0.1, .max = 100000,
     .help = "the max distance of a lobby it opens, instead of the server's"},
    {.name = "--lobby-max-players", .metavar = "N", .kind = ARG_INT, .group = GROUP_TOKENS, .commands = CMD_TOKEN,
     .at = AT(token.max_players), .min = 1, .max = GV_MAX_PLAYERS_LIMIT,
     .help = "the players a lobby it opens holds, instead of the server's --max-players"},
    /* voice */
    {.name = "--codec", .kind = ARG_CHOICE, .group = GROUP_VOICE, .commands = CMD_PLAYER, .at = AT(client.codec),
     .choices = codecs, .help = "raw: the original example's uncompressed frames, for benchmarks only"},
    {.name = "--allow-raw", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_SERVER | CMD_HOST,
     .at = AT(server.allow_raw), .value = 1, .help = "relay --codec raw players, for benchmarks only"},
    {.name = "--relay-hold-us", .metavar = "US", .kind = ARG_INT, .group = GROUP_VOICE,
     .commands = CMD_SERVER | CMD_HOST, .at = AT(server.relay_hold_us), .min = 0, .max = 20000,
     .help = "when busy, hold a voice packet up to US microseconds for a second one to share its datagrams; "
             "0 never"},
    {.name = "--relay-hold-rate", .metavar = "N", .kind = ARG_INT, .group = GROUP_VOICE,
     .commands = CMD_SERVER | CMD_HOST, .at = AT(server.relay_hold_rate), .min = 0, .max = 100000000,
     .help = "busy means N relayed packets a second"},
    {.name = "--bitrate", .metavar = "BPS", .kind = ARG_INT, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(client.bitrate), .min = 6000, .max = 128000, .help = "Opus bit rate"},
    {.name = "--frame-ms", .metavar = "N", .kind = ARG_INT, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(client.frame_ms), .steps = frame_sizes, .low_latency = 10, .help = "milliseconds of audio per packet"},
    {.name = "--no-fec", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER, .at = AT(client.fec),
     .value = 0, .help = "disable Opus in-band forward error correction"},
    {.name = "--no-redundancy", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(client.redundancy), .value = 0, .help = "never repeat packets, however much loss is reported"},
    {.name = "--echo-test", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER, .refused = CMD_SERVER,
     .refusal = no_audio, .at = AT(client.echo_test), .value = 1,
     .help = "hear yourself through the server (microphone check)"},
    {.name = "--input-device", .metavar = "NAME", .kind = ARG_STRING, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(input_device), .help = "capture device (default: the system's)"},
    {.name = "--output-device", .metavar = "NAME", .kind = ARG_STRING, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(output_device), .help = "playback device (default: the system's)"},
    {.name = "--input-file", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .refused = CMD_SERVER, .refusal = no_audio, .at = AT(input_file),
     .help = "use an audio file as the microphone, paced in real time"},
    {.name = "--record", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .refused = CMD_SERVER, .refusal = no_audio, .at = AT(record_file),
     .help = "write what you hear (the mix) to a WAV file"},
    {.name = "--no-capture", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER, .at = AT(no_capture),
     .value = 1, .help = "listen only"},
    {.name = "--no-playback", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER, .at = AT(no_playback),
     .value = 1, .help = "do not open a playback device"},
    {.name = "--audio-buffer-ms", .metavar = "N", .kind = ARG_INT, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(audio_buffer_ms), .min = AUDIO_BUFFER_MS_MIN, .max = AUDIO_BUFFER_MS_MAX, .low_latency = 5,
     .help = "device buffer: more is safer on a slow machine, less is less delay; the audio system may grant "
             "another size"},
    {.name = "--audio-backend", .kind = ARG_CHOICE, .group = GROUP_VOICE, .commands = CMD_PLAYER | CMD_DEVICES,
     .at = AT(audio_backend), .choices = backends,
     .help = "pulse: PulseAudio's (or PipeWire's) own API, even timing, reports latency and underruns; sdl: "
             "SDL2, portable; auto: pulse when such a sound server runs, else sdl"},
    /* Tests: a sound card whose clock is off, with files. */
    {.name = "--file-clock-ppm", .metavar = "PPM", .kind = ARG_INT, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(clock_ppm), .min = -AUDIO_CLOCK_PPM_MAX, .max = AUDIO_CLOCK_PPM_MAX},
    {.name = "--low-latency", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER, .at = AT(low_latency),
     .value = 1, .help = "the low-latency defaults of --frame-ms and --audio-buffer-ms"},
    {.name = "--no-aec", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(client.echo_cancel), .value = GV_ECHO_CANCEL_OFF,
     .help = "no echo cancellation (on when both devices are real sound cards)"},
    {.name = "--no-denoise", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER,
     .at = AT(client.noise_suppression), .value = 0, .help = "no noise suppression on the microphone"},
    {.name = "--no-agc", .kind = ARG_FLAG, .group = GROUP_VOICE, .commands = CMD_PLAYER, .at = AT(client.auto_gain),
     .value = 0, .help = "no automatic gain on the microphone"},
    {.name = "--stats", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_VOICE, .commands = CMD_LOBBY,
     .at = AT(stats_file), .help = "write statistics as JSON at exit"},
    {.name = "--fleet-cert", .metavar = "FILE", .kind = ARG_STRING, .group = GROUP_FLEET, .commands = CMD_SERVER,
     .refused = CMD_PLAYER, .refusal = server_cert, .at = AT(fleet_cert_file),
     .help = "show players this certificate of the fleet's key for this node's key (gvoip fleet-sign makes it): "
             "those who trust the fleet key accept the node"},
    {.name = "--days", .metavar = "N", .kind = ARG_INT, .group = GROUP_FLEET, .commands = CMD_FLEET_SIGN,
     .at = AT(fleet_days), .min = 1, .max = 3650, .help = "the certificate is valid this many days"},
    {.name = "--not-before", .metavar = "UNIX_SECONDS", .kind = ARG_CUSTOM, .group = GROUP_FLEET,
     .commands = CMD_FLEET_SIGN, .nargs = 1, .parse = parse_not_before, .takes = "Unix seconds, 0..253402300799",
     .help = "the certificate is valid from then on (default: an hour ago, for clocks that are behind)"},
    {.name = "--redis", .metavar = "URL", .kind = ARG_STRING, .group = GROUP_FLEET, .commands = CMD_SERVER,
     .refused = CMD_PLAYER, .refusal = server_fleet, .at = AT(redis_url),
     .help = "run as a node of the fleet coordinated through this Redis, redis://HOST[:PORT][/DB] (needs "
             "--advertise; a URL with a password goes in GVOIP_REDIS_URL instead, never here)"},
    {.name = "--advertise", .metavar = "HOST:PORT", .kind = ARG_CUSTOM, .group = GROUP_FLEET, .commands = CMD_SERVER,
     .refused = CMD_PLAYER, .refusal = server_fleet, .nargs = 1, .parse = parse_advertise,
     .takes = "HOST:PORT (a name or an IP address players reach, and the UDP port, 0..65535)",
     .help = "the address players reach this node at, which the fleet hands out (port 0: the one it listens on)"},
    {.name = "--drain-s", .metavar = "SECONDS", .kind = ARG_CUSTOM, .group = GROUP_FLEET, .commands = CMD_SERVER,
     .refused = CMD_PLAYER, .refusal = server_fleet, .nargs = 1, .parse = parse_drain, .takes = "0 to 3600 seconds",
     .help = "at SIGTERM, SIGINT or SIGHUP, first move every lobby to another node of the fleet (its players "
             "follow on their own) and wait up to this long for them to go (default 0: leave at once)"},
    {.name = "--metrics", .metavar = "HOST:PORT", .kind = ARG_CUSTOM, .group = GROUP_VOICE, .commands = CMD_SERVER,
     .refused = CMD_PLAYER, .refusal = server_metrics, .nargs = 1, .parse = parse_metrics,
     .takes = "HOST:PORT (an IPv4 address or a name, and a TCP port 0..65535)",
     .help = "serve the statistics over HTTP on this TCP address: GET /metrics for Prometheus, GET /healthz; "
             "port 0 picks a free one and reports it (listening)"},
    /* controls */
    {.name = "--transmit", .kind = ARG_CHOICE, .group = GROUP_CONTROLS, .commands = CMD_PLAYER,
     .at = AT(client.transmit_mode), .choices = transmit_modes, .takes = "voice, continuous or ptt",
     .help = "when to send your voice (voice: only while you speak; ptt: push-to-talk)"},
    {.name = "--mute", .kind = ARG_FLAG, .group = GROUP_CONTROLS, .commands = CMD_PLAYER, .at = AT(mute),
     .value = 1, .help = "start muted"},
    {.name = "--no-tui", .kind = ARG_FLAG, .group = GROUP_CONTROLS, .commands = CMD_PLAYER, .at = AT(no_tui),
     .value = 1, .help = "line output even in a terminal (--json implies it)"},
    {.name = "--watch", .kind = ARG_FLAG, .group = GROUP_CONTROLS, .commands = CMD_DEVICES, .at = AT(watch), .value = 1,
     .help = "after the list, one line per device added or removed, until interrupted"},
    {.name = "--verbose", .kind = ARG_FLAG, .group = GROUP_CONTROLS, .commands = CMD_PLAYER | CMD_DEVICES,
     .at = AT(verbose), .value = 1,
     .help = "let the audio libraries print their own messages (ALSA's about a missing sound card)"},
    /* positional voice */
    {.name = "--spatial", .kind = ARG_CHOICE, .group = GROUP_POSITIONAL, .commands = CMD_SERVER | CMD_HOST,
     .refused = CMD_JOIN, .refusal = lobby_setting, .at = AT(server.spatial.mode), .choices = spatial_modes,
     .help = "the lobby's positional mode"},
    {.name = "--max-distance", .metavar = "D", .kind = ARG_FLOAT, .group = GROUP_POSITIONAL,
     .commands = CMD_SERVER | CMD_HOST, .refused = CMD_JOIN, .refusal = lobby_setting,
     .at = AT(server.spatial.max_distance), .min = 0, .max = 1e7, .spatial = 1, .takes = "a distance 0..1e7",
     .help = "not heard (and not sent) beyond D; 3D: 0 is unlimited"},
    {.name = "--attenuation-model", .kind = ARG_CHOICE, .group = GROUP_POSITIONAL, .commands = CMD_SERVER | CMD_HOST,
     .refused = CMD_JOIN, .refusal = lobby_setting, .at = AT(server.spatial.model), .choices = attenuation_models,
     .spatial = 1, .help = "3D distance model"},
    {.name = "--unit-size", .metavar = "U", .kind = ARG_FLOAT, .group = GROUP_POSITIONAL,
     .commands = CMD_SERVER | CMD_HOST, .refused = CMD_JOIN, .refusal = lobby_setting,
     .at = AT(server.spatial.unit_size), .min = 1e-3, .max = 1e7, .spatial = 1, .takes = "a positive distance",
     .help = "3D: distance of full volume"},
    {.name = "--attenuation", .metavar = "EXP", .kind = ARG_FLOAT, .group = GROUP_POSITIONAL,
     .commands = CMD_SERVER | CMD_HOST, .refused = CMD_JOIN, .refusal = lobby_setting,
     .at = AT(server.spatial.attenuation), .min = 0, .max = 100, .spatial = 1, .takes = "an exponent 0..100",
     .help = "2D: exponent of the fall-off curve"},
    {.name = "--panning-strength", .metavar = "S", .kind = ARG_FLOAT, .group = GROUP_POSITIONAL,
     .commands = CMD_SERVER | CMD_HOST, .refused = CMD_JOIN, .refusal = lobby_setting,
     .at = AT(server.spatial.panning_strength), .min = 0, .max = 3, .spatial = 1,
     .help = "scales the left/right pan"},
    {.name = "--position", .metavar = "X,Y[,Z]", .kind = ARG_CUSTOM, .group = GROUP_POSITIONAL,
     .commands = CMD_PLAYER, .refused = CMD_SERVER, .refusal = no_position, .nargs = 1, .parse = parse_position,
     .takes = "X,Y or X,Y,Z", .help = "your position (default 0,0,0)"},
    {.name = "--facing", .metavar = "DEG|X,Y,Z", .kind = ARG_CUSTOM, .group = GROUP_POSITIONAL,
     .commands = CMD_PLAYER, .refused = CMD_SERVER, .refusal = no_position, .nargs = 1, .parse = parse_facing,
     .takes = "degrees or X,Y[,Z]",
     .help = "your facing: degrees clockwise from north (up the map; 3D: from -Z), or a vector"},
    {.name = "--move-after", .metavar = "SECONDS X,Y[,Z]", .kind = ARG_CUSTOM, .group = GROUP_POSITIONAL,
     .commands = CMD_PLAYER, .refused = CMD_SERVER, .refusal = no_position, .nargs = 2, .parse = parse_move_after,
     .takes = "SECONDS X,Y[,Z]"},
    {.name = "--itd", .kind = ARG_FLAG, .group = GROUP_POSITIONAL, .commands = CMD_PLAYER, .at = AT(client.itd),
     .value = 1, .help = "add a small interaural delay (headphones)"},
    {.name = "--help", .alias = "-h", .kind = ARG_HELP, .group = GROUP_OTHER, .commands = CMD_ALL,
     .help = "this text (after a command: that command's options only)"},
    {.name = "--version", .kind = ARG_VERSION, .group = GROUP_OTHER, .commands = CMD_ALL,
     .help = "the program's version and the protocol it speaks"},
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

static void seed(gvoip_options *opt)
{
    memset(opt, 0, sizeof *opt);
    gv_server_config_default(&opt->server);
    gv_client_config_default(&opt->client);
    gv_token_claims_default(&opt->token);
    opt->audio_buffer_ms = AUDIO_BUFFER_MS;
    opt->ttl_s = TOKEN_TTL_S;
    opt->fleet_days = FLEET_CERT_DAYS;
    opt->not_before = -1;
}

/* ---- Values ----------------------------------------------------------- */

static int parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_float(const char *s, double min, double max, float *out)
{
    double v;
    if (parse_double(s, min, max, &v) != 0)
        return -1;
    *out = (float)v;
    return 0;
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

/* "X,Y" or "X,Y,Z" (z 0 when missing), each finite and within 1e7. */
static int parse_vector(const char *s, float out[3])
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    out[2] = 0.0f;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == 3 || parse_float(tok, -1e7, 1e7, &out[n]) != 0)
            return -1;
        n++;
    }
    return n >= 2 ? 0 : -1;
}

static int parse_duration(gvoip_options *opt, char *const *args)
{
    return parse_double(args[0], 0, 1e7, &opt->duration) != 0 || opt->duration <= 0 ? -1 : 0;
}

static int parse_peer_timeout(gvoip_options *opt, char *const *args)
{
    double s;
    if (parse_double(args[0], 1, 600, &s) != 0)
        return -1;
    opt->server.peer_timeout_ms = opt->client.peer_timeout_ms = (uint32_t)(s * 1000.0 + 0.5);
    return 0;
}

static int parse_reconnect(gvoip_options *opt, char *const *args)
{
    double s;
    if (parse_double(args[0], 0, 3600, &s) != 0)
        return -1;
    opt->client.reconnect_ms = (uint32_t)(s * 1000.0 + 0.5);
    return 0;
}

static int parse_resume_grace(gvoip_options *opt, char *const *args)
{
    double s;
    if (parse_double(args[0], 0, 600, &s) != 0)
        return -1;
    opt->server.resume_grace_ms = (uint32_t)(s * 1000.0 + 0.5);
    return 0;
}

static int parse_lobby_linger(gvoip_options *opt, char *const *args)
{
    double s;
    if (parse_double(args[0], 0, 86400, &s) != 0)
        return -1;
    opt->server.lobby_linger_ms = (uint32_t)(s * 1000.0 + 0.5);
    return 0;
}

/* join: a fingerprint to pin; fleet-sign: the node's server key file. */
static int parse_server_key(gvoip_options *opt, char *const *args)
{
    if (opt->mode == MODE_FLEET_SIGN) {
        opt->node_key_file = args[0];
        return 0;
    }
    if (strncmp(args[0], "SHA256:", 7) != 0 || strlen(args[0]) != 50)
        return -1;
    opt->client.server_key = args[0];
    return 0;
}

static int parse_fleet_key(gvoip_options *opt, char *const *args)
{
    if (strncmp(args[0], "SHA256:", 7) != 0 || strlen(args[0]) != 50)
        return -1;
    opt->client.fleet_key = args[0];
    return 0;
}

/* Up to the last second of year 9999, as the certificate's reasons can
 * print it. */
static int parse_not_before(gvoip_options *opt, char *const *args)
{
    long v;
    if (parse_long(args[0], 0, 253402300799L, &v) != 0)
        return -1;
    opt->not_before = v;
    return 0;
}

/* HOST:PORT, cut in two in argv as a join's address is. IPv4 only, like
 * the server's UDP side: no IPv6 literal. */
static int parse_metrics(gvoip_options *opt, char *const *args)
{
    char *colon = strrchr(args[0], ':');
    long port;
    if (!colon || colon == args[0] || strchr(args[0], ':') != colon || parse_long(colon + 1, 0, 65535, &port) != 0)
        return -1;
    *colon = '\0';
    opt->metrics_host = args[0];
    opt->metrics_port = (uint16_t)port;
    return 0;
}

static int parse_drain(gvoip_options *opt, char *const *args)
{
    return parse_double(args[0], 0, 3600, &opt->drain_s);
}

/* HOST:PORT, as players reach this node: a name, an IPv4 address or an
 * IPv6 address without brackets (the port is what follows the last ':'). */
static int parse_advertise(gvoip_options *opt, char *const *args)
{
    char *colon = strrchr(args[0], ':');
    long port;
    if (!colon || colon == args[0] || colon - args[0] > 255 || parse_long(colon + 1, 0, 65535, &port) != 0)
        return -1;
    *colon = '\0';
    for (const char *c = args[0]; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".-_:", *c))
            return -1;
    opt->advertise_host = args[0];
    opt->advertise_port = (uint16_t)port;
    return 0;
}

static int parse_position(gvoip_options *opt, char *const *args)
{
    if (parse_vector(args[0], opt->position) != 0)
        return -1;
    opt->has_position = 1;
    return 0;
}

static int parse_facing(gvoip_options *opt, char *const *args)
{
    if (strchr(args[0], ',')) {
        opt->facing_kind = FACING_VECTOR;
        return parse_vector(args[0], opt->facing);
    }
    opt->facing_kind = FACING_DEGREES;
    return parse_float(args[0], -1e6, 1e6, &opt->facing_deg);
}

static int parse_move_after(gvoip_options *opt, char *const *args)
{
    if (parse_double(args[0], 0, 1e7, &opt->move_after) != 0 || parse_vector(args[1], opt->move_to) != 0)
        return -1;
    opt->has_move = 1;
    return 0;
}

/* ADDRESS, ADDRESS:PORT, or [IPv6]:PORT. The host stays in argv. */
/* HOST[:PORT], or HOST:PORT,HOST:PORT,... for the nodes of a fleet: the
 * first is the server, the others go to the library as fleet_nodes (it
 * checks them). */
static int parse_address(char *arg, gvoip_options *opt)
{
    char *comma = strchr(arg, ',');
    if (comma) {
        for (const char *p = comma + 1;;) {
            size_t n = strcspn(p, ",");
            const char *colon = p + n;
            while (colon > p && colon[-1] != ':')
                colon--;
            char digits[6] = "";
            size_t d = (size_t)(p + n - colon);
            long port;
            if (colon - 1 <= p || d == 0 || d >= sizeof digits)
                return -1;
            memcpy(digits, colon, d);
            if (parse_long(digits, 1, 65535, &port) != 0)
                return -1;
            p += n;
            if (!*p)
                break;
            p++;
        }
        *comma = '\0';
        opt->client.fleet_nodes = comma + 1;
    }
    char *colon = strrchr(arg, ':');
    if (colon && strchr(arg, ':') == colon) {
        long port;
        if (parse_long(colon + 1, 1, 65535, &port) != 0)
            return -1;
        *colon = '\0';
        opt->client.server_port = (uint16_t)port;
    }
    if (!*arg)
        return -1;
    opt->client.server_host = arg;
    return 0;
}

static size_t value_size(const option_def *d)
{
    switch (d->kind) {
    case ARG_PORT:
        return sizeof(uint16_t);
    case ARG_FLOAT:
        return sizeof(float);
    case ARG_STRING:
        return sizeof(const char *);
    default:
        return sizeof(int);
    }
}

/* ARG_FLAG and ARG_CHOICE store an int, also into the library's enum
 * fields. */
_Static_assert(sizeof(gv_cipher_choice) == sizeof(int) && sizeof(gv_codec_kind) == sizeof(int) &&
                   sizeof(gv_transmit_mode) == sizeof(int) && sizeof(gv_echo_cancel) == sizeof(int),
               "the library's enums are stored as int");

static void put(gvoip_options *opt, const option_def *d, const void *value)
{
    memcpy((char *)opt + d->at, value, value_size(d));
    if (d->also)
        memcpy((char *)opt + d->also, value, value_size(d));
}

static int in_steps(const int *steps, long v)
{
    for (; *steps; steps++)
        if (*steps == v)
            return 1;
    return 0;
}

static int store(gvoip_options *opt, const option_def *d, char *const *args)
{
    long n;
    float f;
    switch (d->kind) {
    case ARG_FLAG:
        put(opt, d, &d->value);
        return 0;
    case ARG_INT:
    case ARG_PORT:
        if (parse_long(args[0], d->steps ? INT_MIN : (long)d->min, d->steps ? INT_MAX : (long)d->max, &n) != 0 ||
            (d->steps && !in_steps(d->steps, n)))
            return -1;
        if (d->kind == ARG_PORT) {
            uint16_t port = (uint16_t)n;
            put(opt, d, &port);
        } else {
            int i = (int)n;
            put(opt, d, &i);
        }
        return 0;
    case ARG_FLOAT:
        if (parse_float(args[0], d->min, d->max, &f) != 0)
            return -1;
        put(opt, d, &f);
        return 0;
    case ARG_STRING:
        put(opt, d, &args[0]);
        return 0;
    case ARG_CHOICE:
        for (const choice *c = d->choices; c->name; c++)
            if (!strcmp(args[0], c->name)) {
                put(opt, d, &c->value);
                return 0;
            }
        return -1;
    case ARG_CUSTOM:
        return d->parse(opt, args);
    case ARG_REFUSED:
    case ARG_HELP:
    case ARG_VERSION:
        break;
    }
    return -1;
}

static int nargs(const option_def *d)
{
    switch (d->kind) {
    case ARG_FLAG:
    case ARG_REFUSED:
    case ARG_HELP:
    case ARG_VERSION:
        return 0;
    case ARG_CUSTOM:
        return d->nargs;
    default:
        return 1;
    }
}

/* ---- What the table says, in words ------------------------------------ */

typedef struct text {
    char s[512];
    size_t len;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, sizeof t->s - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof t->s ? t->len + (size_t)n : sizeof t->s - 1;
}

/* 1e7 as "1e7", not printf's "1e+07". */
static void add_number(text *t, double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%g", v);
    char *e = strchr(buf, 'e');
    if (!e) {
        add(t, "%s", buf);
        return;
    }
    *e = '\0';
    add(t, "%se%s%d", buf, e[1] == '-' ? "-" : "", abs(atoi(e + 1)));
}

/* "a, b or c" */
static void add_list(text *t, const int *steps, const choice *choices)
{
    size_t count = 0;
    while (steps ? steps[count] != 0 : choices[count].name != NULL)
        count++;
    for (size_t i = 0; i < count; i++) {
        add(t, "%s", i == 0 ? "" : i + 1 == count ? " or " : ", ");
        if (steps)
            add(t, "%d", steps[i]);
        else
            add(t, "%s", choices[i].name);
    }
}

static void add_range(text *t, const option_def *d)
{
    if (d->steps || d->kind == ARG_CHOICE) {
        add_list(t, d->steps, d->choices);
        return;
    }
    if (d->kind == ARG_FLOAT) {
        add_number(t, d->min);
        add(t, "..");
        add_number(t, d->max);
    } else {
        add(t, "%.0f..%.0f", d->min, d->max);
    }
}

/* What the usage error says the option takes. */
static void add_takes(text *t, const option_def *d)
{
    if (d->takes)
        add(t, "%s", d->takes);
    else
        add_range(t, d);
}

static const char *choice_name(const option_def *d, int value)
{
    for (const choice *c = d->choices; c->name; c++)
        if (c->value == value)
            return c->name;
    return NULL;
}

/* The default a seeded gvoip_options holds at d's destination. */
static void add_default(text *t, const option_def *d, const gvoip_options *seeded)
{
    const void *at = (const char *)seeded + d->at;
    int i;
    float f;
    const char *s;
    switch (d->kind) {
    case ARG_INT:
        memcpy(&i, at, sizeof i);
        add(t, "default %d", i);
        if (d->low_latency)
            add(t, ", %d with --low-latency", d->low_latency);
        break;
    case ARG_PORT:
        add(t, "default %u", (unsigned)*(const uint16_t *)at);
        break;
    case ARG_FLOAT:
        memcpy(&f, at, sizeof f);
        add(t, "default ");
        add_number(t, f);
        break;
    case ARG_STRING:
        memcpy(&s, at, sizeof s);
        if (s && *s)
            add(t, "default %s", s);
        break;
    case ARG_CHOICE:
        memcpy(&i, at, sizeof i);
        add(t, "default %s", choice_name(d, i));
        break;
    default:
        break;
    }
}

/* A positional parameter's default is its lobby mode's: both modes'
 * when they differ. */
static void add_spatial_default(text *t, const option_def *d, const gvoip_options *seeded)
{
    gvoip_options in2d = *seeded, in3d = *seeded;
    gv_spatial_config_default(&in2d.server.spatial, GV_SPATIAL_MODE_2D);
    gv_spatial_config_default(&in3d.server.spatial, GV_SPATIAL_MODE_3D);
    if (!memcmp((const char *)&in2d + d->at, (const char *)&in3d + d->at, value_size(d))) {
        add_default(t, d, &in2d);
        return;
    }
    add(t, "2D ");
    add_default(t, d, &in2d);
    add(t, ", 3D ");
    add_default(t, d, &in3d);
}

static void add_commands(text *t, unsigned commands)
{
    if ((commands & CMD_LOBBY) == CMD_LOBBY)
        return;
    int first = 1;
    for (int m = MODE_SERVER; m <= MODE_LAST; m++)
        if (commands & (1u << m)) {
            add(t, "%s%s", first ? "" : ", ", command_names[m]);
            first = 0;
        }
    add(t, ": ");
}

/* Writes s on from column col: from HELP_INDENT (on the next line when the
 * option's name reaches past it), wrapped at HELP_WIDTH. */
static void print_wrapped(FILE *out, const char *s, size_t col)
{
    for (int first = 1; *s; first = 0) {
        size_t word = strcspn(s, " ");
        if (first && col < HELP_INDENT) {
            fprintf(out, "%*s", (int)(HELP_INDENT - col), "");
            col = HELP_INDENT;
        } else if (first || col + 1 + word > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_INDENT, "");
            col = HELP_INDENT;
        } else {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)word, s);
        col += word;
        s += word;
        while (*s == ' ')
            s++;
    }
    fputc('\n', out);
}

/* Whether the seeded default is a value d takes: one that is not (a
 * token's "the server's" lobby settings) means the option's absence, which
 * its help says in words. */
static int default_taken(const option_def *d, const gvoip_options *seeded)
{
    const void *at = (const char *)seeded + d->at;
    int i;
    float f;
    switch (d->kind) {
    case ARG_INT:
        memcpy(&i, at, sizeof i);
        return d->steps ? in_steps(d->steps, i) : i >= d->min && i <= d->max;
    case ARG_PORT:
        return *(const uint16_t *)at >= d->min && *(const uint16_t *)at <= d->max;
    case ARG_FLOAT:
        memcpy(&f, at, sizeof f);
        return f >= d->min && f <= d->max;
    case ARG_CHOICE:
        memcpy(&i, at, sizeof i);
        return choice_name(d, i) != NULL;
    default:
        return 1;
    }
}

static void print_option(FILE *out, const option_def *d, const gvoip_options *seeded)
{
    text left = {.len = 0}, right = {.len = 0};
    add(&left, "  %s%s%s", d->alias ? d->alias : "", d->alias ? ", " : "", d->name);
    if (d->kind == ARG_CHOICE) {
        add(&left, " ");
        for (const choice *c = d->choices; c->name; c++)
            add(&left, "%s%s", c == d->choices ? "" : "|", c->name);
    } else if (d->metavar) {
        add(&left, " %s", d->metavar);
    }
    add_commands(&right, d->commands);
    add(&right, "%s", d->help);
    text extra = {.len = 0};
    if (d->kind == ARG_INT || d->kind == ARG_PORT || d->kind == ARG_FLOAT)
        add_range(&extra, d);
    text dflt = {.len = 0};
    if (d->spatial)
        add_spatial_default(&dflt, d, seeded);
    else if (default_taken(d, seeded))
        add_default(&dflt, d, seeded);
    if (extra.len && dflt.len)
        add(&extra, "; ");
    add(&extra, "%s", dflt.s);
    if (extra.len)
        add(&right, " (%s)", extra.s);
    fputs(left.s, out);
    print_wrapped(out, right.s, left.len);
}

/* Every command's options, or one command's (mode other than MODE_NONE). */
static void print_help(FILE *out, enum gvoip_mode mode)
{
    static const char *const usages[] = {
        [MODE_SERVER] = "gvoip server [--port N] [--max-players N] [options]",
        [MODE_HOST] = "gvoip host [--port N] [--max-players N] [--name NAME] [options]",
        [MODE_JOIN] = "gvoip join ADDRESS[:PORT][,NODE:PORT...] [--name NAME] [options]",
        [MODE_DEVICES] = "gvoip devices [--watch] [--json] [--audio-backend auto|sdl|pulse]",
        [MODE_TOKEN_KEY] = "gvoip token-key --out FILE [--json]",
        [MODE_TOKEN] = "gvoip token --key FILE --lobby LOBBY --name NAME [--ttl SECONDS] [options]",
        [MODE_FLEET_KEY] = "gvoip fleet-key --out FILE [--json]",
        [MODE_FLEET_SIGN] = "gvoip fleet-sign --key FLEET.key --server-key NODE.key --out CERT [--days N] "
                            "[--not-before UNIX_SECONDS] [--json]",
    };
    gvoip_options seeded;
    seed(&seeded);
    for (int m = MODE_SERVER; m <= MODE_LAST; m++)
        if (mode == MODE_NONE || mode == (enum gvoip_mode)m)
            fprintf(out, "%s%s\n", m == MODE_SERVER || mode != MODE_NONE ? "usage: " : "       ", usages[m]);
    /* Its own command line (allocate.c), for the game's backend. */
    if (mode == MODE_NONE)
        fprintf(out, "       gvoip allocate --lobby LOBBY [--redis URL] [--protocol N] [--prefix PREFIX] [--json]\n");
    int group = -1;
    for (size_t k = 0; k < OPTION_COUNT; k++) {
        const option_def *d = &options[k];
        if (!d->help || (mode != MODE_NONE && !(d->commands & (1u << mode))))
            continue;
        if ((int)d->group != group) {
            fprintf(out, "%s%s:\n", group < 0 ? "\n" : "", group_headings[d->group]);
            group = (int)d->group;
        }
        print_option(out, d, &seeded);
    }
}

static void print_version(FILE *out)
{
    fprintf(out, "gvoip %s (protocol %d)\n", gv_version(), gv_protocol_version());
}

/* --help or --version: printed, and the program ends (-1). */
static int informs(const option_def *d, enum gvoip_mode mode)
{
    if (d && d->kind == ARG_HELP)
        print_help(stdout, mode);
    else if (d && d->kind == ARG_VERSION)
        print_version(stdout);
    else
        return 0;
    return -1;
}

/* ---- Parsing ---------------------------------------------------------- */

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "gvoip: %s: '%s'\n", what, value ? value : "");
    fprintf(stderr, "Run 'gvoip --help' for the options.\n");
    return EXIT_USAGE;
}

static int bad_value(const option_def *d, const char *value)
{
    text t = {.len = 0};
    add(&t, "%s takes ", d->name);
    add_takes(&t, d);
    return bad(t.s, value);
}

static const option_def *find(const char *arg)
{
    for (size_t k = 0; k < OPTION_COUNT; k++)
        if (!strcmp(arg, options[k].name) || (options[k].alias && !strcmp(arg, options[k].alias)))
            return &options[k];
    return NULL;
}

/* What depends on more than one option, once all are known. */
static int finish(gvoip_options *opt, const unsigned char *given)
{
    if (opt->mode == MODE_JOIN && opt->client.server_port == 0)
        return bad("a server's port is 1..65535 (0 only picks a free one to listen on)", "0");
    if ((opt->mode == MODE_TOKEN_KEY || opt->mode == MODE_FLEET_KEY) && !opt->out_file)
        return bad(opt->mode == MODE_TOKEN_KEY ? "token-key needs --out FILE, where the secret key goes"
                                               : "fleet-key needs --out FILE, where the secret key goes",
                   "");
    if (opt->mode == MODE_FLEET_SIGN && (!opt->server.key_file || !opt->node_key_file || !opt->out_file))
        return bad("fleet-sign needs --key FILE (the fleet's secret key), --server-key FILE (the node's server key) "
                   "and --out FILE (the certificate)",
                   "");
    if (opt->mode == MODE_TOKEN && (!opt->server.key_file || !opt->token.lobby || !opt->token.name))
        return bad("token needs --key FILE (the secret key), --lobby LOBBY and --name NAME", "");
    if (opt->mode == MODE_TOKEN && !opt->token.lobby[0])
        return bad("a token names its lobby: --lobby takes 1..64 bytes", "");
    /* A password in argv is readable by every local user: a URL with one
     * comes from the environment, as gvoip allocate's does. */
    if (opt->mode == MODE_SERVER && opt->redis_url) {
        const char *at = strrchr(opt->redis_url, '@'), *scheme = strstr(opt->redis_url, "://");
        if (at && scheme && memchr(scheme + 3, ':', (size_t)(at - scheme - 3)))
            return bad("a Redis password is never taken on the command line: put the URL in GVOIP_REDIS_URL "
                       "and leave --redis out",
                       "--redis");
    }
    if (opt->mode == MODE_SERVER && opt->advertise_host && !opt->redis_url)
        opt->redis_url = getenv("GVOIP_REDIS_URL");
    if (opt->mode == MODE_SERVER && opt->drain_s > 0 && !opt->advertise_host)
        return bad("--drain-s moves lobbies to other nodes of a fleet: it needs --advertise and --redis", "--drain-s");
    if (opt->mode == MODE_SERVER && !opt->redis_url != !opt->advertise_host)
        return bad("a node of a fleet needs --advertise HOST:PORT and --redis URL (or GVOIP_REDIS_URL)",
                   opt->redis_url ? "--redis" : opt->advertise_host);
    const char *why;
    if ((opt->mode == MODE_HOST || opt->mode == MODE_JOIN || opt->mode == MODE_TOKEN) &&
        gv_check_name(opt->client.name, &why) != 0) {
        text t = {.len = 0};
        add(&t, "bad --name: %s", why);
        return bad(t.s, opt->client.name);
    }
    for (size_t k = 0; k < OPTION_COUNT; k++)
        if (given[k] && (options[k].refused & (1u << opt->mode)))
            return bad(options[k].refusal, command_names[opt->mode]);
    /* A positional parameter not given takes the default of the mode,
     * which may have come after it. */
    const gvoip_options chosen = *opt;
    gv_spatial_config_default(&opt->server.spatial, chosen.server.spatial.mode);
    for (size_t k = 0; k < OPTION_COUNT; k++)
        if (options[k].spatial && given[k])
            put(opt, &options[k], (const char *)&chosen + options[k].at);
    if (opt->server.spatial.mode == GV_SPATIAL_MODE_2D && opt->server.spatial.max_distance == 0.0f)
        return bad("--spatial 2d needs a --max-distance above 0", "0");
    /* --low-latency chooses what was not chosen explicitly. */
    for (size_t k = 0; k < OPTION_COUNT; k++) {
        if (opt->low_latency && options[k].low_latency && !given[k])
            put(opt, &options[k], &options[k].low_latency);
        if (options[k].at == AT(audio_buffer_ms))
            opt->audio_buffer_chosen = given[k];
    }
    return 0;
}

int gvoip_parse_options(int argc, char **argv, gvoip_options *opt)
{
    seed(opt);
    if (argc < 2)
        return bad("missing command", "");
    const option_def *d = find(argv[1]);
    if (informs(d, MODE_NONE))
        return -1;
    for (int m = MODE_SERVER; m <= MODE_LAST; m++)
        if (!strcmp(argv[1], command_names[m]))
            opt->mode = (enum gvoip_mode)m;
    if (opt->mode == MODE_NONE)
        return bad("unknown command", argv[1]);

    int i = 2;
    if (opt->mode == MODE_JOIN) {
        if (argc >= 3 && informs(find(argv[2]), MODE_JOIN))
            return -1;
        if (argc < 3 || argv[2][0] == '-')
            return bad("join needs the server's address first (gvoip join ADDRESS[:PORT])", argc < 3 ? "" : argv[2]);
        if (parse_address(argv[2], opt) != 0)
            return bad("bad address", argv[2]);
        i = 3;
    }
    unsigned char given[OPTION_COUNT] = {0};
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!(d = find(a)))
            return bad("unknown option", a);
        if (informs(d, opt->mode))
            return -1;
        if (d->kind == ARG_REFUSED)
            return bad(d->refusal, a);
        int n = nargs(d);
        if (i + n >= argc)
            return n > 1 ? bad_value(d, a) : bad("option needs a value", a);
        if (store(opt, d, argv + i + 1) != 0)
            return bad_value(d, argv[i + 1]);
        given[d - options] = 1;
        i += n;
    }
    return finish(opt, given);
}
