/* The named lobbies one server holds, as decisions: which lobby a name
 * is, opening one (up to a limit) with its own players, talker limit and
 * positional settings, and closing one that has stayed empty for the
 * linger time. Each lobby's players are a gv_lobby; the server finds a
 * player's lobby through the player, never by name on the voice path.
 * Pure: time comes in as now_us. Not thread-safe: one per server thread. */
#ifndef GV_ROOMS_H
#define GV_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"
#include "session/gv_lobby.h"
#include "session/gv_talkers.h"

typedef struct gv_rooms gv_rooms;

/* What a lobby is opened with: the server's settings, or a token's. */
typedef struct gv_room_settings {
    int max_players; /* 1..GV_MAX_PLAYERS */
    int max_talkers; /* 0 (no limit) .. GV_TALKERS_MAX */
    gv_spatial_config spatial; /* checked by the caller */
} gv_room_settings;

typedef struct gv_room {
    gv_lobby *lobby;
    gv_talkers *talkers; /* NULL: every talker goes to every listener */
    gv_spatial_config spatial;
    float cull_margin;   /* room for motion between two position updates */
    gv_lobby_stats stats; /* name, max_players and the counters; players, away and open_ms are
                           * filled in by gv_rooms_stats */
    uint64_t opened_us;
    uint64_t empty_since_us; /* while it has no member */
    int empty;
} gv_room;

/* A table for up to max (1..GV_MAX_LOBBIES_LIMIT) lobbies: 0, GV_EINVAL
 * or GV_ENOMEM; the caller owns *out. */
int gv_rooms_create(int max, gv_rooms **out);

/* Frees every lobby too. NULL: no-op. */
void gv_rooms_destroy(gv_rooms *r);

/* The open lobby named name (len bytes, 0 for the default lobby), or NULL. */
gv_room *gv_rooms_find(gv_rooms *r, const char *name, size_t len);

/* Opens the lobby named name (len <= GV_LOBBY_NAME_MAX, not open yet),
 * empty since now_us. 0 with *out; GV_EFULL when max are open; GV_EINVAL
 * for settings out of range; GV_ENOMEM. */
int gv_rooms_open(gv_rooms *r, const char *name, size_t len, const gv_room_settings *set, uint64_t now_us,
                  gv_room **out);

/* The caller changed who is in room (a join, a departure, a resume): an
 * empty lobby starts lingering at now_us, one with members stops. */
void gv_rooms_occupancy(gv_room *room, uint64_t now_us);

/* An empty lobby that has lingered linger_us by now_us, or NULL: the
 * caller closes it. */
gv_room *gv_rooms_expired(gv_rooms *r, uint64_t now_us, uint64_t linger_us);

/* Closes room (empty) and frees it. */
void gv_rooms_close(gv_rooms *r, gv_room *room);

int gv_rooms_count(const gv_rooms *r);

/* The i-th open lobby (0 <= i < gv_rooms_count), in the order they opened. */
gv_room *gv_rooms_at(const gv_rooms *r, int i);

/* room's figures as of now_us, size as the caller's out->size says. */
void gv_rooms_stats(const gv_room *room, uint64_t now_us, gv_lobby_stats *out);

#endif
