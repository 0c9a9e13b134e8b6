#include "audio/gv_jbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

/* Sequence numbers and timestamps are unwrapped into int64 counters that
 * start far from zero, so that a reordered packet from before the first one
 * never goes negative and slot indices stay simple. */
#define EXT_SEQ_BASE ((int64_t)1 << 32)
#define EXT_TS_BASE ((int64_t)1 << 40)

#define WIN_MAX 512     /* delay samples kept at most */
#define WIN_KEEP 16     /* kept across silences whatever their age */
#define WIN_TRUST 8     /* below this the initial delay is a floor */
#define OUTLIERS 2      /* largest delays clipped in the tail fit */
#define EARLY_PERSIST_US 1000000 /* far-too-early arrivals this long: a new path */
#define SEQ_FAR 1000    /* further than this from the newest: not this stream */
#define RESYNC_MIN_US 2000000 /* arrival delay this far off: not this stream */
#define STRAY_RESYNC 8  /* this many foreign packets in a row: follow them */
#define RESUME_GAP_MAX 3000 /* packets (a minute of 20 ms frames) a stalled sender can have sent meanwhile */
#define SILENCE_CHUNK 240 /* 5 ms: a waiting talk spurt starts at most this late */
#define NUDGE_MAX_US 1000 /* a talk spurt starts at most this much later than the last to keep clear of the band's edge */
#define PAUSE_CHUNK 240  /* 2.5 ms steps would do for Opus; 5 ms halves the calls */
#define PERSIST_US 2000000 /* excess must last this long before the delay is cut */
/* Smaller excesses are left alone: a frame is lengthened by a pitch period
 * (2.5 to 10 ms) when the delay dips, and cutting back the little it
 * overshot would only move the delay again, which a listener hears as a
 * voice whose timing wobbles (measured through a sound server). A caller
 * asking for a device's block at its start adds how early frames are asked
 * (block_us): a cut moves the frames against the blocks and may hide in
 * that, so the offset does not show it, and cut after cut the delay falls
 * until the frames cross a block boundary, look a block later and are
 * lengthened again (a 5..10 ms saw-tooth every few seconds with 10 ms
 * blocks, and a concealed frame at each tooth). */
#define EXCESS_MIN_US 4000
#define SLOW_SENDER 0.0002 /* delays growing this fast: the sender's clock is slow */
/* A slow sender's level falls through the margin by itself and is
 * lengthened once half of it is gone; it is lengthened earlier by as much
 * as it falls in this long (the whole margin at 2%). Otherwise the level
 * ended every lengthening cycle on half a margin, and the wobble of a
 * real-time caller's clock had the listener wait for a packet (5 ms
 * concealed) every quarter second or so: 4 to 16 waits in 16 s of a 2%
 * slow sender's speech on a busy machine (23 once in CI), against 0 or 1
 * for a 2% fast sender, whose level never falls below the target; 0 or 1
 * with it. A small drift is left almost alone: its words would only be
 * lengthened more (they end before the level reaches half the margin). */
#define SLOW_LOOKAHEAD_US 125000
#define VERY_SLOW_SENDER 0.002 /* far beyond real clocks: a device driver's timer */
#define FAST_FALL 0.01 /* a delay falling this fast keeps the jitter of now_us in hand */
#define STEADY_R2 0.9 /* share of the minima's variance a steady drift explains */
#define HEADROOM_US 500 /* left above target when a frame is shortened */
#define DRAIN_MIN_US 100000 /* at most ten frames a second are shortened to drain */
#define STRETCH_UNIT 480 /* 10 ms: 5..10 ms holds a whole period of any voice of 100..400 Hz */
#define STRETCH_MIN_FRAME 240 /* shorter frames are played as they are */
#define TOPUP_N 512.0 /* packet frames: the playout's own drift is judged over about 10 s */
#define BLOCK_N 3000.0 /* packet frames: how early frames are asked is forgotten over a minute */
#define RECENT 16 /* packet frames whose excess is remembered (DRAIN_MIN_US of 10 ms frames) */
#define CALM_WINDOW_US 1000000 /* a spike is over when this long has been calm */
#define CALM_MIN_PACKETS 20
#define CALM_MIN_HEIGHT_US 20000 /* lower estimates are left alone: nothing to win */
#define CALM_SPEEDUP 6.0 /* the estimate's half-life is this much shorter then */
#define SHIFT_WINDOW_US 1000000 /* a path that got faster is judged on this long */
#define LOSS_EWMA_N 256.0 /* packets: recent loss is judged over about 5 s */
#define LATE_MEMORY_US 1000000 /* a late packet this recent makes an underrun wait */
#define LATE_REPEAT_US 3000000 /* ... and, if it was a hiccup, another one this recent */
#define HICCUP_HEIGHT 2 /* a late delay this many times the quantile's height is a hiccup */
#define BLOCK_US 500000 /* clock drift is measured on the minimum delay per block */
#define BLOCKS 64 /* over 32 s */
#define DRIFT_MIN_BLOCKS 4 /* the first estimate after 2 s */
#define DRIFT_MAX 0.03   /* beyond 3% it is no clock drift (cheap USB microphones reach 2%) */

enum { ST_IDLE, ST_WAIT, ST_PLAY };
enum { SLOT_EMPTY, SLOT_STORED, SLOT_PLAYED };

typedef struct slot {
    int64_t seq;
    int64_t ts;
    uint64_t arrival_us;
    int samples;
    int marker;
    int copy; /* brought by the next packet's redundancy, not by itself */
    int state;
    size_t len;
    uint8_t payload[GV_JBUF_MAX_PAYLOAD];
} slot;

typedef struct win_entry {
    uint64_t at_us;
    int64_t d_us;
} win_entry;

typedef struct targets {
    int64_t anchor; /* playout offset (now - sender time) to start a spurt at */
    int64_t low;    /* below this a frame is lengthened */
    int64_t high;   /* a spurt may start where the last one played up to this */
} targets;

struct gv_jbuf {
    gv_jbuf_config cfg;
    slot *slots;
    int cap;

    /* Relative delays d = arrival time - sender time of the packet's last
     * sample, in arrival order (fifo) and sorted, over the recent window. */
    win_entry *fifo;
    int64_t *sorted;
    uint64_t *sorted_at; /* arrival time of each sorted delay, for its weight */
    double *weights;     /* scratch for the estimate, one per sorted delay */
    int win_head, win_n;
    int64_t last_d;
    int have_last_d;
    uint64_t early_since_us;
    int have_early;
    double jitter_us;
    /* Minimum delay per block of BLOCK_US, for the drift between the
     * sender's and our clock (delay change per unit of time). */
    uint64_t blk_start_us, blk_last_us;
    int64_t blk_min;
    int blk_active;
    double blk_t[BLOCKS], blk_d[BLOCKS];
    int blk_head, blk_n;
    double drift;
    int drift_steady; /* the minima lie on a line: a clock, not a path change */
    /* The window holds delays less the skew, the sender clock's drift
     * integrated over time (skew_base at skew_t0, growing by skew_rate
     * since): to a drifting clock they then look as a steady one's do, and
     * the quantile speaks of the jitter, not of where the delay was. */
    double skew_base, skew_rate;
    uint64_t skew_t0;
    double loss_ewma; /* loss bursts per packet, recent */
    int64_t last_lost_seq;
    int fec_wait; /* loss is high enough to wait for the packet carrying FEC */
    int64_t tgt_us;
    int64_t q_height; /* of the delay quantile above the fastest packet */

    int state;
    int started; /* something of this stream was played: seqs below next_seq are final */
    int64_t hi_seq, hi_ts;
    int64_t next_seq; /* lowest sequence number not yet played or given up */
    int64_t exp_ts;   /* where next_seq is expected to start */
    int64_t play_ts;  /* sender time of the next sample handed out */
    int last_fs;
    int stray;

    /* An underrun episode: the next packet is missing and nothing later is
     * here. Its LOST frames are pending until we learn whether they covered
     * a loss or the end of a talk spurt. */
    int ep_active;
    int ep_samples;
    uint64_t ep_start_us;
    uint64_t pend;
    uint64_t last_late_us, prev_late_us; /* the last two late arrivals, */
    int have_late;                      /* if there were that many */
    int late_hiccup; /* the last one stood far above the path's jitter */
    int64_t late_d;  /* the last one's delay, as the window holds it */
    uint64_t excess_since_us;
    uint64_t last_cut_us;
    int have_excess;
    int draining; /* this excess is cut as fast as the splice takes it */
    int have_cut;
    /* How much the packet frames played lately were asked to be played
     * longer (less what shorter), against how long they played: above 0
     * the delay falls by itself (the sender's clock runs slow, the device
     * pulls fast), however jittery now_us is. */
    double topup_us, topup_time;
    /* The largest recent step of the playout offset between packets played
     * one after the other as they were (prev_*): the jitter of now_us (a
     * caller asking for a device's whole block at its start). */
    double now_jitter;
    int64_t prev_off, prev_end_ts;
    int64_t last_fall; /* of the offset between the last two such packets */
    int prev_plain; /* the last frame handed out was a packet played as it is */
    int prev_packet, prev_skip; /* ... a packet, played with this skip */
    /* The playout offset talk spurts start at while the estimate lets
     * it be (see compute_targets). Set, not measured at every packet: a
     * spurt starts up to a millisecond late, and measured it would creep
     * up by that much with every spurt. Measured again only after the
     * level moved (a frame played stretched, a late packet waited for). */
    int64_t held_off;
    /* The skew when held_off was set: a drifting sender's clock moves the
     * offset its words need by as much between talk spurts. Held where it
     * was, each word played earlier (a slow clock) by the drift since the
     * last, until the band's edge reset it: at 0.1%, words a second apart
     * stepped by 1 ms and back by 2-3 every third. */
    int64_t held_skew;
    int have_held, held_moved;
    /* The delay was forced up (a frame lengthened below the band, a late
     * packet waited for) and has not reached a fresh start's level yet: a
     * raise that stops at the band's low edge leaves no margin for the
     * next rise of the estimate, so frames go on being lengthened up to
     * the anchor, and the next talk spurt starts afresh. */
    int raised;
    uint64_t next_ask_us; /* when the caller asks next if it keeps asking */
    uint64_t asked_us;    /* the time it passed last */
    /* How early frames were asked for, as only stretches show it (see
     * track_jitter); forgotten over about a minute. */
    double block_us;
    int64_t recent_excess[RECENT]; /* of the last packet frames since the level moved */
    uint64_t recent_at[RECENT];
    uint64_t recent_since; /* when the first of them played */
    int recent_n;
    /* The path stepped down this recently: what is buffered above target
     * is known to be too much, so it goes without waiting to persist. */
    uint64_t shift_at_us;
    int have_shift;

    int64_t buffered;
    int held;
    double playout_delay_us;
    int have_playout;
    gv_jbuf_stats st;
};

static int64_t ts_to_us(int64_t ts)
{
    return ts * 125 / 6;
}

static int64_t frame_us(int samples)
{
    return (int64_t)samples * 125 / 6;
}

static int valid_samples(int samples)
{
    return samples >= 120 && samples <= 5760 && samples % 120 == 0;
}

void gv_jbuf_config_default(gv_jbuf_config *cfg)
{
    if (!cfg)
        return;
    cfg->min_delay_ms = 0;
    cfg->max_delay_ms = 300;
    cfg->initial_delay_ms = 10;
    cfg->capacity_packets = 64;
    cfg->window_ms = 10000;
    cfg->half_life_ms = 3000;
    cfg->quantile_permille = 993;
    cfg->margin_ms = 0;
    cfg->fec_wait_loss_permille = 10;
    cfg->conceal_max_ms = 40;
}

static int config_ok(const gv_jbuf_config *c)
{
    return c->min_delay_ms >= 0 && c->max_delay_ms >= 60 && c->max_delay_ms <= 10000 &&
           c->min_delay_ms <= c->max_delay_ms && c->initial_delay_ms >= c->min_delay_ms &&
           c->initial_delay_ms <= c->max_delay_ms && c->capacity_packets >= 8 &&
           c->capacity_packets <= 4096 && c->window_ms >= 100 && c->window_ms <= 600000 && c->half_life_ms >= 0 &&
           c->half_life_ms <= 600000 &&
           c->quantile_permille >= 500 && c->quantile_permille <= 1000 && c->margin_ms >= 0 &&
           c->margin_ms <= 1000 && c->fec_wait_loss_permille >= 0 &&
           c->fec_wait_loss_permille <= 1000 && c->conceal_max_ms >= 0 &&
           c->conceal_max_ms <= 1000;
}

int gv_jbuf_create(const gv_jbuf_config *cfg, gv_jbuf **out)
{
    gv_jbuf_config c;
    gv_jbuf *jb = NULL;
    int rc = GV_ENOMEM;

    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (cfg)
        c = *cfg;
    else
        gv_jbuf_config_default(&c);
    if (!config_ok(&c))
        return GV_EINVAL;

    jb = calloc(1, sizeof *jb);
    if (!jb)
        goto out;
    jb->cfg = c;
    jb->cap = c.capacity_packets;
    jb->slots = calloc((size_t)jb->cap, sizeof *jb->slots);
    jb->fifo = calloc(WIN_MAX, sizeof *jb->fifo);
    jb->sorted = calloc(WIN_MAX, sizeof *jb->sorted);
    jb->sorted_at = calloc(WIN_MAX, sizeof *jb->sorted_at);
    jb->weights = calloc(WIN_MAX, sizeof *jb->weights);
    if (!jb->slots || !jb->fifo || !jb->sorted || !jb->sorted_at || !jb->weights)
        goto out;
    jb->state = ST_IDLE;
    jb->tgt_us = (int64_t)c.initial_delay_ms * 1000;
    jb->last_fs = 960;
    *out = jb;
    jb = NULL;
    rc = 0;
out:
    gv_jbuf_destroy(jb);
    return rc;
}

void gv_jbuf_destroy(gv_jbuf *jb)
{
    if (!jb)
        return;
    free(jb->slots);
    free(jb->fifo);
    free(jb->sorted);
    free(jb->sorted_at);
    free(jb->weights);
    free(jb);
}

static slot *slot_of(gv_jbuf *jb, int64_t seq)
{
    return &jb->slots[(uint64_t)seq % (uint64_t)jb->cap];
}

static slot *stored(gv_jbuf *jb, int64_t seq)
{
    slot *s = slot_of(jb, seq);
    return s->state == SLOT_STORED && s->seq == seq ? s : NULL;
}

/* ---- delay estimator ---- */

static int sorted_find(const gv_jbuf *jb, int64_t d)
{
    int lo = 0, hi = jb->win_n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (jb->sorted[mid] < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void win_pop(gv_jbuf *jb)
{
    win_entry e = jb->fifo[jb->win_head];
    int i = sorted_find(jb, e.d_us);
    size_t n;

    while (i < jb->win_n - 1 && jb->sorted_at[i] != e.at_us && jb->sorted[i + 1] == e.d_us)
        i++;
    n = (size_t)(jb->win_n - i - 1);
    memmove(&jb->sorted[i], &jb->sorted[i + 1], n * sizeof *jb->sorted);
    memmove(&jb->sorted_at[i], &jb->sorted_at[i + 1], n * sizeof *jb->sorted_at);
    jb->win_head = (jb->win_head + 1) % WIN_MAX;
    jb->win_n--;
}

/* Adds a delay to the sorted arrays; the fifo is the caller's. */
static void sorted_insert(gv_jbuf *jb, int64_t d, uint64_t at_us)
{
    int i = sorted_find(jb, d);

    memmove(&jb->sorted[i + 1], &jb->sorted[i], (size_t)(jb->win_n - i) * sizeof *jb->sorted);
    memmove(&jb->sorted_at[i + 1], &jb->sorted_at[i], (size_t)(jb->win_n - i) * sizeof *jb->sorted_at);
    jb->sorted[i] = d;
    jb->sorted_at[i] = at_us;
    jb->win_n++;
}

/* The median of the window's delays that arrived at or after since_us
 * (newer) or before it (!newer); count is how many of them there are. */
static int64_t median_since(const gv_jbuf *jb, uint64_t since_us, int count, int newer)
{
    int i, seen = 0;

    for (i = 0; i < jb->win_n; i++) {
        if ((jb->sorted_at[i] >= since_us) == newer && 2 * ++seen >= count)
            return jb->sorted[i];
    }
    return jb->sorted[jb->win_n - 1];
}

/* When at least two thirds of the last second's delays lie below the
 * window's lower quartile, the path got faster (a handover back, a queue
 * that drained). Stationary jitter almost never does that, whatever its
 * distribution (half of fifty independent delays below a quartile is four
 * standard deviations away already), so the test needs no scale. The
 * older delays then describe the old path: they are moved down by the
 * step (the difference of the medians before and after it), which keeps
 * their word on the jitter while the base delay follows at once; a
 * second of delays alone would make a noisy tail. The step starts with
 * the newest run of delays that lies (nine in ten) below the quartile;
 * packets in that run that were sent before its first packet faster than
 * its median, and lie nearer the old level than the new themselves (more
 * than half the step above that median), took the old path (they arrive
 * after faster packets sent later) and move too. Slower than the median
 * alone is not enough: a packet of the new path sent a little before that
 * first one, moved, would drag the base delay below the path's by the
 * step (the target then read 20 ms too high, in 10 seeds of 20).
 * Returns whether the delays were moved. */
static int follow_step_down(gv_jbuf *jb, uint64_t now)
{
    int64_t quartile = jb->sorted[jb->win_n / 4], median, step, first_fast_sent = 0;
    int i, recent = 0, below = 0, cut = jb->win_n, n = jb->win_n;
    uint64_t run_start;

    for (i = n - 1; i >= 0; i--) {
        const win_entry *e = &jb->fifo[(jb->win_head + i) % WIN_MAX];
        if (e->at_us + SHIFT_WINDOW_US < now)
            break;
        recent++;
        below += e->d_us < quartile;
        if (10 * below >= 9 * recent)
            cut = i;
    }
    /* cut == n: the newest delays stand above the quartile, and no run
     * lies below it (medians over nothing read the step as anything, and
     * each step moved the delays further down: 42, 43, 87, 173, 346 ms). */
    if (recent < CALM_MIN_PACKETS || n < 2 * recent || 3 * below < 2 * recent || cut == n)
        return 0;
    run_start = jb->fifo[(jb->win_head + cut) % WIN_MAX].at_us;
    median = median_since(jb, run_start, n - cut, 1);
    step = median_since(jb, run_start, cut, 0) - median;
    if (step <= 0)
        return 0;
    for (i = cut; i < n; i++) {
        const win_entry *e = &jb->fifo[(jb->win_head + i) % WIN_MAX];
        if (e->d_us < median) {
            first_fast_sent = (int64_t)e->at_us - e->d_us;
            break;
        }
    }
    jb->win_n = 0;
    for (i = 0; i < n; i++) {
        win_entry *e = &jb->fifo[(jb->win_head + i) % WIN_MAX];
        if (i < cut || (e->d_us > median + step / 2 && (int64_t)e->at_us - e->d_us < first_fast_sent))
            e->d_us -= step;
        sorted_insert(jb, e->d_us, e->at_us);
    }
    return 1;
}

/* The sender's clock drift, when the minima say it is one: a path that
 * stepped (a handover) also tilts the fitted line, but it is over once
 * and must neither be followed on nor stop shortening. */
static double clock_drift(const gv_jbuf *jb)
{
    return jb->drift_steady ? jb->drift : 0.0;
}

static double early_slope(const gv_jbuf *jb);

/* How fast the delays grow by the sender's clock: the slope of the delays
 * so far until the drift can be measured. */
static double sender_slowness(const gv_jbuf *jb)
{
    return jb->blk_n < DRIFT_MIN_BLOCKS ? early_slope(jb) : clock_drift(jb);
}

static int64_t skew_at(const gv_jbuf *jb, uint64_t now)
{
    return (int64_t)llround(jb->skew_base + jb->skew_rate * ((double)now - (double)jb->skew_t0));
}

/* From now on the skew grows at the drift as estimated now. */
static void rebase_skew(gv_jbuf *jb, uint64_t now)
{
    jb->skew_base += jb->skew_rate * ((double)now - (double)jb->skew_t0);
    jb->skew_t0 = now;
    jb->skew_rate = clock_drift(jb);
}

/* Least-squares slope of the per-block minimum delays: jitter only adds
 * to a delay, so the minima follow the clocks' drift and little else. */
static void track_drift(gv_jbuf *jb, int64_t d, uint64_t now)
{
    double mt = 0, md = 0, num = 0, den = 0;
    int i;

    if (jb->blk_active && now - jb->blk_start_us < BLOCK_US) {
        if (d < jb->blk_min)
            jb->blk_min = d;
        jb->blk_last_us = now;
        return;
    }
    if (jb->blk_active) {
        i = (jb->blk_head + jb->blk_n) % BLOCKS;
        if (jb->blk_n == BLOCKS)
            jb->blk_head = (jb->blk_head + 1) % BLOCKS;
        else
            jb->blk_n++;
        jb->blk_t[i] = ((double)jb->blk_start_us + (double)jb->blk_last_us) / 2e6;
        jb->blk_d[i] = (double)jb->blk_min / 1e6;
    }
    jb->blk_active = 1;
    jb->blk_start_us = jb->blk_last_us = now;
    jb->blk_min = d;
    if (jb->blk_n < DRIFT_MIN_BLOCKS)
        return;
    for (i = 0; i < jb->blk_n; i++) {
        mt += jb->blk_t[i];
        md += jb->blk_d[i];
    }
    mt /= jb->blk_n;
    md /= jb->blk_n;
    for (i = 0; i < jb->blk_n; i++) {
        num += (jb->blk_t[i] - mt) * (jb->blk_d[i] - md);
        den += (jb->blk_t[i] - mt) * (jb->blk_t[i] - mt);
    }
    jb->drift = den > 0 ? num / den : 0;
    /* How straight the minima lie: a clock drifts steadily, a path that
     * changed (a handover) steps once and fits a line badly. */
    {
        double ss = 0, res = 0;
        for (i = 0; i < jb->blk_n; i++) {
            double e = jb->blk_d[i] - md - jb->drift * (jb->blk_t[i] - mt);
            ss += (jb->blk_d[i] - md) * (jb->blk_d[i] - md);
            res += e * e;
        }
        jb->drift_steady = ss > 0 && res < (1.0 - STEADY_R2) * ss;
    }
    if (jb->drift > DRIFT_MAX || jb->drift < -DRIFT_MAX)
        jb->drift = jb->drift > 0 ? DRIFT_MAX : -DRIFT_MAX;
    rebase_skew(jb, now);
}

static void win_push(gv_jbuf *jb, int64_t d, uint64_t now)
{
    uint64_t horizon = (uint64_t)jb->cfg.window_ms * 1000;
    int64_t dw = d - skew_at(jb, now); /* as the window holds it */

    /* A packet that arrives earlier than the typical one by more than the
     * cap was sent ahead of time (a burst, a flood): it cannot be played
     * on time without exceeding the cap anyway, so it must not drag the
     * delay floor down. Only when such arrivals go on for a while has the
     * path really changed. */
    if (jb->win_n > 0 &&
        dw < jb->sorted[jb->win_n / 2] - (int64_t)jb->cfg.max_delay_ms * 1000) {
        if (!jb->have_early) {
            jb->have_early = 1;
            jb->early_since_us = now;
        }
        if (now - jb->early_since_us < EARLY_PERSIST_US)
            return;
        jb->win_n = 0;
        jb->win_head = 0;
        jb->blk_active = 0;
        jb->blk_n = 0;
        jb->drift = 0;
        jb->drift_steady = 0;
        rebase_skew(jb, now);
    }
    jb->have_early = 0;

    while (jb->win_n == WIN_MAX ||
           (jb->win_n > WIN_KEEP && now > horizon && jb->fifo[jb->win_head].at_us < now - horizon))
        win_pop(jb);
    jb->fifo[(jb->win_head + jb->win_n) % WIN_MAX] = (win_entry){now, dw};
    sorted_insert(jb, dw, now);
    /* A fast sender clock lowers the delays steadily, and the drift
     * tracking owns that. */
    if (fabs(clock_drift(jb)) < SLOW_SENDER && follow_step_down(jb, now)) {
        jb->st.path_shifts++;
        jb->shift_at_us = now;
        jb->have_shift = 1;
    }

    track_drift(jb, d, now);
    if (jb->have_last_d) {
        int64_t D = d - jb->last_d;
        jb->jitter_us += ((double)(D < 0 ? -D : D) - jb->jitter_us) / 16.0;
    }
    jb->last_d = d;
    jb->have_last_d = 1;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The largest delay with at least `weight` of the total weight at or
 * above it. */
static int64_t weighted_top(const gv_jbuf *jb, const double *w, double weight)
{
    double acc = 0;
    int i;

    for (i = jb->win_n - 1; i > 0; i--) {
        acc += w[i];
        if (acc >= weight)
            break;
    }
    return jb->sorted[i];
}

/* The delay that only (1000 - quantile_permille) per mille of recent
 * packets exceed. Each delay counts with a weight that halves every
 * half_life_ms of age, so a past jitter spike stops holding the delay up
 * soon after it ends while a steady path keeps a few hundred samples of
 * memory. That far out a plain order statistic of so few samples is too
 * noisy, so the tail above the (weighted) 90th percentile is fitted with
 * an exponential (through its mean excess) and extrapolated. For the mean
 * the largest samples are clipped to the (OUTLIERS+1)-th largest, so one
 * stuck packet barely moves it; and the result never exceeds the largest
 * delay seen, since bounded jitter has no tail to extrapolate. */
static int64_t tail_quantile(gv_jbuf *jb, double hl)
{
    double *w = jb->weights;
    int n = jb->win_n, i, k, ci;
    double p = 1.0 - jb->cfg.quantile_permille / 1000.0, total = 0, tail = 0, excess = 0;
    int64_t thr, clip, q, emp;
    /* Ages count from the newest delay, not from now: a silence brings no
     * news about the path, and the newest weight stays 1, so the total can
     * never underflow to 0 however long the silence. */
    uint64_t newest = jb->fifo[(jb->win_head + n - 1) % WIN_MAX].at_us;

    for (i = 0; i < n; i++) {
        double age = newest > jb->sorted_at[i] ? (double)(newest - jb->sorted_at[i]) : 0.0;
        w[i] = hl > 0 ? exp2(-age / hl) : 1.0;
        total += w[i];
    }
    if (p <= 0)
        return jb->sorted[n - 1];
    /* Walk down from the largest delay until a tenth of the weight (and
     * at least three samples) is behind. */
    for (k = n - 1; k >= 0; k--) {
        tail += w[k];
        if (n - k >= 3 && tail >= 0.1 * total)
            break;
    }
    if (k < 0)
        k = 0;
    if (p >= tail / total)
        return weighted_top(jb, w, p * total);
    thr = jb->sorted[k];
    ci = n - 1 - OUTLIERS < k ? k : n - 1 - OUTLIERS;
    clip = jb->sorted[ci];
    for (i = k; i < n; i++)
        excess += w[i] * (double)((jb->sorted[i] < clip ? jb->sorted[i] : clip) - thr);
    q = thr + (int64_t)(excess / tail * log(tail / total / p));
    /* A tail that is not exponential (a few packets in fifty reordered by
     * a fixed amount) is underestimated by the fit; the plain statistic at
     * twice the share still sees it, and is below the fit otherwise. The
     * stuck packets clipped for the fit are kept out of it too: with one
     * kept out only, a join's first packet (tens of ms late) held the top
     * for the window's 10 s, and the next packet 5 ms late (a thread held
     * up on a busy machine) was the estimate, and moved the delay. */
    emp = weighted_top(jb, w, 2 * p * total);
    if (emp > jb->sorted[ci])
        emp = jb->sorted[ci];
    if (q < emp)
        q = emp;
    return q < jb->sorted[n - 1] ? q : jb->sorted[n - 1];
}

/* True when the last second's delays all stay far below the estimate q
 * (less than a third of its height above the fastest packet, and q at
 * least 20 ms above it, so small jitter never toggles it): what holds q
 * up is an episode that is over, a jitter spike or a handover, not the
 * path as it is now. Only the estimate's memory is shortened then; if the
 * spike comes back, its first packets raise the target at once anyway. */
static int calm_since_spike(const gv_jbuf *jb, uint64_t now, int64_t q)
{
    int64_t floor = jb->sorted[0], top = floor;
    int i, count = 0;

    for (i = jb->win_n - 1; i >= 0; i--) {
        const win_entry *e = &jb->fifo[(jb->win_head + i) % WIN_MAX];
        if (e->at_us + CALM_WINDOW_US < now)
            break;
        if (e->d_us > top)
            top = e->d_us;
        count++;
    }
    return count >= CALM_MIN_PACKETS && q - floor >= CALM_MIN_HEIGHT_US &&
           (top - floor) * 3 < q - floor;
}

/* How far above half the margin the level of a sender whose delays grow
 * at slowness is topped up. */
static int64_t slow_cushion(double slowness, int64_t margin)
{
    double c = slowness * SLOW_LOOKAHEAD_US;
    if (c <= 0)
        return 0;
    return c >= (double)(margin / 2) ? margin / 2 : (int64_t)c;
}

/* The playout offsets wanted now for a packet of fs samples. A playout
 * offset is "receiver time minus sender time of the packet's first
 * sample"; the window holds delays measured from the packet's last sample
 * (a packet cannot leave before it is complete), so that a change of frame
 * size does not look like a change of network delay. */
static targets compute_targets(gv_jbuf *jb, int fs, uint64_t now)
{
    targets t = {0, 0, 0};
    int64_t base, med, q, want, lo, hi, margin, extra = 0, dur = frame_us(fs), skew;
    double hl, slowness;
    int early, late_lately, drifting, topup;

    if (jb->win_n == 0)
        return t;
    /* The window's delays are those of a clock that does not drift; the
     * sender's has moved on by the skew since. */
    skew = skew_at(jb, now);
    base = jb->sorted[0] + dur + skew;
    med = jb->sorted[jb->win_n / 2] + dur + skew;
    hl = (double)jb->cfg.half_life_ms * 1000.0;
    q = tail_quantile(jb, hl);
    if (hl > 0 && calm_since_spike(jb, now, q))
        q = tail_quantile(jb, hl / CALM_SPEEDUP);
    q += dur + skew;
    margin = (int64_t)jb->cfg.margin_ms * 1000;

    /* Hysteresis, so a loss rate near the threshold does not toggle the
     * extra frame at every talk spurt. */
    if (jb->cfg.fec_wait_loss_permille == 0)
        jb->fec_wait = 0;
    else if (jb->loss_ewma * 1000.0 >= (double)jb->cfg.fec_wait_loss_permille)
        jb->fec_wait = 1;
    else if (jb->loss_ewma * 2000.0 < (double)jb->cfg.fec_wait_loss_permille)
        jb->fec_wait = 0;
    if (jb->fec_wait)
        extra = dur;

    want = q + margin + extra;
    /* So is it, for lengthening too, while the delay falls by itself
     * before a drift could be measured: a device pulling fast would
     * otherwise play the first packets at the very edge of an estimate
     * still made of a few of them. */
    early = (jb->win_n < WIN_TRUST || (jb->blk_n < DRIFT_MIN_BLOCKS && jb->last_fall > 0)) &&
            want < base + (int64_t)jb->cfg.initial_delay_ms * 1000;
    if (early)
        want = base + (int64_t)jb->cfg.initial_delay_ms * 1000;
    /* The cap is measured from the median rather than from the fastest
     * packet, so that a few packets sent ahead of time cannot pull the
     * playout point below where the bulk of the packets arrive. */
    lo = base + (int64_t)jb->cfg.min_delay_ms * 1000;
    hi = med + (int64_t)jb->cfg.max_delay_ms * 1000 - dur;
    if (hi < lo)
        hi = lo;
    t.anchor = clamp64(want, lo, hi);
    /* The margin is a cushion for what no estimate of the path sees (this
     * machine's own scheduling), and the estimate itself moves by as much
     * with every packet a few ms late: the delay is left where it is while
     * the estimate stays within a margin below it or above it, and only
     * set to anchor when it must move. Otherwise each such packet moved
     * the delay, at once or at the next talk spurt, and one run's words
     * through a sound server wandered by 5-15 ms. Once packets come too
     * late to play, though, the estimate is behind the path (until it has
     * risen to the last late packet's delay: a join's step, followed at
     * once, would otherwise keep the margin halved for 3 s, and a busy
     * machine's next wobble moved the words), and while the
     * sender's clock drifts the delay moves by itself: then the margin is
     * topped up as soon as half of it is eaten, and with a drift the delay
     * follows the target as it did before (a slow sender's packets
     * otherwise came just in time, and were waited for; so they did in
     * the first 2 s, before the drift is measured, unless the slope of the
     * delays so far stands in for it for topping up). */
    late_lately = jb->have_late && now - jb->last_late_us < LATE_REPEAT_US && jb->late_d + dur + skew > q;
    drifting = fabs(clock_drift(jb)) >= SLOW_SENDER;
    slowness = sender_slowness(jb);
    topup = late_lately || drifting || (jb->blk_n < DRIFT_MIN_BLOCKS && slowness >= SLOW_SENDER);
    t.low = early ? t.anchor : clamp64(q + extra + (topup ? margin / 2 + slow_cushion(slowness, margin) : 0), lo, t.anchor);
    t.high = early || drifting ? t.anchor : t.anchor + margin;
    jb->tgt_us = t.anchor - base;
    jb->q_height = q - base;
    return t;
}

/* ---- bookkeeping ---- */

static void note_played(gv_jbuf *jb)
{
    jb->loss_ewma -= jb->loss_ewma / LOSS_EWMA_N;
}

/* The pending LOST frames covered a real gap in the audio. */
static void pend_concealed(gv_jbuf *jb)
{
    jb->st.concealed_frames += jb->pend;
    jb->pend = 0;
}

/* The pending LOST frames ran past the end of a talk spurt. */
static void pend_tail(gv_jbuf *jb)
{
    jb->st.tail_frames += jb->pend;
    jb->pend = 0;
}

static void give_up_seq(gv_jbuf *jb)
{
    jb->st.lost++;
    /* In-band FEC rebuilds one frame per burst (the last), so the rate
     * that matters for waiting on it is that of bursts, not of packets:
     * an outage of a second must not look like 50 recoverable losses. */
    if (jb->next_seq != jb->last_lost_seq + 1)
        jb->loss_ewma += (1.0 - jb->loss_ewma) / LOSS_EWMA_N;
    jb->last_lost_seq = jb->next_seq;
    pend_concealed(jb);
    jb->next_seq++;
    jb->started = 1;
}

/* The sequence number at next_seq is before a packet that opens a talk
 * spurt: a speaker sends nothing while silent, and a server that let the
 * speaker through again marks the packet after what it held back, so
 * what is missing there is not counted as loss (as the loss reports to
 * the speaker do not count it either). */
static void skip_before_spurt(gv_jbuf *jb)
{
    pend_concealed(jb);
    jb->next_seq++;
    jb->started = 1;
}

static void unhold(gv_jbuf *jb, slot *s)
{
    s->state = SLOT_PLAYED;
    jb->buffered -= s->samples;
    jb->held--;
}

/* The held packet at next_seq is past its time: late, not a network loss. */
static void give_up_late(gv_jbuf *jb, slot *s)
{
    unhold(jb, s);
    jb->st.late++;
    jb->st.lost++;
    pend_concealed(jb);
    jb->next_seq++;
    jb->started = 1;
}

/* The held packet at next_seq came in time, but its turn passed while the
 * caller was not asking: neither lost nor late. */
static void give_up_unheard(gv_jbuf *jb, slot *s)
{
    unhold(jb, s);
    jb->st.unheard++;
    pend_concealed(jb);
    jb->next_seq++;
    jb->started = 1;
}

/* s, due at ts + anchor, came in time and its turn passed by now while
 * the caller was not asking (playback paused). */
static int unheard_by(const gv_jbuf *jb, const slot *s, int64_t anchor, uint64_t now)
{
    int64_t due = ts_to_us(s->ts) + anchor;
    return (int64_t)s->arrival_us <= due && due <= (int64_t)now && (int64_t)jb->next_ask_us <= due;
}

/* Moves the oldest sequence number out of the way: a held packet is
 * dropped (unheard if the caller was away when it was due), a missing one
 * given up. Returns 1 when a packet was dropped. */
static int drop_first(gv_jbuf *jb, uint64_t now)
{
    slot *s = stored(jb, jb->next_seq);

    if (!s) {
        give_up_seq(jb);
        return 0;
    }
    if (unheard_by(jb, s, jb->have_held ? jb->held_off : jb->tgt_us, now)) {
        give_up_unheard(jb, s);
        jb->exp_ts = s->ts + s->samples;
        return 1;
    }
    unhold(jb, s);
    jb->st.dropped_for_cap++;
    jb->next_seq++;
    jb->started = 1;
    jb->exp_ts = s->ts + s->samples;
    return 1;
}

static void start_stream(gv_jbuf *jb, uint16_t seq, uint32_t ts)
{
    int i;

    pend_tail(jb);
    /* What is held now will never play: lost (those inside the gap below
     * with it), and late when it arrived itself (a copy some later packet
     * carried does not make its own packet an arrival). */
    int gap = jb->state != ST_IDLE ? (int16_t)(seq - (uint16_t)jb->next_seq) : 0;
    if (gap < 0 || gap > RESUME_GAP_MAX)
        gap = 0;
    for (i = 0; i < jb->cap; i++) {
        slot *h = &jb->slots[i];
        if (h->state == SLOT_STORED && jb->state != ST_IDLE) {
            jb->st.late += !h->copy;
            int16_t at = (int16_t)((uint16_t)h->seq - (uint16_t)jb->next_seq);
            if (at < 0 || at >= gap)
                jb->st.lost++;
        }
        h->state = SLOT_EMPTY;
    }
    jb->buffered = 0;
    jb->held = 0;
    jb->win_head = 0;
    jb->win_n = 0;
    jb->have_last_d = 0;
    jb->have_early = 0;
    jb->blk_active = 0;
    jb->blk_n = 0;
    jb->drift = 0;
    jb->drift_steady = 0;
    jb->skew_base = jb->skew_rate = 0;
    if (jb->state != ST_IDLE) {
        /* The same sender after a stall more often than a new one: what it
         * sent in between never plays, and counts as lost. (A sender that
         * restarted numbers afresh lands anywhere; a jump that large is
         * not counted.) */
        jb->st.lost += (uint64_t)gap;
        jb->st.resyncs++;
    }
    jb->state = ST_WAIT;
    jb->started = 0;
    jb->hi_seq = EXT_SEQ_BASE + seq;
    jb->hi_ts = EXT_TS_BASE + ts;
    jb->next_seq = jb->hi_seq;
    jb->exp_ts = jb->play_ts = jb->hi_ts;
    jb->stray = 0;
    jb->ep_active = 0;
    jb->have_excess = 0;
    jb->have_cut = 0;
    jb->prev_plain = jb->prev_packet = 0;
    jb->topup_us = jb->topup_time = jb->now_jitter = jb->block_us = 0;
    jb->last_fall = 0;
    jb->have_held = jb->held_moved = jb->raised = 0;
    jb->have_late = 0;
    jb->late_hiccup = 0;
}

/* A packet turned up after its turn. Its sequence number was (or will
 * be) given up and counted in the loss rate; take it back out, since
 * waiting for FEC helps against loss, while lateness is what the delay
 * quantile is for. */
static void note_late(gv_jbuf *jb, int64_t d, uint64_t now)
{
    jb->st.received++;
    jb->st.late++;
    jb->prev_late_us = jb->last_late_us;
    jb->last_late_us = now;
    jb->have_late += jb->have_late < 2;
    jb->late_hiccup = jb->win_n > 0 && d - skew_at(jb, now) - jb->sorted[0] > HICCUP_HEIGHT * jb->q_height;
    jb->late_d = d - skew_at(jb, now);
    jb->loss_ewma -= 1.0 / LOSS_EWMA_N;
    if (jb->loss_ewma < 0)
        jb->loss_ewma = 0;
    win_push(jb, d, now);
}

int gv_jbuf_put(gv_jbuf *jb, uint16_t seq, uint32_t ts, int samples, int flags,
                const uint8_t *payload, size_t len, uint64_t now_us)
{
    int64_t eseq, ets, d;
    slot *s;
    int marker = (flags & GV_JBUF_MARKER) != 0;
    int redundant = (flags & GV_JBUF_REDUNDANT) != 0;

    if (!jb || (!payload && len > 0) || !valid_samples(samples))
        return GV_EINVAL;
    if (len > GV_JBUF_MAX_PAYLOAD)
        return GV_ETOOBIG;

    if (redundant && jb->state == ST_IDLE)
        return GV_EREPLAY; /* the packet carrying it follows at once */
    if (jb->state == ST_IDLE) {
        start_stream(jb, seq, ts);
    } else {
        int far;
        eseq = jb->hi_seq + (int16_t)(uint16_t)(seq - (uint16_t)jb->hi_seq);
        ets = jb->hi_ts + (int32_t)(uint32_t)(ts - (uint32_t)jb->hi_ts);
        d = (int64_t)now_us - ts_to_us(ets + samples);
        far = eseq > jb->hi_seq + SEQ_FAR || eseq < jb->hi_seq - SEQ_FAR;
        if (!far && jb->win_n > 0) {
            int64_t lim = (int64_t)jb->cfg.max_delay_ms * 2000;
            int64_t off = d - skew_at(jb, now_us) - jb->sorted[jb->win_n / 2];
            if (lim < RESYNC_MIN_US)
                lim = RESYNC_MIN_US;
            far = off > lim || off < -lim;
        }
        if (far) {
            if (redundant)
                return GV_EREPLAY;
            if (!marker && ++jb->stray < STRAY_RESYNC) {
                /* It arrived, and will not play: late (and lost once the
                 * stream resumes past it), not a network loss. */
                jb->st.received++;
                jb->st.late++;
                return GV_EREPLAY;
            }
            start_stream(jb, seq, ts);
        }
    }
    jb->stray = 0;
    eseq = jb->hi_seq + (int16_t)(uint16_t)(seq - (uint16_t)jb->hi_seq);
    ets = jb->hi_ts + (int32_t)(uint32_t)(ts - (uint32_t)jb->hi_ts);
    d = (int64_t)now_us - ts_to_us(ets + samples);

    s = slot_of(jb, eseq);
    if (s->state != SLOT_EMPTY && s->seq == eseq) {
        if (!redundant)
            jb->st.duplicates++;
        return GV_EREPLAY;
    }
    /* A copy whose turn is over (or that would be the stream's first
     * packet) brings nothing: the loss was counted when its turn came. */
    if (redundant && (eseq < jb->next_seq || (jb->state == ST_PLAY && ets + samples <= jb->play_ts)))
        return GV_EREPLAY;
    if (eseq < jb->next_seq) {
        /* Before anything was played a reordered earlier packet simply
         * becomes the first one. */
        if (jb->started || jb->hi_seq - eseq >= jb->cap) {
            note_late(jb, d, now_us);
            return GV_EREPLAY;
        }
        jb->next_seq = eseq;
    } else if (jb->state == ST_PLAY && ets + samples <= jb->play_ts) {
        note_late(jb, d, now_us);
        return GV_EREPLAY;
    }
    while (eseq >= jb->next_seq + jb->cap) {
        if (marker && !stored(jb, jb->next_seq))
            skip_before_spurt(jb);
        else
            drop_first(jb, now_us);
    }

    s = slot_of(jb, eseq);
    s->seq = eseq;
    s->ts = ets;
    s->arrival_us = now_us;
    s->samples = samples;
    s->marker = marker != 0;
    s->copy = redundant;
    s->state = SLOT_STORED;
    s->len = len;
    if (len > 0)
        memcpy(s->payload, payload, len);
    jb->buffered += samples;
    jb->held++;
    jb->st.received++;
    if (eseq > jb->hi_seq) {
        jb->hi_seq = eseq;
        jb->hi_ts = ets;
    }
    /* A pre-roll packet is late by design, and a copy one frame late. */
    if (redundant)
        jb->st.redundant_used++;
    else if (!(flags & GV_JBUF_PREROLL))
        win_push(jb, d, now_us);
    while (jb->held > 1 && jb->buffered > (int64_t)jb->cfg.max_delay_ms * (GV_JBUF_RATE / 1000))
        while (!drop_first(jb, now_us))
            ;
    return 0;
}

/* ---- playout ---- */

enum { STEP_DONE, STEP_AGAIN };

static int emit(gv_jbuf_frame *out, gv_jbuf_kind kind, const slot *s, int samples)
{
    out->kind = kind;
    out->payload = s ? s->payload : NULL;
    out->len = s ? s->len : 0;
    out->samples = samples;
    out->skip = 0;
    return STEP_DONE;
}

static slot *first_stored_from(gv_jbuf *jb, int64_t seq)
{
    int64_t end = jb->hi_seq;
    if (end > seq + jb->cap)
        end = seq + jb->cap;
    for (; seq <= end; seq++) {
        slot *s = stored(jb, seq);
        if (s)
            return s;
    }
    return NULL;
}

static int silence_until(gv_jbuf_frame *out, int64_t wait_us)
{
    int64_t n = (wait_us + 999) / 1000 * (GV_JBUF_RATE / 1000);
    if (n > SILENCE_CHUNK)
        n = SILENCE_CHUNK;
    if (n < GV_JBUF_RATE / 1000)
        n = GV_JBUF_RATE / 1000;
    return emit(out, GV_JBUF_SILENCE, NULL, (int)n);
}

/* The first held packet after p that starts a talk spurt, or NULL. */
static slot *next_spurt(gv_jbuf *jb, const slot *p)
{
    for (int64_t seq = p->seq + 1; seq <= jb->hi_seq; seq++) {
        slot *s = stored(jb, seq);
        if (s && s->marker)
            return s;
    }
    return NULL;
}

/* Waiting for a talk spurt (or the stream after an outage) to start. */
static int step_wait(gv_jbuf *jb, uint64_t now, gv_jbuf_frame *out)
{
    slot *p = first_stored_from(jb, jb->next_seq);
    targets t;
    int64_t start_ts, start, missing, safe, fresh;
    int fec_before, steady;

    if (!p)
        return emit(out, GV_JBUF_SILENCE, NULL, SILENCE_CHUNK);
    t = compute_targets(jb, p->samples, now);

    /* A talk spurt that should have started while the caller was not
     * asking (playback paused, a stalled device) is skipped once a later
     * one is due as well: played now, it would put every spurt after it
     * late by as much. */
    for (slot *q = p; (q = next_spurt(jb, q)) != NULL && ts_to_us(q->ts) + t.anchor <= (int64_t)now; p = q) {
        while (jb->next_seq < q->seq) {
            slot *s = stored(jb, jb->next_seq);
            if (s)
                give_up_unheard(jb, s);
            else
                give_up_seq(jb);
        }
    }
    /* After an outage the backlog that is already overdue is skipped, so
     * the delay does not grow by the length of the outage. A spurt start
     * is never skipped but for a later one. What came in time while the
     * caller was not asking is unheard, not late. */
    if (jb->started && !p->marker) {
        for (;;) {
            slot *q = stored(jb, p->seq + 1);
            if (!q || q->marker || q->ts != p->ts + p->samples ||
                ts_to_us(q->ts) + t.anchor > (int64_t)now)
                break;
            while (jb->next_seq < p->seq)
                give_up_seq(jb);
            if (unheard_by(jb, p, t.anchor, now))
                give_up_unheard(jb, p);
            else
                give_up_late(jb, p);
            p = q;
        }
    }
    /* The frame before p can come back from p's FEC, unless p starts a
     * talk spurt, that stretch was concealed already, or its time is past
     * (playing it would only push everything after it later). */
    missing = p->seq - jb->next_seq;
    fec_before = missing >= 1 && !p->marker && !(jb->started && jb->play_ts >= p->ts) &&
                 ts_to_us(p->ts - p->samples) + t.anchor + frame_us(SILENCE_CHUNK) >= (int64_t)now;
    start_ts = fec_before ? p->ts - p->samples : p->ts;
    /* The jitter of now_us in hand too: the frames asked for with this one
     * (in the same device block) look earlier than they play by up to it.
     * Where the last spurt played stands while the estimate lets it (see
     * compute_targets). A frame is lengthened when its offset, which wobbles
     * by that jitter, dips below the band's low edge raised by the fall it
     * just showed (that jitter again): a spurt held less than two jitters
     * above the edge has its first words lengthened. One a little below
     * that (the estimate rose by about the margin: a busy machine's
     * scheduling) starts that little later instead, while the sender's
     * clock keeps time; further off, or with a drifting sender (whose held
     * offset is stale by the drift), or after the delay was forced up, the
     * spurt starts afresh: two jitters above the anchor while the sender's
     * clock keeps time, so that the estimate may rise by the whole margin
     * before a frame is lengthened (at one jitter, a 5 ms wobble of a busy
     * machine under the 5 ms margin lengthened one, and moved every word
     * after it). */
    jb->held_off += skew_at(jb, now) - jb->held_skew;
    jb->held_skew = skew_at(jb, now);
    safe = t.low + 2 * (int64_t)jb->now_jitter;
    steady = fabs(clock_drift(jb)) < SLOW_SENDER;
    fresh = t.anchor + (steady ? 2 : 1) * (int64_t)jb->now_jitter;
    if (!jb->have_held || jb->held_off > t.high + (int64_t)jb->now_jitter ||
        jb->held_off < (steady ? safe - NUDGE_MAX_US : t.low + (int64_t)jb->now_jitter) ||
        (jb->raised && steady && jb->held_off < fresh)) {
        jb->held_off = fresh;
        jb->have_held = 1;
        jb->held_moved = 0;
    } else if (steady && jb->held_off < safe) {
        jb->held_off = safe;
    }
    start = ts_to_us(start_ts) + jb->held_off;
    if ((int64_t)now < start)
        return silence_until(out, start - (int64_t)now);

    while (jb->next_seq < p->seq - (fec_before ? 1 : 0)) {
        if (p->marker)
            skip_before_spurt(jb);
        else
            give_up_seq(jb);
    }
    if (jb->pend) {
        if (fec_before || (jb->started && !p->marker && p->ts <= jb->exp_ts))
            pend_concealed(jb);
        else
            pend_tail(jb);
    }
    jb->exp_ts = jb->play_ts = start_ts;
    jb->state = ST_PLAY;
    jb->started = 1;
    jb->ep_active = 0;
    /* The spurt starts at held_off, set: an underrun that waited at the
     * end of the last one moved no packet (measured, the level crept up
     * by how late the spurt started, and once above the band it went back
     * to the anchor, the words 5 ms earlier). */
    jb->held_moved = 0;
    jb->raised = 0;
    jb->have_excess = 0;
    return STEP_AGAIN;
}

/* How long an excess must last before frames are shortened. A drift of a
 * frame is worth waiting out (a new talk spurt may fix it for free); the
 * backlog left by a jitter spike, many frames deep, goes sooner, after
 * PERSIST_US / (excess in frames). */
static uint64_t persist_us(int64_t excess_us, int samples)
{
    int64_t fus = frame_us(samples);
    int64_t wait = excess_us > fus ? PERSIST_US * fus / excess_us : PERSIST_US;
    return (uint64_t)(wait < DRAIN_MIN_US ? DRAIN_MIN_US : wait);
}

/* The share of the playing time lately added by lengthened frames (less
 * what shortened ones left out). */
static double topup_rate(const gv_jbuf *jb)
{
    return jb->topup_time > 0 ? jb->topup_us / jb->topup_time : 0.0;
}

/* How fast the delay falls against the target by itself (per unit of
 * time): what it took to keep it up lately, or the sender's clock drift
 * when that is known to be more (it is, within seconds; the top-ups
 * show only over ten). */
static double level_fall(const gv_jbuf *jb)
{
    return topup_rate(jb) > clock_drift(jb) ? topup_rate(jb) : clock_drift(jb);
}

/* Follows the jitter of now_us on s, played at offset off right after the
 * packet before it, if that played as it was: the fall of the offset since
 * then is the device's drift, tiny, and that jitter. A step of frames is a
 * stall of the caller, not jitter. After a packet played stretched, what
 * the stretch does not explain goes to block_us. Returns the fall (0 for
 * other pairs). */
static int64_t track_jitter(gv_jbuf *jb, const slot *s, int64_t off)
{
    int64_t fall = 0;

    if (jb->prev_plain && s->ts == jb->prev_end_ts && llabs(jb->prev_off - off) <= 2 * frame_us(s->samples)) {
        fall = jb->prev_off - off;
        jb->now_jitter -= jb->now_jitter / TOPUP_N;
        jb->block_us -= jb->block_us / BLOCK_N;
        if (fabs((double)fall) > jb->now_jitter)
            jb->now_jitter = fabs((double)fall);
    } else if (jb->prev_packet && s->ts == jb->prev_end_ts) {
        /* After a frame played shorter by x (longer: x < 0) the offset
         * falls by x/2..x, as the splice found it; more or less than that
         * is a change of how early now_us is. A caller asking for a
         * device's whole block at its start has frames look early by where
         * they start in the block: constant while frames and blocks keep
         * in step (20 ms frames, 10 ms blocks), so that only a stretch,
         * which moves the frames against the blocks, shows it. More than a
         * frame is a stall of the caller. */
        int64_t a = frame_us(jb->prev_skip) / 2, b = frame_us(jb->prev_skip), f = jb->prev_off - off;
        int64_t lo = a < b ? a : b, hi = a < b ? b : a;
        int64_t r = f < lo ? lo - f : f > hi ? f - hi : 0;
        if ((double)r > jb->block_us && r <= frame_us(s->samples))
            jb->block_us = (double)r;
    }
    jb->prev_off = off;
    jb->prev_end_ts = s->ts + s->samples;
    jb->last_fall = fall;
    return fall;
}

/* Remembers the excess of the packet frame played now and returns the
 * smallest of those measured within DRAIN_MIN_US, or 0 until the level has
 * stayed put (no frame played longer or shorter, nothing but packets) that
 * long. A caller that asks for a device's whole block at its start makes
 * the later frames in it look earlier than they play, by up to a block:
 * only the smallest excess over a while is safe to cut, or the next frames
 * come out short and are lengthened again. */
static int64_t low_excess(gv_jbuf *jb, int64_t excess, uint64_t now)
{
    int64_t low = excess;
    int i;

    if (!jb->prev_plain) {
        jb->recent_n = 0;
        jb->recent_since = now;
    }
    jb->recent_excess[jb->recent_n % RECENT] = excess;
    jb->recent_at[jb->recent_n % RECENT] = now;
    jb->recent_n++;
    if (now - jb->recent_since < DRAIN_MIN_US)
        return 0;
    for (i = 0; i < RECENT && i < jb->recent_n; i++)
        if (now - jb->recent_at[i] <= DRAIN_MIN_US && jb->recent_excess[i] < low)
            low = jb->recent_excess[i];
    return low;
}

/* How many samples to cut from a frame of fs samples (at most max) while
 * the delay is excess above target (low: the smallest excess of late; a
 * jitter spike that is over, a path that got faster, a clock drift). 0
 * while no cut is due. An excess is cut once it has persisted (since it
 * began or since the last cut); from then on it is drained, a unit or more
 * at a time (so that the splice finds a whole pitch period to take out)
 * every DRAIN_MIN_US while there is that much, and the rest again once it
 * has persisted. */
static int cut_for(gv_jbuf *jb, int64_t excess, int64_t low, int64_t keep, int fs, uint64_t now, int unit, int max)
{
    int stepped_down = jb->have_shift && now - jb->shift_at_us < PERSIST_US;
    uint64_t since = jb->have_cut && jb->last_cut_us > jb->excess_since_us ? jb->last_cut_us : jb->excess_since_us;
    /* With a jittery now_us the smallest excess of late may still be a
     * frame that played later than it looked: keep that much more, and
     * never cut below where frames are lengthened (keep above target). */
    int64_t cut = low - HEADROOM_US - (int64_t)jb->now_jitter - (keep > 0 ? keep : 0);
    int skip;

    if (!jb->have_excess) {
        jb->have_excess = 1;
        jb->excess_since_us = now;
        /* While the delay grows by itself (the sender's clock runs fast, or
         * it took steady cuts to keep it down: the device pulls slow),
         * waiting for the excess to persist would only let it grow. */
        jb->draining = clock_drift(jb) <= -SLOW_SENDER || topup_rate(jb) <= -FAST_FALL;
        return 0;
    }
    if (jb->have_cut && now - jb->last_cut_us < DRAIN_MIN_US)
        return 0;
    if (stepped_down || now - since >= persist_us(excess, fs))
        jb->draining = 1;
    else if (!jb->draining || cut < frame_us(unit))
        return 0;
    /* A sender clock running slow eats the excess by itself; what it would
     * within a window's time is left to it (cutting it would only bring
     * the next lengthening sooner). */
    if (clock_drift(jb) > 0)
        cut -= (int64_t)(clock_drift(jb) * (double)jb->cfg.window_ms * 1000.0);
    skip = (int)(cut * 6 / 125 / 24 * 24);
    if (skip <= 0)
        return 0;
    if (skip > max)
        skip = max;
    jb->last_cut_us = now;
    jb->have_cut = 1;
    jb->st.shortened_frames++;
    jb->st.shortened_ms += skip / 48.0;
    return skip;
}

static int play_packet(gv_jbuf *jb, slot *s, uint64_t now, gv_jbuf_frame *out)
{
    targets t = compute_targets(jb, s->samples, now);
    /* s starts where the timeline is, or a little before it when its
     * beginning was concealed already while it was late. */
    int64_t off = (int64_t)now - ts_to_us(s->ts);
    int64_t excess = off - t.anchor, low, step;
    int max = s->samples >= STRETCH_MIN_FRAME ? s->samples / 2 / 24 * 24 : 0;
    int unit = max < STRETCH_UNIT ? max : STRETCH_UNIT;
    double fall;
    int skip = 0;

    if (jb->ep_active) {
        pend_concealed(jb);
        jb->ep_active = 0;
    }
    step = track_jitter(jb, s, off);
    low = low_excess(jb, excess, now);
    /* The next packet is due when this frame ends; a delay falling by
     * itself is lower by then (by as much as it fell over the last frame,
     * before its drift shows in the top-ups, as far as a clock can drift),
     * and if it falls fast, lower by the jitter of now_us still when the
     * next frame is asked for early (in the same device block): it would
     * find nothing there to lengthen. */
    fall = level_fall(jb) * (double)frame_us(s->samples);
    if ((double)step > fall)
        fall = fmin((double)step, DRIFT_MAX * (double)frame_us(s->samples));
    if (fall > 0)
        t.low += (int64_t)fall;
    if (level_fall(jb) >= FAST_FALL)
        t.low += (int64_t)jb->now_jitter;
    if (off < t.low || (jb->raised && fabs(clock_drift(jb)) < SLOW_SENDER && off < t.anchor)) {
        /* Too little is buffered for the target (the delay rose, the
         * sender's clock runs slow, the device pulls fast): play this
         * frame longer rather than insert audio that was never sent. The
         * splice gives between half and all of what is asked, so ask twice
         * what is missing, and a unit at least, whose range holds a whole
         * pitch period; a little too much drifts away or is cut later. */
        int64_t want = 2 * (((t.low > t.anchor ? t.low : t.anchor) - off) * 6 / 125 + 1);
        want = (want < unit ? unit : want + 23) / 24 * 24;
        skip = -(int)(want < max ? want : max);
        if (skip < 0) {
            jb->st.lengthened_frames++;
            jb->st.lengthened_ms += -skip / 48.0;
        }
        jb->have_excess = 0;
        jb->raised = 1;
    } else if (excess >= EXCESS_MIN_US + (t.high - t.anchor) + (int64_t)jb->block_us) {
        skip = cut_for(jb, excess, low, t.low - t.anchor, s->samples, now, unit, max);
    } else {
        jb->have_excess = 0;
    }
    if (jb->raised && skip == 0 && off >= t.anchor + (int64_t)jb->now_jitter)
        jb->raised = 0;
    if (jb->held_moved) {
        jb->held_off = off;
        jb->held_skew = skew_at(jb, now);
    }
    jb->held_moved = skip != 0;
    /* Until the next packet tells: the splice leaves out or adds between
     * half and all of skip. */
    jb->held_off -= frame_us(skip) * 3 / 4;
    jb->prev_plain = skip == 0;
    jb->prev_packet = 1;
    jb->prev_skip = skip;
    jb->topup_us += ((double)frame_us(-skip) - jb->topup_us) / TOPUP_N;
    jb->topup_time += ((double)frame_us(s->samples) - jb->topup_time) / TOPUP_N;

    unhold(jb, s);
    note_played(jb);
    jb->next_seq++;
    jb->exp_ts = jb->play_ts = s->ts + s->samples;
    jb->last_fs = s->samples;
    {
        /* Signed: a render's time is smoothed, and may lag an arrival
         * stamped on the control thread just before it. */
        double delay = (double)((int64_t)now - (int64_t)s->arrival_us);
        if (!jb->have_playout) {
            jb->playout_delay_us = delay;
            jb->have_playout = 1;
        } else {
            jb->playout_delay_us += (delay - jb->playout_delay_us) / 16.0;
        }
    }
    emit(out, GV_JBUF_PACKET, s, s->samples);
    out->skip = skip;
    return STEP_DONE;
}

/* A length of concealed or recovered audio as Opus accepts it. */
static int audio_samples(int64_t n)
{
    n = (n + 119) / 120 * 120;
    return n < 120 ? 120 : n > 5760 ? 5760 : (int)n;
}

/* next_seq is missing but a later packet q is here. */
static int play_gap(gv_jbuf *jb, slot *q, gv_jbuf_frame *out)
{
    int64_t n = q->seq - jb->next_seq;
    int64_t gap = q->ts - jb->exp_ts;
    int64_t per, samples;
    int fs = jb->last_fs > q->samples ? jb->last_fs : q->samples;

    if (gap <= 0) {
        while (jb->next_seq < q->seq)
            give_up_seq(jb);
        return STEP_AGAIN;
    }
    if (q->marker || gap > n * fs) {
        /* The speaker fell silent somewhere in the gap: start q as a new
         * talk spurt. */
        jb->state = ST_WAIT;
        return STEP_AGAIN;
    }
    per = gap / n / 120 * 120;
    if (per < 120)
        per = 120;
    if (jb->play_ts >= jb->exp_ts + per && n > 1) {
        /* Already concealed while nothing was here. */
        give_up_seq(jb);
        jb->exp_ts += per;
        return STEP_AGAIN;
    }
    if (n == 1) {
        if (jb->play_ts >= q->ts) {
            give_up_seq(jb);
            return STEP_AGAIN;
        }
        samples = q->ts - jb->play_ts;
        give_up_seq(jb);
        jb->st.fec_recovered++;
        jb->exp_ts = jb->play_ts = q->ts;
        jb->ep_active = 0;
        return emit(out, GV_JBUF_FEC, q, audio_samples(samples));
    }
    samples = jb->exp_ts + per - jb->play_ts;
    give_up_seq(jb);
    jb->st.concealed_frames++;
    jb->exp_ts += per;
    jb->play_ts = jb->exp_ts;
    jb->ep_active = 0;
    return emit(out, GV_JBUF_LOST, NULL, audio_samples(samples));
}

/* Until the minima per block can tell the drift (their first two
 * seconds), the least-squares slope of the delays so far: rough, but a
 * clock 2% slow stands far above what jitter tilts it by. */
static double early_slope(const gv_jbuf *jb)
{
    double mt = 0, md = 0, num = 0, den = 0;
    uint64_t t0;
    int i;

    if (jb->win_n < WIN_TRUST)
        return 0;
    t0 = jb->fifo[jb->win_head].at_us;
    for (i = 0; i < jb->win_n; i++) {
        const win_entry *e = &jb->fifo[(jb->win_head + i) % WIN_MAX];
        mt += (double)(e->at_us - t0);
        md += (double)e->d_us;
    }
    mt /= jb->win_n;
    md /= jb->win_n;
    for (i = 0; i < jb->win_n; i++) {
        const win_entry *e = &jb->fifo[(jb->win_head + i) % WIN_MAX];
        num += ((double)(e->at_us - t0) - mt) * ((double)e->d_us - md);
        den += ((double)(e->at_us - t0) - mt) * ((double)(e->at_us - t0) - mt);
    }
    return den > 0 ? num / den : 0;
}

/* Nothing to play: the packet is late or lost, or the speaker fell silent. */
static int play_underrun(gv_jbuf *jb, uint64_t now, gv_jbuf_frame *out)
{
    int pause, chunk;

    if (!jb->ep_active) {
        jb->ep_active = 1;
        jb->ep_samples = 0;
        jb->ep_start_us = now;
    }
    if (jb->ep_samples >= jb->cfg.conceal_max_ms * (GV_JBUF_RATE / 1000)) {
        jb->state = ST_WAIT;
        jb->ep_active = 0;
        return STEP_AGAIN;
    }
    /* Right after a late arrival (within LATE_MEMORY_US, or in this very
     * underrun) the missing packet is most likely late too, and so is it
     * when the sender's clock runs slow (each packet a little later than
     * the one before; before that can be measured, when the delays so far
     * rise as fast): wait for it (the delay grows by what it takes) rather
     * than conceal it and lose it when it comes. Not after a hiccup: a
     * packet that came far later than the path's jitter on an otherwise
     * steady path (a thread of the sender, the relay or this machine held
     * up for a few ms, every 10 to 20 s on a busy machine) says nothing of
     * the next one unless another did within LATE_REPEAT_US; waiting would
     * cost a concealed chunk all the same and move the delay of everything
     * after it by 5 to 15 ms, for seconds, or for good when that is under
     * EXCESS_MIN_US. One frame concealed per hiccup is the price. */
    pause = (jb->have_late && jb->last_late_us >= jb->ep_start_us) ||
            (jb->have_late && now - jb->last_late_us < LATE_MEMORY_US &&
             (!jb->late_hiccup || (jb->have_late == 2 && now - jb->prev_late_us < LATE_REPEAT_US))) ||
            sender_slowness(jb) >= VERY_SLOW_SENDER;
    chunk = pause && jb->last_fs > PAUSE_CHUNK ? PAUSE_CHUNK : jb->last_fs;
    jb->ep_samples += chunk;
    jb->pend++;
    if (!pause)
        jb->play_ts += chunk;
    else
        jb->held_moved = jb->raised = 1;
    return emit(out, GV_JBUF_LOST, NULL, chunk);
}

static int step_play(gv_jbuf *jb, uint64_t now, gv_jbuf_frame *out)
{
    slot *s = stored(jb, jb->next_seq);
    slot *q;

    if (s) {
        if (s->ts + s->samples <= jb->play_ts) {
            give_up_late(jb, s);
            return STEP_AGAIN;
        }
        if (s->ts > jb->play_ts) {
            jb->state = ST_WAIT;
            return STEP_AGAIN;
        }
        return play_packet(jb, s, now, out);
    }
    q = first_stored_from(jb, jb->next_seq + 1);
    if (q)
        return play_gap(jb, q, out);
    return play_underrun(jb, now, out);
}

int gv_jbuf_get(gv_jbuf *jb, uint64_t now_us, gv_jbuf_frame *out)
{
    int guard;

    if (!jb || !out)
        return GV_EINVAL;
    for (guard = 0; guard < 4 * jb->cap + 16; guard++) {
        int r;
        if (jb->state == ST_IDLE)
            r = emit(out, GV_JBUF_SILENCE, NULL, SILENCE_CHUNK);
        else if (jb->state == ST_WAIT)
            r = step_wait(jb, now_us, out);
        else
            r = step_play(jb, now_us, out);
        if (r == STEP_DONE) {
            if (out->kind != GV_JBUF_PACKET)
                jb->prev_plain = jb->prev_packet = 0;
            /* A caller asking for a device's whole block at its start
             * passes that time for every frame in it. */
            if (now_us > jb->asked_us || !jb->next_ask_us)
                jb->next_ask_us = now_us;
            jb->next_ask_us += (uint64_t)frame_us(out->samples - out->skip);
            jb->asked_us = now_us;
            return 0;
        }
    }
    /* Unreachable with consistent state; never hand back garbage. */
    emit(out, GV_JBUF_SILENCE, NULL, SILENCE_CHUNK);
    return 0;
}

void gv_jbuf_get_stats(const gv_jbuf *jb, gv_jbuf_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!jb)
        return;
    *out = jb->st;
    out->jitter_ms = jb->jitter_us / 1000.0;
    out->target_delay_ms = (double)jb->tgt_us / 1000.0;
    out->playout_delay_ms = jb->playout_delay_us / 1000.0;
    out->buffered_ms = (double)jb->buffered / (GV_JBUF_RATE / 1000);
}
