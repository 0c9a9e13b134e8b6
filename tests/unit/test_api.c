/* The public API at its edges: every function gvoip's headers export is
 * called with NULL, zero, negative, huge and out-of-range arguments, and
 * must return the code its comment in the header promises, without
 * crashing (this test runs under ASan and UBSan too). The last test reads
 * the headers and this file and fails when a public function is never
 * called here. Also: the ABI's size fields (gvoip.h, "Evolution"), and a
 * protocol version mismatch, which needs the library's test-only create
 * functions (no public config field may carry it). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mono.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/gv_client.h"
#include "gvoip/gvoip.h"
#include "gvoip/ring.h"
#include "gvoip/wakegate.h"
#include "packet/gv_msg.h"
#include "session/gv_server.h"

#define RATE 48000
#define DEADLINE_US 5000000ull
#define NO_PLAYER 999 /* no lobby here ever hands out this id */

static char dir[64], key_path[128];

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static void server_cfg(gv_server_config *sc)
{
    gv_server_config_default(sc);
    sc->port = 0;
    sc->bind_address = "127.0.0.1";
    sc->key_file = key_path;
}

static gv_server *make_server(void)
{
    gv_server_config sc;
    server_cfg(&sc);
    gv_server *s = NULL;
    char why[256] = "";
    int rc = gv_server_create(&sc, &s, why, sizeof why);
    if (rc != 0)
        fail_msg("gv_server_create: %d (%s)", rc, why);
    return s;
}

static void client_cfg(gv_client_config *cc, const gv_server *s)
{
    gv_client_config_default(cc);
    cc->server_host = "127.0.0.1";
    cc->server_port = (uint16_t)gv_server_port(s);
    cc->known_servers_file = ""; /* leave $HOME alone */
}

static gv_client *make_client(const gv_server *s, gv_echo_cancel echo)
{
    gv_client_config cc;
    client_cfg(&cc, s);
    cc.echo_cancel = echo;
    gv_client *c = NULL;
    assert_int_equal(gv_client_create(&cc, &c), 0);
    return c;
}

/* Services the server and the clients until every client is in the
 * lobby and knows the others (n players). */
static void join(gv_server *s, gv_client **c, int n)
{
    int known[8] = {0};
    uint64_t end = mono_us() + DEADLINE_US;
    for (;;) {
        int ready = 1;
        for (int i = 0; i < n; i++)
            ready &= gv_client_id(c[i]) > 0 && known[i] == n - 1;
        if (ready)
            return;
        if (mono_us() > end)
            fail_msg("the lobby did not form within %llu ms", DEADLINE_US / 1000);
        gv_event ev = {.size = sizeof ev};
        while (gv_server_service(s, &ev, 1) > 0) {
        }
        for (int i = 0; i < n; i++) {
            int rc;
            while ((rc = gv_client_service(c[i], &ev, 1)) > 0) {
                if (ev.type == GV_EVENT_PLAYER_CONNECTED)
                    known[i]++;
                else if (ev.type == GV_EVENT_CONNECTION_FAILED)
                    fail_msg("client %d could not join: %s", i, ev.reason);
            }
            assert_int_equal(rc, 0);
        }
    }
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/gv_api_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(key_path, sizeof key_path, "%s/server.key", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[192];
    const char *files[] = {"server.key", "open.key", "bad.key", "file"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

/* ---- Version, errors, defaults, ring ---------------------------------- */

/* Reads a file of the source tree, found from this file's path. */
static char *read_source(const char *relative)
{
    char path[4096];
    const char *self = __FILE__, *cut = strstr(self, "tests/unit/test_api.c");
    if (!cut)
        fail_msg("cannot find the source tree from %s", self);
    snprintf(path, sizeof path, "%.*s%s", (int)(cut - self), self, relative);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char *text = calloc(1, 1 << 20);
    assert_non_null(text);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

static void test_version(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", GV_VERSION_MAJOR, GV_VERSION_MINOR, GV_VERSION_PATCH);
    assert_string_equal(gv_version(), want);
    assert_int_equal(gv_version_number(), GV_VERSION_NUMBER);
    assert_int_equal(gv_protocol_version(), GV_PROTOCOL_VERSION);
    assert_int_equal(GV_VERSION_NUMBER, (GV_VERSION_MAJOR << 16) | (GV_VERSION_MINOR << 8) | GV_VERSION_PATCH);
    /* The build's version (the shared library's file name) is the header's. */
    char *cmake = read_source("CMakeLists.txt");
    const char *p = strstr(cmake, "project(gvoip VERSION ");
    assert_non_null(p);
    int major = -1, minor = -1, patch = -1;
    assert_int_equal(sscanf(p, "project(gvoip VERSION %d.%d.%d", &major, &minor, &patch), 3);
    free(cmake);
    assert_int_equal(major, GV_VERSION_MAJOR);
    assert_int_equal(minor, GV_VERSION_MINOR);
    assert_int_equal(patch, GV_VERSION_PATCH);
}

static void test_strerror(void **state)
{
    (void)state;
    const char *seen[20] = {0};
    for (int err = GV_OK; err >= GV_ENOTFOUND; err--) {
        const char *s = gv_strerror(err);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
        for (int k = 0; k < -err; k++)
            assert_string_not_equal(s, seen[k]);
        seen[-err] = s;
    }
    const int unknown[] = {GV_ENOTFOUND - 1, -1000, INT_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_string_equal(gv_strerror(unknown[i]), "unknown error");
    assert_string_equal(gv_strerror(1), "success");
    assert_string_equal(gv_strerror(INT_MAX), "success");
}

static void test_init_and_defaults(void **state)
{
    (void)state;
    assert_int_equal(gv_init(), 0);
    assert_int_equal(gv_init(), 0);
    gv_server_config_default(NULL);
    gv_client_config_default(NULL);
    gv_spatial_config_default(NULL, GV_SPATIAL_MODE_2D);
    gv_server_config sc;
    gv_client_config cc;
    memset(&sc, 0xff, sizeof sc);
    memset(&cc, 0xff, sizeof cc);
    gv_server_config_default(&sc);
    gv_client_config_default(&cc);
    assert_int_equal(sc.size, sizeof sc);
    assert_int_equal(cc.size, sizeof cc);
    assert_int_equal(sc.max_players, GV_DEFAULT_MAX_PLAYERS);
    assert_int_equal(sc.resume_grace_ms, 30000);
    assert_int_equal(sc.max_talkers, GV_DEFAULT_MAX_TALKERS);
    assert_int_equal(sc.max_lobbies, GV_DEFAULT_MAX_LOBBIES);
    assert_int_equal(sc.lobby_linger_ms, 30000);
    assert_null(sc.token_keys);
    assert_null(cc.lobby);
    assert_null(cc.token);
    assert_int_equal(cc.server_port, GV_DEFAULT_PORT);
    /* A mode gv_spatial_mode_kind does not name gives the mode "off". */
    const int modes[] = {-1, 3, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        gv_spatial_config sp;
        gv_spatial_config_default(&sp, modes[i]);
        assert_int_equal(sp.mode, GV_SPATIAL_MODE_OFF);
    }
}

static void test_ring(void **state)
{
    (void)state;
    gv_ring *r = (gv_ring *)&r;
    assert_int_equal(gv_ring_create(0, &r), GV_EINVAL);
    assert_int_equal(gv_ring_create(SIZE_MAX, &r), GV_EINVAL);
    assert_int_equal(gv_ring_create(SIZE_MAX / 16 + 2, &r), GV_EINVAL);
    assert_null(r);
    assert_int_equal(gv_ring_create(16, NULL), GV_EINVAL);
    assert_int_equal(gv_ring_create(5, &r), 0);
    float buf[64] = {0};
    assert_int_equal(gv_ring_write(NULL, buf, 4), 0);
    assert_int_equal(gv_ring_write(r, NULL, 4), 0);
    assert_int_equal(gv_ring_write(r, buf, 0), 0);
    assert_int_equal(gv_ring_write(r, buf, SIZE_MAX), 8); /* rounded up to 8; the rest does not fit */
    assert_int_equal(gv_ring_read(NULL, buf, 4), 0);
    assert_int_equal(gv_ring_read(r, NULL, 4), 0);
    assert_int_equal(gv_ring_readable(NULL), 0);
    assert_int_equal(gv_ring_writable(NULL), 0);
    assert_int_equal(gv_ring_readable(r), 8);
    assert_int_equal(gv_ring_writable(r), 0);
    assert_int_equal(gv_ring_read(r, buf, SIZE_MAX), 8);
    gv_ring_destroy(r);
    gv_ring_destroy(NULL);
}

static void test_wakegate(void **state)
{
    (void)state;
    gv_wakegate *g = (gv_wakegate *)&g;
    assert_int_equal(gv_wakegate_create(48000, 1, 20, NULL), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(INT_MIN, 1, 20, &g), GV_EINVAL);
    assert_null(g);
    assert_int_equal(gv_wakegate_create(INT_MAX, 1, 20, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(48000, INT_MAX, 20, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(48000, 1, INT_MAX, &g), GV_EINVAL);
    assert_int_equal(gv_wakegate_create(48000, 2, 10, &g), 0);
    float buf[8] = {0};
    assert_int_equal(gv_wakegate_set_quiet(NULL, 0.0f), GV_EINVAL);
    assert_int_equal(gv_wakegate_set_quiet(g, NAN), GV_EINVAL);
    assert_int_equal(gv_wakegate_set_quiet(g, -INFINITY), 0);
    assert_int_equal(gv_wakegate_set_quiet(g, INFINITY), 0);
    assert_int_equal(gv_wakegate_set_quiet(g, 1e30f), 0);
    assert_int_equal(gv_wakegate_block(NULL, buf, 4), 1);
    assert_int_equal(gv_wakegate_block(g, NULL, 4), 1);
    assert_int_equal(gv_wakegate_block(g, NULL, SIZE_MAX), 1);
    assert_int_equal(gv_wakegate_block(g, buf, 0), 0);
    gv_wakegate_destroy(g);
    gv_wakegate_destroy(NULL);
}

/* ---- Server ------------------------------------------------------------ */

typedef void (*server_spoil)(gv_server_config *sc);
static void sc_size0(gv_server_config *sc) { sc->size = 0; }
static void sc_size_small(gv_server_config *sc) { sc->size = sizeof *sc - 1; }
static void sc_size_big(gv_server_config *sc) { sc->size = UINT32_MAX; }
static void sc_players0(gv_server_config *sc) { sc->max_players = 0; }
static void sc_players_neg(gv_server_config *sc) { sc->max_players = -1; }
static void sc_players_over(gv_server_config *sc) { sc->max_players = GV_MAX_PLAYERS_LIMIT + 1; }
static void sc_players_huge(gv_server_config *sc) { sc->max_players = INT_MAX; }
static void sc_password_long(gv_server_config *sc) { sc->password = (const uint8_t *)"x", sc->password_len = 129; }
static void sc_password_null(gv_server_config *sc) { sc->password = NULL, sc->password_len = 4; }
static void sc_password_huge(gv_server_config *sc) { sc->password = (const uint8_t *)"x", sc->password_len = SIZE_MAX; }
static void sc_hold_neg(gv_server_config *sc) { sc->relay_hold_us = -1; }
static void sc_hold_over(gv_server_config *sc) { sc->relay_hold_us = 20001; }
static void sc_hold_huge(gv_server_config *sc) { sc->relay_hold_us = INT_MAX; }
static void sc_rate_neg(gv_server_config *sc) { sc->relay_hold_rate = INT_MIN; }
static void sc_cipher_neg(gv_server_config *sc) { sc->cipher = (gv_cipher_choice)-1; }
static void sc_cipher_over(gv_server_config *sc) { sc->cipher = (gv_cipher_choice)2; }
static void sc_clock_null(gv_server_config *sc) { sc->clock.now_us = NULL; }
static void sc_spatial_mode(gv_server_config *sc) { sc->spatial.mode = 99; }
/* Off ignores the other positional fields (a zeroed config is fine). */
static void sc_spatial_nan(gv_server_config *sc)
{
    gv_spatial_config_default(&sc->spatial, GV_SPATIAL_MODE_3D);
    sc->spatial.unit_size = NAN;
}
static void sc_spatial_pan(gv_server_config *sc)
{
    gv_spatial_config_default(&sc->spatial, GV_SPATIAL_MODE_2D);
    sc->spatial.panning_strength = -1.0f;
}
static void sc_key_empty(gv_server_config *sc) { sc->key_file = ""; }
static void sc_cert_len_only(gv_server_config *sc) { sc->fleet_cert_len = GV_FLEETCERT_BYTES; }
static void sc_timeout_short(gv_server_config *sc) { sc->peer_timeout_ms = 999; }
static void sc_timeout_huge(gv_server_config *sc) { sc->peer_timeout_ms = UINT32_MAX; }
static void sc_grace_over(gv_server_config *sc) { sc->resume_grace_ms = 600001; }
static void sc_grace_huge(gv_server_config *sc) { sc->resume_grace_ms = UINT32_MAX; }
static void sc_talkers_neg(gv_server_config *sc) { sc->max_talkers = -1; }
static void sc_talkers_over(gv_server_config *sc) { sc->max_talkers = GV_MAX_TALKERS_LIMIT + 1; }
static void sc_lobbies0(gv_server_config *sc) { sc->max_lobbies = 0; }
static void sc_lobbies_over(gv_server_config *sc) { sc->max_lobbies = GV_MAX_LOBBIES_LIMIT + 1; }
static void sc_lobbies_neg(gv_server_config *sc) { sc->max_lobbies = INT_MIN; }
static void sc_linger_over(gv_server_config *sc) { sc->lobby_linger_ms = 86400001; }
static void sc_linger_huge(gv_server_config *sc) { sc->lobby_linger_ms = UINT32_MAX; }

static void test_server_create_refuses(void **state)
{
    (void)state;
    gv_server_config sc;
    gv_server *s = (gv_server *)&s;
    char why[256];
    server_cfg(&sc);
    assert_int_equal(gv_server_create(NULL, &s, why, sizeof why), GV_EINVAL);
    assert_null(s);
    assert_int_equal(gv_server_create(&sc, NULL, why, sizeof why), GV_EINVAL);
    assert_int_equal(gv_server_create(&sc, NULL, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_server_create(&sc, NULL, why, 0), GV_EINVAL);
    const server_spoil spoil[] = {
        sc_size0,        sc_size_small,    sc_size_big,      sc_players0,      sc_players_neg, sc_players_over,
        sc_players_huge, sc_password_long, sc_password_null, sc_password_huge, sc_hold_neg,    sc_hold_over,
        sc_hold_huge,    sc_rate_neg,      sc_cipher_neg,    sc_cipher_over,   sc_clock_null,  sc_spatial_mode,
        sc_spatial_nan,  sc_spatial_pan,   sc_key_empty,     sc_timeout_short, sc_timeout_huge, sc_grace_over,
        sc_grace_huge,   sc_talkers_neg,   sc_talkers_over,  sc_lobbies0,      sc_lobbies_over, sc_lobbies_neg,
        sc_linger_over,  sc_linger_huge,   sc_cert_len_only};
    for (size_t i = 0; i < sizeof spoil / sizeof spoil[0]; i++) {
        server_cfg(&sc);
        spoil[i](&sc);
        s = (gv_server *)&s;
        int rc = gv_server_create(&sc, &s, why, sizeof why);
        if (rc != GV_EINVAL || s != NULL)
            fail_msg("spoiled server config %zu: %d, out %p; want GV_EINVAL and NULL", i, rc, (void *)s);
    }
    server_cfg(&sc);
    sc_spatial_mode(&sc);
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EINVAL);
    assert_true(why[0] != '\0'); /* the positional settings have a sentence */
    /* A lobby directory: its bad arguments, and a worker number or a
     * lobby limit the directory does not have. */
    gv_directory *directory = (gv_directory *)&directory;
    assert_int_equal(gv_directory_create(2, 8, NULL), GV_EINVAL);
    const int bad_dirs[][2] = {{0, 8}, {-1, 8}, {GV_DIRECTORY_WORKERS_MAX + 1, 8}, {INT_MAX, 8},
                               {2, 0}, {2, -1}, {2, GV_MAX_LOBBIES_LIMIT + 1}, {2, INT_MIN}};
    for (size_t i = 0; i < sizeof bad_dirs / sizeof bad_dirs[0]; i++) {
        directory = (gv_directory *)&directory;
        assert_int_equal(gv_directory_create(bad_dirs[i][0], bad_dirs[i][1], &directory), GV_EINVAL);
        assert_null(directory);
    }
    gv_directory_destroy(NULL);
    assert_int_equal(gv_directory_create(2, GV_DEFAULT_MAX_LOBBIES, &directory), 0);
    const int bad_workers[] = {-1, 2, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof bad_workers / sizeof bad_workers[0]; i++) {
        server_cfg(&sc);
        sc.directory = directory;
        sc.worker = bad_workers[i];
        assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EINVAL);
        assert_null(s);
    }
    server_cfg(&sc);
    sc.directory = directory;
    sc.max_lobbies = GV_DEFAULT_MAX_LOBBIES + 1;
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EINVAL);
    /* Each worker number is one server's at a time. */
    gv_server *w0 = NULL;
    server_cfg(&sc);
    sc.directory = directory;
    assert_int_equal(gv_server_create(&sc, &w0, why, sizeof why), 0);
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EINVAL);
    assert_null(s);
    assert_true(strstr(why, "worker 0") != NULL);
    gv_server_destroy(w0);
    assert_int_equal(gv_server_create(&sc, &w0, why, sizeof why), 0);
    gv_server_destroy(w0);
    /* The fleet's gate and moves: insane arguments refused, nothing held. */
    assert_int_equal(gv_directory_set_gate(NULL, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_set_gate(directory, NULL, NULL), 0);
    static const char long_host[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert_int_equal(gv_directory_revoke(NULL, "a", 1, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(directory, NULL, 1, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(directory, "a", SIZE_MAX, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(directory, "a", 1, long_host, 7000), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(directory, "a", 1, "not a host", 7000), GV_EINVAL);
    assert_int_equal(gv_directory_revoke(directory, "a", 1, NULL, 0), GV_ENOTFOUND);
    gv_directory_lobby listed[2];
    int held = -1;
    assert_int_equal(gv_directory_list(NULL, listed, 2, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_list(directory, NULL, 2, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_list(directory, listed, -1, NULL, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_list(directory, listed, INT_MIN, &held, NULL), GV_EINVAL);
    assert_int_equal(gv_directory_list(directory, listed, 2, &held, NULL), 0);
    assert_int_equal(held, 0);
    gv_directory_destroy(directory);
    /* A grace of none and the longest are settings, not mistakes. */
    const uint32_t graces[] = {0, 600000};
    for (size_t i = 0; i < sizeof graces / sizeof graces[0]; i++) {
        server_cfg(&sc);
        sc.resume_grace_ms = graces[i];
        assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), 0);
        gv_server_destroy(s);
    }
}

static void test_server_create_failures(void **state)
{
    (void)state;
    gv_server_config sc;
    gv_server *s = NULL, *first = make_server();
    char why[512], path[192];

    /* GV_ENET: an address ENet cannot bind (it speaks IPv4), a port taken. */
    server_cfg(&sc);
    sc.bind_address = "::1";
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_ENET);
    assert_null(s);
    server_cfg(&sc);
    sc.port = (uint16_t)gv_server_port(first);
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_ENET);
    assert_null(s);
    assert_true(strstr(why, "port") != NULL);
    gv_server_destroy(first);

    /* GV_EKEY: a key file others may read, a malformed one. */
    server_cfg(&sc);
    snprintf(path, sizeof path, "%s/open.key", dir);
    write_file(path, "gvoip-server-key 1\n", 0644);
    sc.key_file = path;
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EKEY);
    assert_true(why[0] != '\0');
    snprintf(path, sizeof path, "%s/bad.key", dir);
    write_file(path, "not a key\n", 0600);
    assert_int_equal(gv_server_create(&sc, &s, NULL, 0), GV_EKEY);
    assert_null(s);

    /* GV_EIO: the key's directory cannot be made (a file is in the way). */
    snprintf(path, sizeof path, "%s/file", dir);
    write_file(path, "", 0600);
    snprintf(path, sizeof path, "%s/file/server.key", dir);
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EIO);

    /* GV_ENOTFOUND and GV_ETOOBIG: no per-user directory, a path too long. */
    const char *names[] = {"GVOIP_HOME", "XDG_CONFIG_HOME", "HOME"};
    char *saved[3];
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(names[i]);
    }
    server_cfg(&sc);
    sc.key_file = NULL;
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_ENOTFOUND);
    char *longdir = malloc(8192);
    assert_non_null(longdir);
    memset(longdir, 'x', 8191);
    longdir[0] = '/';
    longdir[8191] = '\0';
    setenv("GVOIP_HOME", longdir, 1);
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_ETOOBIG);
    assert_null(s);
    free(longdir);
    unsetenv("GVOIP_HOME");
    for (int i = 0; i < 3; i++) {
        if (saved[i])
            setenv(names[i], saved[i], 1);
        free(saved[i]);
    }
}

static void test_server_calls(void **state)
{
    (void)state;
    gv_server *s = make_server();
    gv_event ev = {.size = UINT32_MAX}; /* a caller from the future: more than the library knows */

    /* The LISTENING event is waiting: even an endless timeout returns. */
    assert_int_equal(gv_server_service(s, &ev, UINT32_MAX), 1);
    assert_int_equal(ev.type, GV_EVENT_LISTENING);
    assert_int_equal(ev.size, sizeof ev);
    assert_int_equal(ev.port, gv_server_port(s));
    assert_string_equal(ev.reason, "");
    assert_int_equal(gv_server_service(NULL, &ev, 0), GV_EINVAL);
    assert_int_equal(gv_server_service(s, NULL, 0), GV_EINVAL);
    ev.size = 0;
    assert_int_equal(gv_server_service(s, &ev, 0), GV_EINVAL);
    ev.size = sizeof ev - 1;
    assert_int_equal(gv_server_service(s, &ev, 0), GV_EINVAL);
    ev.size = sizeof ev;
    assert_int_equal(gv_server_service(s, &ev, 0), 0);

    assert_int_equal(gv_server_fd(NULL), GV_EINVAL);
    assert_true(gv_server_fd(s) >= 0);
    assert_int_equal(gv_server_port(NULL), GV_EINVAL);
    assert_true(gv_server_port(s) > 0 && gv_server_port(s) <= 65535);

    char fp[GV_FINGERPRINT_BYTES + 8];
    assert_int_equal(gv_server_fingerprint(NULL, fp, sizeof fp), GV_EINVAL);
    assert_int_equal(gv_server_fingerprint(s, NULL, sizeof fp), GV_EINVAL);
    assert_int_equal(gv_server_fingerprint(s, NULL, 0), GV_EINVAL);
    memset(fp, 'z', sizeof fp);
    assert_int_equal(gv_server_fingerprint(s, fp, 0), GV_ETOOBIG);
    assert_int_equal(fp[0], 'z'); /* nothing written to a zero-length buffer */
    assert_int_equal(gv_server_fingerprint(s, fp, 50), GV_ETOOBIG);
    assert_string_equal(fp, "");
    assert_int_equal(gv_server_fingerprint(s, fp, SIZE_MAX), 0);
    assert_int_equal(strlen(fp), 50);
    assert_int_equal(gv_server_fingerprint(s, fp, GV_FINGERPRINT_BYTES), 0);
    assert_int_equal(strncmp(fp, "SHA256:", 7), 0);

    assert_null(gv_server_host_token(NULL));
    assert_non_null(gv_server_host_token(s));

    gv_server_stats st = {.size = 0};
    assert_int_equal(gv_server_get_stats(NULL, &st), GV_EINVAL);
    assert_int_equal(gv_server_get_stats(s, NULL), GV_EINVAL);
    assert_int_equal(gv_server_get_stats(s, &st), GV_EINVAL);
    st.size = sizeof st - 1;
    assert_int_equal(gv_server_get_stats(s, &st), GV_EINVAL);
    st.size = UINT32_MAX;
    assert_int_equal(gv_server_get_stats(s, &st), 0);
    assert_int_equal(st.size, sizeof st);
    assert_int_equal(st.players, 0);
    assert_int_equal(st.events_dropped, 0);
    assert_int_equal(st.away, 0);
    assert_int_equal(st.resumed, 0);
    assert_int_equal(st.lobbies, 0);

    /* No lobby is open before anyone joins. */
    gv_lobby_stats ls[2] = {{.size = sizeof ls[0]}};
    assert_int_equal(gv_server_get_lobby_stats(NULL, ls, 2), GV_EINVAL);
    assert_int_equal(gv_server_get_lobby_stats(s, NULL, 2), GV_EINVAL);
    assert_int_equal(gv_server_get_lobby_stats(s, ls, -1), GV_EINVAL);
    assert_int_equal(gv_server_get_lobby_stats(s, ls, INT_MIN), GV_EINVAL);
    assert_int_equal(gv_server_get_lobby_stats(s, NULL, 0), 0);
    assert_int_equal(gv_server_get_lobby_stats(s, ls, INT_MAX), 0);
    ls[0].size = sizeof ls[0] - 1;
    assert_int_equal(gv_server_get_lobby_stats(s, ls, 2), GV_EINVAL);
    ls[0].size = 0;
    assert_int_equal(gv_server_get_lobby_stats(s, ls, 1), GV_EINVAL);

    gv_server_destroy(s);
    gv_server_destroy(NULL);
}

/* ---- Client ------------------------------------------------------------ */

typedef void (*client_spoil)(gv_client_config *cc);
static void cc_size0(gv_client_config *cc) { cc->size = 0; }
static void cc_size_small(gv_client_config *cc) { cc->size = sizeof *cc - 1; }
static void cc_size_big(gv_client_config *cc) { cc->size = UINT32_MAX; }
static void cc_host_null(gv_client_config *cc) { cc->server_host = NULL; }
static void cc_name_null(gv_client_config *cc) { cc->name = NULL; }
static void cc_password_long(gv_client_config *cc) { cc->password = (const uint8_t *)"x", cc->password_len = 129; }
static void cc_password_null(gv_client_config *cc) { cc->password = NULL, cc->password_len = 1; }
static void cc_password_huge(gv_client_config *cc) { cc->password = (const uint8_t *)"x", cc->password_len = SIZE_MAX; }
static void cc_server_key(gv_client_config *cc) { cc->server_key = "SHA256:short"; }
static void cc_server_key_empty(gv_client_config *cc) { cc->server_key = ""; }
static void cc_fleet_key(gv_client_config *cc) { cc->fleet_key = "SHA256:Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcI"; }
static void cc_fleet_key_empty(gv_client_config *cc) { cc->fleet_key = ""; }
static void cc_codec_neg(gv_client_config *cc) { cc->codec = (gv_codec_kind)-1; }
static void cc_codec_over(gv_client_config *cc) { cc->codec = (gv_codec_kind)2; }
static void cc_frame0(gv_client_config *cc) { cc->frame_ms = 0; }
static void cc_frame_neg(gv_client_config *cc) { cc->frame_ms = -20; }
static void cc_frame_odd(gv_client_config *cc) { cc->frame_ms = 30; }
static void cc_frame_huge(gv_client_config *cc) { cc->frame_ms = INT_MAX; }
static void cc_redundancy(gv_client_config *cc) { cc->redundancy = 2; }
static void cc_redundancy_neg(gv_client_config *cc) { cc->redundancy = -1; }
static void cc_tx_neg(gv_client_config *cc) { cc->transmit_mode = (gv_transmit_mode)-1; }
static void cc_tx_over(gv_client_config *cc) { cc->transmit_mode = (gv_transmit_mode)3; }
static void cc_itd(gv_client_config *cc) { cc->itd = 2; }
static void cc_cipher_neg(gv_client_config *cc) { cc->cipher = (gv_cipher_choice)-1; }
static void cc_cipher_over(gv_client_config *cc) { cc->cipher = (gv_cipher_choice)2; }
static void cc_echo_neg(gv_client_config *cc) { cc->echo_cancel = (gv_echo_cancel)-1; }
static void cc_echo_over(gv_client_config *cc) { cc->echo_cancel = (gv_echo_cancel)3; }
static void cc_denoise(gv_client_config *cc) { cc->noise_suppression = 2; }
static void cc_agc(gv_client_config *cc) { cc->auto_gain = -1; }
static void cc_clock_null(gv_client_config *cc) { cc->clock.now_us = NULL; }
static void cc_random_null(gv_client_config *cc) { cc->random.fill = NULL; }
static void cc_timeout_short(gv_client_config *cc) { cc->peer_timeout_ms = 999; }
static void cc_timeout_long(gv_client_config *cc) { cc->peer_timeout_ms = 600001; }
static void cc_lobby_long(gv_client_config *cc)
{
    cc->lobby = "0123456789012345678901234567890123456789012345678901234567890123x"; /* 65 bytes */
}
static void cc_token_junk(gv_client_config *cc) { cc->token = "not a token!"; }
static void cc_token_empty(gv_client_config *cc) { cc->token = ""; }
static void cc_nodes_no_port(gv_client_config *cc) { cc->fleet_nodes = "10.0.0.2"; }
static void cc_nodes_port0(gv_client_config *cc) { cc->fleet_nodes = "10.0.0.2:0"; }
static void cc_nodes_port_big(gv_client_config *cc) { cc->fleet_nodes = "10.0.0.2:65536"; }
static void cc_nodes_trailing(gv_client_config *cc) { cc->fleet_nodes = "10.0.0.2:7000,"; }
static void cc_nodes_empty_entry(gv_client_config *cc) { cc->fleet_nodes = "10.0.0.2:7000,,10.0.0.3:7000"; }
static void cc_nodes_bad_host(gv_client_config *cc) { cc->fleet_nodes = "a b:7000"; }
static void cc_nodes_too_many(gv_client_config *cc)
{
    cc->fleet_nodes = "a1:1,a2:1,a3:1,a4:1,a5:1,a6:1,a7:1,a8:1,a9:1,a10:1,a11:1,a12:1,a13:1,a14:1,a15:1,a16:1";
}

static void test_client_create_refuses(void **state)
{
    (void)state;
    gv_server *s = make_server();
    gv_client_config cc;
    gv_client *c = (gv_client *)&c;
    client_cfg(&cc, s);
    assert_int_equal(gv_client_create(NULL, &c), GV_EINVAL);
    assert_null(c);
    assert_int_equal(gv_client_create(&cc, NULL), GV_EINVAL);
    const client_spoil spoil[] = {
        cc_size0,         cc_size_small,    cc_size_big,   cc_host_null,        cc_name_null,   cc_password_long,
        cc_password_null, cc_password_huge, cc_server_key, cc_server_key_empty, cc_fleet_key, cc_fleet_key_empty,
        cc_codec_neg,     cc_codec_over,
        cc_frame0,        cc_frame_neg,     cc_frame_odd,  cc_frame_huge,       cc_redundancy,  cc_redundancy_neg,
        cc_tx_neg,        cc_tx_over,       cc_itd,        cc_cipher_neg,       cc_cipher_over, cc_echo_neg,
        cc_echo_over,     cc_denoise,       cc_agc,        cc_clock_null,       cc_random_null, cc_timeout_short,
        cc_timeout_long, cc_lobby_long, cc_token_junk, cc_token_empty, cc_nodes_no_port, cc_nodes_port0,
        cc_nodes_port_big, cc_nodes_trailing, cc_nodes_empty_entry, cc_nodes_bad_host, cc_nodes_too_many};
    for (size_t i = 0; i < sizeof spoil / sizeof spoil[0]; i++) {
        client_cfg(&cc, s);
        spoil[i](&cc);
        c = (gv_client *)&c;
        int rc = gv_client_create(&cc, &c);
        if (rc != GV_EINVAL || c != NULL)
            fail_msg("spoiled client config %zu: %d, out %p; want GV_EINVAL and NULL", i, rc, (void *)c);
    }

    /* Names: what the server would refuse is refused before anything is
     * sent, by the same rules gv_check_name applies. */
    char name[300];
    const char *why = NULL;
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    client_cfg(&cc, s);
    cc.name = name;
    assert_int_equal(gv_client_create(&cc, &c), GV_ENAME);
    assert_null(c);
    name[33] = '\0';
    assert_int_equal(gv_client_create(&cc, &c), GV_ENAME);
    assert_int_equal(gv_check_name(name, &why), GV_ENAME);
    assert_string_equal(why, "name is longer than 32 bytes");
    name[32] = '\0';
    assert_int_equal(gv_check_name(name, NULL), 0);
    assert_int_equal(gv_client_create(&cc, &c), 0);
    gv_client_destroy(c);
    const char *const bad_names[] = {"", " ", "a#1", "\xe2\x80\xae" "ecila", "tab\there", "\xc3"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        cc.name = bad_names[i];
        assert_int_equal(gv_client_create(&cc, &c), GV_ENAME);
        assert_int_equal(gv_check_name(bad_names[i], &why), GV_ENAME);
        assert_non_null(why);
    }
    assert_int_equal(gv_check_name(NULL, &why), GV_EINVAL);

    /* A host name that does not resolve (ENet speaks IPv4). */
    client_cfg(&cc, s);
    cc.server_host = "::1";
    assert_int_equal(gv_client_create(&cc, &c), GV_ENOTFOUND);
    assert_null(c);

    /* The address to send from: one ENet cannot resolve (it speaks IPv4)
     * or one that is not this machine's is refused; a loopback one is
     * where the socket sits. */
    client_cfg(&cc, s);
    cc.bind_address = "::1";
    assert_int_equal(gv_client_create(&cc, &c), GV_ENET);
    assert_null(c);
    cc.bind_address = "192.0.2.1";
    assert_int_equal(gv_client_create(&cc, &c), GV_ENET);
    assert_null(c);
    cc.bind_address = "127.0.0.2";
    assert_int_equal(gv_client_create(&cc, &c), 0);
    struct sockaddr_in local;
    socklen_t local_len = sizeof local;
    assert_int_equal(getsockname(gv_client_fd(c), (struct sockaddr *)&local, &local_len), 0);
    assert_int_equal(ntohl(local.sin_addr.s_addr), 0x7f000002u);
    gv_client_destroy(c);

    /* Clamped, not refused: the bit rate; 0 is the default timeout. */
    const int bitrates[] = {INT_MIN, -1, 0, INT_MAX};
    for (size_t i = 0; i < sizeof bitrates / sizeof bitrates[0]; i++) {
        client_cfg(&cc, s);
        cc.bitrate = bitrates[i];
        cc.connect_timeout_ms = i % 2 ? UINT32_MAX : 0;
        assert_int_equal(gv_client_create(&cc, &c), 0);
        gv_client_destroy(c);
    }
    gv_client_destroy(NULL);
    gv_server_destroy(s);
}

static void test_client_calls(void **state)
{
    (void)state;
    gv_server *s = make_server();
    gv_client *c = make_client(s, GV_ECHO_CANCEL_MIX);
    float buf[RATE / 100 * 2];
    const int bad_rates[] = {INT_MIN, -48000, 0, 7999, 192001, INT_MAX};
    const int bad_channels[] = {INT_MIN, -1, 0, 3, INT_MAX};
    const size_t bad_frames[] = {(size_t)INT_MAX + 1, SIZE_MAX};

    /* Before the join, and for a NULL client. */
    assert_int_equal(gv_client_id(NULL), 0);
    assert_int_equal(gv_client_id(c), 0);
    assert_int_equal(gv_client_fd(NULL), GV_EINVAL);
    int fd = gv_client_fd(c);
    assert_true(fd >= 0);
    gv_event ev = {.size = sizeof ev};
    assert_int_equal(gv_client_service(NULL, &ev, 0), GV_EINVAL);
    assert_int_equal(gv_client_service(c, NULL, 0), GV_EINVAL);
    ev.size = 0;
    assert_int_equal(gv_client_service(c, &ev, 0), GV_EINVAL);
    ev.size = sizeof ev - 1;
    assert_int_equal(gv_client_service(c, &ev, 0), GV_EINVAL);
    gv_client *one[1] = {c};
    join(s, one, 1);
    assert_true(gv_client_id(c) > 1);
    assert_int_equal(gv_client_fd(c), fd);

    /* Capture. */
    memset(buf, 0, sizeof buf);
    assert_int_equal(gv_client_push_capture(NULL, buf, 480, RATE, 1), GV_EINVAL);
    assert_int_equal(gv_client_push_capture(c, NULL, 480, RATE, 1), GV_EINVAL);
    assert_int_equal(gv_client_push_capture(c, NULL, 0, RATE, 1), 0);
    assert_int_equal(gv_client_push_capture(c, buf, 0, RATE, 2), 0);
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++)
        assert_int_equal(gv_client_push_capture(c, buf, 480, bad_rates[i], 1), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++)
        assert_int_equal(gv_client_push_capture(c, buf, 480, RATE, bad_channels[i]), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++)
        assert_int_equal(gv_client_push_capture(c, buf, bad_frames[i], RATE, 1), GV_EINVAL);
    assert_int_equal(gv_client_push_capture(c, buf, 480, RATE, 1), 480);
    assert_int_equal(gv_client_push_capture(c, buf, 441, 44100, 2), 441);
    assert_true(gv_client_input_level_db(c) <= -90.0f);
    assert_true(gv_client_input_level_db(NULL) == -120.0f);
    assert_true(gv_client_loudest_peer_db(c) == -127.0f);
    assert_true(gv_client_loudest_peer_db(NULL) == -127.0f);
    assert_int_equal(gv_client_transmitting(NULL), 0);
    assert_true(gv_client_capture_quiet_db(NULL) == -INFINITY);
    assert_int_equal(gv_client_idle_ms(NULL), 20);
    /* Not joined (this client has no server): its join is timed. */
    assert_int_equal(gv_client_idle_ms(c), 20);
    /* The default mode sends every frame. */
    assert_true(gv_client_capture_quiet_db(c) == -INFINITY);

    /* Device latency. */
    assert_int_equal(gv_client_set_device_latency(NULL, 0, 0), GV_EINVAL);
    assert_int_equal(gv_client_set_device_latency(c, 1000001, 0), GV_EINVAL);
    assert_int_equal(gv_client_set_device_latency(c, 0, UINT32_MAX), GV_EINVAL);
    assert_int_equal(gv_client_set_device_latency(c, 1000000, 1000000), 0);
    assert_int_equal(gv_client_set_device_latency(c, 0, 0), 0);

    /* Playback: the pulls fill with silence, and leave out alone on error. */
    assert_int_equal(gv_client_prepare_playback(NULL, RATE, 2), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++)
        assert_int_equal(gv_client_prepare_playback(c, bad_rates[i], 2), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++)
        assert_int_equal(gv_client_prepare_playback(c, RATE, bad_channels[i]), GV_EINVAL);
    assert_int_equal(gv_client_prepare_playback(c, RATE, 2), 0);
    for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++)
        buf[i] = 1.0f;
    assert_int_equal(gv_client_pull_mix(NULL, buf, 4, RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_pull_mix(c, NULL, 4, RATE, 2), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++)
        assert_int_equal(gv_client_pull_mix(c, buf, 4, bad_rates[i], 2), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++)
        assert_int_equal(gv_client_pull_mix(c, buf, 4, RATE, bad_channels[i]), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++)
        assert_int_equal(gv_client_pull_mix(c, buf, bad_frames[i], RATE, 2), GV_EINVAL);
    assert_true(buf[0] == 1.0f);
    assert_int_equal(gv_client_pull_mix(c, NULL, 0, RATE, 2), 0);
    assert_int_equal(gv_client_pull_mix(c, buf, RATE / 100, RATE, 2), RATE / 100);
    for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++)
        assert_true(buf[i] == 0.0f);
    buf[0] = 1.0f;
    assert_int_equal(gv_client_pull_player(NULL, 2, buf, 4, RATE), GV_EINVAL);
    assert_int_equal(gv_client_pull_player(c, 2, NULL, 4, RATE), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++)
        assert_int_equal(gv_client_pull_player(c, NO_PLAYER, buf, 4, bad_rates[i]), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++)
        assert_int_equal(gv_client_pull_player(c, NO_PLAYER, buf, bad_frames[i], RATE), GV_EINVAL);
    assert_true(buf[0] == 1.0f);
    assert_int_equal(gv_client_pull_player(c, NO_PLAYER, buf, 4, RATE), GV_ENOTFOUND);
    assert_true(buf[0] == 0.0f);
    assert_int_equal(gv_client_pull_player(c, NO_PLAYER, NULL, 0, RATE), GV_ENOTFOUND);
    assert_int_equal(gv_client_pull_player(c, 0, buf, 4, RATE), GV_ENOTFOUND);
    assert_int_equal(gv_client_pull_player(c, UINT16_MAX, buf, 4, RATE), GV_ENOTFOUND);

    /* GV_EFULL: the render thread has not taken what the control thread
     * posted (each new pose is one message) and the mailbox is full. */
    int full = 0;
    for (int i = 0; i < 100000 && !full; i++) {
        gv_player_pose pose = {.x = (float)i, .fz = -1.0f};
        assert_int_equal(gv_client_set_pose(c, &pose), 0);
        if (i % 1000 == 999)
            full = gv_client_prepare_playback(c, RATE, 2) == GV_EFULL;
    }
    assert_true(full);
    assert_int_equal(gv_client_pull_mix(c, buf, 4, RATE, 2), 4);
    assert_int_equal(gv_client_prepare_playback(c, RATE, 2), 0);

    /* An echo reference only in GV_ECHO_CANCEL_EXTERNAL mode. */
    assert_int_equal(gv_client_push_echo_reference(c, buf, 4, RATE, 2), GV_ESTATE);
    gv_client *ext = make_client(s, GV_ECHO_CANCEL_EXTERNAL);
    assert_int_equal(gv_client_push_echo_reference(NULL, buf, 4, RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_push_echo_reference(ext, NULL, 4, RATE, 2), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++)
        assert_int_equal(gv_client_push_echo_reference(ext, buf, 4, bad_rates[i], 2), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++)
        assert_int_equal(gv_client_push_echo_reference(ext, buf, 4, RATE, bad_channels[i]), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++)
        assert_int_equal(gv_client_push_echo_reference(ext, buf, bad_frames[i], RATE, 2), GV_EINVAL);
    assert_int_equal(gv_client_push_echo_reference(ext, NULL, 0, RATE, 2), 0);
    assert_int_equal(gv_client_push_echo_reference(ext, buf, 4, RATE, 2), 0);
    gv_client_destroy(ext);

    /* Positions. */
    gv_player_pose pose = {.x = 1.0f, .y = 2.0f, .z = 3.0f, .fz = -1.0f}, got;
    assert_int_equal(gv_client_set_pose(NULL, &pose), GV_EINVAL);
    assert_int_equal(gv_client_set_pose(c, NULL), GV_EINVAL);
    const float bad[] = {NAN, INFINITY, -INFINITY, 1e8f, -1e30f};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int field = 0; field < 6; field++) {
            gv_player_pose p = pose;
            ((float *)&p)[field] = bad[i];
            assert_int_equal(gv_client_set_pose(c, &p), GV_EINVAL);
        }
    }
    assert_int_equal(gv_client_set_pose(c, &pose), 0);
    assert_int_equal(gv_client_player_pose(NULL, 2, &got), GV_EINVAL);
    assert_int_equal(gv_client_player_pose(c, 2, NULL), GV_EINVAL);
    assert_int_equal(gv_client_player_pose(c, NO_PLAYER, &got), GV_ENOTFOUND);
    assert_int_equal(gv_client_player_pose(c, 0, &got), GV_ENOTFOUND);
    gv_spatial_config sp;
    assert_int_equal(gv_client_get_spatial(NULL, &sp), GV_EINVAL);
    assert_int_equal(gv_client_get_spatial(c, NULL), GV_EINVAL);
    assert_int_equal(gv_client_get_spatial(c, &sp), 0);
    assert_int_equal(sp.mode, GV_SPATIAL_MODE_OFF);

    /* Switches: any nonzero is on. */
    const int values[] = {INT_MIN, -1, 0, 1, 2, INT_MAX};
    int (*const toggles[])(gv_client *, int) = {gv_client_set_muted, gv_client_set_deafened, gv_client_set_ptt};
    for (size_t t = 0; t < sizeof toggles / sizeof toggles[0]; t++) {
        assert_int_equal(toggles[t](NULL, 1), GV_EINVAL);
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
            assert_int_equal(toggles[t](c, values[i]), 0);
        assert_int_equal(toggles[t](c, 0), 0);
    }
    assert_int_equal(gv_client_set_transmit_mode(NULL, GV_TX_CONTINUOUS), GV_EINVAL);
    const int bad_modes[] = {INT_MIN, -1, 3, INT_MAX};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++)
        assert_int_equal(gv_client_set_transmit_mode(c, (gv_transmit_mode)bad_modes[i]), GV_EINVAL);
    assert_int_equal(gv_client_set_transmit_mode(c, GV_TX_PUSH_TO_TALK), 0);
    assert_int_equal(gv_client_set_transmit_mode(c, GV_TX_VOICE_ACTIVITY), 0);
    assert_int_equal(gv_client_set_transmit_mode(c, GV_TX_CONTINUOUS), 0);

    /* Per-player controls: arguments first, then the lobby. */
    const float bad_gains[] = {-0.001f, -INFINITY, GV_PLAYER_VOLUME_MAX * 1.001f, INFINITY, NAN};
    assert_int_equal(gv_client_set_player_volume(NULL, 2, 1.0f), GV_EINVAL);
    for (size_t i = 0; i < sizeof bad_gains / sizeof bad_gains[0]; i++)
        assert_int_equal(gv_client_set_player_volume(c, NO_PLAYER, bad_gains[i]), GV_EINVAL);
    assert_int_equal(gv_client_set_player_volume(c, NO_PLAYER, 1.0f), GV_ENOTFOUND);
    assert_int_equal(gv_client_set_player_volume(c, 0, 0.0f), GV_ENOTFOUND);
    assert_int_equal(gv_client_set_player_volume(c, UINT16_MAX, GV_PLAYER_VOLUME_MAX), GV_ENOTFOUND);
    assert_int_equal(gv_client_mute_for_all(NULL, 2, 1), GV_EINVAL);
    assert_int_equal(gv_client_mute_for_all(c, 2, 2), GV_EINVAL);
    assert_int_equal(gv_client_mute_for_all(c, 2, INT_MIN), GV_EINVAL);
    assert_int_equal(gv_client_mute_for_all(c, NO_PLAYER, 1), GV_ENOTFOUND);
    assert_int_equal(gv_client_mute_for_all(c, 0, 0), GV_ENOTFOUND);
    assert_int_equal(gv_client_set_player_muted(NULL, 2, 1), GV_EINVAL);
    assert_int_equal(gv_client_set_player_muted(c, NO_PLAYER, 1), GV_ENOTFOUND);
    assert_int_equal(gv_client_set_player_muted(c, 0, INT_MIN), GV_ENOTFOUND);

    gv_client_destroy(c);
    gv_server_destroy(s);
}

/* ---- Sizes (gvoip.h, "Evolution") --------------------------------------- */

static void test_sizes(void **state)
{
    (void)state;
    gv_server *s = make_server();
    gv_client *c[2] = {make_client(s, GV_ECHO_CANCEL_OFF), make_client(s, GV_ECHO_CANCEL_OFF)};
    join(s, c, 2);

    /* A newer caller's event is filled as far as this library knows it. */
    struct {
        gv_event ev;
        unsigned char later[64];
    } newer;
    memset(&newer, 0xa5, sizeof newer);
    newer.ev.size = sizeof newer;
    gv_player_pose pose = {.x = 1.0f, .fz = -1.0f};
    /* A tone in bursts: speaking is voice activity, and a steady tone is
     * only a noise floor to it. */
    float tone[480], quiet[480] = {0};
    for (int i = 0; i < 480; i++)
        tone[i] = 0.3f * sinf((float)i * 0.1f);
    assert_int_equal(gv_client_set_pose(c[1], &pose), 0);
    int got = 0;
    for (uint64_t end = mono_us() + DEADLINE_US, pushed = 0; !got && mono_us() < end; pushed++) {
        gv_event ev = {.size = sizeof ev};
        while (gv_server_service(s, &ev, 1) > 0) {
        }
        assert_int_equal(gv_client_push_capture(c[1], pushed % 60 < 30 ? quiet : tone, 480, RATE, 1), 480);
        while (gv_client_service(c[1], &ev, 0) > 0) {
        }
        int rc = gv_client_service(c[0], &newer.ev, 1);
        assert_true(rc >= 0);
        if (rc == 1) {
            assert_int_equal(newer.ev.size, sizeof newer.ev);
            assert_non_null(newer.ev.reason);
            for (size_t i = 0; i < sizeof newer.later; i++)
                assert_int_equal(newer.later[i], 0xa5);
            got = newer.ev.type == GV_EVENT_SPEAKING;
            newer.ev.size = sizeof newer;
        }
    }
    assert_true(got);
    assert_int_equal(gv_client_id(c[1]), newer.ev.id);

    gv_client_stats cs = {.size = 0};
    assert_int_equal(gv_client_get_stats(NULL, &cs), GV_EINVAL);
    assert_int_equal(gv_client_get_stats(c[0], NULL), GV_EINVAL);
    assert_int_equal(gv_client_get_stats(c[0], &cs), GV_EINVAL);
    cs.size = sizeof cs - 1;
    assert_int_equal(gv_client_get_stats(c[0], &cs), GV_EINVAL);
    cs.size = UINT32_MAX;
    assert_int_equal(gv_client_get_stats(c[0], &cs), 0);
    assert_int_equal(cs.size, sizeof cs);
    assert_int_equal(cs.peer_count, 1);
    assert_int_equal(cs.events_dropped, 0);
    assert_non_null(cs.cipher);

    /* Peer statistics at the caller's stride, out[0].size. */
    gv_peer_stats ps[8];
    memset(ps, 0x5a, sizeof ps);
    ps[0].size = 2 * sizeof ps[0];
    assert_int_equal(gv_client_get_peer_stats(NULL, ps, 4), GV_EINVAL);
    assert_int_equal(gv_client_get_peer_stats(c[0], NULL, 4), GV_EINVAL);
    assert_int_equal(gv_client_get_peer_stats(c[0], NULL, 0), 0);
    assert_int_equal(gv_client_get_peer_stats(c[0], ps, 0), 0);
    assert_int_equal(gv_client_get_peer_stats(c[0], ps, -1), GV_EINVAL);
    assert_int_equal(gv_client_get_peer_stats(c[0], ps, INT_MIN), GV_EINVAL);
    assert_int_equal(gv_client_get_peer_stats(c[0], ps, 4), 1);
    assert_int_equal(ps[0].size, sizeof ps[0]);
    assert_int_equal(ps[0].id, gv_client_id(c[1]));
    assert_int_equal(strncmp(ps[0].name, "player", 6), 0); /* "player" or "player2" */
    assert_int_equal(ps[1].size, 0x5a5a5a5a);              /* the caller's padding, untouched */
    ps[0].size = sizeof ps[0] - 1;
    assert_int_equal(gv_client_get_peer_stats(c[0], ps, 4), GV_EINVAL);
    ps[0].size = 0;
    assert_int_equal(gv_client_get_peer_stats(c[0], ps, 4), GV_EINVAL);

    /* A player who left keeps statistics; they come after those present. */
    gv_client_destroy(c[1]);
    int left = 0;
    for (uint64_t end = mono_us() + DEADLINE_US; !left && mono_us() < end;) {
        gv_event ev = {.size = sizeof ev};
        while (gv_server_service(s, &ev, 1) > 0) {
        }
        while (gv_client_service(c[0], &ev, 1) > 0)
            left |= ev.type == GV_EVENT_PLAYER_DISCONNECTED;
    }
    assert_true(left);
    ps[0].size = sizeof ps[0];
    assert_int_equal(gv_client_get_peer_stats(c[0], ps, 8), 1);
    assert_int_equal(ps[0].size, sizeof ps[0]);
    assert_true(ps[0].voice_packets > 0);
    gv_client_destroy(c[0]);
    gv_server_destroy(s);
}

/* ---- Protocol versions (test-only create functions) -------------------- */

/* The event that ends a join between a server and a client of the given
 * versions (0: the real one); its reason is copied to why. */
static gv_event failed_join(int server_version, int client_version, char *why, size_t why_len)
{
    gv_server_config sc;
    gv_client_config cc;
    gv_server *s = NULL;
    gv_client *c = NULL;
    server_cfg(&sc);
    assert_int_equal(gv_server_create_with_version(&sc, server_version, &s, NULL, 0), 0);
    client_cfg(&cc, s);
    assert_int_equal(gv_client_create_with_version(&cc, client_version, &c), 0);
    gv_event ev = {.size = sizeof ev};
    for (uint64_t end = mono_us() + DEADLINE_US; mono_us() < end;) {
        while (gv_server_service(s, &ev, 1) > 0) {
        }
        int rc = gv_client_service(c, &ev, 1);
        assert_true(rc >= 0);
        if (rc == 1 && (ev.type == GV_EVENT_CONNECTION_FAILED || ev.type == GV_EVENT_CONNECTED))
            break;
    }
    /* The reason lives as long as the client. */
    snprintf(why, why_len, "%s", ev.reason);
    gv_client_destroy(c);
    gv_server_destroy(s);
    return ev;
}

/* ---- Access tokens ------------------------------------------------------ */

static void test_tokens(void **state)
{
    (void)state;
    gv_token_claims c;
    memset(&c, 0xff, sizeof c);
    gv_token_claims_default(&c);
    gv_token_claims_default(NULL);
    assert_int_equal(c.size, sizeof c);
    assert_null(c.lobby);
    assert_int_equal(c.spatial_mode, -1);
    assert_int_equal(c.max_players, 0);

    char secret[GV_TOKEN_KEY_BYTES], pub[GV_TOKEN_KEY_BYTES];
    assert_int_equal(gv_token_keypair(NULL, sizeof secret, pub, sizeof pub), GV_EINVAL);
    assert_int_equal(gv_token_keypair(secret, sizeof secret, NULL, sizeof pub), GV_EINVAL);
    assert_int_equal(gv_token_keypair(secret, GV_TOKEN_KEY_BYTES - 1, pub, sizeof pub), GV_ETOOBIG);
    assert_int_equal(gv_token_keypair(secret, sizeof secret, pub, 0), GV_ETOOBIG);
    assert_int_equal(gv_token_keypair(secret, SIZE_MAX, pub, SIZE_MAX), 0);
    assert_int_equal(strlen(secret), GV_TOKEN_KEY_BYTES - 1);
    assert_int_equal(strlen(pub), GV_TOKEN_KEY_BYTES - 1);

    char out[GV_TOKEN_TEXT_MAX];
    c.lobby = "match#1";
    c.name = "alice";
    c.expires = (uint64_t)time(NULL) + 600;
    assert_true(gv_token_mint(&c, secret, out, sizeof out) > 0);
    assert_int_equal(gv_token_mint(NULL, secret, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_token_mint(&c, NULL, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_token_mint(&c, secret, NULL, sizeof out), GV_EINVAL);
    assert_int_equal(gv_token_mint(&c, secret, out, 0), GV_ETOOBIG);
    assert_int_equal(gv_token_mint(&c, secret, out, 10), GV_ETOOBIG);
    assert_int_equal(gv_token_mint(&c, "not a key", out, sizeof out), GV_EKEY);
    assert_int_equal(gv_token_mint(&c, pub + 1, out, sizeof out), GV_EKEY);
    gv_token_claims bad = c;
    bad.size = UINT32_MAX;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.lobby = NULL;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.name = "a#2";
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.id = 1;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.permissions = UINT_MAX;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.expires = 0;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.spatial_mode = INT_MAX;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.max_distance = NAN;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);
    bad = c, bad.max_players = INT_MIN;
    assert_int_equal(gv_token_mint(&bad, secret, out, sizeof out), GV_EINVAL);

    /* A server takes only keys it can read. */
    gv_server_config sc;
    gv_server *s = (gv_server *)&s;
    char why[256];
    server_cfg(&sc);
    sc.token_keys = "# no key at all\n";
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EKEY);
    assert_null(s);
    sc.token_keys = "not-a-key";
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EKEY);
    assert_true(strstr(why, "line 1") != NULL);
    sc.token_keys = pub;
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), 0);
    gv_server_destroy(s);
}

/* ---- Fleet certificates -------------------------------------------------- */

/* Services s and c until c's join succeeds or fails: that event, and the
 * SERVER_KEY before it in *key (type NONE when none came). */
static gv_event join_outcome(gv_server *s, gv_client *c, gv_event *key)
{
    gv_event ev = {.size = sizeof ev};
    key->type = GV_EVENT_NONE;
    for (uint64_t end = mono_us() + DEADLINE_US; mono_us() < end;) {
        gv_event sev = {.size = sizeof sev};
        while (gv_server_service(s, &sev, 1) > 0) {
        }
        int rc = gv_client_service(c, &ev, 1);
        assert_true(rc >= 0);
        if (rc == 1 && ev.type == GV_EVENT_SERVER_KEY)
            *key = ev;
        if (rc == 1 && (ev.type == GV_EVENT_CONNECTION_FAILED || ev.type == GV_EVENT_CONNECTED))
            return ev;
    }
    fail_msg("the join neither succeeded nor failed within %llu ms", DEADLINE_US / 1000);
    return ev;
}

static void test_fleet_certs(void **state)
{
    (void)state;
    char secret[GV_TOKEN_KEY_BYTES], pub[GV_TOKEN_KEY_BYTES], fp[GV_FINGERPRINT_BYTES], why[512];
    assert_int_equal(gv_fleetcert_keypair(NULL, sizeof secret, pub, sizeof pub, fp, sizeof fp), GV_EINVAL);
    assert_int_equal(gv_fleetcert_keypair(secret, sizeof secret, NULL, sizeof pub, fp, sizeof fp), GV_EINVAL);
    assert_int_equal(gv_fleetcert_keypair(secret, sizeof secret, pub, sizeof pub, NULL, sizeof fp), GV_EINVAL);
    assert_int_equal(gv_fleetcert_keypair(secret, 0, pub, sizeof pub, fp, sizeof fp), GV_ETOOBIG);
    assert_int_equal(gv_fleetcert_keypair(secret, sizeof secret, pub, GV_TOKEN_KEY_BYTES - 1, fp, sizeof fp),
                     GV_ETOOBIG);
    assert_int_equal(gv_fleetcert_keypair(secret, sizeof secret, pub, sizeof pub, fp, 50), GV_ETOOBIG);
    assert_int_equal(gv_fleetcert_keypair(secret, sizeof secret, pub, sizeof pub, fp, 0), GV_ETOOBIG);
    assert_int_equal(gv_fleetcert_keypair(secret, SIZE_MAX, pub, SIZE_MAX, fp, SIZE_MAX), 0);
    assert_int_equal(strlen(fp), 50);

    /* A server key file's public key: never created, checked as the
     * server checks it. */
    uint8_t pk[32];
    char path[192];
    assert_int_equal(gv_keyfile_public_key(NULL, pk, why, sizeof why), GV_EINVAL);
    assert_int_equal(gv_keyfile_public_key("", pk, why, sizeof why), GV_EINVAL);
    assert_int_equal(gv_keyfile_public_key(key_path, NULL, why, sizeof why), GV_EINVAL);
    snprintf(path, sizeof path, "%s/missing.key", dir);
    assert_int_equal(gv_keyfile_public_key(path, pk, why, sizeof why), GV_ENOTFOUND);
    assert_non_null(strstr(why, path));
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/open.key", dir);
    write_file(path, "gvoip-server-key 1\n", 0644);
    assert_int_equal(gv_keyfile_public_key(path, pk, NULL, 0), GV_EKEY);
    gv_server *s = make_server();
    assert_int_equal(gv_keyfile_public_key(key_path, pk, why, sizeof why), 0);
    assert_string_equal(why, "");
    char server_fp[GV_FINGERPRINT_BYTES];
    assert_int_equal(gv_server_fingerprint(s, server_fp, sizeof server_fp), 0);
    gv_server_destroy(s);

    char text[GV_FLEETCERT_TEXT_MAX];
    uint64_t now = (uint64_t)time(NULL);
    assert_int_equal(gv_fleetcert_issue(NULL, pk, 1, 2, text, sizeof text), GV_EINVAL);
    assert_int_equal(gv_fleetcert_issue(secret, NULL, 1, 2, text, sizeof text), GV_EINVAL);
    assert_int_equal(gv_fleetcert_issue(secret, pk, 1, 2, NULL, sizeof text), GV_EINVAL);
    assert_int_equal(gv_fleetcert_issue(secret, pk, 5, 5, text, sizeof text), GV_EINVAL);
    assert_int_equal(gv_fleetcert_issue(secret, pk, UINT64_MAX, 0, text, sizeof text), GV_EINVAL);
    assert_int_equal(gv_fleetcert_issue("not a key", pk, 1, 2, text, sizeof text), GV_EKEY);
    assert_int_equal(gv_fleetcert_issue(pub, pk, 1, 2, text, sizeof text), 194); /* any seed signs */
    assert_int_equal(gv_fleetcert_issue(secret, pk, 1, 2, text, 0), GV_ETOOBIG);
    assert_int_equal(gv_fleetcert_issue(secret, pk, 1, 2, text, 194), GV_ETOOBIG);
    assert_string_equal(text, "");
    assert_int_equal(gv_fleetcert_issue(secret, pk, now - 60, now + 3600, text, SIZE_MAX), 194);

    uint8_t cert[GV_FLEETCERT_BYTES];
    assert_int_equal(gv_fleetcert_from_text(NULL, 5, cert, sizeof cert), GV_EINVAL);
    assert_int_equal(gv_fleetcert_from_text(text, strlen(text), NULL, sizeof cert), GV_EINVAL);
    assert_int_equal(gv_fleetcert_from_text(text, 0, cert, sizeof cert), GV_EMALFORMED);
    assert_int_equal(gv_fleetcert_from_text("#!", 2, cert, sizeof cert), GV_EMALFORMED);
    assert_int_equal(gv_fleetcert_from_text(text, strlen(text), cert, 0), GV_ETOOBIG);
    assert_int_equal(gv_fleetcert_from_text(text, strlen(text), cert, sizeof cert), GV_FLEETCERT_BYTES);

    gv_fleetcert_info info = {.size = sizeof info};
    assert_int_equal(gv_fleetcert_inspect(NULL, sizeof cert, &info, why, sizeof why), GV_EINVAL);
    assert_int_equal(gv_fleetcert_inspect(cert, sizeof cert, NULL, why, sizeof why), GV_EINVAL);
    info.size = 0;
    assert_int_equal(gv_fleetcert_inspect(cert, sizeof cert, &info, why, sizeof why), GV_EINVAL);
    info.size = sizeof info - 1;
    assert_int_equal(gv_fleetcert_inspect(cert, sizeof cert, &info, NULL, 0), GV_EINVAL);
    info.size = sizeof info;
    assert_int_equal(gv_fleetcert_inspect(cert, 0, &info, why, sizeof why), GV_EMALFORMED);
    assert_int_equal(gv_fleetcert_inspect(cert, SIZE_MAX, &info, why, 1), GV_EMALFORMED);
    info.size = UINT32_MAX;
    assert_int_equal(gv_fleetcert_inspect(cert, sizeof cert, &info, why, sizeof why), 0);
    assert_int_equal(info.size, sizeof info);
    assert_string_equal(info.fleet, fp);
    assert_string_equal(info.node, server_fp);
    assert_true(info.not_before == now - 60 && info.not_after == now + 3600);

    /* A server shows it; a client pinning the fleet key, or trusting the
     * first key it sees, takes it, and names the fleet. */
    gv_server_config sc;
    server_cfg(&sc);
    sc.fleet_cert = cert;
    sc.fleet_cert_len = sizeof cert;
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), 0);
    const char *pins[] = {fp, NULL};
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        gv_client_config cc;
        client_cfg(&cc, s);
        cc.fleet_key = pins[i];
        gv_client *c = NULL;
        assert_int_equal(gv_client_create(&cc, &c), 0);
        gv_event key, ev = join_outcome(s, c, &key);
        if (ev.type != GV_EVENT_CONNECTED)
            fail_msg("fleet pin %s: %s", pins[i] ? pins[i] : "none", ev.reason);
        assert_int_equal(key.type, GV_EVENT_SERVER_KEY);
        assert_string_equal(key.fingerprint, server_fp);
        assert_string_equal(key.known_fingerprint, fp);
        gv_client_destroy(c);
    }
    /* Another fleet's pin: refused, and the reason names both. */
    char other_secret[GV_TOKEN_KEY_BYTES], other_pub[GV_TOKEN_KEY_BYTES], other_fp[GV_FINGERPRINT_BYTES];
    assert_int_equal(
        gv_fleetcert_keypair(other_secret, sizeof other_secret, other_pub, sizeof other_pub, other_fp, sizeof other_fp),
        0);
    gv_client_config cc;
    client_cfg(&cc, s);
    cc.fleet_key = other_fp;
    gv_client *c = NULL;
    assert_int_equal(gv_client_create(&cc, &c), 0);
    gv_event key, ev = join_outcome(s, c, &key);
    assert_int_equal(ev.type, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev.error, GV_EKEY);
    assert_non_null(strstr(ev.reason, fp));
    assert_non_null(strstr(ev.reason, other_fp));
    assert_string_equal(ev.fingerprint, fp);
    assert_string_equal(ev.known_fingerprint, other_fp);
    gv_client_destroy(c);
    gv_server_destroy(s);

    /* A server refuses a certificate for another key, or not one at all. */
    snprintf(path, sizeof path, "%s/other.key", dir);
    server_cfg(&sc);
    sc.key_file = path;
    sc.fleet_cert = cert;
    sc.fleet_cert_len = sizeof cert;
    s = (gv_server *)&s;
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EKEY);
    assert_null(s);
    assert_non_null(strstr(why, "is for the server key"));
    unlink(path);
    server_cfg(&sc);
    sc.fleet_cert = cert;
    sc.fleet_cert_len = sizeof cert - 1;
    assert_int_equal(gv_server_create(&sc, &s, why, sizeof why), GV_EKEY);
    assert_non_null(strstr(why, "144 bytes"));
    cert[144] ^= 1;
    sc.fleet_cert_len = sizeof cert;
    assert_int_equal(gv_server_create(&sc, &s, NULL, 0), GV_EKEY);
    assert_null(s);
}

static void test_protocol_version(void **state)
{
    (void)state;
    char why[256], want[128];
    gv_event ev = failed_join(0, 1, why, sizeof why);
    assert_int_equal(ev.type, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev.error, GV_EVERSION);
    assert_int_equal(ev.refused, GV_REFUSAL_VERSION);
    snprintf(want, sizeof want, "server speaks protocol version %d, this client speaks 1", GV_PROTOCOL_VERSION);
    assert_string_equal(why, want);
    ev = failed_join(255, 0, why, sizeof why);
    assert_int_equal(ev.type, GV_EVENT_CONNECTION_FAILED);
    assert_int_equal(ev.error, GV_EVERSION);
    assert_true(strstr(why, "server speaks protocol version 255") != NULL);

    gv_server_config sc;
    gv_client_config cc;
    gv_server *s = (gv_server *)&s;
    gv_client *c = (gv_client *)&c;
    server_cfg(&sc);
    assert_int_equal(gv_server_create_with_version(&sc, -1, &s, NULL, 0), GV_EINVAL);
    assert_null(s);
    assert_int_equal(gv_server_create_with_version(&sc, 256, &s, NULL, 0), GV_EINVAL);
    gv_client_config_default(&cc);
    cc.known_servers_file = "";
    assert_int_equal(gv_client_create_with_version(&cc, -1, &c), GV_EINVAL);
    assert_null(c);
    assert_int_equal(gv_client_create_with_version(&cc, INT_MAX, &c), GV_EINVAL);
}

/* ---- Coverage ------------------------------------------------------------ */

/* Every GV_API function of every public header is called in this file. */
static void test_every_public_function(void **state)
{
    (void)state;
    const char *headers[] = {"include/gvoip/error.h", "include/gvoip/ring.h", "include/gvoip/wakegate.h",
                             "include/gvoip/platform.h",
                             "include/gvoip/gvoip.h"};
    char *self = read_source("tests/unit/test_api.c");
    int functions = 0;
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
        char *text = read_source(headers[h]);
        for (const char *p = text; (p = strstr(p, "GV_API ")) != NULL; p += 7) {
            const char *paren = strchr(p, '('), *newline = strchr(p, '\n');
            if (!paren || (newline && newline < paren) || strncmp(p, "GV_API __", 9) == 0)
                continue; /* the macro's own definition, or prose */
            const char *end = paren, *start = paren;
            while (start > p && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                                 (start[-1] >= '0' && start[-1] <= '9')))
                start--;
            assert_true(end > start);
            char call[128];
            snprintf(call, sizeof call, "%.*s(", (int)(end - start), start);
            char listed[128]; /* in an array of functions called in turn */
            snprintf(listed, sizeof listed, "%.*s,", (int)(end - start), start);
            char last[128];
            snprintf(last, sizeof last, "%.*s}", (int)(end - start), start);
            if (!strstr(self, call) && !strstr(self, listed) && !strstr(self, last))
                fail_msg("%s: %.*s is never called in test_api.c", headers[h], (int)(end - start), start);
            functions++;
        }
        free(text);
    }
    free(self);
    print_message("%d public functions, each called here\n", functions);
    assert_true(functions >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_init_and_defaults),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_wakegate),
        cmocka_unit_test(test_server_create_refuses),
        cmocka_unit_test(test_server_create_failures),
        cmocka_unit_test(test_server_calls),
        cmocka_unit_test(test_client_create_refuses),
        cmocka_unit_test(test_client_calls),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_fleet_certs),
        cmocka_unit_test(test_protocol_version),
        cmocka_unit_test(test_every_public_function),
    };
    if (gv_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
