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
    ev->type = type;
    return ev;
}

int gv_events_pop(gv_event_queue *q, gv_event *out)
{
    if (q->count == 0)
        return 0;
    *out = q->items[q->head];
    q->head = (q->head + 1) % GV_EVENT_QUEUE;
    q->count--;
    return 1;
}
