/* What /proc says about another process of this machine (the server):
 * its CPU time, resident memory and open descriptors; and its lobby size
 * as its --json events tell it. Linux only, like the rest of the tool. */
#ifndef LOAD_PROC_H
#define LOAD_PROC_H

#include <stddef.h>

/* utime + stime in seconds from /proc/PID/stat; -1 when unreadable. */
double load_proc_cpu_s(int pid);

/* VmRSS from /proc/PID/status, in kB; -1 when unreadable. */
long load_proc_rss_kb(int pid);

/* Entries of /proc/PID/fd; -1 when unreadable. */
int load_proc_fds(int pid);

/* Follows a server's --json output as it grows. */
typedef struct load_events {
    int fd; /* -1: nothing to follow */
    int players; /* player_connected minus player_disconnected so far */
    size_t len; /* of the line being read */
    int overlong; /* the line being read outgrew line: skipped */
    char line[4096];
} load_events;

/* path NULL: a reader that reads nothing. 0, or -1 when path cannot be
 * opened. */
int load_events_open(load_events *e, const char *path);

void load_events_close(load_events *e);

/* Reads what was appended since and returns the server's player count,
 * or -1 without a file. */
int load_events_players(load_events *e);

/* The server as one sample sees it; -1 for what cannot be read (pid 0,
 * no events file). */
typedef struct load_server_sample {
    long rss_kb;
    int fds, players;
    double cpu_s;
} load_server_sample;

void load_server_sample_take(int pid, load_events *e, load_server_sample *out);

#endif
