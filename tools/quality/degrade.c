/* gvoip-degrade: passes a recording through gvoip's Opus wrapper with
 * seeded packet loss, the way a receiver would hear it, to give
 * gvoip-quality something to score. A test and benchmark helper. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_codec.h"
#include "gvoip/error.h"
#include "wav.h"

#define EXIT_USAGE 2
#define FRAME_MS 20
#define FRAME_SAMPLES (GV_CODEC_RATE / 1000 * FRAME_MS)
#define MAX_DELAY_MS 10000

typedef struct options {
    const char *in;
    const char *out;
    int bitrate;
    double loss_pct;
    double burst;
    int fec;
    int redundancy; /* each packet also carries the previous one */
    int expected_loss; /* -1: follow --loss when FEC is on */
    uint64_t seed;
    int delay_ms;
    int rate; /* 0: the input's */
    int no_codec;
} options;

typedef struct stats {
    size_t frames;
    size_t lost;
    size_t recovered; /* lost frames rebuilt from the next packet's FEC */
    size_t bytes;
} stats;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: gvoip-degrade IN.wav OUT.wav [--bitrate BPS] [--loss PCT] [--burst N]\n"
            "                     [--fec|--no-fec] [--expected-loss PCT] [--seed N]\n"
            "                     [--delay-ms D] [--rate HZ] [--no-codec] [--redundancy]\n"
            "  Encodes IN in 20 ms Opus frames with gvoip's codec wrapper (default\n"
            "  24000 bit/s), drops PCT%% of the packets (seeded; --burst N makes losses\n"
            "  come in bursts of N packets on average, Gilbert model), decodes with\n"
            "  concealment, or with in-band FEC from the next packet under --fec (which\n"
            "  also makes the encoder plan for PCT%% loss, or --expected-loss), prepends\n"
            "  D ms of silence and writes 16-bit WAV at HZ (default: IN's rate).\n"
            "  --no-codec skips Opus and loss: only resampling and delay.\n"
            "  --redundancy: each packet also carries a copy of the previous one (with a\n"
            "  1-byte length), which rebuilds it exactly when it was lost (RFC 2198\n"
            "  style); the bit rate counts both.\n"
            "  Prints frames=F lost=L recovered=R kbps=K (not with --no-codec).\n");
}

/* splitmix64: a seed gives the same loss pattern on every machine. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Loss of one packet after another. Without bursts each packet is lost
 * independently; with a mean burst of b packets it is a two-state Markov
 * chain that leaves the lossy state with probability 1/b and enters it at
 * the rate that makes the long-run loss p. */
typedef struct loss_model {
    uint64_t rng;
    double p;
    double burst;
    int bad;
} loss_model;

static void loss_init(loss_model *m, double pct, double burst, uint64_t seed)
{
    m->rng = seed;
    m->p = pct / 100.0;
    m->burst = burst;
    m->bad = next_unit(&m->rng) < m->p;
}

static int loss_next(loss_model *m)
{
    int lost;

    if (m->burst <= 1.0)
        return next_unit(&m->rng) < m->p;
    lost = m->bad;
    if (m->bad)
        m->bad = next_unit(&m->rng) >= 1.0 / m->burst;
    else
        m->bad = m->p >= 1.0 || next_unit(&m->rng) < m->p / (m->burst * (1.0 - m->p));
    return lost;
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *v)
{
    char *end;

    errno = 0;
    *v = strtod(s, &end);
    if (errno || *end || end == s || !(*v >= lo && *v <= hi)) {
        fprintf(stderr, "gvoip-degrade: %s must be %g..%g\n", opt, lo, hi);
        return -1;
    }
    return 0;
}

static int parse(int argc, char **argv, options *o)
{
    int positional = 0;

    *o = (options){.bitrate = 24000, .expected_loss = -1, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        int takes_value = strcmp(a, "--bitrate") == 0 || strcmp(a, "--loss") == 0 ||
                          strcmp(a, "--burst") == 0 || strcmp(a, "--expected-loss") == 0 ||
                          strcmp(a, "--seed") == 0 || strcmp(a, "--delay-ms") == 0 ||
                          strcmp(a, "--rate") == 0;
        if (takes_value && i + 1 >= argc) {
            fprintf(stderr, "gvoip-degrade: %s needs a value\n", a);
            return -1;
        }
        if (strcmp(a, "--fec") == 0) {
            o->fec = 1;
        } else if (strcmp(a, "--no-fec") == 0) {
            o->fec = 0;
        } else if (strcmp(a, "--redundancy") == 0) {
            o->redundancy = 1;
        } else if (strcmp(a, "--no-codec") == 0) {
            o->no_codec = 1;
        } else if (strcmp(a, "--bitrate") == 0) {
            if (parse_num(a, argv[++i], GV_CODEC_MIN_BITRATE, GV_CODEC_MAX_BITRATE, &v) < 0)
                return -1;
            o->bitrate = (int)v;
        } else if (strcmp(a, "--loss") == 0) {
            if (parse_num(a, argv[++i], 0, 100, &o->loss_pct) < 0)
                return -1;
        } else if (strcmp(a, "--burst") == 0) {
            if (parse_num(a, argv[++i], 1, 1000, &o->burst) < 0)
                return -1;
        } else if (strcmp(a, "--expected-loss") == 0) {
            if (parse_num(a, argv[++i], 0, 100, &v) < 0)
                return -1;
            o->expected_loss = (int)v;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_num(a, argv[++i], 0, 9007199254740992.0, &v) < 0)
                return -1;
            o->seed = (uint64_t)v;
        } else if (strcmp(a, "--delay-ms") == 0) {
            if (parse_num(a, argv[++i], 0, MAX_DELAY_MS, &v) < 0)
                return -1;
            o->delay_ms = (int)v;
        } else if (strcmp(a, "--rate") == 0) {
            if (parse_num(a, argv[++i], GV_WAV_MIN_RATE, GV_WAV_MAX_RATE, &v) < 0)
                return -1;
            o->rate = (int)v;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "gvoip-degrade: unknown option %s\n", a);
            return -1;
        } else if (positional < 2) {
            *(positional++ == 0 ? &o->in : &o->out) = a;
        } else {
            fprintf(stderr, "gvoip-degrade: unexpected argument %s\n", a);
            return -1;
        }
    }
    if (positional != 2) {
        fprintf(stderr, "gvoip-degrade: need IN and OUT files\n");
        return -1;
    }
    return 0;
}

/* Decodes one frame slot: the packet if it arrived, else its copy in the
 * next packet (--redundancy) or the next packet's FEC when allowed and
 * available, else concealment. */
static int decode_slot(gv_decoder *dec, const uint8_t *pkt, size_t len, int lost,
                       const uint8_t *next, size_t next_len, int next_lost, const options *o,
                       float *pcm, stats *st)
{
    if (!lost)
        return gv_decoder_decode(dec, pkt, len, pcm, FRAME_SAMPLES);
    st->lost++;
    if (o->redundancy && next && !next_lost) {
        /* The next packet's copy is this very packet. */
        st->recovered++;
        return gv_decoder_decode(dec, pkt, len, pcm, FRAME_SAMPLES);
    }
    if (o->fec && next && !next_lost) {
        st->recovered++;
        return gv_decoder_decode_fec(dec, next, next_len, pcm, FRAME_SAMPLES);
    }
    return gv_decoder_conceal(dec, pcm, FRAME_SAMPLES);
}

/* Encodes x (n samples at 48 kHz, borrowed) and decodes it back into *y
 * (malloc'd, a whole number of frames). Each packet is decoded once its
 * successor is encoded, so FEC can use it; loss is drawn in packet order
 * whatever --fec says, so one seed gives one loss pattern. */
static int codec_pass(const options *o, const float *x, size_t n, float **y, size_t *y_n,
                      stats *st)
{
    gv_encoder_config cfg;
    gv_encoder *enc = NULL;
    gv_decoder *dec = NULL;
    loss_model loss;
    uint8_t pkt[2][GV_CODEC_MAX_PACKET];
    int len[2] = {0, 0}, lost[2] = {0, 0};
    float frame[FRAME_SAMPLES];
    float *out = NULL;
    size_t frames = (n + FRAME_SAMPLES - 1) / FRAME_SAMPLES;
    int rc;

    gv_encoder_config_default(&cfg);
    cfg.bitrate = o->bitrate;
    cfg.frame_ms = FRAME_MS;
    cfg.fec = o->fec;
    cfg.expected_loss_pct = o->expected_loss >= 0 ? o->expected_loss
                            : o->fec              ? (int)ceil(o->loss_pct)
                                                  : 0;
    rc = gv_encoder_create(&cfg, &enc);
    if (rc < 0)
        goto out;
    rc = gv_decoder_create(&dec);
    if (rc < 0)
        goto out;
    out = malloc(frames * FRAME_SAMPLES * sizeof(float));
    if (!out) {
        rc = GV_ENOMEM;
        goto out;
    }
    loss_init(&loss, o->loss_pct, o->burst, o->seed);
    for (size_t f = 0; f <= frames; f++) {
        int cur = (int)(f % 2), prev = 1 - cur;
        if (f < frames) {
            size_t off = f * FRAME_SAMPLES;
            size_t take = n - off < FRAME_SAMPLES ? n - off : FRAME_SAMPLES;
            memset(frame, 0, sizeof(frame));
            memcpy(frame, x + off, take * sizeof(float));
            len[cur] = gv_encoder_encode(enc, frame, pkt[cur], sizeof(pkt[cur]));
            if (len[cur] < 0) {
                rc = len[cur];
                goto out;
            }
            lost[cur] = loss_next(&loss);
            st->bytes += (size_t)len[cur];
            if (o->redundancy && f > 0)
                st->bytes += 1 + (size_t)len[prev];
        }
        if (f > 0) {
            int has_next = f < frames;
            rc = decode_slot(dec, pkt[prev], (size_t)len[prev], lost[prev],
                             has_next ? pkt[cur] : NULL, has_next ? (size_t)len[cur] : 0,
                             lost[cur], o, out + (f - 1) * FRAME_SAMPLES, st);
            if (rc < 0)
                goto out;
        }
    }
    st->frames = frames;
    *y = out;
    *y_n = frames * FRAME_SAMPLES;
    out = NULL;
    rc = GV_OK;
out:
    gv_encoder_destroy(enc);
    gv_decoder_destroy(dec);
    free(out);
    return rc;
}

/* Reads, degrades and writes; returns 0 or a negative code after saying
 * which step failed. */
static int run(const options *o, stats *st)
{
    float *in = NULL, *wide = NULL, *coded = NULL, *back = NULL, *padded = NULL;
    const float *result;
    size_t in_n = 0, wide_n = 0, coded_n = 0, back_n = 0, result_n, pad;
    int in_rate = 0, out_rate;
    int rc;

    rc = gv_wav_read(o->in, 0, &in, &in_n, &in_rate);
    if (rc < 0) {
        fprintf(stderr, "gvoip-degrade: cannot read %s: %s\n", o->in, gv_strerror(rc));
        goto out;
    }
    out_rate = o->rate ? o->rate : in_rate;
    if (o->no_codec) {
        rc = gv_wav_resample(in, in_n, in_rate, out_rate, &back, &back_n);
    } else {
        rc = gv_wav_resample(in, in_n, in_rate, GV_CODEC_RATE, &wide, &wide_n);
        if (rc == 0)
            rc = codec_pass(o, wide, wide_n, &coded, &coded_n, st);
        if (rc == 0)
            rc = gv_wav_resample(coded, coded_n, GV_CODEC_RATE, out_rate, &back, &back_n);
    }
    if (rc < 0) {
        fprintf(stderr, "gvoip-degrade: processing failed: %s\n", gv_strerror(rc));
        goto out;
    }
    pad = (size_t)(((int64_t)o->delay_ms * out_rate + 500) / 1000);
    result = back;
    result_n = back_n;
    if (pad) {
        padded = calloc(pad + back_n, sizeof(float));
        if (!padded) {
            rc = GV_ENOMEM;
            fprintf(stderr, "gvoip-degrade: %s\n", gv_strerror(rc));
            goto out;
        }
        memcpy(padded + pad, back, back_n * sizeof(float));
        result = padded;
        result_n = pad + back_n;
    }
    rc = gv_wav_write(o->out, result, result_n, out_rate);
    if (rc < 0)
        fprintf(stderr, "gvoip-degrade: cannot write %s: %s\n", o->out, gv_strerror(rc));
out:
    free(in);
    free(wide);
    free(coded);
    free(back);
    free(padded);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    stats st = {0};
    double seconds;

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
    if (run(&o, &st) < 0)
        return 1;
    if (o.no_codec)
        return 0;
    seconds = (double)st.frames * FRAME_MS / 1000.0;
    printf("frames=%zu lost=%zu recovered=%zu kbps=%.1f\n", st.frames, st.lost, st.recovered,
           seconds > 0.0 ? (double)st.bytes * 8.0 / seconds / 1000.0 : 0.0);
    return 0;
}
