/* `gvoip server --redis URL --advertise HOST:PORT`: the server as one node
 * of a fleet (docs/operations.md). A thread of its own keeps the node's
 * lease in Redis (libgvoip-fleet) with its load, puts back the lobbies it
 * hosts after Redis lost them, closes those the fleet gave another node,
 * and releases those that closed; the lobby directory's gate asks Redis
 * where a lobby nobody here holds belongs, on the worker's thread. */
#ifndef GVOIP_FLEET_NODE_H
#define GVOIP_FLEET_NODE_H

#include <stdint.h>

#include "gvoip/gvoip.h"

typedef struct fleet_node fleet_node;

typedef struct fleet_node_config {
    const char *redis_url;
    const char *advertise; /* "HOST:PORT" */
    const char *fingerprint; /* the server's key, "SHA256:..." */
    int capacity_players, capacity_lobbies;
    int json;
    /* The relayed packets of every worker so far (each one's latest
     * figure), for the load the node reports; NULL: reported as 0. */
    uint64_t (*relayed)(void *ctx);
    void *relayed_ctx;
} fleet_node_config;

/* Connects to Redis and registers the node (Redis must be there when the
 * node starts; once running, a node outlives Redis going away and comes
 * back when it does), sets dir's gate and starts the node's thread. An
 * exit code of options.h, after printing why. */
int fleet_node_start(const fleet_node_config *cfg, gv_directory *dir, fleet_node **out);

/* Asks the node to drain: from its next pass (at once) it has no room for
 * a new lobby, and each lobby it holds is placed on another node, whose
 * address its players are sent to (they move on their own). Thread-safe;
 * NULL is a no-op. */
void fleet_node_drain(fleet_node *n);

/* Stops the thread and leaves the fleet (the node's lobbies are placed
 * elsewhere at once, not when its lease lapses), then clears dir's gate.
 * NULL is a no-op. */
void fleet_node_stop(fleet_node *n);

#endif
