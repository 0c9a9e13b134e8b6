#include "session/gv_lobby.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "packet/gv_name.h"

struct gv_lobby {
    int max_players;
    int count;
    uint16_t next_id;
    uint32_t last_epoch;
    /* A member lives at the index of its voice slot, which is below
     * max_players since the lowest free one is taken: finding by slot is a
     * look-up, and the memory never moves while they are in. A free place
     * has id 0. */
    gv_lobby_member *by_slot;
    uint8_t *order; /* the members' slots, in join order */
    gv_msg_player *roster;
    size_t bytes;   /* of the one allocation these three live in, after the struct */
};

int gv_lobby_create(int max_players, gv_lobby **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (max_players < 1 || max_players > GV_MAX_PLAYERS)
        return GV_EINVAL;
    /* Sized for max_players, not GV_MAX_PLAYERS: a server may hold
     * thousands of small lobbies. */
    size_t n = (size_t)max_players;
    size_t bytes = n * (sizeof(gv_lobby_member) + sizeof(gv_msg_player) + sizeof(uint8_t));
    _Static_assert(sizeof(gv_lobby_member) % _Alignof(gv_msg_player) == 0, "the roster follows the members aligned");
    gv_lobby *l = calloc(1, sizeof *l + bytes);
    if (!l)
        return GV_ENOMEM;
    l->by_slot = (gv_lobby_member *)(l + 1);
    l->roster = (gv_msg_player *)(l->by_slot + n);
    l->order = (uint8_t *)(l->roster + n);
    l->bytes = bytes;
    l->max_players = max_players;
    l->next_id = GV_LOBBY_HOST_ID + 1;
    *out = l;
    return 0;
}

void gv_lobby_destroy(gv_lobby *l)
{
    if (!l)
        return;
    sodium_memzero(l, sizeof *l + l->bytes); /* the members' resumption secrets */
    free(l);
}

int gv_lobby_count(const gv_lobby *l)
{
    return l->count;
}

int gv_lobby_capacity(const gv_lobby *l)
{
    return l->max_players;
}

int gv_lobby_full(const gv_lobby *l)
{
    return l->count >= l->max_players;
}

const gv_lobby_member *gv_lobby_at(const gv_lobby *l, int i)
{
    return i >= 0 && i < l->count ? &l->by_slot[l->order[i]] : NULL;
}

const gv_lobby_member *gv_lobby_find(const gv_lobby *l, uint16_t id)
{
    if (id == 0)
        return NULL; /* the mark of a free place */
    for (int i = 0; i < l->count; i++)
        if (l->by_slot[l->order[i]].id == id)
            return &l->by_slot[l->order[i]];
    return NULL;
}

const gv_lobby_member *gv_lobby_by_slot(const gv_lobby *l, uint8_t slot)
{
    return slot < l->max_players && l->by_slot[slot].id ? &l->by_slot[slot] : NULL;
}

static int name_taken(const gv_lobby *l, const char *name)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->by_slot[l->order[i]].name, name) == 0)
            return 1;
    return 0;
}

/* The epoch is in the nonce of every record a listener is sealed, with
 * the slot and the speaker's counter (docs/protocol.md), and counters
 * start at 0 with each join and each resume: an epoch given twice could
 * repeat a nonce, so once they are spent nobody joins or resumes. */
static int epochs_spent(const gv_lobby *l)
{
    return l->last_epoch == UINT32_MAX;
}

/* The host's id is kept for the host, and an id is never given to two
 * members at once; past 65535 the count starts again at 2. */
static uint16_t allocate_id(gv_lobby *l)
{
    for (;;) {
        uint16_t id = l->next_id++;
        if (l->next_id == 0)
            l->next_id = GV_LOBBY_HOST_ID + 1;
        if (id > GV_LOBBY_HOST_ID && !gv_lobby_find(l, id))
            return id;
    }
}

int gv_lobby_join(gv_lobby *l, const char *name, size_t len, uint16_t id, const uint8_t *secret, void *owner,
                  const gv_lobby_member **out)
{
    if (len > GV_NAME_MAX || (len && !name) || !secret)
        return GV_EINVAL;
    if (gv_lobby_full(l) || epochs_spent(l))
        return GV_EFULL;
    if (id && gv_lobby_find(l, id))
        return GV_ESTATE;

    int slot = 0;
    while (l->by_slot[slot].id) /* a free one exists: count < max_players */
        slot++;
    gv_lobby_member *m = &l->by_slot[slot];
    char base[GV_NAME_MAX + 1];
    if (len)
        memcpy(base, name, len);
    base[len] = '\0';
    gv_name_with_suffix(base, 1, m->name);
    for (unsigned n = 2; name_taken(l, m->name); n++)
        gv_name_with_suffix(base, n, m->name);
    m->id = id ? id : allocate_id(l);
    m->slot = (uint8_t)slot;
    m->epoch = ++l->last_epoch;
    m->owner = owner;
    memcpy(m->secret, secret, GV_RESUME_SECRET_LEN);
    l->order[l->count++] = (uint8_t)slot;
    if (out)
        *out = m;
    return 0;
}

void gv_lobby_leave(gv_lobby *l, const gv_lobby_member *m)
{
    int i = 0;
    while (i < l->count && &l->by_slot[l->order[i]] != m)
        i++;
    if (i == l->count)
        return;
    memmove(&l->order[i], &l->order[i + 1], (size_t)(l->count - i - 1) * sizeof l->order[0]);
    l->count--;
    memset(&l->by_slot[m->slot], 0, sizeof l->by_slot[0]);
}

/* The caller holds members read-only; the lobby writes them here. */
static gv_lobby_member *writable(gv_lobby *l, const gv_lobby_member *m)
{
    return &l->by_slot[m->slot];
}

void gv_lobby_set_token(gv_lobby *l, const gv_lobby_member *m, const uint8_t *nonce, unsigned permissions)
{
    gv_lobby_member *w = writable(l, m);
    w->has_token = 1;
    memcpy(w->token_nonce, nonce, sizeof w->token_nonce);
    w->permissions = permissions;
}

const gv_lobby_member *gv_lobby_by_token(const gv_lobby *l, const uint8_t *nonce)
{
    for (int i = 0; i < l->count; i++) {
        const gv_lobby_member *m = &l->by_slot[l->order[i]];
        if (m->has_token && memcmp(m->token_nonce, nonce, sizeof m->token_nonce) == 0)
            return m;
    }
    return NULL;
}

void gv_lobby_set_muted(gv_lobby *l, const gv_lobby_member *m, uint16_t by)
{
    writable(l, m)->muted_by = by;
}

const gv_lobby_member *gv_lobby_by_secret(const gv_lobby *l, const uint8_t *secret)
{
    for (int i = 0; i < l->count; i++) {
        const gv_lobby_member *m = &l->by_slot[l->order[i]];
        if (sodium_memcmp(m->secret, secret, GV_RESUME_SECRET_LEN) == 0 ||
            (m->has_previous && sodium_memcmp(m->previous, secret, GV_RESUME_SECRET_LEN) == 0))
            return m;
    }
    return NULL;
}

void gv_lobby_away(gv_lobby *l, const gv_lobby_member *m, uint64_t until)
{
    gv_lobby_member *w = writable(l, m);
    w->away = 1;
    w->away_until = until;
}

int gv_lobby_away_count(const gv_lobby *l)
{
    int n = 0;
    for (int i = 0; i < l->count; i++)
        n += l->by_slot[l->order[i]].away;
    return n;
}

const gv_lobby_member *gv_lobby_expired(const gv_lobby *l, uint64_t now)
{
    for (int i = 0; i < l->count; i++) {
        const gv_lobby_member *m = &l->by_slot[l->order[i]];
        if (m->away && now >= m->away_until)
            return m;
    }
    return NULL;
}

int gv_lobby_resume(gv_lobby *l, const gv_lobby_member *m, void *owner, const uint8_t *presented,
                    const uint8_t *fresh)
{
    if (epochs_spent(l))
        return GV_EFULL;
    gv_lobby_member *w = writable(l, m);
    w->epoch = ++l->last_epoch;
    w->owner = owner;
    w->away = 0;
    w->away_until = 0;
    /* memmove: presented may be the member's own secret. */
    memmove(w->previous, presented, GV_RESUME_SECRET_LEN);
    w->has_previous = 1;
    memcpy(w->secret, fresh, GV_RESUME_SECRET_LEN);
    return 0;
}

void gv_lobby_confirm(gv_lobby *l, const gv_lobby_member *m)
{
    gv_lobby_member *w = writable(l, m);
    if (!w->has_previous)
        return;
    w->has_previous = 0;
    sodium_memzero(w->previous, sizeof w->previous);
}

void gv_lobby_describe(const gv_lobby_member *m, uint64_t next, gv_msg_player *out)
{
    *out = (gv_msg_player){.id = m->id, .slot = m->slot, .epoch = m->epoch, .next = next};
    _Static_assert(sizeof out->name == sizeof m->name, "a member's name fits the roster's");
    memcpy(out->name, m->name, sizeof out->name);
}

const gv_msg_player *gv_lobby_roster(gv_lobby *l, const gv_lobby_member *self, gv_lobby_next_fn *next, int *count)
{
    int n = 0;
    for (int i = 0; i < l->count; i++) {
        const gv_lobby_member *m = &l->by_slot[l->order[i]];
        if (m != self)
            gv_lobby_describe(m, next ? next(m->owner) : 0, &l->roster[n++]);
    }
    *count = n;
    return l->roster;
}
