#include "load_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/gvoip.h"
#include "load_swarm.h"

static const char usage[] =
    "usage: gvoip-load --server HOST:PORT [options]\n"
    "  --players N          simulated players (default 8, or 128 with --churn; 0..4000)\n"
    "  --speakers K         how many of them talk (default 1)\n"
    "  --lobbies N          spread the players over lobbies load-0..load-(N-1), player i in\n"
    "                       lobby i % N, the speakers too (1..4000; default 1: the default lobby);\n"
    "                       voice heard from another lobby makes the run exit with status 3\n"
    "  --duration S         seconds of traffic after everyone joined (default 10)\n"
    "  --seed N             talk spurts and fill bytes (default 1)\n"
    "  --frame-ms N         10, 20, 40 or 60 (default 20)\n"
    "  --payload-bytes N    fake Opus packet size, 16..1275 (default 60: 24 kbit/s)\n"
    "  --continuous         talk all the time instead of in spurts\n"
    "  --talk-on-ms M       mean spurt length (default 1500)\n"
    "  --talk-off-ms M      mean pause length (default 1500)\n"
    "  --no-loss-reports    do not send the once-a-second loss reports clients send\n"
    "  --flood-factor F     one extra player sends F times its voice budget\n"
    "  --storm N            connection attempts from N loopback addresses 127.0.x.y\n"
    "  --storm-rate R       attempts a second over all of them (default 1000)\n"
    "  --storm-mode M       established (finish ENet, never HANDSHAKE_INIT; default) or connect\n"
    "  --malformed          a player that sends garbage once joined, and one with an oversized name\n"
    "  --impersonate        a player that sends VOICE_RELAY in another player's name\n"
    "  --server-pid PID     report the server's CPU time per forwarded packet\n"
    "  --join-timeout S     give up joining after S seconds (default 60)\n"
    "  --source-addresses   every join from a loopback address of its own, 127.1.x.y on\n"
    "  --churn N            after joining, N times a random player that does not talk leaves\n"
    "                       and a newcomer joins from a fresh address (implies --source-addresses);\n"
    "                       ends when all N have joined, whatever --duration says\n"
    "  --sample-every K     churn: sample the server (--server-pid) every K cycles (default N/50)\n"
    "  --warmup-pct P       churn: the first P percent of the cycles are warm-up (default 10)\n"
    "  --report-every S     a JSON line per S seconds of traffic (S >= 2): loss, latency,\n"
    "                       outages and resumes, the server's memory and descriptors\n"
    "  --server-events FILE the server's --json output: its lobby size goes into the samples\n"
    "  --lobby NAME         every player joins this lobby (default: the server's default lobby); a\n"
    "                       server on several workers redirects each join to the lobby's port\n"
    "The lobby password, if any, comes from GVOIP_PASSWORD. One JSON object on stdout at the end\n"
    "(after the --report-every lines).\n";

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "gvoip-load: %s: '%s'\n%s", what, value ? value : "", usage);
    return 2;
}

static int num(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int whole(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_server(load_opts *o, const char *v)
{
    const char *colon = strrchr(v, ':');
    long port;
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof o->host || whole(colon + 1, 1, 65535, &port) != 0)
        return -1;
    memcpy(o->host, v, (size_t)(colon - v));
    o->host[colon - v] = '\0';
    o->port = (uint16_t)port;
    return 0;
}

int load_opts_parse(load_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->players = 8;
    o->speakers = 1;
    o->lobbies = 1;
    o->duration_s = 10;
    o->seed = 1;
    o->frame_ms = 20;
    o->payload_bytes = 60;
    o->talk_on_ms = 1500;
    o->talk_off_ms = 1500;
    o->storm_rate = 1000;
    o->loss_reports = 1;
    o->join_timeout_s = 60;
    o->warmup_pct = 10;
    int players_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double d;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 1;
        } else if (!strcmp(a, "--continuous")) {
            o->continuous = 1;
            continue;
        } else if (!strcmp(a, "--no-loss-reports")) {
            o->loss_reports = 0;
            continue;
        } else if (!strcmp(a, "--malformed")) {
            o->malformed = 1;
            continue;
        } else if (!strcmp(a, "--impersonate")) {
            o->impersonate = 1;
            continue;
        } else if (!strcmp(a, "--source-addresses")) {
            o->source_addresses = 1;
            continue;
        }
        if (!v)
            return bad("missing value or unknown option", a);
        i++;
        if (!strcmp(a, "--server")) {
            if (parse_server(o, v) != 0)
                return bad("--server takes HOST:PORT", v);
        } else if (!strcmp(a, "--players")) {
            if (whole(v, 0, LOAD_PLAYERS_MAX, &n) != 0)
                return bad("--players takes 0..4000", v);
            o->players = (int)n;
            players_given = 1;
        } else if (!strcmp(a, "--speakers")) {
            if (whole(v, 0, LOAD_PLAYERS_MAX, &n) != 0)
                return bad("--speakers takes 0..4000", v);
            o->speakers = (int)n;
        } else if (!strcmp(a, "--lobbies")) {
            if (whole(v, 1, GV_MAX_LOBBIES_LIMIT, &n) != 0)
                return bad("--lobbies takes 1..4000", v);
            o->lobbies = (int)n;
        } else if (!strcmp(a, "--duration")) {
            if (num(v, 0.1, 86400, &d) != 0)
                return bad("--duration takes seconds", v);
            o->duration_s = d;
        } else if (!strcmp(a, "--seed")) {
            if (whole(v, 0, __LONG_MAX__, &n) != 0)
                return bad("--seed takes a non-negative integer", v);
            o->seed = (uint64_t)n;
        } else if (!strcmp(a, "--frame-ms")) {
            if (whole(v, 10, 60, &n) != 0 || (n != 10 && n != 20 && n != 40 && n != 60))
                return bad("--frame-ms takes 10, 20, 40 or 60", v);
            o->frame_ms = (int)n;
        } else if (!strcmp(a, "--payload-bytes")) {
            if (whole(v, LOAD_PAYLOAD_MIN, 1275, &n) != 0)
                return bad("--payload-bytes takes 16..1275", v);
            o->payload_bytes = (int)n;
        } else if (!strcmp(a, "--talk-on-ms")) {
            if (num(v, 20, 600000, &d) != 0)
                return bad("--talk-on-ms takes 20..600000", v);
            o->talk_on_ms = d;
        } else if (!strcmp(a, "--talk-off-ms")) {
            if (num(v, 20, 600000, &d) != 0)
                return bad("--talk-off-ms takes 20..600000", v);
            o->talk_off_ms = d;
        } else if (!strcmp(a, "--flood-factor")) {
            if (num(v, 0, 1000, &d) != 0)
                return bad("--flood-factor takes 0..1000", v);
            o->flood_factor = d;
        } else if (!strcmp(a, "--storm")) {
            if (whole(v, 0, 60000, &n) != 0)
                return bad("--storm takes 0..60000 addresses", v);
            o->storm = (int)n;
        } else if (!strcmp(a, "--storm-rate")) {
            if (num(v, 1, 1e6, &d) != 0)
                return bad("--storm-rate takes attempts per second", v);
            o->storm_rate = d;
        } else if (!strcmp(a, "--storm-mode")) {
            if (!strcmp(v, "established"))
                o->storm_mode = LOAD_STORM_ESTABLISHED;
            else if (!strcmp(v, "connect"))
                o->storm_mode = LOAD_STORM_CONNECT;
            else
                return bad("--storm-mode takes established or connect", v);
        } else if (!strcmp(a, "--server-pid")) {
            if (whole(v, 1, 1 << 30, &n) != 0)
                return bad("--server-pid takes a process id", v);
            o->server_pid = (int)n;
        } else if (!strcmp(a, "--join-timeout")) {
            if (num(v, 1, 3600, &d) != 0)
                return bad("--join-timeout takes seconds", v);
            o->join_timeout_s = d;
        } else if (!strcmp(a, "--churn")) {
            if (whole(v, 0, 10000000, &n) != 0)
                return bad("--churn takes 0..10000000 cycles", v);
            o->churn = n;
        } else if (!strcmp(a, "--sample-every")) {
            if (whole(v, 1, 10000000, &n) != 0)
                return bad("--sample-every takes cycles", v);
            o->sample_every = n;
        } else if (!strcmp(a, "--warmup-pct")) {
            if (num(v, 0, 99, &d) != 0)
                return bad("--warmup-pct takes 0..99", v);
            o->warmup_pct = d;
        } else if (!strcmp(a, "--report-every")) {
            if (num(v, 2, 86400, &d) != 0)
                return bad("--report-every takes 2..86400 seconds", v);
            o->report_every_s = d;
        } else if (!strcmp(a, "--server-events")) {
            o->server_events = v;
        } else if (!strcmp(a, "--lobby")) {
            if (strlen(v) > 64)
                return bad("--lobby takes 1..64 bytes", v);
            o->lobby = v;
        } else {
            return bad("unknown option", a);
        }
    }
    if (!o->host[0])
        return bad("--server HOST:PORT is required", "");
    if (o->lobby && o->lobbies > 1)
        return bad("--lobby goes with --lobbies 1 only", o->lobby);
    if (o->churn && !players_given)
        o->players = 128;
    if (o->speakers > o->players)
        o->speakers = o->players;
    if (o->churn) {
        if (o->speakers >= o->players)
            return bad("--churn needs a player who does not talk", "");
        if (o->report_every_s > 0 || o->flood_factor > 0)
            return bad("--churn goes with neither --report-every nor --flood-factor", "");
        o->source_addresses = 1;
        if (!o->sample_every)
            o->sample_every = o->churn >= 50 ? o->churn / 50 : 1;
    }
    return 0;
}
