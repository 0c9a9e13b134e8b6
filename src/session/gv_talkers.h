/* Which talkers each listener of a big lobby is sent: at most max of them
 * at once. A talker takes a free place with a packet that carries voice
 * (the level byte's V bit) and keeps it while they talk: a place is free
 * again once its talker has sent no voice for GV_TALKERS_HOLD_US. When
 * every place is taken, a talker clearly louder (GV_TALKERS_LOUDER_DB,
 * levels smoothed over their last packets) takes the place of the quietest
 * one between two of their words (no voice for GV_TALKERS_WORD_GAP_US),
 * never in the middle of one. What a listener is not sent leaves a gap in
 * that talker's stream; the first packet they are sent again is marked as
 * opening a talk spurt, so the listener counts no loss for the gap. The
 * caller culls by position first. Pure: time in, verdicts out; listeners
 * and talkers are the lobby's voice slots. Not thread-safe. */
#ifndef GV_TALKERS_H
#define GV_TALKERS_H

#include <stdint.h>

#define GV_TALKERS_HOLD_US 800000u
#define GV_TALKERS_WORD_GAP_US 200000u
#define GV_TALKERS_LOUDER_DB 6.0f
#define GV_TALKERS_MAX 64 /* the largest limit a server may set */

typedef struct gv_talkers gv_talkers;

enum gv_talkers_verdict {
    GV_TALKERS_DROP,  /* not sent to this listener */
    GV_TALKERS_PASS,  /* sent */
    GV_TALKERS_START, /* sent, after a gap this listener was not sent: mark it a talk spurt's first */
};

/* max: 1..GV_TALKERS_MAX talkers a listener is sent at once. 0,
 * GV_EINVAL or GV_ENOMEM; the caller owns *out. */
int gv_talkers_create(int max, gv_talkers **out);
void gv_talkers_destroy(gv_talkers *t);

/* One voice packet from talker (level: -dBov 0..127; voiced: the V bit)
 * as it arrives, once, before the verdicts for its listeners: it moves
 * the talker's smoothed level. */
void gv_talkers_heard(gv_talkers *t, uint8_t talker, uint8_t level, int voiced);

/* Whether that packet goes to listener. */
enum gv_talkers_verdict gv_talkers_admit(gv_talkers *t, uint8_t listener, uint8_t talker, int voiced,
                                         uint64_t now_us);

/* A voice slot now holds someone new (a join), or the same player on a
 * new stream (a resume): nothing of what it heard or said is kept. */
void gv_talkers_reset(gv_talkers *t, uint8_t slot);

#endif
