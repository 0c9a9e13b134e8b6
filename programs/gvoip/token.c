#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "output.h"

/* More than a key's text with a newline and some white space around it:
 * a longer file is not a key. */
#define KEY_FILE_MAX 256
#define SIGNING_KEY "a token signing key (gvoip token-key writes one)"

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A new file of exactly this mode (the umask may have taken bits from
 * it) holding text and a newline; never one that exists already. */
int token_write_new(const char *path, unsigned mode, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            output_error(0, "%s exists; gvoip never writes over a key (move it away first)", path);
        else
            output_error(0, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (fchmod(fd, mode) != 0 || write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 ||
        fsync(fd) != 0) {
        output_error(0, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (close(fd) != 0 && rc == 0) {
        output_error(0, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(path);
    return rc;
}

int token_write_pair(const char *secret_path, const char *public_path, const char *secret, const char *public_key)
{
    /* The public key's file first: when it exists, nothing is left
     * behind, and the secret one is never there without it. */
    if (token_write_new(public_path, 0644, public_key) != 0)
        return -1;
    if (token_write_new(secret_path, 0600, secret) != 0) {
        unlink(public_path);
        return -1;
    }
    return 0;
}

int token_key_command(const gvoip_options *opt)
{
    char secret[GV_TOKEN_KEY_BYTES], public_key[GV_TOKEN_KEY_BYTES];
    char pub_path[4096];
    int code = EXIT_RUNTIME;
    if (snprintf(pub_path, sizeof pub_path, "%s.pub", opt->out_file) >= (int)sizeof pub_path) {
        output_error(0, "the path %s is too long", opt->out_file);
        return EXIT_USAGE;
    }
    if (gv_token_keypair(secret, sizeof secret, public_key, sizeof public_key) != 0) {
        output_error(0, "cannot make a key pair");
        goto out;
    }
    if (token_write_pair(opt->out_file, pub_path, secret, public_key) != 0)
        goto out;
    if (opt->json)
        printf("{\"public_key\":\"%s\"}\n", public_key);
    else
        printf("%s\n", public_key);
    code = fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
out:
    sodium_memzero(secret, sizeof secret);
    return code;
}

int token_read_secret(const char *path, char *text, size_t cap, const char *what)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        output_error(0, "cannot read key file %s: %s", path, strerror(errno));
        return EXIT_RUNTIME;
    }
    struct stat st;
    int code = EXIT_OK;
    ssize_t n = 0;
    /* fstat on the open descriptor: the file checked is the file read. */
    if (fstat(fd, &st) != 0) {
        output_error(0, "cannot examine key file %s: %s", path, strerror(errno));
        code = EXIT_RUNTIME;
    } else if (!S_ISREG(st.st_mode)) {
        output_error(0, "key file %s is not a regular file", path);
        code = EXIT_USAGE;
    } else if (st.st_uid != geteuid()) {
        output_error(0, "key file %s belongs to another user (uid %lu); it must be yours", path,
                     (unsigned long)st.st_uid);
        code = EXIT_USAGE;
    } else if ((st.st_mode & 077) != 0) {
        output_error(0, "key file %s is %s by group or others (mode %04lo); run chmod 600 %s", path,
                     (st.st_mode & 044) ? "readable" : "accessible", (unsigned long)(st.st_mode & 07777), path);
        code = EXIT_USAGE;
    } else {
        size_t got = 0;
        while (got < cap - 1) {
            n = read(fd, text + got, cap - 1 - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        text[got] = '\0';
        if (n < 0) {
            output_error(0, "cannot read key file %s: %s", path, strerror(errno));
            code = EXIT_RUNTIME;
        } else if (got == cap - 1) {
            output_error(0, "key file %s is not %s", path, what);
            code = EXIT_USAGE;
        }
    }
    close(fd);
    return code;
}

int token_command(const gvoip_options *opt)
{
    char secret[KEY_FILE_MAX], token[GV_TOKEN_TEXT_MAX];
    int code = token_read_secret(opt->server.key_file, secret, sizeof secret, SIGNING_KEY);
    if (code != EXIT_OK)
        goto out;
    gv_token_claims claims = opt->token;
    claims.expires = (uint64_t)time(NULL) + (uint64_t)opt->ttl_s;
    claims.permissions = (opt->listen_only ? GV_TOKEN_LISTEN_ONLY : 0u) | (opt->moderator ? GV_TOKEN_MODERATOR : 0u);
    int rc = gv_token_mint(&claims, secret, token, sizeof token);
    if (rc == GV_EKEY) {
        output_error(0, "key file %s is not %s", opt->server.key_file, SIGNING_KEY);
        code = EXIT_USAGE;
    } else if (rc == GV_EINVAL) {
        /* The options' ranges hold everything else the token says. */
        output_error(0, "bad --lobby '%s': 1..64 bytes of UTF-8, no control or invisible formatting characters, "
                        "not only white space",
                     claims.lobby);
        code = EXIT_USAGE;
    } else if (rc < 0) {
        output_error(0, "cannot make the token: %s", gv_strerror(rc));
        code = EXIT_RUNTIME;
    } else {
        printf("%s\n", token);
        code = fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
    }
out:
    sodium_memzero(secret, sizeof secret);
    return code;
}
