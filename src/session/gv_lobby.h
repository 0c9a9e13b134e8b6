/* A lobby's players and what the server decides about them, with no
 * socket, seal or clock in sight: who is in and in which order, their ids
 * (the host 1, everyone else from 2), their names made unique with "#N",
 * the voice slot and epoch their records carry (docs/protocol.md, voice
 * datagrams), and the roster a newcomer is welcomed with. Each member
 * carries the caller's opaque owner (a server's connection); the lobby
 * never looks at it. A member whose connection is lost may be kept away
 * for a while and resumed by whoever presents their resumption secret
 * (docs/protocol.md, resuming a session); times are the caller's clock's,
 * secrets the caller's random bytes. Everything is allocated by
 * gv_lobby_create, so a server could keep several lobbies. Not
 * thread-safe: one per server thread. */
#ifndef GV_LOBBY_H
#define GV_LOBBY_H

#include <stddef.h>
#include <stdint.h>

#include "packet/gv_msg.h"

#define GV_LOBBY_HOST_ID 1 /* the listen server's own player */
#define GV_LOBBY_TOKEN_NONCE 16

typedef struct gv_lobby gv_lobby;

/* A player in the lobby, as long as they are in it: gv_lobby_leave hands
 * the memory to the next player given the same voice slot. Read-only for
 * the caller. */
typedef struct gv_lobby_member {
    uint16_t id;    /* never 0; 1 only for the host */
    uint8_t slot;   /* the voice slot: the lowest free when they joined */
    uint32_t epoch; /* never 0, never given twice in the lobby's life */
    char name[GV_NAME_MAX + 1];
    void *owner;
    int away;            /* their connection is lost; the place is kept until away_until */
    uint64_t away_until;
    uint8_t secret[GV_RESUME_SECRET_LEN];   /* what their next resume presents */
    uint8_t previous[GV_RESUME_SECRET_LEN]; /* what their last resume presented, while has_previous */
    int has_previous;
    /* What their access token said, if they joined with one. */
    int has_token;
    uint8_t token_nonce[GV_LOBBY_TOKEN_NONCE];
    unsigned permissions;  /* gv_token_permission bits */
    uint16_t muted_by;     /* the moderator who muted them for everyone, 0 when nobody did */
} gv_lobby_member;

/* The counter the owner's next voice packet will have, for the roster. */
typedef uint64_t gv_lobby_next_fn(const void *owner);

/* A lobby for up to max_players (1..GV_MAX_PLAYERS): 0, GV_EINVAL or
 * GV_ENOMEM. The caller owns *out. */
int gv_lobby_create(int max_players, gv_lobby **out);

void gv_lobby_destroy(gv_lobby *l);

int gv_lobby_count(const gv_lobby *l);
int gv_lobby_capacity(const gv_lobby *l);

/* 1 when a join would be refused for want of room: away members count. */
int gv_lobby_full(const gv_lobby *l);

/* Adds a player with the name they asked for (len bytes, not
 * NUL-terminated, already checked with gv_name_check), suffixed "#2",
 * "#3"... while another member has it, and the secret their resume must
 * present (GV_RESUME_SECRET_LEN bytes, random). id 0: the next free id
 * from 2 on; else that id (GV_LOBBY_HOST_ID for the host, a token's
 * fixed one), which must be free. Returns 0 with *out the new member,
 * last in join order; GV_EFULL when the lobby is full or has given out
 * every epoch; GV_ESTATE when the id is taken; GV_EINVAL for a name
 * longer than GV_NAME_MAX or no secret. */
int gv_lobby_join(gv_lobby *l, const char *name, size_t len, uint16_t id, const uint8_t *secret, void *owner,
                  const gv_lobby_member **out);

/* m joined with an access token: its nonce (GV_LOBBY_TOKEN_NONCE bytes)
 * and the permissions it grants. */
void gv_lobby_set_token(gv_lobby *l, const gv_lobby_member *m, const uint8_t *nonce, unsigned permissions);

/* The member who joined with the token of this nonce, or NULL. */
const gv_lobby_member *gv_lobby_by_token(const gv_lobby *l, const uint8_t *nonce);

/* A moderator (id by) muted m for everyone, or (by 0) unmuted them. */
void gv_lobby_set_muted(gv_lobby *l, const gv_lobby_member *m, uint16_t by);

/* Removes m (a member of l); its id and slot are free again, its epoch
 * never is. */
void gv_lobby_leave(gv_lobby *l, const gv_lobby_member *m);

/* The i-th member in join order (0 <= i < gv_lobby_count). */
const gv_lobby_member *gv_lobby_at(const gv_lobby *l, int i);

/* The member with this id or voice slot, or NULL. */
const gv_lobby_member *gv_lobby_find(const gv_lobby *l, uint16_t id);
const gv_lobby_member *gv_lobby_by_slot(const gv_lobby *l, uint8_t slot);

/* The member whose secret, or previous secret, is `secret`
 * (GV_RESUME_SECRET_LEN bytes), or NULL. Compares in constant time. */
const gv_lobby_member *gv_lobby_by_secret(const gv_lobby *l, const uint8_t *secret);

/* m's connection is lost: they keep their id, name and slot, and their
 * place in the lobby's count, until `until`. */
void gv_lobby_away(gv_lobby *l, const gv_lobby_member *m, uint64_t until);

/* The members away now. */
int gv_lobby_away_count(const gv_lobby *l);

/* An away member whose place is no longer kept at `now`, or NULL. */
const gv_lobby_member *gv_lobby_expired(const gv_lobby *l, uint64_t now);

/* m resumed on a new connection, `owner`, with the secret `presented`:
 * they keep their id, name and slot, are no longer away and take a new
 * epoch (their voice counter starts again at 0). Their secret becomes
 * `fresh`, and `presented` stays theirs too as the previous one until
 * gv_lobby_confirm, so that a resume whose WELCOME was lost can be tried
 * again. 0, or GV_EFULL (nothing changed) when every epoch is spent. */
int gv_lobby_resume(gv_lobby *l, const gv_lobby_member *m, void *owner, const uint8_t *presented,
                    const uint8_t *fresh);

/* m's connection was heard from after its WELCOME: the previous secret is
 * no longer theirs. */
void gv_lobby_confirm(gv_lobby *l, const gv_lobby_member *m);

/* m as WELCOME and PLAYER_JOINED announce them, with the counter of their
 * next voice packet. */
void gv_lobby_describe(const gv_lobby_member *m, uint64_t next, gv_msg_player *out);

/* WELCOME's player list for `self`: every other member in join order,
 * each with next(owner). Stays in l until the next call; *count gets the
 * number of entries. */
const gv_msg_player *gv_lobby_roster(gv_lobby *l, const gv_lobby_member *self, gv_lobby_next_fn *next, int *count);

#endif
