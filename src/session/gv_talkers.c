#include "session/gv_talkers.h"

#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

#define SLOTS 256
#define SMOOTH 0.25f /* weight of a new packet's level in a talker's smoothed level */


typedef struct place {
    uint8_t talker;
    uint64_t voiced_us; /* their last packet with voice */
} place;

typedef struct listener {
    int count;
    place places[GV_TALKERS_MAX];
    uint8_t missed[SLOTS / 8]; /* talkers with a packet not sent to this listener since */
} listener;

struct gv_talkers {
    int max;
    float level[SLOTS]; /* smoothed, dB below full scale (0 loudest); -1 before any voice */
    listener listeners[SLOTS];
};

int gv_talkers_create(int max, gv_talkers **out)
{
    if (!out || max < 1 || max > GV_TALKERS_MAX)
        return GV_EINVAL;
    gv_talkers *t = calloc(1, sizeof *t);
    if (!t)
        return GV_ENOMEM;
    t->max = max;
    for (int i = 0; i < SLOTS; i++)
        t->level[i] = -1.0f;
    *out = t;
    return 0;
}

void gv_talkers_destroy(gv_talkers *t)
{
    free(t);
}

void gv_talkers_heard(gv_talkers *t, uint8_t talker, uint8_t level, int voiced)
{
    if (!voiced)
        return;
    float *l = &t->level[talker];
    *l = *l < 0.0f ? (float)level : *l + SMOOTH * ((float)level - *l);
}

static int find(const listener *l, uint8_t talker)
{
    for (int i = 0; i < l->count; i++)
        if (l->places[i].talker == talker)
            return i;
    return -1;
}

static void remove_at(listener *l, int i)
{
    l->places[i] = l->places[--l->count];
}

static int missed(const listener *l, uint8_t talker)
{
    return (l->missed[talker / 8] >> (talker % 8)) & 1;
}

static void set_missed(listener *l, uint8_t talker, int on)
{
    if (on)
        l->missed[talker / 8] |= (uint8_t)(1u << (talker % 8));
    else
        l->missed[talker / 8] &= (uint8_t)~(1u << (talker % 8));
}

/* The place a louder newcomer may take: the quietest talker between two
 * words, if the newcomer is clearly louder; else -1. */
static int displaceable(const gv_talkers *t, const listener *l, uint8_t talker, uint64_t now_us)
{
    int quietest = -1;
    for (int i = 0; i < l->count; i++) {
        const place *p = &l->places[i];
        if (now_us - p->voiced_us < GV_TALKERS_WORD_GAP_US)
            continue;
        if (quietest < 0 || t->level[p->talker] > t->level[l->places[quietest].talker])
            quietest = i;
    }
    if (quietest >= 0 && t->level[l->places[quietest].talker] - t->level[talker] < GV_TALKERS_LOUDER_DB)
        return -1;
    return quietest;
}

static enum gv_talkers_verdict send(listener *l, uint8_t talker)
{
    int was_missed = missed(l, talker);
    set_missed(l, talker, 0);
    return was_missed ? GV_TALKERS_START : GV_TALKERS_PASS;
}

enum gv_talkers_verdict gv_talkers_admit(gv_talkers *t, uint8_t listener_slot, uint8_t talker, int voiced,
                                         uint64_t now_us)
{
    listener *l = &t->listeners[listener_slot];
    for (int i = l->count - 1; i >= 0; i--)
        if (now_us - l->places[i].voiced_us >= GV_TALKERS_HOLD_US)
            remove_at(l, i);
    int at = find(l, talker);
    if (at >= 0) {
        if (voiced)
            l->places[at].voiced_us = now_us;
        return send(l, talker);
    }
    if (!voiced) {
        /* Silence claims no place; it goes while there is room. */
        if (l->count < t->max)
            return send(l, talker);
        set_missed(l, talker, 1);
        return GV_TALKERS_DROP;
    }
    if (l->count == t->max) {
        int out = displaceable(t, l, talker, now_us);
        if (out < 0) {
            set_missed(l, talker, 1);
            return GV_TALKERS_DROP;
        }
        set_missed(l, l->places[out].talker, 1);
        remove_at(l, out);
    }
    l->places[l->count++] = (place){talker, now_us};
    return send(l, talker);
}

void gv_talkers_reset(gv_talkers *t, uint8_t slot)
{
    memset(&t->listeners[slot], 0, sizeof t->listeners[slot]);
    t->level[slot] = -1.0f;
    for (int i = 0; i < SLOTS; i++) {
        listener *l = &t->listeners[i];
        int at = find(l, slot);
        if (at >= 0)
            remove_at(l, at);
        set_missed(l, slot, 0);
    }
}
