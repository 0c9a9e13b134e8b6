#include "session/gv_reconnect.h"

#include <string.h>

#include "packet/gv_msg.h"

void gv_reconnect_init(gv_reconnect *r, uint64_t limit_us, gv_random random)
{
    memset(r, 0, sizeof *r);
    r->limit_us = limit_us;
    r->random = random;
    r->backoff_max_us = GV_RECONNECT_BACKOFF_MAX_US;
}

void gv_reconnect_cap(gv_reconnect *r, uint64_t max_us)
{
    r->backoff_max_us = max_us < GV_RECONNECT_BACKOFF_MIN_US ? GV_RECONNECT_BACKOFF_MIN_US : max_us;
}

void gv_reconnect_heard(gv_reconnect *r)
{
    r->active = 0;
    r->attempt = 0;
}

static void begin(gv_reconnect *r, uint64_t heard_us, uint64_t now_us)
{
    r->active = 1;
    r->since_us = heard_us;
    r->next_us = now_us;
    r->backoff_us = GV_RECONNECT_BACKOFF_MIN_US;
    r->attempt = 0;
}

void gv_reconnect_lost(gv_reconnect *r, uint64_t heard_us, uint64_t now_us)
{
    if (r->limit_us == 0)
        return;
    if (!r->active)
        begin(r, heard_us, now_us);
    else if (r->attempt == 0)
        r->next_us = now_us;
}

int gv_reconnect_closed(gv_reconnect *r, int code, uint64_t heard_us, uint64_t now_us)
{
    int worth = code == GV_REFUSE_NONE || code == GV_REFUSE_SHUTDOWN || code == GV_REFUSE_MOVED ||
                (code == GV_REFUSE_REPLACED && r->presented);
    if (r->limit_us == 0 || !worth)
        return 0;
    gv_reconnect_lost(r, heard_us, now_us);
    return 1;
}

void gv_reconnect_presented(gv_reconnect *r)
{
    r->presented = 1;
}

void gv_reconnect_welcomed(gv_reconnect *r)
{
    r->presented = 0;
}

int gv_reconnect_restored(gv_reconnect *r, int presented)
{
    gv_reconnect_heard(r);
    return presented;
}

enum gv_reconnect_action gv_reconnect_failed(const gv_reconnect *r, int code)
{
    return r->active && code == GV_REFUSE_RESUME ? GV_RECONNECT_REJOIN : GV_RECONNECT_WAIT;
}

enum gv_reconnect_action gv_reconnect_tick(gv_reconnect *r, uint64_t heard_us, uint64_t now_us)
{
    if (r->limit_us == 0)
        return GV_RECONNECT_WAIT;
    if (!r->active) {
        if (now_us - heard_us < GV_RECONNECT_AFTER_US)
            return GV_RECONNECT_WAIT;
        begin(r, heard_us, now_us);
    }
    if (now_us - r->since_us >= r->limit_us) {
        r->active = 0;
        return GV_RECONNECT_GIVE_UP;
    }
    if (now_us < r->next_us)
        return GV_RECONNECT_WAIT;
    uint32_t jitter = 0;
    r->random.fill(r->random.ctx, &jitter, sizeof jitter);
    r->attempt++;
    r->next_us = now_us + r->backoff_us + jitter % (r->backoff_us / 4 + 1);
    r->backoff_us = r->backoff_us * 2 > r->backoff_max_us ? r->backoff_max_us : r->backoff_us * 2;
    return GV_RECONNECT_ATTEMPT;
}

uint32_t gv_reconnect_wait_ms(const gv_reconnect *r, uint64_t now_us)
{
    if (!r->active || now_us >= r->next_us)
        return 0;
    return (uint32_t)((r->next_us - now_us + 999) / 1000);
}
