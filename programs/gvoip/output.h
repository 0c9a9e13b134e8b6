/* What gvoip prints: one line per event, human-readable or JSON. */
#ifndef GVOIP_OUTPUT_H
#define GVOIP_OUTPUT_H

#include <stdio.h>

#include "gvoip/gvoip.h"

/* Writes s as a JSON string literal (with quotes). */
void output_json_string(FILE *out, const char *s);

/* Prints one event on stdout (JSON line or human sentence) and flushes. */
void output_event(const gv_event *ev, int json);

/* A device failed while running: {"event":"device_error",...} or a
 * sentence on stderr. device is "capture" or "playback". */
void output_device_error(int json, const char *device, const char *reason);

/* A line for a fatal condition that is not a lobby event. */
void output_error(int json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
