/* gvoip-load's command line. */
#ifndef LOAD_OPTS_H
#define LOAD_OPTS_H

#include <stdint.h>

typedef enum load_storm_mode {
    LOAD_STORM_ESTABLISHED = 0, /* finish ENet's handshake, never send HANDSHAKE_INIT */
    LOAD_STORM_CONNECT = 1,     /* send CONNECT and never answer */
} load_storm_mode;

/* Players of one run: every lobby a server may hold (GV_MAX_LOBBIES_LIMIT)
 * can have one. */
#define LOAD_PLAYERS_MAX 4000

typedef struct load_opts {
    char host[256];
    uint16_t port;
    int players, speakers;
    int lobbies; /* player i (and speaker i) is in lobby i % lobbies; 1: the default lobby */
    double duration_s;
    uint64_t seed;
    int frame_ms, payload_bytes;
    int continuous;
    double talk_on_ms, talk_off_ms; /* means of the exponential spurts and pauses */
    double flood_factor;            /* 0: no flooder */
    int storm;                      /* connection attempts' source addresses; 0: none */
    double storm_rate;              /* attempts a second over all of them */
    load_storm_mode storm_mode;
    int malformed, impersonate;
    int loss_reports;
    int server_pid; /* 0: do not measure the server's CPU */
    double join_timeout_s;
    int source_addresses;     /* every join from a loopback address of its own */
    long churn;               /* cycles of one player leaving and a newcomer joining; 0: none */
    long sample_every;        /* churn cycles between samples of the server */
    double warmup_pct;        /* the first cycles, in percent, that the flatness verdict leaves out */
    double report_every_s;    /* 0: no reports while running */
    const char *server_events; /* the server's --json output, for its lobby size; NULL: none */
    const char *lobby;         /* the lobby every player joins; NULL: the default lobby */
} load_opts;

/* Fills defaults, then parses argv. Returns 0, 1 after printing help, or
 * 2 after printing a usage error to stderr. */
int load_opts_parse(load_opts *o, int argc, char **argv);

#endif
