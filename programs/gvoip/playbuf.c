#include "playbuf.h"

static int longer(int ms)
{
    return ms + (ms + 1) / 2;
}

void playbuf_init(playbuf *p, int base_ms, int max_ms)
{
    *p = (playbuf){0};
    p->base_ms = p->ms = base_ms;
    p->max_ms = max_ms;
    p->hold_us = PLAYBUF_HOLD_US;
}

int playbuf_underrun(playbuf *p, uint64_t now_us)
{
    const int same_stall = p->has_grown && now_us - p->grown_at_us < PLAYBUF_SAME_STALL_US;
    p->quiet_since_us = now_us;
    if (same_stall || p->ms >= p->max_ms)
        return 0;
    const int more = longer(p->ms);
    p->ms = more < p->max_ms ? more : p->max_ms;
    p->grown_at_us = now_us;
    p->has_grown = 1;
    if (p->shrunk_from_ms && p->ms >= p->shrunk_from_ms) {
        p->hold_us = 2 * p->hold_us < PLAYBUF_HOLD_MAX_US ? 2 * p->hold_us : PLAYBUF_HOLD_MAX_US;
        p->shrunk_from_ms = 0;
    }
    return 1;
}

uint64_t playbuf_due_us(const playbuf *p)
{
    return p->ms > p->base_ms ? p->quiet_since_us + p->hold_us : 0;
}

int playbuf_settle(playbuf *p, uint64_t now_us)
{
    if (p->ms <= p->base_ms || now_us < p->quiet_since_us + p->hold_us)
        return 0;
    /* Back to the length it was lengthened from. */
    int back = p->base_ms;
    while (longer(back) < p->ms)
        back = longer(back);
    p->shrunk_from_ms = p->ms;
    p->ms = back;
    p->quiet_since_us = now_us;
    return 1;
}
