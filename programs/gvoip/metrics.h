/* `gvoip server --metrics HOST:PORT`: the server's figures for Prometheus
 * (GET /metrics, the text exposition format 0.0.4) and a health check
 * (GET /healthz) from a small HTTP/1.x responder on a TCP socket. It has
 * no thread of its own: the thread that already loops polls it, and it
 * never blocks, so a slow or silent client cannot hold up the relay. Each
 * connection carries one request and is closed after the answer. */
#ifndef GVOIP_METRICS_H
#define GVOIP_METRICS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"

/* Lobbies named per server (worker); those past them are only counted
 * (gvoip_lobbies_unlisted). */
#define METRICS_LOBBIES 256
/* Connections served at once; one more is closed as soon as it comes. */
#define METRICS_CONNECTIONS 4
/* The most metrics_pollfds fills. */
#define METRICS_POLLFDS (1 + METRICS_CONNECTIONS)
/* How often a loop that does not wait on those descriptors (a busy
 * relay's turns once per burst of packets) polls the endpoint. */
#define METRICS_POLL_MS 10

/* One server's figures at one moment. */
typedef struct metrics_snapshot {
    gv_server_stats stats;
    int listed; /* lobbies[0..listed): the first of stats.lobbies, in the order they opened */
    gv_lobby_stats lobbies[METRICS_LOBBIES];
} metrics_snapshot;

/* s's figures into snap; on s's own thread. */
void metrics_snapshot_take(const gv_server *s, metrics_snapshot *snap);

/* The bytes at the start of snap that hold its figures: what a copy of it
 * needs. */
size_t metrics_snapshot_size(const metrics_snapshot *snap);

/* Fills snaps[0..n), each server's latest figures (n as given to
 * metrics_open). Called by metrics_poll, on its thread, for a scrape. */
typedef void (*metrics_collect)(void *ctx, metrics_snapshot *snaps, int n);

/* A metrics_collect for one gv_server (ctx, n 1) polled on its own
 * thread. */
void metrics_collect_server(void *ctx, metrics_snapshot *snaps, int n);

typedef struct metrics metrics;

/* Listens on host (an IPv4 address or a name) and port (0: a free one)
 * for the figures of `servers` servers (1..GV_DIRECTORY_WORKERS_MAX),
 * which collect gives. Returns 0, GV_EINVAL, GV_ENOMEM, GV_ENOTFOUND (no
 * such host) or GV_EIO (the socket failed: why says how). */
int metrics_open(const char *host, uint16_t port, int servers, metrics_collect collect, void *ctx, metrics **out,
                 char *why, size_t why_len);

/* The TCP port listened on. */
int metrics_port(const metrics *m);

/* What to poll for the endpoint's work to do, into fds (METRICS_POLLFDS
 * entries): their count. */
int metrics_pollfds(const metrics *m, struct pollfd *fds);

/* Does what can be done now without waiting: accepts, reads requests,
 * answers them, drops connections idle too long. */
void metrics_poll(metrics *m);

/* The server is stopping: /healthz answers 503 from now on. */
void metrics_stopping(metrics *m);

/* Closes every connection and the socket. NULL is a no-op. */
void metrics_close(metrics *m);

#endif
