#include "metrics.h"
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

/* A request line and a few headers, a scraper's many times over: a
 * longer head is refused (431), so a connection never holds more. */
#define REQUEST_MAX 4096
/* A connection that has not sent its whole request this long after it
 * came, or has taken nothing of its answer for this long, is dropped. */
#define IDLE_MS 2000
/* Per poll at most, so that a flood of connections or bytes cannot keep
 * the relay's thread here. */
#define ACCEPTS_PER_POLL 16
#define DRAIN_READS_PER_POLL 16
#define LISTEN_BACKLOG 16

enum conn_state { CONN_FREE, CONN_READING, CONN_WRITING, CONN_DRAINING };

typedef struct conn {
    enum conn_state state;
    int fd;
    uint64_t deadline_ms;
    size_t len; /* of req */
    char req[REQUEST_MAX];
    char *resp; /* the whole answer, head and body */
    size_t resp_len, sent;
} conn;

struct metrics {
    int fd;
    int port;
    int servers;
    int stopping;
    metrics_collect collect;
    void *ctx;
    metrics_snapshot *snaps; /* one per server: what a scrape shows */
    conn conns[METRICS_CONNECTIONS];
};

/* ---- Text that grows ---------------------------------------------------- */

typedef struct text {
    char *s;
    size_t len, cap;
    int failed; /* out of memory: the connection is dropped */
} text;

/* Room for n more bytes and a NUL. */
static int reserve(text *t, size_t n)
{
    if (t->failed)
        return -1;
    if (t->len + n < t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap <= t->len + n)
        cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
        t->failed = 1;
        return -1;
    }
    t->s = s;
    t->cap = cap;
    return 0;
}

static void add_bytes(text *t, const char *b, size_t n)
{
    if (reserve(t, n) != 0)
        return;
    memcpy(t->s + t->len, b, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(t, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A label value as the exposition format quotes it: backslash, double
 * quote and line feed escaped, the rest (UTF-8) as it is. */
static void add_label_value(text *t, const char *s)
{
    while (*s) {
        size_t plain = strcspn(s, "\\\"\n");
        add_bytes(t, s, plain);
        s += plain;
        if (*s) {
            add(t, "\\%c", *s == '\n' ? 'n' : *s);
            s++;
        }
    }
}

/* ---- The exposition ----------------------------------------------------- */

#define AT(field) offsetof(gv_server_stats, field)

typedef struct figure {
    const char *name, *type, *help;
    size_t at;  /* in gv_server_stats */
    int is_int; /* an int there, else a uint64_t */
} figure;

static const figure figures[] = {
    {"gvoip_lobbies", "gauge", "Lobbies open.", AT(lobbies), 1},
    {"gvoip_players", "gauge", "Players in every lobby, those whose place is kept after a lost connection included.",
     AT(players), 1},
    {"gvoip_players_away", "gauge", "Players whose connection was lost and whose place is kept for a resume.",
     AT(away), 1},
    {"gvoip_relayed_packets_total", "counter", "Voice packets relayed, counted once per listener.",
     AT(relayed_packets), 0},
    {"gvoip_received_datagrams_total", "counter", "UDP datagrams received.", AT(datagrams_in), 0},
    {"gvoip_sent_datagrams_total", "counter", "UDP datagrams sent.", AT(datagrams_out), 0},
    {"gvoip_received_bytes_total", "counter", "UDP payload bytes received.", AT(bytes_in), 0},
    {"gvoip_sent_bytes_total", "counter", "UDP payload bytes sent.", AT(bytes_out), 0},
    {"gvoip_max_datagram_bytes", "gauge", "The largest datagram sent.", AT(max_datagram_bytes), 0},
    {"gvoip_handshakes_total", "counter", "Handshakes completed.", AT(handshakes), 0},
    {"gvoip_refused_total", "counter", "Connections and joins refused.", AT(refused), 0},
    {"gvoip_redirects_total", "counter", "Joins and resumes sent on to the worker that holds their lobby.",
     AT(redirects), 0},
    {"gvoip_resumed_total", "counter", "Players who resumed their place on a new connection.", AT(resumed), 0},
    {"gvoip_rebinds_total", "counter", "Players followed to a new address (NAT rebinding).", AT(rebinds), 0},
    {"gvoip_positions_relayed_total", "counter", "Positions relayed.", AT(positions_relayed), 0},
    {"gvoip_lobbies_opened_total", "counter", "Lobbies opened.", AT(lobbies_opened), 0},
    {"gvoip_lobbies_closed_total", "counter", "Lobbies closed.", AT(lobbies_closed), 0},
};

typedef struct labelled {
    const char *value;
    size_t at; /* a uint64_t in gv_server_stats */
} labelled;

static const labelled drops[] = {
    {"malformed", AT(malformed)},
    {"auth_failed", AT(auth_failed)},
    {"replayed", AT(replayed)},
    {"over_budget", AT(over_budget)},
    {"culled", AT(culled_packets)},
    {"talkers_limited", AT(talkers_limited)},
    {"listen_only_dropped", AT(listen_only_dropped)},
    {"events_dropped", AT(events_dropped)},
};

static const labelled token_refusals[] = {
    {"missing", AT(token_missing)},
    {"malformed", AT(token_malformed)},
    {"unknown_key", AT(token_unknown_key)},
    {"bad_signature", AT(token_bad_signature)},
    {"expired", AT(token_expired)},
    {"in_use", AT(token_in_use)},
    {"wrong_lobby", AT(token_wrong_lobby)},
};

static uint64_t field(const gv_server_stats *st, size_t at, int is_int)
{
    const char *p = (const char *)st + at;
    if (is_int) {
        int v;
        memcpy(&v, p, sizeof v);
        return v < 0 ? 0 : (uint64_t)v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void family(text *t, const char *name, const char *type, const char *help)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labelled_family(text *t, const char *name, const char *label, const char *help, const labelled *l,
                            size_t n, const gv_server_stats *st)
{
    family(t, name, "counter", help);
    for (size_t i = 0; i < n; i++)
        add(t, "%s{%s=\"%s\"} %llu\n", name, label, l[i].value, (unsigned long long)field(st, l[i].at, 0));
}

/* Prometheus' buckets count everything up to their bound; the server's
 * count each range on its own. */
static void latency_histogram(text *t, const gv_server_stats *st)
{
    static const uint32_t bounds_us[GV_RELAY_LATENCY_BUCKETS - 1] = GV_RELAY_LATENCY_BOUNDS_US;
    const char *name = "gvoip_relay_latency_seconds";
    family(t, name, "histogram",
           "From a voice packet's arrival to the sending of its datagram to the last of its listeners, the relay's "
           "hold included.");
    uint64_t below = 0;
    for (int i = 0; i < GV_RELAY_LATENCY_BUCKETS; i++) {
        below += st->relay_latency_us[i];
        if (i < GV_RELAY_LATENCY_BUCKETS - 1)
            add(t, "%s_bucket{le=\"%g\"} %llu\n", name, bounds_us[i] / 1e6, (unsigned long long)below);
        else
            add(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)below);
    }
    add(t, "%s_sum %.6f\n%s_count %llu\n", name, (double)st->relay_latency_sum_us / 1e6, name,
        (unsigned long long)below);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* The figures of m's snapshots, added up (each lobby named with its
 * worker, which keeps series apart even when a lobby has just moved). */
static void exposition(const metrics *m, text *t)
{
    gv_server_stats sum = {.size = sizeof sum};
    long unlisted = 0;
    for (int i = 0; i < m->servers; i++) {
        stats_add(&sum, &m->snaps[i].stats);
        unlisted += m->snaps[i].stats.lobbies - m->snaps[i].listed;
    }
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        const figure *f = &figures[i];
        family(t, f->name, f->type, f->help);
        add(t, "%s %llu\n", f->name, (unsigned long long)field(&sum, f->at, f->is_int));
    }
    labelled_family(t, "gvoip_drops_total", "reason",
                    "What was dropped or not sent, by reason: datagrams and messages (malformed, auth_failed, "
                    "replayed, over_budget), voice not sent to a listener (culled, talkers_limited), voice of "
                    "listen-only or muted players (listen_only_dropped), events lost from a full stream "
                    "(events_dropped).",
                    drops, sizeof drops / sizeof drops[0], &sum);
    labelled_family(t, "gvoip_token_refused_total", "reason", "Joins refused for their access token, by reason.",
                    token_refusals, sizeof token_refusals / sizeof token_refusals[0], &sum);
    latency_histogram(t, &sum);
    family(t, "gvoip_lobby_players", "gauge",
           "Players in a lobby (the default lobby's name is empty), by the worker that holds it.");
    for (int i = 0; i < m->servers; i++)
        for (int k = 0; k < m->snaps[i].listed; k++) {
            add(t, "gvoip_lobby_players{lobby=\"");
            add_label_value(t, m->snaps[i].lobbies[k].name);
            add(t, "\",worker=\"%d\"} %d\n", i, m->snaps[i].lobbies[k].players);
        }
    add(t,
        "# HELP gvoip_lobbies_unlisted Open lobbies left out of gvoip_lobby_players: each worker names its first %d "
        "only.\n# TYPE gvoip_lobbies_unlisted gauge\ngvoip_lobbies_unlisted %ld\n",
        METRICS_LOBBIES, unlisted);
    family(t, "gvoip_workers", "gauge", "Worker threads, each a server on a UDP port of its own.");
    add(t, "gvoip_workers %d\n", m->servers);
    family(t, "process_cpu_seconds_total", "counter", "User and system CPU time of the process, in seconds.");
    add(t, "process_cpu_seconds_total %.3f\n", cpu_seconds());
}

/* ---- HTTP --------------------------------------------------------------- */

static void drop(conn *c)
{
    close(c->fd);
    free(c->resp);
    c->resp = NULL;
    c->state = CONN_FREE;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Service Unavailable";
    }
}

/* The answer goes out from the next write; a HEAD's without its body. */
static void answer(conn *c, int status, const char *type, const char *extra, const char *body, size_t body_len,
                   int head, uint64_t now)
{
    text t = {0};
    add(&t, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
        status_text(status), type, body_len, extra);
    if (!head)
        add_bytes(&t, body, body_len);
    if (t.failed) {
        free(t.s);
        drop(c);
        return;
    }
    c->resp = t.s;
    c->resp_len = t.len;
    c->sent = 0;
    c->state = CONN_WRITING;
    c->deadline_ms = now + IDLE_MS;
}

static void answer_text(conn *c, int status, const char *extra, const char *body, uint64_t now)
{
    answer(c, status, "text/plain; charset=utf-8", extra, body, strlen(body), 0, now);
}

/* The request's head has ended: a line with nothing on it. */
static int head_complete(const conn *c)
{
    for (size_t i = 0; i + 1 < c->len; i++)
        if (c->req[i] == '\n' && (c->req[i + 1] == '\n' || (c->req[i + 1] == '\r' && i + 2 < c->len &&
                                                              c->req[i + 2] == '\n')))
            return 1;
    return 0;
}

/* An HTTP token: what a method may be made of (RFC 9110's tchar). */
static int is_method(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!s[i] || (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i])))
            return 0;
    return 1;
}

/* "METHOD TARGET HTTP/1.x": the answer to a whole request head. */
static void handle(metrics *m, conn *c, uint64_t now)
{
    const char *req = c->req;
    const char *eol = memchr(req, '\n', c->len);
    size_t n = (size_t)(eol - req);
    if (n && req[n - 1] == '\r')
        n--;
    const char *sp1 = memchr(req, ' ', n);
    const char *target = sp1 ? sp1 + 1 : NULL;
    const char *sp2 = target ? memchr(target, ' ', n - (size_t)(target - req)) : NULL;
    const char *version = sp2 ? sp2 + 1 : NULL;
    if (!sp2 || memchr(req, '\0', c->len) || !is_method(req, (size_t)(sp1 - req)) || target[0] != '/' ||
        (size_t)(req + n - version) != 8 || (memcmp(version, "HTTP/1.0", 8) && memcmp(version, "HTTP/1.1", 8))) {
        answer_text(c, 400, "", "bad request\n", now);
        return;
    }
    size_t method_len = (size_t)(sp1 - req);
    int head = method_len == 4 && !memcmp(req, "HEAD", 4);
    if (!head && !(method_len == 3 && !memcmp(req, "GET", 3))) {
        answer_text(c, 405, "Allow: GET, HEAD\r\n", "only GET and HEAD\n", now);
        return;
    }
    size_t path_len = (size_t)(sp2 - target);
    const char *query = memchr(target, '?', path_len);
    if (query)
        path_len = (size_t)(query - target);
    if (path_len == 8 && !memcmp(target, "/metrics", 8)) {
        m->collect(m->ctx, m->snaps, m->servers);
        text body = {0};
        exposition(m, &body);
        if (body.failed)
            drop(c);
        else
            answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", "", body.s, body.len, head, now);
        free(body.s);
    } else if (path_len == 8 && !memcmp(target, "/healthz", 8)) {
        const char *body = m->stopping ? "stopping\n" : "ok\n";
        answer(c, m->stopping ? 503 : 200, "text/plain; charset=utf-8", "", body, strlen(body), head, now);
    } else {
        answer_text(c, 404, "", "not found: GET /metrics or /healthz\n", now);
    }
}

static void read_request(metrics *m, conn *c, uint64_t now)
{
    while (c->state == CONN_READING) {
        if (c->len == sizeof c->req) {
            answer_text(c, 431, "", "request head over 4096 bytes\n", now);
            return;
        }
        ssize_t n = recv(c->fd, c->req + c->len, sizeof c->req - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            if (head_complete(c))
                handle(m, c, now);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                drop(c);
            return;
        }
    }
}

/* Closing with the client's bytes unread would reset the connection,
 * which can destroy the answer before the client has read it (a request
 * over the limit, still being sent): once answered, the client is told
 * there is no more, and what it still sends is read and dropped until it
 * closes, for IDLE_MS at most. */
static void write_answer(conn *c, uint64_t now)
{
    while (c->sent < c->resp_len) {
        ssize_t n = send(c->fd, c->resp + c->sent, c->resp_len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            c->deadline_ms = now + IDLE_MS;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                drop(c);
            return;
        }
    }
    free(c->resp);
    c->resp = NULL;
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_DRAINING;
    c->deadline_ms = now + IDLE_MS;
}

static void drain(conn *c)
{
    char sink[1024];
    for (int i = 0; i < DRAIN_READS_PER_POLL; i++) {
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            drop(c);
        return;
    }
}

static int nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ? -1 : 0;
}

/* One more than METRICS_CONNECTIONS is closed at once: left in the
 * backlog it would keep the socket readable, and the loop awake. */
static void accept_new(metrics *m, uint64_t now)
{
    for (int k = 0; k < ACCEPTS_PER_POLL; k++) {
        int fd = accept(m->fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            continue; /* one that was gone before we took it */
        }
        conn *c = NULL;
        for (int i = 0; i < METRICS_CONNECTIONS && !c; i++)
            if (m->conns[i].state == CONN_FREE)
                c = &m->conns[i];
        if (!c || nonblocking(fd) != 0) {
            close(fd);
            continue;
        }
        c->state = CONN_READING;
        c->fd = fd;
        c->len = 0;
        c->deadline_ms = now + IDLE_MS;
    }
}

/* ---- The module's interface --------------------------------------------- */

void metrics_snapshot_take(const gv_server *s, metrics_snapshot *snap)
{
    snap->stats = (gv_server_stats){.size = sizeof snap->stats};
    gv_server_get_stats(s, &snap->stats);
    snap->lobbies[0].size = sizeof snap->lobbies[0];
    int n = gv_server_get_lobby_stats(s, snap->lobbies, METRICS_LOBBIES);
    snap->listed = n < 0 ? 0 : n;
}

size_t metrics_snapshot_size(const metrics_snapshot *snap)
{
    return offsetof(metrics_snapshot, lobbies) + (size_t)snap->listed * sizeof snap->lobbies[0];
}

void metrics_collect_server(void *ctx, metrics_snapshot *snaps, int n)
{
    (void)n;
    metrics_snapshot_take(ctx, &snaps[0]);
}

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

int metrics_open(const char *host, uint16_t port, int servers, metrics_collect collect, void *ctx, metrics **out,
                 char *why, size_t why_len)
{
    say(why, why_len, "%s", "");
    if (out)
        *out = NULL;
    if (!host || !collect || !out || servers < 1 || servers > GV_DIRECTORY_WORKERS_MAX)
        return GV_EINVAL;
    /* IPv4, as the server's UDP side. */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        say(why, why_len, "cannot listen for --metrics on %s:%u: %s", host, (unsigned)port, gai_strerror(rc));
        return GV_ENOTFOUND;
    }
    metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->snaps = calloc((size_t)servers, sizeof *m->snaps))) {
        freeaddrinfo(ai);
        free(m);
        return GV_ENOMEM;
    }
    m->servers = servers;
    m->collect = collect;
    m->ctx = ctx;
    m->fd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;
    /* A restarted server takes its port back at once, not after
     * TIME_WAIT. */
    if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(m->fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(m->fd, LISTEN_BACKLOG) != 0 ||
        nonblocking(m->fd) != 0 || getsockname(m->fd, (struct sockaddr *)&bound, &bound_len) != 0) {
        say(why, why_len, "cannot listen for --metrics on TCP %s:%u: %s", host, (unsigned)port, strerror(errno));
        freeaddrinfo(ai);
        if (m->fd >= 0)
            close(m->fd);
        free(m->snaps);
        free(m);
        return GV_EIO;
    }
    freeaddrinfo(ai);
    m->port = ntohs(bound.sin_port);
    *out = m;
    return 0;
}

int metrics_port(const metrics *m)
{
    return m->port;
}

int metrics_pollfds(const metrics *m, struct pollfd *fds)
{
    int n = 0;
    fds[n++] = (struct pollfd){.fd = m->fd, .events = POLLIN};
    for (int i = 0; i < METRICS_CONNECTIONS; i++) {
        const conn *c = &m->conns[i];
        if (c->state != CONN_FREE)
            fds[n++] = (struct pollfd){.fd = c->fd, .events = c->state == CONN_WRITING ? POLLOUT : POLLIN};
    }
    return n;
}

void metrics_poll(metrics *m)
{
    uint64_t now = clock_mono_ms();
    accept_new(m, now);
    for (int i = 0; i < METRICS_CONNECTIONS; i++) {
        conn *c = &m->conns[i];
        /* A request read is answered, and an answer written is drained,
         * in the same poll: most need no second one. */
        if (c->state == CONN_READING)
            read_request(m, c, now);
        if (c->state == CONN_WRITING)
            write_answer(c, now);
        if (c->state == CONN_DRAINING)
            drain(c);
        if (c->state != CONN_FREE && now >= c->deadline_ms)
            drop(c);
    }
}

void metrics_stopping(metrics *m)
{
    m->stopping = 1;
}

void metrics_close(metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < METRICS_CONNECTIONS; i++)
        if (m->conns[i].state != CONN_FREE)
            drop(&m->conns[i]);
    close(m->fd);
    free(m->snaps);
    free(m);
}
