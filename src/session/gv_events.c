#include "session/gv_events.h"

#include <string.h>

gv_event *gv_events_push(gv_event_queue *q, gv_event_type type)
{
    if (q->count == GV_EVENT_QUEUE) {
        q->head = (q->head + 1) % GV_EVENT_QUEUE;
        q->count--;
        q->overwritten++;
    }
    gv_event *ev = &q->items[(q->head + q->count) % GV_EVENT_QUEUE];
    q->count++;
    memset(ev, 0, sizeof *ev);
    ev->size = sizeof *ev;
    ev->type = type;
    ev->reason = "";
    return ev;
}

gv_event *gv_events_peek(gv_event_queue *q)
{
    return q->count ? &q->items[q->head] : NULL;
}

int gv_events_pop(gv_event_queue *q, gv_event *out)
{
    if (q->count == 0)
        return 0;
    uint32_t n = out->size < sizeof *out ? out->size : (uint32_t)sizeof *out;
    memcpy(out, &q->items[q->head], n);
    out->size = n;
    q->head = (q->head + 1) % GV_EVENT_QUEUE;
    q->count--;
    return 1;
}
