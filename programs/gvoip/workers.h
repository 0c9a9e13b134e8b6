/* `gvoip server --threads N`: the dedicated server as N workers, each a
 * gv_server with a UDP port of its own on a thread of its own, sharing a
 * lobby directory (gvoip.h), so that a lobby's voice is relayed on one
 * thread without a lock. */
#ifndef GVOIP_WORKERS_H
#define GVOIP_WORKERS_H

#include <signal.h>

#include "gvoip/gvoip.h"

/* Runs n (1..GV_DIRECTORY_WORKERS_MAX) workers with cfg (its password and
 * token keys included; worker i on cfg->port + i, or on a free port each
 * when it is 0) until *quit is set, duration_s (0: no limit) has passed
 * or a worker's network fails; then writes stats_file (NULL: none) and
 * stops them. Events go to stdout as they happen, one whole line each.
 * metrics_host (NULL: none) and metrics_tcp: where --metrics listens,
 * served from the main thread with every worker's figures added up. fleet
 * (NULL: none): the node of a fleet these workers are (n may be 1).
 * Returns the program's exit code. */
/* A node of a fleet (gvoip server --redis): its Redis and the address it
 * advertises (port 0: the first worker's). */
typedef struct workers_fleet {
    const char *redis_url;
    const char *advertise_host;
    uint16_t advertise_port;
    double drain_s; /* at a signal: this long for the players to move to other nodes; 0: leave at once */
} workers_fleet;

int workers_run(const gv_server_config *cfg, int n, int json, double duration_s, const char *stats_file,
                const char *metrics_host, uint16_t metrics_tcp, const workers_fleet *fleet,
                volatile sig_atomic_t *quit);

#endif
