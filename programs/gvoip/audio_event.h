/* What happened to an audio device in use, as both backends (audio_io's
 * SDL2 and audio_pulse's libpulse) report it, and the little queue that
 * holds such reports until the main loop takes them. Main thread only. */
#ifndef AUDIO_EVENT_H
#define AUDIO_EVENT_H

typedef struct audio_event {
    int capture;      /* 1: the capture device, 0: playback */
    int lost;         /* 1: name went away, or stopped calling back (reason); 0: name is in use
                       * (again), after a loss or because the sound server moved the stream */
    int fallback;     /* lost == 0: name is the system's default, standing in for the device
                       * chosen (--input-device, --output-device), which is not there */
    char name[256];
    char reason[256]; /* lost == 1: why */
} audio_event;

#define AUDIO_EVENTS 16

typedef struct audio_events {
    audio_event items[AUDIO_EVENTS];
    int head, count;
} audio_events;

#include <stdarg.h>

/* Queues an event, its reason a printf format with its arguments in ap; a
 * full queue drops it (its owner looks again only once the queue is
 * empty, and a look reports far fewer). */
void audio_events_push(audio_events *q, int capture, int lost, int fallback, const char *name, const char *fmt,
                       va_list ap);

/* The oldest event: 1 with *out filled, or 0 when there is none. */
int audio_events_pop(audio_events *q, audio_event *out);

#endif
