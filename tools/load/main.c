/* gvoip-load: simulated players against one gvoip server, driven from one
 * thread; prints one JSON object with what was sent, received and lost,
 * the relay latency, and the attacks' outcomes. See README.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>


#include "gvoip/gvoip.h"
#include "load_opts.h"
#include "load_rogue.h"
#include "load_storm.h"
#include "load_swarm.h"

#define SETTLE_US 500000u /* after the last join, for the roster messages to land */
#define DRAIN_US 500000u  /* after the last send, for the last relays to land */
#define ROGUE_INTERVAL_US 50000u
#define STORM_TICK_US 2000u

enum rogue_slot { ROGUE_MALFORMED, ROGUE_IMPERSONATE, ROGUE_LONG_NAME, ROGUE_COUNT };

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* utime + stime of a process, in seconds, from /proc/PID/stat. */
static double process_cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    /* After the command name: state and ten more fields, then utime, stime. */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double own_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* The storm needs a socket per address. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void print_string(const char *text)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

static void print_rogue(const char *key, const load_rogue *r)
{
    load_rogue_report rep;
    if (!r) {
        printf(",\"%s\":null", key);
        return;
    }
    load_rogue_get_report(r, &rep);
    printf(",\"%s\":{\"joined\":%s,\"hostile_sent\":%llu,\"removed\":%s,\"removed_after_s\":%.3f,\"refuse_code\":%d}",
           key, rep.joined ? "true" : "false", (unsigned long long)rep.hostile_sent, rep.removed ? "true" : "false",
           rep.removed_after_s, rep.refused);
}

static void print_json(const load_opts *o, const load_swarm_report *r, double seconds, load_rogue *const *rogues,
                       const load_storm *storm, double server_cpu, double own_cpu)
{
    printf("{\"players\":%d,\"speakers\":%d,\"seconds\":%.3f,\"joined\":%d,\"join_s\":%.3f,\"removed\":%d,"
           "\"frame_ms\":%d,\"payload_bytes\":%d,",
           r->players, r->speakers, seconds, r->joined, r->join_s, r->removed, o->frame_ms, o->payload_bytes);
    printf("\"sent\":%llu,\"received\":%llu,\"expected\":%llu,\"lost_seq\":%llu,\"loss_pct\":%.4f,"
           "\"worst_loss_pct\":%.4f,",
           (unsigned long long)r->sent, (unsigned long long)r->received, (unsigned long long)r->expected,
           (unsigned long long)r->lost_seq, r->loss_pct, r->worst_loss_pct);
    printf("\"latency_ms\":{\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f},", r->p50_ms, r->p95_ms, r->p99_ms,
           r->max_ms);
    int full = (int)o->duration_s;
    if (full > r->rate_seconds)
        full = r->rate_seconds;
    uint64_t total = 0;
    printf("\"forward_rate\":[");
    for (int i = 0; i < full; i++) {
        printf("%s%llu", i ? "," : "", (unsigned long long)r->rate[i]);
        total += r->rate[i];
    }
    printf("],\"forward_rate_mean\":%.1f", full ? (double)total / full : 0.0);
    if (server_cpu >= 0) {
        uint64_t forwarded = 0;
        for (int i = 0; i < r->rate_seconds; i++)
            forwarded += r->rate[i];
        printf(",\"server_cpu_s\":%.3f,\"server_cpu_us_per_forwarded\":%.3f", server_cpu,
               forwarded ? server_cpu * 1e6 / (double)forwarded : 0.0);
    }
    printf(",\"load_cpu_s\":%.3f", own_cpu);
    if (o->flood_factor > 0) {
        printf(",\"flood\":{\"factor\":%.2f,\"joined\":%s,\"sent\":%llu,\"relayed\":%llu,\"removed\":%s,"
               "\"removed_after_s\":%.3f,\"reason\":",
               o->flood_factor, r->flooder_joined ? "true" : "false", (unsigned long long)r->flood_sent,
               (unsigned long long)r->flood_received, r->flooder_removed ? "true" : "false",
               r->flooder_removed_after_s);
        print_string(r->flooder_removed ? r->flooder_reason : "");
        putchar('}');
    }
    printf(",\"impostor_received\":%llu", (unsigned long long)r->impostor_received);
    if (o->malformed) {
        print_rogue("malformed", rogues[ROGUE_MALFORMED]);
        print_rogue("long_name", rogues[ROGUE_LONG_NAME]);
    }
    if (o->impersonate)
        print_rogue("impersonator", rogues[ROGUE_IMPERSONATE]);
    if (storm) {
        load_storm_report s;
        load_storm_get_report(storm, &s);
        printf(",\"storm\":{\"addresses\":%d,\"attempts\":%llu,\"established\":%llu,\"dropped\":%llu,"
               "\"cookies\":%llu}",
               s.addresses, (unsigned long long)s.attempts, (unsigned long long)s.established,
               (unsigned long long)s.dropped, (unsigned long long)s.cookies);
    }
    printf("}\n");
    fflush(stdout);
}

static int create_rogues(const load_opts *o, load_rogue **rogues)
{
    const char *pw = getenv("GVOIP_PASSWORD");
    size_t pw_len = pw ? strlen(pw) : 0;
    static const struct {
        int slot;
        load_rogue_kind kind;
        const char *name;
    } plan[] = {{ROGUE_MALFORMED, LOAD_ROGUE_MALFORMED, "rogue"},
                {ROGUE_LONG_NAME, LOAD_ROGUE_LONG_NAME, "long"},
                {ROGUE_IMPERSONATE, LOAD_ROGUE_IMPERSONATE, "impostor"}};
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        int wanted = plan[i].kind == LOAD_ROGUE_IMPERSONATE ? o->impersonate : o->malformed;
        if (!wanted)
            continue;
        int rc = load_rogue_create(plan[i].kind, o->host, o->port, plan[i].name, (const uint8_t *)pw, pw_len,
                                   &rogues[plan[i].slot]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int run(const load_opts *o)
{
    int code = 1;
    load_swarm *sw = NULL;
    load_storm *storm = NULL;
    load_rogue *rogues[ROGUE_COUNT] = {NULL};
    double server_cpu = -1, own_cpu = 0;
    if (load_swarm_create(o, &sw) != 0) {
        fprintf(stderr, "gvoip-load: out of memory\n");
        goto out;
    }
    if (o->storm) {
        if (load_storm_create(o->host, o->port, o->storm, o->storm_rate, o->storm_mode, &storm) != 0) {
            fprintf(stderr, "gvoip-load: cannot bind %d storm addresses (127.0.x.y)\n", o->storm);
            goto out;
        }
    }
    if (create_rogues(o, rogues) != 0) {
        fprintf(stderr, "gvoip-load: cannot create the hostile clients\n");
        goto out;
    }

    uint64_t now = load_now_us();
    uint64_t join_deadline = now + (uint64_t)(o->join_timeout_s * 1e6);
    int rc;
    while ((rc = load_swarm_join(sw, now)) == 0 && !stop_requested) {
        if (now > join_deadline) {
            rc = -1;
            break;
        }
        load_swarm_tick(sw, now, 1);
        for (int i = 0; i < ROGUE_COUNT; i++)
            load_rogue_service(rogues[i], now);
        load_swarm_wait(sw, now + 2000);
        now = load_now_us();
    }
    if (rc < 0) {
        fprintf(stderr, "gvoip-load: not every player could join within %.0f s\n", o->join_timeout_s);
        goto out;
    }
    uint64_t settle = o->players || o->malformed || o->impersonate ? SETTLE_US : 0;
    for (uint64_t until = now + settle; now < until && !stop_requested; now = load_now_us()) {
        load_swarm_tick(sw, now, 1);
        for (int i = 0; i < ROGUE_COUNT; i++)
            load_rogue_service(rogues[i], now);
        load_swarm_wait(sw, now + 2000);
    }

    double cpu0 = o->server_pid ? process_cpu_s(o->server_pid) : -1;
    double own0 = own_cpu_s();
    uint64_t start = load_now_us(), end = start + (uint64_t)(o->duration_s * 1e6);
    uint64_t next_rogue = start, next_storm = start;
    load_swarm_start(sw, start);
    for (now = start; now < end + DRAIN_US && !stop_requested; now = load_now_us()) {
        int sending = now < end;
        uint64_t next = load_swarm_tick(sw, now, !sending);
        if (now >= next_rogue) {
            for (int i = 0; i < ROGUE_COUNT; i++) {
                load_rogue_service(rogues[i], now);
                if (sending)
                    load_rogue_attack(rogues[i], load_swarm_player_id(sw, 0), now);
            }
            next_rogue += ROGUE_INTERVAL_US;
        }
        if (storm && sending && now >= next_storm) {
            load_storm_run(storm, now);
            next_storm = now + STORM_TICK_US;
        }
        if (storm && sending && next > next_storm)
            next = next_storm;
        if (next > next_rogue)
            next = next_rogue;
        load_swarm_wait(sw, next);
    }
    for (int i = 0; i < ROGUE_COUNT; i++)
        load_rogue_service(rogues[i], now);
    if (cpu0 >= 0) {
        double cpu1 = process_cpu_s(o->server_pid);
        server_cpu = cpu1 >= 0 ? cpu1 - cpu0 : -1;
    }
    own_cpu = own_cpu_s() - own0;

    load_swarm_report rep;
    load_swarm_get_report(sw, &rep);
    print_json(o, &rep, (double)(end - start) / 1e6, rogues, storm, server_cpu, own_cpu);
    code = 0;
out:
    for (int i = 0; i < ROGUE_COUNT; i++)
        load_rogue_destroy(rogues[i]);
    load_storm_destroy(storm);
    load_swarm_destroy(sw);
    return code;
}

int main(int argc, char **argv)
{
    load_opts o;
    int rc = load_opts_parse(&o, argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (gv_init() != 0) {
        fprintf(stderr, "gvoip-load: cannot initialise the library\n");
        return 1;
    }
    raise_fd_limit();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    return run(&o);
}
