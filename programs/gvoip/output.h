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

/* --json: the loss-adaptive encoder changed its settings (README,
 * "encoder"), t_ms after the start. */
void output_encoder(const gv_client_stats *st, unsigned long long t_ms);

/* A line for a failure that is not a lobby event: on stderr, and with
 * json also as {"event":"error",...} on stdout. */
void output_error(int json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
