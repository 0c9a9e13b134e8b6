/* gvoip-devrec: plays a sound file into a PulseAudio sink (a "mouth") and
 * records several sources into one multichannel WAV whose channels share
 * one timeline, so that the delay between two channels is the delay
 * between the two points of the sound path they were recorded at. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "devrec_origin.h"
#include "devrec_session.h"
#include "gvoip/error.h"

#define EXIT_USAGE 2
#define DEFAULT_LEAD_MS 500
#define MAX_SECONDS 3600
#define MAX_MS 60000

typedef struct options {
    const char *play;
    const char *sink;
    char *record; /* the --record argument, cut into sources in place */
    const char *sources[DEVREC_MAX_SOURCES];
    size_t n_sources;
    const char *out;
    double seconds;
    double lead_ms;
    double stagger_ms;
} options;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: gvoip-devrec --record SOURCE[,SOURCE...] --out FILE.wav --seconds N\n"
            "                    [--play FILE --sink NAME] [--lead-ms N] [--stagger-ms N]\n"
            "  Records each SOURCE of the PulseAudio server (PULSE_SERVER, else the\n"
            "  default) as one channel of FILE.wav (48 kHz float), all on one timeline:\n"
            "  sample i of every channel is the same instant. With --play, FILE (any\n"
            "  format libsndfile reads) is played into sink NAME --lead-ms after every\n"
            "  recording runs (default %d), zeros before it: the stream joins the sink\n"
            "  at once, so the sink settles before the sound. --stagger-ms starts each\n"
            "  recording that long after the previous one (a check of the alignment).\n"
            "  Prints one line per channel and a summary line.\n"
            "  Exit status: 0 written, 1 the server, a device or a file failed, 2 usage.\n",
            DEFAULT_LEAD_MS);
}

/* Parses a number in [lo, hi] for option name; -1 after printing why. */
static int number(const char *name, const char *text, double lo, double hi, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(*v) || *v < lo || *v > hi) {
        fprintf(stderr, "gvoip-devrec: %s must be a number from %g to %g, not \"%s\"\n", name, lo,
                hi, text);
        return -1;
    }
    return 0;
}

/* Cuts o->record at commas into o->sources; -1 after printing why. */
static int split_sources(options *o)
{
    char *p = o->record;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p) {
            fprintf(stderr, "gvoip-devrec: --record has an empty source name\n");
            return -1;
        }
        if (o->n_sources == DEVREC_MAX_SOURCES) {
            fprintf(stderr, "gvoip-devrec: --record takes at most %d sources\n",
                    DEVREC_MAX_SOURCES);
            return -1;
        }
        o->sources[o->n_sources++] = p;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Returns 0, or -1 after printing what is wrong. */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.lead_ms = DEFAULT_LEAD_MS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = strcmp(a, "--play") == 0 || strcmp(a, "--sink") == 0 ||
                          strcmp(a, "--record") == 0 || strcmp(a, "--out") == 0 ||
                          strcmp(a, "--seconds") == 0 || strcmp(a, "--lead-ms") == 0 ||
                          strcmp(a, "--stagger-ms") == 0;
        if (!takes_value) {
            fprintf(stderr, "gvoip-devrec: unknown argument %s\n", a);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "gvoip-devrec: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--play") == 0) {
            o->play = v;
        } else if (strcmp(a, "--sink") == 0) {
            o->sink = v;
        } else if (strcmp(a, "--record") == 0) {
            o->record = argv[i];
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--seconds") == 0) {
            if (number(a, v, 0.1, MAX_SECONDS, &o->seconds) < 0)
                return -1;
        } else if (strcmp(a, "--lead-ms") == 0) {
            if (number(a, v, 0, MAX_MS, &o->lead_ms) < 0)
                return -1;
        } else if (number(a, v, 0, MAX_MS, &o->stagger_ms) < 0) {
            return -1;
        }
    }
    if (!o->record || !o->out || o->seconds <= 0) {
        fprintf(stderr, "gvoip-devrec: --record, --out and --seconds are required\n");
        return -1;
    }
    if (!o->play != !o->sink) {
        fprintf(stderr, "gvoip-devrec: --play and --sink go together\n");
        return -1;
    }
    return split_sources(o);
}

/* The sound to play, interleaved float. Returns 0 or -1 after printing why. */
static int read_sound(const char *path, float **samples, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    if (!sf) {
        fprintf(stderr, "gvoip-devrec: cannot read %s: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    int rc = -1;
    if (info->frames <= 0 || info->channels < 1 || info->channels > 32) {
        fprintf(stderr, "gvoip-devrec: %s holds no sound (or more than 32 channels)\n", path);
        goto out;
    }
    *samples = malloc((size_t)info->frames * (size_t)info->channels * sizeof **samples);
    if (!*samples) {
        fprintf(stderr, "gvoip-devrec: out of memory for %s\n", path);
        goto out;
    }
    info->frames = sf_readf_float(sf, *samples, info->frames);
    if (info->frames <= 0) {
        fprintf(stderr, "gvoip-devrec: cannot read %s: %s\n", path, sf_strerror(sf));
        goto out;
    }
    rc = 0;
out:
    sf_close(sf);
    return rc;
}

/* Writes frames [cut[k], cut[k] + n) of every track as channel k. */
static int write_out(const char *path, const devrec_track *tracks, size_t k, const size_t *cut,
                     size_t n)
{
    SF_INFO info = {.samplerate = DEVREC_RATE, .channels = (int)k,
                    .format = SF_FORMAT_WAVEX | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "gvoip-devrec: cannot write %s: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    enum { BLOCK = 1024 };
    float buf[BLOCK * DEVREC_MAX_SOURCES];
    int rc = 0;
    for (size_t done = 0; done < n && rc == 0;) {
        size_t m = n - done < BLOCK ? n - done : BLOCK;
        for (size_t i = 0; i < m; i++)
            for (size_t c = 0; c < k; c++)
                buf[i * k + c] = tracks[c].samples[cut[c] + done + i];
        if (sf_writef_float(sf, buf, (sf_count_t)m) != (sf_count_t)m) {
            fprintf(stderr, "gvoip-devrec: cannot write %s: %s\n", path, sf_strerror(sf));
            rc = -1;
        }
        done += m;
    }
    if (sf_close(sf) != 0 && rc == 0) {
        fprintf(stderr, "gvoip-devrec: cannot write %s\n", path);
        rc = -1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    float *sound = NULL;
    SF_INFO info = {0};
    devrec_track tracks[DEVREC_MAX_SOURCES] = {0};
    devrec_origin played = {0};
    devrec_session_config cfg;
    double origin[DEVREC_MAX_SOURCES], iqr[DEVREC_MAX_SOURCES], block[DEVREC_MAX_SOURCES], start;
    size_t cut[DEVREC_MAX_SOURCES], n;
    char why[512];
    int status = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (parse(argc, argv, &o) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (o.play && read_sound(o.play, &sound, &info) < 0)
        goto out;

    cfg = (devrec_session_config){
        .sink = o.sink,
        .play = sound,
        .play_frames = (size_t)info.frames,
        .play_rate = info.samplerate,
        .play_channels = info.channels,
        .sources = o.sources,
        .n_sources = o.n_sources,
        .seconds = o.seconds,
        .lead_ms = o.lead_ms,
        .stagger_ms = o.stagger_ms,
    };
    if (devrec_session_run(&cfg, tracks, &played, why, sizeof why) < 0) {
        fprintf(stderr, "gvoip-devrec: %s\n", why);
        goto out;
    }
    for (size_t k = 0; k < o.n_sources; k++) {
        if (devrec_origin_median(&tracks[k].origin, &origin[k], &iqr[k]) < 0) {
            fprintf(stderr, "gvoip-devrec: the server sent no timing for %s: cannot place it\n",
                    o.sources[k]);
            goto out;
        }
        /* The mouth as a microphone: a block sounded before the monitor
         * handed it over, not after. */
        block[k] = -1.0;
        if (devrec_origin_median(&tracks[k].block, &block[k], NULL) == 0)
            origin[k] -= block[k];
    }
    devrec_origin_cuts(origin, o.n_sources, DEVREC_RATE, cut, &start);
    n = (size_t)llround(o.seconds * DEVREC_RATE);
    for (size_t k = 0; k < o.n_sources; k++) {
        size_t left = tracks[k].frames > cut[k] ? tracks[k].frames - cut[k] : 0;
        if (left < n)
            n = left;
    }
    if (n == 0) {
        fprintf(stderr, "gvoip-devrec: the recordings do not overlap in time\n");
        goto out;
    }
    if (write_out(o.out, tracks, o.n_sources, cut, n) < 0)
        goto out;
    for (size_t k = 0; k < o.n_sources; k++) {
        printf("channel=%zu source=%s cut_ms=%.2f estimates=%zu origin_iqr_ms=%.3f", k + 1, o.sources[k],
               cut[k] * 1000.0 / DEVREC_RATE, tracks[k].origin.n, iqr[k] / 1000.0);
        if (block[k] >= 0.0)
            printf(" mouth_block_ms=%.2f", block[k] / 1000.0);
        printf("\n");
    }
    printf("out=%s rate=%d channels=%zu seconds=%.3f start_unix_ms=%.2f", o.out, DEVREC_RATE,
           o.n_sources, (double)n / DEVREC_RATE, start / 1000.0);
    if (o.play) {
        double at;
        if (devrec_origin_median(&played, &at, NULL) == 0) {
            /* Spoken when the mouth channel has it. */
            for (size_t k = 0; k < o.n_sources; k++) {
                if (block[k] >= 0.0) {
                    at -= block[k];
                    break;
                }
            }
            printf(" play_at_ms=%.2f", (at - start) / 1000.0);
        } else {
            printf(" play_at_ms=n/a");
        }
    }
    printf("\n");
    status = 0;
out:
    for (size_t k = 0; k < o.n_sources; k++)
        devrec_track_clear(&tracks[k]);
    devrec_origin_clear(&played);
    free(sound);
    return status;
}
