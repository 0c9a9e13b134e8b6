/* What gvoip prints: one line per event, human-readable or JSON. */
#ifndef GVOIP_OUTPUT_H
#define GVOIP_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include "audio_io.h"
#include "gvoip/gvoip.h"

/* Writes s as a JSON string literal (with quotes). */
void output_json_string(FILE *out, const char *s);

/* Prints one event on stdout (JSON line or human sentence) and flushes;
 * whole, when threads print at once. */
void output_event(const gv_event *ev, int json);

/* A server on n workers is listening: ev is the first worker's LISTENING,
 * ports every worker's. {"event":"listening","port":P,"ports":[...],...}
 * or sentences; n 1 (ports may be NULL) is one server, printed as
 * output_event prints ev. metrics_port > 0: the --metrics endpoint's TCP
 * port, "metrics_port":N at the end of the line (or a sentence). */
void output_listening(const gv_event *ev, const int *ports, int n, int metrics_port, int json);

/* An audio device went away or came (back): {"event":"device_lost",...}
 * or {"event":"device_changed",...}, or a sentence, on stdout. */
void output_device_event(const audio_event *ev, int json);

/* The sentence output_device_event prints, into text (for the screen). */
void output_device_sentence(const audio_event *ev, char *text, size_t len);

/* `gvoip devices --watch` and `--json`: a device present (change 0),
 * added (1) or removed (-1); device is "capture" or "playback". Flushes. */
void output_device_listed(int json, int change, const char *device, const char *name);

/* --json: the loss-adaptive encoder changed its settings (README,
 * "encoder"), t_ms after the start. */
void output_encoder(const gv_client_stats *st, unsigned long long t_ms);

/* A line for a failure that is not a lobby event: on stderr, and with
 * json also as {"event":"error",...} on stdout. */
void output_error(int json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
