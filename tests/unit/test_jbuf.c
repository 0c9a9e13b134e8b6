/* Jitter buffer: table-driven scenarios played through a simulated sender,
 * network and receiver with an injected clock. The receiver asks for audio
 * each time its device has consumed the previous frame; the sender's clock
 * and the device's rate may drift. A frame asked to be played shorter or
 * longer is, as the splice does it, by between half and all of what was
 * asked (drawn at random). GV_TEST_SEED overrides the seed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_jbuf.h"
#include "gvoip/error.h"

/* ---- deterministic randomness ---- */

static uint64_t g_seed = 0x6a62756655aa1234ull;
/* The current scenario's state, freed by the next run or at exit, so that
 * a failed check (which jumps out) leaks nothing. */
static void *g_pkts, *g_arr;
static gv_jbuf *g_jb;

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t rng_below(rng *r, int64_t n)
{
    return n <= 0 ? 0 : (int64_t)(rng_next(r) % (uint64_t)n);
}

/* ---- scenario description ---- */

#define LIST_END (-1)
#define MAX_LIST 12

struct result;

typedef struct scen {
    const char *name;
    int dur_ms;
    int frame_ms;
    int drift_ppm; /* sender clock runs fast by this much */
    int rx_ppm;    /* the receiver's device pulls audio fast by this much */
    int device_block_us; /* ... in blocks this long, all asked for at the block's start */
    int block_jitter_us; /* ... each block asked for later by up to this (a callback's wake-up) */
    int delay_us;  /* one-way network delay ... */
    int jitter_us; /* ... plus uniform [0, jitter_us) */
    const int *spurts; /* pairs of sender-time ms [start, end), LIST_END ended; NULL: all */
    int talk_ms, pause_ms; /* or else talk_ms on, pause_ms off, over and over */
    int drops[MAX_LIST]; /* packet indices (in send order), 0 ended */
    int dups[MAX_LIST];
    int late_idx, late_extra_ms;
    /* Scheduling hiccups: every hiccup_gap_ms[0..1] of sender time a
     * packet arrives hiccup_ms[0..1] late, as does any packet that would
     * have arrived during that stall (it arrives when the stall ends);
     * between busy_ms[0] and busy_ms[1] every busy_gap_ms[0..1] instead;
     * with pair_gap_ms[1], each hiccup is followed by a second one that
     * much later. */
    int hiccup_gap_ms[2], hiccup_ms[2], busy_ms[2], busy_gap_ms[2], pair_gap_ms[2];
    int utter_ms, quiet_ms; /* utterances start this often, the last quiet_ms of each a pause */
    /* Spells of wobble_len_ms[0..1], every wobble_gap_ms[0..1], in which
     * every other packet leaves wobble_ms late: a sender whose device
     * delivers in blocks that fall across its frames' ends now and then. */
    int wobble_ms, wobble_gap_ms[2], wobble_len_ms[2];
    int margin_ms;
    int reorder_every, reorder_us; /* every n-th packet held back */
    int step_at_ms, step_us, calm_at_ms;
    int restart_at_ms, restart_seq_delta; /* 0: random seq and ts */
    int flood_at_ms, flood_frames;
    int drop_from, drop_to;    /* a network outage: packets [from, to) lost */
    int frame2_at_ms, frame2_ms; /* the sender changes its frame size */
    int swap_idx;              /* this packet arrives just after the next one */
    int ts_skip_at_ms, ts_skip; /* from then on timestamps lie ts_skip samples further on */
    uint16_t seq0;
    uint32_t ts0;
    int min_delay_ms;
    int warm_ms;
    /* expectations, X(n); 0: not checked */
    int exp_lost, exp_late, exp_dups, exp_fec, exp_concealed;
    int max_tail; /* LOST frames allowed at talk-spurt ends */
    void (*check)(const struct scen *, const struct result *);
} scen;

typedef struct pkt {
    uint16_t seq;
    uint32_t ts;
    int samples;
    int marker;
    int64_t at_ms; /* sender time of its first sample */
    int64_t send_us;
    int64_t arrive_us; /* first copy; -1 dropped */
    int64_t played_us; /* -1 never */
    int new_stream;    /* sent after the restart */
} pkt;

typedef struct arrival {
    int64_t at_us;
    uint32_t idx;
    uint32_t order;
} arrival;

#define PROBES 4

typedef struct result {
    gv_jbuf_stats st;
    pkt *p;
    size_t n;
    uint64_t kinds[4];
    int order_ok, fec_ok, cap_ok, put_ok;
    double max_over_target_ms; /* buffered minus target, after warm-up */
    double max_buffered_ms;
    double lost_ms; /* LOST audio handed out */
    double skipped_ms; /* left out of shortened frames */
    double added_ms;   /* added to lengthened frames */
    uint64_t lost_in_speech;     /* LOST frames between two packets of a talk spurt */
    uint64_t inserted_in_speech; /* ... of them while the packet played next was here */
    uint64_t unplayed;           /* packets that arrived and were never played */
    double delay_sum_ms;         /* arrival to playout of packets played after warm-up */
    uint64_t delay_n;
    double win_min_ms, win_max_ms; /* extreme means of that delay over 10 s windows */
    uint64_t max_lost_per_min; /* LOST frames in any minute after warm-up */
    double target_at[PROBES];
    int64_t probe_ms[PROBES];
    int hiccups;                 /* stalls */
    int stalled;                 /* packets they made late */
    double utter_min_ms, utter_max_ms; /* send to playout at each utterance's start, after warm-up */
    int utter_n;
    double utter_last_ms;
    double tgt_min_ms, tgt_max_ms; /* target delay after warm-up */
    double speech_stretch_ms; /* played longer or shorter in utterances, not in their pauses */
    double pause_stretch_ms;
} result;

static int in_list(const int *l, int v)
{
    int i;
    for (i = 0; i < MAX_LIST && l[i] != 0; i++)
        if (l[i] == v)
            return 1;
    return 0;
}

static int talking(const scen *sc, int64_t t_ms)
{
    int i;
    if (sc->talk_ms)
        return t_ms % (sc->talk_ms + sc->pause_ms) < sc->talk_ms;
    if (!sc->spurts)
        return 1;
    for (i = 0; sc->spurts[i] != LIST_END; i += 2)
        if (t_ms >= sc->spurts[i] && t_ms < sc->spurts[i + 1])
            return 1;
    return 0;
}

static int cmp_arrival(const void *a, const void *b)
{
    const arrival *x = a, *y = b;
    if (x->at_us != y->at_us)
        return x->at_us < y->at_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sender and network: every packet with its send and arrival times. */
static arrival *build(const scen *sc, rng *r, result *res, size_t *n_arr)
{
    int fs;
    int min_ms = sc->frame2_ms && sc->frame2_ms < sc->frame_ms ? sc->frame2_ms : sc->frame_ms;
    size_t nmax = (size_t)sc->dur_ms / (size_t)min_ms + 1;
    arrival *arr;
    int64_t t;
    uint16_t seq = sc->seq0;
    uint32_t ts_base = sc->ts0;
    int64_t ts_origin = 0;
    int was_talking = 0, restarted = 0;
    int64_t hiccup_at = -1, stall_from = 0, stall_to = 0;
    int64_t wobble_from = -1, wobble_to = -1;
    int paired = 0;
    size_t na = 0;

    free(g_pkts);
    free(g_arr);
    g_pkts = res->p = calloc(nmax, sizeof *res->p);
    g_arr = arr = calloc(nmax * 2 + 1, sizeof *arr);
    fs = sc->frame_ms * 48;
    assert_non_null(arr);
    assert_non_null(res->p);
    res->n = 0;
    for (t = 0; t < (int64_t)sc->dur_ms; t += fs / 48) {
        int64_t t_ms = t;
        int64_t send_ms, delay;
        size_t i;
        pkt *p;

        fs = (sc->frame2_ms && t_ms >= sc->frame2_at_ms ? sc->frame2_ms : sc->frame_ms) * 48;

        if (!talking(sc, t_ms)) {
            was_talking = 0;
            continue;
        }
        if (sc->restart_at_ms && !restarted && t_ms >= sc->restart_at_ms) {
            restarted = 1;
            was_talking = 0;
            if (sc->restart_seq_delta) {
                seq = (uint16_t)(seq + sc->restart_seq_delta);
            } else {
                seq = (uint16_t)rng_next(r);
            }
            ts_base = (uint32_t)rng_next(r);
            ts_origin = t_ms * 48;
        }
        i = res->n++;
        p = &res->p[i];
        p->seq = seq++;
        p->ts = ts_base + (uint32_t)(t_ms * 48 - ts_origin);
        if (sc->ts_skip && t_ms >= sc->ts_skip_at_ms)
            p->ts += (uint32_t)sc->ts_skip;
        p->samples = fs;
        p->marker = !was_talking;
        p->new_stream = restarted;
        p->played_us = -1;
        p->at_ms = t_ms;
        was_talking = 1;
        send_ms = t_ms + fs / 48;
        if (sc->flood_frames && t_ms >= sc->flood_at_ms &&
            t_ms < sc->flood_at_ms + (int64_t)sc->flood_frames * sc->frame_ms)
            send_ms = sc->flood_at_ms;
        /* The sender's clock is fast by drift_ppm: its millisecond is
         * shorter in real time. */
        p->send_us = send_ms * 1000 * 1000000 / (1000000 + sc->drift_ppm);
        delay = sc->delay_us + rng_below(r, sc->jitter_us);
        if (sc->step_us && send_ms >= sc->step_at_ms && (!sc->calm_at_ms || send_ms < sc->calm_at_ms))
            delay += sc->step_us;
        if (sc->late_idx && (int)i == sc->late_idx)
            delay += (int64_t)sc->late_extra_ms * 1000;
        if (sc->hiccup_ms[1]) {
            int busy = t_ms >= sc->busy_ms[0] && t_ms < sc->busy_ms[1];
            const int *gap = busy ? sc->busy_gap_ms : sc->hiccup_gap_ms;
            if (hiccup_at >= 0 && t_ms >= hiccup_at) {
                int64_t len_ms = sc->hiccup_ms[0] + rng_below(r, sc->hiccup_ms[1] - sc->hiccup_ms[0] + 1);
                stall_from = p->send_us + delay;
                stall_to = stall_from + 1000 * len_ms;
                res->hiccups++;
            }
            if (hiccup_at >= 0 && t_ms >= hiccup_at && sc->pair_gap_ms[1] && !paired) {
                hiccup_at = t_ms + sc->pair_gap_ms[0] + rng_below(r, sc->pair_gap_ms[1] - sc->pair_gap_ms[0] + 1);
                paired = 1;
            } else if (hiccup_at < 0 || t_ms >= hiccup_at || (busy && hiccup_at > t_ms + gap[1])) {
                hiccup_at = t_ms + gap[0] + rng_below(r, gap[1] - gap[0] + 1);
                paired = 0;
            }
        }
        if (p->send_us + delay >= stall_from && p->send_us + delay < stall_to) {
            delay = stall_to - p->send_us;
            res->stalled++;
        }
        if (sc->wobble_ms) {
            if (t_ms >= wobble_to) {
                wobble_from = t_ms + sc->wobble_gap_ms[0] + rng_below(r, sc->wobble_gap_ms[1] - sc->wobble_gap_ms[0] + 1);
                wobble_to = wobble_from + sc->wobble_len_ms[0] +
                            rng_below(r, sc->wobble_len_ms[1] - sc->wobble_len_ms[0] + 1);
            }
            if (t_ms >= wobble_from && i % 2)
                delay += (int64_t)sc->wobble_ms * 1000;
        }
        if (sc->reorder_every && i % (size_t)sc->reorder_every == (size_t)sc->reorder_every - 1)
            delay += sc->reorder_us;
        if ((int)i == sc->swap_idx && sc->swap_idx)
            delay += (int64_t)fs / 48 * 1000 + 1000;
        if (in_list(sc->drops, (int)i) || ((int)i >= sc->drop_from && (int)i < sc->drop_to)) {
            p->arrive_us = -1;
            continue;
        }
        p->arrive_us = p->send_us + delay;
        arr[na] = (arrival){p->arrive_us, (uint32_t)i, (uint32_t)na};
        na++;
        if (in_list(sc->dups, (int)i)) {
            arr[na] = (arrival){p->arrive_us + 3000, (uint32_t)i, (uint32_t)na};
            na++;
        }
    }
    qsort(arr, na, sizeof *arr, cmp_arrival);
    *n_arr = na;
    return arr;
}

/* What the splice gives for a frame's skip: between half and all of it. */
static int stretched(rng *r, int skip)
{
    int a = skip < 0 ? -skip : skip;
    int got = a / 2 + (int)rng_below(r, a - a / 2 + 1);
    return skip < 0 ? got : -got;
}

static void window_delay(result *res, double *sum, uint64_t *n)
{
    if (*n) {
        double m = *sum / (double)*n;
        if (m < res->win_min_ms)
            res->win_min_ms = m;
        if (m > res->win_max_ms)
            res->win_max_ms = m;
    }
    *sum = 0;
    *n = 0;
}

/* Send to playout of each utterance's first packet played (utter_ms
 * apart in sender time, after warm-up): what a listener hears move. */
static void utterance_delays(const scen *sc, result *res)
{
    int64_t next_ms = 0;
    size_t i;

    res->utter_min_ms = 1e9;
    res->utter_max_ms = -1e9;
    if (!sc->utter_ms)
        return;
    for (i = 0; i < res->n; i++) {
        const pkt *p = &res->p[i];
        double d;
        if (p->at_ms < next_ms || p->played_us < 0)
            continue;
        next_ms = (p->at_ms / sc->utter_ms + 1) * sc->utter_ms;
        if (p->at_ms < sc->warm_ms)
            continue;
        d = (double)(p->played_us - p->send_us) / 1000.0;
        res->utter_min_ms = fmin(res->utter_min_ms, d);
        res->utter_max_ms = fmax(res->utter_max_ms, d);
        res->utter_last_ms = d;
        res->utter_n++;
    }
}

#define MAX_LOST_AT 64

/* The receiver's time when its device has played samples: the device's
 * clock is the receiver's, and one pulling fast by ppm plays more samples
 * per second of it. */
static int64_t rx_us(int64_t samples, int ppm)
{
    return samples * 125 * 1000000 / (6 * (1000000 + (int64_t)ppm));
}

static void run(const scen *sc, result *res)
{
    rng r = {g_seed ^ (uint64_t)sc->dur_ms * 0x100000001b3ull};
    rng splice_r = {g_seed ^ 0x73706c696365ull};
    double win_sum = 0;
    uint64_t win_n = 0;
    int64_t win_start = (int64_t)sc->warm_ms * 1000;
    int64_t lost_at[MAX_LOST_AT]; /* when LOST frames since the last packet were asked for */
    int n_lost_at = 0;
    gv_jbuf_config cfg;
    gv_jbuf *jb = NULL;
    size_t na, ai = 0;
    arrival *arr;
    int64_t rx_samples = 0, end_us = ((int64_t)sc->dur_ms + 1000) * 1000;
    int64_t last_idx = -1, pending_fec = -1, minute_start = 0;
    uint64_t lost_this_min = 0, cap_at_fec = 0;
    int64_t last_asked = 0;
    int probe = 0;

    memset(res, 0, sizeof *res);
    if (sc->step_us) {
        res->probe_ms[0] = sc->step_at_ms - 100;
        res->probe_ms[1] = sc->step_at_ms + 1000;
        res->probe_ms[2] = sc->dur_ms - 100;
    }
    res->order_ok = res->fec_ok = res->cap_ok = res->put_ok = 1;
    res->max_over_target_ms = -1e9;
    res->win_min_ms = 1e9;
    res->win_max_ms = -1e9;
    res->tgt_min_ms = 1e9;
    res->tgt_max_ms = -1e9;
    arr = build(sc, &r, res, &na);
    /* A slow sender's last packets come after dur_ms. */
    if (na > 0 && arr[na - 1].at_us + 1000000 > end_us)
        end_us = arr[na - 1].at_us + 1000000;
    gv_jbuf_config_default(&cfg);
    if (sc->min_delay_ms) {
        cfg.min_delay_ms = sc->min_delay_ms;
        if (cfg.initial_delay_ms < cfg.min_delay_ms)
            cfg.initial_delay_ms = cfg.min_delay_ms;
    }
    cfg.margin_ms = sc->margin_ms;
    gv_jbuf_destroy(g_jb);
    g_jb = NULL;
    assert_int_equal(gv_jbuf_create(&cfg, &jb), 0);
    g_jb = jb;

    for (;;) {
        int64_t now = rx_us(rx_samples, sc->rx_ppm);
        gv_jbuf_frame f;
        gv_jbuf_stats st;

        /* A device that takes audio in blocks has the buffer asked at the
         * block's start for all of it; its blocks are counted in its own
         * samples, so a device pulling fast or slow asks at its own pace. */
        int64_t block_samples = (int64_t)sc->device_block_us * 6 / 125;
        int64_t asked = block_samples ? rx_us(rx_samples / block_samples * block_samples, sc->rx_ppm) : now;

        if (sc->block_jitter_us) {
            rng wake = {g_seed ^ (uint64_t)(sc->device_block_us ? asked : now) * 0x2545f4914f6cdd1dull};
            asked += rng_below(&wake, sc->block_jitter_us);
            if (asked < last_asked)
                asked = last_asked;
        }
        last_asked = asked;

        if (now > end_us)
            break;
        while (ai < na && arr[ai].at_us <= asked) {
            const pkt *p = &res->p[arr[ai].idx];
            uint8_t payload[8];
            int rc;
            memcpy(payload, &arr[ai].idx, 4);
            memset(payload + 4, 0xa5, 4);
            rc = gv_jbuf_put(jb, p->seq, p->ts, p->samples, p->marker, payload, sizeof payload,
                             (uint64_t)arr[ai].at_us);
            if (rc != 0 && rc != GV_EREPLAY)
                res->put_ok = 0;
            gv_jbuf_get_stats(jb, &st);
            if (st.buffered_ms > cfg.max_delay_ms)
                res->cap_ok = 0;
            ai++;
        }
        assert_int_equal(gv_jbuf_get(jb, (uint64_t)asked, &f), 0);
        assert_true(f.samples > 0);
        res->kinds[f.kind]++;
        if (f.kind == GV_JBUF_LOST) {
            res->lost_ms += f.samples / 48.0;
            if (last_idx >= 0 && (size_t)last_idx + 1 < res->n && !res->p[last_idx + 1].marker) {
                res->lost_in_speech++;
                if (n_lost_at < MAX_LOST_AT)
                    lost_at[n_lost_at++] = asked;
            }
        }
        if (f.kind == GV_JBUF_PACKET || f.kind == GV_JBUF_FEC) {
            uint32_t idx;
            assert_int_equal(f.len, 8);
            memcpy(&idx, f.payload, 4);
            if (f.kind == GV_JBUF_PACKET) {
                if ((int64_t)idx <= last_idx)
                    res->order_ok = 0;
                /* An FEC frame comes from the next packet, which plays
                 * next unless the cap pushed it out in between. */
                gv_jbuf_get_stats(jb, &st);
                if (pending_fec >= 0 && pending_fec != (int64_t)idx && st.dropped_for_cap == cap_at_fec)
                    res->fec_ok = 0;
                pending_fec = -1;
                /* LOST frames played while the packet that follows them
                 * was here already were inserted, not concealment. */
                if ((int64_t)idx == last_idx + 1)
                    for (int k = 0; k < n_lost_at; k++)
                        res->inserted_in_speech += lost_at[k] >= res->p[idx].arrive_us;
                n_lost_at = 0;
                last_idx = idx;
                res->p[idx].played_us = now;
                if (now >= (int64_t)sc->warm_ms * 1000) {
                    double d = (double)(now - res->p[idx].arrive_us) / 1000.0;
                    res->delay_sum_ms += d;
                    res->delay_n++;
                    if (now - win_start >= 10000000) {
                        window_delay(res, &win_sum, &win_n);
                        win_start = now;
                    }
                    win_sum += d;
                    win_n++;
                }
            } else {
                if ((int64_t)idx <= last_idx)
                    res->fec_ok = 0;
                pending_fec = idx;
                gv_jbuf_get_stats(jb, &st);
                cap_at_fec = st.dropped_for_cap;
            }
        }
        gv_jbuf_get_stats(jb, &st);
        if (st.buffered_ms > res->max_buffered_ms)
            res->max_buffered_ms = st.buffered_ms;
        if (st.buffered_ms > cfg.max_delay_ms)
            res->cap_ok = 0;
        if (now >= (int64_t)sc->warm_ms * 1000) {
            if (st.buffered_ms - st.target_delay_ms > res->max_over_target_ms)
                res->max_over_target_ms = st.buffered_ms - st.target_delay_ms;
            if (f.kind == GV_JBUF_LOST)
                lost_this_min++;
            if (now - minute_start >= 60000000) {
                if (lost_this_min > res->max_lost_per_min)
                    res->max_lost_per_min = lost_this_min;
                lost_this_min = 0;
                minute_start = now;
            }
        } else {
            minute_start = now;
        }
        if (now >= (int64_t)sc->warm_ms * 1000) {
            res->tgt_min_ms = fmin(res->tgt_min_ms, st.target_delay_ms);
            res->tgt_max_ms = fmax(res->tgt_max_ms, st.target_delay_ms);
        }
        while (probe < PROBES && res->probe_ms[probe] && now >= res->probe_ms[probe] * 1000)
            res->target_at[probe++] = st.target_delay_ms;
        {
            int change = f.skip ? stretched(&splice_r, f.skip) : 0;
            if (change < 0)
                res->skipped_ms -= change / 48.0;
            else
                res->added_ms += change / 48.0;
            if (change && sc->utter_ms) {
                uint32_t idx;
                memcpy(&idx, f.payload, 4);
                if (res->p[idx].at_ms % sc->utter_ms < sc->utter_ms - sc->quiet_ms)
                    res->speech_stretch_ms += fabs(change / 48.0);
                else
                    res->pause_stretch_ms += fabs(change / 48.0);
            }
            rx_samples += f.samples + change;
        }
    }
    window_delay(res, &win_sum, &win_n);
    {
        size_t i;
        for (i = 0; i < res->n; i++)
            res->unplayed += res->p[i].arrive_us >= 0 && res->p[i].played_us < 0;
    }
    if (lost_this_min > res->max_lost_per_min)
        res->max_lost_per_min = lost_this_min;
    gv_jbuf_get_stats(jb, &res->st);
    utterance_delays(sc, res);
}

/* Every failed expectation names the scenario and the seed. */
#define EXPECT(sc, cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            print_error("scenario '%s' (GV_TEST_SEED=%llu): %s\n", (sc)->name,            \
                        (unsigned long long)g_seed, #cond);                                \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

static void print_result(const scen *sc, const result *r)
{
    const gv_jbuf_stats *s = &r->st;
    print_message("  %-22s recv %llu lost %llu late %llu dup %llu fec %llu conc %llu tail %llu "
                  "drop %llu ins %llu cap %llu rs %llu | tgt %.1f jit %.1f pd %.1f maxbuf %.1f "
                  "over %.1f lost/min %llu shifts %llu | short %llu %.0f ms long %llu %.0f ms\n",
                  sc->name, (unsigned long long)s->received, (unsigned long long)s->lost,
                  (unsigned long long)s->late, (unsigned long long)s->duplicates,
                  (unsigned long long)s->fec_recovered, (unsigned long long)s->concealed_frames,
                  (unsigned long long)s->tail_frames, (unsigned long long)s->dropped_for_drift,
                  (unsigned long long)s->inserted_for_drift, (unsigned long long)s->dropped_for_cap,
                  (unsigned long long)s->resyncs, s->target_delay_ms, s->jitter_ms,
                  s->playout_delay_ms, r->max_buffered_ms, r->max_over_target_ms,
                  (unsigned long long)r->max_lost_per_min, (unsigned long long)s->path_shifts,
                  (unsigned long long)s->shortened_frames, r->skipped_ms, (unsigned long long)s->lengthened_frames,
                  r->added_ms);
}

/* ---- per-scenario checks beyond the counters ---- */

/* Everything that arrived was played, but for frames dropped on purpose
 * (the first talk spurt starts at the initial delay, which is then trimmed)
 * and the last few still in the buffer at the end. */
static void check_all_played(const scen *sc, const result *r)
{
    size_t i;
    uint64_t unplayed = 0;
    for (i = 0; i + 3 < r->n; i++)
        if (r->p[i].arrive_us >= 0 && r->p[i].played_us < 0)
            unplayed++;
    EXPECT(sc, unplayed == r->st.dropped_for_drift + r->st.dropped_for_cap);
    EXPECT(sc, r->st.dropped_for_drift <= 1 && r->st.inserted_for_drift == 0);
}

/* Every 50th packet held back 15 ms is 2% of the packets, more than the
 * 0.7% the target leaves late, so most of them are played in order; only
 * held-back packets may be late: the first ones (the initial delay is low
 * and the two largest delays are clipped in the estimate) and about a
 * third of the rest, those beyond the 99.3% quantile. Of the ten, that is
 * 2 + 8/3, about 5, on average, and no bound: the buffer does better (2
 * late in 86 of seeds 1..125, 5 in 5 and 6 in 3), and the bar is 6, where
 * the count of late packets (the same ones) had it already. */
static void check_reordered(const scen *sc, const result *r)
{
    size_t i;
    uint64_t unplayed = 0;
    int others_ok = 1;
    for (i = 0; i + 3 < r->n; i++) {
        if (r->p[i].arrive_us >= 0 && r->p[i].played_us < 0) {
            unplayed++;
            if ((i + 1) % (size_t)sc->reorder_every != 0)
                others_ok = 0;
        }
    }
    EXPECT(sc, others_ok);
    EXPECT(sc, unplayed <= 6 && r->st.late <= 6);
    EXPECT(sc, r->st.dropped_for_drift == 0 && r->st.inserted_for_drift <= 1);
}

static void check_silence(const scen *sc, const result *r)
{
    size_t i;
    check_all_played(sc, r);
    /* The second spurt starts within the target (plus one silence step)
     * of its first packet's arrival. */
    for (i = 1; i < r->n; i++) {
        if (r->p[i].marker) {
            int64_t wait = r->p[i].played_us - r->p[i].arrive_us;
            EXPECT(sc, wait >= 0 && wait <= 15000);
        }
    }
    EXPECT(sc, r->kinds[GV_JBUF_SILENCE] * 240 >= 48 * 1900);
}

static void check_restart(const scen *sc, const result *r)
{
    size_t i, first = 0;
    for (i = 0; i < r->n; i++)
        if (r->p[i].new_stream && r->p[i].arrive_us >= 0) {
            first = i;
            break;
        }
    EXPECT(sc, first > 0);
    EXPECT(sc, r->st.resyncs == 1);
    /* Playing again within 200 ms of the first new packet's arrival, and
     * nothing after it stalls. */
    for (i = first; i < r->n; i++) {
        if (r->p[i].played_us >= 0) {
            EXPECT(sc, r->p[i].played_us - r->p[first].arrive_us <= 200000);
            break;
        }
    }
    EXPECT(sc, i < r->n);
    {
        /* The new stream starts at the initial delay again, so one frame
         * may be trimmed from its first talk spurt; nothing else is lost. */
        uint64_t unplayed = 0;
        for (i = i + 1; i + 3 < r->n; i++)
            unplayed += r->p[i].played_us < 0;
        EXPECT(sc, unplayed <= r->st.dropped_for_drift && r->st.dropped_for_drift <= 2);
    }
}

/* The first 40 ms packet is complete 20 ms later than a 20 ms one would
 * be: about 20 ms of concealment bridges that (one frame, plus at most a
 * short insertion), then everything plays and the target is unchanged. */
static void check_frame_change(const scen *sc, const result *r)
{
    size_t i;
    for (i = 0; i + 3 < r->n; i++)
        EXPECT(sc, r->p[i].played_us >= 0 || r->st.dropped_for_drift == 1);
    EXPECT(sc, r->st.concealed_frames <= 2);
    EXPECT(sc, r->lost_ms <= 40.0 + 2 * 40.0); /* plus the tail at the very end */
    EXPECT(sc, r->st.target_delay_ms < 10.0);
}

static void check_outage(const scen *sc, const result *r)
{
    /* Playing again right after the outage: the first packet after it is
     * played within 30 ms of arriving, without building up delay. */
    const pkt *p = &r->p[sc->drop_to];
    EXPECT(sc, p->played_us >= 0 && p->played_us - p->arrive_us <= 30000);
    EXPECT(sc, r->st.playout_delay_ms < 10.0);
    EXPECT(sc, r->st.concealed_frames <= 2);
}

static void check_fec_wait(const scen *sc, const result *r)
{
    /* The second talk spurt starts with no frame to spare, so the first
     * losses are concealed; once loss is recent the buffer plays frames
     * longer to wait a frame more (it used to insert a concealed one), and
     * the later losses come back through FEC. */
    EXPECT(sc, r->st.lost == 8);
    EXPECT(sc, r->p[275].played_us < 0 && r->p[276].played_us >= 0);
    EXPECT(sc, r->st.fec_recovered >= 4);
    EXPECT(sc, r->st.fec_recovered + r->st.concealed_frames == 8);
    EXPECT(sc, r->st.lengthened_frames >= 1 && r->added_ms >= 15.0);
    EXPECT(sc, r->st.inserted_for_drift == 0 && r->inserted_in_speech == 0);
}

static void check_step(const scen *sc, const result *r)
{
    /* probe 0: before the step; 1: one second after it; 2: the end,
     * after a calm period with silences. */
    EXPECT(sc, r->target_at[0] < 10.0);
    EXPECT(sc, r->target_at[1] >= 38.0);
    EXPECT(sc, r->target_at[2] < 10.0);
    EXPECT(sc, r->st.lost <= 4);
    EXPECT(sc, r->st.playout_delay_ms < 15.0);
}

/* The same step in one long talk spurt: no silence to reset the delay at,
 * so it comes down by playing frames shortened, to within the 4 ms of
 * excess the buffer leaves alone (cutting it would only move the delay
 * again) and a millisecond of the arrivals' wobble. */
static void check_step_continuous(const scen *sc, const result *r)
{
    EXPECT(sc, r->target_at[1] >= 38.0);
    EXPECT(sc, r->target_at[2] < 10.0);
    EXPECT(sc, r->st.shortened_frames >= 1);
    EXPECT(sc, r->st.dropped_for_drift <= 2);
    EXPECT(sc, r->st.lost <= 4);
    EXPECT(sc, r->st.playout_delay_ms < r->target_at[2] + 5.0);
}

/* The step back down under 20 ms of jitter, which hides the calm a spike
 * leaves: the last second's delays, nearly all below the window's lower
 * quartile, say the path got faster, so the older delays move down by the
 * step and the excess drains at once: the delay comes down within about two
 * seconds instead of the window's ten. The old buffer also took the step for
 * a slow sender clock and would not shorten frames at all. Probe 2 is 2.5 s
 * after the step down.
 * The bars are the estimator's noise under these numbers. A second after
 * the 40 ms step up the target stands at the slowest of the ~46 packets of
 * the new path come by then, uniform over 20 ms: short of the path's top
 * by 20/47 ms on average, by more than 2.5 ms in one run of 500
 * ((17.5/20)^46) and more than 3 in one of 1700, while the 250 packets
 * before it put the first probe within a few tenths of the old top (the
 * rise over seeds 1..125: 39.6 ms on average, 37.7 at least): 37 ms.
 * After the step down the old delays sit above the new path by
 * the error of the measured step, a difference of medians, the newer over
 * the ~40 packets that showed it (sd 20/(2 sqrt 40) = 1.6 ms; over seeds
 * 1..125 the target came down to 1.4 ms above the first on average, 6.2 at
 * most): 8 ms is four of those above the average. */
static void check_path_faster(const scen *sc, const result *r)
{
    EXPECT(sc, r->target_at[1] >= r->target_at[0] + 37.0);
    EXPECT(sc, r->target_at[2] < r->target_at[0] + 8.0);
    EXPECT(sc, r->st.path_shifts >= 1 && r->st.path_shifts <= 2);
    EXPECT(sc, r->st.playout_delay_ms < r->target_at[2] + 5.0);
    EXPECT(sc, r->st.lost <= 6);
}

/* A sender clock 2% slow (SDL's disk driver under load does that): 1.2 s
 * of audio to fill in over the minute, by playing frames longer (it used
 * to take a concealed frame inserted every half second). Only the first
 * packets, before the drift is measured, may be late. */
static void check_slow_sender(const scen *sc, const result *r)
{
    EXPECT(sc, r->st.late <= 3);
    EXPECT(sc, r->added_ms >= 1000 && r->added_ms <= 1600);
    EXPECT(sc, r->lost_ms <= 100);
    EXPECT(sc, r->st.dropped_for_drift == 0 && r->st.inserted_for_drift == 0 && r->inserted_in_speech == 0);
}

static void check_drift(const scen *sc, const result *r)
{
    /* 0.1% of an hour is 3.6 s of audio to leave out or to add, now all
     * of it by playing frames shorter or longer. Without a margin the
     * delay stands at the estimate, for 4 ms of jitter the largest delay
     * seen; a slow sender's offset is lengthened once it is below it,
     * lagging the drift by up to a frame's fall, 0.02 ms, and a packet
     * that sets a new largest delay then is late: 0.66 in the hour on
     * average over seeds 1..125 (4 under seed 113: a bar of 3 fails one
     * run in 210), and more than 5 is Poisson's one in 15000. */
    double adj_ms = sc->drift_ppm > 0 ? r->skipped_ms : r->added_ms;
    double other_ms = sc->drift_ppm > 0 ? r->added_ms : r->skipped_ms;
    EXPECT(sc, adj_ms >= 3300 && adj_ms <= 4000);
    EXPECT(sc, other_ms <= 100);
    EXPECT(sc, r->st.dropped_for_drift == 0 && r->st.inserted_for_drift == 0 && r->inserted_in_speech == 0);
    EXPECT(sc, r->max_over_target_ms < 2.0 * sc->frame_ms);
    EXPECT(sc, r->max_lost_per_min <= 8);
    EXPECT(sc, r->lost_in_speech <= 5);
    EXPECT(sc, r->st.lost <= 5);
    EXPECT(sc, r->st.playout_delay_ms < 50.0);
}

static void check_cap(const scen *sc, const result *r)
{
    size_t i;
    EXPECT(sc, r->cap_ok);
    EXPECT(sc, r->st.dropped_for_cap > 0);
    EXPECT(sc, r->max_buffered_ms <= 300.0);
    /* Playout goes on after the flood: of its last packets, one may come
     * too late to play. Without a margin the delay stands at the
     * estimate, here the largest delay seen (2 ms of jitter has no tail to
     * extrapolate), and a packet a few microseconds past it is late, as
     * the 99.3% quantile leaves some (once in seeds 1..125). */
    uint64_t unplayed = 0;
    for (i = r->n - 60; i + 3 < r->n; i++)
        unplayed += r->p[i].played_us < 0;
    EXPECT(sc, unplayed <= 1);
}

/* ---- the table ---- */

/* Zero means "default" in every field below: 20 ms frames, 20 ms network
 * delay plus up to 2 ms of jitter, warm-up 3 s, default configuration.
 * Expectations are written X(n) and checked only when present. */
#define X(n) ((n) + 1)

static const int silence_spurts[] = {0, 3000, 5000, 8000, LIST_END};
static const int restart_spurts[] = {0, 3000, 3300, 6000, LIST_END};
static const int step_spurts[] = {0, 12000, 12600, 14000, 14600, 16000, 16600, 18000,
                                  18600, 20000, 20600, 22000, 22600, 24000, 24600, 26000,
                                  26600, 28000, LIST_END};

static const int swap_spurts[] = {0, 2000, 3000, 5000, LIST_END};
static const int fec_spurts[] = {0, 3000, 3500, 20000, LIST_END};

static const scen scenarios[] = {
    {.name = "in order", .dur_ms = 10000, .exp_lost = X(0), .exp_late = X(0), .exp_dups = X(0),
     .exp_fec = X(0), .exp_concealed = X(0), .check = check_all_played},
    {.name = "wraparound", .dur_ms = 4000, .seq0 = 65500, .ts0 = 0xfffe0000u,
     .exp_lost = X(0), .exp_late = X(0), .exp_concealed = X(0), .check = check_all_played},
    {.name = "reordered", .dur_ms = 10000, .reorder_every = 50, .reorder_us = 15000,
     .check = check_reordered},
    {.name = "duplicated", .dur_ms = 5000, .dups = {10, 20, 30, 40, 100, 150},
     .exp_lost = X(0), .exp_late = X(0), .exp_dups = X(6), .exp_concealed = X(0),
     .check = check_all_played},
    {.name = "late", .dur_ms = 3000, .min_delay_ms = 30, .late_idx = 50, .late_extra_ms = 200,
     .drops = {51}, .exp_lost = X(2), .exp_late = X(1), .exp_fec = X(1), .exp_concealed = X(1)},
    {.name = "single loss (FEC)", .dur_ms = 3000, .min_delay_ms = 30, .drops = {50},
     .exp_lost = X(1), .exp_late = X(0), .exp_fec = X(1), .exp_concealed = X(0)},
    {.name = "burst of 3", .dur_ms = 3000, .min_delay_ms = 30, .drops = {50, 51, 52},
     .exp_lost = X(3), .exp_late = X(0), .exp_fec = X(1), .exp_concealed = X(2)},
    {.name = "60 ms frames", .frame_ms = 60, .dur_ms = 6000, .exp_lost = X(0), .exp_late = X(0),
     .exp_concealed = X(0), .check = check_all_played},
    {.name = "frame size change", .dur_ms = 6000, .frame2_at_ms = 3000, .frame2_ms = 40,
     .exp_lost = X(0), .exp_late = X(0), .check = check_frame_change},
    {.name = "spurt start reordered", .dur_ms = 5000, .spurts = swap_spurts, .swap_idx = 100,
     .min_delay_ms = 30,
     .exp_lost = X(0), .exp_late = X(0), .exp_concealed = X(0), .max_tail = 2,
     .check = check_all_played},
    {.name = "outage 1.5 s", .dur_ms = 6000, .drop_from = 100, .drop_to = 175, .exp_lost = X(75),
     .exp_late = X(0), .max_tail = 2, .check = check_outage},
    {.name = "fec wait adapts", .dur_ms = 20000, .spurts = fec_spurts,
     .drops = {275, 305, 335, 365, 395, 425, 455, 485}, .max_tail = 2, .check = check_fec_wait},
    {.name = "silence gap 2 s", .dur_ms = 8000, .spurts = silence_spurts, .exp_lost = X(0),
     .exp_late = X(0), .exp_concealed = X(0), .max_tail = 2, .check = check_silence},
    {.name = "sender restart", .dur_ms = 6000, .restart_at_ms = 3300, .spurts = restart_spurts,
     .max_tail = 2, .check = check_restart},
    {.name = "restart, seq near", .dur_ms = 6000, .restart_at_ms = 3000,
     .restart_seq_delta = 5, .max_tail = 2, .check = check_restart},
    {.name = "restart, marker lost", .dur_ms = 6000, .restart_at_ms = 3300,
     .spurts = restart_spurts, .drops = {150}, .max_tail = 2, .check = check_restart},
    {.name = "jitter step", .dur_ms = 28000, .spurts = step_spurts, .step_at_ms = 5000,
     .step_us = 40000, .calm_at_ms = 10000, .max_tail = 16, .check = check_step},
    {.name = "jitter step, no pause", .dur_ms = 35000, .step_at_ms = 5000, .step_us = 40000,
     .calm_at_ms = 10000, .check = check_step_continuous},
    {.name = "path faster again", .dur_ms = 17500, .step_at_ms = 5000, .step_us = 40000,
     .calm_at_ms = 15000, .jitter_us = 20000, .check = check_path_faster},
    {.name = "hard cap", .dur_ms = 8000, .flood_at_ms = 3000, .flood_frames = 60,
     .max_tail = 4, .check = check_cap},
    {.name = "slow sender -2%", .dur_ms = 60000, .drift_ppm = -20000, .jitter_us = 2000,
     .check = check_slow_sender},
    {.name = "drift +0.1% 1 h", .dur_ms = 3600000, .drift_ppm = 1000, .jitter_us = 4000,
     .warm_ms = 30000, .check = check_drift},
    {.name = "drift -0.1% 1 h", .dur_ms = 3600000, .drift_ppm = -1000, .jitter_us = 4000,
     .warm_ms = 30000, .check = check_drift},
};

static void test_scenarios(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        scen s = scenarios[i];
        const scen *sc = &s;
        result r;
        uint64_t lost_frames;

        s.frame_ms = s.frame_ms ? s.frame_ms : 20;
        s.delay_us = s.delay_us ? s.delay_us : 20000;
        s.jitter_us = s.jitter_us ? s.jitter_us : 2000;
        s.warm_ms = s.warm_ms ? s.warm_ms : 3000;

        run(sc, &r);
        print_result(sc, &r);
        EXPECT(sc, r.order_ok);
        EXPECT(sc, r.put_ok);
        EXPECT(sc, r.fec_ok);
        EXPECT(sc, r.cap_ok);
        if (sc->exp_lost)
            EXPECT(sc, r.st.lost == (uint64_t)sc->exp_lost - 1);
        if (sc->exp_late)
            EXPECT(sc, r.st.late == (uint64_t)sc->exp_late - 1);
        if (sc->exp_dups)
            EXPECT(sc, r.st.duplicates == (uint64_t)sc->exp_dups - 1);
        if (sc->exp_fec)
            EXPECT(sc, r.st.fec_recovered == (uint64_t)sc->exp_fec - 1);
        if (sc->exp_concealed)
            EXPECT(sc, r.st.concealed_frames == (uint64_t)sc->exp_concealed - 1);
        /* Every LOST frame is accounted for: concealment or a spurt tail. */
        lost_frames = r.kinds[GV_JBUF_LOST];
        EXPECT(sc, lost_frames <= r.st.concealed_frames + r.st.tail_frames + 8);
        EXPECT(sc, r.st.tail_frames <= (uint64_t)sc->max_tail + 2);
        EXPECT(sc, r.kinds[GV_JBUF_FEC] == r.st.fec_recovered);
        if (sc->check)
            sc->check(sc, &r);
    }
}

/* ---- clock drift ---- */

typedef struct drift_case {
    const char *name;
    int drift_ppm, rx_ppm;
} drift_case;

static const drift_case drifts[] = {
    {"sender 2% slow", -20000, 0},
    {"sender 2% fast", 20000, 0},
    {"device 2% fast", 0, 20000},
    {"device 2% slow", 0, -20000},
};

/* Runs ten minutes without drift and then with each of drifts[], talking
 * in 3 s spurts with 1 s pauses (talk) or continuously, the device asked
 * for audio in blocks of block_us (0: frame by frame, on time). Each drift
 * must be followed by frames played longer or shorter: no frame inserted
 * or dropped inside a talk spurt, no more packets late than without drift
 * (but late_slack), and the delay (arrival to playout, after 30 s, and in
 * every 10 s window of it) within delay_slack_ms of the run without drift.
 * Without drift the frames are left alone but for trims of what a talk
 * spurt started with too much (the first spurt's initial delay; a block's
 * worth when asked in blocks): no frame lengthened after the first few,
 * and under 0.5% of the speech cut. */
static void drift_table(int talk, int block_us, double delay_slack_ms, uint64_t late_slack)
{
    scen base = {.name = talk ? "no drift, 3 s spurts" : "no drift, continuous",
                 .dur_ms = 600000,
                 .frame_ms = 20,
                 .delay_us = 20000,
                 .jitter_us = 4000,
                 .warm_ms = 30000,
                 .talk_ms = talk ? 3000 : 0,
                 .pause_ms = talk ? 1000 : 0,
                 .device_block_us = block_us};
    result r;
    double delay0;
    uint64_t late0;
    size_t i;

    print_message("  device asked %s\n", block_us ? "in blocks" : "frame by frame");
    run(&base, &r);
    print_result(&base, &r);
    delay0 = r.delay_sum_ms / (double)r.delay_n;
    late0 = r.st.late;
    print_message("    delay %.1f ms (10 s windows %.1f..%.1f), LOST in speech %llu\n", delay0, r.win_min_ms,
                  r.win_max_ms, (unsigned long long)r.lost_in_speech);
    EXPECT(&base, r.st.lengthened_frames <= 20 && r.skipped_ms <= 0.005 * r.st.received * base.frame_ms);
    for (i = 0; i < sizeof drifts / sizeof *drifts; i++) {
        char name[64];
        scen sc = base;
        double delay;
        snprintf(name, sizeof name, "%s, %s", drifts[i].name, talk ? "spurts" : "continuous");
        sc.name = name;
        sc.drift_ppm = drifts[i].drift_ppm;
        sc.rx_ppm = drifts[i].rx_ppm;
        run(&sc, &r);
        print_result(&sc, &r);
        delay = r.delay_sum_ms / (double)r.delay_n;
        print_message("    delay %.1f ms (10 s windows %.1f..%.1f), LOST in speech %llu (inserted %llu)\n", delay,
                      r.win_min_ms, r.win_max_ms, (unsigned long long)r.lost_in_speech,
                      (unsigned long long)r.inserted_in_speech);
        EXPECT(&sc, r.st.inserted_for_drift == 0 && r.st.dropped_for_drift == 0);
        EXPECT(&sc, r.inserted_in_speech == 0);
        EXPECT(&sc, r.unplayed == r.st.late);
        EXPECT(&sc, r.st.late <= late0 + late_slack);
        EXPECT(&sc, fabs(delay - delay0) <= delay_slack_ms);
        EXPECT(&sc, r.win_min_ms >= delay0 - delay_slack_ms && r.win_max_ms <= delay0 + delay_slack_ms);
    }
}

/* A sender whose clock runs 2% slow or fast (a cheap USB microphone), or a
 * receiver whose device pulls 2% fast or slow, with 4 ms of jitter, asked
 * for audio frame by frame at the time each frame plays: the delay stays
 * within 10 ms of the run without drift, and no more packets are late. */
static void test_clock_drift(void **state)
{
    (void)state;
    drift_table(0, 0, 10.0, 0);
    drift_table(1, 0, 10.0, 0);
}

/* The same with a device whose callback asks for its whole buffer at once:
 * gv_playout asks for each 2.5 ms block of it at the time that block will
 * play, so frames are asked for up to 2.5 ms early. The targets are
 * those of the frame-by-frame device. (A caller passing the buffer's start
 * for all of it made frames look up to a buffer early, and cost up to a
 * buffer more delay: the playout no longer does.) */
static void test_clock_drift_device_blocks(void **state)
{
    (void)state;
    drift_table(0, 2500, 10.0, 0);
    drift_table(1, 2500, 10.0, 0);
}

/* ---- isolated late packets ---- */

/* Packets that arrived and were never played, sent within [from, to) ms. */
static int unplayed_between(const result *r, int64_t from_ms, int64_t to_ms)
{
    int n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->p[i].at_ms >= from_ms && r->p[i].at_ms < to_ms && r->p[i].arrive_us >= 0 && r->p[i].played_us < 0;
    return n;
}

typedef struct hiccup_case {
    const char *name;
    int block_us, margin_ms;
    int pairs; /* a second hiccup 0.3 to 1 s after each */
    int stall_ms; /* hiccups of stall_ms..+10 ms instead of 8..15 ms: two packets late */
    int busy;  /* a spell of repeated lateness in the middle */
} hiccup_case;

static const hiccup_case hiccup_cases[] = {
    {"hiccups, 10 ms blocks", 10000, 5, 0, 0, 0},
    {"hiccups, 2.5 ms blocks", 2500, 5, 0, 0, 0},
    {"hiccups, frame by frame", 0, 0, 0, 0, 0},
    {"hiccup pairs, 10 ms blocks", 10000, 5, 1, 0, 0},
    {"hiccup pairs, 2.5 ms blocks", 2500, 5, 1, 0, 0},
    {"hiccup pairs, frame by frame", 0, 0, 1, 0, 0},
    {"long stalls, 10 ms blocks", 10000, 5, 0, 25, 0},
    {"long stalls, 2.5 ms blocks", 2500, 5, 0, 25, 0},
    {"long stalls, frame by frame", 0, 0, 0, 25, 0},
    {"busy spell, 10 ms blocks", 10000, 5, 0, 0, 1},
    {"busy spell, 2.5 ms blocks", 2500, 5, 0, 0, 1},
};

/* Two minutes of a clean path (20 ms + up to 1 ms) in one continuous
 * stream (the sender transmits in pauses too), where every 10 to 20 s a
 * thread somewhere is held up and one packet arrives 8 to 15 ms late (two
 * within a second: pairs; a stall of 25 to 35 ms that two packets wait
 * out: long stalls). The device pulls 10 ms blocks (all its frames asked
 * for at the block's start, which wakes up to 0.5 ms late) or 2.5 ms ones
 * with the playout's 5 ms margin, or is asked frame by frame without one.
 * The delay (send to playout) at the start of each utterance (every 3 s,
 * after 10 s) must stay within 3 ms: each late packet costs its frame,
 * concealed, and moves neither the target nor the delay. Then the same
 * with a busy spell from 50 to 70 s (a hiccup every 0.3 to 1.5 s): that is
 * jitter, and the delay must rise to it (words 5 ms above where the
 * clean path's target puts them, 20 ms + target: not necessarily above
 * where they were, as an excess left alone at the start may have had them
 * there all along, at 37 ms under seed 80), so that after its first 5 s at
 * most two more packets are late, and come back down after it (to within
 * 10 ms: with frames asked for at a block's start, a cut may hide in the
 * block; see EXCESS_MIN_US). The buffer cannot tell the quiet frames of
 * the pauses from speech, so where frames were stretched is only printed. */
static void test_isolated_hiccups(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof hiccup_cases / sizeof *hiccup_cases; i++) {
        const hiccup_case *hc = &hiccup_cases[i];
        scen sc = {.name = hc->name, .dur_ms = 120000, .frame_ms = 20, .delay_us = 20000, .jitter_us = 1000,
                   .warm_ms = 10000, .device_block_us = hc->block_us, .block_jitter_us = 500,
                   .hiccup_gap_ms = {10000, 20000}, .hiccup_ms = {8, 15},
                   .utter_ms = 3000, .quiet_ms = 600, .margin_ms = hc->margin_ms};
        result r;
        if (hc->stall_ms) {
            sc.hiccup_ms[0] = hc->stall_ms;
            sc.hiccup_ms[1] = hc->stall_ms + 10;
        }
        if (hc->pairs) {
            sc.pair_gap_ms[0] = 300;
            sc.pair_gap_ms[1] = 1000;
        }
        if (hc->busy) {
            sc.busy_ms[0] = 50000;
            sc.busy_ms[1] = 70000;
            sc.busy_gap_ms[0] = 300;
            sc.busy_gap_ms[1] = 1500;
        }
        run(&sc, &r);
        print_result(&sc, &r);
        print_message("    %d hiccups, utterances %d: %.1f..%.1f ms (spread %.1f) last %.1f, "
                      "LOST in speech %llu (%.0f ms), stretched %.0f ms in speech, %.0f ms in pauses, "
                      "target %.1f..%.1f, unplayed %llu\n",
                      r.hiccups, r.utter_n, r.utter_min_ms, r.utter_max_ms, r.utter_max_ms - r.utter_min_ms,
                      r.utter_last_ms, (unsigned long long)r.lost_in_speech, r.lost_ms, r.speech_stretch_ms,
                      r.pause_stretch_ms, r.tgt_min_ms, r.tgt_max_ms, (unsigned long long)r.unplayed);
        EXPECT(&sc, r.utter_n >= 30);
        if (!hc->busy) {
            EXPECT(&sc, r.utter_max_ms - r.utter_min_ms <= 3.0);
            EXPECT(&sc, r.unplayed <= (uint64_t)r.stalled + 2);
            EXPECT(&sc, r.lost_ms <= 20.0 * r.stalled + 60.0);
            EXPECT(&sc, r.tgt_max_ms - r.tgt_min_ms <= 1.0);
        } else {
            EXPECT(&sc, r.tgt_max_ms >= r.tgt_min_ms + 5.0);
            EXPECT(&sc, r.utter_max_ms >= sc.delay_us / 1000.0 + r.tgt_min_ms + 5.0);
            EXPECT(&sc, unplayed_between(&r, sc.busy_ms[0] + 5000, sc.busy_ms[1]) <= 2);
            EXPECT(&sc, r.utter_last_ms <= r.utter_min_ms + 10.0);
        }
    }
}

typedef struct wobble_case {
    const char *name;
    int block_us;
    int join_step_ms; /* the first 0.5 s arrive this much faster than the rest */
    int talk_ms, pause_ms;
    int spell_ms; /* spells this long (0: 1 to 3 s) */
    int first_late_ms; /* the second packet arrives this much late */
} wobble_case;

static const wobble_case wobble_cases[] = {
    {"wobble, words, frame by frame", 0, 0, 700, 300, 0, 0},
    {"wobble, words, 2.5 ms blocks", 2500, 0, 700, 300, 0, 0},
    {"wobble after a join burst, words, frame by frame", 0, 20, 700, 300, 0, 0},
    {"wobble, continuous, 10 ms blocks", 10000, 0, 0, 0, 0, 0},
    {"single packets late after a late join, words, frame by frame", 0, 0, 700, 300, 40, 40},
};

/* A clean path (20 ms + up to 1 ms) through a busy machine, as measured
 * through a sound server: now and then, for 1 to 3 s every 3 to 8 s,
 * every other packet leaves 5 ms late (the sender's device delivers in
 * 10 ms blocks, and their phase against its frames slips), and a join
 * may open with packets that came 20 ms faster than all after them, or
 * with one 40 ms late, followed by single packets 5 ms late now and then
 * (spells of 40 ms).
 * Speech in words (0.7 s, then 0.3 s of silence the sender does not
 * send) or continuous; the playout's 5 ms margin, the device pulling
 * 10 ms or 2.5 ms blocks. That much is no reason to move the delay:
 * every word after the first 3 s must start within 3 ms of every other,
 * and no packet after them may come too late to play; single late
 * packets must not move the estimate either. */
static void wobble_table(void)
{
    size_t i;
    for (i = 0; i < sizeof wobble_cases / sizeof *wobble_cases; i++) {
        const wobble_case *wc = &wobble_cases[i];
        scen sc = {.name = wc->name, .dur_ms = 60000, .frame_ms = 20, .delay_us = 20000, .jitter_us = 1000,
                   .warm_ms = 3000, .device_block_us = wc->block_us, .block_jitter_us = 500,
                   .talk_ms = wc->talk_ms, .pause_ms = wc->pause_ms, .utter_ms = 1000, .quiet_ms = 300,
                   .wobble_ms = 5, .wobble_gap_ms = {3000, 8000}, .wobble_len_ms = {1000, 3000}, .margin_ms = 5};
        result r;
        if (wc->spell_ms)
            sc.wobble_len_ms[0] = sc.wobble_len_ms[1] = wc->spell_ms;
        if (wc->first_late_ms) {
            sc.late_idx = 1;
            sc.late_extra_ms = wc->first_late_ms;
        }
        if (wc->join_step_ms) {
            sc.step_at_ms = 500;
            sc.step_us = wc->join_step_ms * 1000;
        }
        run(&sc, &r);
        print_result(&sc, &r);
        print_message("    utterances %d: %.1f..%.1f ms (spread %.1f), stretched %.0f ms in speech, "
                      "target %.1f..%.1f, unplayed %llu\n",
                      r.utter_n, r.utter_min_ms, r.utter_max_ms, r.utter_max_ms - r.utter_min_ms, r.speech_stretch_ms,
                      r.tgt_min_ms, r.tgt_max_ms, (unsigned long long)r.unplayed);
        EXPECT(&sc, r.utter_n >= 50);
        EXPECT(&sc, r.utter_max_ms - r.utter_min_ms <= 3.0);
        EXPECT(&sc, unplayed_between(&r, sc.warm_ms, sc.dur_ms) == 0);
        /* A packet alone is no news about the path: the estimate stays. */
        if (wc->spell_ms)
            EXPECT(&sc, r.tgt_max_ms - r.tgt_min_ms <= 2.0);
    }
}

/* Under the run's seed and more: under 1, 3 and 9, before a talk spurt
 * held just above the band's low edge started a little later, its first
 * words were lengthened by a pitch period (spreads of 5-7 ms); under the
 * others, before a delay forced up after the join burst landed where a
 * fresh start would (and a spurt's start was measured after an underrun
 * that waited at the end of the last one), it came to rest less than the
 * margin above the estimate, and the first wobble moved every word after
 * it (spreads of 6-10 ms). */
static void test_scheduling_wobble(void **state)
{
    static const uint64_t more[] = {1, 3, 9, 5, 54, 55, 67, 69, 70, 101, 102, 105};
    uint64_t seed = g_seed;
    (void)state;
    wobble_table();
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        g_seed = more[i];
        print_message("  seed %llu\n", (unsigned long long)g_seed);
        wobble_table();
    }
    g_seed = seed;
}

/* A sender's clock a little off the receiver's (a microphone's crystal,
 * or a device whose deliveries drift against its frames), speaking in
 * words with pauses it does not send: each word starts a talk spurt, where
 * the last one played, moved on by what the clock drifted since, while
 * the estimate lets it. Every word after the drift is measured (15 s)
 * starts within 2 ms of every other: a spurt starts up to 1 ms late
 * (silence comes in whole ms), and where it starts afresh the estimate's
 * own noise adds a little (1.4 at most over seeds 1..60; held where the
 * last one played, the words stepped by the drift between them and back
 * at the band's edge, 2.0-3.0 at -0.1%). */
static void test_words_under_sender_drift(void **state)
{
    static const int drifts_ppm[] = {-3000, -1000, 1000, 3000};
    (void)state;
    for (size_t i = 0; i < sizeof drifts_ppm / sizeof *drifts_ppm; i++) {
        char name[64];
        snprintf(name, sizeof name, "words, sender clock %+d ppm", drifts_ppm[i]);
        scen sc = {.name = name, .dur_ms = 60000, .frame_ms = 20, .drift_ppm = drifts_ppm[i], .delay_us = 20000,
                   .jitter_us = 1000, .warm_ms = 15000, .talk_ms = 700, .pause_ms = 300, .utter_ms = 1000,
                   .quiet_ms = 300, .margin_ms = 5};
        result r;
        run(&sc, &r);
        print_result(&sc, &r);
        print_message("    utterances %d: %.1f..%.1f ms (spread %.1f), stretched %.0f ms in speech\n", r.utter_n,
                      r.utter_min_ms, r.utter_max_ms, r.utter_max_ms - r.utter_min_ms, r.speech_stretch_ms);
        EXPECT(&sc, r.utter_n >= 40);
        EXPECT(&sc, r.utter_max_ms - r.utter_min_ms <= 2.0);
        EXPECT(&sc, unplayed_between(&r, sc.warm_ms, sc.dur_ms) == 0);
    }
}

/* ---- direct unit tests ---- */

/* Talk spurts of 1 s with 1 s pauses, 5 ms of network delay, and at each
 * onset `preroll` frames captured before the sender's voice detector fired,
 * sent in one burst with the onset frame. Returns the final target delay. */
static double spurts_with_preroll(int preroll, int flag_them)
{
    gv_jbuf *jb;
    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    uint8_t payload[40] = {0};
    uint16_t seq = 0;
    uint64_t now = 0;
    for (int spurt = 0; spurt < 20; spurt++) {
        uint64_t onset_us = (uint64_t)spurt * 2000000u;
        for (int f = -preroll; f < 50; f++) {
            /* Frame f covers [onset + 20f, onset + 20(f+1)) ms of sender time;
             * pre-roll frames leave with the onset frame. */
            uint64_t sent_us = onset_us + (uint64_t)((f < 0 ? 0 : f) + 1) * 20000u;
            uint32_t ts = (uint32_t)((int64_t)onset_us / 1000 * 48 + (int64_t)f * 960);
            int flags = (f == -preroll ? GV_JBUF_MARKER : 0) | (f < 0 && flag_them ? GV_JBUF_PREROLL : 0);
            uint64_t arrives = sent_us + 5000;
            /* Play out everything due before this arrives. */
            while (now + 5000 <= arrives) {
                gv_jbuf_frame fr;
                assert_true(gv_jbuf_get(jb, now, &fr) >= 0);
                now += (uint64_t)(fr.samples - fr.skip) * 1000000u / 48000u;
            }
            assert_int_equal(gv_jbuf_put(jb, seq++, ts, 960, flags, payload, sizeof payload, arrives), 0);
        }
    }
    gv_jbuf_stats st;
    gv_jbuf_get_stats(jb, &st);
    gv_jbuf_destroy(jb);
    return st.target_delay_ms;
}

/* A sender that lines its frames up with its capture device drops a few
 * inaudible samples now and then, in whole timestamp ticks, and its
 * timestamps go on over them: inside a talk spurt the next packet's
 * timestamp lies a tick (2.5 ms) past the last one's end. Nothing is
 * concealed, lost or late, and the packets after it play as far past
 * their timestamps as the ones before: a listener hears the words at the
 * same delay. */
static void test_timestamp_skip_in_spurt(void **state)
{
    (void)state;
    /* Mid-sentence, 10 s in, with the playout's 5 ms margin. (Larger
     * skips, made when a device's phase wrapped, look like a path that got
     * faster, and the delay follows them down.) */
    scen sc = {.name = "timestamps skip inside a spurt", .dur_ms = 20000, .frame_ms = 20, .delay_us = 20000,
               .jitter_us = 1000, .warm_ms = 3000, .ts_skip_at_ms = 10000, .ts_skip = 120, .margin_ms = 5};
    result r;
    run(&sc, &r);
    print_result(&sc, &r);
    EXPECT(&sc, r.st.lost == 0 && r.st.late == 0 && r.st.concealed_frames == 0);
    /* Played as far past the capture clock (the timestamps) before
     * the skip as after it: what a listener hears does not move. */
    double lo = 1e9, hi = -1e9;
    for (size_t i = 0; i < r.n; i++) {
        const pkt *p = &r.p[i];
        if (p->at_ms < sc.warm_ms || p->played_us < 0)
            continue;
        double ear = (double)p->played_us / 1000.0 - (double)(p->ts - r.p[0].ts) / 48.0;
        lo = fmin(lo, ear);
        hi = fmax(hi, ear);
    }
    print_message("    played past the capture clock: %.1f..%.1f ms\n", lo, hi);
    EXPECT(&sc, hi - lo <= 1.0);
}

/* Pre-roll audio arrives late by design; counted as network delay it would
 * drag every later talk spurt's latency up by the pre-roll's length. */
static void test_preroll_does_not_raise_delay(void **state)
{
    (void)state;
    double flagged = spurts_with_preroll(3, 1);
    double unflagged = spurts_with_preroll(3, 0);
    print_message("target with pre-roll flagged %.1f ms, unflagged %.1f ms\n", flagged, unflagged);
    assert_true(flagged < 15.0);
    assert_true(unflagged > flagged + 30.0);
}

/* Each packet also carries a copy of the one before (GV_JBUF_REDUNDANT),
 * and 10% of the packets are lost, never two in a row. A copy comes a
 * frame after its turn, so the first few losses are concealed; once the
 * loss rate shows, the buffer waits a frame (as for FEC; reached over two
 * or three frames played longer, where it used to insert one) and every
 * later lost packet is played from its copy, in order. Copies of packets
 * that did arrive change nothing: no duplicates, nothing late. */
static void test_redundant_copies(void **state)
{
    gv_jbuf *jb = NULL;
    gv_jbuf_frame f;
    gv_jbuf_stats st;
    rng r = {g_seed ^ 0x7265647564ull};
    int lost[500] = {0}, drops = 0, played = 0, expect = 0, in_order = 1;
    uint64_t now = 0;
    (void)state;

    for (int i = 1; i < 499; i++)
        if (!lost[i - 1] && rng_below(&r, 10) == 0)
            lost[i] = 1, drops++;
    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    for (int i = 0; i < 500; i++) {
        uint64_t arrive = (uint64_t)i * 20000 + 20000 + (uint64_t)rng_below(&r, 3000);
        uint8_t pl[4] = {(uint8_t)i, (uint8_t)(i >> 8), 0, 0}, prev[4] = {(uint8_t)(i - 1), (uint8_t)((i - 1) >> 8), 0, 0};
        while (now < arrive) {
            assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
            if (f.kind == GV_JBUF_PACKET) {
                int idx = f.payload[0] | f.payload[1] << 8;
                in_order &= idx >= expect;
                expect = idx + 1;
                played++;
            }
            now += (uint64_t)(f.samples - f.skip) * 125 / 6;
        }
        if (lost[i])
            continue;
        if (i > 0)
            gv_jbuf_put(jb, (uint16_t)(i - 1), (uint32_t)(i - 1) * 960, 960, GV_JBUF_REDUNDANT, prev, 4, arrive);
        gv_jbuf_put(jb, (uint16_t)i, (uint32_t)i * 960, 960, i == 0 ? GV_JBUF_MARKER : 0, pl, 4, arrive);
    }
    gv_jbuf_get_stats(jb, &st);
    if (!in_order || st.lost > 8 || st.lost + st.redundant_used != (uint64_t)drops || st.late != 0 ||
        st.duplicates != 0 || played + (int)st.lost < 495)
        fail_msg("seed %llu: in order %d, lost %llu late %llu dup %llu, redundant %llu of %d drops, played %d",
                 (unsigned long long)g_seed, in_order, (unsigned long long)st.lost, (unsigned long long)st.late,
                 (unsigned long long)st.duplicates, (unsigned long long)st.redundant_used, drops, played);
    gv_jbuf_destroy(jb);
}

/* Two hours of silence between two talk spurts (the delay history is kept
 * across silences), the second opening with a pre-roll frame, which stays
 * out of the estimate: that spurt still starts at a delay learnt from the
 * first, not at one computed from weights that have all decayed to 0. */
static void test_long_silence(void **state)
{
    gv_jbuf *jb = NULL;
    gv_jbuf_frame f;
    uint8_t pl[1] = {0};
    const uint64_t gap = 7200ull * 1000000;
    uint64_t now = 0, first_play = 0;
    (void)state;

    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    for (int spurt = 0; spurt < 2; spurt++) {
        uint64_t t0 = spurt ? gap : 0;
        uint32_t ts0 = spurt ? (uint32_t)(gap / 125 * 6) : 0;
        for (int i = 0; i < 100; i++) {
            uint64_t arrive = t0 + (uint64_t)i * 20000 + 20000 + (uint64_t)(i % 3) * 1000;
            if (spurt == 1 && i == 0) {
                uint64_t drained = now + 1000000; /* the first spurt plays out... */
                while (now < drained) {
                    assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
                    now += (uint64_t)(f.samples - f.skip) * 125 / 6;
                }
                now = arrive - 5000; /* ...then two hours of silence, not walked through */
            }
            while (now < arrive) {
                assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
                if (spurt && f.kind == GV_JBUF_PACKET && !first_play)
                    first_play = now;
                now += (uint64_t)(f.samples - f.skip) * 125 / 6;
            }
            /* As voice activation sends it: the held-back pre-roll frame
             * first (kept out of the delay estimate), then the marker. */
            int flags = spurt == 0 ? (i == 0 ? GV_JBUF_MARKER : 0)
                                   : (i == 0 ? GV_JBUF_PREROLL : i == 1 ? GV_JBUF_MARKER : 0);
            gv_jbuf_put(jb, (uint16_t)(spurt * 100 + i), ts0 + (uint32_t)i * 960, 960, flags, pl, 1, arrive);
        }
    }
    while (!first_play && now < gap + 4000000) {
        assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
        if (f.kind == GV_JBUF_PACKET)
            first_play = now;
        now += (uint64_t)(f.samples - f.skip) * 125 / 6;
    }
    /* The second spurt's first packet arrived at gap + 20 ms. */
    if (first_play < gap + 20000 || first_play > gap + 20000 + 30000)
        fail_msg("second spurt first played %.1f ms after its first packet arrived",
                 ((double)first_play - (double)(gap + 20000)) / 1000.0);
    gv_jbuf_destroy(jb);
}

/* Playback paused while a speaker is quiet (the program corks its stream
 * after a few seconds of nobody heard): the caller stops asking, the
 * quiet speaker's client still sends a lone frame now and then (each one
 * a spurt start, timestamps moving on by the time between them), and the
 * caller asks again only once the next talk spurt's first packet has come.
 * That spurt must play at the delay the last one did: the quiet frames of
 * the pause are past, and played first they would put it late by their
 * length (80 ms for four of them in a 1.5 s pause). */
typedef struct pause_case {
    const char *name;
    int frame_ms;        /* the speaker's frames */
    int pause_ms;        /* playback paused for */
    int quiet_every_ms;  /* a lone quiet frame this often while paused; 0: none; frame_ms: every
                          * frame from the end of the talk spurt on (a noisy microphone sending
                          * everything), the next spurt its continuation */
    int lead_frames;     /* frames of the new spurt sent before the one that resumes playback */
    int resume_after_us; /* from that frame's arrival to the first request */
} pause_case;

static const pause_case pause_cases[] = {
    {"1.5 s, quiet frames, 20 ms", 20, 1500, 420, 1, 5000},
    {"5 s, quiet frames, 20 ms", 20, 5000, 420, 1, 5000},
    {"1.5 s, quiet frames, 10 ms", 10, 1500, 420, 1, 5000},
    {"1.5 s, nothing sent, 20 ms", 20, 1500, 0, 0, 5000},
    {"3 s, quiet frames, slow to resume", 20, 3000, 420, 1, 30000},
    {"5 s, every frame sent, 20 ms", 20, 5000, 20, 1, 5000},
    {"1.5 s, every frame sent, 10 ms", 10, 1500, 10, 1, 5000},
};

typedef struct pause_result {
    double before; /* mean delay of the packet frames before the pause (ms from arrival) */
    double after;  /* of the first word after it */
    gv_jbuf_stats st;
} pause_result;

/* Plays pc: the caller stops asking over the pause, and asks again
 * resume_after_us after the spurt's waking frame came. */
static void play_pause_case(const pause_case *pc, pause_result *r)
{
    const int fs = pc->frame_ms * 48;
    const uint64_t fus = (uint64_t)pc->frame_ms * 1000;
    gv_jbuf *jb = NULL;
    gv_jbuf_frame f;
    uint64_t now = 0;
    uint32_t ts = 0;
    uint16_t seq = 0;
    int n_before = 0;
    uint64_t sent_at[4096] = {0};

    r->before = 0;
    r->after = -1;
    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    /* Asks for audio up to until, noting each packet frame's delay from
     * its arrival (payload: its sequence number). */
#define PLAY_UNTIL(until)                                                                                    \
    while (now < (until)) {                                                                                  \
        assert_int_equal(gv_jbuf_get(jb, now, &f), 0);                                                       \
        if (f.kind == GV_JBUF_PACKET) {                                                                      \
            int k = f.payload[0] | f.payload[1] << 8;                                                        \
            double d = ((double)now - (double)sent_at[k]) / 1000.0;                                          \
            if (k < 100)                                                                                     \
                r->before += d, n_before++;                                                                  \
            else if (k >= 1000 && r->after < 0)                                                              \
                r->after = d;                                                                                \
        }                                                                                                    \
        now += (uint64_t)(f.samples - f.skip) * 125 / 6;                                                     \
    }
    /* Two seconds of speech, 20 ms of network delay and 0..2 ms jitter. */
    uint64_t t = 100000;
    for (int i = 0; i < (int)(2000000 / fus); i++, t += fus) {
        uint64_t arrive = t + 20000 + (uint64_t)(i * 7 % 3) * 1000;
        PLAY_UNTIL(arrive);
        uint8_t pl[2] = {(uint8_t)i, 0};
        sent_at[i] = arrive;
        gv_jbuf_put(jb, seq++, ts, fs, i == 0 ? GV_JBUF_MARKER : 0, pl, 2, arrive);
        ts += (uint32_t)fs;
    }
    /* Silence, then the pause: nothing asked for from there on. */
    uint64_t pause_from = t + 1000000, resume_talk = pause_from + (uint64_t)pc->pause_ms * 1000;
    int continuous = pc->quiet_every_ms == pc->frame_ms, q = 0;
    if (continuous) {
        for (uint64_t at = t; at < resume_talk; at += fus, q++) {
            if (at + 20000 < pause_from)
                PLAY_UNTIL(at + 20000);
            uint8_t pl[2] = {(uint8_t)(200 + q % 50), 0};
            sent_at[200 + q % 50] = at + 20000;
            gv_jbuf_put(jb, seq++, ts, fs, 0, pl, 2, at + 20000);
            ts += (uint32_t)fs;
        }
        t = resume_talk;
    } else {
        PLAY_UNTIL(pause_from);
    }
    for (uint64_t at = pause_from + 200000; !continuous && pc->quiet_every_ms && at + 100000 < resume_talk;
         at += (uint64_t)pc->quiet_every_ms * 1000, q++) {
        uint8_t pl[2] = {(uint8_t)(200 + q), 0};
        uint32_t qts = ts + (uint32_t)((at - t) / 125 * 6) / (uint32_t)fs * (uint32_t)fs;
        sent_at[200 + q] = at + 20000;
        gv_jbuf_put(jb, seq++, qts, fs, GV_JBUF_MARKER, pl, 2, at + 20000);
    }
    /* The new spurt: its lead frames, then the frame that wakes the caller
     * up; then the rest as they come. */
    uint32_t ts2 = ts + (uint32_t)((resume_talk - t) / 125 * 6) / (uint32_t)fs * (uint32_t)fs;
    for (int i = 0; i < 100; i++) {
        uint64_t arrive = resume_talk + (uint64_t)i * fus + 20000 + (uint64_t)(i * 5 % 3) * 1000;
        if (i == pc->lead_frames)
            now = arrive + (uint64_t)pc->resume_after_us;
        else if (i > pc->lead_frames)
            PLAY_UNTIL(arrive);
        int k = i < pc->lead_frames ? 300 + i : 1000 + i;
        uint8_t pl[2] = {(uint8_t)(k & 0xff), (uint8_t)(k >> 8)};
        sent_at[k] = arrive;
        gv_jbuf_put(jb, seq++, ts2 + (uint32_t)(i * fs), fs, i == 0 && !continuous ? GV_JBUF_MARKER : 0, pl, 2,
                    arrive);
    }
    uint64_t end = now + 200000;
    PLAY_UNTIL(end);
#undef PLAY_UNTIL
    gv_jbuf_get_stats(jb, &r->st);
    r->before /= n_before;
    gv_jbuf_destroy(jb);
}

static void test_paused_playback(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof pause_cases / sizeof pause_cases[0]; c++) {
        const pause_case *pc = &pause_cases[c];
        pause_result r;
        play_pause_case(pc, &r);
        print_message("%s: delay %.1f ms before the pause, %.1f ms for the first word after it, target %.1f ms; "
                      "lost %llu, late %llu, unheard %llu, dropped %llu\n",
                      pc->name, r.before, r.after, r.st.target_delay_ms,
                      (unsigned long long)r.st.lost, (unsigned long long)r.st.late, (unsigned long long)r.st.unheard,
                      (unsigned long long)r.st.dropped_for_cap);
        /* The first word may wait for its lead frame and the late request,
         * no more. */
        double allowed = r.before + (double)pc->frame_ms * pc->lead_frames + pc->resume_after_us / 1000.0 + 3.0;
        /* Nothing was lost on the way: what the pause skipped came in time. */
        if (r.st.lost > 0 || r.st.late > 0 || r.st.dropped_for_cap > 0 || (pc->quiet_every_ms && r.st.unheard == 0))
            fail_msg("%s: %llu lost, %llu late, %llu dropped for the cap, %llu unheard", pc->name,
                     (unsigned long long)r.st.lost, (unsigned long long)r.st.late,
                     (unsigned long long)r.st.dropped_for_cap, (unsigned long long)r.st.unheard);
        if (r.after < 0 || r.after > allowed || r.st.target_delay_ms > r.before + 10.0)
            fail_msg("%s: first word after the pause played %.1f ms after it came (%.1f allowed), target %.1f ms",
                     pc->name, r.after, allowed, r.st.target_delay_ms);
    }
}

/* A server that held a talker back (its loudest-talkers limit) marks the
 * first packet it lets through again: the sequence numbers it skipped are
 * not loss, whether fewer than the buffer holds or more. The same gap
 * without the mark (packets lost inside a talk spurt) is. */
static void test_held_back_gap(void **state)
{
    static const struct {
        int gap;
        int marked;
        uint64_t lost;
    } cases[] = {{10, 1, 0}, {300, 1, 0}, {10, 0, 10}};
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gv_jbuf *jb = NULL;
        gv_jbuf_frame f;
        gv_jbuf_stats st;
        uint8_t pl[1] = {0};
        uint64_t now = 0;
        uint16_t seq = 0;
        uint32_t ts = 0;
        assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
        for (int i = 0; i < 100; i++) {
            if (i == 50) {
                seq = (uint16_t)(seq + cases[c].gap);
                ts += (uint32_t)(cases[c].gap * 960);
            }
            uint64_t arrive = (uint64_t)ts * 125 / 6 + 20000;
            while (now < arrive) {
                assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
                now += (uint64_t)(f.samples - f.skip) * 125 / 6;
            }
            int flags = i == 0 || (i == 50 && cases[c].marked) ? GV_JBUF_MARKER : 0;
            gv_jbuf_put(jb, seq++, ts, 960, flags, pl, 1, arrive);
            ts += 960;
        }
        for (uint64_t end = now + 200000; now < end;) {
            assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
            now += (uint64_t)(f.samples - f.skip) * 125 / 6;
        }
        gv_jbuf_get_stats(jb, &st);
        if (st.lost != cases[c].lost)
            fail_msg("a gap of %d %s: %llu lost, want %llu", cases[c].gap,
                     cases[c].marked ? "before a marked packet" : "inside a spurt", (unsigned long long)st.lost,
                     (unsigned long long)cases[c].lost);
        gv_jbuf_destroy(jb);
    }
}

static void test_invalid_args(void **state)
{
    gv_jbuf_config cfg;
    gv_jbuf *jb = NULL;
    gv_jbuf_frame f;
    gv_jbuf_stats st;
    uint8_t big[GV_JBUF_MAX_PAYLOAD + 1] = {0};
    (void)state;

    gv_jbuf_config_default(NULL);
    gv_jbuf_destroy(NULL);
    gv_jbuf_get_stats(NULL, &st);
    assert_int_equal(st.received, 0);
    gv_jbuf_get_stats(NULL, NULL);
    assert_int_equal(gv_jbuf_create(NULL, NULL), GV_EINVAL);

    gv_jbuf_config_default(&cfg);
    cfg.max_delay_ms = 10;
    assert_int_equal(gv_jbuf_create(&cfg, &jb), GV_EINVAL);
    assert_null(jb);
    gv_jbuf_config_default(&cfg);
    cfg.min_delay_ms = 400;
    assert_int_equal(gv_jbuf_create(&cfg, &jb), GV_EINVAL);
    gv_jbuf_config_default(&cfg);
    cfg.capacity_packets = 2;
    assert_int_equal(gv_jbuf_create(&cfg, &jb), GV_EINVAL);
    gv_jbuf_config_default(&cfg);
    cfg.quantile_permille = 1001;
    assert_int_equal(gv_jbuf_create(&cfg, &jb), GV_EINVAL);
    gv_jbuf_config_default(&cfg);
    cfg.initial_delay_ms = -1;
    assert_int_equal(gv_jbuf_create(&cfg, &jb), GV_EINVAL);

    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    assert_non_null(jb);
    assert_int_equal(gv_jbuf_put(NULL, 1, 0, 960, 1, big, 10, 0), GV_EINVAL);
    assert_int_equal(gv_jbuf_put(jb, 1, 0, 0, 1, big, 10, 0), GV_EINVAL);
    assert_int_equal(gv_jbuf_put(jb, 1, 0, 100, 1, big, 10, 0), GV_EINVAL);
    assert_int_equal(gv_jbuf_put(jb, 1, 0, 5880, 1, big, 10, 0), GV_EINVAL);
    assert_int_equal(gv_jbuf_put(jb, 1, 0, 960, 1, NULL, 10, 0), GV_EINVAL);
    assert_int_equal(gv_jbuf_put(jb, 1, 0, 960, 1, big, sizeof big, 0), GV_ETOOBIG);
    assert_int_equal(gv_jbuf_get(NULL, 0, &f), GV_EINVAL);
    assert_int_equal(gv_jbuf_get(jb, 0, NULL), GV_EINVAL);
    gv_jbuf_get_stats(jb, &st);
    assert_int_equal(st.received, 0);

    /* Nothing yet: silence in short steps. */
    assert_int_equal(gv_jbuf_get(jb, 0, &f), 0);
    assert_int_equal(f.kind, GV_JBUF_SILENCE);
    assert_true(f.samples > 0 && f.samples <= 480);
    /* An empty payload is allowed (the caller decides what it means). */
    assert_int_equal(gv_jbuf_put(jb, 1, 0, 960, 1, NULL, 0, 1000), 0);
    assert_int_equal(gv_jbuf_put(jb, 1, 0, 960, 1, NULL, 0, 1000), GV_EREPLAY);
    gv_jbuf_get_stats(jb, &st);
    assert_int_equal(st.received, 1);
    assert_int_equal(st.duplicates, 1);
    gv_jbuf_destroy(jb);
}

/* The first packet waits for the initial delay, then plays; payloads are
 * copied. */
static void test_first_packet_timing(void **state)
{
    gv_jbuf *jb = NULL;
    gv_jbuf_frame f;
    uint8_t pl[3] = {1, 2, 3};
    uint64_t now = 1000000;
    (void)state;

    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    assert_int_equal(gv_jbuf_put(jb, 7, 4800, 960, 1, pl, 3, now), 0);
    pl[0] = 9;
    for (;;) {
        assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
        if (f.kind != GV_JBUF_SILENCE)
            break;
        now += (uint64_t)(f.samples - f.skip) * 125 / 6;
        assert_true(now < 1100000);
    }
    assert_int_equal(f.kind, GV_JBUF_PACKET);
    assert_int_equal(f.len, 3);
    assert_int_equal(f.payload[0], 1);
    assert_int_equal(f.samples, 960);
    /* 10 ms initial delay, met to the millisecond. */
    assert_true(now >= 1010000 && now <= 1011000);
    gv_jbuf_destroy(jb);
}

/* Garbage in (random sequence numbers, timestamps, sizes, markers and
 * arrival times, mixed with a plausible stream): never a crash, a stall or
 * a broken invariant. */
static void test_random_input(void **state)
{
    rng r = {g_seed};
    gv_jbuf *jb = NULL;
    uint8_t pl[GV_JBUF_MAX_PAYLOAD];
    uint64_t now = 0;
    uint16_t seq = 100;
    uint32_t ts = 5000;
    int i;
    (void)state;

    memset(pl, 0x5a, sizeof pl);
    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    for (i = 0; i < 200000; i++) {
        uint64_t k = rng_next(&r) % 16;
        gv_jbuf_frame f;
        gv_jbuf_stats st;
        if (k < 6) {
            int samples = 120 * (int)(1 + rng_below(&r, 48));
            int rc;
            if (k == 0) {
                seq = (uint16_t)rng_next(&r);
                ts = (uint32_t)rng_next(&r);
            } else if (k == 1) {
                seq = (uint16_t)(seq + rng_below(&r, 200) - 100);
                ts += (uint32_t)rng_below(&r, 100000);
            }
            rc = gv_jbuf_put(jb, seq++, ts, samples, (int)rng_below(&r, 4) == 0, pl,
                             (size_t)rng_below(&r, GV_JBUF_MAX_PAYLOAD + 1), now);
            ts += (uint32_t)samples;
            assert_true(rc == 0 || rc == GV_EREPLAY);
        } else {
            assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
            assert_true(f.samples > 0 && f.samples <= 5760);
            assert_true((f.kind == GV_JBUF_PACKET || f.kind == GV_JBUF_FEC) == (f.payload != NULL));
            now += (uint64_t)(f.samples - f.skip) * 125 / 6;
        }
        if (rng_below(&r, 100) == 0)
            now += (uint64_t)rng_below(&r, 3000000);
        gv_jbuf_get_stats(jb, &st);
        assert_true(st.buffered_ms <= 300.0);
    }
    /* Whatever that left behind, a clean stream plays again at once. */
    {
        int played = 0;
        uint64_t t0 = now + 5000000, next = t0;
        seq = (uint16_t)rng_next(&r);
        ts = (uint32_t)rng_next(&r);
        for (i = 0; i < 100; i++) {
            uint64_t arrive = t0 + (uint64_t)(i + 1) * 20000 + 20000;
            gv_jbuf_frame f;
            while (next < arrive) {
                assert_int_equal(gv_jbuf_get(jb, next, &f), 0);
                played += f.kind == GV_JBUF_PACKET;
                next += (uint64_t)f.samples * 125 / 6;
            }
            gv_jbuf_put(jb, (uint16_t)(seq + i), ts + (uint32_t)i * 960, 960, i == 0, pl, 10, arrive);
        }
        while (next < t0 + 3000000) {
            gv_jbuf_frame f;
            assert_int_equal(gv_jbuf_get(jb, next, &f), 0);
            played += f.kind == GV_JBUF_PACKET;
            next += (uint64_t)f.samples * 125 / 6;
        }
        if (played < 99)
            print_error("GV_TEST_SEED=%llu: %d of 100 played\n", (unsigned long long)g_seed, played);
        assert_true(played >= 99);
    }
    gv_jbuf_destroy(jb);
}

/* The playout asks at a smoothed device time, which may lag an arrival
 * stamped on the control thread a moment before: a packet played "before"
 * it arrived counts as a small negative delay in the statistics, not as
 * the wrapped-around difference of two unsigned times. */
static void test_delay_statistic_signed(void **state)
{
    gv_jbuf *jb = NULL;
    gv_jbuf_frame f;
    gv_jbuf_stats st;
    uint64_t now = 1000000;
    (void)state;

    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    for (int i = 0; i < 100; i++) {
        uint8_t pl[4] = {(uint8_t)i, 0, 0, 0};
        assert_int_equal(gv_jbuf_put(jb, (uint16_t)i, (uint32_t)i * 960, 960, 0, pl, sizeof pl, now + 1000), 0);
        for (int played = 0; !played;) {
            assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
            played = f.kind == GV_JBUF_PACKET;
            now += (uint64_t)(f.samples - f.skip) * 125 / 6;
        }
    }
    gv_jbuf_get_stats(jb, &st);
    if (st.playout_delay_ms < -2.0 || st.playout_delay_ms > 50.0)
        fail_msg("playout delay %.2f ms for packets played as they arrived", st.playout_delay_ms);
    gv_jbuf_destroy(jb);
}

/* The relay stalled 2.5 s: packets 100..166 arrive in one burst when it
 * resumes, far too late, 167..224 were dropped on the way (its flood
 * budget), and 225 on arrive on time again. Everything from 100 to 224
 * never played, and the statistics say so: counted lost (or dropped to
 * keep the delay under the cap), not forgotten when the buffer follows the
 * stream again. */
static void test_loss_counted_across_stall(void **state)
{
    gv_jbuf *jb = NULL;
    gv_jbuf_frame f;
    gv_jbuf_stats st;
    uint64_t now = 0;
    int played = 0;
    (void)state;

    assert_int_equal(gv_jbuf_create(NULL, &jb), 0);
    for (int i = 0; i < 400; i++) {
        uint64_t arrive = (uint64_t)i * 20000 + 30000;
        if (i >= 100 && i <= 166)
            arrive = 225 * 20000 + 30000 - (uint64_t)(166 - i) * 10;
        if (i >= 167 && i <= 224)
            continue;
        while (now < arrive) {
            assert_int_equal(gv_jbuf_get(jb, now, &f), 0);
            played += f.kind == GV_JBUF_PACKET;
            now += (uint64_t)(f.samples - f.skip) * 125 / 6;
        }
        uint8_t pl[4] = {(uint8_t)i, 0, 0, 0};
        gv_jbuf_put(jb, (uint16_t)i, (uint32_t)i * 960, 960, 0, pl, sizeof pl, arrive);
    }
    gv_jbuf_get_stats(jb, &st);
    uint64_t gone = st.lost + st.dropped_for_cap;
    print_message("stall: played %d, lost %llu, dropped for the cap %llu, late %llu, resyncs %llu\n", played,
                  (unsigned long long)st.lost, (unsigned long long)st.dropped_for_cap, (unsigned long long)st.late,
                  (unsigned long long)st.resyncs);
    if (gone + (uint64_t)played < 398 || gone + (uint64_t)played > 400)
        fail_msg("%llu packets counted lost or dropped across the stall, %d of 400 played", (unsigned long long)gone,
                 played);
    /* Of what never played, what arrived is late: the rest (58 packets)
     * never arrived. */
    if (st.lost - st.late != 58)
        fail_msg("lost %llu - late %llu: %llu never arrived, not 58", (unsigned long long)st.lost,
                 (unsigned long long)st.late, (unsigned long long)(st.lost - st.late));
    gv_jbuf_destroy(jb);
}

int main(void)
{
    const char *env = getenv("GV_TEST_SEED");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redundant_copies),
        cmocka_unit_test(test_long_silence),
        cmocka_unit_test(test_paused_playback),
        cmocka_unit_test(test_held_back_gap),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_preroll_does_not_raise_delay),
        cmocka_unit_test(test_first_packet_timing),
        cmocka_unit_test(test_delay_statistic_signed),
        cmocka_unit_test(test_loss_counted_across_stall),
        cmocka_unit_test(test_random_input),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_clock_drift),
        cmocka_unit_test(test_clock_drift_device_blocks),
        cmocka_unit_test(test_isolated_hiccups),
        cmocka_unit_test(test_scheduling_wobble),
        cmocka_unit_test(test_words_under_sender_drift),
        cmocka_unit_test(test_timestamp_skip_in_spurt),
    };
    int rc;
    if (env)
        g_seed = strtoull(env, NULL, 0);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_pkts);
    free(g_arr);
    gv_jbuf_destroy(g_jb);
    return rc;
}
