#include "workers.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "options.h"
#include "output.h"
#include "stats.h"

typedef struct worker {
    gv_server *server;
    pthread_t thread;
    int running; /* the thread was started */
    int json;
    atomic_int *stop; /* every worker's: set by the main thread, or by one whose network failed */
    int failed;
    double cpu_s; /* the thread's own CPU time when it stopped */
} worker;

/* One worker's thread: its server's loop, and nothing shared but stdout
 * (whole lines) and the directory (inside the library, at joins). */
static void *serve(void *arg)
{
    worker *w = arg;
    while (!atomic_load(w->stop)) {
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
    clockid_t cpu;
    struct timespec ts;
    if (pthread_getcpuclockid(pthread_self(), &cpu) == 0 && clock_gettime(cpu, &ts) == 0)
        w->cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return NULL;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The workers' servers, each on its port; their LISTENING events become
 * one. An exit code. */
static int create_all(const gv_server_config *base, gv_directory *dir, worker *w, int n, int json)
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
    output_listening(&first, ports, n, json);
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

int workers_run(const gv_server_config *cfg, int n, int json, double duration_s, const char *stats_file,
                volatile sig_atomic_t *quit)
{
    worker w[GV_DIRECTORY_WORKERS_MAX];
    gv_server *servers[GV_DIRECTORY_WORKERS_MAX];
    double cpu_s[GV_DIRECTORY_WORKERS_MAX];
    gv_directory *dir = NULL;
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
    int code = create_all(cfg, dir, w, n, json);
    if (code == EXIT_OK)
        code = start_all(w, n, &stop, json);
    double end = duration_s > 0 ? seconds_now() + duration_s : 0;
    while (code == EXIT_OK && !*quit && !atomic_load(&stop) && (!end || seconds_now() < end))
        poll(NULL, 0, 20); /* a signal cuts it short */
    atomic_store(&stop, 1);
    for (int i = 0; i < n; i++) {
        if (w[i].running)
            pthread_join(w[i].thread, NULL);
        if (w[i].failed && code == EXIT_OK)
            code = EXIT_RUNTIME;
        servers[i] = w[i].server;
        cpu_s[i] = w[i].cpu_s;
    }
    /* Every worker ran until the end: the file has all of them. */
    if (stats_file && w[n - 1].running && stats_write_workers(stats_file, servers, cpu_s, n) != 0 &&
        code == EXIT_OK)
        code = EXIT_RUNTIME;
    for (int i = 0; i < n; i++)
        gv_server_destroy(w[i].server);
    gv_directory_destroy(dir);
    return code;
}
