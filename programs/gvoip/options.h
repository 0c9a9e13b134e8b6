/* The command line of the gvoip program. */
#ifndef GVOIP_OPTIONS_H
#define GVOIP_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"

enum gvoip_mode {
    MODE_NONE,
    MODE_SERVER,
    MODE_HOST,
    MODE_JOIN,
    MODE_DEVICES,
    MODE_TOKEN_KEY,
    MODE_TOKEN,
    MODE_FLEET_KEY,
    MODE_FLEET_SIGN
};

enum gvoip_exit {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,
    EXIT_USAGE = 2,
    EXIT_JOIN = 3, /* refused, failed, timed out, server key not trusted */
    EXIT_LOST = 4, /* lost the connection to the server */
};

enum gvoip_facing { FACING_NONE, FACING_DEGREES, FACING_VECTOR };

typedef struct gvoip_options {
    enum gvoip_mode mode; /* first: offset 0 is never an option's destination */
    /* The library's own configurations, seeded by their _default()
     * functions: what no option changes is the library's choice. The
     * program adds what the command line cannot say (the password, the
     * host's own server). */
    gv_server_config server;
    gv_client_config client; /* join: server_host is the address */
    int json;
    int threads;     /* server: workers; 0 = one per core */
    double duration; /* seconds; 0 = until interrupted */
    const char *password_file;
    const char *token_file;     /* host, join: the access token (else GVOIP_TOKEN) */
    const char *token_keys_file; /* server, host: the backends' public keys */
    /* token-key, fleet-key: where the secret key goes (and FILE.pub the
     * public one); fleet-sign: where the certificate goes. token,
     * fleet-sign: the secret key is server.key_file (--key). */
    const char *out_file;
    const char *fleet_cert_file; /* server: --fleet-cert, this node's certificate */
    const char *node_key_file;   /* fleet-sign: --server-key, the node's server key file */
    int fleet_days;              /* fleet-sign: the certificate's lifetime */
    long long not_before;        /* fleet-sign: Unix seconds; -1: an hour ago */
    gv_token_claims token; /* token: lobby and name are the client's, by the same options */
    int ttl_s;             /* token: seconds until it expires */
    int listen_only;       /* token: its permissions */
    int moderator;
    /* devices and files */
    const char *input_device;
    const char *output_device;
    const char *input_file;
    const char *record_file;
    const char *stats_file;
    const char *metrics_host; /* server: --metrics' address (IPv4, or a name); NULL: no metrics */
    uint16_t metrics_port;    /* its TCP port; 0 picks a free one */
    const char *redis_url;      /* server: the fleet's Redis; NULL: not a node of a fleet */
    const char *advertise_host; /* server: where players reach this node */
    uint16_t advertise_port;
    double drain_s;             /* server in a fleet: at a signal, time for its players to move */
    int no_capture;
    int no_playback;
    int audio_buffer_ms; /* the device buffer asked for */
    int audio_buffer_chosen; /* --audio-buffer-ms was given: the buffer stays as asked */
    int audio_backend;   /* enum audio_backend */
    int low_latency;
    int clock_ppm;       /* tests: the file devices' clock error */
    /* positional voice: this player */
    int has_position;
    float position[3];
    enum gvoip_facing facing_kind;
    float facing_deg;
    float facing[3];
    int has_move; /* tests only: --move-after SECONDS X,Y[,Z] */
    double move_after;
    float move_to[3];
    /* controls */
    int mute;
    int no_tui;
    int verbose; /* the audio libraries' own messages on stderr */
    int watch;   /* devices: report devices added and removed until a signal */
} gvoip_options;

/* Parses argv; on a usage error prints why to stderr and returns
 * EXIT_USAGE; returns -1 after printing help (exit 0). */
int gvoip_parse_options(int argc, char **argv, gvoip_options *opt);

#endif
