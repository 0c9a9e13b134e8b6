/* gvoip-netem: a UDP impairment relay for loopback tests and benchmarks.
 * Command line, signals and the schedule file; the relay does the rest. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gvoip/error.h"
#include "netem_model.h"
#include "netem_relay.h"
#include "netem_schedule.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define MAX_SCHEDULE_BYTES (1 << 20)
#define HOST_MAX 256

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char c = 1;
    (void)!write(stop_pipe[1], &c, 1);
    errno = saved;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gvoip-netem --listen [HOST:]PORT --to HOST:PORT [options]\n"
            "Relays UDP between clients and one server, impairing each direction.\n"
            "\n"
            "impairments: --KEY VALUE sets both directions, --up-KEY (client to server)\n"
            "and --down-KEY (server to client) one; later options override earlier ones.\n"
            "  loss P            random loss, percent\n"
            "  burst-loss P      Gilbert bursty loss: stationary loss, percent\n"
            "  burst-len N       mean burst length, packets (default 3)\n"
            "  delay MS          constant delay\n"
            "  jitter MS         extra delay scale (see README.md)\n"
            "  jitter-dist D     uniform (default), normal, exp or pareto\n"
            "  jitter-shape A    pareto shape, > 1 (default 2.5)\n"
            "  reorder P         percent of packets held back by reorder-gap\n"
            "  reorder-gap MS    default 40\n"
            "  duplicate P       percent of packets sent twice\n"
            "  rate KBIT         bandwidth cap, kbit/s of UDP payload (0 = none)\n"
            "  queue-ms MS       drop-tail queue at the cap (default 100)\n"
            "other options:\n"
            "  --schedule FILE   conditions over time (see README.md)\n"
            "  --duration S      exit after S seconds\n"
            "  --seed N          PRNG seed (default 1)\n"
            "  --capture FILE    append every forwarded datagram: 'u'|'d', length (2 bytes BE), bytes\n"
            "  --stats FILE      also write the final stats line to FILE\n"
            "  --idle-timeout S  forget a silent client after S seconds (default 60)\n"
            "  --max-clients N   distinct client addresses at once (default 1024)\n"
            "  --rebind-at S     at S seconds give every client a new upstream port, as a NAT\n"
            "                    that lost its mappings; repeat for more (at most %d)\n"
            "  --blackout-every S  drop everything both ways for --blackout-s D seconds every S\n"
            "                    seconds; a line {\"event\":\"blackout\",...} as each starts and ends\n"
            "  --blackout-s D    how long each blackout lasts, less than S\n"
            "  --blackout-first F  the first blackout at F seconds (default S)\n"
            "  --keep-client-address  send to the server from each client's own address (a new\n"
            "                    port), not this host's: the server sees one address per client\n"
            "prints {\"event\":\"listening\",\"port\":N} when ready and a stats line at exit.\n",
            NETEM_RELAY_MAX_REBINDS);
}

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "gvoip-netem: %s%s%s\n", what, value ? ": " : "", value ? value : "");
    return EXIT_USAGE;
}

static int parse_number(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Splits "[HOST:]PORT" (HOST may be "[v6]") into host and port. */
static int parse_endpoint(const char *s, int need_host, char *host, size_t host_len, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    const char *p = colon ? colon + 1 : s;
    double v;
    if (parse_number(p, 0, 65535, &v) < 0 || v != floor(v))
        return -1;
    *port = (uint16_t)v;
    if (!colon)
        return need_host ? -1 : 0;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (!n || n >= host_len)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    int rc = GV_EIO;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        goto out;
    buf = malloc(MAX_SCHEDULE_BYTES + 1);
    if (!buf) {
        rc = GV_ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, MAX_SCHEDULE_BYTES + 1, f);
    if (ferror(f))
        goto out;
    if (n > MAX_SCHEDULE_BYTES) {
        rc = GV_ETOOBIG;
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    rc = GV_OK;
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

typedef struct options {
    netem_relay_config relay;
    char listen_host[HOST_MAX];
    char to_host[HOST_MAX];
    int have_listen, have_to;
    const char *schedule_path;
    const char *stats_path;
    double duration;
} options;

/* Returns -1 to go on, or an exit code. */
static int parse_options(int argc, char **argv, options *o)
{
    netem_relay_config_default(&o->relay);
    snprintf(o->listen_host, sizeof o->listen_host, "127.0.0.1");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strncmp(a, "--", 2) != 0)
            return bad("unexpected argument", a);
        if (!strcmp(a, "--keep-client-address")) {
            o->relay.keep_client_address = 1;
            continue;
        }
        if (i + 1 >= argc)
            return bad("missing value for", a);
        const char *v = argv[++i];
        const char *name = a + 2;
        double num;
        if (!strcmp(name, "listen")) {
            if (parse_endpoint(v, 0, o->listen_host, sizeof o->listen_host, &o->relay.listen_port) < 0)
                return bad("--listen takes [HOST:]PORT", v);
            o->have_listen = 1;
        } else if (!strcmp(name, "to")) {
            if (parse_endpoint(v, 1, o->to_host, sizeof o->to_host, &o->relay.to_port) < 0 || !o->relay.to_port)
                return bad("--to takes HOST:PORT", v);
            o->have_to = 1;
        } else if (!strcmp(name, "seed")) {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(v, &end, 10);
            if (!*v || *end || errno || *v == '-')
                return bad("--seed takes a non-negative integer", v);
            o->relay.seed = seed;
        } else if (!strcmp(name, "duration")) {
            if (parse_number(v, 0, 1e7, &num) < 0 || num <= 0)
                return bad("--duration takes a positive number of seconds", v);
            o->duration = num;
        } else if (!strcmp(name, "idle-timeout")) {
            if (parse_number(v, 0, 1e7, &num) < 0 || num <= 0)
                return bad("--idle-timeout takes a positive number of seconds", v);
            o->relay.idle_timeout_s = num;
        } else if (!strcmp(name, "max-clients")) {
            if (parse_number(v, 1, 65536, &num) < 0 || num != floor(num))
                return bad("--max-clients takes 1..65536", v);
            o->relay.max_clients = (size_t)num;
        } else if (!strcmp(name, "rebind-at")) {
            if (parse_number(v, 0, 1e7, &num) < 0 || num <= 0)
                return bad("--rebind-at takes a positive number of seconds", v);
            if (o->relay.rebind_count == NETEM_RELAY_MAX_REBINDS) {
                fprintf(stderr, "gvoip-netem: --rebind-at is allowed at most %d times\n", NETEM_RELAY_MAX_REBINDS);
                return EXIT_USAGE;
            }
            o->relay.rebind_at_s[o->relay.rebind_count++] = num;
        } else if (!strcmp(name, "blackout-every")) {
            if (parse_number(v, 0, 1e7, &num) < 0 || num <= 0)
                return bad("--blackout-every takes a positive number of seconds", v);
            o->relay.blackout_every_s = num;
        } else if (!strcmp(name, "blackout-first")) {
            if (parse_number(v, 0, 1e7, &num) < 0 || num <= 0)
                return bad("--blackout-first takes a positive number of seconds", v);
            o->relay.blackout_first_s = num;
        } else if (!strcmp(name, "blackout-s")) {
            if (parse_number(v, 0, 1e7, &num) < 0 || num <= 0)
                return bad("--blackout-s takes a positive number of seconds", v);
            o->relay.blackout_s = num;
        } else if (!strcmp(name, "schedule")) {
            o->schedule_path = v;
        } else if (!strcmp(name, "capture")) {
            o->relay.capture_path = v;
        } else if (!strcmp(name, "stats")) {
            o->stats_path = v;
        } else {
            int first = NETEM_UP, last = NETEM_DOWN;
            if (!strncmp(name, "up-", 3)) {
                name += 3;
                last = NETEM_UP;
            } else if (!strncmp(name, "down-", 5)) {
                name += 5;
                first = NETEM_DOWN;
            }
            for (int d = first; d <= last; d++) {
                int rc = netem_model_params_set(&o->relay.params[d], name, v);
                if (rc == GV_ENOTFOUND)
                    return bad("unknown option (see --help)", a);
                if (rc < 0) {
                    fprintf(stderr, "gvoip-netem: bad value for %s: %s\n", a, v);
                    return EXIT_USAGE;
                }
            }
        }
    }
    if (!o->have_listen || !o->have_to)
        return bad("--listen and --to are required (see --help)", NULL);
    if ((o->relay.blackout_every_s > 0) != (o->relay.blackout_s > 0) ||
        (o->relay.blackout_s > 0 && o->relay.blackout_s >= o->relay.blackout_every_s))
        return bad("--blackout-every S and --blackout-s D go together, with D < S", NULL);
    if (o->relay.blackout_first_s > 0 && !o->relay.blackout_every_s)
        return bad("--blackout-first needs --blackout-every", NULL);
    o->relay.events = stdout;
    for (int d = NETEM_UP; d <= NETEM_DOWN; d++)
        if (netem_model_params_check(&o->relay.params[d]) < 0)
            return bad("burst-loss P is out of reach of burst-len N: P must be at most 100 N / (N + 1)",
                       d == NETEM_UP ? "up" : "down");
    o->relay.listen_host = o->listen_host;
    o->relay.to_host = o->to_host;
    return -1;
}

static int load_schedule(const char *path, netem_schedule **out)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len);
    if (rc < 0) {
        fprintf(stderr, "gvoip-netem: cannot read %s: %s\n", path,
                rc == GV_ETOOBIG ? "larger than 1 MiB" : strerror(errno));
        return EXIT_USAGE;
    }
    int line = 0;
    char why[256] = "";
    rc = netem_schedule_parse(text, len, out, &line, why, sizeof why);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "gvoip-netem: %s:%d: %s\n", path, line, why[0] ? why : "cannot parse");
        return EXIT_USAGE;
    }
    return -1;
}

static int install_signals(void)
{
    if (pipe(stop_pipe) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int flags = fcntl(stop_pipe[i], F_GETFL);
        if (flags < 0 || fcntl(stop_pipe[i], F_SETFL, flags | O_NONBLOCK) < 0)
            return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static options o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0)
        return code;
    netem_schedule *schedule = NULL;
    netem_relay *relay = NULL;
    if (o.schedule_path && (code = load_schedule(o.schedule_path, &schedule)) >= 0)
        goto out;
    o.relay.schedule = schedule;
    code = EXIT_RUNTIME;
    if (install_signals() < 0) {
        fprintf(stderr, "gvoip-netem: cannot set up signals: %s\n", strerror(errno));
        goto out;
    }
    char why[512] = "";
    int rc = netem_relay_create(&o.relay, &relay, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "gvoip-netem: %s\n", why[0] ? why : "cannot start the relay");
        goto out;
    }
    printf("{\"event\":\"listening\",\"port\":%d}\n", netem_relay_port(relay));
    fflush(stdout);
    rc = netem_relay_run(relay, stop_pipe[0], o.duration);
    if (rc < 0)
        fprintf(stderr, "gvoip-netem: poll failed: %s\n", strerror(errno));
    code = rc < 0 ? EXIT_RUNTIME : EXIT_OK;
    netem_relay_write_stats(relay, stdout);
    if (o.stats_path) {
        FILE *f = fopen(o.stats_path, "w");
        if (!f || netem_relay_write_stats(relay, f) < 0) {
            fprintf(stderr, "gvoip-netem: cannot write %s\n", o.stats_path);
            code = EXIT_RUNTIME;
        }
        if (f)
            fclose(f);
    }
out:
    netem_relay_destroy(relay);
    netem_schedule_destroy(schedule);
    return code;
}
