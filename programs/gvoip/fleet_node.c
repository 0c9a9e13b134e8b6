/* The server as a node of a fleet: its lease, its load and its lobbies in
 * Redis, kept by a thread of its own; and the directory's gate. */
#include "fleet_node.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "clock.h"
#include "gvoip/fleet.h"
#include "options.h"
#include "output.h"

/* A lobby the backend placed here that no player opened within this long
 * is given back: the players never came. */
#define UNUSED_PLACEMENT_MS 300000u
#define PRUNE_EVERY_PASSES 10

struct fleet_node {
    fleet_node_config cfg;
    char advertise[GV_FLEET_ADDRESS_BYTES];
    char fingerprint[GV_FLEET_FINGERPRINT_BYTES];
    gv_directory *dir;
    int lease_ms;
    gv_fleet *agent;           /* the node's thread's connection */
    gv_fleet *asker;           /* the workers' (the gate), under gate_lock */
    pthread_mutex_t gate_lock;
    pthread_t thread;
    int running;
    atomic_int stop;
    atomic_int drain; /* asked to: take no new lobby, send the lobbies held to other nodes */
    int drained;
    char id[GV_FLEET_ID_BYTES];
    uint64_t epoch;      /* 0: not registered now */
    uint64_t last_ok_ms; /* monotonic: the lease was last renewed */
    /* The last pass could not reach Redis: the gate then refuses at once
     * rather than hold a worker's relay for a timeout per join. */
    atomic_int unreachable;
    /* The lobbies this node hosted at the last pass, sorted by name, with
     * when each opened (what a conflict after Redis lost its data weighs). */
    gv_fleet_lobby *held;
    int held_count;
    gv_fleet_lobby *now; /* scratch: this pass's */
    gv_fleet_lobby *all; /* this pass's, pending ones too */
    int all_count;
    int passes;
    gv_directory_lobby *listed;
    int *lost;
    int max_lobbies;
    double cpu_prev_s, wall_prev_s;
    uint64_t relayed_prev;
};

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* One whole line on stdout, as the workers' events are. */
static void say(const fleet_node *n, const char *state, const char *lobby, const char *detail)
{
    flockfile(stdout);
    if (n->cfg.json) {
        printf("{\"event\":\"fleet\",\"state\":\"%s\",\"node\":\"%s\"", state, n->id);
        if (n->epoch)
            printf(",\"epoch\":%llu", (unsigned long long)n->epoch);
        if (lobby) {
            printf(",\"lobby\":");
            output_json_string(stdout, lobby);
        }
        if (detail) {
            printf(",\"detail\":");
            output_json_string(stdout, detail);
        }
        printf("}\n");
    } else {
        printf("fleet: %s (node %s", state, n->id);
        if (n->epoch)
            printf(", epoch %llu", (unsigned long long)n->epoch);
        printf(")%s%s%s%s\n", lobby ? " lobby '" : "", lobby ? lobby : "", lobby ? "'" : "",
               detail ? detail : "");
    }
    fflush(stdout);
    funlockfile(stdout);
}

/* "HOST:PORT" cut in two; 0 or -1. */
static int split_address(const char *address, char *host, size_t host_size, uint16_t *port)
{
    const char *colon = strrchr(address, ':');
    if (!colon || (size_t)(colon - address) >= host_size)
        return -1;
    long p = strtol(colon + 1, NULL, 10);
    if (p < 1 || p > 65535)
        return -1;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/* The directory's gate: one allocation (a placement if the lobby has
 * none) on the workers' connection. */
static int gate(void *user, const char *lobby, size_t len, char *host, size_t host_size, uint16_t *port)
{
    fleet_node *n = user;
    if (atomic_load(&n->unreachable))
        return GV_EIO;
    gv_fleet_placement p = {.size = sizeof p};
    pthread_mutex_lock(&n->gate_lock);
    int rc = gv_fleet_allocate(n->asker, lobby, len, (uint32_t)gv_protocol_version(), &p);
    pthread_mutex_unlock(&n->gate_lock);
    if (rc == GV_EVERSION) /* it stays where it is: that node tells the player so */
        rc = 0;
    if (rc < 0)
        return rc;
    if (strcmp(p.node, n->id) == 0)
        return 0;
    return split_address(p.address, host, host_size, port) == 0 ? 1 : GV_EIO;
}

static int by_name(const void *a, const void *b)
{
    const gv_fleet_lobby *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static const gv_fleet_lobby *find_held(const fleet_node *n, const gv_fleet_lobby *key)
{
    return n->held_count ? bsearch(key, n->held, (size_t)n->held_count, sizeof *n->held, by_name) : NULL;
}

/* The lobbies open here now, into n->now (sorted), each with when it
 * opened as first seen; the node's load into *node. */
static int survey(fleet_node *n, gv_fleet_node *node)
{
    int players = 0, lobbies = 0;
    int count = gv_directory_list(n->dir, n->listed, n->max_lobbies, &players, &lobbies);
    int open = 0;
    uint64_t now = clock_unix_ms();
    n->all_count = 0;
    for (int i = 0; i < count; i++) {
        gv_fleet_lobby *any = &n->all[n->all_count++];
        memcpy(any->name, n->listed[i].name, n->listed[i].len + 1);
        any->len = n->listed[i].len;
        if (!n->listed[i].opened)
            continue; /* a player on the way: the placement is already ours */
        gv_fleet_lobby *l = &n->now[open++];
        memcpy(l->name, n->listed[i].name, n->listed[i].len + 1);
        l->len = n->listed[i].len;
        const gv_fleet_lobby *was = find_held(n, l);
        l->opened_ms = was ? was->opened_ms : now;
    }
    qsort(n->now, (size_t)open, sizeof *n->now, by_name);
    double wall = (double)clock_mono_ms() / 1000.0, cpu = cpu_s();
    uint64_t relayed = n->cfg.relayed ? n->cfg.relayed(n->cfg.relayed_ctx) : 0;
    double dt = wall - n->wall_prev_s;
    *node = (gv_fleet_node){.size = sizeof *node, .protocol = (uint32_t)gv_protocol_version()};
    memcpy(node->id, n->id, sizeof node->id);
    snprintf(node->address, sizeof node->address, "%s", n->advertise);
    snprintf(node->fingerprint, sizeof node->fingerprint, "%s", n->fingerprint);
    /* Draining, the node has no room: the fleet places nothing new here. */
    int draining = atomic_load(&n->drain);
    node->capacity_players = draining ? 0 : n->cfg.capacity_players;
    node->capacity_lobbies = draining ? 0 : n->cfg.capacity_lobbies;
    node->players = players;
    node->lobbies = lobbies;
    if (n->wall_prev_s > 0 && dt > 0) {
        node->cpu = (cpu - n->cpu_prev_s) / dt;
        node->forwarded_per_s = relayed >= n->relayed_prev ? (double)(relayed - n->relayed_prev) / dt : 0;
    }
    n->wall_prev_s = wall;
    n->cpu_prev_s = cpu;
    n->relayed_prev = relayed;
    return open;
}

/* Draining: each lobby held is placed on another node (this one has no
 * room now) and its players are moved there. One that finds no other
 * node stays until the node stops. The lobbies kept, in n->now. */
static int send_away(fleet_node *n, int open)
{
    int kept = 0;
    for (int i = 0; i < open; i++) {
        const gv_fleet_lobby *l = &n->now[i];
        gv_fleet_placement p = {.size = sizeof p};
        char host[256];
        uint16_t port;
        gv_fleet_release(n->agent, n->id, n->epoch, l->name, l->len);
        if (gv_fleet_allocate(n->agent, l->name, l->len, (uint32_t)gv_protocol_version(), &p) == 0 &&
            strcmp(p.node, n->id) != 0 && split_address(p.address, host, sizeof host, &port) == 0 &&
            gv_directory_revoke(n->dir, l->name, l->len, host, port) == 0) {
            say(n, "lobby_moved", l->name, p.address);
            continue;
        }
        n->now[kept++] = *l;
    }
    return kept;
}

/* The lobby went to another node: its players are sent there. */
static void give_up(fleet_node *n, const gv_fleet_lobby *l)
{
    gv_fleet_placement p = {.size = sizeof p};
    char host[256] = "";
    uint16_t port = 0;
    if (gv_fleet_locate(n->agent, l->name, l->len, &p) == 0 && split_address(p.address, host, sizeof host, &port) != 0)
        port = 0;
    gv_directory_revoke(n->dir, l->name, l->len, port ? host : NULL, port);
    say(n, "lobby_moved", l->name, port ? p.address : NULL);
}

/* A new lease, and the lobbies open here put back. After the lease lapsed
 * (the node was cut off longer than it lasts), a lobby the fleet placed
 * elsewhere meanwhile is that node's now: fenced, this one lets it go.
 * After Redis lost its data with the lease still running, every node puts
 * its lobbies back and a lobby claimed twice stays with the older. */
static int rejoin(fleet_node *n, const gv_fleet_node *node, int open, int lapsed)
{
    uint64_t epoch;
    int rc = gv_fleet_register(n->agent, node, &epoch);
    if (rc < 0)
        return rc;
    n->epoch = epoch;
    n->last_ok_ms = clock_mono_ms();
    int keep = 0;
    for (int i = 0; i < open; i++) {
        gv_fleet_placement p = {.size = sizeof p};
        if (lapsed && gv_fleet_locate(n->agent, n->now[i].name, n->now[i].len, &p) == 0 &&
            strcmp(p.node, n->id) != 0) {
            give_up(n, &n->now[i]);
            continue;
        }
        n->now[keep++] = n->now[i];
    }
    rc = gv_fleet_reclaim(n->agent, n->id, n->epoch, n->now, keep, n->lost);
    if (rc < 0)
        return rc;
    int moved = 0;
    for (int i = 0; i < keep; i++) {
        if (n->lost[i]) {
            give_up(n, &n->now[i]);
            continue;
        }
        n->now[moved++] = n->now[i];
    }
    char detail[64];
    snprintf(detail, sizeof detail, "%d lobbies kept, %d given up", moved, open - moved);
    say(n, "registered", NULL, detail);
    return moved;
}

/* One pass, about every third of the lease. */
static void pass(fleet_node *n)
{
    gv_fleet_node node;
    int open = survey(n, &node);
    int rc, rejoined = 0;
    if (!n->epoch) {
        rc = rejoin(n, &node, open, 0);
        rejoined = 1;
    } else {
        rc = gv_fleet_refresh(n->agent, &node, n->epoch);
        if (rc == 0)
            n->last_ok_ms = clock_mono_ms();
        if (rc == GV_ESTATE) {
            rc = rejoin(n, &node, open, clock_mono_ms() - n->last_ok_ms >= (uint64_t)n->lease_ms);
            rejoined = 1;
        }
    }
    if (rc < 0) {
        if (!atomic_load(&n->unreachable))
            say(n, "unreachable", NULL, gv_fleet_last_error(n->agent)[0] ? gv_fleet_last_error(n->agent)
                                                                        : gv_strerror(rc));
        atomic_store(&n->unreachable, 1);
        if (rc != GV_EIO)
            n->epoch = 0;
        return; /* the lobbies keep talking; the next pass tries again */
    }
    if (atomic_load(&n->unreachable) && n->epoch)
        say(n, "reachable", NULL, NULL);
    atomic_store(&n->unreachable, 0);
    if (rejoined)
        open = rc; /* rejoin kept these in n->now */
    if (atomic_load(&n->drain) && !n->drained) {
        say(n, "draining", NULL, NULL);
        open = send_away(n, open);
        n->drained = 1;
    }
    /* What closed since the last pass goes back to the fleet. */
    for (int i = 0; i < n->held_count; i++)
        if (!bsearch(&n->held[i], n->now, (size_t)open, sizeof *n->now, by_name))
            gv_fleet_release(n->agent, n->id, n->epoch, n->held[i].name, n->held[i].len);
    gv_fleet_lobby *t = n->held;
    n->held = n->now;
    n->now = t;
    n->held_count = open;
    if (++n->passes % PRUNE_EVERY_PASSES == 0)
        gv_fleet_prune(n->agent, n->id, n->epoch, n->all, n->all_count, UNUSED_PLACEMENT_MS);
}

static void *run(void *arg)
{
    fleet_node *n = arg;
    uint64_t period = (uint64_t)n->lease_ms / 3;
    while (!atomic_load(&n->stop)) {
        uint64_t start = clock_mono_ms();
        pass(n);
        while (!atomic_load(&n->stop) && clock_mono_ms() - start < period &&
               !(atomic_load(&n->drain) && !n->drained)) {
            struct timespec nap = {0, 20 * 1000000};
            nanosleep(&nap, NULL);
        }
    }
    return NULL;
}

static void destroy(fleet_node *n)
{
    gv_fleet_destroy(n->agent);
    gv_fleet_destroy(n->asker);
    pthread_mutex_destroy(&n->gate_lock);
    free(n->held);
    free(n->now);
    free(n->all);
    free(n->listed);
    free(n->lost);
    free(n);
}

int fleet_node_start(const fleet_node_config *cfg, gv_directory *dir, fleet_node **out)
{
    fleet_node *n = calloc(1, sizeof *n);
    if (!n || pthread_mutex_init(&n->gate_lock, NULL) != 0) {
        free(n);
        output_error(cfg->json, "out of memory");
        return EXIT_RUNTIME;
    }
    n->cfg = *cfg;
    n->dir = dir;
    n->max_lobbies = cfg->capacity_lobbies > 0 ? cfg->capacity_lobbies : 1;
    snprintf(n->advertise, sizeof n->advertise, "%s", cfg->advertise);
    snprintf(n->fingerprint, sizeof n->fingerprint, "%s", cfg->fingerprint);
    n->held = calloc((size_t)n->max_lobbies, sizeof *n->held);
    n->now = calloc((size_t)n->max_lobbies, sizeof *n->now);
    n->all = calloc((size_t)n->max_lobbies, sizeof *n->all);
    n->listed = calloc((size_t)n->max_lobbies, sizeof *n->listed);
    n->lost = calloc((size_t)n->max_lobbies, sizeof *n->lost);
    gv_fleet_config fc;
    gv_fleet_config_default(&fc);
    fc.redis_url = cfg->redis_url;
    n->lease_ms = fc.lease_ms;
    char why[512] = "";
    int rc = (!n->held || !n->now || !n->all || !n->listed || !n->lost) ? GV_ENOMEM : gv_fleet_node_id(n->id);
    if (rc == 0)
        rc = gv_fleet_create(&fc, &n->agent, why, sizeof why);
    if (rc == 0)
        rc = gv_fleet_create(&fc, &n->asker, why, sizeof why);
    if (rc < 0) {
        output_error(cfg->json, "cannot join the fleet: %s", why[0] ? why : gv_strerror(rc));
        destroy(n);
        return rc == GV_EINVAL || rc == GV_EAUTH ? EXIT_USAGE : EXIT_RUNTIME;
    }
    pass(n); /* registered before the first player comes */
    if (!n->epoch) {
        output_error(cfg->json, "cannot register with the fleet: %s", gv_fleet_last_error(n->agent));
        destroy(n);
        return EXIT_RUNTIME;
    }
    gv_directory_set_gate(dir, gate, n);
    if (pthread_create(&n->thread, NULL, run, n) != 0) {
        gv_directory_set_gate(dir, NULL, NULL);
        output_error(cfg->json, "cannot start the fleet's thread");
        destroy(n);
        return EXIT_RUNTIME;
    }
    n->running = 1;
    *out = n;
    return EXIT_OK;
}

void fleet_node_drain(fleet_node *n)
{
    if (n)
        atomic_store(&n->drain, 1);
}

void fleet_node_stop(fleet_node *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, 1);
    if (n->running)
        pthread_join(n->thread, NULL);
    if (n->epoch && gv_fleet_leave(n->agent, n->id, n->epoch) == 0)
        say(n, "left", NULL, NULL);
    gv_directory_set_gate(n->dir, NULL, NULL);
    destroy(n);
}
