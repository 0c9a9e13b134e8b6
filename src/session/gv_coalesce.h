/* Relay coalescing: when a busy server holds voice for a moment so that a
 * listener's datagram carries several packets. A flush sends one datagram
 * to every listener with something queued, and on a busy relay the
 * kernel's work per datagram is most of the cost of a relayed packet.
 * Once the server relays hold_rate packets a second (measured over
 * GV_COALESCE_PERIOD_US), a service call that receives one voice packet
 * waits, up to hold_us and within its timeout, for GV_COALESCE_BATCH of
 * them, then seals and sends them together: half a millisecond more
 * latency at the median (128 players, 16 talking). Below three quarters of
 * hold_rate every packet is relayed as it arrives again. Pure: the time
 * and the relayed count are passed in. */
#ifndef GV_COALESCE_H
#define GV_COALESCE_H

#include <stddef.h>
#include <stdint.h>

#include "packet/gv_msg.h"

#define GV_COALESCE_BATCH 2
#define GV_COALESCE_HELD 16 /* voice held at most: a longer burst is relayed at once */
#define GV_COALESCE_PERIOD_US 100000u

/* One opened voice packet waiting, and who it is from (the caller's
 * handle: a server's peer index): what a voice datagram's record carries. */
typedef struct gv_coalesce_item {
    int from;
    int echo;
    uint64_t counter;
    uint32_t ts;
    uint8_t flags, level;
    size_t len;
    uint8_t payload[GV_VOICE_PAYLOAD_MAX];
} gv_coalesce_item;

typedef struct gv_coalesce {
    uint64_t hold_us, hold_rate;
    int on; /* busy: voice is held */
    uint64_t period_start_us, period_relayed;
    gv_coalesce_item held[GV_COALESCE_HELD];
    int count;
    uint64_t since_us; /* when the oldest held packet arrived */
} gv_coalesce;

/* hold_us 0: never hold. */
void gv_coalesce_init(gv_coalesce *c, uint64_t hold_us, uint64_t hold_rate);

/* Where the next held packet goes: fill counter, ts, flags, level and
 * payload, then push. */
gv_coalesce_item *gv_coalesce_next(gv_coalesce *c);

/* Holds the packet in gv_coalesce_next()'s item. Returns 1 when
 * the queue is full and must be released now. */
int gv_coalesce_push(gv_coalesce *c, int from, int echo, size_t len, uint64_t now_us);

/* How long a service call that ends at end_us should wait for another
 * packet now: 0 when nothing is held, a batch is there, or the oldest
 * has waited hold_us. */
uint64_t gv_coalesce_wait_us(const gv_coalesce *c, uint64_t now_us, uint64_t end_us);

/* Forgets what is held, once the caller has relayed it. */
void gv_coalesce_clear(gv_coalesce *c);

/* At the end of a service call: `relayed` is the server's running count
 * of relayed packets; every GV_COALESCE_PERIOD_US the rate decides
 * whether voice is held from now on. */
void gv_coalesce_tick(gv_coalesce *c, uint64_t relayed, uint64_t now_us);

#endif
