/* A player's connection to a lobby server: ENet connect, the Noise
 * handshake with the server-key check, HELLO, the lobby roster, and sealed
 * voice in both directions. No audio: voice arrives through a callback. */
#ifndef GV_LINK_H
#define GV_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_events.h"
#include "session/gv_transport.h"

typedef struct gv_link gv_link;

typedef struct gv_link_callbacks {
    /* A relayed voice message (type GV_MSG_VOICE_RELAY), valid during the call. */
    void (*voice)(void *ctx, const gv_msg *relay);
    /* A receiver's loss report about our voice. */
    void (*loss)(void *ctx, uint16_t reporter, uint16_t loss_permille);
    /* A player is in the lobby (joined, or there when we joined). */
    void (*joined)(void *ctx, uint16_t id);
    /* A player left: drop their stream. */
    void (*left)(void *ctx, uint16_t id);
    /* The lobby's SPATIAL_CONFIG (type GV_MSG_SPATIAL_CONFIG); returns 0,
     * or a negative code when the values are unusable (counted malformed). */
    int (*spatial)(void *ctx, const gv_msg *config);
    /* A relayed position (type GV_MSG_POSITION_RELAY), valid during the call. */
    void (*position)(void *ctx, const gv_msg *relay);
    /* A player resumed their session: their voice starts a new stream. */
    void (*restart)(void *ctx, uint16_t id);
    /* We are in the lobby on a new session (RECONNECTED): whatever the
     * server knew of us from the old one (our pose, our voice stream) is
     * to be sent afresh. */
    void (*session)(void *ctx);
    void *ctx;
} gv_link_callbacks;

/* Starts connecting with the client fields of cfg (its size is the
 * caller's to check); strings are copied. protocol_version 0 is the real
 * one (others: tests). Progress arrives as events pushed to `events`,
 * which the caller owns and keeps until gv_link_destroy. */
int gv_link_create(const gv_client_config *cfg, int protocol_version, gv_event_queue *events,
                   const gv_link_callbacks *cb, gv_link **out);

/* Leaves cleanly (tells the server, waits briefly) and frees. NULL: no-op. */
void gv_link_destroy(gv_link *l);

/* Services the network for up to timeout_ms, pushing events. 0, or
 * GV_EINVAL or GV_ENET. */
int gv_link_service(gv_link *l, uint32_t timeout_ms);

/* Own id once welcomed, else 0. */
int gv_link_id(const gv_link *l);

/* 1 on a live session with nothing of its own to time (no join, no
 * attempt, no interruption being watched): then only the transport's
 * keep-alives and the lobby's once-a-second work are due. */
int gv_link_steady(const gv_link *l);

/* Seals and sends a VOICE message (type GV_MSG_VOICE); GV_ESTATE before
 * the welcome, GV_ETOOBIG if it would not fit one datagram. */
int gv_link_send_voice(gv_link *l, const gv_msg *voice);

int gv_link_send_loss(gv_link *l, uint16_t speaker, uint16_t loss_permille);

/* Asks the server to mute (on 1) or unmute (on 0) player id for
 * everyone, which it does for a moderator only. 0, GV_EINVAL or
 * GV_ESTATE before the welcome. */
int gv_link_send_mute_for_all(gv_link *l, uint16_t id, int on);

/* Seals and sends a POSITION message on the voice channel; GV_ESTATE
 * before the welcome. */
int gv_link_send_position(gv_link *l, const gv_msg *position);

/* A player's round trip to the server as the server last reported it,
 * in ms; 0 when unknown. */
uint32_t gv_link_player_rtt_ms(const gv_link *l, uint16_t id);

/* Our own round trip to the server, in ms; 0 before the welcome. */
uint32_t gv_link_rtt_ms(const gv_link *l);

/* Name of a player in the roster, or NULL. */
const char *gv_link_player_name(const gv_link *l, uint16_t id);

/* The socket to poll for the link (-1 before connecting or after closing). */
int gv_link_fd(const gv_link *l);

const gv_transport_stats *gv_link_transport_stats(const gv_link *l);

typedef struct gv_link_counters {
    uint64_t malformed, auth_failed, replayed;
    uint64_t join_retries;
    uint64_t redirects; /* joins sent on to another port of the server */
} gv_link_counters;

void gv_link_get_counters(const gv_link *l, gv_link_counters *out);

/* The secret the server gave for resuming this session: 0, or GV_ESTATE
 * before the first welcome. */
int gv_link_resume_secret(const gv_link *l, uint8_t out[GV_RESUME_SECRET_LEN]);

/* Makes the join in progress present secret, as a reconnecting link does
 * (tests: a secret presented twice). Call before the handshake ends. */
void gv_link_present_secret(gv_link *l, const uint8_t secret[GV_RESUME_SECRET_LEN]);

/* The gv_seal_cipher the handshake chose (0 before it finished). */
int gv_link_cipher(const gv_link *l);

#endif
