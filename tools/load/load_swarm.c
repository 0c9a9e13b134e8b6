#include "load_swarm.h"

#include <dirent.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gvoip/error.h"
#include "session/gv_link.h"
#include "session/gv_sys.h"

#define MAX_PENDING 3     /* the server allows 4 half-open connections per address */
#define MAX_JOIN_TRIES 8
#define SWEEP_US 10000u   /* every link is serviced at least this often (ENet timers, acks) */
#define MAX_BEHIND_US 200000u /* a sender further behind skips ahead instead of bursting */
#define FD_LIMIT 65536

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
    gv_link *link;
    gv_event_queue events; /* the link's */
    int fd, pending, joined, failed, tries, removed;
    uint16_t id;
    uint64_t removed_us;
    char reason[768];
    /* sending */
    int talking, marker;
    uint64_t next_send_us, state_until_us, frame_index, sent, interval_us;
    uint16_t seq;
    uint64_t next_report_us;
} player;

struct load_swarm {
    const load_opts *o;
    player *p;
    int count; /* players + flooder */
    rx *rx;    /* players x speakers */
    int16_t *speaker_of; /* id -> speaker index, -1 */
    uint8_t *fd_taken; /* 1: a player's, 2: someone else's */
    struct pollfd *pfd;
    player **pfd_owner;
    int npfd, pfd_dirty;
    int pending;
    uint64_t rng;
    uint64_t first_connect_us, last_join_us, run_start_us, flood_start_us, last_sweep_us;
    load_hist hist;
    uint64_t *rate;
    int rate_seconds;
    uint64_t flood_received, impostor_received, odd;
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

void load_swarm_fill_payload(uint8_t *p, size_t len, int frame_ms, uint64_t stamp_us, int kind)
{
    p[0] = toc_for(frame_ms);
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(stamp_us >> (8 * i));
    p[9] = (uint8_t)kind;
    for (size_t i = LOAD_PAYLOAD_MIN; i < len; i++)
        p[i] = (uint8_t)(i * 131u + stamp_us);
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
    if (pl[9] == LOAD_KIND_IMPOSTOR) {
        sw->impostor_received++;
        return;
    }
    if (pl[9] == LOAD_KIND_FLOOD) {
        sw->flood_received++;
        return;
    }
    int s = sw->speaker_of[relay->u.voice.sender];
    if (s < 0 || p->index >= sw->o->players) {
        sw->odd++;
        return;
    }
    uint64_t stamp = 0;
    for (int i = 7; i >= 0; i--)
        stamp = stamp << 8 | pl[1 + i];
    load_hist_add(&sw->hist, (int64_t)(now - stamp));
    rx *r = &sw->rx[(size_t)p->index * (size_t)sw->o->speakers + (size_t)s];
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

static void mark_fd(load_swarm *sw, int fd, int taken)
{
    if (fd >= 0 && fd < FD_LIMIT)
        sw->fd_taken[fd] = (uint8_t)taken;
}

static int is_datagram_socket(int fd)
{
    int type;
    socklen_t len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM;
}

/* gv_link keeps its ENet host private. Its socket is found as the one
 * datagram socket that appeared during gv_link_create: before, every open
 * one is marked as someone else's (the storm's, the hostile clients'). */
static void mark_open_sockets(load_swarm *sw)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd < FD_LIMIT && !sw->fd_taken[fd] && is_datagram_socket(fd))
            sw->fd_taken[fd] = 2;
    }
    if (d)
        closedir(d);
}

static int claim_socket(load_swarm *sw)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -1;
    while (d && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd < FD_LIMIT && !sw->fd_taken[fd] && is_datagram_socket(fd)) {
            found = fd;
            sw->fd_taken[fd] = 1;
            break;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static void drop_link(load_swarm *sw, player *p)
{
    gv_link_destroy(p->link);
    p->link = NULL;
    mark_fd(sw, p->fd, 0);
    p->fd = -1;
    sw->pfd_dirty = 1;
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
    sw->rng = o->seed;
    sw->rate_seconds = (int)ceil(o->duration_s) + 3;
    sw->p = calloc((size_t)sw->count + 1, sizeof *sw->p);
    sw->rx = calloc((size_t)o->players * (size_t)o->speakers + 1, sizeof *sw->rx);
    sw->speaker_of = malloc(65536 * sizeof *sw->speaker_of);
    sw->fd_taken = calloc(FD_LIMIT, 1);
    sw->pfd = calloc((size_t)sw->count + 1, sizeof *sw->pfd);
    sw->pfd_owner = calloc((size_t)sw->count + 1, sizeof *sw->pfd_owner);
    sw->rate = calloc((size_t)sw->rate_seconds, sizeof *sw->rate);
    if (!sw->p || !sw->rx || !sw->speaker_of || !sw->fd_taken || !sw->pfd || !sw->pfd_owner || !sw->rate) {
        load_swarm_destroy(sw);
        return GV_ENOMEM;
    }
    for (int i = 0; i < 65536; i++)
        sw->speaker_of[i] = -1;
    for (int i = 0; i < sw->count; i++) {
        sw->p[i].sw = sw;
        sw->p[i].index = i;
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
    free(sw->speaker_of);
    free(sw->fd_taken);
    free(sw->pfd);
    free(sw->pfd_owner);
    free(sw->rate);
    free(sw);
}

static void on_event(load_swarm *sw, player *p, const gv_event *ev)
{
    switch (ev->type) {
    case GV_EVENT_CONNECTED:
        p->joined = 1;
        p->pending = 0;
        sw->pending--;
        p->id = ev->id;
        sw->last_join_us = load_now_us();
        if (p->index < sw->o->speakers)
            sw->speaker_of[p->id] = (int16_t)p->index;
        break;
    case GV_EVENT_CONNECTION_FAILED:
        if (p->pending)
            sw->pending--;
        p->pending = 0;
        p->failed = 1;
        snprintf(p->reason, sizeof p->reason, "%s", ev->reason);
        break;
    case GV_EVENT_SERVER_DISCONNECTED:
        if (!p->removed) {
            p->removed = 1;
            p->removed_us = load_now_us();
            snprintf(p->reason, sizeof p->reason, "%s", ev->reason);
        }
        break;
    default:
        break;
    }
}

static void service(load_swarm *sw, player *p)
{
    gv_event ev = {.size = sizeof ev};
    if (p->link && gv_link_service(p->link, 0) == 0)
        while (gv_events_pop(&p->events, &ev))
            on_event(sw, p, &ev);
}

static int start_link(load_swarm *sw, player *p, uint64_t now_us)
{
    char name[32];
    if (p->index == sw->o->players)
        snprintf(name, sizeof name, "flooder");
    else
        snprintf(name, sizeof name, "p%d", p->index + 1);
    gv_client_config cfg = sw->cfg;
    cfg.name = name;
    gv_link_callbacks cb = {.voice = on_voice, .ctx = p};
    mark_open_sockets(sw);
    int rc = gv_link_create(&cfg, 0, &p->events, &cb, &p->link);
    if (rc < 0)
        return rc;
    p->fd = claim_socket(sw);
    p->tries++;
    p->pending = 1;
    p->failed = 0;
    sw->pending++;
    sw->pfd_dirty = 1;
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
                fprintf(stderr, "gvoip-load: player %d could not join: %s\n", i + 1, p->reason);
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

static void send_voice(load_swarm *sw, player *p, uint64_t now_us, int kind)
{
    const load_opts *o = sw->o;
    load_swarm_fill_payload(sw->payload, (size_t)o->payload_bytes, o->frame_ms, now_us, kind);
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
    for (int s = 0; s < sw->o->speakers && p->index < sw->o->players; s++) {
        rx *r = &sw->rx[(size_t)p->index * (size_t)sw->o->speakers + (size_t)s];
        if (!r->rep_seen)
            continue;
        uint64_t expected = (uint64_t)(r->high - r->rep_first) + 1;
        uint64_t lost = expected > r->rep_received ? expected - r->rep_received : 0;
        gv_link_send_loss(p->link, sw->p[s].id, (uint16_t)(lost * 1000 / expected));
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
            service(sw, &sw->p[i]);
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
    if (sw->pfd_dirty) {
        sw->npfd = 0;
        for (int i = 0; i < sw->count; i++) {
            if (sw->p[i].link && sw->p[i].fd >= 0) {
                sw->pfd[sw->npfd] = (struct pollfd){.fd = sw->p[i].fd, .events = POLLIN};
                sw->pfd_owner[sw->npfd++] = &sw->p[i];
            }
        }
        sw->pfd_dirty = 0;
    }
    uint64_t now = load_now_us();
    int timeout = until_us > now ? (int)((until_us - now + 999) / 1000) : 0;
    if (sw->npfd == 0) {
        if (timeout > 0) {
            uint64_t us = until_us - now;
            struct timespec ts = {.tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000};
            nanosleep(&ts, NULL);
        }
        return;
    }
    if (poll(sw->pfd, (nfds_t)sw->npfd, timeout) <= 0)
        return;
    for (int i = 0; i < sw->npfd; i++)
        if (sw->pfd[i].revents)
            service(sw, sw->pfd_owner[i]);
}

uint16_t load_swarm_player_id(const load_swarm *sw, int index)
{
    return index >= 0 && index < sw->count && sw->p[index].joined ? sw->p[index].id : 0;
}

void load_swarm_get_report(load_swarm *sw, load_swarm_report *out)
{
    const load_opts *o = sw->o;
    load_swarm_report *r = &sw->rep;
    memset(r, 0, sizeof *r);
    r->players = o->players;
    r->speakers = o->speakers;
    for (int i = 0; i < o->players; i++) {
        r->joined += sw->p[i].joined;
        r->removed += sw->p[i].removed;
    }
    if (sw->last_join_us > sw->first_connect_us)
        r->join_s = (double)(sw->last_join_us - sw->first_connect_us) / 1e6;
    for (int s = 0; s < o->speakers; s++)
        r->sent += sw->p[s].sent;
    for (int i = 0; i < o->players; i++) {
        uint64_t exp_i = 0, got_i = 0;
        for (int s = 0; s < o->speakers; s++) {
            if (s == i)
                continue;
            rx *x = &sw->rx[(size_t)i * (size_t)o->speakers + (size_t)s];
            exp_i += sw->p[s].sent;
            got_i += x->received;
            if (x->seen) {
                uint64_t span = (uint64_t)(x->high - x->first) + 1;
                r->lost_seq += span > x->received ? span - x->received : 0;
            }
        }
        r->expected += exp_i;
        r->received += got_i;
        double loss = exp_i ? 100.0 * (double)(exp_i > got_i ? exp_i - got_i : 0) / (double)exp_i : 0;
        if (loss > r->worst_loss_pct)
            r->worst_loss_pct = loss;
    }
    r->loss_pct = r->expected
                      ? 100.0 * (double)(r->expected > r->received ? r->expected - r->received : 0) / (double)r->expected
                      : 0;
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
    *out = *r;
}
