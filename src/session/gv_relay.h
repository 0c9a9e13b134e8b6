/* The voice relay of one lobby, as decisions: which listener is sent which
 * of a batch of voice packets (never their own unless it is an echo test,
 * nothing out of earshot, nothing past the loudest-talkers limit), and how
 * each listener's packets pack into datagrams (as many records as fit in
 * GV_MTU), sealed under that listener's keys. Pure: the time comes in as
 * now_us and the datagrams go out through the caller's function. Not
 * thread-safe: the lobbies of one server thread. */
#ifndef GV_RELAY_H
#define GV_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"
#include "session/gv_coalesce.h"
#include "session/gv_lobby.h"
#include "session/gv_rooms.h"
#include "session/gv_seal.h"

/* A player as the relay sees them: the server keeps one in each player's
 * state, the only copy of these facts. */
typedef struct gv_relay_party {
    int peer;                      /* the caller's handle for where their datagrams go */
    gv_seal *seal;                 /* their session's keys (NULL before the handshake) */
    const gv_lobby_member *member; /* voice slot and epoch, while a player */
    int has_pose;                  /* pose is known (positional voice) */
    gv_player_pose pose;
} gv_relay_party;

/* What a relay did, added to by each call. */
typedef struct gv_relay_counts {
    uint64_t relayed;         /* records sent */
    uint64_t culled;          /* packets not sent to a listener out of earshot */
    uint64_t talkers_limited; /* packets not sent to a listener who had max_talkers others to hear */
    uint64_t unsealable;      /* records that did not seal (a payload too large for the datagram) */
} gv_relay_counts;

typedef void (*gv_relay_send_fn)(void *ctx, int peer, const uint8_t *datagram, size_t len);

/* Whether `to` (a connected player of room) is sent what `from` says: not
 * their own voice unless echo, nobody a voice they could not hear (a
 * player whose position is not known yet is not culled; counted in
 * counts->culled). */
int gv_relay_hears(const gv_room *room, const gv_relay_party *from, const gv_relay_party *to, int echo,
                   gv_relay_counts *counts);

/* Relays items[0..count) whose sender is from[k] (NULL: another lobby's
 * packet, left alone) to each of the n connected listeners of room, each
 * listener's in as few datagrams as fit: one per listener for a batch of
 * voice-sized packets, so that the kernel's cost, most of a busy relay's,
 * is paid once. out: GV_MTU bytes of scratch. The talker limit decides at
 * now_us. Returns the items sent to anyone, bit k for items[k]. */
uint32_t gv_relay_room(gv_room *room, const gv_relay_party *const *listeners, int n, const gv_coalesce_item *items,
                       const gv_relay_party *const *from, int count, uint64_t now_us, uint8_t *out,
                       gv_relay_counts *counts, gv_relay_send_fn send, void *ctx);

#endif
