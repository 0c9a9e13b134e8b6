#include "netem_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gvoip/error.h"
#include "netem_heap.h"

#define RECV_BATCH_LISTEN 256
#define RECV_BATCH_CLIENT 64
#define EXPIRY_CHECK_US 1000000u
#define SOCKET_BUFFER_BYTES (1 << 20)

typedef struct mapping {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int fd; /* -1 = free slot */
    uint32_t gen;
    uint64_t last_us;
} mapping;

typedef struct pending {
    int dir;
    uint32_t slot, gen;
    size_t len;
    unsigned char data[];
} pending;

typedef struct dir_stats {
    uint64_t forwarded;
    uint64_t bytes;
    uint64_t max_datagram;
    uint64_t overflow; /* refused by the pending caps */
    uint64_t error;    /* send failed or the client's mapping had expired */
    uint64_t blackout;         /* arrived, or came due, while the path was down */
    uint64_t blackout_arrived; /* of which arrived (the model never saw them) */
} dir_stats;

struct netem_relay {
    netem_relay_config cfg;
    int listen_fd;
    struct sockaddr_storage to;
    socklen_t to_len;
    int port;

    mapping *maps;
    size_t map_live, clients_total, clients_refused;
    uint32_t *index; /* open addressing, slot + 1, 0 = empty */
    size_t index_mask;

    struct pollfd *pfds;
    uint32_t *pfd_slot;
    size_t npfds;
    int pfds_dirty;

    netem_model *model[2];
    netem_heap *heap;
    size_t pending_count[2];
    size_t pending_bytes;
    dir_stats st[2];

    FILE *capture;
    int capture_dirty;

    uint64_t start_us, stop_us;
    uint64_t sched_next_us; /* relative to start_us */
    int sched_warned;
    uint64_t rebind_us[NETEM_RELAY_MAX_REBINDS]; /* relative to start_us, ascending */
    size_t next_rebind;                          /* the first of them still to come */
    uint64_t rebinds;                            /* upstream sockets replaced */
    uint64_t blackout_every_us, blackout_us;
    uint64_t blackout_edge_us; /* relative to start_us: the next start or end of a blackout */
    int blacked_out;
    uint64_t blackouts; /* started so far */
    unsigned char buf[65536];
};

static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || !why_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void netem_relay_config_default(netem_relay_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_host = "127.0.0.1";
    netem_model_params_default(&cfg->params[NETEM_UP]);
    netem_model_params_default(&cfg->params[NETEM_DOWN]);
    cfg->seed = 1;
    cfg->idle_timeout_s = 60;
    cfg->max_pending = 65536;
    cfg->max_pending_bytes = 64u << 20;
    cfg->max_clients = 1024;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int resolve(const char *host, uint16_t port, int passive, struct sockaddr_storage *out, socklen_t *len)
{
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return GV_ENOTFOUND;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return GV_OK;
}

static uint64_t addr_hash(const struct sockaddr_storage *a)
{
    const unsigned char *p;
    size_t n;
    uint16_t port;
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)a;
        p = s->sin6_addr.s6_addr;
        n = sizeof s->sin6_addr.s6_addr;
        port = s->sin6_port;
    } else {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)a;
        p = (const unsigned char *)&s->sin_addr;
        n = sizeof s->sin_addr;
        port = s->sin_port;
    }
    uint64_t h = 0xcbf29ce484222325u ^ port;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h ^ (h >> 29);
}

static int addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
    const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static void index_insert(netem_relay *r, uint32_t slot)
{
    size_t i = addr_hash(&r->maps[slot].addr) & r->index_mask;
    while (r->index[i])
        i = (i + 1) & r->index_mask;
    r->index[i] = slot + 1;
}

static void index_rebuild(netem_relay *r)
{
    memset(r->index, 0, (r->index_mask + 1) * sizeof *r->index);
    for (size_t s = 0; s < r->cfg.max_clients; s++)
        if (r->maps[s].fd >= 0)
            index_insert(r, (uint32_t)s);
}

static long index_find(const netem_relay *r, const struct sockaddr_storage *a)
{
    size_t i = addr_hash(a) & r->index_mask;
    while (r->index[i]) {
        uint32_t slot = r->index[i] - 1;
        if (addr_equal(&r->maps[slot].addr, a))
            return (long)slot;
        i = (i + 1) & r->index_mask;
    }
    return -1;
}

int netem_relay_create(const netem_relay_config *cfg, netem_relay **out, char *why, size_t why_len)
{
    if (!cfg || !out || !cfg->listen_host || !cfg->to_host || !cfg->max_pending || !cfg->max_pending_bytes ||
        !cfg->max_clients || cfg->max_clients > (1u << 20) || !(cfg->idle_timeout_s > 0) ||
        netem_model_params_check(&cfg->params[NETEM_UP]) < 0 ||
        netem_model_params_check(&cfg->params[NETEM_DOWN]) < 0 || cfg->rebind_count > NETEM_RELAY_MAX_REBINDS ||
        !(cfg->blackout_every_s >= 0 && cfg->blackout_every_s <= 1e7) ||
        !(cfg->blackout_first_s >= 0 && cfg->blackout_first_s <= 1e7) ||
        (cfg->blackout_every_s > 0 && !(cfg->blackout_s > 0 && cfg->blackout_s < cfg->blackout_every_s))) {
        say(why, why_len, "bad relay configuration");
        return GV_EINVAL;
    }
    for (size_t i = 0; i < cfg->rebind_count; i++)
        if (!(cfg->rebind_at_s[i] > 0 && cfg->rebind_at_s[i] <= 1e7)) {
            say(why, why_len, "bad rebind time");
            return GV_EINVAL;
        }
    int rc = GV_ENOMEM;
    netem_relay *r = calloc(1, sizeof *r);
    if (!r)
        goto out;
    r->cfg = *cfg;
    r->listen_fd = -1;
    r->blackout_every_us = (uint64_t)(cfg->blackout_every_s * 1e6);
    r->blackout_us = (uint64_t)(cfg->blackout_s * 1e6);
    r->blackout_edge_us = !r->blackout_every_us     ? UINT64_MAX
                          : cfg->blackout_first_s > 0 ? (uint64_t)(cfg->blackout_first_s * 1e6)
                                                      : r->blackout_every_us;
    /* Sorted once here, so the loop only ever looks at the next one. */
    for (size_t i = 0; i < cfg->rebind_count; i++) {
        uint64_t at = (uint64_t)(cfg->rebind_at_s[i] * 1e6);
        size_t j = i;
        for (; j > 0 && r->rebind_us[j - 1] > at; j--)
            r->rebind_us[j] = r->rebind_us[j - 1];
        r->rebind_us[j] = at;
    }
    r->maps = calloc(cfg->max_clients, sizeof *r->maps);
    size_t index_size = 4;
    while (index_size < 2 * cfg->max_clients)
        index_size *= 2;
    r->index = calloc(index_size, sizeof *r->index);
    r->index_mask = index_size - 1;
    r->pfds = calloc(cfg->max_clients + 2, sizeof *r->pfds);
    r->pfd_slot = calloc(cfg->max_clients + 2, sizeof *r->pfd_slot);
    if (!r->maps || !r->index || !r->pfds || !r->pfd_slot)
        goto out;
    for (size_t s = 0; s < cfg->max_clients; s++)
        r->maps[s].fd = -1;
    for (int d = 0; d < 2; d++) {
        netem_model_config mc;
        netem_model_config_default(&mc);
        mc.params = cfg->params[d];
        mc.seed = cfg->seed;
        mc.stream = (uint64_t)d;
        if ((rc = netem_model_create(&mc, &r->model[d])) < 0)
            goto out;
    }
    if ((rc = netem_heap_create(cfg->max_pending, &r->heap)) < 0)
        goto out;
    if ((rc = resolve(cfg->to_host, cfg->to_port, 0, &r->to, &r->to_len)) < 0) {
        say(why, why_len, "cannot resolve %s", cfg->to_host);
        goto out;
    }
    struct sockaddr_storage local;
    socklen_t local_len;
    if ((rc = resolve(cfg->listen_host, cfg->listen_port, 1, &local, &local_len)) < 0) {
        say(why, why_len, "cannot resolve %s", cfg->listen_host);
        goto out;
    }
    rc = GV_EIO;
    r->listen_fd = socket(local.ss_family, SOCK_DGRAM, 0);
    if (r->listen_fd < 0 || set_nonblocking(r->listen_fd) < 0) {
        say(why, why_len, "socket: %s", strerror(errno));
        goto out;
    }
    int size = SOCKET_BUFFER_BYTES;
    /* Best effort: a larger buffer only absorbs bursts from many clients. */
    (void)setsockopt(r->listen_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    (void)setsockopt(r->listen_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (bind(r->listen_fd, (struct sockaddr *)&local, local_len) < 0) {
        say(why, why_len, "cannot listen on %s port %u: %s", cfg->listen_host, (unsigned)cfg->listen_port,
            strerror(errno));
        goto out;
    }
    local_len = sizeof local;
    if (getsockname(r->listen_fd, (struct sockaddr *)&local, &local_len) < 0) {
        say(why, why_len, "getsockname: %s", strerror(errno));
        goto out;
    }
    r->port = ntohs(local.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&local)->sin6_port
                                                : ((struct sockaddr_in *)(void *)&local)->sin_port);
    if (cfg->capture_path && !(r->capture = fopen(cfg->capture_path, "ab"))) {
        say(why, why_len, "cannot open %s: %s", cfg->capture_path, strerror(errno));
        goto out;
    }
    r->pfds_dirty = 1;
    *out = r;
    r = NULL;
    rc = GV_OK;
out:
    netem_relay_destroy(r);
    return rc;
}

void netem_relay_destroy(netem_relay *r)
{
    if (!r)
        return;
    pending *p;
    while ((p = netem_heap_pop(r->heap, NULL)) != NULL)
        free(p);
    netem_heap_destroy(r->heap);
    for (int d = 0; d < 2; d++)
        netem_model_destroy(r->model[d]);
    if (r->maps)
        for (size_t s = 0; s < r->cfg.max_clients; s++)
            if (r->maps[s].fd >= 0)
                close(r->maps[s].fd);
    if (r->listen_fd >= 0)
        close(r->listen_fd);
    if (r->capture)
        fclose(r->capture);
    free(r->maps);
    free(r->index);
    free(r->pfds);
    free(r->pfd_slot);
    free(r);
}

int netem_relay_port(const netem_relay *r)
{
    return r ? r->port : GV_EINVAL;
}

/* A socket connected to the server, on an ephemeral port of its own
 * (with keep_client_address, of the client's own address); -1 when it
 * cannot be made. */
static int open_upstream(const netem_relay *r, const mapping *m)
{
    int fd = socket(r->to.ss_family, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage local = m->addr;
    if (local.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)&local)->sin6_port = 0;
    else
        ((struct sockaddr_in *)(void *)&local)->sin_port = 0;
    if (set_nonblocking(fd) < 0 ||
        (r->cfg.keep_client_address && bind(fd, (const struct sockaddr *)&local, m->addrlen) < 0) ||
        connect(fd, (const struct sockaddr *)&r->to, r->to_len) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The mapping for a client address, opened on first sight; -1 when the
 * table is full or the upstream socket cannot be made. */
static long mapping_for(netem_relay *r, const struct sockaddr_storage *addr, socklen_t addrlen)
{
    long slot = index_find(r, addr);
    if (slot >= 0)
        return slot;
    if (r->map_live == r->cfg.max_clients) {
        r->clients_refused++;
        return -1;
    }
    size_t s = 0;
    while (r->maps[s].fd >= 0)
        s++;
    mapping *m = &r->maps[s];
    memcpy(&m->addr, addr, addrlen);
    m->addrlen = addrlen;
    int fd = open_upstream(r, m);
    if (fd < 0) {
        r->clients_refused++;
        return -1;
    }
    m->fd = fd;
    m->gen++;
    r->map_live++;
    r->clients_total++;
    index_insert(r, (uint32_t)s);
    r->pfds_dirty = 1;
    return (long)s;
}

static void expire_mappings(netem_relay *r, uint64_t now)
{
    uint64_t idle = (uint64_t)(r->cfg.idle_timeout_s * 1e6);
    int removed = 0;
    for (size_t s = 0; s < r->cfg.max_clients; s++) {
        mapping *m = &r->maps[s];
        if (m->fd < 0 || now - m->last_us < idle)
            continue;
        close(m->fd);
        m->fd = -1;
        m->gen++; /* datagrams still pending for it become unroutable */
        r->map_live--;
        removed = 1;
    }
    if (removed) {
        index_rebuild(r);
        r->pfds_dirty = 1;
    }
}

static void capture_write(netem_relay *r, int dir, const unsigned char *data, size_t len)
{
    unsigned char head[3] = {dir == NETEM_UP ? 'u' : 'd', (unsigned char)(len >> 8), (unsigned char)len};
    fwrite(head, 1, sizeof head, r->capture);
    fwrite(data, 1, len, r->capture);
    r->capture_dirty = 1;
}

static void send_datagram(netem_relay *r, int dir, uint32_t slot, uint32_t gen, const unsigned char *data,
                          size_t len)
{
    mapping *m = &r->maps[slot];
    if (m->fd < 0 || m->gen != gen) {
        r->st[dir].error++;
        return;
    }
    ssize_t n = dir == NETEM_UP ? send(m->fd, data, len, 0)
                                : sendto(r->listen_fd, data, len, 0, (const struct sockaddr *)&m->addr, m->addrlen);
    if (n < 0 || (size_t)n != len) {
        r->st[dir].error++;
        return;
    }
    r->st[dir].forwarded++;
    r->st[dir].bytes += len;
    if (r->capture && len <= 0xffff)
        capture_write(r, dir, data, len);
}

static void impair(netem_relay *r, int dir, uint32_t slot, size_t len, uint64_t now)
{
    dir_stats *st = &r->st[dir];
    if (len > st->max_datagram)
        st->max_datagram = len;
    if (r->blacked_out) {
        st->blackout++;
        st->blackout_arrived++;
        return;
    }
    uint64_t release[NETEM_MODEL_MAX_COPIES];
    int copies = netem_model_packet(r->model[dir], now, len, release);
    uint32_t gen = r->maps[slot].gen;
    for (int c = 0; c < copies; c++) {
        /* Nothing of this direction waiting means nothing to overtake. */
        if (release[c] <= now && !r->pending_count[dir]) {
            send_datagram(r, dir, slot, gen, r->buf, len);
            continue;
        }
        if (r->pending_bytes + len > r->cfg.max_pending_bytes) {
            st->overflow++;
            continue;
        }
        pending *p = malloc(sizeof *p + len);
        if (!p) {
            st->overflow++;
            continue;
        }
        p->dir = dir;
        p->slot = slot;
        p->gen = gen;
        p->len = len;
        memcpy(p->data, r->buf, len);
        if (netem_heap_push(r->heap, release[c], p) < 0) {
            free(p);
            st->overflow++;
            continue;
        }
        r->pending_count[dir]++;
        r->pending_bytes += len;
    }
}

static void release_due(netem_relay *r, uint64_t now)
{
    uint64_t key;
    while (netem_heap_peek(r->heap, &key) && key <= now) {
        pending *p = netem_heap_pop(r->heap, NULL);
        r->pending_count[p->dir]--;
        r->pending_bytes -= p->len;
        if (r->blacked_out)
            r->st[p->dir].blackout++;
        else
            send_datagram(r, p->dir, p->slot, p->gen, p->data, p->len);
        free(p);
    }
}

static void apply_schedule(netem_relay *r, uint64_t now)
{
    uint64_t t = now - r->start_us;
    uint64_t next = UINT64_MAX;
    for (int d = 0; d < 2; d++) {
        netem_model_params p;
        uint64_t n = netem_schedule_eval(r->cfg.schedule, d, &r->cfg.params[d], t, &p);
        if (n < next)
            next = n;
        if (netem_model_set_params(r->model[d], &p) < 0 && !r->sched_warned) {
            fprintf(stderr, "gvoip-netem: at %.3f s the schedule asks for a burst loss its burst length cannot "
                            "reach; keeping the previous conditions\n", (double)t / 1e6);
            r->sched_warned = 1;
        }
    }
    r->sched_next_us = next;
}

static void rebuild_pollfds(netem_relay *r, int stop_fd)
{
    size_t n = 0;
    r->pfds[n++] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
    r->pfds[n++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
    for (size_t s = 0; s < r->cfg.max_clients; s++) {
        if (r->maps[s].fd < 0)
            continue;
        r->pfd_slot[n] = (uint32_t)s;
        r->pfds[n++] = (struct pollfd){.fd = r->maps[s].fd, .events = POLLIN};
    }
    r->npfds = n;
    r->pfds_dirty = 0;
}

static void receive_clients(netem_relay *r)
{
    for (int i = 0; i < RECV_BATCH_LISTEN; i++) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(r->listen_fd, r->buf, sizeof r->buf, 0, (struct sockaddr *)&from, &from_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an ICMP error of an earlier send: nothing to read */
        }
        long slot = mapping_for(r, &from, from_len);
        if (slot < 0)
            continue;
        uint64_t now = now_us();
        r->maps[slot].last_us = now;
        impair(r, NETEM_UP, (uint32_t)slot, (size_t)n, now);
    }
}

/* Returns 1 when it stopped at the end of a batch, with more possibly
 * waiting, and 0 when the socket had nothing more to read. */
static int receive_server(netem_relay *r, uint32_t slot)
{
    for (int i = 0; i < RECV_BATCH_CLIENT; i++) {
        ssize_t n = recv(r->maps[slot].fd, r->buf, sizeof r->buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        uint64_t now = now_us();
        r->maps[slot].last_us = now;
        impair(r, NETEM_DOWN, slot, (size_t)n, now);
    }
    return 1;
}

/* A NAT that lost its mappings: every client gets a new upstream port, so
 * the server sees its next datagrams come from a new address and what it
 * still sends to the old port is lost (the kernel drops it). A mapping keeps
 * its slot and generation, so datagrams waiting in the delay queues leave
 * through the new socket. */
static void rebind_upstreams(netem_relay *r)
{
    for (size_t s = 0; s < r->cfg.max_clients; s++) {
        mapping *m = &r->maps[s];
        if (m->fd < 0)
            continue;
        /* What reached the old port before the NAT forgot it still gets through. */
        while (receive_server(r, (uint32_t)s))
            ;
        /* Opened while the old socket still holds its port, so the kernel
         * has to pick another one. Without a new socket (out of descriptors)
         * the client keeps its port, and rebinds does not count it. */
        int fd = open_upstream(r, m);
        if (fd < 0)
            continue;
        close(m->fd);
        m->fd = fd;
        r->rebinds++;
    }
    r->pfds_dirty = 1;
}

/* The path goes down or comes back; whoever watches the run hears of it
 * as it happens. */
static void blackout_edge(netem_relay *r)
{
    r->blacked_out = !r->blacked_out;
    if (r->blacked_out)
        r->blackouts++;
    if (r->cfg.events) {
        fprintf(r->cfg.events, "{\"event\":\"blackout\",\"on\":%s,\"t_s\":%.3f,\"count\":%llu}\n",
                r->blacked_out ? "true" : "false", (double)r->blackout_edge_us / 1e6,
                (unsigned long long)r->blackouts);
        fflush(r->cfg.events);
    }
    r->blackout_edge_us += r->blacked_out ? r->blackout_us : r->blackout_every_us - r->blackout_us;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int netem_relay_run(netem_relay *r, int stop_fd, double duration_s)
{
    if (!r || duration_s < 0)
        return GV_EINVAL;
    r->start_us = now_us();
    uint64_t end = duration_s > 0 ? r->start_us + (uint64_t)(duration_s * 1e6) : UINT64_MAX;
    uint64_t next_expiry = r->start_us + EXPIRY_CHECK_US;
    apply_schedule(r, r->start_us);
    int rc = GV_OK;
    for (;;) {
        uint64_t now = now_us();
        if (now >= end)
            break;
        while (r->next_rebind < r->cfg.rebind_count && now - r->start_us >= r->rebind_us[r->next_rebind]) {
            rebind_upstreams(r);
            r->next_rebind++;
        }
        while (now - r->start_us >= r->blackout_edge_us)
            blackout_edge(r);
        if (now - r->start_us >= r->sched_next_us)
            apply_schedule(r, now);
        release_due(r, now);
        if (now >= next_expiry) {
            expire_mappings(r, now);
            next_expiry = now + EXPIRY_CHECK_US;
        }
        if (r->capture_dirty) {
            fflush(r->capture);
            r->capture_dirty = 0;
        }
        uint64_t wake = min_u64(end, next_expiry);
        if (r->sched_next_us != UINT64_MAX)
            wake = min_u64(wake, r->start_us + r->sched_next_us);
        if (r->next_rebind < r->cfg.rebind_count)
            wake = min_u64(wake, r->start_us + r->rebind_us[r->next_rebind]);
        if (r->blackout_edge_us != UINT64_MAX)
            wake = min_u64(wake, r->start_us + r->blackout_edge_us);
        uint64_t due;
        if (netem_heap_peek(r->heap, &due))
            wake = min_u64(wake, due);
        int timeout = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
        if (r->pfds_dirty)
            rebuild_pollfds(r, stop_fd);
        int ready = poll(r->pfds, (nfds_t)r->npfds, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            rc = GV_EIO;
            break;
        }
        if (!ready)
            continue;
        if (r->pfds[0].revents)
            break;
        if (r->pfds[1].revents)
            receive_clients(r);
        /* New mappings only take free slots and the array is rebuilt
         * before the next poll, so every entry still names its mapping. */
        for (size_t i = 2; i < r->npfds; i++)
            if (r->pfds[i].revents)
                receive_server(r, r->pfd_slot[i]);
    }
    r->stop_us = now_us();
    if (r->capture)
        fflush(r->capture);
    return rc;
}

/* A datagram the blackout dropped on arrival never reached the model, but
 * counts as received so that the counters still add up. */
static void write_dir(FILE *f, const char *name, const netem_model_stats *m, const dir_stats *s, size_t unsent)
{
    fprintf(f,
            "\"%s\":{\"received\":%llu,\"forwarded\":%llu,"
            "\"dropped\":{\"random\":%llu,\"burst\":%llu,\"queue\":%llu,\"overflow\":%llu,\"error\":%llu,"
            "\"blackout\":%llu},"
            "\"delayed\":%llu,\"reordered\":%llu,\"duplicated\":%llu,\"unsent\":%llu,"
            "\"max_datagram_bytes\":%llu,\"bytes\":%llu}",
            name, (unsigned long long)(m->received + s->blackout_arrived), (unsigned long long)s->forwarded,
            (unsigned long long)m->dropped_random, (unsigned long long)m->dropped_burst,
            (unsigned long long)m->dropped_queue, (unsigned long long)s->overflow, (unsigned long long)s->error,
            (unsigned long long)s->blackout,
            (unsigned long long)m->delayed, (unsigned long long)m->reordered, (unsigned long long)m->duplicated,
            (unsigned long long)unsent, (unsigned long long)s->max_datagram,
            (unsigned long long)s->bytes);
}

int netem_relay_write_stats(const netem_relay *r, FILE *f)
{
    if (!r || !f)
        return GV_EINVAL;
    uint64_t end = r->stop_us ? r->stop_us : now_us();
    double elapsed = r->start_us ? (double)(end - r->start_us) / 1e6 : 0.0;
    netem_model_stats m[2];
    for (int d = 0; d < 2; d++)
        netem_model_get_stats(r->model[d], &m[d]);
    fprintf(f,
            "{\"event\":\"stats\",\"elapsed_s\":%.3f,\"seed\":%llu,\"clients\":%llu,\"clients_refused\":%llu,"
            "\"rebinds\":%llu,\"blackouts\":%llu,",
            elapsed, (unsigned long long)r->cfg.seed, (unsigned long long)r->clients_total,
            (unsigned long long)r->clients_refused, (unsigned long long)r->rebinds,
            (unsigned long long)r->blackouts);
    write_dir(f, "up", &m[NETEM_UP], &r->st[NETEM_UP], r->pending_count[NETEM_UP]);
    fputc(',', f);
    write_dir(f, "down", &m[NETEM_DOWN], &r->st[NETEM_DOWN], r->pending_count[NETEM_DOWN]);
    fputs("}\n", f);
    return fflush(f) == 0 && !ferror(f) ? GV_OK : GV_EIO;
}
