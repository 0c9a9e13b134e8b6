/* A player's budgets (docs/protocol.md, "Per-player budgets"): what one
 * authenticated player may send in one-second windows, and when staying
 * over them gets the player removed. Pure: the time is passed in. */
#ifndef GV_BUDGET_H
#define GV_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "packet/gv_msg.h"

#define GV_BUDGET_WINDOW_US 1000000u
#define GV_BUDGET_STRIKES 3 /* windows over budget in a row before removal */
/* Voice is budgeted in audio time: 1.25 times real time plus a burst
 * allowance, so 20 ms frames get 67 packets a second and 10 ms frames 135. */
#define GV_BUDGET_VOICE_US (GV_BUDGET_WINDOW_US * 5 / 4 + 100000u)
#define GV_BUDGET_CONTROL_MAX 20   /* plus one loss report per other player */
#define GV_BUDGET_POSITIONS_MAX 75 /* a game's 60 Hz physics rate, times 1.25 */
#define GV_BUDGET_BYTES_MAX (40 * 1024)

typedef enum gv_budget_kind {
    GV_BUDGET_VOICE,    /* a VOICE message on the voice channel */
    GV_BUDGET_POSITION, /* a POSITION message */
    GV_BUDGET_CONTROL,  /* anything else */
} gv_budget_kind;

typedef enum gv_budget_verdict {
    GV_BUDGET_PASS = 0,   /* within budget: handle it */
    GV_BUDGET_OVER = 1,   /* drop it and count it */
    GV_BUDGET_REMOVE = 2, /* drop it: the player stayed over for GV_BUDGET_STRIKES windows */
} gv_budget_verdict;

typedef struct gv_budget {
    uint64_t window_start_us;
    uint64_t voice_us; /* audio time of the voice in this window */
    int control, positions;
    size_t bytes;
    int over, strikes;
} gv_budget;

/* A fresh budget whose first window starts now. */
void gv_budget_start(gv_budget *b, uint64_t now_us);

/* Counts one message: its kind, its audio time (voice, from
 * gv_budget_voice_us), its sealed size, against a lobby of `players`.
 * Returns a gv_budget_verdict. */
gv_budget_verdict gv_budget_charge(gv_budget *b, gv_budget_kind kind, uint64_t voice_us, size_t bytes, int players,
                                   uint64_t now_us);

/* Audio time of one VOICE message from its Opus TOC byte (RFC 6716,
 * section 3.1), or the raw baseline's fixed frame; never under 10 ms
 * (which caps the packet rate whatever the TOC claims) nor over 120 ms. */
uint64_t gv_budget_voice_us(const gv_msg *voice);

#endif
