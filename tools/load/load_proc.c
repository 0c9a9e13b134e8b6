#include "load_proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double load_proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    /* After the command name: state and ten more fields, then utime, stime. */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

long load_proc_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

int load_proc_fds(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int load_events_open(load_events *e, const char *path)
{
    memset(e, 0, sizeof *e);
    e->fd = path ? open(path, O_RDONLY) : -1;
    return path && e->fd < 0 ? -1 : 0;
}

void load_events_close(load_events *e)
{
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
}

static void take_line(load_events *e)
{
    e->line[e->len] = '\0';
    if (e->overlong)
        return;
    if (strstr(e->line, "\"event\":\"player_connected\""))
        e->players++;
    else if (strstr(e->line, "\"event\":\"player_disconnected\""))
        e->players--;
}

int load_events_players(load_events *e)
{
    if (e->fd < 0)
        return -1;
    char buf[8192];
    ssize_t n;
    /* A line the server is still writing stays in e->line until its end
     * arrives. */
    while ((n = read(e->fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                take_line(e);
                e->len = 0;
                e->overlong = 0;
            } else if (e->len + 1 < sizeof e->line) {
                e->line[e->len++] = buf[i];
            } else {
                e->overlong = 1;
            }
        }
    }
    return e->players;
}

void load_server_sample_take(int pid, load_events *e, load_server_sample *out)
{
    out->rss_kb = pid ? load_proc_rss_kb(pid) : -1;
    out->fds = pid ? load_proc_fds(pid) : -1;
    out->cpu_s = pid ? load_proc_cpu_s(pid) : -1;
    out->players = load_events_players(e);
}
