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

/* A fleet's key is an entry of its own kind, with a third field in front,
 * so that a reader from before fleets skips it as malformed and never
 * takes a fleet key for a server key. */
#define FLEET_MARKER "@fleet"

enum entry_kind { NOT_ENTRY, ENTRY_SERVER, ENTRY_FLEET };

/* Splits a line into its fields in place: the entry's kind, with its host
 * and fingerprint, or NOT_ENTRY. */
static enum entry_kind parse_line(char *line, char **host, char **fp)
{
    char *field[3];
    int n = 0;
    for (char *p = line;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            break;
        if (n == 3)
            return NOT_ENTRY;
        field[n++] = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
    enum entry_kind kind = n == 2 && field[0][0] != '#'                    ? ENTRY_SERVER
                           : n == 3 && strcmp(field[0], FLEET_MARKER) == 0 ? ENTRY_FLEET
                                                                           : NOT_ENTRY;
    if (kind == NOT_ENTRY)
        return NOT_ENTRY;
    *host = field[n - 2];
    *fp = field[n - 1];
    return gv_keyfile_fingerprint_valid(*fp) ? kind : NOT_ENTRY;
}

static int lookup(enum entry_kind kind, const char *path, const char *hostport, const char *fingerprint,
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
        if (parse_line(line, &host, &fp) != kind || strcmp(host, hostport) != 0)
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

int gv_known_check(const char *path, const char *hostport, const char *fingerprint, char *stored_out,
                   size_t stored_len)
{
    return lookup(ENTRY_SERVER, path, hostport, fingerprint, stored_out, stored_len);
}

int gv_known_check_fleet(const char *path, const char *hostport, const char *fingerprint, char *stored_out,
                         size_t stored_len)
{
    return lookup(ENTRY_FLEET, path, hostport, fingerprint, stored_out, stored_len);
}

/* marker: "" for a server's key, FLEET_MARKER " " for a fleet's. */
static int append(const char *path, const char *marker, const char *hostport, const char *fingerprint)
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
    char buf[1 + sizeof FLEET_MARKER + GV_KNOWN_MAX_HOSTPORT + 1 + GV_KEYFILE_FINGERPRINT_LEN + 1];
    size_t off = 0;
    struct stat st;
    char last = '\n';
    if (fstat(fd, &st) != 0 || (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)) {
        rc = GV_EIO;
        goto out;
    }
    if (last != '\n')
        buf[off++] = '\n';
    int n = snprintf(buf + off, sizeof buf - off, "%s%s %s\n", marker, hostport, fingerprint);
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

int gv_known_add(const char *path, const char *hostport, const char *fingerprint)
{
    return append(path, "", hostport, fingerprint);
}

int gv_known_add_fleet(const char *path, const char *hostport, const char *fingerprint)
{
    return append(path, FLEET_MARKER " ", hostport, fingerprint);
}

int gv_known_default_path(char *buf, size_t len)
{
    return gv_keyfile_config_path("known_servers", buf, len);
}
