/* libgvoip: voice chat for games. Opus over ENet, sealed end to end between
 * each player and the server, with a jitter buffer per remote player.
 *
 * The library starts no threads and keeps no global state. A program
 * creates a gv_server (a lobby) and/or a gv_client (a player), calls their
 * _service() functions regularly from one thread (the control thread),
 * pushes microphone samples and pulls what to play.
 *
 * Every handle is used from one thread at a time, with one exception made
 * for the sound card: gv_client_pull_mix, gv_client_pull_player and
 * gv_client_push_echo_reference may be called from the audio device's
 * callback (the render thread) while the control thread makes every other
 * call. They are real-time safe: no
 * allocation, lock, blocking call or I/O, once gv_client_prepare_playback
 * has been told the format. The device's clock then decides when audio is
 * decoded and mixed, and nothing but the device's own buffer sits between
 * the jitter buffers and the speaker. Capture goes the other way: a
 * capture callback hands samples to the control thread through a gv_ring
 * (gvoip/ring.h) and wakes it; see examples/device_chat.c. */
#ifndef GVOIP_H
#define GVOIP_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/error.h"
#include "gvoip/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GV_DEFAULT_PORT 7000
#define GV_DEFAULT_MAX_PLAYERS 32
#define GV_SAMPLE_RATE 48000 /* the rate voice travels at */
#define GV_NAME_BYTES 33     /* 32 bytes of UTF-8 and a NUL */
#define GV_FINGERPRINT_BYTES 52

/* Initialises libsodium; call once per process before anything else.
 * Returns 0 or GV_EKEY. Thread-safe (idempotent). */
GV_API int gv_init(void);

/* ---- Events ---------------------------------------------------------- */

typedef enum gv_event_type {
    GV_EVENT_NONE = 0,
    GV_EVENT_LISTENING,           /* server: port */
    GV_EVENT_CONNECTED,           /* client: own id and final name */
    GV_EVENT_PLAYER_CONNECTED,    /* id, name */
    GV_EVENT_PLAYER_DISCONNECTED, /* id, name; reason when the server removed them */
    GV_EVENT_SERVER_DISCONNECTED, /* client: the server went away or removed us (reason) */
    GV_EVENT_CONNECTION_FAILED,   /* client: error and reason */
    GV_EVENT_SERVER_KEY,          /* client: fingerprint, trusted (0 pinned/known, 1 first use) */
    GV_EVENT_SPEAKING,            /* client: id started (on 1) or stopped (on 0) talking; own id too */
} gv_event_type;

typedef struct gv_event {
    gv_event_type type;
    uint16_t id;
    uint16_t port;
    int error;   /* a GV_E* code for failures */
    int refused; /* the server's refuse code, 0 if none */
    int first_use;
    int on; /* GV_EVENT_SPEAKING */
    char name[GV_NAME_BYTES];
    char reason[768];
    char fingerprint[GV_FINGERPRINT_BYTES];
    char known_fingerprint[GV_FINGERPRINT_BYTES]; /* on a key mismatch */
} gv_event;

/* ---- Positional voice ------------------------------------------------ */

/* The lobby's positional mode. The server chooses it; every client gets it
 * right after joining, so nobody hears farther than the game allows. */
typedef enum gv_spatial_mode_kind {
    GV_SPATIAL_MODE_OFF = 0, /* everyone at full volume, centred */
    GV_SPATIAL_MODE_2D = 1,  /* as Godot's AudioStreamPlayer2D */
    GV_SPATIAL_MODE_3D = 2,  /* as Godot's AudioStreamPlayer3D */
} gv_spatial_mode_kind;

/* Godot's AttenuationModel values (3D). */
typedef enum gv_attenuation_model {
    GV_ATTENUATION_INVERSE = 0,
    GV_ATTENUATION_INVERSE_SQUARE = 1,
    GV_ATTENUATION_LOGARITHMIC = 2,
    GV_ATTENUATION_DISABLED = 3,
} gv_attenuation_model;

typedef struct gv_spatial_config {
    int mode;               /* gv_spatial_mode_kind */
    int model;              /* 3D: gv_attenuation_model; default inverse */
    float unit_size;        /* 3D: distance of 0 dB; default 10 */
    float max_distance;     /* not heard (and not sent) beyond; 3D: 0 = unlimited (default); 2D: > 0, default 2000 */
    float volume_db;        /* added to the attenuation; default 0 */
    float max_db;           /* 3D: ceiling; default 3 */
    float attenuation;      /* 2D: exponent of (1 - d / max_distance); default 1 */
    float panning_strength; /* 0..3; default 1 */
    int godot_pan;          /* 2D: Godot's linear pan instead of equal-power (default 0) */
} gv_spatial_config;

/* Fills *cfg with Godot's defaults for mode (GV_SPATIAL_MODE_*). NULL does
 * nothing. Thread-safe. */
GV_API void gv_spatial_config_default(gv_spatial_config *cfg, int mode);

/* A player's position and facing. 2D: x, y on a y-down canvas (a player
 * facing (0,-1) looks up the screen, +x on its right); z is ignored.
 * 3D: +y up, facing (0,0,-1) is Godot's forward. The facing need not be
 * unit length; zero means the default facing. */
typedef struct gv_player_pose {
    float x, y, z;
    float fx, fy, fz;
} gv_player_pose;

/* How the client decides when to send microphone audio. */
typedef enum gv_transmit_mode {
    GV_TX_CONTINUOUS = 0,     /* every frame (the library's default) */
    GV_TX_VOICE_ACTIVITY = 1, /* only while a voice is detected; nothing is sent in silence */
    GV_TX_PUSH_TO_TALK = 2,   /* only while gv_client_set_ptt(c, 1) */
} gv_transmit_mode;

/* Which AEAD seals a session after its handshake. */
typedef enum gv_cipher_choice {
    GV_CIPHER_AUTO = 0,              /* AES-256-GCM when both ends' CPUs have AES-NI, else
                                      * ChaCha20-Poly1305 (the default) */
    GV_CIPHER_CHACHA20POLY1305 = 1,  /* always ChaCha20-Poly1305 */
} gv_cipher_choice;

/* ---- Server (a lobby; also the "host" half of a listen server) -------- */

typedef struct gv_server gv_server;

typedef struct gv_server_config {
    const char *bind_address; /* NULL: all interfaces */
    uint16_t port;            /* 0 picks a free port (see gv_server_port) */
    int max_players;          /* 1..GV_MAX_PLAYERS(256); default 32 */
    const char *key_file;     /* NULL: the per-user default path */
    const uint8_t *password;  /* NULL or empty: no password */
    size_t password_len;      /* at most 128 bytes */
    int local_host;           /* 1: reserve id 1 for a gv_client created with host_token */
    int allow_raw;            /* benchmarks only: relay the uncompressed baseline codec */
    /* A busy relay spends most of its time sending datagrams: from
     * relay_hold_rate relayed packets a second on (default 40000), a voice
     * packet waits up to relay_hold_us (0..20000, default 2000; 0 = never)
     * for a second one, so each listener's datagram carries both. */
    int relay_hold_us;
    int relay_hold_rate;
    gv_spatial_config spatial; /* default: off; checked by gv_server_create (GV_EINVAL) */
    int cipher;               /* gv_cipher_choice; default GV_CIPHER_AUTO */
    gv_clock clock;
    gv_random random;
    int protocol_version;     /* tests only: 0 means the real one */
} gv_server_config;

GV_API void gv_server_config_default(gv_server_config *cfg);

/* Creates a lobby listening on UDP. Loads or creates the server key;
 * on a key problem returns GV_EKEY with the reason in why (may be NULL).
 * The caller owns *out. */
GV_API int gv_server_create(const gv_server_config *cfg, gv_server **out, char *why, size_t why_len);

/* Tells every player the server is going away, then frees. NULL is a no-op. */
GV_API void gv_server_destroy(gv_server *s);

/* The UDP socket's descriptor, for a program that waits on several things
 * at once: when poll() finds it readable, call gv_server_service. The
 * library owns it (never read from or close it). Returns the descriptor or
 * GV_EINVAL. Same thread as gv_server_service. */
GV_API int gv_server_fd(const gv_server *s);

/* The UDP port actually bound. */
GV_API int gv_server_port(const gv_server *s);

/* "SHA256:..." of the server's public key, into out (GV_FINGERPRINT_BYTES). */
GV_API void gv_server_fingerprint(const gv_server *s, char *out);

/* The token a local gv_client passes to become player 1 (GV_HOST_TOKEN 32 bytes). */
GV_API const uint8_t *gv_server_host_token(const gv_server *s);

/* Services the network for up to timeout_ms (0: do not wait) and returns 1
 * with *ev filled when an event is ready, 0 when there is none, or a
 * negative code. Not thread-safe: one thread per server. */
GV_API int gv_server_service(gv_server *s, gv_event *ev, uint32_t timeout_ms);

typedef struct gv_server_stats {
    uint64_t relayed_packets;
    uint64_t datagrams_in, datagrams_out, bytes_in, bytes_out;
    uint64_t malformed, auth_failed, replayed, over_budget, handshakes, refused;
    uint64_t max_datagram_bytes;
    uint64_t culled_packets;   /* voice not sent to a listener out of earshot */
    uint64_t positions_relayed;
    int players;
} gv_server_stats;

GV_API void gv_server_get_stats(const gv_server *s, gv_server_stats *out);

/* ---- Client (a player) ----------------------------------------------- */

typedef struct gv_client gv_client;

typedef enum gv_codec_kind { GV_CODEC_OPUS = 0, GV_CODEC_RAW = 1 } gv_codec_kind;

/* Where the echo canceller's reference comes from: what the speaker
 * plays, which the microphone hears again. */
typedef enum gv_echo_cancel {
    GV_ECHO_CANCEL_OFF = 0,
    /* What gv_client_pull_mix returns is what the speaker plays. */
    GV_ECHO_CANCEL_MIX = 1,
    /* The caller mixes gvoip with other sound (a game's own audio, or
     * gv_client_pull_player per player) and hands the device's final mix
     * in through gv_client_push_echo_reference. */
    GV_ECHO_CANCEL_EXTERNAL = 2
} gv_echo_cancel;

typedef struct gv_client_config {
    const char *server_host;       /* name or address */
    uint16_t server_port;          /* default 7000 */
    const char *name;              /* 1..32 bytes UTF-8; the server may add a suffix */
    const uint8_t *password;
    size_t password_len;
    const char *known_servers_file; /* NULL: per-user default; "" disables trust on first use */
    const char *server_key;         /* "SHA256:...": pin; refuse any other key */
    const uint8_t *host_token;      /* from gv_server_host_token, for the host's own player */
    uint32_t connect_timeout_ms;    /* default 5000: to the server's handshake answer,
                                     * then as long again for the rest of the join */
    gv_codec_kind codec;
    int bitrate;                    /* bit/s, clamped to 6000..128000; default 24000 */
    int frame_ms;                   /* 10, 20, 40 or 60; default 20 */
    int fec;                        /* default 1 */
    int redundancy;                 /* 1: under heavy reported loss, send each packet again in
                                     * the next at half the bit rate (see README); default 1 */
    int echo_test;                  /* 1: hear yourself through the server */
    int transmit_mode;              /* gv_transmit_mode; default GV_TX_CONTINUOUS */
    int itd;                        /* 1: add a small interaural delay to positional voice */
    int cipher;                     /* gv_cipher_choice; default GV_CIPHER_AUTO */
    /* The microphone is cleaned before it is encoded, in this order: */
    int echo_cancel;                /* gv_echo_cancel; default GV_ECHO_CANCEL_MIX */
    int noise_suppression;          /* 1: suppress steady noise (fans, hum, hiss); default 1 */
    int auto_gain;                  /* 1: bring speech to about -20 dBFS, never past -1; default 1 */
    gv_clock clock;
    gv_random random;
    int protocol_version;           /* tests only */
} gv_client_config;

GV_API void gv_client_config_default(gv_client_config *cfg);

/* Starts connecting; progress arrives as events from gv_client_service.
 * The caller owns *out. Config strings are copied. */
GV_API int gv_client_create(const gv_client_config *cfg, gv_client **out);

/* Leaves cleanly (the server is told) and frees. NULL is a no-op. */
GV_API void gv_client_destroy(gv_client *c);

/* Services the network for up to timeout_ms; 1 with *ev filled, 0 none, or
 * a negative code. Not thread-safe: one thread per client. */
GV_API int gv_client_service(gv_client *c, gv_event *ev, uint32_t timeout_ms);

/* The UDP socket's descriptor, as gv_server_fd: readable means call
 * gv_client_service. A program waiting on it must still call
 * gv_client_service at least every 20 ms while idle (timers: keep-alive,
 * loss reports, the join's retries). Returns the descriptor, GV_ESTATE
 * when the client has no socket (it gave up), or GV_EINVAL. Control
 * thread. */
GV_API int gv_client_fd(const gv_client *c);

/* Own id once connected, else 0. */
GV_API int gv_client_id(const gv_client *c);

/* Pushes microphone samples (interleaved float, -1..1) at any rate from
 * 8000 to 192000 Hz and 1 or 2 channels; they are resampled, encoded and
 * sent as soon as a frame is whole. A change of rate or channels rebuilds
 * the resampler (what it held is dropped). Returns frames consumed, or
 * GV_EINVAL, GV_ENOMEM, GV_ECODEC, or a network error. Control thread. */
GV_API int gv_client_push_capture(gv_client *c, const float *samples, size_t frames, int rate, int channels);

/* How long sound takes through the devices, for lining the echo
 * canceller's reference up with the microphone: capture_us from the
 * moment a sample reaches the microphone to the gv_client_push_capture
 * call that hands it in (the capture device's latency plus whatever the
 * caller buffers), playback_us from the return of gv_client_pull_mix (or
 * gv_client_push_echo_reference) to the moment its last sample leaves the
 * speaker (the playback device's latency). Both at most 1 s; 0 until set.
 * The canceller searches 250 ms beyond this for the echo, and follows
 * drift between the two devices' clocks on its own, so the figures the
 * sound server reports are enough; call again when they change by more
 * than a few ms. Returns 0 or GV_EINVAL. Control thread. */
GV_API int gv_client_set_device_latency(gv_client *c, uint32_t capture_us, uint32_t playback_us);

/* In GV_ECHO_CANCEL_EXTERNAL mode: the interleaved frames the playback
 * device is about to play, all of them (the final mix, whatever made it),
 * at rate 8000..192000 with 1 or 2 channels. Call it from the device's
 * callback, right after producing the buffer. Returns 0, GV_EINVAL,
 * GV_ESTATE (another echo mode) or GV_ENOMEM. Render thread: real-time
 * safe at the format given to gv_client_prepare_playback; at another
 * format its first call allocates. */
GV_API int gv_client_push_echo_reference(gv_client *c, const float *samples, size_t frames, int rate,
                                         int channels);

/* Tells the client the format the render thread will pull at (rate
 * 8000..192000, channels 1 or 2), so that pulls at that format never
 * allocate. Call it before starting the playback device, and again if the
 * device's format changes. Returns 0, GV_EINVAL, GV_ENOMEM, or GV_EFULL
 * when the render thread has not taken earlier work yet (try again).
 * Control thread. */
GV_API int gv_client_prepare_playback(gv_client *c, int rate, int channels);

/* Pulls `frames` frames of the mix of all remote players at `rate` with
 * `channels` (1 or 2), paced by the caller's playback clock: call it from
 * the playback device's callback, or from the control thread when there is
 * no device (files). The mix is stereo, each player placed by the lobby's
 * positional mode relative to your pose; channels = 1 gets it downmixed.
 * Always fills the whole buffer (silence where nothing plays). Returns
 * frames, or GV_EINVAL (NULL c, NULL out with frames, rate or channels out
 * of range). Render thread (see the top of this file): real-time safe at
 * the prepared format; at another format its first call allocates. Use
 * either this or gv_client_pull_player, not both: each consumes the
 * players' streams. */
GV_API int gv_client_pull_mix(gv_client *c, float *out, size_t frames, int rate, int channels);

/* For engines that spatialize themselves: pulls `frames` mono frames at
 * `rate` of one player's voice alone, un-spatialized (only the local
 * volume applies), paced by the caller. Always fills the buffer. Returns
 * frames, GV_ENOTFOUND (silence) when id is not in the lobby, or
 * GV_EINVAL. An alternative to gv_client_pull_mix, not a complement.
 * Render thread, like gv_client_pull_mix: real-time safe at the rate given
 * to gv_client_prepare_playback. */
GV_API int gv_client_pull_player(gv_client *c, uint16_t id, float *out, size_t frames, int rate);

/* The latest pose player id published, into *out; 0, or GV_ENOTFOUND when
 * none arrived yet. Same thread as the other calls. */
GV_API int gv_client_player_pose(const gv_client *c, uint16_t id, gv_player_pose *out);

/* Sets your own position and facing (copied): the listener of the mix,
 * and what the other players hear you from. The library sends it about
 * 20 times a second while it changes and once a second while it does not.
 * GV_EINVAL for a NULL or non-finite pose or a coordinate beyond 1e7. */
GV_API int gv_client_set_pose(gv_client *c, const gv_player_pose *pose);

/* The lobby's positional settings as the server sent them (mode off
 * before they arrive). 0 or GV_EINVAL. */
GV_API int gv_client_get_spatial(const gv_client *c, gv_spatial_config *out);

/* Self mute: while on, no voice packet is sent. */
GV_API int gv_client_set_muted(gv_client *c, int on);

/* Deafen: while on, nothing is played (remote voice is not decoded) and
 * you are muted too; turning it off restores the mute you had set. */
GV_API int gv_client_set_deafened(gv_client *c, int on);

/* A gv_transmit_mode; GV_EINVAL for others. Resets the voice detector. */
GV_API int gv_client_set_transmit_mode(gv_client *c, int mode);

/* Push-to-talk key state (1 down, 0 up); used in GV_TX_PUSH_TO_TALK. */
GV_API int gv_client_set_ptt(gv_client *c, int down);

/* Local per-player volume (linear gain 0..4, default 1) and mute. A
 * muted player's voice is dropped before the jitter buffer (never
 * decoded); the speaking indicator still works. GV_ENOTFOUND when id is
 * not in the lobby. Kept until the player leaves. */
GV_API int gv_client_set_player_volume(gv_client *c, uint16_t id, float gain);
GV_API int gv_client_set_player_muted(gv_client *c, uint16_t id, int on);

/* Level of the latest captured frame in dBFS (mean square; -120 for
 * silence or before any capture), for an input meter. */
GV_API float gv_client_input_level_db(const gv_client *c);

/* 1 while your own voice is being sent (mode, voice activity, PTT and mute
 * taken together), else 0. */
GV_API int gv_client_transmitting(const gv_client *c);

typedef struct gv_peer_stats {
    uint16_t id;
    char name[GV_NAME_BYTES];
    uint64_t voice_packets, lost, late, duplicates, fec_recovered, concealed_frames;
    uint64_t redundant_recovered; /* lost packets played from the copy in the next one */
    double jitter_ms, playout_delay_ms;
    /* The playout delay follows the network and clock drift by playing
     * frames a little shorter or longer (whole pitch periods), never by
     * dropping or inserting frames inside speech. */
    uint64_t shortened_frames, lengthened_frames;
    double shortened_ms, lengthened_ms;
} gv_peer_stats;

typedef struct gv_client_stats {
    uint64_t voice_packets, voice_payload_bytes, datagrams, wire_bytes, max_datagram_bytes;
    uint64_t malformed, auth_failed, replayed;
    double seconds; /* since the client was created */
    int peer_count;
    int expected_loss_pct; /* the Opus expected-loss setting the receivers' loss reports chose */
    int redundancy;        /* 1 while each packet carries the previous one */
    int bitrate;           /* the Opus bit rate in use (halved while redundancy is on) */
    uint64_t redundant_packets; /* packets sent with a copy of the previous one */
    uint64_t join_retries;      /* connection attempts started again because the
                                 * handshake got no answer (a lost acknowledgement) */
    const char *cipher;         /* the AEAD of this session, "chacha20-poly1305" or "aes-256-gcm"
                                 * (a static string) */
    uint64_t playout_dropped;   /* voice packets dropped because the render thread was not
                                 * pulling (no playback, or a stalled device) */
    double echo_delay_ms;       /* how much later the echo arrives than the device latencies
                                 * say (the acoustic path and their error); -1: no echo found,
                                 * or cancellation off */
    double echo_erle_db;        /* echo removed by the canceller's filter, recent (dB) */
    double agc_gain_db;         /* the automatic gain applied to the microphone now */
} gv_client_stats;

GV_API void gv_client_get_stats(const gv_client *c, gv_client_stats *out);

/* Fills up to max entries, one per remote player; returns the count. */
GV_API int gv_client_get_peer_stats(const gv_client *c, gv_peer_stats *out, int max);

#ifdef __cplusplus
}
#endif
#endif
