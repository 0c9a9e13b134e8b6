/* libgvoip-fleet: the C half of gvoip/fleet.h. Every decision lives in the
 * Lua scripts of gv_fleet_scripts.h; this file checks arguments, keeps the
 * connection (reconnecting, authenticating, caching the scripts' SHA1) and
 * turns replies into structs. */
#include "gvoip/fleet.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "gv_fleet_scripts.h"
#include "gv_redis_url.h"

#define SHA1_HEX 40
#define ERROR_MAX 256
/* Lua numbers are doubles: epochs and times above this would round. */
#define EPOCH_MAX (1ull << 53)
#define FINGERPRINT_PREFIX "SHA256:"
#define FINGERPRINT_DIGITS 43
/* The fixed ARGV of register and refresh: prefix, id, epoch, lease, and
 * the node's nine fields (gv_fleet_scripts.h). */
#define NODE_ARGS 13
#define NUMBER_TEXT 32

enum script {
    SCRIPT_REGISTER,
    SCRIPT_REFRESH,
    SCRIPT_RECLAIM,
    SCRIPT_RELEASE,
    SCRIPT_LEAVE,
    SCRIPT_ALLOCATE,
    SCRIPT_LOCATE,
    SCRIPT_LIST,
    SCRIPT_PRUNE,
    SCRIPT_COUNT
};

static const char *const script_text[SCRIPT_COUNT] = {
    [SCRIPT_REGISTER] = gv_fleet_lua_register, [SCRIPT_REFRESH] = gv_fleet_lua_refresh,
    [SCRIPT_RECLAIM] = gv_fleet_lua_reclaim,   [SCRIPT_RELEASE] = gv_fleet_lua_release,
    [SCRIPT_LEAVE] = gv_fleet_lua_leave,       [SCRIPT_ALLOCATE] = gv_fleet_lua_allocate,
    [SCRIPT_LOCATE] = gv_fleet_lua_locate,     [SCRIPT_LIST] = gv_fleet_lua_list,
    [SCRIPT_PRUNE] = gv_fleet_lua_prune,
};

/* What allocate and locate's scripts answer first. */
enum placement_status { PLACED = 0, ALL_FULL = 1, NONE_LIVE = 2, OTHER_PROTOCOL = 3 };

struct gv_fleet {
    redisContext *redis; /* NULL or broken (err set): connect on the next command */
    gv_redis_url url;    /* the password too, for reconnecting: wiped by destroy */
    char where[GV_REDIS_URL_HOST_MAX + 16];
    char prefix[GV_FLEET_PREFIX_MAX + 1];
    size_t prefix_len;
    int timeout_ms;
    int lease_ms;
    /* The script's SHA1 as Redis gave it, once loaded on any connection:
     * the text never changes, so neither does the SHA1, and a Redis that
     * lost its script cache answers NOSCRIPT, met by sending the text. */
    char sha[SCRIPT_COUNT][SHA1_HEX + 1];
    /* The call in progress: when it started, and whether a failed command
     * may reconnect and run again (once, on a connection an earlier call
     * opened, and not after a timeout). */
    struct timespec call_start;
    int may_retry;
    char error[ERROR_MAX];
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(gv_fleet *f, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
    return code;
}

static uint64_t elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
    return ms > 0 ? (uint64_t)ms : 0;
}

static void drop_connection(gv_fleet *f)
{
    redisFree(f->redis);
    f->redis = NULL;
}

/* hiredis writes with write(), and a write to a socket Redis reset raises
 * SIGPIPE, whose default kills the process. A library must not change the
 * process's handlers, so the signal is blocked in this thread for the
 * command and any SIGPIPE it raised is taken back before unblocking; one
 * that was pending before stays for its owner. */
static redisReply *run_command(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

static int is_error(const redisReply *r, const char *code)
{
    return r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, code, strlen(code));
}

/* A command of the connection's own (AUTH, SELECT, PING): 0 with *out, or
 * a code with the connection dropped and f->error set. */
static int handshake_command(gv_fleet *f, int argc, const char **argv, redisReply **out)
{
    size_t lens[3];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = run_command(f->redis, argc, argv, lens);
    if (!r) {
        int code = f->redis->err == REDIS_ERR_OOM ? GV_ENOMEM : GV_EIO;
        fail(f, code, "Redis at %s did not answer %s: %s", f->where, argv[0], f->redis->errstr);
        drop_connection(f);
        return code;
    }
    *out = r;
    return 0;
}

/* Connects, authenticates, selects the database and checks that Redis
 * answers: every new connection, at create and after a failure. */
static int connect_redis(gv_fleet *f)
{
    drop_connection(f);
    const struct timeval tv = {.tv_sec = f->timeout_ms / 1000, .tv_usec = (f->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(f->url.host, f->url.port, tv);
    if (!c)
        return fail(f, GV_ENOMEM, "out of memory connecting to Redis at %s", f->where);
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        int code = fail(f, GV_EIO, "cannot reach Redis at %s: %s", f->where, c->errstr);
        redisFree(c);
        return code;
    }
    f->redis = c;
    redisReply *r;
    int rc;
    if (f->url.auth) {
        const char *argv[3] = {"AUTH"};
        int argc = 1;
        if (f->url.user[0])
            argv[argc++] = f->url.user;
        argv[argc++] = f->url.password;
        if ((rc = handshake_command(f, argc, argv, &r)) != 0)
            return rc;
        if (r->type == REDIS_REPLY_ERROR) {
            /* Redis's text names the user at most, never the password. */
            rc = fail(f, GV_EAUTH, "Redis at %s refused the %s in the URL: %s", f->where,
                      f->url.user[0] ? "user and password" : "password", r->str);
            freeReplyObject(r);
            drop_connection(f);
            return rc;
        }
        freeReplyObject(r);
    }
    if (f->url.db) {
        char db[NUMBER_TEXT];
        snprintf(db, sizeof db, "%d", f->url.db);
        if ((rc = handshake_command(f, 2, (const char *[]){"SELECT", db}, &r)) != 0)
            return rc;
        rc = r->type == REDIS_REPLY_ERROR ? fail(f, is_error(r, "NOAUTH") ? GV_EAUTH : GV_EIO,
                                                 "Redis at %s refused database %s: %s", f->where, db, r->str)
                                          : 0;
        freeReplyObject(r);
        if (rc != 0) {
            drop_connection(f);
            return rc;
        }
    }
    if ((rc = handshake_command(f, 1, (const char *[]){"PING"}, &r)) != 0)
        return rc;
    if (r->type == REDIS_REPLY_ERROR)
        rc = is_error(r, "NOAUTH")
                 ? fail(f, GV_EAUTH, "Redis at %s wants a password: give it in the URL, redis://:PASSWORD@%s",
                        f->where, f->where)
                 : fail(f, GV_EIO, "Redis at %s answered PING with: %s", f->where, r->str);
    else if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0)
        rc = fail(f, GV_EIO, "the server at %s does not answer PING as Redis does", f->where);
    freeReplyObject(r);
    if (rc != 0)
        drop_connection(f);
    return rc;
}

static void begin_call(gv_fleet *f)
{
    f->error[0] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &f->call_start);
    f->may_retry = f->redis && !f->redis->err;
}

/* One command, on a fresh connection when the last one broke. Returns the
 * reply (an error reply included: the caller reads it), or NULL with *rc
 * set. A command that fails on a connection an earlier call opened runs
 * again once on a new one, unless it took a timeout's time already: a
 * Redis that restarted heals in one call, one that hangs costs one
 * timeout, not two. */
static redisReply *command(gv_fleet *f, int argc, const char **argv, const size_t *lens, int *rc)
{
    for (;;) {
        if ((!f->redis || f->redis->err) && (*rc = connect_redis(f)) != 0)
            return NULL;
        struct timespec sent;
        clock_gettime(CLOCK_MONOTONIC, &sent);
        redisReply *r = run_command(f->redis, argc, argv, lens);
        if (r)
            return r;
        *rc = f->redis->err == REDIS_ERR_OOM ? GV_ENOMEM : GV_EIO;
        /* hiredis says only "Resource temporarily unavailable". */
        if (elapsed_ms(&sent) >= (uint64_t)f->timeout_ms)
            fail(f, *rc, "Redis at %s did not answer within %d ms", f->where, f->timeout_ms);
        else
            fail(f, *rc, "lost the connection to Redis at %s: %s", f->where, f->redis->errstr);
        int retry = f->may_retry && *rc == GV_EIO && elapsed_ms(&f->call_start) < (uint64_t)f->timeout_ms;
        f->may_retry = 0;
        drop_connection(f);
        if (!retry)
            return NULL;
    }
}

/* An error reply as the call's failure. */
static int refused(gv_fleet *f, const redisReply *r)
{
    int code = is_error(r, "NOAUTH") || is_error(r, "WRONGPASS") || is_error(r, "NOPERM") ? GV_EAUTH : GV_EIO;
    return fail(f, code, "Redis at %s refused: %s", f->where, r->str);
}

/* Runs script s with args (ARGV; args[0] the prefix) by its SHA1, loading
 * it first on this fleet's first use. Returns the reply, which may be an
 * error reply, or NULL with *rc set. */
static redisReply *run_script(gv_fleet *f, enum script s, int nargs, const char **args, const size_t *arg_lens,
                              int *rc)
{
    const char *text = script_text[s];
    if (!f->sha[s][0]) {
        const char *load[3] = {"SCRIPT", "LOAD", text};
        const size_t load_lens[3] = {6, 4, strlen(text)};
        redisReply *r = command(f, 3, load, load_lens, rc);
        if (!r)
            return NULL;
        if (r->type != REDIS_REPLY_STRING || r->len != SHA1_HEX) {
            *rc = r->type == REDIS_REPLY_ERROR ? refused(f, r)
                                               : fail(f, GV_EIO, "Redis at %s answered SCRIPT LOAD oddly", f->where);
            freeReplyObject(r);
            return NULL;
        }
        memcpy(f->sha[s], r->str, SHA1_HEX + 1);
        freeReplyObject(r);
    }
    int argc = nargs + 3;
    const char **argv = malloc((size_t)argc * sizeof *argv);
    size_t *lens = malloc((size_t)argc * sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        *rc = fail(f, GV_ENOMEM, "out of memory");
        return NULL;
    }
    argv[0] = "EVALSHA";
    argv[1] = f->sha[s];
    argv[2] = "0";
    lens[0] = 7;
    lens[1] = SHA1_HEX;
    lens[2] = 1;
    memcpy(argv + 3, args, (size_t)nargs * sizeof *argv);
    memcpy(lens + 3, arg_lens, (size_t)nargs * sizeof *lens);
    redisReply *r = command(f, argc, argv, lens, rc);
    if (r && is_error(r, "NOSCRIPT")) {
        /* Redis restarted (or SCRIPT FLUSH): EVAL runs the text and
         * caches it again under the same SHA1. */
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = text;
        lens[0] = 4;
        lens[1] = strlen(text);
        r = command(f, argc, argv, lens, rc);
    }
    free(argv);
    free(lens);
    if (r && r->type == REDIS_REPLY_ERROR) {
        *rc = refused(f, r);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int unexpected(gv_fleet *f, redisReply *r)
{
    freeReplyObject(r);
    return fail(f, GV_EIO, "Redis at %s answered something gvoip does not expect (another program's keys under "
                           "the same prefix?)", f->where);
}

/* ---- arguments ---- */

static int valid_id(const char *id)
{
    if (!id)
        return 0;
    for (int i = 0; i < GV_FLEET_ID_BYTES - 1; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return id[GV_FLEET_ID_BYTES - 1] == '\0';
}

static int valid_epoch(uint64_t epoch)
{
    return epoch > 0 && epoch < EPOCH_MAX;
}

/* HOST:PORT with HOST a name or a dotted IPv4 address: what a player can
 * be given (ENet has no IPv6). */
static int valid_address(const char *a)
{
    const char *end = memchr(a, '\0', GV_FLEET_ADDRESS_BYTES);
    const char *colon = end ? strrchr(a, ':') : NULL;
    if (!colon || colon == a || colon - a > 255)
        return 0;
    for (const char *p = a; p < colon; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '.' ||
              *p == '-' || *p == '_'))
            return 0;
    size_t digits = (size_t)(end - colon - 1);
    if (digits < 1 || digits > 5 || colon[1] == '0')
        return 0;
    long port = 0;
    for (const char *p = colon + 1; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        port = port * 10 + (*p - '0');
    }
    return port <= 65535;
}

static int valid_fingerprint(const char *fp)
{
    const size_t prefix = strlen(FINGERPRINT_PREFIX);
    if (strncmp(fp, FINGERPRINT_PREFIX, prefix) != 0)
        return 0;
    for (size_t i = prefix; i < prefix + FINGERPRINT_DIGITS; i++)
        if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'z') || (fp[i] >= 'A' && fp[i] <= 'Z') ||
              fp[i] == '+' || fp[i] == '/'))
            return 0;
    return fp[prefix + FINGERPRINT_DIGITS] == '\0';
}

static int valid_load(double v)
{
    return isfinite(v) && v >= 0.0;
}

static int valid_node(const gv_fleet_node *n)
{
    return n && n->size == sizeof *n && valid_id(n->id) && valid_address(n->address) &&
           valid_fingerprint(n->fingerprint) && n->protocol > 0 && n->capacity_players >= 0 &&
           n->capacity_lobbies >= 0 && n->players >= 0 && n->lobbies >= 0 && valid_load(n->forwarded_per_s) &&
           valid_load(n->cpu);
}

static int valid_lobby(const char *lobby, size_t len)
{
    return (lobby || len == 0) && len <= GV_FLEET_LOBBY_MAX;
}

/* ---- public ---- */

void gv_fleet_config_default(gv_fleet_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->prefix = GV_FLEET_DEFAULT_PREFIX;
    cfg->timeout_ms = GV_FLEET_DEFAULT_TIMEOUT_MS;
    cfg->lease_ms = GV_FLEET_DEFAULT_LEASE_MS;
}

static int valid_prefix(const char *prefix)
{
    size_t len = strnlen(prefix, GV_FLEET_PREFIX_MAX + 1);
    if (len == 0 || len > GV_FLEET_PREFIX_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (prefix[i] <= ' ' || prefix[i] > '~')
            return 0;
    return 1;
}

int gv_fleet_create(const gv_fleet_config *cfg, gv_fleet **out, char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    if (out)
        *out = NULL;
    if (!cfg || !out)
        return gv_redis_refuse(why, why_len, "no configuration or no place for the handle");
    if (cfg->size != sizeof *cfg)
        return gv_redis_refuse(why, why_len, "the configuration's size (%u) is not this library's (%zu)", (unsigned)cfg->size,
                   sizeof *cfg);
    if (!cfg->prefix || !valid_prefix(cfg->prefix))
        return gv_redis_refuse(why, why_len, "the key prefix must be 1..%d bytes of printable ASCII without spaces",
                   GV_FLEET_PREFIX_MAX);
    if (cfg->timeout_ms < 1 || cfg->timeout_ms > GV_FLEET_TIMEOUT_MS_MAX)
        return gv_redis_refuse(why, why_len, "timeout_ms must be 1..%d", GV_FLEET_TIMEOUT_MS_MAX);
    if (cfg->lease_ms < GV_FLEET_LEASE_MS_MIN || cfg->lease_ms > GV_FLEET_LEASE_MS_MAX)
        return gv_redis_refuse(why, why_len, "lease_ms must be %d..%d", GV_FLEET_LEASE_MS_MIN, GV_FLEET_LEASE_MS_MAX);
    gv_fleet *f = calloc(1, sizeof *f);
    if (!f) {
        gv_redis_refuse(why, why_len, "out of memory");
        return GV_ENOMEM;
    }
    int rc = gv_redis_url_parse(cfg->redis_url, &f->url, why, why_len);
    if (rc == 0) {
        snprintf(f->where, sizeof f->where, strchr(f->url.host, ':') ? "[%s]:%d" : "%s:%d", f->url.host,
                 f->url.port);
        f->prefix_len = strlen(cfg->prefix);
        memcpy(f->prefix, cfg->prefix, f->prefix_len + 1);
        f->timeout_ms = cfg->timeout_ms;
        f->lease_ms = cfg->lease_ms;
        rc = connect_redis(f);
        if (rc != 0 && why && why_len)
            snprintf(why, why_len, "%s", f->error);
    }
    if (rc != 0) {
        gv_fleet_destroy(f);
        return rc;
    }
    *out = f;
    return 0;
}

void gv_fleet_destroy(gv_fleet *f)
{
    if (!f)
        return;
    drop_connection(f);
    sodium_memzero(&f->url, sizeof f->url);
    free(f);
}

const char *gv_fleet_last_error(const gv_fleet *f)
{
    return f ? f->error : "";
}

int gv_fleet_node_id(char out[GV_FLEET_ID_BYTES])
{
    if (!out)
        return GV_EINVAL;
    if (sodium_init() < 0)
        return GV_EKEY;
    unsigned char raw[(GV_FLEET_ID_BYTES - 1) / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, GV_FLEET_ID_BYTES, raw, sizeof raw);
    return 0;
}

/* The ARGV register and refresh share (gv_fleet_scripts.h). */
typedef struct node_args {
    const char *argv[NODE_ARGS];
    size_t lens[NODE_ARGS];
    char numbers[9][NUMBER_TEXT];
} node_args;

static void make_node_args(const gv_fleet *f, const gv_fleet_node *n, uint64_t epoch, node_args *a)
{
    snprintf(a->numbers[0], NUMBER_TEXT, "%llu", (unsigned long long)epoch);
    snprintf(a->numbers[1], NUMBER_TEXT, "%d", f->lease_ms);
    snprintf(a->numbers[2], NUMBER_TEXT, "%lu", (unsigned long)n->protocol);
    snprintf(a->numbers[3], NUMBER_TEXT, "%d", n->capacity_players);
    snprintf(a->numbers[4], NUMBER_TEXT, "%d", n->capacity_lobbies);
    snprintf(a->numbers[5], NUMBER_TEXT, "%d", n->players);
    snprintf(a->numbers[6], NUMBER_TEXT, "%d", n->lobbies);
    /* Load figures for operators and tests: six digits are plenty. */
    snprintf(a->numbers[7], NUMBER_TEXT, "%.6g", n->forwarded_per_s);
    snprintf(a->numbers[8], NUMBER_TEXT, "%.6g", n->cpu);
    const char *v[NODE_ARGS] = {f->prefix,       n->id,          a->numbers[0], a->numbers[1], n->address,
                                n->fingerprint,  a->numbers[2], a->numbers[3], a->numbers[4], a->numbers[5],
                                a->numbers[6],   a->numbers[7], a->numbers[8]};
    for (int i = 0; i < NODE_ARGS; i++) {
        a->argv[i] = v[i];
        a->lens[i] = strlen(v[i]);
    }
}

int gv_fleet_register(gv_fleet *f, const gv_fleet_node *n, uint64_t *epoch)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!valid_node(n) || !epoch)
        return fail(f, GV_EINVAL, "a node's id, address, fingerprint, protocol or figures are out of range");
    node_args a;
    make_node_args(f, n, 0, &a);
    int rc;
    redisReply *r = run_script(f, SCRIPT_REGISTER, NODE_ARGS, a.argv, a.lens, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER || r->integer <= 0 || (uint64_t)r->integer >= EPOCH_MAX)
        return unexpected(f, r);
    *epoch = (uint64_t)r->integer;
    freeReplyObject(r);
    return 0;
}

int gv_fleet_refresh(gv_fleet *f, const gv_fleet_node *n, uint64_t epoch)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!valid_node(n) || !valid_epoch(epoch))
        return fail(f, GV_EINVAL, "a node's id, address, fingerprint, protocol, figures or epoch are out of range");
    node_args a;
    make_node_args(f, n, epoch, &a);
    int rc;
    redisReply *r = run_script(f, SCRIPT_REFRESH, NODE_ARGS, a.argv, a.lens, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER)
        return unexpected(f, r);
    rc = r->integer == 1 ? 0 : fail(f, GV_ESTATE, "the node's lease lapsed or holds a newer epoch");
    freeReplyObject(r);
    return rc;
}

int gv_fleet_reclaim(gv_fleet *f, const char *node_id, uint64_t epoch, const gv_fleet_lobby *lobbies, int n,
                     int *lost_out)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!valid_id(node_id) || !valid_epoch(epoch) || n < 0 || n > GV_FLEET_RECLAIM_MAX || (n > 0 && !lobbies))
        return fail(f, GV_EINVAL, "a node id, epoch or lobby count is out of range");
    for (int i = 0; i < n; i++)
        if (lobbies[i].len > GV_FLEET_LOBBY_MAX || lobbies[i].opened_ms >= EPOCH_MAX)
            return fail(f, GV_EINVAL, "lobby %d's name is longer than %d bytes or its time is not Unix ms", i,
                        GV_FLEET_LOBBY_MAX);
    int nargs = 3 + 2 * n;
    const char **argv = malloc((size_t)nargs * sizeof *argv);
    size_t *lens = malloc((size_t)nargs * sizeof *lens);
    char *times = malloc((size_t)(n + 1) * NUMBER_TEXT);
    if (!argv || !lens || !times) {
        free(argv);
        free(lens);
        free(times);
        return fail(f, GV_ENOMEM, "out of memory");
    }
    /* times[0] is the epoch's text, times[1 + i] lobby i's opened_ms. */
    snprintf(times, NUMBER_TEXT, "%llu", (unsigned long long)epoch);
    argv[0] = f->prefix;
    argv[1] = node_id;
    argv[2] = times;
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    for (int i = 0; i < n; i++) {
        char *t = times + (size_t)(i + 1) * NUMBER_TEXT;
        snprintf(t, NUMBER_TEXT, "%llu", (unsigned long long)lobbies[i].opened_ms);
        argv[3 + 2 * i] = lobbies[i].name;
        lens[3 + 2 * i] = lobbies[i].len;
        argv[4 + 2 * i] = t;
        lens[4 + 2 * i] = strlen(t);
    }
    int rc;
    redisReply *r = run_script(f, SCRIPT_RECLAIM, nargs, argv, lens, &rc);
    free(argv);
    free(lens);
    free(times);
    if (!r)
        return rc;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == -1) {
        freeReplyObject(r);
        return fail(f, GV_ESTATE, "the node's lease lapsed or holds a newer epoch");
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)n)
        return unexpected(f, r);
    int lost = 0;
    for (int i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_INTEGER || (e->integer != 0 && e->integer != 1))
            return unexpected(f, r);
        lost += (int)e->integer;
    }
    if (lost_out)
        for (int i = 0; i < n; i++)
            lost_out[i] = (int)r->element[i]->integer;
    freeReplyObject(r);
    return lost;
}

/* A script that answers 1 (done) or 0 (refused with code). */
static int run_yes_no(gv_fleet *f, enum script s, int nargs, const char **argv, const size_t *lens, int code,
                      const char *refusal)
{
    int rc;
    redisReply *r = run_script(f, s, nargs, argv, lens, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER || (r->integer != 0 && r->integer != 1))
        return unexpected(f, r);
    rc = r->integer == 1 ? 0 : fail(f, code, "%s", refusal);
    freeReplyObject(r);
    return rc;
}

int gv_fleet_prune(gv_fleet *f, const char *node_id, uint64_t epoch, const gv_fleet_lobby *held, int n,
                   uint64_t older_than_ms)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!valid_id(node_id) || !valid_epoch(epoch) || n < 0 || n > GV_FLEET_RECLAIM_MAX || (n > 0 && !held) ||
        older_than_ms >= EPOCH_MAX)
        return fail(f, GV_EINVAL, "a node id, epoch, lobby count or age is out of range");
    for (int i = 0; i < n; i++)
        if (held[i].len > GV_FLEET_LOBBY_MAX)
            return fail(f, GV_EINVAL, "lobby %d's name is longer than %d bytes", i, GV_FLEET_LOBBY_MAX);
    int nargs = 4 + n;
    const char **argv = malloc((size_t)nargs * sizeof *argv);
    size_t *lens = malloc((size_t)nargs * sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return fail(f, GV_ENOMEM, "out of memory");
    }
    char epoch_text[NUMBER_TEXT], age_text[NUMBER_TEXT];
    snprintf(epoch_text, sizeof epoch_text, "%llu", (unsigned long long)epoch);
    snprintf(age_text, sizeof age_text, "%llu", (unsigned long long)older_than_ms);
    argv[0] = f->prefix;
    argv[1] = node_id;
    argv[2] = epoch_text;
    argv[3] = age_text;
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    for (int i = 0; i < n; i++) {
        argv[4 + i] = held[i].name;
        lens[4 + i] = held[i].len;
    }
    int rc;
    redisReply *r = run_script(f, SCRIPT_PRUNE, nargs, argv, lens, &rc);
    free(argv);
    free(lens);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < -1)
        return unexpected(f, r);
    long long removed = r->integer;
    freeReplyObject(r);
    if (removed < 0)
        return fail(f, GV_ESTATE, "the node's lease lapsed or holds a newer epoch");
    return (int)removed;
}

int gv_fleet_release(gv_fleet *f, const char *node_id, uint64_t epoch, const char *lobby, size_t len)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!valid_id(node_id) || !valid_epoch(epoch) || !valid_lobby(lobby, len))
        return fail(f, GV_EINVAL, "a node id, epoch or lobby name is out of range");
    char epoch_text[NUMBER_TEXT];
    snprintf(epoch_text, sizeof epoch_text, "%llu", (unsigned long long)epoch);
    const char *argv[4] = {f->prefix, node_id, epoch_text, lobby ? lobby : ""};
    const size_t lens[4] = {f->prefix_len, GV_FLEET_ID_BYTES - 1, strlen(epoch_text), len};
    return run_yes_no(f, SCRIPT_RELEASE, 4, argv, lens, GV_ENOTFOUND,
                      "the lobby is not placed on this node under this epoch");
}

int gv_fleet_leave(gv_fleet *f, const char *node_id, uint64_t epoch)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!valid_id(node_id) || !valid_epoch(epoch))
        return fail(f, GV_EINVAL, "a node id or epoch is out of range");
    char epoch_text[NUMBER_TEXT];
    snprintf(epoch_text, sizeof epoch_text, "%llu", (unsigned long long)epoch);
    const char *argv[3] = {f->prefix, node_id, epoch_text};
    const size_t lens[3] = {f->prefix_len, GV_FLEET_ID_BYTES - 1, strlen(epoch_text)};
    return run_yes_no(f, SCRIPT_LEAVE, 3, argv, lens, GV_ESTATE, "the node id is registered under a newer epoch");
}

/* A bulk string of at most cap - 1 bytes, copied with a NUL. */
static int copy_string(const redisReply *r, char *out, size_t cap)
{
    if (r->type != REDIS_REPLY_STRING || r->len >= cap)
        return -1;
    memcpy(out, r->str, r->len);
    out[r->len] = '\0';
    return 0;
}

/* Whole text s as an integer in min..max. */
static int parse_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* allocate's and locate's answer {status, node, address, fingerprint,
 * protocol, created, placed} into *out. */
static int fill_placement(gv_fleet *f, redisReply *r, const char *lobby, size_t len, gv_fleet_placement *out)
{
    if (r->elements != 7)
        return unexpected(f, r);
    redisReply *const *e = r->element;
    gv_fleet_placement p = {.size = sizeof p, .lobby_len = len};
    memcpy(p.lobby, lobby, len);
    if (copy_string(e[1], p.node, sizeof p.node) != 0 || !valid_id(p.node) ||
        copy_string(e[2], p.address, sizeof p.address) != 0 ||
        copy_string(e[3], p.fingerprint, sizeof p.fingerprint) != 0 || e[4]->type != REDIS_REPLY_INTEGER ||
        e[4]->integer <= 0 || e[4]->integer > UINT32_MAX || e[5]->type != REDIS_REPLY_INTEGER ||
        e[5]->integer < 0 || e[6]->type != REDIS_REPLY_INTEGER)
        return unexpected(f, r);
    p.protocol = (uint32_t)e[4]->integer;
    p.created_ms = (uint64_t)e[5]->integer;
    p.placed_now = e[6]->integer != 0;
    *out = p;
    return 0;
}

static int find_placement(gv_fleet *f, enum script s, const char *lobby, size_t len, uint32_t protocol,
                          gv_fleet_placement *out)
{
    char protocol_text[NUMBER_TEXT];
    snprintf(protocol_text, sizeof protocol_text, "%lu", (unsigned long)protocol);
    if (!lobby)
        lobby = "";
    const char *argv[3] = {f->prefix, lobby, protocol_text};
    const size_t lens[3] = {f->prefix_len, len, strlen(protocol_text)};
    int rc;
    redisReply *r = run_script(f, s, s == SCRIPT_ALLOCATE ? 3 : 2, argv, lens, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER)
        return unexpected(f, r);
    long long status = r->element[0]->integer;
    if (status == PLACED || status == OTHER_PROTOCOL) {
        if ((rc = fill_placement(f, r, lobby, len, out)) != 0)
            return rc;
        if (status == OTHER_PROTOCOL)
            rc = fail(f, GV_EVERSION, "the lobby is hosted by %s, which speaks protocol %lu, not %lu", out->address,
                      (unsigned long)out->protocol, (unsigned long)protocol);
    } else if (status == ALL_FULL) {
        rc = fail(f, GV_EFULL, "every live node speaking protocol %lu is full", (unsigned long)protocol);
    } else if (status == NONE_LIVE && s == SCRIPT_LOCATE) {
        rc = fail(f, GV_ENOTFOUND, "the lobby is not placed on a live node");
    } else if (status == NONE_LIVE) {
        rc = protocol ? fail(f, GV_ENOTFOUND, "no live node speaks protocol %lu", (unsigned long)protocol)
                      : fail(f, GV_ENOTFOUND, "no node is live");
    } else {
        return unexpected(f, r);
    }
    freeReplyObject(r);
    return rc;
}

int gv_fleet_allocate(gv_fleet *f, const char *lobby, size_t len, uint32_t protocol, gv_fleet_placement *out)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!out || out->size < sizeof *out || !valid_lobby(lobby, len))
        return fail(f, GV_EINVAL, "no place for the answer, or a lobby name out of range");
    return find_placement(f, SCRIPT_ALLOCATE, lobby, len, protocol, out);
}

int gv_fleet_locate(gv_fleet *f, const char *lobby, size_t len, gv_fleet_placement *out)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (!out || out->size < sizeof *out || !valid_lobby(lobby, len))
        return fail(f, GV_EINVAL, "no place for the answer, or a lobby name out of range");
    return find_placement(f, SCRIPT_LOCATE, lobby, len, 0, out);
}

/* One entry of the list script into *n: its stored strings, checked as
 * register checks them. */
static int parse_node(const redisReply *r, gv_fleet_node *n)
{
    char text[7][NUMBER_TEXT];
    long long v[5];
    memset(n, 0, sizeof *n);
    n->size = sizeof *n;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 10 || copy_string(r->element[0], n->id, sizeof n->id) != 0 ||
        copy_string(r->element[1], n->address, sizeof n->address) != 0 ||
        copy_string(r->element[2], n->fingerprint, sizeof n->fingerprint) != 0)
        return -1;
    for (int i = 0; i < 7; i++)
        if (copy_string(r->element[3 + i], text[i], sizeof text[i]) != 0)
            return -1;
    if (parse_long(text[0], 1, UINT32_MAX, &v[0]) != 0)
        return -1;
    for (int i = 1; i < 5; i++)
        if (parse_long(text[i], 0, INT32_MAX, &v[i]) != 0)
            return -1;
    n->protocol = (uint32_t)v[0];
    n->capacity_players = (int)v[1];
    n->capacity_lobbies = (int)v[2];
    n->players = (int)v[3];
    n->lobbies = (int)v[4];
    char *end;
    n->forwarded_per_s = strtod(text[5], &end);
    if (*end)
        return -1;
    n->cpu = strtod(text[6], &end);
    if (*end)
        return -1;
    return valid_node(n) ? 0 : -1;
}

int gv_fleet_list_nodes(gv_fleet *f, gv_fleet_node *out, int max)
{
    if (!f)
        return GV_EINVAL;
    begin_call(f);
    if (max < 0 || (max > 0 && (!out || out[0].size < sizeof *out)))
        return fail(f, GV_EINVAL, "no place for the nodes, or a negative count");
    size_t stride = max > 0 ? out[0].size : 0;
    const char *argv[1] = {f->prefix};
    const size_t lens[1] = {f->prefix_len};
    int rc;
    redisReply *r = run_script(f, SCRIPT_LIST, 1, argv, lens, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return unexpected(f, r);
    int count = 0;
    for (size_t i = 0; i < r->elements && count < max; i++) {
        gv_fleet_node n;
        if (parse_node(r->element[i], &n) != 0)
            return unexpected(f, r);
        memcpy((char *)out + (size_t)count * stride, &n, sizeof n);
        count++;
    }
    freeReplyObject(r);
    return count;
}
