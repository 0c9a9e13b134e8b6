#include "session/gv_coalesce.h"

#include <string.h>

void gv_coalesce_init(gv_coalesce *c, uint64_t hold_us, uint64_t hold_rate)
{
    memset(c, 0, sizeof *c);
    c->hold_us = hold_us;
    c->hold_rate = hold_rate;
}

gv_coalesce_item *gv_coalesce_next(gv_coalesce *c)
{
    return &c->held[c->count];
}

int gv_coalesce_push(gv_coalesce *c, int from, int echo, size_t len, uint64_t now_us)
{
    gv_coalesce_item *h = &c->held[c->count];
    h->from = from;
    h->echo = echo;
    h->len = len;
    if (c->count++ == 0)
        c->since_us = now_us;
    return c->count == GV_COALESCE_HELD;
}

uint64_t gv_coalesce_wait_us(const gv_coalesce *c, uint64_t now_us, uint64_t end_us)
{
    if (c->count == 0 || c->count >= GV_COALESCE_BATCH)
        return 0;
    uint64_t due = c->since_us + c->hold_us;
    if (due > end_us)
        due = end_us;
    return now_us < due ? due - now_us : 0;
}

void gv_coalesce_clear(gv_coalesce *c)
{
    c->count = 0;
}

void gv_coalesce_tick(gv_coalesce *c, uint64_t relayed, uint64_t now_us)
{
    uint64_t elapsed = now_us - c->period_start_us;
    if (elapsed < GV_COALESCE_PERIOD_US)
        return;
    uint64_t per_second = (relayed - c->period_relayed) * 1000000u / elapsed;
    c->on = c->hold_us > 0 && per_second >= (c->on ? c->hold_rate * 3 / 4 : c->hold_rate);
    c->period_start_us = now_us;
    c->period_relayed = relayed;
}
