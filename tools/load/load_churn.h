/* --churn: players leave on purpose and newcomers join in their place from
 * fresh addresses, a few cycles at a time, until N newcomers are in; the
 * server's memory, descriptors and lobby size are sampled as the cycles
 * complete, to show whether they stay flat. Not thread-safe. */
#ifndef LOAD_CHURN_H
#define LOAD_CHURN_H

#include <stdint.h>

#include "load_opts.h"
#include "load_proc.h"
#include "load_swarm.h"

typedef struct load_churn load_churn;

/* o and events must outlive it (events: the server's, may read nothing).
 * 0 or GV_ENOMEM. */
int load_churn_create(const load_opts *o, load_events *events, load_churn **out);

void load_churn_destroy(load_churn *c);

/* The lobby is full: cycle 0, sampled. */
void load_churn_start(load_churn *c, load_swarm *sw, uint64_t now_us);

/* Joins what is waiting (load_swarm_join), starts the cycles that are
 * due and samples. 1 once every cycle is done and everyone is in, 0
 * before, a negative code when a newcomer could not join. */
int load_churn_step(load_churn *c, load_swarm *sw, uint64_t now_us);

/* The last sample, after the lobby settled. */
void load_churn_finish(load_churn *c, load_swarm *sw, uint64_t now_us);

/* ,"churn":{...} for the report. */
void load_churn_print(const load_churn *c);

#endif
