/* gvoip-jbench: gvoip's jitter buffer against libspeexdsp's and against the
 * best fixed delay chosen with hindsight, on the same seeded packet traces.
 * Prints a Markdown table (and optionally gnuplot data and a time series). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbench_sim.h"
#include "jbench_trace.h"

#define NS_BASE {{5, 10, JBENCH_EXP}, {5, 10, JBENCH_EXP}}
#define SPIKE {15, 2, 30}, 80
#define STEP {30, 30, 60}, 40
#define BURST {45, 10, 60}, 10, 4

static const jbench_scenario base_scenarios[] = {
    {.name = "2 legs 5 ms + exp 10 ms", .legs = 2, .leg = NS_BASE},
    {.name = "no jitter", .legs = 1, .leg = {{20, 0, JBENCH_UNIFORM}}},
    {.name = "uniform 10 ms", .legs = 1, .leg = {{20, 10, JBENCH_UNIFORM}}},
    {.name = "uniform 20 ms", .legs = 1, .leg = {{20, 20, JBENCH_UNIFORM}}},
    {.name = "uniform 40 ms", .legs = 1, .leg = {{20, 40, JBENCH_UNIFORM}}},
    {.name = "pareto 10 ms", .legs = 1, .leg = {{20, 10, JBENCH_PARETO}}},
    {.name = "pareto 20 ms", .legs = 1, .leg = {{20, 20, JBENCH_PARETO}}},
    {.name = "pareto 40 ms", .legs = 1, .leg = {{20, 40, JBENCH_PARETO}}},
    {.name = "spike 80 ms 2 s/30 s", .legs = 2, .leg = NS_BASE, .spike = SPIKE},
    {.name = "step +40 ms 30 s/60 s", .legs = 2, .leg = NS_BASE, .step = STEP},
    {.name = "burst loss 10% 10 s/60 s", .legs = 2, .leg = NS_BASE, .burst = BURST},
    {.name = "all three", .legs = 2, .leg = NS_BASE, .spike = SPIKE, .step = STEP, .burst = BURST},
    {.name = "sender clock 2% slow", .legs = 2, .leg = NS_BASE, .clock_ppm = -20000},
    {.name = "sender clock 2% fast", .legs = 2, .leg = NS_BASE, .clock_ppm = 20000},
};
#define N_BASE ((int)(sizeof base_scenarios / sizeof base_scenarios[0]))

static int stationary(const jbench_scenario *s)
{
    return s->spike.len_s <= 0 && s->step.len_s <= 0 && s->burst.len_s <= 0;
}

static void usage(void)
{
    fputs("usage: gvoip-jbench [--seconds S] [--seed N] [--only SUBSTRING] [--spurts-only|--continuous-only]\n"
          "                    [--window-ms N] [--half-life-ms N] [--max-delay-ms N] [--quantile-permille N] [--margin-ms N]\n"
          "                    [--fec-wait-permille N] [--conceal-max-ms N]\n"
          "                    [--dat FILE] [--series FILE (with --only: playout delay over time)]\n",
          stderr);
}

static int int_arg(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 100000000)
        return -1;
    *out = (int)v;
    return 0;
}

#define TUNE_HIGHEST 999 /* per mille: quantiles tried when matching a late rate */
#define TUNE_LOWEST 900

static double pct(int late, int arrived)
{
    return arrived ? 100.0 * late / arrived : 0;
}

/* One point a second per buffer: the mean send-to-playout delay of the
 * packets sent in that second. */
static void write_series(FILE *f, const jbench_trace *t, const int64_t *a, const int64_t *b)
{
    int i = 0;
    fputs("# second gvoip_ms speex_ms network_ms\n", f);
    while (i < t->n) {
        int64_t sec = t->pkt[i].send_us / 1000000;
        double sa = 0, sb = 0, sn = 0;
        int na = 0, nb = 0, nn = 0;
        for (; i < t->n && t->pkt[i].send_us / 1000000 == sec; i++) {
            const jbench_pkt *p = &t->pkt[i];
            if (p->arrive_us < 0)
                continue;
            sn += (double)(p->arrive_us - p->send_us);
            nn++;
            if (a[i] >= 0) {
                sa += (double)(a[i] - p->send_us);
                na++;
            }
            if (b[i] >= 0) {
                sb += (double)(b[i] - p->send_us);
                nb++;
            }
        }
        if (na && nb && nn)
            fprintf(f, "%lld %.2f %.2f %.2f\n", (long long)sec, sa / na / 1000, sb / nb / 1000, sn / nn / 1000);
    }
}

/* The same buffer with another delay quantile (per mille steps from
 * TUNE_HIGHEST down to 99%, then 1% steps down to TUNE_LOWEST): of those
 * whose late count stays within max_late, the one with the least delay.
 * How much delay it saves when it may lose as much as the other buffer
 * does, or what it costs to lose no more than the other when its default
 * loses more.
 * Returns 0 with *q and *out, or 1 when no quantile keeps within it. */
static int tuned_to_late(const jbench_trace *t, const gv_jbuf_config *base, int max_late, int *q,
                         jbench_result *out)
{
    int found = 1;

    for (int p = TUNE_HIGHEST; p >= TUNE_LOWEST; p = p > 990 ? p - 1 : p - 10) {
        gv_jbuf_config c = *base;
        jbench_result r;
        c.quantile_permille = p;
        if (jbench_run_gv(t, &c, &r, NULL) < 0)
            break;
        if (r.late > max_late || (!found && r.delay_ms >= out->delay_ms))
            continue;
        *q = p;
        *out = r;
        found = 0;
    }
    return found;
}

int main(int argc, char **argv)
{
    gv_jbuf_config cfg;
    double seconds = 600;
    int seed = 1, modes = 3, i, rc = 1, fails = 0;
    const char *only = NULL, *dat_path = NULL, *series_path = NULL;
    FILE *dat = NULL;

    gv_jbuf_config_default(&cfg);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--spurts-only")) {
            modes = 1;
            continue;
        }
        if (!strcmp(a, "--continuous-only")) {
            modes = 2;
            continue;
        }
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--seconds"))
            bad = (seconds = atof(v)) < 10;
        else if (!strcmp(a, "--seed"))
            bad = int_arg(v, &seed);
        else if (!strcmp(a, "--only"))
            only = v;
        else if (!strcmp(a, "--dat"))
            dat_path = v;
        else if (!strcmp(a, "--series"))
            series_path = v;
        else if (!strcmp(a, "--window-ms"))
            bad = int_arg(v, &cfg.window_ms);
        else if (!strcmp(a, "--max-delay-ms"))
            bad = int_arg(v, &cfg.max_delay_ms);
        else if (!strcmp(a, "--half-life-ms"))
            bad = int_arg(v, &cfg.half_life_ms);
        else if (!strcmp(a, "--quantile-permille"))
            bad = int_arg(v, &cfg.quantile_permille);
        else if (!strcmp(a, "--margin-ms"))
            bad = int_arg(v, &cfg.margin_ms);
        else if (!strcmp(a, "--fec-wait-permille"))
            bad = int_arg(v, &cfg.fec_wait_loss_permille);
        else if (!strcmp(a, "--conceal-max-ms"))
            bad = int_arg(v, &cfg.conceal_max_ms);
        else
            bad = 1;
        if (bad) {
            usage();
            return 2;
        }
        i++;
    }
    if (dat_path && !(dat = fopen(dat_path, "w"))) {
        fprintf(stderr, "gvoip-jbench: cannot write %s\n", dat_path);
        return 1;
    }
    if (dat)
        fputs("# n \"scenario\" gvoip_ms gvoip_late% speex_ms speex_late% hindsight_gvoip_ms hindsight_speex_ms\n", dat);

    printf("| trace | talk | gvoip ms | late %% | speex ms | late %% | speex auto ms | late %% |"
           " hindsight at gvoip's late ms | at speex's late ms | gvoip / hindsight | gvoip / speex | target |"
           " gvoip tuned to speex's late: quantile | ms | late %% | / speex |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
    for (int m = 0; m < 2; m++) {
        if (!(modes & (1 << m)))
            continue;
        for (int s = 0; s < N_BASE; s++) {
            jbench_scenario sc = base_scenarios[s];
            jbench_trace t;
            jbench_result g, x, xa, tg;
            int64_t *pg = NULL, *px = NULL;
            int tq = 0;
            double hg, hx, rg, rx;
            int ok, stat = stationary(&sc);
            const char *verdict;

            if (only && !strstr(sc.name, only))
                continue;
            sc.spurts = m == 0;
            sc.seconds = seconds;
            if (jbench_trace_make(&sc, (uint64_t)seed * 1000 + (uint64_t)s * 2 + (uint64_t)m, &t) < 0)
                goto out;
            if (series_path) {
                pg = malloc((size_t)t.n * sizeof *pg);
                px = malloc((size_t)t.n * sizeof *px);
            }
            if (jbench_run_gv(&t, &cfg, &g, pg) < 0 || jbench_run_speex(&t, JBENCH_SPEEX_MUMBLE, &x, px) < 0 ||
                jbench_run_speex(&t, JBENCH_SPEEX_AUTO, &xa, NULL) < 0) {
                fprintf(stderr, "gvoip-jbench: %s failed\n", sc.name);
                free(pg);
                free(px);
                jbench_trace_free(&t);
                goto out;
            }
            hg = (double)jbench_hindsight_us(&t, g.late) / 1000.0;
            hx = (double)jbench_hindsight_us(&t, x.late) / 1000.0;
            rg = hg > 0 ? g.delay_ms / hg : 0;
            rx = x.delay_ms > 0 ? g.delay_ms / x.delay_ms : 0;
            if (stat)
                ok = g.delay_ms <= 1.05 * hg && g.late <= x.late;
            else
                ok = g.delay_ms <= 0.85 * x.delay_ms && g.late <= x.late;
            verdict = ok ? "met" : "MISSED";
            fails += !ok;
            printf("| %s | %s | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f | %.1f | %.1f | %.3f | %.3f | %s: %s |",
                   sc.name, sc.spurts ? "spurts" : "continuous", g.delay_ms, pct(g.late, g.arrived), x.delay_ms,
                   pct(x.late, x.arrived), xa.delay_ms, pct(xa.late, xa.arrived), hg, hx, rg, rx,
                   stat ? "<= 1.05 x hindsight, late <= speex" : "<= 0.85 x speex, late <= speex", verdict);
            if (tuned_to_late(&t, &cfg, x.late, &tq, &tg) == 0)
                printf(" %.1f%% | %.1f | %.2f | %.3f |\n", tq / 10.0, tg.delay_ms, pct(tg.late, tg.arrived),
                       x.delay_ms > 0 ? tg.delay_ms / x.delay_ms : 0);
            else
                printf(" none in %.1f..%.1f%% | | | |\n", TUNE_LOWEST / 10.0, TUNE_HIGHEST / 10.0);
            if (dat)
                fprintf(dat, "%d \"%s%s\" %.2f %.3f %.2f %.3f %.2f %.2f\n", s, sc.name, sc.spurts ? "" : " (cont.)",
                        g.delay_ms, pct(g.late, g.arrived), x.delay_ms, pct(x.late, x.arrived), hg, hx);
            if (series_path && pg && px) {
                FILE *f = fopen(series_path, "w");
                if (f) {
                    write_series(f, &t, pg, px);
                    fclose(f);
                }
            }
            free(pg);
            free(px);
            jbench_trace_free(&t);
            fflush(stdout);
        }
    }
    printf("\n%d of the targets missed.\n", fails);
    rc = 0;
out:
    if (dat)
        fclose(dat);
    return rc;
}
