/* The command line of the gvoip program. */
#ifndef GVOIP_OPTIONS_H
#define GVOIP_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum gvoip_mode { MODE_NONE, MODE_SERVER, MODE_HOST, MODE_JOIN, MODE_DEVICES };

enum gvoip_exit {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,
    EXIT_USAGE = 2,
    EXIT_JOIN = 3, /* refused, failed, timed out, server key not trusted */
    EXIT_LOST = 4, /* lost the connection to the server */
};

typedef struct gvoip_options {
    enum gvoip_mode mode;
    const char *address; /* join: host part */
    uint16_t port;
    int max_players;
    int relay_hold_us, relay_hold_rate; /* -1: the library's default */
    const char *name;
    int json;
    double duration; /* seconds; 0 = until interrupted */
    const char *key_file;
    const char *password_file;
    const char *server_key;
    const char *known_servers;
    int protocol_version; /* hidden, tests only */
    int allow_raw;        /* benchmarks only */
    /* voice */
    const char *codec;
    int bitrate;
    int frame_ms;
    int fec;
    int redundancy;
    int echo_test;
    const char *input_device;
    const char *output_device;
    const char *input_file;
    const char *record_file;
    const char *stats_file;
    int no_capture;
    int no_playback;
    int audio_buffer_ms; /* the device buffer asked for */
    int audio_backend;   /* enum audio_backend */
    int low_latency;     /* 10 ms frames and small device buffers */
    int aec, denoise, agc; /* the microphone's cleaning stages, each on unless turned off */
    int clock_ppm;       /* tests: the file devices' clock error */
    /* positional voice: the lobby's settings (server, host) */
    int spatial_mode;      /* gv_spatial_mode_kind */
    int atten_model;       /* -1: the mode's default */
    float max_distance;    /* < 0: the mode's default */
    float unit_size;       /* < 0: default */
    float attenuation;     /* < 0: default */
    float panning_strength; /* < 0: default */
    /* positional voice: this player (host, join) */
    int has_position;
    float position[3];
    int facing_kind; /* 0 none, 1 degrees, 2 vector */
    float facing_deg;
    float facing[3];
    int itd;
    int has_move; /* hidden, tests only: --move-after SECONDS X,Y[,Z] */
    double move_after;
    float move_to[3];
    /* controls */
    int transmit_mode; /* gv_transmit_mode; default continuous */
    int cipher;        /* gv_cipher_choice; default auto */
    int mute;
    int no_tui;
} gvoip_options;

/* Parses argv; on a usage error prints why to stderr and returns
 * EXIT_USAGE; returns -1 after printing help (exit 0). */
int gvoip_parse_options(int argc, char **argv, gvoip_options *opt);

void gvoip_print_usage(FILE *out);

#endif
