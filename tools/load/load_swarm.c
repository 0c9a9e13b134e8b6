#include "load_swarm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "gvoip/error.h"
#include "session/gv_link.h"
#include "session/gv_sys.h"

#define MAX_PENDING 3     /* the server allows 4 half-open connections per address */
#define MAX_JOIN_TRIES 8
/* Every link is serviced about this often (ENet timers, acks): a sweep
 * passes over those serviced in the last half of it, for their datagrams,
 * so none waits more than one and a half. */
#define SWEEP_US 10000u
#define MAX_BEHIND_US 200000u /* a sender further behind skips ahead instead of bursting */
#define BUCKET_US 100000u     /* voice is counted per this much send time */
/* A connection is found interrupted after a second without the server
 * (gv_link); its outage is counted from a little before that. */
#define OUTAGE_LEAD_US 1100000u
#define IN_FLIGHT_MAX_US 1000000u /* voice this much older than that is no longer in flight */

typedef struct rx {
    uint64_t received;
    uint32_t first, high; /* extended sequence numbers */
    int seen;
    uint64_t rep_received; /* since the last loss report */
    uint32_t rep_first;
    int rep_seen;
} rx;

typedef struct player {
    load_swarm *sw;
    int index; /* index == players: the flooder */
    int lobby; /* index % lobbies; the flooder's is the first */
    gv_link *link;
    gv_event_queue events; /* the link's */
    int fd, pending, joined, failed, tries, removed;
    gv_refusal refused; /* the last join's refusal, if any */
    int roster;   /* other players its roster lists */
    int replaced; /* left once at least: its counts span several players */
    int resumes;  /* RECONNECTED with the same place */
    uint16_t id, first_id;
    uint64_t removed_us;
    uint64_t join_start_us;  /* the first attempt of its current join */
    uint64_t interrupted_us; /* its connection found interrupted; 0: fine */
    uint64_t heard_stamp_us; /* the send time of the newest voice it received */
    char reason[768];
    /* sending */
    int talking, marker;
    uint64_t next_send_us, state_until_us, frame_index, sent, interval_us;
    uint16_t seq;
    uint64_t next_report_us;
    uint64_t serviced_us; /* its link's last service: the sweep passes over one serviced since */
} player;

struct load_swarm {
    const load_opts *o;
    player *p;
    int count; /* players + flooder */
    int lobbies;
    int per_lobby; /* the most speakers a lobby has: speaker s is its lobby's s / lobbies-th */
    rx *rx;        /* players x per_lobby: what each heard from its lobby's speakers */
    uint16_t *speaker_ids; /* lobbies x per_lobby: the speakers' ids, 0 before their welcome */
    /* The links' sockets: poll() over thousands of them would cost more
     * than the datagrams that wake it. */
    int epoll_fd;
    struct epoll_event *ready;
    int watched;
    int pending;
    int *present; /* per lobby: players (not the flooder) joined and not removed */
    uint32_t next_address;
    uint64_t rng;
    uint64_t first_connect_us, last_join_us, run_start_us, flood_start_us, last_sweep_us;
    load_hist hist;
    uint64_t *rate;
    int rate_seconds;
    uint64_t flood_received, impostor_received, odd, foreign;
    double *lobby_loss; /* the report's, per lobby */
    load_hist join_hist, leave_hist;
    uint64_t joins, join_failures, join_timeouts, join_refusals;
    uint64_t interrupted, restored, reconnecting, resumed, fresh, id_changed, others_back;
    uint64_t longest_outage_us;
    uint64_t *b_sent, *b_expected, *b_received; /* per BUCKET_US of send time */
    uint8_t *b_outage;
    int buckets;
    load_hist *ihist[2]; /* --report-every: by the parity of the interval */
    uint64_t interval_us;
    uint8_t payload[GV_VOICE_PAYLOAD_MAX];
    gv_client_config cfg;
    char password[GV_PASSWORD_MAX + 1];
    load_swarm_report rep;
};

uint64_t load_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* An exponentially distributed duration with the given mean, at least one frame. */
static uint64_t exp_us(load_swarm *sw, double mean_ms)
{
    double u = ((double)(next_rand(&sw->rng) >> 11) + 0.5) / 9007199254740992.0;
    double us = -log(u) * mean_ms * 1000.0;
    double min = sw->o->frame_ms * 1000.0;
    return (uint64_t)(us < min ? min : us);
}

/* Bytes 12-15 of every payload of ours (load_swarm.h). */
static const char magic[4] = {'g', 'v', 'l', 'd'};

/* A TOC byte of code 0 (one frame): hybrid SWB for 10 and 20 ms, as Opus
 * picks for speech at 24 kbit/s, SILK WB for 40 and 60 ms. */
static uint8_t toc_for(int frame_ms)
{
    switch (frame_ms) {
    case 10: return 12 << 3;
    case 40: return 10 << 3;
    case 60: return 11 << 3;
    default: return 13 << 3;
    }
}

void load_swarm_fill_payload(uint8_t *p, size_t len, int frame_ms, uint64_t stamp_us, int kind, int lobby)
{
    p[0] = toc_for(frame_ms);
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(stamp_us >> (8 * i));
    p[9] = (uint8_t)kind;
    p[10] = (uint8_t)lobby;
    p[11] = (uint8_t)(lobby >> 8);
    memcpy(p + 12, magic, 4);
    for (size_t i = LOAD_PAYLOAD_MIN; i < len; i++)
        p[i] = (uint8_t)(i * 131u + stamp_us);
}

void load_swarm_lobby_name(const load_opts *o, int lobby, char out[GV_LOBBY_NAME_BYTES])
{
    if (o->lobbies > 1)
        snprintf(out, GV_LOBBY_NAME_BYTES, "load-%d", lobby);
    else
        snprintf(out, GV_LOBBY_NAME_BYTES, "%s", o->lobby ? o->lobby : "");
}

/* Which of its lobby's speakers sent as id, or -1. */
static int speaker_in_lobby(const load_swarm *sw, int lobby, uint16_t id)
{
    const uint16_t *ids = &sw->speaker_ids[(size_t)lobby * (size_t)sw->per_lobby];
    for (int m = 0; m < sw->per_lobby; m++)
        if (ids[m] == id)
            return m;
    return -1;
}

/* Extends a 16-bit sequence number next to the highest one seen. */
static uint32_t extend(uint32_t high, uint16_t seq)
{
    int16_t delta = (int16_t)(uint16_t)(seq - (uint16_t)high);
    return (uint32_t)((int64_t)high + delta);
}

static void on_voice(void *ctx, const gv_msg *relay)
{
    player *p = ctx;
    load_swarm *sw = p->sw;
    uint64_t now = load_now_us();
    const uint8_t *pl = relay->u.voice.payload;
    if (relay->u.voice.len < LOAD_PAYLOAD_MIN) {
        sw->odd++;
        return;
    }
    if (sw->run_start_us && now >= sw->run_start_us) {
        int sec = (int)((now - sw->run_start_us) / 1000000u);
        if (sec < sw->rate_seconds)
            sw->rate[sec]++;
    }
    if (memcmp(pl + 12, magic, 4) != 0) {
        sw->odd++;
        return;
    }
    if ((pl[10] | pl[11] << 8) != p->lobby) {
        sw->foreign++;
        return;
    }
    if (pl[9] == LOAD_KIND_IMPOSTOR) {
        sw->impostor_received++;
        return;
    }
    if (pl[9] == LOAD_KIND_FLOOD) {
        sw->flood_received++;
        return;
    }
    int m = speaker_in_lobby(sw, p->lobby, relay->u.voice.sender);
    if (m < 0 || p->index >= sw->o->players) {
        sw->odd++;
        return;
    }
    uint64_t stamp = 0;
    for (int i = 7; i >= 0; i--)
        stamp = stamp << 8 | pl[1 + i];
    load_hist_add(&sw->hist, (int64_t)(now - stamp));
    if (stamp > p->heard_stamp_us)
        p->heard_stamp_us = stamp;
    if (sw->run_start_us && stamp >= sw->run_start_us) {
        uint64_t since = stamp - sw->run_start_us;
        if (since / BUCKET_US < (uint64_t)sw->buckets)
            sw->b_received[since / BUCKET_US]++;
        if (sw->interval_us)
            load_hist_add(sw->ihist[since / sw->interval_us & 1], (int64_t)(now - stamp));
    }
    rx *r = &sw->rx[(size_t)p->index * (size_t)sw->per_lobby + (size_t)m];
    uint32_t ext = r->seen ? extend(r->high, relay->u.voice.seq) : relay->u.voice.seq;
    if (!r->seen) {
        r->first = r->high = ext;
        r->seen = 1;
    } else if (ext > r->high) {
        r->high = ext;
    } else if (ext < r->first) {
        r->first = ext;
    }
    r->received++;
    if (!r->rep_seen || ext < r->rep_first)
        r->rep_first = ext;
    r->rep_seen = 1;
    r->rep_received++;
}

static void on_joined(void *ctx, uint16_t id)
{
    (void)id;
    ((player *)ctx)->roster++;
}

static void on_left(void *ctx, uint16_t id)
{
    (void)id;
    ((player *)ctx)->roster--;
}

/* A new session: the server starts our voice stream afresh, so the next
 * packet begins a spurt as a real client's would. */
static void on_session(void *ctx)
{
    ((player *)ctx)->marker = 1;
}

/* Voice sent from..to (monotonic microseconds) went out while someone's
 * connection was down. */
static void mark_outage(load_swarm *sw, uint64_t from, uint64_t to)
{
    if (!sw->run_start_us || to < sw->run_start_us)
        return;
    uint64_t first = from > sw->run_start_us ? (from - sw->run_start_us) / BUCKET_US : 0;
    uint64_t last = (to - sw->run_start_us) / BUCKET_US;
    for (uint64_t b = first; b <= last && b < (uint64_t)sw->buckets; b++)
        sw->b_outage[b] = 1;
}

static uint64_t outage_start(const player *p)
{
    uint64_t from = p->interrupted_us > OUTAGE_LEAD_US ? p->interrupted_us - OUTAGE_LEAD_US : 0;
    /* What was still on its way when the path went dark went with it: on
     * a loaded machine that is more than the lead's margin. Older voice
     * says only that nobody was talking to it. */
    if (p->heard_stamp_us && p->heard_stamp_us < from && from - p->heard_stamp_us <= IN_FLIGHT_MAX_US)
        from = p->heard_stamp_us;
    return from;
}

static void outage_over(load_swarm *sw, player *p, uint64_t now)
{
    if (!p->interrupted_us)
        return;
    uint64_t from = outage_start(p);
    mark_outage(sw, from, now);
    if (now - from > sw->longest_outage_us)
        sw->longest_outage_us = now - from;
    p->interrupted_us = 0;
}

static void drop_link(load_swarm *sw, player *p)
{
    if (p->fd >= 0 && epoll_ctl(sw->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL) == 0)
        sw->watched--;
    gv_link_destroy(p->link);
    p->link = NULL;
    p->fd = -1;
    p->roster = 0;
}

int load_swarm_create(const load_opts *o, load_swarm **out)
{
    if (!o || !out)
        return GV_EINVAL;
    load_swarm *sw = calloc(1, sizeof *sw);
    if (!sw)
        return GV_ENOMEM;
    sw->o = o;
    sw->count = o->players + (o->flood_factor > 0);
    sw->lobbies = o->lobbies;
    sw->per_lobby = (o->speakers + o->lobbies - 1) / o->lobbies;
    sw->rng = o->seed;
    sw->rate_seconds = (int)ceil(o->duration_s) + 3;
    sw->buckets = (int)ceil(o->duration_s * 1e6 / BUCKET_US) + 30;
    sw->interval_us = (uint64_t)(o->report_every_s * 1e6);
    sw->p = calloc((size_t)sw->count + 1, sizeof *sw->p);
    sw->rx = calloc((size_t)o->players * (size_t)sw->per_lobby + 1, sizeof *sw->rx);
    sw->speaker_ids = calloc((size_t)sw->lobbies * (size_t)sw->per_lobby + 1, sizeof *sw->speaker_ids);
    sw->present = calloc((size_t)sw->lobbies, sizeof *sw->present);
    sw->lobby_loss = calloc((size_t)sw->lobbies, sizeof *sw->lobby_loss);
    sw->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    sw->ready = calloc((size_t)sw->count + 1, sizeof *sw->ready);
    sw->rate = calloc((size_t)sw->rate_seconds, sizeof *sw->rate);
    sw->b_sent = calloc((size_t)sw->buckets, sizeof *sw->b_sent);
    sw->b_expected = calloc((size_t)sw->buckets, sizeof *sw->b_expected);
    sw->b_received = calloc((size_t)sw->buckets, sizeof *sw->b_received);
    sw->b_outage = calloc((size_t)sw->buckets, 1);
    for (int i = 0; i < 2 && sw->interval_us; i++)
        sw->ihist[i] = calloc(1, sizeof *sw->ihist[i]);
    if (!sw->p || !sw->rx || !sw->speaker_ids || !sw->present || !sw->lobby_loss || sw->epoll_fd < 0 || !sw->ready ||
        !sw->rate || !sw->b_sent || !sw->b_expected || !sw->b_received || !sw->b_outage ||
        (sw->interval_us && (!sw->ihist[0] || !sw->ihist[1]))) {
        load_swarm_destroy(sw);
        return GV_ENOMEM;
    }
    for (int i = 0; i < sw->count; i++) {
        sw->p[i].sw = sw;
        sw->p[i].index = i;
        sw->p[i].lobby = i < o->players ? i % sw->lobbies : 0;
        sw->p[i].fd = -1;
    }
    gv_client_config_default(&sw->cfg);
    sw->cfg.server_host = o->host;
    sw->cfg.server_port = o->port;
    sw->cfg.known_servers_file = ""; /* no trust-on-first-use file: runs leave $HOME alone */
    sw->cfg.connect_timeout_ms = 5000;
    sw->cfg.clock = gv_sys_clock();
    sw->cfg.random = gv_sys_random();
    const char *pw = getenv("GVOIP_PASSWORD");
    if (pw && *pw) {
        snprintf(sw->password, sizeof sw->password, "%s", pw);
        sw->cfg.password = (const uint8_t *)sw->password;
        sw->cfg.password_len = strlen(sw->password);
    }
    *out = sw;
    return 0;
}

void load_swarm_destroy(load_swarm *sw)
{
    if (!sw)
        return;
    for (int i = 0; sw->p && i < sw->count; i++)
        gv_link_destroy(sw->p[i].link);
    free(sw->p);
    free(sw->rx);
    free(sw->speaker_ids);
    free(sw->present);
    free(sw->lobby_loss);
    if (sw->epoll_fd >= 0)
        close(sw->epoll_fd);
    free(sw->ready);
    free(sw->rate);
    free(sw->b_sent);
    free(sw->b_expected);
    free(sw->b_received);
    free(sw->b_outage);
    free(sw->ihist[0]);
    free(sw->ihist[1]);
    free(sw);
}

/* A speaker's voice is told apart by its id in its lobby: one that a new
 * session changed (a server that forgot us) is followed. */
static void take_id(load_swarm *sw, player *p, uint16_t id)
{
    if (p->index < sw->o->speakers)
        sw->speaker_ids[(size_t)p->lobby * (size_t)sw->per_lobby + (size_t)(p->index / sw->lobbies)] = id;
    p->id = id;
}

static void on_event(load_swarm *sw, player *p, const gv_event *ev)
{
    uint64_t now = load_now_us();
    int counted = p->index < sw->o->players;
    switch (ev->type) {
    case GV_EVENT_CONNECTED:
        p->joined = 1;
        p->pending = 0;
        sw->pending--;
        take_id(sw, p, ev->id);
        p->first_id = ev->id;
        sw->last_join_us = now;
        sw->joins++;
        sw->present[p->lobby] += counted;
        load_hist_add(&sw->join_hist, (int64_t)(now - p->join_start_us));
        break;
    case GV_EVENT_CONNECTION_FAILED:
        if (p->pending)
            sw->pending--;
        p->pending = 0;
        p->failed = 1;
        sw->join_failures++;
        sw->join_timeouts += ev->error == GV_ETIMEOUT;
        sw->join_refusals += ev->refused != GV_REFUSAL_NONE;
        p->refused = ev->refused;
        snprintf(p->reason, sizeof p->reason, "%s", ev->reason);
        break;
    case GV_EVENT_SERVER_DISCONNECTED:
        if (!p->removed) {
            p->removed = 1;
            p->removed_us = now;
            snprintf(p->reason, sizeof p->reason, "%s", ev->reason);
            sw->present[p->lobby] -= counted && p->joined;
            outage_over(sw, p, now);
        }
        break;
    case GV_EVENT_CONNECTION_INTERRUPTED:
        sw->interrupted++;
        if (!p->interrupted_us)
            p->interrupted_us = now;
        break;
    case GV_EVENT_CONNECTION_RESTORED:
        sw->restored++;
        outage_over(sw, p, now);
        break;
    case GV_EVENT_RECONNECTING:
        sw->reconnecting++;
        break;
    case GV_EVENT_RECONNECTED:
        if (ev->resumed) {
            sw->resumed++;
            p->resumes++;
        } else {
            sw->fresh++;
        }
        if (ev->id != p->id) {
            sw->id_changed++;
            take_id(sw, p, ev->id);
        }
        outage_over(sw, p, now);
        break;
    case GV_EVENT_PLAYER_RECONNECTED:
        sw->others_back++;
        break;
    default:
        break;
    }
}

static void service(load_swarm *sw, player *p, uint64_t now_us)
{
    gv_event ev = {.size = sizeof ev};
    p->serviced_us = now_us;
    if (p->link && gv_link_service(p->link, 0) == 0)
        while (gv_events_pop(&p->events, &ev))
            on_event(sw, p, &ev);
}

static int start_link(load_swarm *sw, player *p, uint64_t now_us)
{
    char name[32], address[24], lobby[GV_LOBBY_NAME_BYTES];
    if (p->index == sw->o->players)
        snprintf(name, sizeof name, "flooder");
    else
        snprintf(name, sizeof name, "p%d", p->index + 1);
    gv_client_config cfg = sw->cfg;
    cfg.name = name;
    load_swarm_lobby_name(sw->o, p->lobby, lobby);
    cfg.lobby = lobby;
    if (sw->o->source_addresses) {
        uint32_t n = sw->next_address++;
        snprintf(address, sizeof address, "127.%u.%u.%u", 1 + n / (256 * 254), n / 254 % 256, 1 + n % 254);
        cfg.bind_address = address;
    }
    gv_link_callbacks cb = {.voice = on_voice, .joined = on_joined, .left = on_left, .session = on_session, .ctx = p};
    int rc = gv_link_create(&cfg, 0, &p->events, &cb, &p->link);
    if (rc < 0)
        return rc;
    p->fd = gv_link_fd(p->link);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(sw->epoll_fd, EPOLL_CTL_ADD, p->fd, &e) != 0) {
        drop_link(sw, p);
        return GV_ENET;
    }
    sw->watched++;
    if (!p->tries)
        p->join_start_us = now_us;
    p->tries++;
    p->pending = 1;
    p->failed = 0;
    sw->pending++;
    if (!sw->first_connect_us)
        sw->first_connect_us = now_us;
    return 0;
}

int load_swarm_join(load_swarm *sw, uint64_t now_us)
{
    int joined = 0;
    for (int i = 0; i < sw->count; i++) {
        player *p = &sw->p[i];
        if (p->link && p->failed)
            drop_link(sw, p);
        if (p->joined) {
            joined++;
        } else if (!p->link && sw->pending < MAX_PENDING) {
            if (p->tries >= MAX_JOIN_TRIES) {
                char lobby[GV_LOBBY_NAME_BYTES];
                load_swarm_lobby_name(sw->o, p->lobby, lobby);
                fprintf(stderr, "gvoip-load: player %d (lobby \"%s\") could not join in %d tries: %s", i + 1,
                        lobby, p->tries, p->reason);
                if (p->refused != GV_REFUSAL_NONE)
                    fprintf(stderr, " (refused, code %d)", (int)p->refused);
                fputc('\n', stderr);
                return GV_ETIMEOUT;
            }
            int rc = start_link(sw, p, now_us);
            if (rc < 0)
                return rc;
        }
    }
    return joined == sw->count;
}

void load_swarm_start(load_swarm *sw, uint64_t now_us)
{
    const load_opts *o = sw->o;
    uint64_t frame = (uint64_t)o->frame_ms * 1000u;
    sw->run_start_us = now_us;
    for (int i = 0; i < sw->count; i++) {
        player *p = &sw->p[i];
        p->marker = 1;
        p->next_report_us = now_us + 1000000u + (uint64_t)i * 1000000u / (uint64_t)sw->count;
        if (i == o->players) {
            p->talking = 1;
            p->interval_us = (uint64_t)(1e6 / (o->flood_factor * LOAD_VOICE_BUDGET_PPS(o->frame_ms)));
            if (p->interval_us < 1)
                p->interval_us = 1;
            p->next_send_us = now_us;
            sw->flood_start_us = now_us;
            continue;
        }
        p->interval_us = frame;
        /* Start each speaker at a random point of its frame and of its
         * talk cycle, so the lobby does not talk in lockstep. */
        p->next_send_us = now_us + next_rand(&sw->rng) % frame;
        p->talking = o->continuous || (next_rand(&sw->rng) & 1);
        p->state_until_us = p->next_send_us + exp_us(sw, p->talking ? o->talk_on_ms : o->talk_off_ms);
    }
}

/* Every player in the sender's lobby but the sender should hear it. */
static void count_sent(load_swarm *sw, const player *p, uint64_t now_us)
{
    uint64_t b = (now_us - sw->run_start_us) / BUCKET_US;
    if (b < (uint64_t)sw->buckets) {
        sw->b_sent[b]++;
        sw->b_expected[b] += (uint64_t)(sw->present[p->lobby] - 1);
    }
}

static void send_voice(load_swarm *sw, player *p, uint64_t now_us, int kind)
{
    const load_opts *o = sw->o;
    load_swarm_fill_payload(sw->payload, (size_t)o->payload_bytes, o->frame_ms, now_us, kind, p->lobby);
    gv_msg m = {.type = GV_MSG_VOICE};
    m.u.voice.seq = p->seq;
    m.u.voice.ts = (uint32_t)(p->frame_index * (uint64_t)o->frame_ms * 48u);
    m.u.voice.flags = p->marker ? GV_VOICE_MARKER : 0;
    m.u.voice.len = (uint16_t)o->payload_bytes;
    m.u.voice.payload = sw->payload;
    if (gv_link_send_voice(p->link, &m) != 0)
        return;
    p->seq++;
    p->marker = 0;
    p->sent++;
    if (kind == LOAD_KIND_VOICE)
        count_sent(sw, p, now_us);
}

/* A speaker's frames: one every frame_ms, sent while talking; the
 * timestamp runs on through pauses, the sequence number only counts what
 * was sent, and the first packet of a spurt carries the marker. */
static void speak(load_swarm *sw, player *p, uint64_t now_us)
{
    const load_opts *o = sw->o;
    int flooder = p->index == o->players;
    if (now_us > p->next_send_us + MAX_BEHIND_US) {
        uint64_t skip = (now_us - p->next_send_us) / p->interval_us;
        p->next_send_us += skip * p->interval_us;
        p->frame_index += skip;
    }
    while (now_us >= p->next_send_us) {
        if (!flooder && !o->continuous) {
            while (p->next_send_us >= p->state_until_us) {
                p->talking = !p->talking;
                p->marker = p->talking;
                p->state_until_us += exp_us(sw, p->talking ? o->talk_on_ms : o->talk_off_ms);
            }
        }
        if (p->talking)
            send_voice(sw, p, now_us, flooder ? LOAD_KIND_FLOOD : LOAD_KIND_VOICE);
        p->frame_index++;
        p->next_send_us += p->interval_us;
    }
}

/* Once a second, like a real client: the share of each speaker's packets
 * lost since the last report. */
static void report_loss(load_swarm *sw, player *p)
{
    for (int m = 0; m < sw->per_lobby && p->index < sw->o->players; m++) {
        rx *r = &sw->rx[(size_t)p->index * (size_t)sw->per_lobby + (size_t)m];
        if (!r->rep_seen)
            continue;
        uint64_t expected = (uint64_t)(r->high - r->rep_first) + 1;
        uint64_t lost = expected > r->rep_received ? expected - r->rep_received : 0;
        gv_link_send_loss(p->link, sw->p[p->lobby + m * sw->lobbies].id, (uint16_t)(lost * 1000 / expected));
        r->rep_seen = 0;
        r->rep_received = 0;
    }
}

uint64_t load_swarm_tick(load_swarm *sw, uint64_t now_us, int stop_sending)
{
    uint64_t next = now_us + SWEEP_US;
    if (now_us - sw->last_sweep_us >= SWEEP_US) {
        sw->last_sweep_us = now_us;
        for (int i = 0; i < sw->count; i++)
            if (now_us - sw->p[i].serviced_us >= SWEEP_US / 2)
                service(sw, &sw->p[i], now_us);
    }
    if (!sw->run_start_us || stop_sending)
        return next;
    for (int i = 0; i < sw->count; i++) {
        player *p = &sw->p[i];
        if ((i < sw->o->speakers || i == sw->o->players) && p->link && p->joined && !p->removed) {
            speak(sw, p, now_us);
            if (p->next_send_us < next)
                next = p->next_send_us;
        }
        if (sw->o->loss_reports && p->link && p->joined && now_us >= p->next_report_us) {
            report_loss(sw, p);
            p->next_report_us += 1000000u;
        }
    }
    return next;
}

void load_swarm_wait(load_swarm *sw, uint64_t until_us)
{
    uint64_t now = load_now_us();
    int timeout = until_us > now ? (int)((until_us - now + 999) / 1000) : 0;
    if (sw->watched == 0) {
        if (timeout > 0) {
            uint64_t us = until_us - now;
            struct timespec ts = {.tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000};
            nanosleep(&ts, NULL);
        }
        return;
    }
    int n = epoll_wait(sw->epoll_fd, sw->ready, sw->count, timeout);
    now = load_now_us();
    for (int i = 0; i < n; i++)
        service(sw, sw->ready[i].data.ptr, now);
}

uint16_t load_swarm_player_id(const load_swarm *sw, int index)
{
    return index >= 0 && index < sw->count && sw->p[index].joined ? sw->p[index].id : 0;
}

int load_swarm_churnable(const load_swarm *sw, int index)
{
    const player *p = &sw->p[index];
    return index >= sw->o->speakers && index < sw->o->players && p->link && p->joined && !p->removed;
}

void load_swarm_leave(load_swarm *sw, int index)
{
    player *p = &sw->p[index];
    uint64_t t0 = load_now_us();
    sw->present[p->lobby] -= p->joined && !p->removed;
    drop_link(sw, p);
    load_hist_add(&sw->leave_hist, (int64_t)(load_now_us() - t0));
    p->joined = p->failed = p->removed = p->tries = 0;
    p->id = 0;
    p->interrupted_us = 0;
    p->replaced = 1;
}

uint64_t load_swarm_joins(const load_swarm *sw)
{
    return sw->joins;
}

static double loss_pct(uint64_t expected, uint64_t received)
{
    return expected ? 100.0 * (double)(expected > received ? expected - received : 0) / (double)expected : 0;
}

/* Outages still going on count up to now. */
static void mark_open_outages(load_swarm *sw, uint64_t now_us)
{
    for (int i = 0; i < sw->o->players; i++)
        if (sw->p[i].interrupted_us)
            mark_outage(sw, outage_start(&sw->p[i]), now_us);
}

/* Sums the buckets of [from, to) of send time, all and outside outages. */
static void sum_buckets(const load_swarm *sw, uint64_t from, uint64_t to, uint64_t *sent, uint64_t *expected,
                        uint64_t *received, uint64_t *out_expected, uint64_t *out_received, int *outage)
{
    *sent = *expected = *received = *out_expected = *out_received = 0;
    *outage = 0;
    for (uint64_t b = from / BUCKET_US; b < (to + BUCKET_US - 1) / BUCKET_US && b < (uint64_t)sw->buckets; b++) {
        *sent += sw->b_sent[b];
        *expected += sw->b_expected[b];
        *received += sw->b_received[b];
        if (sw->b_outage[b]) {
            ++*outage;
        } else {
            *out_expected += sw->b_expected[b];
            *out_received += sw->b_received[b];
        }
    }
}

void load_swarm_interval(load_swarm *sw, int interval, uint64_t now_us, load_interval *out)
{
    uint64_t from = (uint64_t)interval * sw->interval_us;
    uint64_t to = from + sw->interval_us, end = (uint64_t)(sw->o->duration_s * 1e6);
    if (to > end)
        to = end;
    mark_open_outages(sw, now_us);
    uint64_t out_expected, out_received;
    int outage;
    memset(out, 0, sizeof *out);
    sum_buckets(sw, from, to, &out->sent, &out->expected, &out->received, &out_expected, &out_received, &outage);
    out->start_s = (double)from / 1e6;
    out->end_s = (double)to / 1e6;
    out->loss_pct = loss_pct(out->expected, out->received);
    out->outage_s = outage * (BUCKET_US / 1e6);
    out->loss_outside_pct = loss_pct(out_expected, out_received);
    load_hist *h = sw->ihist[interval & 1];
    out->p50_ms = load_hist_percentile_ms(h, 50);
    out->p95_ms = load_hist_percentile_ms(h, 95);
    out->p99_ms = load_hist_percentile_ms(h, 99);
    out->max_ms = load_hist_percentile_ms(h, 100);
    memset(h, 0, sizeof *h);
}

void load_swarm_get_report(load_swarm *sw, load_swarm_report *out)
{
    const load_opts *o = sw->o;
    load_swarm_report *r = &sw->rep;
    memset(r, 0, sizeof *r);
    r->players = o->players;
    r->speakers = o->speakers;
    r->player_resumes_min = o->players ? sw->p[0].resumes : 0;
    for (int i = 0; i < o->players; i++) {
        const player *p = &sw->p[i];
        if (p->resumes < r->player_resumes_min)
            r->player_resumes_min = p->resumes;
        if (p->resumes > r->player_resumes_max)
            r->player_resumes_max = p->resumes;
        r->joined += p->joined;
        r->removed += p->removed;
        r->stable += !p->replaced;
        r->roster_ok += p->joined && !p->removed && p->roster == sw->present[p->lobby] - 1;
        r->same_ids += p->joined && p->id == p->first_id;
    }
    if (sw->last_join_us > sw->first_connect_us)
        r->join_s = (double)(sw->last_join_us - sw->first_connect_us) / 1e6;
    for (int s = 0; s < o->speakers; s++)
        r->sent += sw->p[s].sent;
    /* Each player should hear every speaker of its lobby but itself. */
    r->lobbies = sw->lobbies;
    for (int l = 0; l < sw->lobbies; l++) {
        uint64_t exp_l = 0, got_l = 0;
        for (int i = l; i < o->players; i += sw->lobbies) {
            if (sw->p[i].replaced)
                continue;
            uint64_t exp_i = 0, got_i = 0;
            for (int m = 0, s = l; s < o->speakers; m++, s += sw->lobbies) {
                if (s == i)
                    continue;
                rx *x = &sw->rx[(size_t)i * (size_t)sw->per_lobby + (size_t)m];
                exp_i += sw->p[s].sent;
                got_i += x->received;
                if (x->seen) {
                    uint64_t span = (uint64_t)(x->high - x->first) + 1;
                    r->lost_seq += span > x->received ? span - x->received : 0;
                }
            }
            exp_l += exp_i;
            got_l += got_i;
            if (loss_pct(exp_i, got_i) > r->worst_loss_pct)
                r->worst_loss_pct = loss_pct(exp_i, got_i);
        }
        r->expected += exp_l;
        r->received += got_l;
        sw->lobby_loss[l] = loss_pct(exp_l, got_l);
        if (sw->lobby_loss[l] > r->worst_lobby_loss_pct)
            r->worst_lobby_loss_pct = sw->lobby_loss[l];
    }
    r->loss_pct = loss_pct(r->expected, r->received);
    r->lobby_loss_pct = sw->lobby_loss;
    r->foreign = sw->foreign;
    r->p50_ms = load_hist_percentile_ms(&sw->hist, 50);
    r->p95_ms = load_hist_percentile_ms(&sw->hist, 95);
    r->p99_ms = load_hist_percentile_ms(&sw->hist, 99);
    r->max_ms = load_hist_percentile_ms(&sw->hist, 100);
    r->impostor_received = sw->impostor_received;
    r->flood_received = sw->flood_received;
    if (o->flood_factor > 0) {
        player *f = &sw->p[o->players];
        r->flood_sent = f->sent;
        r->flooder_joined = f->joined;
        r->flooder_removed = f->removed;
        if (f->removed)
            r->flooder_removed_after_s = (double)(f->removed_us - sw->flood_start_us) / 1e6;
        snprintf(r->flooder_reason, sizeof r->flooder_reason, "%s", f->reason);
    }
    r->rate = sw->rate;
    r->rate_seconds = sw->rate_seconds;
    r->joins = sw->joins;
    r->join_failures = sw->join_failures;
    r->join_timeouts = sw->join_timeouts;
    r->join_refusals = sw->join_refusals;
    r->join_p50_ms = load_hist_percentile_ms(&sw->join_hist, 50);
    r->join_p95_ms = load_hist_percentile_ms(&sw->join_hist, 95);
    r->join_max_ms = load_hist_percentile_ms(&sw->join_hist, 100);
    r->leave_p50_ms = load_hist_percentile_ms(&sw->leave_hist, 50);
    r->leave_max_ms = load_hist_percentile_ms(&sw->leave_hist, 100);
    r->interrupted = sw->interrupted;
    r->restored = sw->restored;
    r->reconnecting = sw->reconnecting;
    r->resumed = sw->resumed;
    r->fresh = sw->fresh;
    r->id_changed = sw->id_changed;
    r->others_back = sw->others_back;
    uint64_t now = load_now_us();
    mark_open_outages(sw, now);
    uint64_t sent, expected, received;
    int outage;
    sum_buckets(sw, 0, (uint64_t)sw->buckets * BUCKET_US, &sent, &expected, &received, &r->outside_expected,
                &r->outside_received, &outage);
    r->outage_s = outage * (BUCKET_US / 1e6);
    r->longest_outage_s = (double)sw->longest_outage_us / 1e6;
    r->loss_outside_pct = loss_pct(r->outside_expected, r->outside_received);
    *out = *r;
}
