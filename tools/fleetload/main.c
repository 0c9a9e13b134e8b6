/* gvoip-fleetload: how fast a fleet places lobbies (bench/sections/87-fleet.sh).
 *
 * T threads, each with a gv_fleet connection of its own as each process
 * of a game's backend has, call gv_fleet_allocate for N lobby names of
 * their own that nobody placed yet (every call runs the placement), then
 * for the same N names again (every call finds the placement: the path of
 * each later join and of a backend asking twice). The threads start each
 * phase together, so the throughput is of T callers at once against one
 * Redis. One JSON object on stdout: per phase the calls, their wall time,
 * allocations a second, this process's CPU, and the per-call latency
 * percentiles; then where the new lobbies went. --phase runs one phase
 * alone, so that what Redis spends on each can be read apart. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gvoip/error.h"
#include "gvoip/fleet.h"

#define REDIS_URL_ENV "GVOIP_REDIS_URL"
#define MAX_THREADS 64
#define MAX_LOBBIES 1000000
/* More distinct nodes than this are lumped together in the spread: a
 * benchmark's fleet is a handful. */
#define MAX_NODES 16

enum { PHASE_NEW, PHASE_PLACED, PHASES };
static const char *const phase_name[PHASES] = {"new", "placed"};

typedef struct options {
    const char *redis_url;
    const char *prefix;
    const char *name;
    uint32_t protocol;
    int threads;
    int lobbies;
    int first, last; /* the phases to run, PHASE_NEW..PHASE_PLACED */
} options;

typedef struct node_count {
    char address[GV_FLEET_ADDRESS_BYTES];
    long count;
} node_count;

typedef struct caller {
    const options *opt;
    int index;
    pthread_barrier_t *start;
    uint64_t *ns[PHASES];     /* this thread's slice of each phase's samples */
    long errors[PHASES];
    long unexpected[PHASES]; /* placed_now not what the phase implies */
    char why[256];           /* the first failure */
    node_count nodes[MAX_NODES + 1]; /* the last entry: every other node */
    int node_count;
} caller;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static void count_node(caller *c, const char *address)
{
    int i = 0;
    while (i < c->node_count && strcmp(c->nodes[i].address, address))
        i++;
    if (i == c->node_count && i < MAX_NODES)
        snprintf(c->nodes[c->node_count++].address, sizeof c->nodes[0].address, "%s", address);
    c->nodes[i].count++;
}

static void phase(caller *c, gv_fleet *f, int which)
{
    char lobby[GV_FLEET_LOBBY_MAX + 1];
    for (int i = 0; i < c->opt->lobbies; i++) {
        int len = snprintf(lobby, sizeof lobby, "%s%d-%d", c->opt->name, c->index, i);
        gv_fleet_placement p = {.size = sizeof p};
        uint64_t t0 = mono_ns();
        int rc = f ? gv_fleet_allocate(f, lobby, (size_t)len, c->opt->protocol, &p) : GV_EIO;
        c->ns[which][i] = mono_ns() - t0;
        if (rc < 0) {
            if (!c->errors[PHASE_NEW] && !c->errors[PHASE_PLACED] && f)
                snprintf(c->why, sizeof c->why, "%s: %s", gv_strerror(rc), gv_fleet_last_error(f));
            c->errors[which]++;
            continue;
        }
        if (p.placed_now != (which == PHASE_NEW))
            c->unexpected[which]++;
        if (which == PHASE_NEW)
            count_node(c, p.address);
    }
}

/* A thread that could not connect still meets the others at each start,
 * or they would wait for it forever; its calls all count as errors. */
static void *run(void *arg)
{
    caller *c = arg;
    gv_fleet_config cfg;
    gv_fleet_config_default(&cfg);
    cfg.redis_url = c->opt->redis_url;
    cfg.prefix = c->opt->prefix;
    gv_fleet *f;
    (void)gv_fleet_create(&cfg, &f, c->why, sizeof c->why); /* failed: f is NULL, why says why */
    for (int which = c->opt->first; which <= c->opt->last; which++) {
        pthread_barrier_wait(c->start);
        phase(c, f, which);
    }
    pthread_barrier_wait(c->start);
    gv_fleet_destroy(f);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank, in microseconds, of sorted samples. */
static double percentile_us(const uint64_t *sorted, size_t n, double p)
{
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)sorted[k - 1] / 1000.0;
}

static int usage(const char *what, const char *value)
{
    FILE *out = what ? stderr : stdout; /* asked for with --help: not an error */
    if (what)
        fprintf(stderr, "gvoip-fleetload: %s: '%s'\n", what, value ? value : "");
    fprintf(out, "usage: gvoip-fleetload [--redis URL] [--threads T] [--lobbies N] [--name PREFIX]\n"
                    "                       [--prefix KEYPREFIX] [--protocol N] [--phase new|placed|both]\n"
                    "  URL from --redis or " REDIS_URL_ENV " (a password only there); T 1..%d (default 1);\n"
                    "  N new lobbies per thread, 1..%d (default 1000), named PREFIX<thread>-<i>\n"
                    "  (PREFIX default \"fleetload-\"); KEYPREFIX as gvoip allocate --prefix. --phase: only\n"
                    "  the new placements, or only the lookups of names a run with the same --name placed\n"
                    "  (so that what Redis spends on each can be read apart); default both.\n",
            MAX_THREADS, MAX_LOBBIES);
    return 2;
}

static int number(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

/* As gvoip allocate: the user information of redis://USER:PASS@ is
 * readable by every local user in argv. */
static int has_password(const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    const char *at = strchr(auth, '@');
    return at && (size_t)(at - auth) < strcspn(auth, "/?#");
}

static int parse(int argc, char **argv, options *opt)
{
    *opt = (options){.prefix = GV_FLEET_DEFAULT_PREFIX, .name = "fleetload-", .threads = 1, .lobbies = 1000,
                     .first = PHASE_NEW, .last = PHASE_PLACED};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(NULL, NULL);
            return -1;
        }
        if (i + 1 >= argc)
            return usage("option needs a value or is unknown", a);
        const char *v = argv[++i];
        long n;
        if (!strcmp(a, "--redis"))
            opt->redis_url = v;
        else if (!strcmp(a, "--prefix"))
            opt->prefix = v;
        else if (!strcmp(a, "--name"))
            opt->name = v;
        else if (!strcmp(a, "--threads") && number(v, 1, MAX_THREADS, &n) == 0)
            opt->threads = (int)n;
        else if (!strcmp(a, "--lobbies") && number(v, 1, MAX_LOBBIES, &n) == 0)
            opt->lobbies = (int)n;
        else if (!strcmp(a, "--protocol") && number(v, 0, INT32_MAX, &n) == 0)
            opt->protocol = (uint32_t)n;
        else if (!strcmp(a, "--phase") && !strcmp(v, "new"))
            opt->last = PHASE_NEW;
        else if (!strcmp(a, "--phase") && !strcmp(v, "placed"))
            opt->first = PHASE_PLACED;
        else if (!strcmp(a, "--phase") && !strcmp(v, "both"))
            opt->first = PHASE_NEW, opt->last = PHASE_PLACED;
        else
            return usage("unknown option or value out of range", a);
    }
    if (opt->redis_url && has_password(opt->redis_url))
        return usage("a password is taken only from " REDIS_URL_ENV, "--redis");
    if (!opt->redis_url && !(opt->redis_url = getenv(REDIS_URL_ENV)))
        return usage("needs --redis URL or " REDIS_URL_ENV, "");
    /* The longest name: PREFIX, two thread digits, '-', six lobby digits. */
    if (strlen(opt->name) + 9 > GV_FLEET_LOBBY_MAX)
        return usage("--name is too long for a lobby name of 64 bytes", opt->name);
    return 0;
}

static void print_phase(int which, caller *callers, int threads, uint64_t *all, size_t n, double wall_s,
                        double cpu)
{
    long errors = 0, unexpected = 0;
    for (int t = 0; t < threads; t++) {
        errors += callers[t].errors[which];
        unexpected += callers[t].unexpected[which];
    }
    qsort(all, n, sizeof *all, by_value);
    printf("\"%s\":{\"calls\":%zu,\"errors\":%ld,\"unexpected\":%ld,\"wall_s\":%.3f,\"per_s\":%.0f,\"cpu_s\":%.3f,"
           "\"latency_us\":{\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f,\"max\":%.1f}}",
           phase_name[which], n, errors, unexpected, wall_s, wall_s > 0 ? (double)n / wall_s : 0, cpu,
           percentile_us(all, n, 50), percentile_us(all, n, 95), percentile_us(all, n, 99),
           percentile_us(all, n, 100));
}

/* Every thread's spread of new lobbies over the nodes, added up. */
static void print_nodes(const caller *callers, int threads)
{
    node_count total[MAX_NODES + 1];
    int count = 0;
    memset(total, 0, sizeof total);
    for (int t = 0; t < threads; t++) {
        const caller *c = &callers[t];
        for (int i = 0; i < c->node_count; i++) {
            int j = 0;
            while (j < count && strcmp(total[j].address, c->nodes[i].address))
                j++;
            if (j == count && count == MAX_NODES)
                j = MAX_NODES;
            else if (j == count)
                snprintf(total[count++].address, sizeof total[0].address, "%s", c->nodes[i].address);
            total[j].count += c->nodes[i].count;
        }
        total[MAX_NODES].count += c->nodes[MAX_NODES].count;
    }
    printf("\"nodes\":{");
    for (int j = 0; j < count; j++)
        printf("%s\"%s\":%ld", j ? "," : "", total[j].address, total[j].count);
    if (total[MAX_NODES].count)
        printf("%s\"others\":%ld", count ? "," : "", total[MAX_NODES].count);
    printf("}");
}

int main(int argc, char **argv)
{
    options opt;
    int rc = parse(argc, argv, &opt);
    if (rc != 0)
        return rc < 0 ? 0 : rc; /* -1: the help was asked for */
    size_t per = (size_t)opt.lobbies, n = per * (size_t)opt.threads;
    uint64_t *samples[PHASES] = {calloc(n, sizeof(uint64_t)), calloc(n, sizeof(uint64_t))};
    caller *callers = calloc((size_t)opt.threads, sizeof *callers);
    pthread_t *tids = calloc((size_t)opt.threads, sizeof *tids);
    pthread_barrier_t start;
    if (!samples[PHASE_NEW] || !samples[PHASE_PLACED] || !callers || !tids ||
        pthread_barrier_init(&start, NULL, (unsigned)opt.threads + 1) != 0) {
        fprintf(stderr, "gvoip-fleetload: out of memory\n");
        return 1;
    }
    for (int t = 0; t < opt.threads; t++) {
        callers[t] = (caller){.opt = &opt, .index = t, .start = &start};
        for (int p = 0; p < PHASES; p++)
            callers[t].ns[p] = samples[p] + per * (size_t)t;
        if (pthread_create(&tids[t], NULL, run, &callers[t]) != 0) {
            fprintf(stderr, "gvoip-fleetload: cannot start thread %d\n", t);
            return 1; /* the others would wait for it forever at the barrier: exiting ends them */
        }
    }
    double wall[PHASES], cpu[PHASES];
    pthread_barrier_wait(&start); /* connected: the first phase starts */
    for (int p = opt.first; p <= opt.last; p++) {
        uint64_t t0 = mono_ns();
        double c0 = cpu_s();
        pthread_barrier_wait(&start);
        wall[p] = (double)(mono_ns() - t0) / 1e9;
        cpu[p] = cpu_s() - c0;
    }
    for (int t = 0; t < opt.threads; t++)
        pthread_join(tids[t], NULL);

    printf("{\"threads\":%d,\"lobbies_per_thread\":%d,", opt.threads, opt.lobbies);
    for (int p = opt.first; p <= opt.last; p++) {
        print_phase(p, callers, opt.threads, samples[p], n, wall[p], cpu[p]);
        printf(p < opt.last || opt.first == PHASE_NEW ? "," : "");
    }
    if (opt.first == PHASE_NEW)
        print_nodes(callers, opt.threads);
    printf("}\n");

    int failed = 0;
    for (int t = 0; t < opt.threads; t++)
        if (callers[t].errors[PHASE_NEW] || callers[t].errors[PHASE_PLACED] || callers[t].unexpected[PHASE_NEW] ||
            callers[t].unexpected[PHASE_PLACED]) {
            if (!failed && callers[t].why[0])
                fprintf(stderr, "gvoip-fleetload: thread %d: %s\n", t, callers[t].why);
            failed = 1;
        }
    if (failed)
        fprintf(stderr, "gvoip-fleetload: calls failed, or a new lobby was found placed or a placed one new\n");
    pthread_barrier_destroy(&start);
    free(samples[PHASE_NEW]);
    free(samples[PHASE_PLACED]);
    free(callers);
    free(tids);
    return failed ? 1 : 0;
}
