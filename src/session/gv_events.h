/* A fixed queue of public events, filled by the session and drained by the
 * _service() calls. When full, the oldest event is overwritten and counted:
 * a program that stops servicing loses history, not memory. */
#ifndef GV_EVENTS_H
#define GV_EVENTS_H

#include "gvoip/gvoip.h"

#define GV_EVENT_QUEUE 256

typedef struct gv_event_queue {
    gv_event items[GV_EVENT_QUEUE];
    unsigned head, count;
    unsigned long long overwritten;
} gv_event_queue;

/* Appends a zeroed event of the given type and returns it for filling. */
gv_event *gv_events_push(gv_event_queue *q, gv_event_type type);

/* Moves the oldest event to *out; returns 1, or 0 when empty. */
int gv_events_pop(gv_event_queue *q, gv_event *out);

#endif
