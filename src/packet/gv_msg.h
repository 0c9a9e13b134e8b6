/* The lobby and voice messages that travel inside sealed ENet packets, and
 * the two handshake messages that travel before the seal exists. Byte-level
 * layout: docs/protocol.md. Pure: no I/O, no allocation. */
#ifndef GV_MSG_H
#define GV_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"
#include "packet/gv_buf.h"
#include "packet/gv_name.h"

#define GV_PROTOCOL_VERSION 5
#define GV_MTU 1392               /* largest UDP payload gvoip ever sends */
#define GV_MAX_PLAYERS 256
#define GV_PASSWORD_MAX 128
#define GV_HOST_TOKEN_LEN 32
#define GV_RESUME_SECRET_LEN 32
#define GV_REASON_MAX 200
#define GV_VOICE_PAYLOAD_MAX 1275 /* largest Opus packet */
/* The original example's message: 1024 stereo float32 frames. Only the
 * --codec raw baseline sends it, fragmented by ENet. */
#define GV_RAW_FRAMES 1024
#define GV_RAW_PAYLOAD (GV_RAW_FRAMES * 2 * 4)

enum gv_channel {
    GV_CH_CONTROL = 0, /* reliable, ordered */
    GV_CH_VOICE = 1,   /* unreliable, unsequenced: positions and the raw baseline (Opus: gv_datagram) */
    GV_CH_COUNT = 2,
};

/* The two handshake messages travel before any key exists, each as one
 * reliable packet on the control channel: a type byte and a Noise message.
 * The client pads its message so that the reply is never the larger. */
enum gv_handshake_type {
    GV_HANDSHAKE_INIT = 0x01,
    GV_HANDSHAKE_RESP = 0x02,
};
#define GV_HANDSHAKE_PAD 96
/* HANDSHAKE_INIT's first payload byte: the ciphers the client can run
 * beyond ChaCha20-Poly1305 (the rest is zero padding). HANDSHAKE_RESP's
 * payload is the one byte the server chose (gv_seal_cipher); an empty one,
 * from a server before this, means ChaCha20-Poly1305. */
#define GV_CIPHER_OFFER_AES256GCM 0x01
/* Also in that byte: the client reads a fleet certificate, which a server
 * that has one then sends after the cipher (GV_FLEETCERT_BYTES). Servers
 * from before ignore the bit; a client from before never sets it, and
 * would refuse the longer payload. */
#define GV_OFFER_FLEET_CERT 0x02

enum gv_msg_type {
    GV_MSG_HELLO = 0x20,
    GV_MSG_WELCOME = 0x21,
    GV_MSG_PLAYER_JOINED = 0x22,
    GV_MSG_PLAYER_LEFT = 0x23,
    GV_MSG_REFUSE = 0x24,
    GV_MSG_LOSS_REPORT = 0x25,
    GV_MSG_SPATIAL_CONFIG = 0x26,
    GV_MSG_PLAYER_RTT = 0x27,
    GV_MSG_PLAYER_AWAY = 0x28, /* a player's connection was lost; their place is kept for the grace */
    GV_MSG_PLAYER_BACK = 0x29, /* they resumed it: the same id and name, a new epoch */
    GV_MSG_MUTE_FOR_ALL = 0x2a, /* a moderator asks: mute (or unmute) a player for everyone */
    GV_MSG_PLAYER_MUTED = 0x2b, /* the server says: a player is muted (or no longer) for everyone */
    GV_MSG_REDIRECT = 0x2c,     /* the lobby is served on another port, or another node of the fleet: go there */
    GV_MSG_VOICE = 0x30,
    GV_MSG_VOICE_RELAY = 0x31,
    GV_MSG_POSITION = 0x32,
    GV_MSG_POSITION_RELAY = 0x33,
};

/* Why a server refuses or removes a player; also the ENet disconnect data,
 * so the code arrives even when the REFUSE message does not. */
enum gv_refuse_code {
    GV_REFUSE_NONE = 0,
    GV_REFUSE_VERSION = 1,
    GV_REFUSE_FULL = 2,
    GV_REFUSE_NAME = 3,
    GV_REFUSE_PASSWORD = 4,
    GV_REFUSE_RATE_LIMIT = 5,
    GV_REFUSE_FLOODING = 6,
    GV_REFUSE_PROTOCOL = 7,
    GV_REFUSE_SHUTDOWN = 8,
    GV_REFUSE_TIMEOUT = 9,
    GV_REFUSE_RESUME = 10,   /* the resumption secret is unknown, spent or expired */
    GV_REFUSE_REPLACED = 11, /* the player resumed on another connection */
    GV_REFUSE_CLOSED = 12,   /* the host ended the lobby (a dedicated server going down says SHUTDOWN) */
    GV_REFUSE_LOBBY = 13,    /* no such lobby may be opened: a bad name, or the server's limit */
    GV_REFUSE_TOKEN = 14,    /* the access token: the text says what is wrong with it */
    GV_REFUSE_REDIRECT = 15, /* the lobby is on another port: the REDIRECT before it says which */
    GV_REFUSE_MOVED = 16,    /* the lobby left this node of the fleet: join again (the REDIRECT before it says where) */
};

/* The ENet disconnect data of a client that leaves for good: the server
 * frees its place at once instead of keeping it for a resume. */
#define GV_DISCONNECT_LEAVING 0x4c454156u

/* WELCOME flags. */
enum gv_welcome_flags {
    GV_WELCOME_RESUMED = 0x01, /* the same id and name as before the interruption */
};

enum gv_voice_flags {
    GV_VOICE_MARKER = 0x01, /* first packet of a talk spurt */
    GV_VOICE_ECHO = 0x02,   /* microphone check: the server sends it back */
    GV_VOICE_PREROLL = 0x04, /* captured before voice activity was detected: sent late by design */
    GV_VOICE_REDUNDANT = 0x08, /* payload also carries the previous packet (gv_voice_split) */
    GV_VOICE_RAW = 0x10,    /* payload is raw float32 stereo (baseline only) */
    GV_VOICE_QUIET = 0x20,  /* no voice activity: sent only because the mode sends everything */
};

/* Positions and facings are float32 on the wire; anything larger than this
 * in magnitude (or not finite) is malformed, so that squares of distances
 * stay finite in float. */
#define GV_POSITION_MAX 1e7f
#define GV_POSITION_LEN 27       /* POSITION: type, seq, 6 floats */
#define GV_POSITION_RELAY_LEN 29 /* the same with the sender id */
#define GV_SPATIAL_CONFIG_LEN 32

/* SPATIAL_CONFIG flags: gv_spatial_config's godot_pan on the wire. */
enum gv_spatial_flags {
    GV_SPATIAL_FLAG_GODOT_PAN = 0x01,
};

/* A player as the lobby announces them (WELCOME, PLAYER_JOINED): id and
 * name, and what a listener needs to open their voice datagrams
 * (gv_datagram): the 1-byte slot their records carry, the epoch that
 * makes their nonces unique, and the counter their next voice packet
 * will have (0 for a newcomer). */
typedef struct gv_msg_player {
    uint16_t id;
    uint8_t slot;
    uint32_t epoch;
    uint64_t next; /* < 2^48 */
    char name[GV_NAME_MAX + 1];
} gv_msg_player;

typedef struct gv_msg_name {
    uint8_t len;
    const char *bytes; /* not NUL-terminated; points into the message */
} gv_msg_name;

typedef struct gv_msg {
    uint8_t type;
    union {
        struct {
            gv_msg_name name;
            uint8_t password_len;
            const uint8_t *password;
            uint8_t host_token_len; /* 0 or GV_HOST_TOKEN_LEN */
            const uint8_t *host_token;
            uint8_t resume_len; /* 0 or GV_RESUME_SECRET_LEN */
            const uint8_t *resume;
            gv_msg_name lobby;  /* 0..GV_LOBBY_NAME_MAX bytes; empty: the default lobby (or the token's) */
            uint8_t access_len; /* 0, or an access token's bytes (docs/protocol.md, "Access tokens") */
            const uint8_t *access;
        } hello;
        struct {
            uint16_t id;
            gv_msg_name name;
            uint16_t index; /* the receiver index our voice datagrams carry */
            uint8_t slot;   /* ours, for the echo test */
            uint32_t epoch;
            uint8_t flags;         /* gv_welcome_flags */
            const uint8_t *resume; /* GV_RESUME_SECRET_LEN bytes: the secret for the next resume */
            uint16_t count;
            const uint8_t *players; /* count entries, validated; read with gv_msg_next_player */
            size_t players_len;
        } welcome;
        struct {
            uint16_t id;
            gv_msg_name name;
            uint8_t slot;   /* PLAYER_JOINED and PLAYER_BACK */
            uint32_t epoch; /* PLAYER_JOINED and PLAYER_BACK */
        } player;
        struct {
            uint8_t code;
            uint8_t len;
            const char *text;
        } refuse;
        struct {
            uint16_t id; /* the player muted or unmuted */
            uint8_t on;  /* 0 or 1 */
            uint16_t by; /* PLAYER_MUTED: the moderator */
        } mute;
        struct {
            uint16_t port;    /* 1..65535 */
            uint8_t host_len; /* 0: the host the client reached; else a node of the fleet */
            const char *host; /* host_len bytes: a DNS name or an IP address (gv_msg_host_ok) */
        } redirect;
        struct {
            uint16_t id;         /* the speaker (client to server) or the reporter (server to speaker) */
            uint16_t loss_permille;
        } loss;
        struct {
            uint16_t count;
            const uint8_t *entries; /* count x (id, rtt_ms), validated; read with gv_msg_next_rtt */
        } rtt;
        struct {
            uint16_t sender; /* only in VOICE_RELAY: stamped by the server */
            uint16_t seq;
            uint32_t ts;
            uint8_t flags;
            uint8_t level; /* the frame's level in -dBov, 0..127 (RFC 6464); 127 is silence */
            uint16_t len;
            const uint8_t *payload;
        } voice;
        struct {
            uint16_t sender; /* only in POSITION_RELAY: stamped by the server */
            uint16_t seq;    /* +1 per position sent; receivers ignore older ones */
            gv_player_pose pose; /* every coordinate finite, within GV_POSITION_MAX */
        } position;
        /* Mode and model travel as a byte each, godot_pan as a flag; only
         * the shape is checked (known mode, model and flags, finite
         * numbers): the ranges are gv_spatial_config_check's. */
        gv_spatial_config spatial;
    } u;
} gv_msg;

/* Parses one message; pointers in *out point into data, which must outlive
 * it. Returns 0, GV_EMALFORMED (truncated, trailing bytes, bad field) or
 * GV_EUNKNOWN. Pure; thread-safe. */
int gv_msg_decode(const uint8_t *data, size_t len, gv_msg *out);

/* Serialises *m into out; returns the length or GV_ETOOBIG/GV_EINVAL.
 * WELCOME's player list is written by gv_msg_encode_welcome instead. */
int gv_msg_encode(const gv_msg *m, uint8_t *out, size_t cap);

/* WELCOME for *self (its next is not sent) with its receiver index, the
 * gv_welcome_flags, the secret for its next resume and the count players
 * already in the lobby. */
typedef struct gv_msg_welcome_self {
    const gv_msg_player *player;
    uint16_t index;
    uint8_t flags;
    const uint8_t *resume; /* GV_RESUME_SECRET_LEN bytes */
} gv_msg_welcome_self;

int gv_msg_encode_welcome(const gv_msg_welcome_self *self, uint16_t count, const gv_msg_player *players,
                          uint8_t *out, size_t cap);

/* Reads the next entry of a WELCOME player list (already validated by
 * gv_msg_decode); returns 0 or GV_EMALFORMED at the end. */
int gv_msg_next_player(gv_reader *list, gv_msg_player *out);

/* PLAYER_RTT: each player's round trip to the server, as parallel arrays. */
int gv_msg_encode_rtt(uint16_t count, const uint16_t *ids, const uint16_t *rtt_ms, uint8_t *out, size_t cap);

/* Reads the next entry of a PLAYER_RTT (already validated by
 * gv_msg_decode); returns 0 or GV_EMALFORMED at the end. */
int gv_msg_next_rtt(gv_reader *list, uint16_t *id, uint16_t *rtt_ms);

/* Voice counters and their nonces have 48 bits (gv_datagram). */
#define GV_VOICE_COUNTER_LIMIT ((uint64_t)1 << 48)
/* Voice timestamps travel in 2.5 ms ticks (120 samples at 48 kHz: every
 * Opus frame is a whole number of them), 16 bits of them; a sender's
 * clock turns over at GV_VOICE_TS_WRAP samples, a whole number of those
 * turns (and of raw frames), where 2^32 is not. */
#define GV_VOICE_TICK 120u
#define GV_VOICE_TS_WRAP (GV_VOICE_TICK * 65536u * 512u)

/* A payload with GV_VOICE_REDUNDANT is this packet, then a copy of the
 * previous one (sequence number - 1, the frame just before), then the
 * copy's length in one byte: the codec's TOC stays the first byte, so a
 * relay reads the duration of the packet itself. */
#define GV_VOICE_REDUNDANT_MAX 255 /* longest copy */

/* Where the packet and the copy lie in a voice payload: *primary_len
 * bytes at payload, and *copy / *copy_len (NULL / 0 without the flag).
 * Returns 0 or GV_EMALFORMED (the lengths do not add up, or the flag is
 * set on raw audio). Pure; thread-safe. */
int gv_voice_split(const uint8_t *payload, size_t len, uint8_t flags, size_t *primary_len,
                   const uint8_t **copy, size_t *copy_len);

/* Writes packet || copy || copy_len into out (cap bytes); returns the
 * length, GV_ETOOBIG when it would exceed cap or GV_VOICE_PAYLOAD_MAX, or
 * GV_EINVAL (empty packet or copy, or a copy over GV_VOICE_REDUNDANT_MAX).
 * Buffers are borrowed and must not overlap out. Pure; thread-safe. */
int gv_voice_join(uint8_t *out, size_t cap, const uint8_t *packet, size_t len, const uint8_t *copy,
                  size_t copy_len);

/* Size of the voice header in front of the codec payload. */
#define GV_VOICE_HEADER 8
#define GV_VOICE_RELAY_HEADER 10

/* A static name for a refuse code ("lobby is full"); never NULL. */
const char *gv_refuse_text(int code);

/* A REDIRECT's host: 1..255 bytes of letters, digits, '.', '-', '_' and
 * ':' (an IPv6 address, without brackets); 1 when it is one. */
int gv_msg_host_ok(const char *host, size_t len);

#endif
