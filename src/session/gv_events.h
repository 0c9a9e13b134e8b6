/* A handle's public event stream: a fixed queue filled by the session (and
 * a client's voice path) in the order things happen, drained by the
 * _service() calls. When full, the oldest event is overwritten and
 * counted: a program that stops servicing loses history, not memory. */
#ifndef GV_EVENTS_H
#define GV_EVENTS_H

#include <stdint.h>

#include "gvoip/gvoip.h"

#define GV_EVENT_QUEUE 256

/* The smallest gv_event.size a caller may pass: the first published
 * sizeof(gv_event). It stays when gv_event grows. */
#define GV_EVENT_SIZE_MIN sizeof(gv_event)

typedef struct gv_event_queue {
    gv_event items[GV_EVENT_QUEUE];
    unsigned head, count;
    uint64_t overwritten;
} gv_event_queue;

/* Appends a zeroed event of the given type (reason "") and returns it for
 * filling. */
gv_event *gv_events_push(gv_event_queue *q, gv_event_type type);

/* The oldest event, still queued, or NULL when empty. */
gv_event *gv_events_peek(gv_event_queue *q);

/* Moves the oldest event to *out as the public _service() calls promise:
 * at most out->size bytes (which the caller checked against
 * GV_EVENT_SIZE_MIN), out->size then the bytes written. Returns 1, or 0
 * when empty. */
int gv_events_pop(gv_event_queue *q, gv_event *out);

#endif
