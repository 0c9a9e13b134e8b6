#include "audio_event.h"

#include <stdio.h>
#include <string.h>

void audio_events_push(audio_events *q, int capture, int lost, int fallback, const char *name, const char *fmt,
                       va_list ap)
{
    if (q->count == AUDIO_EVENTS)
        return;
    audio_event *ev = &q->items[(q->head + q->count++) % AUDIO_EVENTS];
    memset(ev, 0, sizeof *ev);
    ev->capture = capture;
    ev->lost = lost;
    ev->fallback = fallback;
    snprintf(ev->name, sizeof ev->name, "%s", name);
    vsnprintf(ev->reason, sizeof ev->reason, fmt, ap);
}

int audio_events_pop(audio_events *q, audio_event *out)
{
    if (q->count == 0)
        return 0;
    *out = q->items[q->head];
    q->head = (q->head + 1) % AUDIO_EVENTS;
    q->count--;
    return 1;
}
