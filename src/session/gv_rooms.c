#include "session/gv_rooms.h"

#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"
#include "packet/gv_name.h"

struct gv_rooms {
    int max;
    int count;
    gv_room **open; /* in the order they opened */
};

int gv_rooms_create(int max, gv_rooms **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (max < 1 || max > GV_MAX_LOBBIES_LIMIT)
        return GV_EINVAL;
    gv_rooms *r = calloc(1, sizeof *r);
    if (!r || !(r->open = calloc((size_t)max, sizeof *r->open))) {
        free(r);
        return GV_ENOMEM;
    }
    r->max = max;
    *out = r;
    return 0;
}

static void free_room(gv_room *room)
{
    gv_lobby_destroy(room->lobby);
    gv_talkers_destroy(room->talkers);
    free(room);
}

void gv_rooms_destroy(gv_rooms *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->count; i++)
        free_room(r->open[i]);
    free(r->open);
    free(r);
}

gv_room *gv_rooms_find(gv_rooms *r, const char *name, size_t len)
{
    for (int i = 0; i < r->count; i++) {
        const char *n = r->open[i]->stats.name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return r->open[i];
    }
    return NULL;
}

int gv_rooms_open(gv_rooms *r, const char *name, size_t len, const gv_room_settings *set, uint64_t now_us,
                  gv_room **out)
{
    *out = NULL;
    if (len > GV_LOBBY_NAME_MAX || set->max_players < 1 || set->max_players > GV_MAX_PLAYERS ||
        set->max_talkers < 0 || set->max_talkers > GV_TALKERS_MAX)
        return GV_EINVAL;
    if (r->count >= r->max)
        return GV_EFULL;
    gv_room *room = calloc(1, sizeof *room);
    if (!room)
        return GV_ENOMEM;
    int rc = gv_lobby_create(set->max_players, &room->lobby);
    if (rc == 0 && set->max_talkers)
        rc = gv_talkers_create(set->max_talkers, &room->talkers);
    if (rc < 0) {
        free_room(room);
        return rc;
    }
    memcpy(room->stats.name, name, len);
    room->stats.max_players = set->max_players;
    room->spatial = set->spatial;
    float d = set->spatial.max_distance * 0.1f;
    room->cull_margin = d > 2.0f ? d : 2.0f;
    room->opened_us = now_us;
    room->empty = 1;
    room->empty_since_us = now_us;
    r->open[r->count++] = room;
    *out = room;
    return 0;
}

void gv_rooms_occupancy(gv_room *room, uint64_t now_us)
{
    int empty = gv_lobby_count(room->lobby) == 0;
    if (empty && !room->empty)
        room->empty_since_us = now_us;
    room->empty = empty;
}

gv_room *gv_rooms_expired(gv_rooms *r, uint64_t now_us, uint64_t linger_us)
{
    for (int i = 0; i < r->count; i++) {
        gv_room *room = r->open[i];
        if (room->empty && now_us - room->empty_since_us >= linger_us)
            return room;
    }
    return NULL;
}

void gv_rooms_close(gv_rooms *r, gv_room *room)
{
    for (int i = 0; i < r->count; i++) {
        if (r->open[i] != room)
            continue;
        memmove(&r->open[i], &r->open[i + 1], (size_t)(r->count - i - 1) * sizeof *r->open);
        r->count--;
        free_room(room);
        return;
    }
}

int gv_rooms_count(const gv_rooms *r)
{
    return r->count;
}

gv_room *gv_rooms_at(const gv_rooms *r, int i)
{
    return i >= 0 && i < r->count ? r->open[i] : NULL;
}

void gv_rooms_stats(const gv_room *room, uint64_t now_us, gv_lobby_stats *out)
{
    uint32_t size = out->size < sizeof *out ? out->size : (uint32_t)sizeof *out;
    gv_lobby_stats st = room->stats;
    st.size = size;
    st.players = gv_lobby_count(room->lobby);
    st.away = gv_lobby_away_count(room->lobby);
    st.open_ms = (now_us - room->opened_us) / 1000u;
    memcpy(out, &st, size);
}
