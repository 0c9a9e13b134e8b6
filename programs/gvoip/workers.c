#include "workers.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet_node.h"
#include "metrics.h"
#include "options.h"
#include "output.h"
#include "stats.h"

/* How often a worker's figures are copied out for --metrics: a scrape
 * sees them at most this old. */
#define SNAPSHOT_INTERVAL_S 0.1

typedef struct worker {
    gv_server *server;
    pthread_t thread;
    int running; /* the thread was started */
    int json;
    atomic_int *stop; /* every worker's: set by the main thread, or by one whose network failed */
    int failed;
    double cpu_s; /* the thread's own CPU time when it stopped */
    /* --metrics: the server is the worker's alone, so the worker takes its
     * figures (taking) and copies them to shown, which the main thread
     * copies out; the lock is held for those copies only. */
    metrics_snapshot *taking, *shown; /* NULL: no metrics */
    pthread_mutex_t shown_lock;
    int has_lock;
    atomic_uint_least64_t relayed; /* its relayed packets, as of its last pass; for the fleet's load */
} worker;

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void publish(worker *w)
{
    metrics_snapshot_take(w->server, w->taking);
    pthread_mutex_lock(&w->shown_lock);
    memcpy(w->shown, w->taking, metrics_snapshot_size(w->taking));
    pthread_mutex_unlock(&w->shown_lock);
}

/* One worker's thread: its server's loop, and nothing shared but stdout
 * (whole lines), the directory (inside the library, at joins) and, with
 * --metrics, its figures. */
static void *serve(void *arg)
{
    worker *w = arg;
    double next_publish = 0;
    while (!atomic_load(w->stop)) {
        if (seconds_now() >= next_publish) {
            if (w->shown)
                publish(w);
            gv_server_stats st = {.size = sizeof st};
            if (gv_server_get_stats(w->server, &st) == 0)
                atomic_store(&w->relayed, st.relayed_packets);
            next_publish = seconds_now() + SNAPSHOT_INTERVAL_S;
        }
        gv_event ev = {.size = sizeof ev};
        int rc = gv_server_service(w->server, &ev, 10);
        if (rc < 0) {
            output_error(w->json, "network error: %s", gv_strerror(rc));
            w->failed = 1;
            atomic_store(w->stop, 1);
            break;
        }
        if (rc > 0)
            output_event(&ev, w->json);
    }
    if (w->shown)
        publish(w);
    clockid_t cpu;
    struct timespec ts;
    if (pthread_getcpuclockid(pthread_self(), &cpu) == 0 && clock_gettime(cpu, &ts) == 0)
        w->cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return NULL;
}

/* The workers' servers, each on its port; their LISTENING events become
 * one. An exit code. */
static int create_all(const gv_server_config *base, gv_directory *dir, worker *w, int n, int metrics_tcp, int json)
{
    int ports[GV_DIRECTORY_WORKERS_MAX];
    gv_event first = {.size = sizeof first};
    for (int i = 0; i < n; i++) {
        gv_server_config cfg = *base;
        cfg.directory = dir;
        cfg.worker = i;
        cfg.port = base->port ? (uint16_t)(base->port + i) : 0;
        char why[512];
        int rc = gv_server_create(&cfg, &w[i].server, why, sizeof why);
        if (rc < 0) {
            output_error(json, "cannot start the server (worker %d of %d): %s", i + 1, n,
                         why[0] ? why : gv_strerror(rc));
            return rc == GV_EKEY ? EXIT_USAGE : EXIT_RUNTIME;
        }
        gv_event ev = {.size = sizeof ev};
        /* A new server's first event is waiting: it returns at once. */
        if (gv_server_service(w[i].server, &ev, 0) == 1 && ev.type == GV_EVENT_LISTENING && i == 0)
            first = ev;
        ports[i] = gv_server_port(w[i].server);
    }
    output_listening(&first, ports, n, metrics_tcp, json);
    return EXIT_OK;
}

/* The signals that end the program reach the main thread, which sleeps
 * waiting for them; the workers never see them. */
static int start_all(worker *w, int n, atomic_int *stop, int json)
{
    sigset_t ending, old;
    sigemptyset(&ending);
    sigaddset(&ending, SIGINT);
    sigaddset(&ending, SIGTERM);
    sigaddset(&ending, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ending, &old);
    int code = EXIT_OK;
    for (int i = 0; i < n && code == EXIT_OK; i++) {
        w[i].json = json;
        w[i].stop = stop;
        int rc = pthread_create(&w[i].thread, NULL, serve, &w[i]);
        if (rc != 0) {
            output_error(json, "cannot start worker thread %d of %d: %s", i + 1, n, strerror(rc));
            code = EXIT_RUNTIME;
        } else {
            w[i].running = 1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return code;
}

/* A scrape's figures: each worker's latest copy. */
static void collect(void *ctx, metrics_snapshot *snaps, int n)
{
    worker *w = ctx;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w[i].shown_lock);
        memcpy(&snaps[i], w[i].shown, metrics_snapshot_size(w[i].shown));
        pthread_mutex_unlock(&w[i].shown_lock);
    }
}

/* The --metrics endpoint, and room for every worker's figures. An exit
 * code. */
static int open_metrics(worker *w, int n, const char *host, uint16_t port, int json, metrics **out)
{
    for (int i = 0; i < n; i++) {
        if (!(w[i].taking = malloc(sizeof *w[i].taking)) || !(w[i].shown = calloc(1, sizeof *w[i].shown))) {
            output_error(json, "out of memory");
            return EXIT_RUNTIME;
        }
        pthread_mutex_init(&w[i].shown_lock, NULL);
        w[i].has_lock = 1;
    }
    char why[512];
    int rc = metrics_open(host, port, n, collect, w, out, why, sizeof why);
    if (rc < 0) {
        output_error(json, "%s", why[0] ? why : gv_strerror(rc));
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

typedef struct workers_of {
    worker *w;
    int n;
} workers_of;

/* The fleet's figure of load: every worker's relayed packets so far. */
static uint64_t relayed_by_all(void *ctx)
{
    const workers_of *all = ctx;
    uint64_t sum = 0;
    for (int i = 0; i < all->n; i++)
        sum += atomic_load(&all->w[i].relayed);
    return sum;
}

/* The node joins the fleet once its servers listen: it advertises their
 * key, and their port unless it was told another. */
static int join_fleet(const workers_fleet *fleet, const gv_server_config *cfg, worker *w, workers_of *all,
                      gv_directory *dir, int json, fleet_node **out)
{
    char fingerprint[GV_FINGERPRINT_BYTES], advertise[300];
    gv_server_fingerprint(w[0].server, fingerprint, sizeof fingerprint);
    snprintf(advertise, sizeof advertise, "%s:%u", fleet->advertise_host,
             fleet->advertise_port ? (unsigned)fleet->advertise_port : (unsigned)gv_server_port(w[0].server));
    int players = cfg->max_lobbies * cfg->max_players;
    fleet_node_config fc = {
        .redis_url = fleet->redis_url,
        .advertise = advertise,
        .fingerprint = fingerprint,
        .capacity_players = players < 3900 ? players : 3900, /* what one server takes (gvoip.h) */
        .capacity_lobbies = cfg->max_lobbies,
        .json = json,
        .relayed = relayed_by_all,
        .relayed_ctx = all,
    };
    return fleet_node_start(&fc, dir, out);
}

int workers_run(const gv_server_config *cfg, int n, int json, double duration_s, const char *stats_file,
                const char *metrics_host, uint16_t metrics_tcp, const workers_fleet *fleet,
                volatile sig_atomic_t *quit)
{
    fleet_node *node = NULL;
    workers_of all;
    worker w[GV_DIRECTORY_WORKERS_MAX];
    gv_server *servers[GV_DIRECTORY_WORKERS_MAX];
    double cpu_s[GV_DIRECTORY_WORKERS_MAX];
    gv_directory *dir = NULL;
    metrics *m = NULL;
    atomic_int stop = 0;
    memset(w, 0, sizeof w);
    if (cfg->port && cfg->port + n - 1 > 65535) {
        output_error(json, "--port %u with --threads %d needs UDP ports %u..%d, past 65535", (unsigned)cfg->port, n,
                     (unsigned)cfg->port, cfg->port + n - 1);
        return EXIT_USAGE;
    }
    int rc = gv_directory_create(n, cfg->max_lobbies, &dir);
    if (rc < 0) {
        output_error(json, "cannot start the server: %s", gv_strerror(rc));
        return EXIT_RUNTIME;
    }
    int code = metrics_host ? open_metrics(w, n, metrics_host, metrics_tcp, json, &m) : EXIT_OK;
    if (code == EXIT_OK)
        code = create_all(cfg, dir, w, n, m ? metrics_port(m) : 0, json);
    all = (workers_of){.w = w, .n = n};
    if (code == EXIT_OK && fleet)
        code = join_fleet(fleet, cfg, w, &all, dir, json, &node);
    if (code == EXIT_OK)
        code = start_all(w, n, &stop, json);
    double end = duration_s > 0 ? seconds_now() + duration_s : 0;
    while (code == EXIT_OK && !*quit && !atomic_load(&stop) && (!end || seconds_now() < end)) {
        struct pollfd fds[METRICS_POLLFDS];
        int nfds = m ? metrics_pollfds(m, fds) : 0;
        poll(fds, (nfds_t)nfds, 20); /* a signal cuts it short */
        if (m)
            metrics_poll(m);
    }
    /* Draining: the lobbies go to other nodes, their players with them,
     * while the workers still serve them. */
    if (node && fleet->drain_s > 0 && code == EXIT_OK && !atomic_load(&stop)) {
        fleet_node_drain(node);
        double until = seconds_now() + fleet->drain_s;
        int players = 1;
        while (players > 0 && seconds_now() < until && !atomic_load(&stop)) {
            poll(NULL, 0, 50);
            gv_directory_list(dir, NULL, 0, &players, NULL);
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < n; i++) {
        if (w[i].running)
            pthread_join(w[i].thread, NULL);
        if (w[i].failed && code == EXIT_OK)
            code = EXIT_RUNTIME;
        servers[i] = w[i].server;
        cpu_s[i] = w[i].cpu_s;
    }
    /* Then the node leaves: the fleet places its lobbies elsewhere at
     * once, not when its lease lapses; no worker asks the gate any more. */
    fleet_node_stop(node);
    if (m) {
        /* A scrape already asked gets the workers' last figures (each
         * copied its own at its end), and /healthz says we are stopping. */
        metrics_stopping(m);
        metrics_poll(m);
    }
    /* Every worker ran until the end: the file has all of them. */
    if (stats_file && w[n - 1].running && stats_write_workers(stats_file, servers, cpu_s, n) != 0 &&
        code == EXIT_OK)
        code = EXIT_RUNTIME;
    for (int i = 0; i < n; i++) {
        gv_server_destroy(w[i].server);
        if (w[i].has_lock)
            pthread_mutex_destroy(&w[i].shown_lock);
        free(w[i].taking);
        free(w[i].shown);
    }
    metrics_close(m);
    gv_directory_destroy(dir);
    return code;
}
