#include "load_churn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gvoip/error.h"

/* Cycles under way at once: as many joins as the swarm keeps pending. */
#define IN_FLIGHT 3

typedef struct sample {
    long cycle;
    double t_s;
    int joined; /* players the load tool has in the lobby */
    long load_rss_kb; /* ours: the library's client side churns here */
    load_server_sample server;
} sample;

struct load_churn {
    const load_opts *o;
    load_events *events;
    uint64_t rng, start_us, done_us;
    uint64_t joins0; /* welcomes before the churn */
    long started, done, next_sample;
    sample *samples;
    int count, capacity;
};

/* splitmix64, as the swarm's, on a stream of its own. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int load_churn_create(const load_opts *o, load_events *events, load_churn **out)
{
    load_churn *c = calloc(1, sizeof *c);
    if (!c)
        return GV_ENOMEM;
    c->o = o;
    c->events = events;
    c->rng = o->seed ^ 0x636875726e000000ull; /* "churn" */
    c->capacity = (int)(o->churn / o->sample_every) + 3;
    c->samples = calloc((size_t)c->capacity, sizeof *c->samples);
    if (!c->samples) {
        free(c);
        return GV_ENOMEM;
    }
    *out = c;
    return 0;
}

void load_churn_destroy(load_churn *c)
{
    if (!c)
        return;
    free(c->samples);
    free(c);
}

static void take_sample(load_churn *c, load_swarm *sw, uint64_t now_us)
{
    if (c->count == c->capacity)
        return;
    load_swarm_report r;
    load_swarm_get_report(sw, &r);
    sample *s = &c->samples[c->count++];
    s->cycle = c->done;
    s->t_s = (double)(now_us - c->start_us) / 1e6;
    s->joined = r.joined;
    s->load_rss_kb = load_proc_rss_kb((int)getpid());
    load_server_sample_take(c->o->server_pid, c->events, &s->server);
}

void load_churn_start(load_churn *c, load_swarm *sw, uint64_t now_us)
{
    c->start_us = now_us;
    c->joins0 = load_swarm_joins(sw);
    c->next_sample = c->o->sample_every;
    take_sample(c, sw, now_us);
}

/* A random player among those who may leave; -1 when none may. */
static int pick(load_churn *c, const load_swarm *sw)
{
    int first = c->o->speakers, n = c->o->players - first;
    int at = (int)(next_rand(&c->rng) % (uint64_t)n);
    for (int i = 0; i < n; i++) {
        int index = first + (at + i) % n;
        if (load_swarm_churnable(sw, index))
            return index;
    }
    return -1;
}

int load_churn_step(load_churn *c, load_swarm *sw, uint64_t now_us)
{
    int everyone = load_swarm_join(sw, now_us);
    if (everyone < 0)
        return everyone;
    c->done = (long)(load_swarm_joins(sw) - c->joins0);
    while (c->done >= c->next_sample && c->next_sample <= c->o->churn) {
        take_sample(c, sw, now_us);
        c->next_sample += c->o->sample_every;
    }
    while (c->started < c->o->churn && c->started - c->done < IN_FLIGHT) {
        int index = pick(c, sw);
        if (index < 0)
            break;
        load_swarm_leave(sw, index);
        c->started++;
    }
    if (c->done < c->o->churn || !everyone)
        return 0;
    if (!c->done_us)
        c->done_us = now_us;
    return 1;
}

void load_churn_finish(load_churn *c, load_swarm *sw, uint64_t now_us)
{
    take_sample(c, sw, now_us);
}

static void print_sample(const sample *s)
{
    printf("{\"cycle\":%ld,\"t_s\":%.3f,\"joined\":%d,\"rss_kb\":%ld,\"fds\":%d,\"server_players\":%d,"
           "\"server_cpu_s\":%.2f,\"load_rss_kb\":%ld}",
           s->cycle, s->t_s, s->joined, s->server.rss_kb, s->server.fds, s->server.players, s->server.cpu_s,
           s->load_rss_kb);
}

void load_churn_print(const load_churn *c)
{
    const load_opts *o = c->o;
    long warmup = (long)ceil((double)o->churn * o->warmup_pct / 100.0);
    /* The first sample at or past the warm-up, against the last. */
    const sample *warm = &c->samples[c->count - 1], *last = &c->samples[c->count - 1];
    for (int i = 0; i < c->count; i++)
        if (c->samples[i].cycle >= warmup) {
            warm = &c->samples[i];
            break;
        }
    double seconds = c->done_us ? (double)(c->done_us - c->start_us) / 1e6 : 0;
    printf(",\"churn\":{\"cycles\":%ld,\"done\":%ld,\"seconds\":%.3f,\"cycles_per_s\":%.1f,\"sample_every\":%ld,"
           "\"warmup_cycles\":%ld,",
           o->churn, c->done, seconds, seconds > 0 ? (double)c->done / seconds : 0.0, o->sample_every, warmup);
    printf("\"warm\":");
    print_sample(warm);
    printf(",\"last\":");
    print_sample(last);
    long growth = last->server.rss_kb - warm->server.rss_kb;
    printf(",\"rss_growth_kb\":%ld,\"rss_growth_pct\":%.2f,\"fds_growth\":%d,\"samples\":[", growth,
           warm->server.rss_kb > 0 ? 100.0 * (double)growth / (double)warm->server.rss_kb : 0.0,
           last->server.fds - warm->server.fds);
    for (int i = 0; i < c->count; i++) {
        if (i)
            putchar(',');
        print_sample(&c->samples[i]);
    }
    printf("]}");
}
