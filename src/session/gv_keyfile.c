#include "session/gv_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "gvoip/gvoip.h"
#include "packet/gv_why.h"
#include "session/gv_noise.h"

static const char header[] = "gvoip-server-key 1\n";
#define HEADER_LEN (sizeof header - 1)
#define HEX_LEN 64
#define FILE_LEN (HEADER_LEN + HEX_LEN + 1)
#define FP_PREFIX "SHA256:"
#define FP_PREFIX_LEN (sizeof FP_PREFIX - 1)

/* "<what> <path>: <system error>", with the errno of the failed call;
 * strerror_r because strerror may share a buffer between threads. */
static void say_sys(char *why, size_t why_len, const char *what, const char *path)
{
    int err = errno;
    char msg[128] = "unknown error";
    if (strerror_r(err, msg, sizeof msg) != 0)
        snprintf(msg, sizeof msg, "error %d", err);
    gv_why(why, why_len, "%s %s: %s", what, path, msg);
}

int gv_keyfile_make_parent_dir(const char *path)
{
    if (path == NULL)
        return GV_EIO;
    char *dir = strdup(path);
    if (dir == NULL)
        return GV_ENOMEM;
    int rc = GV_OK;
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        goto out;
    *slash = '\0';
    /* Walk the prefixes so that every missing level gets 0700, not just
     * the last one (mkdir -p would use the umask for the others). */
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = GV_EIO;
            goto out;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
out:
    free(dir);
    return rc;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return GV_EIO;
        buf += n;
        len -= (size_t)n;
    }
    return GV_OK;
}

/* GV_EAGAIN: the file appeared between our open and O_EXCL; load it. */
static int create_key(const char *path, uint8_t sk[32], uint8_t pk[32], char *why, size_t why_len)
{
    char text[FILE_LEN + 1];
    int fd = -1;
    int rc = gv_keyfile_make_parent_dir(path);
    if (rc != GV_OK) {
        say_sys(why, why_len, "cannot create the directory for key file", path);
        return rc;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return GV_EAGAIN;
        say_sys(why, why_len, "cannot create key file", path);
        return GV_EIO;
    }
    if ((rc = gv_noise_keypair(sk, pk)) != GV_OK) {
        gv_why(why, why_len, "cannot derive a public key for %s", path);
        goto out;
    }
    memcpy(text, header, HEADER_LEN);
    sodium_bin2hex(text + HEADER_LEN, HEX_LEN + 1, sk, 32);
    text[HEADER_LEN + HEX_LEN] = '\n';
    /* The umask may have dropped the owner's read bit; the key must stay
     * readable for the next start. */
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, FILE_LEN) != GV_OK || fsync(fd) != 0) {
        say_sys(why, why_len, "cannot write key file", path);
        rc = GV_EIO;
    }
out:
    sodium_memzero(text, sizeof text);
    if (close(fd) != 0 && rc == GV_OK) {
        say_sys(why, why_len, "cannot write key file", path);
        rc = GV_EIO;
    }
    if (rc != GV_OK)
        unlink(path);
    return rc;
}

/* Reads at most cap bytes; returns the count or GV_EIO. */
static int read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return GV_EIO;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (int)got;
}

static int load_key(int fd, const char *path, uint8_t sk[32], uint8_t pk[32], char *why,
                    size_t why_len)
{
    struct stat st;
    /* fstat on the open descriptor: the file checked is the file read. */
    if (fstat(fd, &st) != 0) {
        say_sys(why, why_len, "cannot examine key file", path);
        return GV_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        gv_why(why, why_len, "key file %s is not a regular file", path);
        return GV_EKEY;
    }
    if (st.st_uid != geteuid()) {
        gv_why(why, why_len, "key file %s belongs to another user (uid %lu); it must be yours", path,
            (unsigned long)st.st_uid);
        return GV_EKEY;
    }
    if ((st.st_mode & 077) != 0) {
        gv_why(why, why_len, "key file %s is %s by group or others (mode %04lo); run chmod 600 %s",
            path, (st.st_mode & 044) ? "readable" : "accessible",
            (unsigned long)(st.st_mode & 07777), path);
        return GV_EKEY;
    }

    /* One byte more than a valid file, to notice trailing data. */
    char text[FILE_LEN + 1];
    size_t bin_len = 0;
    int rc = GV_OK;
    int n = read_all(fd, text, sizeof text);
    if (n < 0) {
        say_sys(why, why_len, "cannot read key file", path);
        rc = GV_EIO;
        goto out;
    }
    if ((size_t)n != FILE_LEN || memcmp(text, header, HEADER_LEN) != 0 ||
        text[FILE_LEN - 1] != '\n' ||
        sodium_hex2bin(sk, 32, text + HEADER_LEN, HEX_LEN, NULL, &bin_len, NULL) != 0 ||
        bin_len != 32) {
        gv_why(why, why_len,
            "key file %s is malformed (expected the line \"gvoip-server-key 1\" and a line of "
            "64 hex digits); move it away to create a new key",
            path);
        rc = GV_EKEY;
        goto out;
    }
    if (crypto_scalarmult_base(pk, sk) != 0) {
        gv_why(why, why_len, "key file %s holds an unusable key", path);
        rc = GV_EKEY;
    }
out:
    sodium_memzero(text, sizeof text);
    return rc;
}

int gv_keyfile_load_or_create(const char *path, uint8_t sk[32], uint8_t pk[32], int *created,
                              char *why, size_t why_len)
{
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (created != NULL)
        *created = 0;
    if (path == NULL || path[0] == '\0' || sk == NULL || pk == NULL) {
        gv_why(why, why_len, "invalid arguments");
        return GV_EINVAL;
    }

    int rc = GV_EIO;
    /* Two rounds: a concurrent creator may win the O_EXCL race once. */
    for (int attempt = 0; attempt < 2; attempt++) {
        /* O_NONBLOCK so that a FIFO planted at path cannot hang us before
         * fstat rejects it. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd >= 0) {
            rc = load_key(fd, path, sk, pk, why, why_len);
            close(fd);
            break;
        }
        if (errno != ENOENT) {
            rc = errno == EACCES ? GV_EKEY : GV_EIO;
            say_sys(why, why_len, "cannot open key file", path);
            break;
        }
        rc = create_key(path, sk, pk, why, why_len);
        if (rc == GV_OK && created != NULL)
            *created = 1;
        if (rc != GV_EAGAIN)
            break;
    }
    if (rc == GV_EAGAIN) {
        gv_why(why, why_len, "key file %s keeps changing under us", path);
        rc = GV_EIO;
    }
    if (rc != GV_OK) {
        sodium_memzero(sk, 32);
        sodium_memzero(pk, 32);
    }
    return rc;
}

int gv_keyfile_public_key(const char *path, uint8_t pk[32], char *why, size_t why_len)
{
    gv_why(why, why_len, "%s", "");
    if (path == NULL || path[0] == '\0' || pk == NULL) {
        gv_why(why, why_len, "invalid arguments");
        return GV_EINVAL;
    }
    if (sodium_init() < 0) {
        gv_why(why, why_len, "libsodium could not start");
        return GV_EKEY;
    }
    /* As gv_keyfile_load_or_create opens it, but a missing file is an
     * error: a certificate for a key nobody has is of no use. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int rc = errno == ENOENT ? GV_ENOTFOUND : errno == EACCES ? GV_EKEY : GV_EIO;
        say_sys(why, why_len, "cannot open key file", path);
        return rc;
    }
    uint8_t sk[32];
    int rc = load_key(fd, path, sk, pk, why, why_len);
    close(fd);
    sodium_memzero(sk, sizeof sk);
    if (rc != GV_OK)
        sodium_memzero(pk, 32);
    return rc;
}

static int env_set(const char *v)
{
    return v != NULL && v[0] != '\0';
}

int gv_keyfile_config_dir(char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return GV_EINVAL;
    const char *gvoip_home = getenv("GVOIP_HOME");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (env_set(gvoip_home))
        n = snprintf(buf, len, "%s", gvoip_home);
    else if (env_set(xdg) && xdg[0] == '/') /* XDG: relative paths are invalid */
        n = snprintf(buf, len, "%s/gvoip", xdg);
    else if (env_set(home))
        n = snprintf(buf, len, "%s/.config/gvoip", home);
    else
        return GV_ENOTFOUND;
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return GV_ETOOBIG;
    }
    return GV_OK;
}

/* Shared by the key file and gv_known: "<config dir>/<name>". */
int gv_keyfile_config_path(const char *name, char *buf, size_t len)
{
    if (name == NULL)
        return GV_EINVAL;
    int rc = gv_keyfile_config_dir(buf, len);
    if (rc != GV_OK)
        return rc;
    size_t n = strlen(buf);
    int m = snprintf(buf + n, len - n, "/%s", name);
    if (m < 0 || (size_t)m >= len - n) {
        buf[0] = '\0';
        return GV_ETOOBIG;
    }
    return GV_OK;
}

int gv_keyfile_default_path(char *buf, size_t len)
{
    return gv_keyfile_config_path("server.key", buf, len);
}

void gv_keyfile_fingerprint(const uint8_t pk[32], char out[GV_KEYFILE_FINGERPRINT_LEN])
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, pk, 32);
    memcpy(out, FP_PREFIX, FP_PREFIX_LEN);
    sodium_bin2base64(out + FP_PREFIX_LEN, GV_KEYFILE_FINGERPRINT_LEN - FP_PREFIX_LEN, digest,
                      sizeof digest, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

int gv_keyfile_fingerprint_valid(const char *fp)
{
    if (fp == NULL || strnlen(fp, GV_KEYFILE_FINGERPRINT_LEN) != GV_KEYFILE_FINGERPRINT_LEN - 1)
        return 0;
    if (memcmp(fp, FP_PREFIX, FP_PREFIX_LEN) != 0)
        return 0;
    uint8_t digest[crypto_hash_sha256_BYTES];
    size_t bin_len = 0;
    /* A strict decode also rejects non-zero padding bits, so each digest
     * has exactly one valid spelling. */
    if (sodium_base642bin(digest, sizeof digest, fp + FP_PREFIX_LEN,
                          GV_KEYFILE_FINGERPRINT_LEN - 1 - FP_PREFIX_LEN, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
        return 0;
    return bin_len == sizeof digest;
}

int gv_keyfile_fingerprint_equal(const char *a, const char *b)
{
    const size_t n = GV_KEYFILE_FINGERPRINT_LEN - 1;
    if (a == NULL || b == NULL || strnlen(a, n + 1) != n || strnlen(b, n + 1) != n)
        return 0;
    return sodium_memcmp(a, b, n) == 0;
}
