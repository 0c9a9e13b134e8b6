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
 * (gvoip/ring.h) and wakes it; see examples/device_chat.c.
 *
 * Conventions. Each function's comment lists every code it can return
 * (gvoip/error.h; gv_strerror describes them), who owns what it takes and
 * gives, and the thread it may run on: "control thread" is the thread that
 * owns the handle, "render thread" the audio device's callback, and
 * "thread-safe" means any thread at any time. Handles come from _create
 * and go to _destroy, which takes NULL as a no-op; strings and buffers
 * passed in are borrowed for the call only (the library copies what it
 * keeps) unless a comment says otherwise. On failure a _create leaves
 * *out NULL (when out is not NULL) and keeps nothing allocated.
 *
 * Evolution of this interface (the ABI). Structs that the library reads
 * (configs) or fills (events, stats) start with a `size` field: the
 * caller's sizeof, set by the config's _default() function or, for what
 * the library fills, by the caller before the call
 * (`gv_event ev = {.size = sizeof ev};`). Such a struct grows only at its
 * end and its existing fields never move or change meaning. A library
 * reads a config of any size it has published (a field past the caller's
 * size takes its default) and refuses any other with GV_EINVAL; it fills
 * at most `size` bytes of an event or stats struct, refuses a size smaller
 * than the first published one with GV_EINVAL, and sets `size` to the
 * bytes it wrote, so a newer caller can tell which fields an older library
 * left out. Structs without `size` (gv_spatial_config, gv_player_pose,
 * gv_clock, gv_random) are embedded in others or passed in arrays and are
 * frozen: a change means a new struct with a new name. Enums only gain
 * values; a value a caller's header does not name (a newer library's) must
 * be ignored. From this version on, functions are never changed, only
 * added. */
#ifndef GVOIP_H
#define GVOIP_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/error.h"
#include "gvoip/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. gv_version() and gv_version_number() give
 * the library's, which may differ when a program runs with a newer shared
 * library than it was built with (same major version: same ABI). */
#define GV_VERSION_MAJOR 0
#define GV_VERSION_MINOR 1
#define GV_VERSION_PATCH 0
#define GV_VERSION_NUMBER ((GV_VERSION_MAJOR << 16) | (GV_VERSION_MINOR << 8) | GV_VERSION_PATCH)

#define GV_DEFAULT_PORT 7000
#define GV_DEFAULT_MAX_PLAYERS 32
#define GV_MAX_PLAYERS_LIMIT 256 /* the most gv_server_config.max_players may be */
#define GV_DEFAULT_MAX_TALKERS 6
#define GV_MAX_TALKERS_LIMIT 64  /* the most gv_server_config.max_talkers may be */
#define GV_SAMPLE_RATE 48000     /* the rate voice travels at */
#define GV_NAME_BYTES 33         /* 32 bytes of UTF-8 and a NUL */
#define GV_LOBBY_NAME_BYTES 65   /* a lobby's name: 64 bytes of UTF-8 and a NUL */
#define GV_FLEET_NODES_MAX 16    /* the addresses a client may know of one fleet */
#define GV_DEFAULT_MAX_LOBBIES 8
#define GV_MAX_LOBBIES_LIMIT 4000 /* the most gv_server_config.max_lobbies may be */
#define GV_FINGERPRINT_BYTES 52  /* "SHA256:", 43 base64 characters, a NUL, with room to spare */
#define GV_HOST_TOKEN_BYTES 32   /* what gv_server_host_token points to */
#define GV_PLAYER_VOLUME_MAX 4.0f /* gv_client_set_player_volume's largest gain */

/* The library's version as "MAJOR.MINOR.PATCH": a static string, never
 * NULL, never to be freed. Thread-safe; needs no gv_init. */
GV_API const char *gv_version(void);

/* The library's version packed as GV_VERSION_NUMBER packs the header's:
 * MAJOR << 16 | MINOR << 8 | PATCH. Thread-safe; needs no gv_init. */
GV_API uint32_t gv_version_number(void);

/* The wire protocol version this library speaks: a server refuses a client
 * of another one (GV_REFUSAL_VERSION). Thread-safe; needs no gv_init. */
GV_API int gv_protocol_version(void);

/* Starts libsodium and ENet; call once per process before any other
 * function but gv_version*, gv_strerror and the _default() functions
 * (calling it again is harmless). Returns 0, GV_EKEY (libsodium could not
 * start: no source of randomness) or GV_ENET (ENet's sockets could not
 * start). Call it before starting threads that use gvoip: it is not
 * thread-safe against itself. */
GV_API int gv_init(void);

/* ---- Events ---------------------------------------------------------- */

/* Each handle has one event stream, in the order things happened (a
 * player's arrival before their first SPEAKING), drained by its _service()
 * call one event at a time. A stream holds the latest 256 events: a caller
 * that stops servicing loses the oldest, counted in the handle's stats
 * (events_dropped). A host's server and client are two handles, two
 * streams. */
typedef enum gv_event_type {
    GV_EVENT_NONE = 0,
    GV_EVENT_LISTENING,           /* server: port, fingerprint; first_use 1 when the key was just created */
    GV_EVENT_CONNECTED,           /* client: own id and final name */
    GV_EVENT_PLAYER_CONNECTED,    /* id, name */
    GV_EVENT_PLAYER_DISCONNECTED, /* id, name; server: refused and reason when the server removed them */
    GV_EVENT_SERVER_DISCONNECTED, /* client: the server went away or removed us (refused, reason) */
    GV_EVENT_CONNECTION_FAILED,   /* client: error, refused, reason; fingerprints on a key mismatch */
    GV_EVENT_SERVER_KEY,          /* client: fingerprint accepted; first_use 1 when trusted on first use;
                                   * known_fingerprint the fleet key that vouched for it, if any */
    GV_EVENT_SPEAKING,            /* client: id (and name) started (on 1) or stopped (on 0) talking: voice
                                   * activity in every transmit mode (silence a mode sends anyway does not
                                   * count); own id too, with an empty name */
    GV_EVENT_CONNECTION_INTERRUPTED, /* client: nothing from the server for a second; the session is
                                      * kept (peer_timeout_ms) */
    GV_EVENT_CONNECTION_RESTORED,    /* client: the server is heard again, the same session */
    GV_EVENT_RECONNECTING,  /* client: connecting anew (attempt from 1, retry_ms until the next one, reason);
                             * the lobby and its players are kept meanwhile */
    GV_EVENT_RECONNECTED,   /* client: back in the lobby on a new session, own id and name; resumed 1 when
                             * the server kept our place (same id), 0 when it had forgotten us (a restart):
                             * then PLAYER_DISCONNECTED/CONNECTED follow for what changed */
    GV_EVENT_PLAYER_RECONNECTING, /* id, name: their connection was lost; the server keeps their place */
    GV_EVENT_PLAYER_RECONNECTED,  /* id, name: they resumed it */
    GV_EVENT_LOBBY_OPENED,        /* server: lobby (its first player is joining) */
    GV_EVENT_LOBBY_CLOSED,        /* server: lobby (empty for the server's lobby_linger_ms) */
    GV_EVENT_MUTED_BY_MODERATOR,  /* client: a moderator muted us for everyone (on 1) or no longer (on 0);
                                   * id: the moderator's. Our voice is dropped at the server meanwhile */
    GV_EVENT_PLAYER_MUTED_FOR_ALL, /* client: id, name muted (on 1) or unmuted (on 0) for everyone by a
                                    * moderator; server: the same, with lobby */
} gv_event_type;

/* Why a server refused or removed a player: the code it sent. A newer
 * server may send a value this header does not name. */
typedef enum gv_refusal {
    GV_REFUSAL_NONE = 0,
    GV_REFUSAL_VERSION = 1,    /* another protocol version */
    GV_REFUSAL_FULL = 2,       /* the lobby is full */
    GV_REFUSAL_NAME = 3,       /* the name is not acceptable */
    GV_REFUSAL_PASSWORD = 4,   /* wrong password */
    GV_REFUSAL_RATE_LIMIT = 5, /* too many attempts from this address */
    GV_REFUSAL_FLOODING = 6,   /* sent more than its budget */
    GV_REFUSAL_PROTOCOL = 7,   /* malformed messages, or a failed handshake */
    GV_REFUSAL_SHUTDOWN = 8,   /* the server is shutting down (perhaps to restart: players reconnect) */
    GV_REFUSAL_TIMEOUT = 9,    /* the handshake took too long */
    GV_REFUSAL_RESUME = 10,    /* a resume the server could not honour (the client then joins anew) */
    GV_REFUSAL_REPLACED = 11,  /* the player resumed on another connection */
    GV_REFUSAL_CLOSED = 12,    /* the host ended the lobby: nothing to reconnect to (a dedicated server
                                * going down says SHUTDOWN, and its players try to reconnect) */
    GV_REFUSAL_LOBBY = 13,     /* no such lobby may be made (a bad name, or the server has max_lobbies) */
    GV_REFUSAL_TOKEN = 14,     /* the access token: missing, malformed, forged, expired, in use or for
                                * another lobby (reason says which) */
    GV_REFUSAL_REDIRECT = 15,  /* the lobby is on another port of the server: followed, unless the
                                * server sent the join on more than 3 times in a row */
} gv_refusal;

/* One event, at most 256 bytes. Fields a type does not use are zero (and
 * reason is ""). */
typedef struct gv_event {
    uint32_t size; /* the caller's sizeof(gv_event), set before the first _service() call */
    gv_event_type type;
    uint16_t id;
    uint16_t port;
    int error;          /* CONNECTION_FAILED: the GV_E* code of the failure */
    gv_refusal refused; /* the server's code, GV_REFUSAL_NONE if it gave none */
    int attempt;        /* GV_EVENT_RECONNECTING: 1, 2, ... */
    uint32_t retry_ms;  /* GV_EVENT_RECONNECTING: until the next attempt */
    uint8_t first_use;
    uint8_t on;      /* SPEAKING, MUTED_BY_MODERATOR, PLAYER_MUTED_FOR_ALL */
    uint8_t resumed; /* GV_EVENT_RECONNECTED */
    char name[GV_NAME_BYTES];
    /* A server's events about a player or a lobby: the lobby's name ("" for
     * the default lobby). */
    char lobby[GV_LOBBY_NAME_BYTES];
    char fingerprint[GV_FINGERPRINT_BYTES];       /* "SHA256:..." */
    /* On a key mismatch: the pinned or remembered one. SERVER_KEY: the
     * fleet key whose certificate vouched for the server ("" none). */
    char known_fingerprint[GV_FINGERPRINT_BYTES];
    /* A sentence for the user; never NULL. Owned by the handle that gave
     * the event and valid until that handle is destroyed. */
    const char *reason;
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
    gv_spatial_mode_kind mode;
    gv_attenuation_model model; /* 3D; default inverse */
    float unit_size;        /* 3D: distance of 0 dB; default 10 */
    float max_distance;     /* not heard (and not sent) beyond; 3D: 0 = unlimited (default); 2D: > 0, default 2000 */
    float volume_db;        /* added to the attenuation; default 0 */
    float max_db;           /* 3D: ceiling; default 3 */
    float attenuation;      /* 2D: exponent of (1 - d / max_distance); default 1 */
    float panning_strength; /* 0..3; default 1 */
    int godot_pan;          /* 2D: Godot's linear pan instead of equal-power (default 0) */
    /* 2D with godot_pan: how far to one side, in world units along the
     * listener's right, a voice must be to pan fully (Godot's screen
     * width); 0..1e9, 0 = max_distance (default). */
    float pan_width;
} gv_spatial_config;

/* Fills *cfg with Godot's defaults for mode; a value gv_spatial_mode_kind
 * does not name gives "off". NULL does nothing. Thread-safe. */
GV_API void gv_spatial_config_default(gv_spatial_config *cfg, gv_spatial_mode_kind mode);

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

/* One server on many threads: `workers` gv_servers, each on a thread and a
 * UDP port of its own, share a lobby directory (gv_server_config.directory
 * and .worker). A lobby lives on one worker, so its voice is relayed on
 * that thread without a lock; a join that reaches a worker without its
 * lobby is sent to the right port (REDIRECT, docs/protocol.md), and a new
 * lobby goes to the worker with the fewest players (then the fewest
 * lobbies, then the lowest index). The directory's lock is taken only
 * when a player joins, resumes or leaves and when a lobby opens or
 * closes. */
typedef struct gv_directory gv_directory;
#define GV_DIRECTORY_WORKERS_MAX 64

/* A directory for up to `workers` servers (1..GV_DIRECTORY_WORKERS_MAX)
 * holding at most max_lobbies lobbies between them
 * (1..GV_MAX_LOBBIES_LIMIT; each worker's config must say the same).
 * Returns 0 with *out the caller's (free it with gv_directory_destroy
 * after every server that uses it), GV_EINVAL (NULL out, a count out of
 * range) or GV_ENOMEM. Thread-safe. */
GV_API int gv_directory_create(int workers, int max_lobbies, gv_directory **out);

/* Frees the directory; every server given it must be destroyed first.
 * NULL is a no-op. Any thread, once its servers are gone. */
GV_API void gv_directory_destroy(gv_directory *d);

/* A fleet's word on a lobby none of the workers holds, for a server that
 * is one node of a fleet (`gvoip server --redis`, docs/operations.md).
 * Returns 0 when the lobby is placed on this node (the directory then
 * places it on a worker), 1 when it is on another node, whose host
 * (NUL-terminated, at most host_size bytes with the NUL; a DNS name or an
 * IP address) and *port it fills in, or a negative gv_error that refuses
 * the join (GV_EFULL: the fleet has no room; any other: the fleet cannot
 * place it now). lobby is len bytes, not NUL-terminated (0: the default
 * lobby). Called on a worker's thread when a join arrives, without the
 * directory's lock and possibly on several workers at once: it must be
 * thread-safe, and may block for a round trip to the fleet's store. */
typedef int (*gv_directory_gate_fn)(void *user, const char *lobby, size_t len, char *host, size_t host_size,
                                    uint16_t *port);

/* Every join for a lobby no worker holds asks fn from now on (NULL: none
 * does, as a directory starts). Returns 0, or GV_EINVAL (NULL d). Set it
 * before the servers start and change it only once they have stopped: a
 * worker may be inside fn when this returns. */
GV_API int gv_directory_set_gate(gv_directory *d, gv_directory_gate_fn fn, void *user);

/* The lobby (len bytes) is to leave this node: the fleet placed it on
 * another. The worker that holds it closes it at its next service, and
 * tells each of its players to join it again at host (NULL or "": this
 * node, which will send them on) and port (0: the player's own); they do
 * so without the game doing anything (docs/protocol.md, refuse code 16).
 * Returns 0, GV_EINVAL (NULL d, len past 64 bytes, a host longer
 * than 255 bytes or unfit for the wire), GV_ENOTFOUND (no worker holds it)
 * or GV_EFULL (GV_DIRECTORY_MOVES_MAX moves are still waiting). Thread-safe. */
#define GV_DIRECTORY_MOVES_MAX 64
GV_API int gv_directory_revoke(gv_directory *d, const char *lobby, size_t len, const char *host, uint16_t port);

/* A lobby the workers hold, open or about to be (a player is on the way). */
typedef struct gv_directory_lobby {
    char name[GV_LOBBY_NAME_BYTES]; /* NUL-terminated; "" for the default lobby */
    size_t len;
    int opened;
} gv_directory_lobby;

/* Fills up to max entries of out, in no order, and *players and *lobbies
 * (either may be NULL) with the players (away ones included) and lobbies
 * the workers hold now. Returns the count written, or GV_EINVAL (NULL d,
 * NULL out with max, negative max). Thread-safe. */
GV_API int gv_directory_list(gv_directory *d, gv_directory_lobby *out, int max, int *players, int *lobbies);

typedef struct gv_server_config {
    uint32_t size;            /* sizeof(gv_server_config), set by gv_server_config_default */
    const char *bind_address; /* address or host name to listen on; NULL or "": all interfaces */
    uint16_t port;            /* 0 picks a free port (see gv_server_port); default 7000 */
    int max_players;          /* 1..GV_MAX_PLAYERS_LIMIT; default 32 */
    const char *key_file;     /* NULL: the per-user default path (README) */
    const uint8_t *password;  /* NULL or empty: no password */
    size_t password_len;      /* at most 128 bytes */
    int local_host;           /* 1: reserve id 1 for a gv_client created with host_token */
    /* 1: also relay players whose codec is GV_CODEC_RAW, the original
     * example's uncompressed frames (about 3 Mbit/s each, fragmented),
     * kept as a benchmark baseline; otherwise they are refused. Default 0.
     * The gvoip program's --allow-raw sets it. */
    int allow_raw;
    /* A busy relay spends most of its time sending datagrams: from
     * relay_hold_rate relayed packets a second on (0.., default 40000), a
     * voice packet waits up to relay_hold_us (0..20000, default 2000;
     * 0 = never) for a second one, so each listener's datagram carries
     * both. */
    int relay_hold_us;
    int relay_hold_rate;
    gv_spatial_config spatial; /* default: off */
    gv_cipher_choice cipher;   /* default GV_CIPHER_AUTO */
    gv_clock clock;            /* default: CLOCK_MONOTONIC */
    /* A player from whom nothing reliable is acknowledged for this long
     * is gone: 1000..600000, default 10000 (0 too), so that a laptop lid
     * closed for a few seconds or a debugger's pause is not a departure. */
    uint32_t peer_timeout_ms;
    /* How long the place of a player whose connection was lost is kept
     * for them to resume it (same id and name; it counts toward
     * max_players): 0..600000, default 30000; 0 = a lost connection is a
     * departure. A player that leaves on purpose is gone at once. */
    uint32_t resume_grace_ms;
    /* A listener is sent at most this many talkers at once (after
     * positional culling): the first to speak while there is room, and a
     * clearly louder one (by the level each voice packet carries) in the
     * place of the quietest between two of their words, never mid-word;
     * a place frees 0.8 s after its talker's last word. 0..64, default 6;
     * 0 = no limit. */
    int max_talkers;
    /* A join names its lobby (gv_client_config.lobby; "" is the default
     * lobby): the first player to join one opens it, with this config's
     * settings (or its token's), and it closes once it has been empty for
     * lobby_linger_ms (0..86400000, default 30000; 0 = at once). At most
     * max_lobbies (1..GV_MAX_LOBBIES_LIMIT, default 8) are open at once;
     * with max_players, this sizes the server: it takes up to
     * max_lobbies * max_players players, and never more than 3900. */
    int max_lobbies;
    uint32_t lobby_linger_ms;
    /* NULL or "": anyone who may join (password) may open a lobby. Else
     * the public keys (gv_token_keypair's text) of the backends whose
     * tokens admit players, one per line, blank lines and lines starting
     * with '#' ignored, at most 16: every join then needs a token naming
     * its lobby (docs/protocol.md, "Access tokens"), and the password too
     * if one is set. */
    const char *token_keys;
    /* NULL: this server holds every lobby itself. Else a directory this
     * server shares as its worker number `worker` (0..the directory's
     * workers - 1, each number used by one server at a time): it holds
     * the lobbies placed on it, and tells a join for any other the port
     * of the worker that holds it (on the same host). max_lobbies must be
     * the directory's and counts across every worker. Borrowed: the
     * directory must outlive the server. Default NULL and 0. */
    gv_directory *directory;
    int worker;
    /* NULL (default): no certificate. Else fleet_cert_len bytes
     * (GV_FLEETCERT_BYTES; gv_fleetcert_from_text decodes a certificate's
     * text) of a certificate the fleet's key signed for this server's own
     * key: the server shows it in the handshake to every client that asks
     * for it, and those clients then accept this server as one node of
     * the fleet (docs/protocol.md, "Fleet certificates"). Its form, its
     * signature and its key are checked when the server is created, its
     * validity in time is the clients' to judge: an expired certificate
     * is shown, and refused by them. Copied. */
    const uint8_t *fleet_cert;
    size_t fleet_cert_len;
} gv_server_config;

/* Fills *cfg with the defaults above, size included. NULL does nothing.
 * Thread-safe. */
GV_API void gv_server_config_default(gv_server_config *cfg);

/* Creates a lobby listening on UDP: loads the server key, or creates it
 * when its file does not exist, and binds the port. Returns 0 with *out
 * the caller's (free it with gv_server_destroy), or:
 *   GV_EINVAL    NULL cfg or out, a size this library does not know, a
 *                field out of the range given above, an empty key_file,
 *                a NULL clock.now_us, or positional settings out of range
 *                (a mode other than off: gv_spatial_config's ranges); with
 *                a directory, a worker out of its range or in use by
 *                another server, or a max_lobbies other than its own; a
 *                fleet_cert_len without fleet_cert
 *   GV_ENOMEM    allocation failed
 *   GV_ENOTFOUND key_file NULL and no per-user directory (HOME unset)
 *   GV_ETOOBIG   the per-user key path is too long
 *   GV_EKEY      the key file is unsafe (group or others may read it,
 *                another user owns it), unreadable to us or malformed;
 *                or token_keys holds a line that is not a public key,
 *                more than 16 keys or none; or fleet_cert is not a
 *                certificate, its signature does not verify, or it is for
 *                another key than the key file's
 *   GV_EIO       the key file could not be read or created
 *   GV_ENET      bind_address does not resolve, or the port cannot be bound
 * On failure a one-line reason for the user goes to why (why_len bytes,
 * NUL-terminated; why may be NULL), when there is more to say than the
 * code. cfg and its strings are borrowed for the call. Thread-safe for
 * distinct configs. */
GV_API int gv_server_create(const gv_server_config *cfg, gv_server **out, char *why, size_t why_len);

/* Tells every player the server is going away (waiting up to about 200 ms
 * for the news to leave), then frees. NULL is a no-op. Control thread. */
GV_API void gv_server_destroy(gv_server *s);

/* The UDP socket's descriptor, for a program that waits on several things
 * at once: when poll() finds it readable, call gv_server_service. The
 * library owns it (never read from or close it). Returns the descriptor,
 * or GV_EINVAL for a NULL s. Control thread. */
GV_API int gv_server_fd(const gv_server *s);

/* The UDP port actually bound (1..65535), or GV_EINVAL for a NULL s.
 * Control thread. */
GV_API int gv_server_port(const gv_server *s);

/* Writes "SHA256:..." of the server's public key, NUL-terminated, to out
 * (len bytes, GV_FINGERPRINT_BYTES are enough). Returns 0, GV_EINVAL (NULL
 * s or out) or GV_ETOOBIG (len too small; out is then ""). Control
 * thread. */
GV_API int gv_server_fingerprint(const gv_server *s, char *out, size_t len);

/* The GV_HOST_TOKEN_BYTES a local gv_client passes as host_token to
 * become player 1 (with local_host set). Owned by the server, valid until
 * gv_server_destroy; secret: never send or log it. NULL for a NULL s.
 * Control thread. */
GV_API const uint8_t *gv_server_host_token(const gv_server *s);

/* Services the network for up to timeout_ms (0: do not wait; returns at
 * once when an event is already waiting) and takes the next event of the
 * stream. Returns 1 with *ev filled, 0 when there is none, GV_EINVAL (NULL
 * s or ev, ev->size too small) or GV_ENET (the socket failed). Control
 * thread: one thread per server. */
GV_API int gv_server_service(gv_server *s, gv_event *ev, uint32_t timeout_ms);

/* gv_server_stats.relay_latency_us: its buckets, and the upper bounds of
 * all but the last, in microseconds (an initializer for a uint32_t
 * array). Fixed: a change would be a new field. */
#define GV_RELAY_LATENCY_BUCKETS 10
#define GV_RELAY_LATENCY_BOUNDS_US {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000}

typedef struct gv_server_stats {
    uint32_t size; /* the caller's sizeof(gv_server_stats), set before the call */
    int players;
    uint64_t relayed_packets;
    uint64_t datagrams_in, datagrams_out, bytes_in, bytes_out;
    uint64_t malformed, auth_failed, replayed, over_budget, handshakes, refused;
    uint64_t max_datagram_bytes;
    uint64_t culled_packets;   /* voice not sent to a listener out of earshot */
    uint64_t positions_relayed;
    uint64_t events_dropped;   /* events lost because the stream was full */
    uint64_t rebinds;          /* players moved to the new address their voice came from (NAT rebinding) */
    int away;                  /* players whose connection was lost and whose place is kept (in players) */
    uint64_t resumed;          /* resumes honoured */
    uint64_t talkers_limited;  /* voice not sent to a listener who had max_talkers others to hear */
    int lobbies;               /* open now */
    uint64_t lobbies_opened, lobbies_closed;
    /* Joins refused for their token, by reason. */
    uint64_t token_missing, token_malformed, token_unknown_key, token_bad_signature, token_expired,
        token_in_use, token_wrong_lobby;
    uint64_t listen_only_dropped; /* voice from listen-only or moderator-muted players, dropped */
    uint64_t redirects; /* joins and resumes sent to the worker that holds their lobby (directory) */
    /* How long the relay kept voice: for each voice packet forwarded to
     * one listener or more, from when the server handled it to when the
     * datagram to the last of its listeners was sent, relay_hold_us's
     * wait included. relay_latency_us[i] counts the packets that took
     * more than the bound before i and at most GV_RELAY_LATENCY_BOUNDS_US'
     * bound i (microseconds); the last bucket, more than the last bound.
     * The raw baseline (allow_raw) is not counted. */
    uint64_t relay_latency_us[GV_RELAY_LATENCY_BUCKETS];
    uint64_t relay_latency_sum_us; /* the latencies counted, added up */
} gv_server_stats;

/* One open lobby's figures. */
typedef struct gv_lobby_stats {
    uint32_t size; /* the caller's sizeof(gv_lobby_stats) */
    char name[GV_LOBBY_NAME_BYTES]; /* "" for the default lobby */
    int players;                    /* away ones included */
    int away;
    int max_players;
    uint64_t relayed_packets, culled_packets, talkers_limited, listen_only_dropped;
    uint64_t joined;  /* players admitted since it opened (resumes not counted) */
    uint64_t open_ms; /* how long it has been open */
} gv_lobby_stats;

/* Fills up to max entries of out, one per open lobby, in the order they
 * opened. out[0].size, set by the caller, gives every entry's size (the
 * array's stride). Returns the count written, or GV_EINVAL (NULL s, NULL
 * out with max, a negative max, out[0].size too small). Control thread. */
GV_API int gv_server_get_lobby_stats(const gv_server *s, gv_lobby_stats *out, int max);

/* Fills *out (out->size set by the caller). Returns 0 or GV_EINVAL (NULL s
 * or out, out->size too small). Control thread. */
GV_API int gv_server_get_stats(const gv_server *s, gv_server_stats *out);

/* ---- Client (a player) ----------------------------------------------- */

typedef struct gv_client gv_client;

typedef enum gv_codec_kind {
    GV_CODEC_OPUS = 0,
    /* The original example's uncompressed frames (1024 stereo float32 a
     * message, about 3 Mbit/s, no jitter buffer): a benchmark baseline,
     * relayed only by a server with allow_raw. */
    GV_CODEC_RAW = 1
} gv_codec_kind;

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

/* Fields that say "0 or 1" refuse other values (GV_EINVAL). */
typedef struct gv_client_config {
    uint32_t size;                  /* sizeof(gv_client_config), set by gv_client_config_default */
    const char *server_host;        /* name or address; default "127.0.0.1" */
    uint16_t server_port;           /* default 7000 */
    const char *name;               /* 1..32 bytes UTF-8, judged by the server, which may add a
                                     * number; default "player" */
    const uint8_t *password;        /* NULL or empty: none */
    size_t password_len;            /* at most 128 bytes */
    const char *known_servers_file; /* NULL: per-user default; "" disables trust on first use */
    const char *server_key;         /* "SHA256:...": pin; refuse any other key. NULL: none */
    const uint8_t *host_token;      /* GV_HOST_TOKEN_BYTES from gv_server_host_token, for the
                                     * host's own player; NULL otherwise */
    uint32_t connect_timeout_ms;    /* default 5000 (0 too): to the server's handshake answer,
                                     * then as long again for the rest of the join */
    gv_codec_kind codec;            /* default GV_CODEC_OPUS */
    int bitrate;                    /* bit/s, clamped to 6000..128000; default 24000 */
    int frame_ms;                   /* 10, 20, 40 or 60; default 20 */
    int fec;                        /* nonzero: Opus in-band FEC; default 1 */
    int redundancy;                 /* 0 or 1: under heavy reported loss, send each packet again
                                     * in the next at half the bit rate (README); default 1 */
    int echo_test;                  /* nonzero: hear yourself through the server; default 0 */
    gv_transmit_mode transmit_mode; /* default GV_TX_CONTINUOUS */
    int itd;                        /* 0 or 1: a small interaural delay on positional voice */
    gv_cipher_choice cipher;        /* default GV_CIPHER_AUTO */
    /* The microphone is cleaned before it is encoded, in this order: */
    gv_echo_cancel echo_cancel;     /* default GV_ECHO_CANCEL_MIX */
    int noise_suppression;          /* 0 or 1: suppress steady noise (fans, hum, hiss); default 1 */
    int auto_gain;                  /* 0 or 1: speech to about -20 dBFS, never past -1; default 1 */
    gv_clock clock;                 /* default: CLOCK_MONOTONIC */
    gv_random random;               /* default: libsodium's randombytes_buf */
    uint32_t peer_timeout_ms;       /* 1000..600000, default 10000 (0 too): a server that acknowledges
                                     * nothing for this long is gone; after a second
                                     * CONNECTION_INTERRUPTED says so and the session waits */
    /* 0..3600000, default 120000; 0 = off. From two seconds without the
     * server on, the client also connects anew (RECONNECTING), retrying
     * with backoff from 1 s to 10 s, for this long: the old session or the
     * new one, whichever answers first, carries on. The new one presents
     * the resumption secret the server gave at the last join, so that a
     * server that kept our place gives the same id back; one that
     * restarted takes us as a newcomer, and settings for other players
     * (volume, mute) follow them by name. The server's key is checked as
     * on the first join and must be the one this client already trusted.
     * SERVER_DISCONNECTED only when it gives up (or immediately when off). */
    uint32_t reconnect_ms;
    /* The local address to send from (a dotted IPv4 address or a host
     * name; the port is the system's choice); NULL or "": any. Lets one
     * machine stand in for players at many addresses (127.0.0.0/8), which
     * the server's per-address limits would otherwise lump together. */
    const char *bind_address;
    /* The lobby to join: NULL or "" for the server's default lobby (or
     * the one the token names), else 1..64 bytes, the player-name rules
     * but '#' allowed. Travels inside the encrypted handshake. */
    const char *lobby;
    /* An access token's text (gv_token_mint), for a server that requires
     * them; NULL: none. The name it carries is the player's name. */
    const char *token;
    /* Other nodes of the server's fleet, "HOST:PORT,HOST:PORT" (at most
     * GV_FLEET_NODES_MAX in all, with the server and, when server_host
     * resolves to several IPv4 addresses, each of those; NULL or "":
     * none). The first join goes on to the next of them (server_host
     * first) when one has answered nothing for 1.2-1.5 s, round and
     * round within connect_timeout_ms. Once the server is lost, the
     * reconnection attempts go to the server first and then to each node
     * in turn, at most 2 s apart: any
     * live node sends the player on to wherever the fleet placed the lobby
     * since (docs/operations.md, "A fleet"). Each node must show the key
     * the first session showed, or a certificate of the same fleet key. */
    const char *fleet_nodes;
    /* "SHA256:..." of a fleet's public key (gv_fleetcert_keypair's
     * fingerprint): pin; NULL (default): none. A server that shows a
     * certificate (gv_server_config.fleet_cert) is then accepted only when
     * the certificate is valid now, is for the key the handshake proved and
     * is signed by this fleet key; one that shows none only when server_key
     * pins its key. Without it, a certificate's fleet key is trusted on
     * first use through known_servers_file, as a server key is (a changed
     * one is refused). Either way, a later session (reconnecting, a
     * redirect to another node) may show another server key with a valid
     * certificate of the same fleet key. */
    const char *fleet_key;
} gv_client_config;

/* Fills *cfg with the defaults above, size included. NULL does nothing.
 * Thread-safe. */
GV_API void gv_client_config_default(gv_client_config *cfg);

/* Starts connecting to the server; the join's progress and outcome arrive
 * as events from gv_client_service (a refused or failed join is a
 * GV_EVENT_CONNECTION_FAILED, not an error here). Returns 0 with *out the
 * caller's (free it with gv_client_destroy), or:
 *   GV_EINVAL    NULL cfg or out, a size this library does not know, a
 *                field out of the range given above, a NULL server_host,
 *                name, clock.now_us or random.fill, a password_len without
 *                password, a server_key or fleet_key that is not a
 *                fingerprint, or fleet_nodes not a list of HOST:PORT
 *   GV_ENAME     a name gv_check_name refuses
 *   GV_ENOMEM    allocation failed
 *   GV_ECODEC    the Opus encoder could not be set up
 *   GV_ENOTFOUND server_host does not resolve
 *   GV_ENET      the UDP socket could not be opened, or bound to a
 *                bind_address (one that does not resolve, or is not local)
 * cfg and its strings are borrowed for the call (the library copies them).
 * Resolving server_host may block. Thread-safe for distinct configs. */
GV_API int gv_client_create(const gv_client_config *cfg, gv_client **out);

/* The player-name rules a server applies, for checking a name before
 * anything starts: 1..32 bytes of UTF-8, not only white space, no control
 * or invisible formatting characters (bidi controls, zero-width
 * characters), no '#' (the server names a duplicate "alice#2"). Returns 0,
 * GV_ENAME with a static English reason in *why (why may be NULL), or
 * GV_EINVAL for a NULL name. Thread-safe; needs no gv_init. */
GV_API int gv_check_name(const char *name, const char **why);

/* Leaves cleanly (tells the server, waiting up to about 200 ms for the
 * news to leave) and frees. NULL is a no-op. Control thread, with the
 * render thread stopped (no pull or push may be running or follow). */
GV_API void gv_client_destroy(gv_client *c);

/* Services the network for up to timeout_ms (0: do not wait; returns at
 * once when an event is already waiting), runs the client's timers and
 * takes the next event of the stream. Returns 1 with *ev filled, 0 when
 * there is none, GV_EINVAL (NULL c or ev, ev->size too small) or GV_ENET
 * (the socket failed). Control thread: one thread per client. */
GV_API int gv_client_service(gv_client *c, gv_event *ev, uint32_t timeout_ms);

/* The UDP socket's descriptor, as gv_server_fd: readable means call
 * gv_client_service. A program waiting on it must still call
 * gv_client_service at least every gv_client_idle_ms while idle (timers:
 * keep-alive, loss reports, the join's retries). The library owns it; it stays the
 * same from gv_client_create to gv_client_destroy, a failed join
 * included. Returns the descriptor, or GV_EINVAL for a NULL c. Control
 * thread. */
GV_API int gv_client_fd(const gv_client *c);

/* How long the client may go without gv_client_service while its socket
 * stays unreadable: 20 ms while joining or reconnecting, while own voice
 * is sent, a remote player is heard speaking (its end is a timeout) or
 * own pose moves; 100 ms on a steady session with nobody talking, where
 * only keep-alives (every 500 ms) and once-a-second reports are due. An
 * idle program that wakes for it alone wakes 10 times a second instead of
 * 50. 20 for a NULL c. Control thread; ask again after each service. */
GV_API uint32_t gv_client_idle_ms(const gv_client *c);

/* Own id (1..65535) once the join succeeded, else 0 (also for a NULL c).
 * Control thread. */
GV_API int gv_client_id(const gv_client *c);

/* Pushes microphone samples (interleaved float, -1..1) at any rate from
 * 8000 to 192000 Hz and 1 or 2 channels; they are cleaned, resampled,
 * encoded and sent as soon as a frame is whole (before the join succeeded
 * they are consumed and dropped). A change of rate or channels rebuilds
 * the resampler (what it held is dropped). samples is borrowed for the
 * call. Returns the frames consumed (all of them), or GV_EINVAL (NULL c,
 * NULL samples with frames, frames above INT_MAX, rate or channels out of
 * range), GV_ENOMEM, GV_ECODEC (the encoder failed), GV_ETOOBIG (a packet
 * would not fit a datagram) or GV_ENET (sending failed). Control thread. */
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
 * than a few ms. Returns 0 or GV_EINVAL (NULL c, a figure above 1 s).
 * Control thread. */
GV_API int gv_client_set_device_latency(gv_client *c, uint32_t capture_us, uint32_t playback_us);

/* In GV_ECHO_CANCEL_EXTERNAL mode: the interleaved frames the playback
 * device is about to play, all of them (the final mix, whatever made it),
 * at rate 8000..192000 with 1 or 2 channels. Call it from the device's
 * callback, right after producing the buffer; samples is borrowed for the
 * call. Returns 0, GV_EINVAL (NULL c, NULL samples with frames, frames
 * above INT_MAX, rate or channels out of range), GV_ESTATE (another echo
 * mode) or GV_ENOMEM. Render thread: real-time safe at the format given to
 * gv_client_prepare_playback; at another format its first call
 * allocates. */
GV_API int gv_client_push_echo_reference(gv_client *c, const float *samples, size_t frames, int rate,
                                         int channels);

/* Tells the client the format the render thread will pull at (rate
 * 8000..192000, channels 1 or 2), so that pulls at that format never
 * allocate. Call it before starting the playback device, and again if the
 * device's format changes. Returns 0, GV_EINVAL (NULL c, rate or channels
 * out of range), GV_ENOMEM, or GV_EFULL when the render thread has not
 * taken earlier work yet (try again). Control thread. */
GV_API int gv_client_prepare_playback(gv_client *c, int rate, int channels);

/* Pulls `frames` frames of the mix of all remote players at `rate`
 * (8000..192000) with `channels` (1 or 2) into out, paced by the caller's
 * playback clock: call it from the playback device's callback, or from the
 * control thread when there is no device (files). The mix is stereo, each
 * player placed by the lobby's positional mode relative to your pose;
 * channels = 1 gets it downmixed. Fills the whole buffer (silence where
 * nothing plays) and returns frames, or returns GV_EINVAL (NULL c, NULL out
 * with frames, frames above INT_MAX, rate or channels out of range) or
 * GV_ENOMEM (a first pull at an unprepared format), leaving out as it was.
 * Render thread (see the top of this file): real-time safe at the prepared
 * format; at another format its first call allocates. Use either this or
 * gv_client_pull_player, not both: each consumes the players' streams.
 * The caller may stop pulling (a paused device): voice that waited more
 * than a second for the next pull is dropped then, not played late. */
GV_API int gv_client_pull_mix(gv_client *c, float *out, size_t frames, int rate, int channels);

/* For engines that spatialize themselves: pulls `frames` mono frames at
 * `rate` (8000..192000) of one player's voice alone, un-spatialized (only
 * the local volume applies), paced by the caller. Returns frames with out
 * filled; GV_ENOTFOUND, with out silent, when the player has no stream
 * (not in the lobby, or not heard of yet); GV_EINVAL (NULL c, NULL out with
 * frames, frames above INT_MAX, rate out of range) or GV_ENOMEM (a first
 * pull at an unprepared rate), leaving out as it was. An alternative to
 * gv_client_pull_mix, not a complement. Render thread, like
 * gv_client_pull_mix: real-time safe at the rate given to
 * gv_client_prepare_playback. */
GV_API int gv_client_pull_player(gv_client *c, uint16_t id, float *out, size_t frames, int rate);

/* The latest pose player id published, into *out. Returns 0, GV_EINVAL
 * (NULL c or out) or GV_ENOTFOUND (none arrived yet, or no such player).
 * Control thread. */
GV_API int gv_client_player_pose(const gv_client *c, uint16_t id, gv_player_pose *out);

/* Sets your own position and facing (copied): the listener of the mix,
 * and what the other players hear you from. The library sends it about
 * 20 times a second while it changes and once a second while it does not.
 * Returns 0, or GV_EINVAL for a NULL c or pose, or a pose with a
 * non-finite value or a coordinate beyond 1e7. Control thread. */
GV_API int gv_client_set_pose(gv_client *c, const gv_player_pose *pose);

/* The lobby's positional settings as the server sent them (mode off
 * before they arrive), into *out. Returns 0 or GV_EINVAL (NULL c or out).
 * Control thread. */
GV_API int gv_client_get_spatial(const gv_client *c, gv_spatial_config *out);

/* Self mute (on nonzero): while on, no voice packet is sent. Returns 0 or
 * GV_EINVAL (NULL c). Control thread. */
GV_API int gv_client_set_muted(gv_client *c, int on);

/* Deafen (on nonzero): while on, nothing is played (remote voice is not
 * decoded) and you are muted too; turning it off restores the mute you
 * had set. Returns 0 or GV_EINVAL (NULL c). Control thread. */
GV_API int gv_client_set_deafened(gv_client *c, int on);

/* Switches the transmit mode and resets the voice detector. Returns 0 or
 * GV_EINVAL (NULL c, a mode gv_transmit_mode does not name). Control
 * thread. */
GV_API int gv_client_set_transmit_mode(gv_client *c, gv_transmit_mode mode);

/* Push-to-talk key state (nonzero down, 0 up), used in
 * GV_TX_PUSH_TO_TALK. Returns 0 or GV_EINVAL (NULL c). Control thread. */
GV_API int gv_client_set_ptt(gv_client *c, int down);

/* Local per-player volume (linear gain 0..GV_PLAYER_VOLUME_MAX, default 1)
 * and mute (on nonzero). A muted player's voice is dropped before the
 * jitter buffer (never decoded); the speaking indicator still works. Kept
 * until the player leaves. Return 0, GV_EINVAL (NULL c; a gain out of
 * range or NaN), GV_ENOTFOUND (id is not in the lobby) or GV_ENOMEM.
 * Control thread. */
GV_API int gv_client_set_player_volume(gv_client *c, uint16_t id, float gain);
GV_API int gv_client_set_player_muted(gv_client *c, uint16_t id, int on);

/* A moderator's mute (on 1) or unmute (on 0) of player id for everyone:
 * the server drops their voice until a moderator unmutes them, and tells
 * the lobby (GV_EVENT_PLAYER_MUTED_FOR_ALL; the player themselves get
 * GV_EVENT_MUTED_BY_MODERATOR). Only a player whose access token grants
 * GV_TOKEN_MODERATOR may do it: the server ignores anyone else's request
 * (and counts it malformed), so no event follows. Returns 0 when the
 * request is sent, GV_EINVAL (NULL c, on not 0 or 1), GV_ENOTFOUND (id is
 * not a player in the lobby: yourself included) or GV_ESTATE (not in a
 * lobby now). Control thread. */
GV_API int gv_client_mute_for_all(gv_client *c, uint16_t id, int on);

/* Level of the latest captured frame in dBFS (mean square; -120 for
 * silence, before any capture, or for a NULL c), for an input meter.
 * Control thread. */
GV_API float gv_client_input_level_db(const gv_client *c);

/* The level, as they sent it (dBov, -127..0), of the loudest remote player
 * you hear whose last voice packet came within the last 300 ms; -127 when
 * nobody's did (players you muted and a deafened client hear nobody), also
 * for a NULL c. Unlike the SPEAKING events, which wait for the speaker's
 * voice detector, it also moves for sound that is not voice, such as the
 * first frame of a word or a noisy room sent in continuous mode: for
 * deciding whether anything can be heard at all (a program lets its
 * playback device sleep while nothing can). Control thread. */
GV_API float gv_client_loudest_peer_db(const gv_client *c);

/* Frames quieter than this (dBov) that carry no voice activity cannot be
 * heard: a program may let its playback device sleep while
 * gv_client_loudest_peer_db stays below it and nobody speaks. While
 * nothing pulls the mix, the client does not keep such frames. */
#define GV_AUDIBLE_DBOV (-50.0f)

/* 1 while your own voice is being sent (mode, voice activity, PTT and mute
 * taken together), else 0 (also for a NULL c). Control thread. */
GV_API int gv_client_transmitting(const gv_client *c);

/* The level below which captured audio cannot change what the client
 * sends now, in dBFS of the samples gv_client_push_capture takes (their
 * mean square over every channel; a full-scale sine reads -3): with voice
 * activation, the voice detector's gate less the automatic gain's boost.
 * Capture quieter than this may be pushed up to GV_WAKEGATE_WAIT_MS late
 * (gvoip/wakegate.h decides it in a capture callback), so a program may
 * let its main loop sleep through a quiet room instead of waking for
 * every device period; anything louder must be pushed at once, with what
 * waited before it. -INFINITY while every frame counts (continuous mode,
 * a voice being sent, push-to-talk held, the echo canceller hearing the
 * far end, the raw codec) and for a NULL c; +INFINITY while nothing is
 * sent whatever its level (push-to-talk released, muted, deafened). The
 * value moves with the gain: ask again after each push. Control thread. */
GV_API float gv_client_capture_quiet_db(const gv_client *c);

typedef struct gv_peer_stats {
    uint32_t size; /* see gv_client_get_peer_stats */
    uint16_t id;
    char name[GV_NAME_BYTES];
    /* lost: packets that never played (never arrived, came too late, or
     * were dropped to keep the delay under its cap), counted across stalls
     * too; late: those of them that did arrive (after their time, or
     * dropped for the cap), so lost - late never arrived. Neither counts
     * what came in time while your playback was paused, nor the gap
     * before a packet that opens a talk spurt (the server marks the first
     * packet of a talker it lets through again after holding it back). */
    uint64_t voice_packets, lost, late, duplicates, fec_recovered, concealed_frames;
    uint64_t redundant_recovered; /* lost packets played from the copy in the next one */
    double jitter_ms, playout_delay_ms;
    /* The playout delay follows the network and clock drift by playing
     * frames a little shorter or longer (whole pitch periods), never by
     * dropping or inserting frames inside speech. */
    uint64_t shortened_frames, lengthened_frames;
    double shortened_ms, lengthened_ms;
    /* The player's round trip to the server as the server last measured
     * it (every 2 s), in ms; 0 until known. Their voice reaches you about
     * (rtt_ms + your rtt_ms) / 2 after it left them, plus the jitter
     * buffer's playout delay. */
    uint32_t rtt_ms;
    float volume; /* the local gain and mute set for them (gv_client_set_player_*) */
    int muted;
    float level_db; /* their voice's level as they sent it (dBov, -127..0; -127 when silent) */
} gv_peer_stats;

typedef struct gv_client_stats {
    uint32_t size; /* the caller's sizeof(gv_client_stats), set before the call */
    int peer_count;
    uint64_t voice_packets, voice_payload_bytes, datagrams, wire_bytes, max_datagram_bytes;
    uint64_t malformed, auth_failed, replayed;
    double seconds;        /* since the client was created */
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
    uint64_t events_dropped;    /* events lost because the stream was full */
    uint32_t rtt_ms;            /* your round trip to the server (ENet's running estimate), ms */
    uint64_t dtx_frames;        /* frames of silence not sent (Opus DTX: a comfort-noise frame
                                 * goes every 400 ms instead) */
} gv_client_stats;

/* Fills *out (out->size set by the caller). Returns 0 or GV_EINVAL (NULL c
 * or out, out->size too small). Control thread. */
GV_API int gv_client_get_stats(const gv_client *c, gv_client_stats *out);

/* Fills up to max entries of out, one per remote player in the lobby and
 * then the most recent ones who left. out[0].size, set by the caller,
 * gives the size of every entry (the array's stride); the library sets
 * each entry's size to the bytes it wrote. Returns the count, or GV_EINVAL
 * (NULL c, NULL out with max, a negative max, out[0].size too small).
 * Control thread. */
GV_API int gv_client_get_peer_stats(const gv_client *c, gv_peer_stats *out, int max);

/* ---- Access tokens ---------------------------------------------------
 * A game's backend decides who may talk where: it holds an Ed25519 key
 * pair and signs, for each player, a token naming the lobby, the player's
 * name and what they may do; a server given the public keys
 * (gv_server_config.token_keys) admits only players with a valid token.
 * Tokens and keys travel as base64url text (RFC 4648, no padding) of the
 * byte formats in docs/protocol.md, "Access tokens", so a backend in any
 * language can mint them. Nothing here keeps state: thread-safe. */

#define GV_TOKEN_KEY_BYTES 44  /* a key's text (43 characters) and a NUL */
#define GV_TOKEN_TEXT_MAX 400  /* the longest token's text and a NUL */

/* What a token lets its player do besides listening and talking. */
typedef enum gv_token_permission {
    GV_TOKEN_LISTEN_ONLY = 0x01, /* their voice is dropped at the server */
    GV_TOKEN_MODERATOR = 0x02,   /* may mute a player for everyone (gv_client_mute_for_all) */
} gv_token_permission;

/* What a token says. A lobby its token creates takes the server's
 * settings except those the token gives. */
typedef struct gv_token_claims {
    uint32_t size;    /* sizeof(gv_token_claims), set by gv_token_claims_default */
    const char *lobby; /* 1..64 bytes, the player-name rules (gv_check_name) but '#' allowed */
    const char *name;  /* the player's name (gv_check_name) */
    uint16_t id;       /* 0: the server gives one; 2..65535: this id, always */
    unsigned permissions; /* gv_token_permission bits; default 0 */
    uint64_t expires;     /* Unix time in seconds; must be in the future when minted */
    int spatial_mode;     /* -1 (default): the server's; else a gv_spatial_mode_kind */
    float max_distance;   /* 0 (default): the server's; else 0.1..100000 */
    int max_players;      /* 0 (default): the server's; else 1..GV_MAX_PLAYERS_LIMIT */
} gv_token_claims;

/* Fills *c with the defaults above (no lobby, no name, expiring now), size
 * included. NULL does nothing. */
GV_API void gv_token_claims_default(gv_token_claims *c);

/* Makes a new signing key pair from libsodium's random source: the secret
 * key's text (keep it on the backend, never give it to players) into
 * secret_text and the public key's, for the servers' token_keys, into
 * public_text, each GV_TOKEN_KEY_BYTES long at least and NUL-terminated.
 * Returns 0, GV_EINVAL (NULL pointer), GV_ETOOBIG (a buffer too short) or
 * GV_EKEY (libsodium could not start). */
GV_API int gv_token_keypair(char *secret_text, size_t secret_len, char *public_text, size_t public_len);

/* Signs c with the secret key's text (as gv_token_keypair writes it;
 * surrounding white space is ignored) and writes the token's text,
 * NUL-terminated, to out (GV_TOKEN_TEXT_MAX bytes are always enough). Each
 * token gets a random nonce. Returns the text's length, or:
 *   GV_EINVAL  NULL c, secret_text or out; a size this library does not
 *              know; a lobby or name that breaks the rules; an id of 1; an
 *              unknown permission bit or mode; a field out of range
 *   GV_EKEY    secret_text is not a key
 *   GV_ETOOBIG out is too short */
GV_API int gv_token_mint(const gv_token_claims *c, const char *secret_text, char *out, size_t out_len);

/* ---- Fleet certificates ----------------------------------------------
 * The nodes of a fleet each have a server key of their own; the fleet
 * has one Ed25519 key pair whose secret signs, for each node, a
 * certificate binding that node's server key to the fleet for a span of
 * time. A node shows its certificate in the handshake
 * (gv_server_config.fleet_cert), and a client that trusts the fleet key
 * (gv_client_config.fleet_key, or first use) accepts any node showing a
 * valid one. Keys travel as base64url text like access tokens' keys,
 * certificates as base64url text of the bytes in docs/protocol.md, "Fleet
 * certificates". The functions below start libsodium themselves and keep
 * no state: thread-safe. */

#define GV_FLEETCERT_BYTES 145    /* a certificate */
#define GV_FLEETCERT_TEXT_MAX 196 /* its text (194 characters) and a NUL */

/* Makes a new fleet key pair from libsodium's random source: the secret
 * key's text (keep it off the nodes, with whoever issues certificates)
 * into secret_text, the public key's into public_text (each
 * GV_TOKEN_KEY_BYTES long at least), and the public key's fingerprint,
 * "SHA256:..." as clients pin it, into fingerprint (GV_FINGERPRINT_BYTES
 * at least); all NUL-terminated. Returns 0, GV_EINVAL (NULL pointer),
 * GV_ETOOBIG (a buffer too short) or GV_EKEY (libsodium could not start). */
GV_API int gv_fleetcert_keypair(char *secret_text, size_t secret_len, char *public_text, size_t public_len,
                                char *fingerprint, size_t fingerprint_len);

/* Signs, with the fleet's secret key text (as gv_fleetcert_keypair writes
 * it; white space around it ignored), the certificate of the node whose
 * server public key is node_pk (gv_keyfile_public_key), valid from Unix
 * time not_before up to, not including, not_after, and writes its text,
 * NUL-terminated, to out (GV_FLEETCERT_TEXT_MAX bytes are enough).
 * Returns the text's length, or:
 *   GV_EINVAL  NULL secret_text, node_pk or out; not_before not before
 *              not_after
 *   GV_EKEY    secret_text is not a key, or libsodium could not start
 *   GV_ETOOBIG out is too short */
GV_API int gv_fleetcert_issue(const char *secret_text, const uint8_t node_pk[32], uint64_t not_before,
                              uint64_t not_after, char *out, size_t out_len);

/* Decodes a certificate's text (len bytes, white space around it
 * ignored) to its bytes in out (cap bytes; GV_FLEETCERT_BYTES for a
 * certificate). Returns the byte count, GV_EINVAL (NULL text or out),
 * GV_EMALFORMED (not base64url without padding) or GV_ETOOBIG (more than
 * cap bytes). Checks the encoding only: gv_fleetcert_inspect or a server
 * judges the bytes. */
GV_API int gv_fleetcert_from_text(const char *text, size_t len, uint8_t *out, size_t cap);

/* What a certificate says, for printing. */
typedef struct gv_fleetcert_info {
    uint32_t size;                     /* the caller's sizeof(gv_fleetcert_info), set before the call */
    char fleet[GV_FINGERPRINT_BYTES];  /* "SHA256:..." of the fleet key that signed it */
    char node[GV_FINGERPRINT_BYTES];   /* "SHA256:..." of the server key it is for */
    uint64_t not_before, not_after;    /* Unix seconds: valid from not_before, refused from not_after */
} gv_fleetcert_info;

/* Reads a certificate's len bytes: checks its form and its signature (not
 * the time: compare not_before and not_after with the clock) and fills
 * *out as far as out->size reaches, setting size to the bytes written.
 * Returns 0, or GV_EINVAL (NULL cert or out, out->size smaller than the
 * first published gv_fleetcert_info), GV_EMALFORMED (not a certificate),
 * GV_EAUTH (its signature does not verify) or GV_EKEY (libsodium could
 * not start), with a one-line reason in why (why_len bytes,
 * NUL-terminated; why may be NULL). */
GV_API int gv_fleetcert_inspect(const uint8_t *cert, size_t len, gv_fleetcert_info *out, char *why,
                                size_t why_len);

/* The public key of the server key file at path (the file
 * gv_server_config.key_file names), for issuing its certificate: the file
 * must exist (it is never created here) and pass the server's checks.
 * Returns 0 with pk filled, or GV_EINVAL (NULL or empty path, NULL pk),
 * GV_ENOTFOUND (no such file), GV_EKEY (unsafe, not ours or malformed) or
 * GV_EIO, with a one-line reason in why (may be NULL). Thread-safe. */
GV_API int gv_keyfile_public_key(const char *path, uint8_t pk[32], char *why, size_t why_len);

#ifdef __cplusplus
}
#endif
#endif
