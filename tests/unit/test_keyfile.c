#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_keyfile.h"
#include "session/gv_known.h"

#define PATH_CAP 512

static const char header[] = "gvoip-server-key 1\n";
/* RFC 7748's Alice public key and its fingerprint (computed independently
 * with Python's hashlib and base64). */
static const char alice_pk_hex[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char alice_fp[] = "SHA256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja4";
static const char bob_fp[] = "SHA256:815WFhYKML88bnn6c8V21AIF6Pw7pOHG3Pk+a5joV7Q";

/* ---- helpers ---------------------------------------------------------- */

typedef struct tmpdir {
    char path[PATH_CAP];
} tmpdir;

static void tmp_make(tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(t->path, sizeof t->path, "%s/gvoip-test-keyfile-XXXXXX", base);
    assert_non_null(mkdtemp(t->path));
}

static void tmp_join(const tmpdir *t, const char *rel, char out[PATH_CAP])
{
    int n = snprintf(out, PATH_CAP, "%s/%s", t->path, rel);
    assert_true(n > 0 && n < PATH_CAP);
}

static void tmp_remove(tmpdir *t)
{
    char cmd[PATH_CAP + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->path);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* The key file text for secret key sk. */
static void key_text_of(char out[200], const uint8_t sk[32])
{
    strcpy(out, header);
    sodium_bin2hex(out + strlen(header), 65, sk, 32);
    strcat(out, "\n");
}

/* A valid key file text for secret bytes start, start+1, ... */
static void key_text(char out[200], uint8_t start)
{
    uint8_t sk[32];
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(start + i);
    key_text_of(out, sk);
}

/* ---- key file --------------------------------------------------------- */

static void test_create_then_load(void **state)
{
    (void)state;
    tmpdir t;
    char path[PATH_CAP], dir[PATH_CAP], text[256], expect[200];
    tmp_make(&t);
    tmp_join(&t, "a/b/server.key", path);

    uint8_t sk[32], pk[32], pk2[32], sk2[32];
    int created = -1;
    char why[256];
    assert_int_equal(gv_keyfile_load_or_create(path, sk, pk, &created, why, sizeof why), GV_OK);
    assert_int_equal(created, 1);
    assert_false(all_zero(sk, 32));
    assert_int_equal(crypto_scalarmult_base(pk2, sk), 0);
    assert_memory_equal(pk, pk2, 32);

    assert_int_equal(mode_of(path), 0600);
    tmp_join(&t, "a", dir);
    assert_int_equal(mode_of(dir), 0700);
    tmp_join(&t, "a/b", dir);
    assert_int_equal(mode_of(dir), 0700);
    key_text_of(expect, sk);
    assert_int_equal(read_file(path, text, sizeof text), strlen(expect));
    assert_string_equal(text, expect);

    /* Loading gives back the same key, not a new one. */
    created = -1;
    assert_int_equal(gv_keyfile_load_or_create(path, sk2, pk2, &created, why, sizeof why), GV_OK);
    assert_int_equal(created, 0);
    assert_memory_equal(sk, sk2, 32);
    assert_memory_equal(pk, pk2, 32);

    /* Another server gets a key of its own. */
    tmp_join(&t, "other.key", path);
    assert_int_equal(gv_keyfile_load_or_create(path, sk2, pk2, &created, why, sizeof why), GV_OK);
    assert_int_equal(created, 1);
    assert_memory_not_equal(sk, sk2, 32);
    tmp_remove(&t);
}

/* The umask can take bits away from 0600, never add any; the file must
 * still end up exactly 0600 so that the next start can read it. */
static void test_create_under_strict_umask(void **state)
{
    (void)state;
    tmpdir t;
    char path[PATH_CAP];
    tmp_make(&t);
    tmp_join(&t, "server.key", path);
    mode_t old = umask(0377);
    uint8_t sk[32], pk[32];
    int created = 0;
    int rc = gv_keyfile_load_or_create(path, sk, pk, &created, NULL, 0);
    umask(old);
    assert_int_equal(rc, GV_OK);
    assert_int_equal(created, 1);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(gv_keyfile_load_or_create(path, sk, pk, &created, NULL, 0), GV_OK);
    assert_int_equal(created, 0);
    tmp_remove(&t);
}

static void test_mode_checked(void **state)
{
    (void)state;
    static const struct {
        mode_t mode;
        int expect;
        const char *word;
    } cases[] = {
        {0600, GV_OK, NULL},
        {0400, GV_OK, NULL},
        {0640, GV_EKEY, "readable by group or others (mode 0640)"},
        {0604, GV_EKEY, "readable by group or others (mode 0604)"},
        {0660, GV_EKEY, "readable by group or others (mode 0660)"},
        {0620, GV_EKEY, "accessible by group or others (mode 0620)"},
        {0601, GV_EKEY, "accessible by group or others (mode 0601)"},
        {0610, GV_EKEY, "accessible by group or others (mode 0610)"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tmpdir t;
        char path[PATH_CAP], text[200], why[PATH_CAP * 3], hint[PATH_CAP + 16];
        tmp_make(&t);
        tmp_join(&t, "server.key", path);
        key_text(text, 7);
        write_file(path, text, strlen(text), cases[c].mode);
        uint8_t sk[32], pk[32];
        int created = -1;
        memset(why, 'x', sizeof why);
        int rc = gv_keyfile_load_or_create(path, sk, pk, &created, why, sizeof why);
        if (rc != cases[c].expect)
            print_error("mode %04o: %d (%s)\n", (unsigned)cases[c].mode, rc, why);
        assert_int_equal(rc, cases[c].expect);
        assert_int_equal(created, 0);
        if (cases[c].word != NULL) {
            snprintf(hint, sizeof hint, "chmod 600 %s", path);
            assert_non_null(strstr(why, hint));
            assert_non_null(strstr(why, cases[c].word));
            assert_true(all_zero(sk, 32) && all_zero(pk, 32));
            /* Refused, not replaced. */
            char now[200];
            read_file(path, now, sizeof now);
            assert_string_equal(now, text);
        } else {
            assert_int_equal(sk[0], 7);
            assert_string_equal(why, "");
        }
        tmp_remove(&t);
    }
}

static void test_malformed_refused(void **state)
{
    (void)state;
    char good[200];
    key_text(good, 0x30);
    char hex[65];
    memcpy(hex, good + strlen(header), 64);
    hex[64] = '\0';
    char c_short[200], c_nonl[200], c_extra[200], c_v2[200], c_nonhex[200], c_upper[200],
        c_space[200];
    snprintf(c_short, sizeof c_short, "%s%.62s\n", header, hex);
    snprintf(c_nonl, sizeof c_nonl, "%s%s", header, hex);
    snprintf(c_extra, sizeof c_extra, "%s%s\n\n", header, hex);
    snprintf(c_v2, sizeof c_v2, "gvoip-server-key 2\n%s\n", hex);
    snprintf(c_nonhex, sizeof c_nonhex, "%s%.63sg\n", header, hex);
    snprintf(c_space, sizeof c_space, "%s %.63s\n", header, hex);
    snprintf(c_upper, sizeof c_upper, "%s", good);
    for (char *p = c_upper + strlen(header); *p != '\n'; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    const struct {
        const char *name, *text;
        int expect;
    } cases[] = {
        {"good", good, GV_OK},
        {"uppercase hex", c_upper, GV_OK},
        {"empty", "", GV_EKEY},
        {"header only", header, GV_EKEY},
        {"62 digits", c_short, GV_EKEY},
        {"no final newline", c_nonl, GV_EKEY},
        {"trailing line", c_extra, GV_EKEY},
        {"version 2", c_v2, GV_EKEY},
        {"non-hex digit", c_nonhex, GV_EKEY},
        {"leading space", c_space, GV_EKEY},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tmpdir t;
        char path[PATH_CAP], why[PATH_CAP * 3];
        tmp_make(&t);
        tmp_join(&t, "server.key", path);
        write_file(path, cases[c].text, strlen(cases[c].text), 0600);
        uint8_t sk[32], pk[32];
        int created = -1;
        int rc = gv_keyfile_load_or_create(path, sk, pk, &created, why, sizeof why);
        if (rc != cases[c].expect)
            print_error("case %s: %d (%s)\n", cases[c].name, rc, why);
        assert_int_equal(rc, cases[c].expect);
        assert_int_equal(created, 0);
        if (rc == GV_OK) {
            assert_int_equal(sk[0], 0x30);
        } else {
            assert_non_null(strstr(why, "malformed"));
            assert_non_null(strstr(why, path));
            assert_true(all_zero(sk, 32) && all_zero(pk, 32));
        }
        tmp_remove(&t);
    }
}

static void test_odd_paths(void **state)
{
    (void)state;
    tmpdir t;
    char path[PATH_CAP], why[PATH_CAP * 3];
    uint8_t sk[32], pk[32];
    tmp_make(&t);

    /* A directory where the key should be. */
    tmp_join(&t, "dir.key", path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(gv_keyfile_load_or_create(path, sk, pk, NULL, why, sizeof why), GV_EKEY);
    assert_non_null(strstr(why, "not a regular file"));

    /* A parent that is a file: nothing can be created. */
    char file[PATH_CAP];
    tmp_join(&t, "plain", file);
    write_file(file, "x", 1, 0600);
    tmp_join(&t, "plain/server.key", path);
    assert_int_equal(gv_keyfile_load_or_create(path, sk, pk, NULL, why, sizeof why), GV_EIO);
    assert_non_null(strstr(why, path));

    /* A key owned by someone else (needs root to arrange). */
    if (geteuid() == 0) {
        char text[200];
        tmp_join(&t, "theirs.key", path);
        key_text(text, 1);
        write_file(path, text, strlen(text), 0600);
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(gv_keyfile_load_or_create(path, sk, pk, NULL, why, sizeof why),
                         GV_EKEY);
        assert_non_null(strstr(why, "another user"));
    }

    assert_int_equal(gv_keyfile_load_or_create(NULL, sk, pk, NULL, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_keyfile_load_or_create("", sk, pk, NULL, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_keyfile_load_or_create(path, NULL, pk, NULL, NULL, 0), GV_EINVAL);
    tmp_remove(&t);
}

/* ---- default paths ---------------------------------------------------- */

static void set_or_unset(const char *name, const char *value)
{
    if (value == NULL)
        assert_int_equal(unsetenv(name), 0);
    else
        assert_int_equal(setenv(name, value, 1), 0);
}

static void test_default_paths(void **state)
{
    (void)state;
    static const struct {
        const char *gvoip_home, *xdg, *home;
        int expect;
        const char *key, *known;
    } cases[] = {
        {"/g", "/x", "/h", 0, "/g/server.key", "/g/known_servers"},
        {"", "/x", "/h", 0, "/x/gvoip/server.key", "/x/gvoip/known_servers"},
        {NULL, "/x", "/h", 0, "/x/gvoip/server.key", "/x/gvoip/known_servers"},
        {NULL, "", "/h", 0, "/h/.config/gvoip/server.key", "/h/.config/gvoip/known_servers"},
        {NULL, "relative", "/h", 0, "/h/.config/gvoip/server.key",
         "/h/.config/gvoip/known_servers"},
        {NULL, NULL, "/h", 0, "/h/.config/gvoip/server.key", "/h/.config/gvoip/known_servers"},
        {NULL, NULL, NULL, GV_ENOTFOUND, NULL, NULL},
        {NULL, NULL, "", GV_ENOTFOUND, NULL, NULL},
    };
    char *saved[3];
    const char *names[3] = {"GVOIP_HOME", "XDG_CONFIG_HOME", "HOME"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        saved[i] = v ? strdup(v) : NULL;
    }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char buf[PATH_CAP];
        set_or_unset("GVOIP_HOME", cases[c].gvoip_home);
        set_or_unset("XDG_CONFIG_HOME", cases[c].xdg);
        set_or_unset("HOME", cases[c].home);
        int rc = gv_keyfile_default_path(buf, sizeof buf);
        assert_int_equal(rc, cases[c].expect);
        assert_int_equal(gv_known_default_path(buf, sizeof buf), cases[c].expect);
        if (cases[c].expect < 0)
            continue;
        assert_int_equal(gv_keyfile_default_path(buf, sizeof buf), GV_OK);
        assert_string_equal(buf, cases[c].key);
        assert_int_equal(gv_known_default_path(buf, sizeof buf), GV_OK);
        assert_string_equal(buf, cases[c].known);
        /* One byte short of the terminating NUL. */
        assert_int_equal(gv_keyfile_default_path(buf, strlen(cases[c].key)), GV_ETOOBIG);
        assert_int_equal(gv_known_default_path(buf, strlen(cases[c].known)), GV_ETOOBIG);
        assert_int_equal(gv_keyfile_default_path(buf, 2), GV_ETOOBIG);
        assert_int_equal(gv_keyfile_default_path(NULL, 0), GV_EINVAL);
    }
    for (int i = 0; i < 3; i++) {
        set_or_unset(names[i], saved[i]);
        free(saved[i]);
    }
}

/* ---- fingerprints ----------------------------------------------------- */

static void test_fingerprint(void **state)
{
    (void)state;
    uint8_t pk[32];
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(pk, 32, alice_pk_hex, 64, NULL, &got, NULL), 0);
    char fp[GV_KEYFILE_FINGERPRINT_LEN];
    memset(fp, 'x', sizeof fp);
    gv_keyfile_fingerprint(pk, fp);
    assert_string_equal(fp, alice_fp);
    assert_int_equal(strlen(fp), GV_KEYFILE_FINGERPRINT_LEN - 1);

    static const struct {
        const char *fp;
        int valid;
    } cases[] = {
        {"SHA256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja4", 1},
        {"SHA256:815WFhYKML88bnn6c8V21AIF6Pw7pOHG3Pk+a5joV7Q", 1},
        {"MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja4", 0},
        {"sha256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja4", 0},
        {"SHA256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja4=", 0},
        {"SHA256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja", 0},
        {"SHA256:MAyclgO5Kks57TlYv5JAEUgE20_TcwEsDKR0MtY0Ja4", 0},
        {"SHA256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja5", 0}, /* padding bits set */
        {"SHA256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja4 ", 0},
        {"", 0},
        {NULL, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (gv_keyfile_fingerprint_valid(cases[c].fp) != cases[c].valid)
            print_error("case %zu\n", c);
        assert_int_equal(gv_keyfile_fingerprint_valid(cases[c].fp), cases[c].valid);
    }

    assert_true(gv_keyfile_fingerprint_equal(alice_fp, fp));
    assert_false(gv_keyfile_fingerprint_equal(alice_fp, bob_fp));
    char near[GV_KEYFILE_FINGERPRINT_LEN];
    strcpy(near, alice_fp);
    near[GV_KEYFILE_FINGERPRINT_LEN - 2] ^= 1;
    assert_false(gv_keyfile_fingerprint_equal(alice_fp, near));
    near[GV_KEYFILE_FINGERPRINT_LEN - 2] ^= 1;
    near[7] ^= 1;
    assert_false(gv_keyfile_fingerprint_equal(alice_fp, near));
    assert_false(gv_keyfile_fingerprint_equal(alice_fp, "SHA256:MAyc"));
    assert_false(gv_keyfile_fingerprint_equal("SHA256:MAyc", "SHA256:MAyc"));
    assert_false(gv_keyfile_fingerprint_equal(NULL, alice_fp));
    assert_false(gv_keyfile_fingerprint_equal(alice_fp, NULL));
}

/* ---- known servers ---------------------------------------------------- */

static void test_known_tofu(void **state)
{
    (void)state;
    tmpdir t;
    char path[PATH_CAP], dir[PATH_CAP], stored[GV_KEYFILE_FINGERPRINT_LEN];
    tmp_make(&t);
    tmp_join(&t, "cfg/gvoip/known_servers", path);

    assert_int_equal(gv_known_check(path, "example.org:7777", alice_fp, stored, sizeof stored), 1);
    assert_int_equal(gv_known_add(path, "example.org:7777", alice_fp), GV_OK);
    assert_int_equal(mode_of(path), 0600);
    tmp_join(&t, "cfg", dir);
    assert_int_equal(mode_of(dir), 0700);
    tmp_join(&t, "cfg/gvoip", dir);
    assert_int_equal(mode_of(dir), 0700);

    static const struct {
        const char *hostport, *fp;
        int expect;
    } cases[] = {
        {"example.org:7777", alice_fp, 0},
        {"example.org:7777", bob_fp, GV_EKEY},
        {"example.org:7778", alice_fp, 1},
        {"example.org:777", alice_fp, 1},
        {"xample.org:7777", alice_fp, 1},
        {"EXAMPLE.ORG:7777", alice_fp, 1},
        {"[::1]:7777", bob_fp, 1},
        {"example.org 7777", alice_fp, GV_EINVAL},
        {"exa mple.org:7777", alice_fp, GV_EINVAL},
        {"example.org:7777\tx", alice_fp, GV_EINVAL},
        {"caf\xc3\xa9.example:7777", alice_fp, GV_EINVAL},
        {"example.org:7777\n", alice_fp, GV_EINVAL},
        {"", alice_fp, GV_EINVAL},
        {"nocolon", alice_fp, GV_EINVAL},
        {"#example.org:7777", alice_fp, GV_EINVAL},
        {"example.org:7777", "SHA256:nope", GV_EINVAL},
        {NULL, alice_fp, GV_EINVAL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memset(stored, 0, sizeof stored);
        int rc = gv_known_check(path, cases[c].hostport, cases[c].fp, stored, sizeof stored);
        if (rc != cases[c].expect)
            print_error("case %zu: %d\n", c, rc);
        assert_int_equal(rc, cases[c].expect);
        if (rc == GV_EKEY)
            assert_string_equal(stored, alice_fp);
        if (cases[c].expect == GV_EINVAL)
            assert_int_equal(gv_known_add(path, cases[c].hostport, cases[c].fp), GV_EINVAL);
    }
    assert_int_equal(gv_known_check(path, "example.org:7777", bob_fp, stored, 10), GV_EINVAL);
    assert_int_equal(gv_known_check(path, "example.org:7777", bob_fp, NULL, 0), GV_EKEY);

    /* A second server, and a long name at the limit. */
    char longname[GV_KNOWN_MAX_HOSTPORT + 2];
    memset(longname, 'h', sizeof longname);
    longname[GV_KNOWN_MAX_HOSTPORT - 5] = ':';
    longname[GV_KNOWN_MAX_HOSTPORT] = '\0';
    assert_int_equal(gv_known_add(path, "[::1]:7777", bob_fp), GV_OK);
    assert_int_equal(gv_known_add(path, longname, bob_fp), GV_OK);
    assert_int_equal(gv_known_check(path, "[::1]:7777", bob_fp, NULL, 0), 0);
    assert_int_equal(gv_known_check(path, longname, bob_fp, NULL, 0), 0);
    assert_int_equal(gv_known_check(path, "example.org:7777", alice_fp, NULL, 0), 0);
    longname[GV_KNOWN_MAX_HOSTPORT] = 'h';
    longname[GV_KNOWN_MAX_HOSTPORT + 1] = '\0';
    assert_int_equal(gv_known_add(path, longname, bob_fp), GV_EINVAL);
    tmp_remove(&t);
}

/* A file edited by hand: comments, blank and broken lines, CRLF, several
 * entries for one server, and no final newline. */
static void test_known_hand_edited(void **state)
{
    (void)state;
    tmpdir t;
    char path[PATH_CAP], text[1024], stored[GV_KEYFILE_FINGERPRINT_LEN];
    tmp_make(&t);
    tmp_join(&t, "known_servers", path);
    snprintf(text, sizeof text,
             "# my servers\n"
             "\n"
             "broken-line-without-fingerprint\n"
             "bad.example:1 SHA256:short\n"
             "two.example:2 %s trailing\n"
             "crlf.example:3 %s\r\n"
             "  spaced.example:4\t%s  \n"
             "multi.example:5 %s\n"
             "multi.example:5 %s\n"
             "last.example:6 %s",
             alice_fp, alice_fp, alice_fp, alice_fp, bob_fp, bob_fp);
    write_file(path, text, strlen(text), 0600);
    static const struct {
        const char *hostport;
        int alice, bob;
    } cases[] = {
        {"bad.example:1", 1, 1},        {"two.example:2", 1, 1},
        {"crlf.example:3", 0, GV_EKEY}, {"spaced.example:4", 0, GV_EKEY},
        {"multi.example:5", 0, 0},      {"last.example:6", GV_EKEY, 0},
        {"new.example:7", 1, 1},
    };
    for (int round = 0; round < 2; round++) {
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            int a = gv_known_check(path, cases[c].hostport, alice_fp, stored, sizeof stored);
            int b = gv_known_check(path, cases[c].hostport, bob_fp, stored, sizeof stored);
            if (round == 1 && c == sizeof cases / sizeof cases[0] - 1) {
                /* Added below in round 0. */
                assert_int_equal(a, GV_EKEY);
                assert_int_equal(b, 0);
                continue;
            }
            if (a != cases[c].alice || b != cases[c].bob)
                print_error("round %d %s: %d %d\n", round, cases[c].hostport, a, b);
            assert_int_equal(a, cases[c].alice);
            assert_int_equal(b, cases[c].bob);
        }
        if (round == 0)
            assert_int_equal(gv_known_add(path, "new.example:7", bob_fp), GV_OK);
    }
    tmp_remove(&t);
}

/* A fleet's key for an address is an entry of its own kind: a server-key
 * lookup never sees it, a fleet lookup sees nothing else, and a line a
 * reader from before fleets would take (two fields) is not one. */
static void test_known_fleet(void **state)
{
    (void)state;
    tmpdir t;
    char path[PATH_CAP], text[1024], stored[GV_KEYFILE_FINGERPRINT_LEN];
    tmp_make(&t);
    tmp_join(&t, "known_servers", path);
    assert_int_equal(gv_known_check_fleet(path, "node.example:7000", alice_fp, stored, sizeof stored), 1);
    assert_int_equal(gv_known_add_fleet(path, "node.example:7000", alice_fp), GV_OK);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(gv_known_add(path, "node.example:7000", bob_fp), GV_OK);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    assert_true(n > 0);
    text[n] = '\0';
    char want[256];
    snprintf(want, sizeof want, "@fleet node.example:7000 %s\nnode.example:7000 %s\n", alice_fp, bob_fp);
    assert_string_equal(text, want);

    assert_int_equal(gv_known_check_fleet(path, "node.example:7000", alice_fp, NULL, 0), 0);
    assert_int_equal(gv_known_check_fleet(path, "node.example:7000", bob_fp, stored, sizeof stored), GV_EKEY);
    assert_string_equal(stored, alice_fp);
    assert_int_equal(gv_known_check(path, "node.example:7000", bob_fp, NULL, 0), 0);
    assert_int_equal(gv_known_check(path, "node.example:7000", alice_fp, stored, sizeof stored), GV_EKEY);
    assert_string_equal(stored, bob_fp);
    assert_int_equal(gv_known_check_fleet(path, "other.example:7000", alice_fp, NULL, 0), 1);
    assert_int_equal(gv_known_check_fleet(path, "bad host:1", alice_fp, NULL, 0), GV_EINVAL);
    assert_int_equal(gv_known_add_fleet(path, "node.example:7000", "SHA256:short"), GV_EINVAL);

    /* Hand-edited: only "@fleet HOST:PORT FP", exactly, is a fleet entry. */
    snprintf(text, sizeof text,
             "@fleet a.example:1 %s extra\n"
             "@Fleet b.example:2 %s\n"
             "  @fleet\tc.example:3  %s \r\n"
             "@fleet d.example:4\n"
             "#@fleet e.example:5 %s\n",
             alice_fp, alice_fp, alice_fp, alice_fp);
    write_file(path, text, strlen(text), 0600);
    static const struct {
        const char *hostport;
        int fleet;
    } cases[] = {{"a.example:1", 1}, {"b.example:2", 1}, {"c.example:3", 0}, {"d.example:4", 1}, {"e.example:5", 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(gv_known_check_fleet(path, cases[c].hostport, alice_fp, NULL, 0), cases[c].fleet);
        assert_int_equal(gv_known_check(path, cases[c].hostport, alice_fp, NULL, 0), 1);
    }
    tmp_remove(&t);
}

static void test_known_unreadable(void **state)
{
    (void)state;
    tmpdir t;
    char path[PATH_CAP];
    tmp_make(&t);
    /* A directory cannot be read as a file. */
    tmp_join(&t, "known_servers", path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(gv_known_check(path, "a:1", alice_fp, NULL, 0), GV_EIO);
    assert_int_equal(gv_known_add(path, "a:1", alice_fp), GV_EIO);
    tmp_remove(&t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_then_load),
        cmocka_unit_test(test_create_under_strict_umask),
        cmocka_unit_test(test_mode_checked),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_odd_paths),
        cmocka_unit_test(test_default_paths),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_known_tofu),
        cmocka_unit_test(test_known_hand_edited),
        cmocka_unit_test(test_known_fleet),
        cmocka_unit_test(test_known_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
