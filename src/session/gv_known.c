#include "session/gv_known.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gvoip/error.h"
#include "session/gv_keyfile.h"

/* Printable ASCII without blanks, so that a hostport can neither split a
 * line nor smuggle in a second entry. */
static int hostport_valid(const char *hp)
{
    if (hp == NULL)
        return 0;
    size_t n = strnlen(hp, GV_KNOWN_MAX_HOSTPORT + 1);
    if (n == 0 || n > GV_KNOWN_MAX_HOSTPORT || hp[0] == '#' || strchr(hp, ':') == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)hp[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Splits a line into its two fields in place; 0 if it is not an entry. */
static int parse_line(char *line, char **host, char **fp)
{
    char *p = line;
    while (is_blank(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    *host = p;
    while (*p != '\0' && !is_blank(*p))
        p++;
    if (*p == '\0')
        return 0;
    *p++ = '\0';
    while (is_blank(*p))
        p++;
    *fp = p;
    while (*p != '\0' && !is_blank(*p))
        p++;
    char *end = p;
    while (is_blank(*p))
        p++;
    if (*p != '\0')
        return 0;
    *end = '\0';
    return gv_keyfile_fingerprint_valid(*fp);
}

int gv_known_check(const char *path, const char *hostport, const char *fingerprint,
                   char *stored_out, size_t stored_len)
{
    if (path == NULL || !hostport_valid(hostport) || !gv_keyfile_fingerprint_valid(fingerprint))
        return GV_EINVAL;
    if (stored_out != NULL && stored_len < GV_KEYFILE_FINGERPRINT_LEN)
        return GV_EINVAL;

    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? 1 : GV_EIO;
    FILE *f = fdopen(fd, "r");
    if (f == NULL) {
        close(fd);
        return GV_EIO;
    }

    char *line = NULL;
    size_t line_cap = 0;
    char stored[GV_KEYFILE_FINGERPRINT_LEN] = "";
    int rc = 1;
    while (getline(&line, &line_cap, f) >= 0) {
        char *host, *fp;
        if (!parse_line(line, &host, &fp) || strcmp(host, hostport) != 0)
            continue;
        if (gv_keyfile_fingerprint_equal(fp, fingerprint)) {
            rc = 0;
            goto out;
        }
        if (rc == 1) {
            memcpy(stored, fp, GV_KEYFILE_FINGERPRINT_LEN);
            rc = GV_EKEY;
        }
    }
    if (ferror(f))
        rc = GV_EIO;
    else if (rc == GV_EKEY && stored_out != NULL)
        memcpy(stored_out, stored, GV_KEYFILE_FINGERPRINT_LEN);
out:
    free(line);
    fclose(f);
    return rc;
}

int gv_known_add(const char *path, const char *hostport, const char *fingerprint)
{
    if (path == NULL || path[0] == '\0' || !hostport_valid(hostport) ||
        !gv_keyfile_fingerprint_valid(fingerprint))
        return GV_EINVAL;
    int rc = gv_keyfile_make_parent_dir(path);
    if (rc != GV_OK)
        return rc;
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return GV_EIO;

    /* A hand-edited file may lack its final newline; the entry must still
     * start a line of its own. */
    char buf[1 + GV_KNOWN_MAX_HOSTPORT + 1 + GV_KEYFILE_FINGERPRINT_LEN + 1];
    size_t off = 0;
    struct stat st;
    char last = '\n';
    if (fstat(fd, &st) != 0 || (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)) {
        rc = GV_EIO;
        goto out;
    }
    if (last != '\n')
        buf[off++] = '\n';
    int n = snprintf(buf + off, sizeof buf - off, "%s %s\n", hostport, fingerprint);
    if (n < 0 || (size_t)n >= sizeof buf - off) {
        rc = GV_EINVAL;
        goto out;
    }
    off += (size_t)n;
    /* One write: O_APPEND keeps concurrent entries from interleaving. */
    if (write(fd, buf, off) != (ssize_t)off)
        rc = GV_EIO;
out:
    if (close(fd) != 0 && rc == GV_OK)
        rc = GV_EIO;
    return rc;
}

int gv_known_default_path(char *buf, size_t len)
{
    return gv_keyfile_config_path("known_servers", buf, len);
}
