/* libgvoip-fleet against real redis-server processes this test starts on
 * loopback ports of its own: the URL parser's table, authentication
 * (requirepass and an ACL user), leases and epochs, placement by room and
 * protocol, 4 threads placing 300 lobbies on 3 nodes at once, reclaiming
 * after a conflict and after Redis lost its data, a Redis killed, hung
 * and restarted, and every public function's refusals. The one lease
 * that lapses is short (LEASE_MS) and waits are bounded by deadlines, so
 * the whole file runs in a few seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mono.h"
#include "test_rng.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "gv_redis_url.h"
#include "gvoip/fleet.h"

/* The lease the lapse is tested with; every other test's nodes hold
 * theirs for LEASE_HOLD_MS, so that a slow (sanitized, loaded) run never
 * sees a node lapse under it. */
#define LEASE_MS 1000
#define LEASE_HOLD_MS 60000
#define TIMEOUT_MS 200
#define FINGERPRINT "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
#define PASSWORD "correct horse"
#define START_WAIT_US (10u * 1000000u)

typedef struct redis_proc {
    pid_t pid;
    int port;
    const char *password; /* requirepass, or NULL */
} redis_proc;

static redis_proc main_redis = {.pid = -1};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A loopback port nobody holds now: bound, read back and released for
 * redis-server, which cannot pick one itself (--port 0 means no TCP). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static redisReply *raw_command(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return r;
}

/* A plain hiredis connection, authenticated: the test's own look at the
 * keys. NULL while the server does not answer. */
static redisContext *raw_connect(const redis_proc *r)
{
    const struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    redisReply *rep = r->password ? raw_command(c, "AUTH %s", r->password) : raw_command(c, "PING");
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    freeReplyObject(rep);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Starts redis-server on port (0: a free one) and waits until it answers.
 * It dies with this process (PR_SET_PDEATHSIG) if the test crashes. */
static void redis_start(redis_proc *r, int port, const char *password)
{
    r->port = port ? port : free_port();
    r->password = password;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", r->port);
    pid_t parent = getpid();
    /* What stdout holds now must not be written by the child too. */
    fflush(NULL);
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        const char *argv[20] = {"redis-server", "--bind", "127.0.0.1", "--port", port_text, "--save", "",
                                "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--dir", "/tmp"};
        int argc = 15;
        if (password) {
            argv[argc++] = "--requirepass";
            argv[argc++] = password;
        }
        argv[argc] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    uint64_t deadline = mono_us() + START_WAIT_US;
    for (;;) {
        redisContext *c = raw_connect(r);
        if (c) {
            redisFree(c);
            return;
        }
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid)
            fail_msg("redis-server on port %d exited (status %d): is it installed?", r->port, status);
        if (mono_us() > deadline)
            fail_msg("redis-server on port %d did not answer within %u s", r->port, START_WAIT_US / 1000000u);
        sleep_ms(5);
    }
}

static void redis_kill(redis_proc *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGCONT);
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = -1;
}

static void url_of(const redis_proc *r, char *url, size_t len)
{
    snprintf(url, len, "redis://127.0.0.1:%d", r->port);
}

static gv_fleet *fleet_leasing(const redis_proc *r, const char *url_suffix, int lease_ms)
{
    char url[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d%s", r->port, url_suffix);
    gv_fleet_config cfg;
    gv_fleet_config_default(&cfg);
    cfg.redis_url = url;
    cfg.lease_ms = lease_ms;
    cfg.timeout_ms = TIMEOUT_MS;
    gv_fleet *f = NULL;
    char why[256] = "";
    int rc = gv_fleet_create(&cfg, &f, why, sizeof why);
    if (rc != 0)
        fail_msg("gv_fleet_create(%s): %s (%s)", url, gv_strerror(rc), why);
    return f;
}

static gv_fleet *fleet_on(const redis_proc *r, const char *url_suffix)
{
    return fleet_leasing(r, url_suffix, LEASE_HOLD_MS);
}

static gv_fleet *fleet(void)
{
    return fleet_on(&main_redis, "");
}

static gv_fleet_node make_node(const char *address, uint32_t protocol, int capacity_players, int capacity_lobbies,
                               int players)
{
    gv_fleet_node n = {.size = sizeof n,
                       .protocol = protocol,
                       .capacity_players = capacity_players,
                       .capacity_lobbies = capacity_lobbies,
                       .players = players,
                       .forwarded_per_s = 1234.5,
                       .cpu = 0.35};
    assert_int_equal(gv_fleet_node_id(n.id), 0);
    snprintf(n.address, sizeof n.address, "%s", address);
    snprintf(n.fingerprint, sizeof n.fingerprint, "%s", FINGERPRINT);
    return n;
}

static long long raw_integer(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("expected an integer, got type %d (%s)", r->type, r->str ? r->str : "");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* HGET as a string into out ("" when missing). */
static void raw_hget(redisContext *c, const char *key, const char *field, char *out, size_t len)
{
    redisReply *r = raw_command(c, "HGET %s %s", key, field);
    assert_non_null(r);
    snprintf(out, len, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

static void raw_simple(redisContext *c, const char *command)
{
    redisReply *r = raw_command(c, command);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* Waits for key to expire (a lease lapsing by itself), LEASE_MS and a
 * margin at most. */
static void wait_gone(redisContext *c, const char *key)
{
    uint64_t deadline = mono_us() + (uint64_t)LEASE_MS * 3000u;
    while (raw_integer(c, "EXISTS %s", key) != 0) {
        if (mono_us() > deadline)
            fail_msg("%s did not expire", key);
        sleep_ms(10);
    }
}

static int group_setup(void **state)
{
    (void)state;
    uint32_t seed = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    printf("test_fleet seed %u\n", seed);
    test_rng_seed(seed);
    redis_start(&main_redis, 0, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    redis_kill(&main_redis);
    return 0;
}

static int flush(void **state)
{
    (void)state;
    redisContext *c = raw_connect(&main_redis);
    assert_non_null(c);
    raw_simple(c, "FLUSHALL");
    redisFree(c);
    return 0;
}

/* ---- the URL ---- */

typedef struct url_case {
    const char *url;
    const char *host;
    int port, db;
    const char *user, *password;
    int auth;
} url_case;

static const url_case good_urls[] = {
    {"redis://127.0.0.1:6380", "127.0.0.1", 6380, 0, "", "", 0},
    {"redis://localhost", "localhost", 6379, 0, "", "", 0},
    {"redis://redis.example.org:1/", "redis.example.org", 1, 0, "", "", 0},
    {"redis://h:65535/15", "h", 65535, 15, "", "", 0},
    {"redis://:secret@h:7000/2", "h", 7000, 2, "", "secret", 1},
    {"redis://alice:secret@h", "h", 6379, 0, "alice", "secret", 1},
    {"redis://:@h", "h", 6379, 0, "", "", 0},
    {"redis://alice:@h", "h", 6379, 0, "alice", "", 1},
    {"redis://:p%40ss%3Aw%2Frd@h", "h", 6379, 0, "", "p@ss:w/rd", 1},
    {"redis://:p@ss@h:9", "h", 9, 0, "", "p@ss", 1},
    {"redis://[::1]:6390/3", "::1", 6390, 3, "", "", 0},
    {"redis://[::1]", "::1", 6379, 0, "", "", 0},
    {"redis://my_redis-1.internal:6379/2147483647", "my_redis-1.internal", 6379, 2147483647, "", "", 0},
};

static const char *const bad_urls[] = {
    "",
    "redis:/h",
    "http://h:6379",
    "rediss://h:6379",
    "unix:///tmp/redis.sock",
    "redis://",
    "redis://:6379",
    "redis://h:0",
    "redis://h:65536",
    "redis://h:-1",
    "redis://h:63a9",
    "redis://h:",
    "redis://h/x",
    "redis://h/-1",
    "redis://h/2147483648",
    "redis://h?db=1",
    "redis://h#x",
    "redis://alice@h",
    "redis://:pw%4@h",
    "redis://:pw%zz@h",
    "redis://:pw%00@h",
    "redis://::1:6379",
    "redis://[::1",
    "redis://[::1]x",
    "redis://h h:6379",
    "redis://h\n:6379",
};

static void test_url_table(void **state)
{
    (void)state;
    gv_redis_url u;
    for (size_t i = 0; i < sizeof good_urls / sizeof good_urls[0]; i++) {
        const url_case *c = &good_urls[i];
        char why[200] = "";
        if (gv_redis_url_parse(c->url, &u, why, sizeof why) != 0)
            fail_msg("%s refused: %s", c->url, why);
        if (strcmp(u.host, c->host) || u.port != c->port || u.db != c->db || strcmp(u.user, c->user) ||
            strcmp(u.password, c->password) || u.auth != c->auth)
            fail_msg("%s: host %s port %d db %d user '%s' password '%s' auth %d", c->url, u.host, u.port, u.db, u.user,
                     u.password, u.auth);
    }
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        char why[200] = "";
        if (gv_redis_url_parse(bad_urls[i], &u, why, sizeof why) != GV_EINVAL)
            fail_msg("'%s' accepted", bad_urls[i]);
        if (!why[0])
            fail_msg("'%s' refused without a reason", bad_urls[i]);
        assert_int_equal(u.password[0], 0);
    }
    /* A reason never quotes the password. */
    char why[200] = "";
    assert_int_equal(gv_redis_url_parse("redis://:hunter2@h:99999", &u, why, sizeof why), GV_EINVAL);
    assert_null(strstr(why, "hunter2"));
    char long_host[400];
    memset(long_host, 'a', sizeof long_host);
    memcpy(long_host, "redis://", 8);
    long_host[8 + 256] = '\0';
    assert_int_equal(gv_redis_url_parse(long_host, &u, NULL, 0), GV_EINVAL);
    long_host[8 + 255] = '\0';
    assert_int_equal(gv_redis_url_parse(long_host, &u, NULL, 0), 0);
    assert_int_equal(gv_redis_url_parse(NULL, &u, why, sizeof why), GV_EINVAL);
    assert_int_equal(gv_redis_url_parse("redis://h", NULL, why, sizeof why), GV_EINVAL);
}

/* A URL's database is where the keys go. */
static void test_url_database(void **state)
{
    (void)state;
    gv_fleet *f = fleet_on(&main_redis, "/3");
    gv_fleet_node n = make_node("10.0.0.1:7000", 5, 100, 10, 0);
    uint64_t epoch;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), 0);
    redisContext *c = raw_connect(&main_redis);
    assert_int_equal(raw_integer(c, "EXISTS gvoip:node:%s", n.id), 0);
    raw_simple(c, "SELECT 3");
    assert_int_equal(raw_integer(c, "EXISTS gvoip:node:%s", n.id), 1);
    raw_simple(c, "FLUSHDB");
    redisFree(c);
    gv_fleet_destroy(f);

    /* A database Redis does not have (16 by default). */
    char url[128], why[256] = "";
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/99", main_redis.port);
    gv_fleet_config cfg;
    gv_fleet_config_default(&cfg);
    cfg.redis_url = url;
    assert_int_equal(gv_fleet_create(&cfg, &f, why, sizeof why), GV_EIO);
    assert_null(f);
    assert_non_null(strstr(why, "database 99"));
}

static void test_auth(void **state)
{
    (void)state;
    redis_proc locked = {.pid = -1};
    redis_start(&locked, 0, PASSWORD);
    redisContext *c = raw_connect(&locked);
    assert_non_null(c);
    /* An ACL user whose password needs percent-encoding in a URL. */
    raw_simple(c, "ACL SETUSER alice on >a@b:c/d ~* &* +@all");
    redisFree(c);

    static const struct {
        const char *userinfo;
        int rc;
        const char *why;
    } cases[] = {
        {"", GV_EAUTH, "wants a password"},
        {":wrong@", GV_EAUTH, "refused the password"},
        {":correct%20horse@", 0, NULL},
        {":correct horse@", 0, NULL},
        {"default:correct%20horse@", 0, NULL},
        {"alice:a%40b%3Ac%2Fd@", 0, NULL},
        {"alice:a@b:c%2Fd@", 0, NULL},
        {"alice:wrong@", GV_EAUTH, "refused the user and password"},
        {"bob:a%40b%3Ac%2Fd@", GV_EAUTH, "refused the user and password"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char url[256], why[256] = "";
        snprintf(url, sizeof url, "redis://%s127.0.0.1:%d", cases[i].userinfo, locked.port);
        gv_fleet_config cfg;
        gv_fleet_config_default(&cfg);
        cfg.redis_url = url;
        gv_fleet *f = NULL;
        int rc = gv_fleet_create(&cfg, &f, why, sizeof why);
        if (rc != cases[i].rc)
            fail_msg("%s: %s (%s), expected %s", url, gv_strerror(rc), why, gv_strerror(cases[i].rc));
        if (cases[i].why && !strstr(why, cases[i].why))
            fail_msg("%s: the reason '%s' does not say '%s'", url, why, cases[i].why);
        if (strstr(why, "wrong") || strstr(why, "horse") || strstr(why, "a@b"))
            fail_msg("%s: the reason '%s' quotes the password", url, why);
        if (rc == 0) {
            gv_fleet_node n = make_node("10.0.0.1:7000", 5, 100, 10, 0);
            uint64_t epoch;
            assert_int_equal(gv_fleet_register(f, &n, &epoch), 0);
            gv_fleet_placement p = {.size = sizeof p};
            assert_int_equal(gv_fleet_allocate(f, "a", 1, 0, &p), 0);
            assert_string_equal(p.node, n.id);
            assert_int_equal(gv_fleet_leave(f, n.id, epoch), 0);
        } else {
            assert_null(f);
        }
        gv_fleet_destroy(f);
    }
    redis_kill(&locked);
}

/* ---- leases and epochs ---- */

static void test_register_refresh_lapse(void **state)
{
    (void)state;
    gv_fleet *f = fleet_leasing(&main_redis, "", LEASE_MS);
    redisContext *c = raw_connect(&main_redis);
    gv_fleet_node a = make_node("a.example.org:7000", 5, 100, 10, 3);
    char key[128], text[64];
    snprintf(key, sizeof key, "gvoip:node:%s", a.id);

    uint64_t e1, e2;
    assert_int_equal(gv_fleet_register(f, &a, &e1), 0);
    /* Epochs start from Redis's clock: never below Unix microseconds. */
    assert_true(e1 >= ((uint64_t)time(NULL) - 1u) * 1000000u);
    /* The node's hash, as docs/operations.md describes it. */
    assert_int_equal(raw_integer(c, "HLEN %s", key), 11);
    raw_hget(c, key, "address", text, sizeof text);
    assert_string_equal(text, "a.example.org:7000");
    raw_hget(c, key, "fingerprint", text, sizeof text);
    assert_string_equal(text, FINGERPRINT);
    raw_hget(c, key, "cpu", text, sizeof text);
    assert_string_equal(text, "0.35");
    raw_hget(c, key, "epoch", text, sizeof text);
    assert_int_equal(strtoull(text, NULL, 10), e1);
    long long pttl = raw_integer(c, "PTTL %s", key);
    assert_true(pttl > 0 && pttl <= LEASE_MS);
    assert_int_equal(raw_integer(c, "SISMEMBER gvoip:nodes %s", a.id), 1);

    a.players = 7;
    a.cpu = 1.5;
    assert_int_equal(gv_fleet_refresh(f, &a, e1), 0);
    assert_string_equal(gv_fleet_last_error(f), "");
    raw_hget(c, key, "players", text, sizeof text);
    assert_string_equal(text, "7");
    raw_hget(c, key, "cpu", text, sizeof text);
    assert_string_equal(text, "1.5");

    /* A placement on a, and its keys. */
    gv_fleet_placement p = {.size = sizeof p};
    assert_int_equal(gv_fleet_allocate(f, "red", 3, 5, &p), 0);
    assert_string_equal(p.node, a.id);
    assert_int_equal(p.placed_now, 1);
    raw_hget(c, "gvoip:lobby:red", "node", text, sizeof text);
    assert_string_equal(text, a.id);
    raw_hget(c, "gvoip:lobby:red", "epoch", text, sizeof text);
    assert_int_equal(strtoull(text, NULL, 10), e1);
    assert_int_equal(raw_integer(c, "SISMEMBER gvoip:node:%s:lobbies red", a.id), 1);

    /* The lease lapses: refresh refuses, the placement is void. */
    wait_gone(c, key);
    assert_int_equal(gv_fleet_refresh(f, &a, e1), GV_ESTATE);
    assert_true(strlen(gv_fleet_last_error(f)) > 0);
    assert_int_equal(gv_fleet_locate(f, "red", 3, &p), GV_ENOTFOUND);

    /* A live node b gets the lobby. */
    gv_fleet_node b = make_node("b.example.org:7000", 5, 100, 10, 0);
    uint64_t eb;
    assert_int_equal(gv_fleet_register(f, &b, &eb), 0);
    assert_true(eb > e1);
    assert_int_equal(gv_fleet_allocate(f, "red", 3, 5, &p), 0);
    assert_string_equal(p.node, b.id);
    assert_int_equal(p.placed_now, 1);
    /* a, pruned on the way, left nothing behind. */
    assert_int_equal(raw_integer(c, "SISMEMBER gvoip:nodes %s", a.id), 0);
    assert_int_equal(raw_integer(c, "EXISTS gvoip:node:%s:lobbies", a.id), 0);

    /* a registers again: a larger epoch, and the old one is fenced off. */
    assert_int_equal(gv_fleet_register(f, &a, &e2), 0);
    assert_true(e2 > eb);
    assert_int_equal(gv_fleet_refresh(f, &a, e1), GV_ESTATE);
    assert_int_equal(gv_fleet_refresh(f, &a, e2), 0);
    /* A second registration of a live id fences the first. */
    uint64_t e3;
    assert_int_equal(gv_fleet_register(f, &a, &e3), 0);
    assert_true(e3 > e2);
    assert_int_equal(gv_fleet_refresh(f, &a, e2), GV_ESTATE);
    redisFree(c);
    gv_fleet_destroy(f);
}

/* ---- placement ---- */

static void test_allocate_most_room(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node n[3] = {make_node("10.0.0.1:7000", 5, 100, 4, 3), make_node("10.0.0.2:7000", 5, 100, 2, 0),
                          make_node("10.0.0.3:7000", 5, 100, 4, 1)};
    uint64_t epoch[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(gv_fleet_register(f, &n[i], &epoch[i]), 0);
    /* free slots (4, 2, 4), players (3, 0, 1): node 2 has as many slots
     * as node 0 and fewer players; then node 0 has the most slots; then
     * 0 and 2 tie at 3 slots, 2 has fewer players; ... */
    static const int want[] = {2, 0, 2, 0, 1, 2, 0, 1, 2, 0};
    gv_fleet_placement p = {.size = sizeof p};
    for (int i = 0; i < 10; i++) {
        char lobby[32];
        snprintf(lobby, sizeof lobby, "room-%d", i);
        assert_int_equal(gv_fleet_allocate(f, lobby, strlen(lobby), 0, &p), 0);
        if (strcmp(p.node, n[want[i]].id) != 0)
            fail_msg("%s went to %s, expected node %d", lobby, p.address, want[i]);
        assert_string_equal(p.address, n[want[i]].address);
        assert_string_equal(p.fingerprint, FINGERPRINT);
        assert_int_equal(p.protocol, 5);
        assert_int_equal(p.placed_now, 1);
        assert_int_equal(p.lobby_len, strlen(lobby));
        assert_string_equal(p.lobby, lobby);
        assert_int_equal(p.size, sizeof p);
    }
    /* Every slot is taken now. */
    assert_int_equal(gv_fleet_allocate(f, "one more", 8, 0, &p), GV_EFULL);
    /* The same lobby again: the same node, not placed anew. */
    gv_fleet_placement again = {.size = sizeof again};
    assert_int_equal(gv_fleet_allocate(f, "room-3", 6, 0, &again), 0);
    assert_string_equal(again.node, n[0].id);
    assert_int_equal(again.placed_now, 0);
    gv_fleet_placement seen = {.size = sizeof seen};
    assert_int_equal(gv_fleet_locate(f, "room-3", 6, &seen), 0);
    assert_int_equal(seen.created_ms, again.created_ms);
    assert_string_equal(seen.node, again.node);
    uint64_t now_ms = (uint64_t)time(NULL) * 1000u;
    assert_true(seen.created_ms + 5000u > now_ms && seen.created_ms < now_ms + 5000u);

    /* A released slot is free again, and the players' capacity counts:
     * node 1 is full of players, so node 0's freed slot is the one. */
    assert_int_equal(gv_fleet_release(f, n[0].id, epoch[0], "room-3", 6), 0);
    assert_int_equal(gv_fleet_release(f, n[1].id, epoch[1], "room-4", 6), 0);
    n[1].players = 100;
    assert_int_equal(gv_fleet_refresh(f, &n[1], epoch[1]), 0);
    assert_int_equal(gv_fleet_allocate(f, "one more", 8, 0, &p), 0);
    assert_string_equal(p.node, n[0].id);
    assert_int_equal(gv_fleet_allocate(f, "and another", 11, 0, &p), GV_EFULL);
    assert_true(strlen(gv_fleet_last_error(f)) > 0);
    gv_fleet_destroy(f);
}

static void test_lobby_names(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node a = make_node("10.0.0.1:7000", 5, 100, 10, 0);
    uint64_t epoch;
    assert_int_equal(gv_fleet_register(f, &a, &epoch), 0);
    redisContext *c = raw_connect(&main_redis);
    gv_fleet_placement p = {.size = sizeof p};
    /* The default lobby: an empty name, key "gvoip:lobby:". */
    assert_int_equal(gv_fleet_allocate(f, NULL, 0, 0, &p), 0);
    assert_int_equal(p.lobby_len, 0);
    assert_string_equal(p.lobby, "");
    assert_int_equal(raw_integer(c, "EXISTS gvoip:lobby:"), 1);
    assert_int_equal(gv_fleet_locate(f, "", 0, &p), 0);
    /* Raw bytes: a NUL, a 0xff, a colon; and 64 bytes. */
    const char odd[] = {'a', '\0', (char)0xff, ':', 'b'};
    assert_int_equal(gv_fleet_allocate(f, odd, sizeof odd, 0, &p), 0);
    assert_int_equal(p.lobby_len, sizeof odd);
    assert_memory_equal(p.lobby, odd, sizeof odd);
    assert_int_equal(raw_integer(c, "EXISTS %b", "gvoip:lobby:a\0\xff:b", (size_t)17), 1);
    assert_int_equal(gv_fleet_locate(f, "a", 1, &p), GV_ENOTFOUND);
    char longest[GV_FLEET_LOBBY_MAX];
    memset(longest, 'x', sizeof longest);
    assert_int_equal(gv_fleet_allocate(f, longest, sizeof longest, 0, &p), 0);
    assert_int_equal(p.lobby[GV_FLEET_LOBBY_MAX], '\0');
    assert_int_equal(raw_integer(c, "SCARD gvoip:node:%s:lobbies", a.id), 3);
    redisFree(c);
    gv_fleet_destroy(f);
}

static void test_protocol_filter(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node old = make_node("10.0.0.1:7000", 5, 100, 10, 0);
    gv_fleet_node cur = make_node("10.0.0.2:7000", 6, 100, 10, 50);
    uint64_t e;
    assert_int_equal(gv_fleet_register(f, &old, &e), 0);
    assert_int_equal(gv_fleet_register(f, &cur, &e), 0);
    gv_fleet_placement p = {.size = sizeof p};
    assert_int_equal(gv_fleet_allocate(f, "six", 3, 6, &p), 0);
    assert_string_equal(p.node, cur.id);
    assert_int_equal(p.protocol, 6);
    assert_int_equal(gv_fleet_allocate(f, "five", 4, 5, &p), 0);
    assert_string_equal(p.node, old.id);
    assert_int_equal(gv_fleet_allocate(f, "seven", 5, 7, &p), GV_ENOTFOUND);
    /* A placed lobby stays where it is: asked for another protocol, the
     * answer says where, and why not. */
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    assert_int_equal(gv_fleet_allocate(f, "six", 3, 5, &p), GV_EVERSION);
    assert_string_equal(p.node, cur.id);
    assert_int_equal(p.protocol, 6);
    assert_int_equal(gv_fleet_allocate(f, "six", 3, 0, &p), 0);
    assert_string_equal(p.node, cur.id);
    gv_fleet_destroy(f);
}

static void test_full_and_none(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_placement p = {.size = sizeof p};
    assert_int_equal(gv_fleet_allocate(f, "x", 1, 0, &p), GV_ENOTFOUND);
    assert_int_equal(gv_fleet_locate(f, "x", 1, &p), GV_ENOTFOUND);
    /* A node with no capacity (draining) is live but takes nothing. */
    gv_fleet_node drained = make_node("10.0.0.1:7000", 5, 100, 0, 0);
    gv_fleet_node one = make_node("10.0.0.2:7000", 5, 100, 1, 0);
    uint64_t e, ed;
    assert_int_equal(gv_fleet_register(f, &drained, &ed), 0);
    assert_int_equal(gv_fleet_allocate(f, "x", 1, 0, &p), GV_EFULL);
    assert_int_equal(gv_fleet_allocate(f, "x", 1, 6, &p), GV_ENOTFOUND);
    assert_int_equal(gv_fleet_register(f, &one, &e), 0);
    assert_int_equal(gv_fleet_allocate(f, "x", 1, 0, &p), 0);
    assert_string_equal(p.node, one.id);
    assert_int_equal(gv_fleet_allocate(f, "y", 1, 0, &p), GV_EFULL);
    /* Left: its placements go with it, and then nobody is there. */
    assert_int_equal(gv_fleet_leave(f, one.id, e), 0);
    assert_int_equal(gv_fleet_locate(f, "x", 1, &p), GV_ENOTFOUND);
    assert_int_equal(gv_fleet_leave(f, drained.id, ed + 1), GV_ESTATE);
    gv_fleet_node list[4] = {{.size = sizeof list[0]}};
    assert_int_equal(gv_fleet_list_nodes(f, list, 4), 1);
    assert_string_equal(list[0].id, drained.id);
    gv_fleet_destroy(f);
}

/* ---- many backends at once ---- */

#define THREADS 4
#define LOBBIES 300
#define NODES 3

typedef struct allocator {
    pthread_t thread;
    const redis_proc *redis;
    int order[LOBBIES];
    char node[LOBBIES][GV_FLEET_ID_BYTES];
    int rc; /* the first failure, or 0 */
} allocator;

static void *allocate_all(void *arg)
{
    allocator *a = arg;
    char url[64];
    url_of(a->redis, url, sizeof url);
    gv_fleet_config cfg;
    gv_fleet_config_default(&cfg);
    cfg.redis_url = url;
    gv_fleet *f;
    if ((a->rc = gv_fleet_create(&cfg, &f, NULL, 0)) != 0)
        return NULL;
    for (int i = 0; i < LOBBIES && a->rc == 0; i++) {
        int lobby = a->order[i];
        char name[16];
        snprintf(name, sizeof name, "match #%d", lobby);
        gv_fleet_placement p = {.size = sizeof p};
        a->rc = gv_fleet_allocate(f, name, strlen(name), 5, &p);
        memcpy(a->node[lobby], p.node, sizeof p.node);
    }
    gv_fleet_destroy(f);
    return NULL;
}

/* Every thread asks for every lobby, each in its own order, so that the
 * same lobby is often asked for by several connections at once. */
static void test_concurrent(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node n[NODES];
    for (int i = 0; i < NODES; i++) {
        char address[32];
        snprintf(address, sizeof address, "10.0.0.%d:7000", i + 1);
        n[i] = make_node(address, 5, 100000, 1000, i);
        uint64_t e;
        assert_int_equal(gv_fleet_register(f, &n[i], &e), 0);
    }
    static allocator a[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&a[t], 0, sizeof a[t]);
        a[t].redis = &main_redis;
        for (int i = 0; i < LOBBIES; i++)
            a[t].order[i] = i;
        for (int i = LOBBIES - 1; i > 0; i--) {
            int j = (int)(test_rng_next() % (uint32_t)(i + 1)), x = a[t].order[i];
            a[t].order[i] = a[t].order[j];
            a[t].order[j] = x;
        }
    }
    uint64_t start = mono_us();
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&a[t].thread, NULL, allocate_all, &a[t]), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(a[t].thread, NULL);
    printf("%d allocations from %d threads in %.0f ms\n", THREADS * LOBBIES, THREADS,
           (double)(mono_us() - start) / 1000.0);
    for (int t = 0; t < THREADS; t++)
        if (a[t].rc != 0)
            fail_msg("thread %d: %s", t, gv_strerror(a[t].rc));

    /* Every thread was told the same node for each lobby, a fresh
     * connection agrees, and the nodes share the lobbies evenly. */
    gv_fleet *check = fleet();
    int count[NODES] = {0};
    for (int lobby = 0; lobby < LOBBIES; lobby++) {
        char name[32];
        snprintf(name, sizeof name, "match #%d", lobby);
        gv_fleet_placement p = {.size = sizeof p};
        assert_int_equal(gv_fleet_locate(check, name, strlen(name), &p), 0);
        for (int t = 0; t < THREADS; t++)
            if (strcmp(a[t].node[lobby], p.node) != 0)
                fail_msg("%s: thread %d was told %s, Redis says %s", name, t, a[t].node[lobby], p.node);
        int k = 0;
        while (k < NODES && strcmp(n[k].id, p.node) != 0)
            k++;
        assert_true(k < NODES);
        count[k]++;
    }
    printf("lobbies per node: %d %d %d\n", count[0], count[1], count[2]);
    redisContext *c = raw_connect(&main_redis);
    for (int k = 0; k < NODES; k++) {
        assert_true(count[k] >= 60 && count[k] <= 140);
        assert_int_equal(raw_integer(c, "SCARD gvoip:node:%s:lobbies", n[k].id), count[k]);
    }
    redisFree(c);
    gv_fleet_destroy(check);
    gv_fleet_destroy(f);
}

/* ---- reclaiming ---- */

static gv_fleet_lobby lobby_of(const char *name, uint64_t opened_ms)
{
    gv_fleet_lobby l = {.len = strlen(name), .opened_ms = opened_ms};
    memcpy(l.name, name, l.len);
    return l;
}

static void test_reclaim_conflict(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node a = make_node("10.0.0.1:7000", 5, 100, 1, 0);
    gv_fleet_node b = make_node("10.0.0.2:7000", 5, 100, 1, 0);
    uint64_t ea, eb;
    assert_int_equal(gv_fleet_register(f, &a, &ea), 0);
    assert_int_equal(gv_fleet_register(f, &b, &eb), 0);
    gv_fleet_placement p = {.size = sizeof p};
    int lost[3] = {-1, -1, -1};

    /* a claims r (opened at 1000) and s (900), beyond its capacity of 1. */
    gv_fleet_lobby la[2] = {lobby_of("r", 1000), lobby_of("s", 900)};
    assert_int_equal(gv_fleet_reclaim(f, a.id, ea, la, 2, lost), 0);
    assert_int_equal(lost[0], 0);
    assert_int_equal(lost[1], 0);
    assert_int_equal(gv_fleet_locate(f, "r", 1, &p), 0);
    assert_string_equal(p.node, a.id);
    assert_int_equal(p.created_ms, 1000);
    /* b's claims: r opened later (a keeps it), s earlier (b takes it),
     * t unplaced (b's). */
    gv_fleet_lobby lb[3] = {lobby_of("r", 2000), lobby_of("s", 500), lobby_of("t", 0)};
    assert_int_equal(gv_fleet_reclaim(f, b.id, eb, lb, 3, lost), 1);
    assert_int_equal(lost[0], 1);
    assert_int_equal(lost[1], 0);
    assert_int_equal(lost[2], 0);
    assert_int_equal(gv_fleet_locate(f, "s", 1, &p), 0);
    assert_string_equal(p.node, b.id);
    assert_int_equal(p.created_ms, 500);
    /* t opened "now", by Redis's clock. */
    assert_int_equal(gv_fleet_locate(f, "t", 1, &p), 0);
    uint64_t now_ms = (uint64_t)time(NULL) * 1000u;
    assert_true(p.created_ms + 5000u > now_ms && p.created_ms < now_ms + 5000u);
    /* a re-asserting both: keeps r, has lost s. */
    assert_int_equal(gv_fleet_reclaim(f, a.id, ea, la, 2, lost), 1);
    assert_int_equal(lost[0], 0);
    assert_int_equal(lost[1], 1);
    /* The sets follow the placements: a holds r, b holds s and t. */
    redisContext *c = raw_connect(&main_redis);
    assert_int_equal(raw_integer(c, "SCARD gvoip:node:%s:lobbies", a.id), 1);
    assert_int_equal(raw_integer(c, "SCARD gvoip:node:%s:lobbies", b.id), 2);
    /* Equal times: the smaller id keeps it, whoever asks last. */
    gv_fleet_lobby tie = lobby_of("tie", 777);
    const gv_fleet_node *small = strcmp(a.id, b.id) < 0 ? &a : &b, *large = small == &a ? &b : &a;
    uint64_t e_small = small == &a ? ea : eb, e_large = small == &a ? eb : ea;
    assert_int_equal(gv_fleet_reclaim(f, large->id, e_large, &tie, 1, NULL), 0);
    assert_int_equal(gv_fleet_reclaim(f, small->id, e_small, &tie, 1, NULL), 0);
    assert_int_equal(gv_fleet_reclaim(f, large->id, e_large, &tie, 1, NULL), 1);
    assert_int_equal(gv_fleet_locate(f, "tie", 3, &p), 0);
    assert_string_equal(p.node, small->id);
    /* n == 0 checks the lease only. */
    assert_int_equal(gv_fleet_reclaim(f, a.id, ea, NULL, 0, NULL), 0);
    assert_int_equal(gv_fleet_reclaim(f, a.id, ea + 1, NULL, 0, NULL), GV_ESTATE);
    /* Release only what is one's own. */
    assert_int_equal(gv_fleet_release(f, a.id, ea, "s", 1), GV_ENOTFOUND);
    assert_int_equal(gv_fleet_release(f, b.id, eb + 1, "s", 1), GV_ENOTFOUND);
    assert_int_equal(gv_fleet_release(f, b.id, eb, "s", 1), 0);
    assert_int_equal(gv_fleet_release(f, b.id, eb, "s", 1), GV_ENOTFOUND);
    assert_int_equal(raw_integer(c, "SCARD gvoip:node:%s:lobbies", b.id), small == &b ? 2 : 1);
    redisFree(c);
    gv_fleet_destroy(f);
}

/* Placements nobody opened, older than the age given, go back; what the
 * node holds, what is younger and what is another node's stay. */
static void test_prune(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node a = make_node("10.0.0.1:7000", 5, 100, 10, 0);
    gv_fleet_node b = make_node("10.0.0.2:7000", 5, 100, 10, 0);
    uint64_t ea, eb;
    assert_int_equal(gv_fleet_register(f, &a, &ea), 0);
    assert_int_equal(gv_fleet_register(f, &b, &eb), 0);
    /* a holds "open" and "pending"; "old" and "older" were placed on it
     * long ago and never opened; "young" just now; b holds "theirs". */
    uint64_t now_ms = (uint64_t)time(NULL) * 1000u;
    gv_fleet_lobby on_a[5] = {lobby_of("open", now_ms - 900000), lobby_of("pending", now_ms - 900000),
                              lobby_of("old", now_ms - 900000), lobby_of("older", now_ms - 1900000),
                              lobby_of("young", 0)};
    assert_int_equal(gv_fleet_reclaim(f, a.id, ea, on_a, 5, NULL), 0);
    gv_fleet_lobby on_b = lobby_of("theirs", now_ms - 900000);
    assert_int_equal(gv_fleet_reclaim(f, b.id, eb, &on_b, 1, NULL), 0);
    assert_int_equal(gv_fleet_prune(f, a.id, ea, on_a, 2, 600000), 2);
    gv_fleet_placement p = {.size = sizeof p};
    assert_int_equal(gv_fleet_locate(f, "open", 4, &p), 0);
    assert_int_equal(gv_fleet_locate(f, "pending", 7, &p), 0);
    assert_int_equal(gv_fleet_locate(f, "young", 5, &p), 0);
    assert_int_equal(gv_fleet_locate(f, "theirs", 6, &p), 0);
    assert_int_equal(gv_fleet_locate(f, "old", 3, &p), GV_ENOTFOUND);
    assert_int_equal(gv_fleet_locate(f, "older", 5, &p), GV_ENOTFOUND);
    redisContext *c = raw_connect(&main_redis);
    assert_int_equal(raw_integer(c, "SCARD gvoip:node:%s:lobbies", a.id), 3);
    redisFree(c);
    /* Nothing more to do; a lapsed epoch changes nothing. */
    assert_int_equal(gv_fleet_prune(f, a.id, ea, on_a, 2, 600000), 0);
    assert_int_equal(gv_fleet_prune(f, a.id, ea + 1, NULL, 0, 0), GV_ESTATE);
    assert_int_equal(gv_fleet_locate(f, "young", 5, &p), 0);
    /* Insane arguments. */
    assert_int_equal(gv_fleet_prune(NULL, a.id, ea, NULL, 0, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_prune(f, "nope", ea, NULL, 0, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_prune(f, a.id, 0, NULL, 0, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_prune(f, a.id, ea, NULL, 1, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_prune(f, a.id, ea, on_a, -1, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_prune(f, a.id, ea, on_a, GV_FLEET_RECLAIM_MAX + 1, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_prune(f, a.id, ea, NULL, 0, 1ull << 53), GV_EINVAL);
    gv_fleet_lobby bad = lobby_of("x", 0);
    bad.len = GV_FLEET_LOBBY_MAX + 1;
    assert_int_equal(gv_fleet_prune(f, a.id, ea, &bad, 1, 0), GV_EINVAL);
    gv_fleet_destroy(f);
}

/* Redis restarted without persistence (FLUSHALL here): leases are gone,
 * the nodes register again with larger epochs and put their lobbies back. */
static void test_reclaim_after_flush(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node a = make_node("10.0.0.1:7000", 5, 100, 10, 0);
    gv_fleet_node b = make_node("10.0.0.2:7000", 5, 100, 10, 0);
    uint64_t ea, eb;
    assert_int_equal(gv_fleet_register(f, &a, &ea), 0);
    assert_int_equal(gv_fleet_register(f, &b, &eb), 0);
    gv_fleet_placement p = {.size = sizeof p};
    gv_fleet_lobby on_a[4], on_b[4];
    int na = 0, nb = 0;
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "lobby %d", i);
        assert_int_equal(gv_fleet_allocate(f, name, strlen(name), 0, &p), 0);
        gv_fleet_lobby l = lobby_of(name, p.created_ms);
        if (!strcmp(p.node, a.id))
            on_a[na++] = l;
        else
            on_b[nb++] = l;
    }
    assert_int_equal(na, 4);
    assert_int_equal(nb, 4);

    redisContext *c = raw_connect(&main_redis);
    raw_simple(c, "FLUSHALL");
    assert_int_equal(gv_fleet_refresh(f, &a, ea), GV_ESTATE);
    assert_int_equal(gv_fleet_reclaim(f, a.id, ea, on_a, na, NULL), GV_ESTATE);
    assert_int_equal(gv_fleet_locate(f, on_a[0].name, on_a[0].len, &p), GV_ENOTFOUND);

    uint64_t ea2, eb2;
    assert_int_equal(gv_fleet_register(f, &a, &ea2), 0);
    assert_int_equal(gv_fleet_register(f, &b, &eb2), 0);
    assert_true(ea2 > eb && eb2 > ea2);
    int lost[4];
    assert_int_equal(gv_fleet_reclaim(f, a.id, ea2, on_a, na, lost), 0);
    assert_int_equal(gv_fleet_reclaim(f, b.id, eb2, on_b, nb, lost), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gv_fleet_locate(f, on_a[i].name, on_a[i].len, &p), 0);
        assert_string_equal(p.node, a.id);
        assert_int_equal(p.created_ms, on_a[i].opened_ms);
        assert_int_equal(gv_fleet_locate(f, on_b[i].name, on_b[i].len, &p), 0);
        assert_string_equal(p.node, b.id);
    }
    assert_int_equal(raw_integer(c, "SCARD gvoip:node:%s:lobbies", a.id), 4);
    redisFree(c);
    gv_fleet_destroy(f);
}

static void test_list_nodes(void **state)
{
    (void)state;
    gv_fleet *f = fleet();
    gv_fleet_node n[3];
    for (int i = 0; i < 3; i++) {
        char address[64];
        snprintf(address, sizeof address, "node%d.example.org:%d", i, 7000 + i);
        n[i] = make_node(address, 5, 10 * (i + 1), i, i);
        n[i].forwarded_per_s = 100.25 * i;
        uint64_t e;
        assert_int_equal(gv_fleet_register(f, &n[i], &e), 0);
    }
    assert_int_equal(gv_fleet_list_nodes(f, NULL, 0), 0);
    /* A caller whose struct is larger (a newer header): the stride is its
     * size, and each entry says how much was written. */
    struct bigger {
        gv_fleet_node node;
        char more[40];
    } got[4];
    memset(got, 0x5a, sizeof got);
    got[0].node.size = sizeof got[0];
    assert_int_equal(gv_fleet_list_nodes(f, &got[0].node, 4), 3);
    for (int i = 0; i < 3; i++) {
        const gv_fleet_node *g = &got[i].node;
        int k = 0;
        while (k < 3 && strcmp(n[k].id, g->id) != 0)
            k++;
        assert_true(k < 3);
        assert_int_equal(g->size, sizeof *g);
        assert_string_equal(g->address, n[k].address);
        assert_string_equal(g->fingerprint, FINGERPRINT);
        assert_int_equal(g->protocol, 5);
        assert_int_equal(g->capacity_players, n[k].capacity_players);
        assert_int_equal(g->capacity_lobbies, n[k].capacity_lobbies);
        assert_int_equal(g->players, n[k].players);
        assert_true(fabs(g->forwarded_per_s - n[k].forwarded_per_s) < 1e-9);
        assert_true(fabs(g->cpu - 0.35) < 1e-9);
        assert_int_equal((unsigned char)got[i].more[0], 0x5a);
        if (i > 0)
            assert_true(strcmp(got[i - 1].node.id, g->id) < 0);
    }
    gv_fleet_node two[2] = {{.size = sizeof two[0]}};
    assert_int_equal(gv_fleet_list_nodes(f, two, 2), 2);
    gv_fleet_destroy(f);
}

/* ---- Redis going away ---- */

static void test_redis_killed(void **state)
{
    (void)state;
    redis_proc r = {.pid = -1};
    redis_start(&r, 0, NULL);
    gv_fleet *f = fleet_on(&r, "");
    gv_fleet_node a = make_node("10.0.0.1:7000", 5, 100, 10, 0);
    uint64_t e;
    assert_int_equal(gv_fleet_register(f, &a, &e), 0);
    gv_fleet_placement p = {.size = sizeof p};
    assert_int_equal(gv_fleet_allocate(f, "x", 1, 0, &p), 0);

    /* Hung (stopped): a call gives up after about one timeout. */
    kill(r.pid, SIGSTOP);
    uint64_t t0 = mono_us();
    assert_int_equal(gv_fleet_locate(f, "x", 1, &p), GV_EIO);
    uint64_t took = (mono_us() - t0) / 1000u;
    printf("a stopped Redis: GV_EIO after %llu ms (%s)\n", (unsigned long long)took, gv_fleet_last_error(f));
    assert_true(took >= TIMEOUT_MS - 20 && took < 2 * TIMEOUT_MS + 100);
    kill(r.pid, SIGCONT);

    /* Killed: at once, every time, saying so. */
    redis_kill(&r);
    for (int i = 0; i < 2; i++) {
        t0 = mono_us();
        assert_int_equal(gv_fleet_refresh(f, &a, e), GV_EIO);
        took = (mono_us() - t0) / 1000u;
        assert_true(took < TIMEOUT_MS + 100);
        assert_non_null(strstr(gv_fleet_last_error(f), "Redis at 127.0.0.1:"));
    }
    printf("a killed Redis: %s\n", gv_fleet_last_error(f));

    /* Back on the same port, empty, without the scripts: the same handle
     * reconnects, learns the lease is gone, and the node recovers. */
    redis_start(&r, r.port, NULL);
    assert_int_equal(gv_fleet_refresh(f, &a, e), GV_ESTATE);
    uint64_t e2;
    assert_int_equal(gv_fleet_register(f, &a, &e2), 0);
    assert_true(e2 > e);
    gv_fleet_lobby l = lobby_of("x", p.created_ms);
    assert_int_equal(gv_fleet_reclaim(f, a.id, e2, &l, 1, NULL), 0);
    assert_int_equal(gv_fleet_locate(f, "x", 1, &p), 0);
    assert_string_equal(p.node, a.id);

    /* Restarted between two calls: the first call after it heals. */
    redis_kill(&r);
    redis_start(&r, r.port, NULL);
    assert_int_equal(gv_fleet_locate(f, "x", 1, &p), GV_ENOTFOUND);
    assert_string_equal(gv_fleet_last_error(f), "the lobby is not placed on a live node");
    gv_fleet_destroy(f);

    /* Nobody there at all. */
    redis_kill(&r);
    char url[64], why[256] = "";
    url_of(&r, url, sizeof url);
    gv_fleet_config cfg;
    gv_fleet_config_default(&cfg);
    cfg.redis_url = url;
    assert_int_equal(gv_fleet_create(&cfg, &f, why, sizeof why), GV_EIO);
    assert_non_null(strstr(why, "cannot reach Redis"));
}

/* ---- refusals ---- */

static void test_insane_arguments(void **state)
{
    (void)state;
    char why[256];
    gv_fleet *f = (gv_fleet *)&why; /* must be reset to NULL */
    gv_fleet_config cfg;
    gv_fleet_config_default(NULL);
    gv_fleet_config_default(&cfg);
    assert_int_equal(cfg.size, sizeof cfg);
    assert_null(cfg.redis_url);
    assert_string_equal(cfg.prefix, "gvoip:");
    assert_int_equal(cfg.timeout_ms, 500);
    assert_int_equal(cfg.lease_ms, 3000);
    assert_int_equal(gv_fleet_create(&cfg, &f, why, sizeof why), GV_EINVAL);
    assert_null(f);
    assert_true(strlen(why) > 0);
    assert_int_equal(gv_fleet_create(NULL, &f, why, sizeof why), GV_EINVAL);
    char url[64];
    url_of(&main_redis, url, sizeof url);
    cfg.redis_url = url;
    assert_int_equal(gv_fleet_create(&cfg, NULL, why, sizeof why), GV_EINVAL);
    gv_fleet_config bad = cfg;
    bad.size = sizeof bad - 1;
    assert_int_equal(gv_fleet_create(&bad, &f, NULL, 0), GV_EINVAL);
    bad = cfg;
    bad.prefix = NULL;
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad.prefix = "";
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad.prefix = "has space:";
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad.prefix = "01234567890123456789012345678901234567890123456789012345678901234";
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad = cfg;
    bad.timeout_ms = 0;
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad.timeout_ms = GV_FLEET_TIMEOUT_MS_MAX + 1;
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad = cfg;
    bad.lease_ms = GV_FLEET_LEASE_MS_MIN - 1;
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad.lease_ms = -5;
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    bad = cfg;
    bad.redis_url = "redis://127.0.0.1:0";
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), GV_EINVAL);
    assert_null(f);

    gv_fleet_destroy(NULL);
    assert_string_equal(gv_fleet_last_error(NULL), "");
    assert_int_equal(gv_fleet_node_id(NULL), GV_EINVAL);
    char id1[GV_FLEET_ID_BYTES], id2[GV_FLEET_ID_BYTES];
    assert_int_equal(gv_fleet_node_id(id1), 0);
    assert_int_equal(gv_fleet_node_id(id2), 0);
    assert_int_equal(strlen(id1), 32);
    assert_int_equal(strspn(id1, "0123456789abcdef"), 32);
    assert_string_not_equal(id1, id2);

    bad.prefix = "other:prefix:";
    bad.redis_url = url;
    assert_int_equal(gv_fleet_create(&bad, &f, why, sizeof why), 0);
    gv_fleet_node good = make_node("10.0.0.1:7000", 5, 100, 10, 0);
    uint64_t epoch = 0;
    gv_fleet_placement p = {.size = sizeof p};
    gv_fleet_node out[2] = {{.size = sizeof out[0]}};
    gv_fleet_lobby lobby = lobby_of("l", 1);

    assert_int_equal(gv_fleet_register(NULL, &good, &epoch), GV_EINVAL);
    assert_int_equal(gv_fleet_register(f, NULL, &epoch), GV_EINVAL);
    assert_true(strlen(gv_fleet_last_error(f)) > 0);
    assert_int_equal(gv_fleet_register(f, &good, NULL), GV_EINVAL);
    static const char *const bad_addresses[] = {
        "", "host", "host:", ":7000", "host:0", "host:65536", "host:07000", "host:7000x", "ho st:7000",
        "[::1]:7000", "host:123456", "host:-1",
    };
    for (size_t i = 0; i < sizeof bad_addresses / sizeof bad_addresses[0]; i++) {
        gv_fleet_node n = good;
        snprintf(n.address, sizeof n.address, "%s", bad_addresses[i]);
        if (gv_fleet_register(f, &n, &epoch) != GV_EINVAL)
            fail_msg("address '%s' accepted", bad_addresses[i]);
    }
    gv_fleet_node n = good;
    memset(n.address, 'a', sizeof n.address); /* no NUL */
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    memset(n.address, 'a', sizeof n.address);
    memcpy(n.address + sizeof n.address - 6, ":7000", 6); /* a 256-byte host */
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    memcpy(n.address + sizeof n.address - 7, ":65535", 7); /* the longest there is */
    assert_int_equal(gv_fleet_register(f, &n, &epoch), 0);
    static const char *const bad_fingerprints[] = {
        "", "SHA256:", "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
        "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF", "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "SHA256:47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    };
    for (size_t i = 0; i < sizeof bad_fingerprints / sizeof bad_fingerprints[0]; i++) {
        n = good;
        snprintf(n.fingerprint, sizeof n.fingerprint, "%s", bad_fingerprints[i]);
        if (gv_fleet_register(f, &n, &epoch) != GV_EINVAL)
            fail_msg("fingerprint '%s' accepted", bad_fingerprints[i]);
    }
    static const char *const bad_ids[] = {"", "0123456789abcdef0123456789abcde", "0123456789ABCDEF0123456789abcdef",
                                          "0123456789abcdef0123456789abcdeg"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        n = good;
        snprintf(n.id, sizeof n.id, "%s", bad_ids[i]);
        if (gv_fleet_register(f, &n, &epoch) != GV_EINVAL)
            fail_msg("id '%s' accepted", bad_ids[i]);
        if (gv_fleet_leave(f, n.id, 1) != GV_EINVAL || gv_fleet_release(f, n.id, 1, "l", 1) != GV_EINVAL ||
            gv_fleet_reclaim(f, n.id, 1, &lobby, 1, NULL) != GV_EINVAL)
            fail_msg("id '%s' accepted by leave, release or reclaim", bad_ids[i]);
    }
    n = good;
    n.size = sizeof n + 8;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    n = good;
    n.protocol = 0;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    n = good;
    n.capacity_players = -1;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    n = good;
    n.capacity_lobbies = -1;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    n = good;
    n.players = -1;
    assert_int_equal(gv_fleet_refresh(f, &n, 1), GV_EINVAL);
    n = good;
    n.lobbies = -1;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    n = good;
    n.cpu = NAN;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    n.cpu = -0.5;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);
    n = good;
    n.forwarded_per_s = INFINITY;
    assert_int_equal(gv_fleet_register(f, &n, &epoch), GV_EINVAL);

    assert_int_equal(gv_fleet_register(f, &good, &epoch), 0);
    assert_int_equal(gv_fleet_refresh(NULL, &good, epoch), GV_EINVAL);
    assert_int_equal(gv_fleet_refresh(f, NULL, epoch), GV_EINVAL);
    assert_int_equal(gv_fleet_refresh(f, &good, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_refresh(f, &good, 1ull << 53), GV_EINVAL);

    gv_fleet_lobby many[2] = {lobby_of("a", 1), lobby_of("b", 1)};
    assert_int_equal(gv_fleet_reclaim(NULL, good.id, epoch, many, 2, NULL), GV_EINVAL);
    assert_int_equal(gv_fleet_reclaim(f, NULL, epoch, many, 2, NULL), GV_EINVAL);
    assert_int_equal(gv_fleet_reclaim(f, good.id, 0, many, 2, NULL), GV_EINVAL);
    assert_int_equal(gv_fleet_reclaim(f, good.id, epoch, NULL, 2, NULL), GV_EINVAL);
    assert_int_equal(gv_fleet_reclaim(f, good.id, epoch, many, -1, NULL), GV_EINVAL);
    assert_int_equal(gv_fleet_reclaim(f, good.id, epoch, many, GV_FLEET_RECLAIM_MAX + 1, NULL), GV_EINVAL);
    many[1].len = GV_FLEET_LOBBY_MAX + 1;
    assert_int_equal(gv_fleet_reclaim(f, good.id, epoch, many, 2, NULL), GV_EINVAL);
    many[1].len = 1;
    many[1].opened_ms = 1ull << 53;
    assert_int_equal(gv_fleet_reclaim(f, good.id, epoch, many, 2, NULL), GV_EINVAL);

    assert_int_equal(gv_fleet_release(NULL, good.id, epoch, "l", 1), GV_EINVAL);
    assert_int_equal(gv_fleet_release(f, good.id, 0, "l", 1), GV_EINVAL);
    assert_int_equal(gv_fleet_release(f, good.id, epoch, NULL, 1), GV_EINVAL);
    assert_int_equal(gv_fleet_release(f, good.id, epoch, "l", GV_FLEET_LOBBY_MAX + 1), GV_EINVAL);
    assert_int_equal(gv_fleet_release(f, good.id, epoch, NULL, 0), GV_ENOTFOUND);

    assert_int_equal(gv_fleet_allocate(NULL, "l", 1, 0, &p), GV_EINVAL);
    assert_int_equal(gv_fleet_allocate(f, "l", 1, 0, NULL), GV_EINVAL);
    assert_int_equal(gv_fleet_allocate(f, NULL, 1, 0, &p), GV_EINVAL);
    assert_int_equal(gv_fleet_allocate(f, "l", GV_FLEET_LOBBY_MAX + 1, 0, &p), GV_EINVAL);
    p.size = sizeof p - 1;
    assert_int_equal(gv_fleet_allocate(f, "l", 1, 0, &p), GV_EINVAL);
    assert_int_equal(gv_fleet_locate(f, "l", 1, &p), GV_EINVAL);
    p.size = sizeof p;
    assert_int_equal(gv_fleet_locate(NULL, "l", 1, &p), GV_EINVAL);
    assert_int_equal(gv_fleet_locate(f, "l", 1, NULL), GV_EINVAL);
    assert_int_equal(gv_fleet_locate(f, NULL, 1, &p), GV_EINVAL);
    assert_int_equal(gv_fleet_locate(f, "l", GV_FLEET_LOBBY_MAX + 1, &p), GV_EINVAL);

    assert_int_equal(gv_fleet_list_nodes(NULL, out, 2), GV_EINVAL);
    assert_int_equal(gv_fleet_list_nodes(f, NULL, 2), GV_EINVAL);
    assert_int_equal(gv_fleet_list_nodes(f, out, -1), GV_EINVAL);
    out[0].size = sizeof out[0] - 1;
    assert_int_equal(gv_fleet_list_nodes(f, out, 2), GV_EINVAL);
    out[0].size = sizeof out[0];
    assert_int_equal(gv_fleet_list_nodes(f, out, 2), 1);

    assert_int_equal(gv_fleet_leave(NULL, good.id, epoch), GV_EINVAL);
    assert_int_equal(gv_fleet_leave(f, NULL, epoch), GV_EINVAL);
    assert_int_equal(gv_fleet_leave(f, good.id, 0), GV_EINVAL);
    assert_int_equal(gv_fleet_leave(f, good.id, epoch), 0);
    assert_int_equal(gv_fleet_leave(f, good.id, epoch), 0);

    /* Nothing refused wrote anything; and the prefix was this handle's. */
    redisContext *c = raw_connect(&main_redis);
    assert_int_equal(raw_integer(c, "EXISTS gvoip:epoch"), 0);
    assert_int_equal(raw_integer(c, "EXISTS other:prefix:epoch"), 1);
    assert_int_equal(raw_integer(c, "DBSIZE"), 1);
    redisFree(c);
    gv_fleet_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_table),
        cmocka_unit_test_setup(test_url_database, flush),
        cmocka_unit_test_setup(test_auth, flush),
        cmocka_unit_test_setup(test_register_refresh_lapse, flush),
        cmocka_unit_test_setup(test_allocate_most_room, flush),
        cmocka_unit_test_setup(test_lobby_names, flush),
        cmocka_unit_test_setup(test_protocol_filter, flush),
        cmocka_unit_test_setup(test_full_and_none, flush),
        cmocka_unit_test_setup(test_concurrent, flush),
        cmocka_unit_test_setup(test_reclaim_conflict, flush),
        cmocka_unit_test_setup(test_reclaim_after_flush, flush),
        cmocka_unit_test_setup(test_prune, flush),
        cmocka_unit_test_setup(test_list_nodes, flush),
        cmocka_unit_test_setup(test_redis_killed, flush),
        cmocka_unit_test_setup(test_insane_arguments, flush),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
