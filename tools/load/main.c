/* gvoip-load: simulated players against one gvoip server, driven from one
 * thread; prints one JSON object with what was sent, received and lost,
 * the relay latency, and the attacks' outcomes. Exits 1 when the run
 * could not be made, 3 when voice crossed from one lobby into another.
 * See README.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gvoip/gvoip.h"
#include "load_churn.h"
#include "load_opts.h"
#include "load_proc.h"
#include "load_rogue.h"
#include "load_storm.h"
#include "load_swarm.h"

#define SETTLE_US 500000u /* after the last join, for the roster messages to land */
#define DRAIN_US 500000u  /* after the last send, for the last relays to land */
/* An interval is reported this long after its end: its last packets have
 * landed and an outage that began in it has been found (a second). */
#define REPORT_DELAY_US 1500000u
#define ROGUE_INTERVAL_US 50000u
#define STORM_TICK_US 2000u

enum rogue_slot { ROGUE_MALFORMED, ROGUE_IMPERSONATE, ROGUE_LONG_NAME, ROGUE_COUNT };

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
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

static void print_latency(const char *key, double p50, double p95, double p99, double max)
{
    printf("\"%s\":{\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f}", key, p50, p95, p99, max);
}

/* Joins and leaves, and what became of the sessions: every run has them,
 * churn and soak runs look at them. */
static void print_sessions(const load_swarm_report *r)
{
    printf(",\"stable\":%d,\"roster_ok\":%d,\"joins\":{\"count\":%llu,\"failures\":%llu,\"timeouts\":%llu,"
           "\"refused\":%llu,\"p50_ms\":%.2f,\"p95_ms\":%.2f,\"max_ms\":%.2f},\"leave_ms\":{\"p50\":%.2f,"
           "\"max\":%.2f}",
           r->stable, r->roster_ok, (unsigned long long)r->joins, (unsigned long long)r->join_failures,
           (unsigned long long)r->join_timeouts, (unsigned long long)r->join_refusals, r->join_p50_ms, r->join_p95_ms, r->join_max_ms, r->leave_p50_ms,
           r->leave_max_ms);
    printf(",\"sessions\":{\"interrupted\":%llu,\"restored\":%llu,\"reconnecting\":%llu,\"resumed\":%llu,"
           "\"fresh\":%llu,\"id_changed\":%llu,\"others_back\":%llu,\"same_ids\":%d,"
           "\"player_resumes\":{\"min\":%d,\"max\":%d},\"outage_s\":%.1f,"
           "\"longest_outage_s\":%.3f,\"outside_expected\":%llu,\"outside_received\":%llu,"
           "\"loss_outside_pct\":%.4f}",
           (unsigned long long)r->interrupted, (unsigned long long)r->restored, (unsigned long long)r->reconnecting,
           (unsigned long long)r->resumed, (unsigned long long)r->fresh, (unsigned long long)r->id_changed,
           (unsigned long long)r->others_back, r->same_ids, r->player_resumes_min, r->player_resumes_max,
           r->outage_s, r->longest_outage_s,
           (unsigned long long)r->outside_expected, (unsigned long long)r->outside_received, r->loss_outside_pct);
}

static void print_json(const load_opts *o, const load_swarm_report *r, double seconds, load_rogue *const *rogues,
                       const load_storm *storm, double server_cpu, double own_cpu, const load_churn *churn,
                       const load_server_sample *server)
{
    printf("{\"players\":%d,\"speakers\":%d,\"seconds\":%.3f,\"joined\":%d,\"join_s\":%.3f,\"removed\":%d,"
           "\"frame_ms\":%d,\"payload_bytes\":%d,",
           r->players, r->speakers, seconds, r->joined, r->join_s, r->removed, o->frame_ms, o->payload_bytes);
    printf("\"sent\":%llu,\"received\":%llu,\"expected\":%llu,\"lost_seq\":%llu,\"loss_pct\":%.4f,"
           "\"worst_loss_pct\":%.4f,",
           (unsigned long long)r->sent, (unsigned long long)r->received, (unsigned long long)r->expected,
           (unsigned long long)r->lost_seq, r->loss_pct, r->worst_loss_pct);
    printf("\"lobbies\":%d,\"foreign_packets\":%llu,\"worst_lobby_loss_pct\":%.4f,\"lobby_loss_pct\":[", r->lobbies,
           (unsigned long long)r->foreign, r->worst_lobby_loss_pct);
    for (int i = 0; i < r->lobbies; i++)
        printf("%s%.4f", i ? "," : "", r->lobby_loss_pct[i]);
    printf("],");
    print_latency("latency_ms", r->p50_ms, r->p95_ms, r->p99_ms, r->max_ms);
    putchar(',');
    /* A churn or a soak outlasts what a per-second list is read for. */
    int full = o->churn || o->report_every_s > 0 ? 0 : (int)o->duration_s;
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
    print_sessions(r);
    if (server->rss_kb >= 0 || server->players >= 0)
        printf(",\"server\":{\"rss_kb\":%ld,\"fds\":%d,\"players\":%d}", server->rss_kb, server->fds,
               server->players);
    if (churn)
        load_churn_print(churn);
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

/* The hostile clients join the first lobby: the impersonator's victim,
 * the first player, is there. */
static int create_rogues(const load_opts *o, load_rogue **rogues)
{
    const char *pw = getenv("GVOIP_PASSWORD");
    size_t pw_len = pw ? strlen(pw) : 0;
    char lobby[GV_LOBBY_NAME_BYTES];
    load_swarm_lobby_name(o, 0, lobby);
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
        int rc = load_rogue_create(plan[i].kind, o->host, o->port, plan[i].name, lobby, (const uint8_t *)pw,
                                   pw_len, &rogues[plan[i].slot]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One line per --report-every seconds of traffic, as the run goes. */
static void print_interval(load_swarm *sw, int index, uint64_t now, int server_pid, load_events *events)
{
    load_interval in;
    load_swarm_report r;
    load_server_sample server;
    load_swarm_interval(sw, index, now, &in);
    load_swarm_get_report(sw, &r);
    load_server_sample_take(server_pid, events, &server);
    printf("{\"event\":\"interval\",\"interval\":%d,\"start_s\":%.1f,\"end_s\":%.1f,\"sent\":%llu,\"expected\":%llu,"
           "\"received\":%llu,\"loss_pct\":%.4f,\"outage_s\":%.1f,\"loss_outside_pct\":%.4f,",
           index, in.start_s, in.end_s, (unsigned long long)in.sent, (unsigned long long)in.expected,
           (unsigned long long)in.received, in.loss_pct, in.outage_s, in.loss_outside_pct);
    print_latency("latency_ms", in.p50_ms, in.p95_ms, in.p99_ms, in.max_ms);
    printf(",\"interrupted\":%llu,\"resumed\":%llu,\"fresh\":%llu,\"id_changed\":%llu,\"removed\":%d,"
           "\"server_rss_kb\":%ld,\"server_fds\":%d,\"server_players\":%d,\"server_cpu_s\":%.2f}\n",
           (unsigned long long)r.interrupted, (unsigned long long)r.resumed, (unsigned long long)r.fresh,
           (unsigned long long)r.id_changed, r.removed, server.rss_kb, server.fds, server.players, server.cpu_s);
    fflush(stdout);
}

static int run(const load_opts *o)
{
    int code = 1;
    load_swarm *sw = NULL;
    load_storm *storm = NULL;
    load_churn *churn = NULL;
    load_rogue *rogues[ROGUE_COUNT] = {NULL};
    load_events events;
    load_server_sample server = {-1, -1, -1, -1};
    double server_cpu = -1, own_cpu = 0;
    if (load_events_open(&events, o->server_events) != 0) {
        fprintf(stderr, "gvoip-load: cannot read %s\n", o->server_events);
        return 1;
    }
    if (load_swarm_create(o, &sw) != 0 || (o->churn && load_churn_create(o, &events, &churn) != 0)) {
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
        if (now > join_deadline)
            fprintf(stderr, "gvoip-load: not every player could join within %.0f s\n", o->join_timeout_s);
        else
            fprintf(stderr, "gvoip-load: not every player could join\n");
        goto out;
    }
    uint64_t settle = o->players || o->malformed || o->impersonate ? SETTLE_US : 0;
    for (uint64_t until = now + settle; now < until && !stop_requested; now = load_now_us()) {
        load_swarm_tick(sw, now, 1);
        for (int i = 0; i < ROGUE_COUNT; i++)
            load_rogue_service(rogues[i], now);
        load_swarm_wait(sw, now + 2000);
    }

    double cpu0 = o->server_pid ? load_proc_cpu_s(o->server_pid) : -1;
    double own0 = own_cpu_s();
    uint64_t start = load_now_us(), end = start + (uint64_t)(o->duration_s * 1e6);
    uint64_t next_rogue = start, next_storm = start;
    uint64_t interval_us = (uint64_t)(o->report_every_s * 1e6), drain = interval_us ? REPORT_DELAY_US : DRAIN_US;
    int intervals = interval_us ? (int)((end - start + interval_us - 1) / interval_us) : 0, reported = 0;
    load_swarm_start(sw, start);
    if (churn) {
        /* The churn lasts as long as its cycles take; the traffic goes on
         * until the lobby has settled after the last. */
        end = UINT64_MAX - drain;
        load_churn_start(churn, sw, start);
    }
    int churned = 0, finished = 0;
    for (now = start; now < end + drain && !stop_requested; now = load_now_us()) {
        if (churn && !churned) {
            rc = load_churn_step(churn, sw, now);
            if (rc < 0) {
                fprintf(stderr, "gvoip-load: a newcomer could not join\n");
                goto out;
            }
            if (rc == 1) {
                churned = 1;
                end = now + SETTLE_US;
            }
        }
        int sending = now < end;
        if (churned && !sending && !finished) {
            load_churn_finish(churn, sw, now);
            finished = 1;
        }
        uint64_t next = load_swarm_tick(sw, now, !sending);
        if (reported < intervals) {
            uint64_t due = start + (uint64_t)(reported + 1) * interval_us;
            due = (due < end ? due : end) + REPORT_DELAY_US;
            if (now >= due)
                print_interval(sw, reported++, now, o->server_pid, &events);
            else if (due < next)
                next = due;
        }
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
    while (reported < intervals && !stop_requested)
        print_interval(sw, reported++, now, o->server_pid, &events);
    if (cpu0 >= 0) {
        double cpu1 = load_proc_cpu_s(o->server_pid);
        server_cpu = cpu1 >= 0 ? cpu1 - cpu0 : -1;
    }
    own_cpu = own_cpu_s() - own0;
    load_server_sample_take(o->server_pid, &events, &server);

    load_swarm_report rep;
    load_swarm_get_report(sw, &rep);
    if (end > now)
        end = now;
    print_json(o, &rep, (double)(end - start) / 1e6, rogues, storm, server_cpu, own_cpu, churn, &server);
    code = 0;
    if (rep.foreign) {
        fprintf(stderr, "gvoip-load: %llu voice packets reached players of another lobby\n",
                (unsigned long long)rep.foreign);
        code = 3;
    }
out:
    for (int i = 0; i < ROGUE_COUNT; i++)
        load_rogue_destroy(rogues[i]);
    load_storm_destroy(storm);
    load_churn_destroy(churn);
    load_swarm_destroy(sw);
    load_events_close(&events);
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
