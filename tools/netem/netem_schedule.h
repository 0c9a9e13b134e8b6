/* Conditions that change over time: a schedule file parsed into events and
 * evaluated at a given time. Pure: text in, parameters out.
 *
 * One event per line: "AT [up|down|both] key=value ... [every=S] [duration=S]"
 * with AT in seconds since the relay started. Without duration the change
 * is a step that stays; with duration it is a window after which the
 * values return to what the steps say; every=S repeats the window. */
#ifndef NETEM_SCHEDULE_H
#define NETEM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "netem_model.h"

#define NETEM_SCHEDULE_MAX_EVENTS 4096
#define NETEM_SCHEDULE_MAX_SECONDS 1e7

typedef struct netem_schedule_event {
    uint64_t at_us;
    uint64_t every_us;    /* 0 = once */
    uint64_t duration_us; /* 0 = a step that stays */
    unsigned dirs;        /* bit 1 << NETEM_UP, bit 1 << NETEM_DOWN */
    uint32_t mask;        /* which params the line sets (model key bits) */
    netem_model_params values;
    int line;             /* 1-based line in the file */
} netem_schedule_event;

typedef struct netem_schedule netem_schedule;

/* Parses len bytes of schedule text; *out is the caller's. On a bad line
 * returns GV_EMALFORMED with its 1-based number in *err_line and a reason
 * in why (either may be NULL); GV_ETOOBIG past NETEM_SCHEDULE_MAX_EVENTS;
 * GV_EINVAL, GV_ENOMEM. Thread-safe. */
int netem_schedule_parse(const char *text, size_t len, netem_schedule **out,
                         int *err_line, char *why, size_t why_len);

/* Frees s; NULL is a no-op. */
void netem_schedule_destroy(netem_schedule *s);

/* The number of events. Thread-safe (read-only). */
size_t netem_schedule_count(const netem_schedule *s);

/* Event i in time order (ties in file order), borrowed from s; NULL when
 * out of range. Thread-safe (read-only). */
const netem_schedule_event *netem_schedule_get(const netem_schedule *s, size_t i);

/* Writes to out the conditions of direction dir at t_us: base, then every
 * step already reached, then every window open at t_us, each in time order.
 * Returns the next time after t_us at which the result may change, or
 * UINT64_MAX. s may be NULL (out = base). Thread-safe (read-only). */
uint64_t netem_schedule_eval(const netem_schedule *s, int dir, const netem_model_params *base,
                             uint64_t t_us, netem_model_params *out);

#endif
