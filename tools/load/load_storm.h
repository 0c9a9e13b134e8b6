/* A connection storm: ENet hosts bound to distinct loopback addresses
 * 127.0.x.y (Linux routes all of 127/8 to lo) that connect to the server
 * and never begin gvoip's handshake. They are stock ENet with gvoip's MTU
 * and checksum: a cookie datagram is counted and ignored, as any client
 * that does not know gvoip's cookie would. Not thread-safe. */
#ifndef LOAD_STORM_H
#define LOAD_STORM_H

#include <stdint.h>

#include "load_opts.h"

typedef struct load_storm load_storm;

typedef struct load_storm_report {
    int addresses;
    uint64_t attempts;    /* enet_host_connect calls */
    uint64_t established; /* ENet CONNECT events: the server allocated a peer */
    uint64_t dropped;     /* DISCONNECT events: the server or ENet gave up on one */
    uint64_t cookies;     /* cookie datagrams received */
} load_storm_report;

/* Binds `addresses` hosts (127.0.1.1 upward, skipping .0 and .255) that
 * will connect to host:port; the caller owns *out. Returns 0 or a
 * negative gvoip error code. */
int load_storm_create(const char *host, uint16_t port, int addresses, double rate, load_storm_mode mode,
                      load_storm **out);

void load_storm_destroy(load_storm *st);

/* Starts the attempts due by now_us (paced at the rate, round robin over
 * idle addresses) and services the hosts. Call every few milliseconds. */
void load_storm_run(load_storm *st, uint64_t now_us);

void load_storm_get_report(const load_storm *st, load_storm_report *out);

#endif
