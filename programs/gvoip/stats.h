/* The --stats FILE JSON object, written at exit. */
#ifndef GVOIP_STATS_H
#define GVOIP_STATS_H

#include "audio_io.h"
#include "gvoip/gvoip.h"
#include "options.h"

/* b's figures added into a (a server's workers' into their sum): the
 * counters and players, the largest datagram the larger of the two. */
void stats_add(gv_server_stats *a, const gv_server_stats *b);

/* Whether path can be written, said on stderr when not: checked before a
 * session starts, so a long one does not end without its figures. 0 or -1. */
int stats_check(const char *path);

/* Each returns 0, or -1 after saying on stderr why the file is not whole. */
int stats_write_server(const char *path, const gv_server *server);

/* A server on n workers (n <= GV_DIRECTORY_WORKERS_MAX): the counters of
 * all of them added up, "workers" (each one's port, players, lobbies,
 * relayed_packets and its thread's CPU time, cpu_s) and every lobby. */
int stats_write_workers(const char *path, gv_server *const *servers, const double *cpu_s, int n);

/* server is the host's own lobby, or NULL. */
int stats_write_client(const char *path, const gvoip_options *opt, const gv_client *client, const audio_io *io,
                       const gv_server *server);

#endif
