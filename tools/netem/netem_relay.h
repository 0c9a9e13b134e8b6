/* The relay itself: one listening UDP socket for clients, one connected
 * upstream socket per client address (so the server sees one address per
 * client), a netem_model per direction and a heap of datagrams waiting for
 * their release time. Single-threaded, driven by poll(). At the rebind
 * times every upstream socket is replaced by one on a new port, as a NAT
 * does when it loses its mappings. During a blackout nothing crosses in
 * either direction, as when a link goes down. */
#ifndef NETEM_RELAY_H
#define NETEM_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netem_model.h"
#include "netem_schedule.h"

#define NETEM_RELAY_MAX_REBINDS 8

typedef struct netem_relay_config {
    const char *listen_host;          /* "127.0.0.1" */
    uint16_t listen_port;             /* 0 = a free port */
    const char *to_host;              /* the server; required */
    uint16_t to_port;
    netem_model_params params[2];     /* indexed by enum netem_dir */
    uint64_t seed;                    /* 1 */
    const netem_schedule *schedule;   /* borrowed; NULL = none */
    const char *capture_path;         /* NULL = no capture */
    double idle_timeout_s;            /* 60: a silent client's mapping ends */
    size_t max_pending;               /* 65536 datagrams held at once */
    size_t max_pending_bytes;         /* 64 MiB held at once */
    size_t max_clients;               /* 1024 mappings at once */
    double rebind_at_s[NETEM_RELAY_MAX_REBINDS]; /* (0, 1e7] s after the start, any order */
    size_t rebind_count;              /* 0 = never rebind */
    double blackout_every_s;          /* 0 = never; else a blackout starts every S s */
    double blackout_first_s;          /* the first one; 0 = at blackout_every_s */
    double blackout_s;                /* how long each lasts, < blackout_every_s */
    FILE *events;                     /* a JSON line as each blackout starts and ends; NULL = none */
    int keep_client_address;          /* upstream sockets bind the client's address (port 0), so the
                                       * server sees as many addresses as there are clients */
} netem_relay_config;

typedef struct netem_relay netem_relay;

/* Fills cfg with the defaults above and no impairment. Thread-safe. */
void netem_relay_config_default(netem_relay_config *cfg);

/* Binds the listening socket and opens the capture file. *out is the
 * caller's; on failure why says what went wrong. Returns GV_EINVAL,
 * GV_ENOTFOUND (a host that does not resolve), GV_EIO, GV_ENOMEM. */
int netem_relay_create(const netem_relay_config *cfg, netem_relay **out, char *why, size_t why_len);

/* Closes every socket and drops what is still pending; NULL is a no-op. */
void netem_relay_destroy(netem_relay *r);

/* The bound listening port. Thread-safe (read-only). */
int netem_relay_port(const netem_relay *r);

/* Relays until stop_fd (a pipe the caller's signal handler writes to; -1 =
 * none) becomes readable or duration_s (0 = no limit) has passed; call it
 * once. Datagrams still pending then are never sent (stats: unsent).
 * Returns GV_OK or GV_EIO if poll fails. Not thread-safe. */
int netem_relay_run(netem_relay *r, int stop_fd, double duration_s);

/* Writes the counters as one JSON line ({"event":"stats",...}) to f.
 * Returns GV_OK or GV_EIO. Not thread-safe against netem_relay_run. */
int netem_relay_write_stats(const netem_relay *r, FILE *f);

#endif
