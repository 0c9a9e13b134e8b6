/* gvoip-quality: scores a degraded recording against its reference with
 * STOI after aligning the two by cross-correlation. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align.h"
#include "gvoip/error.h"
#include "stoi.h"
#include "utter.h"
#include "wav.h"

#define EXIT_USAGE 2
#define DEFAULT_MAX_DELAY_MS 2000
#define MAX_MAX_DELAY_MS 10000
#define PIECE_SEARCH_MS 100 /* how far a piece may sit from the whole file's delay */
/* --utterances: 10 ms frames; a pause of 150 ms or more ends an utterance
 * (gaps between words are shorter, between phrases longer); an utterance
 * under 100 ms is too short to align; each is searched within 100 ms of
 * the whole file's delay (a jitter buffer moves it by tens of ms), and
 * when not found there within 500 ms (by hundreds while it settles); and
 * one whose best match correlates under 0.3 is listed but not counted
 * (lost or concealed beyond recognition: unrelated speech correlates near
 * 0). */
#define UTTER_FRAME_MS 10
#define UTTER_MIN_PAUSE_MS 150
#define UTTER_MIN_LENGTH_MS 100
#define UTTER_NEAR_MS 100
#define UTTER_SEARCH_MS 500
#define UTTER_MIN_MATCH 0.3
/* The quiet around each utterance matched with it. */
#define UTTER_MARGIN_MS 100
/* Only the first minute is correlated: enough to lock onto speech, and it
 * bounds the transform at 2^20 points however long the files are. */
#define ALIGN_WINDOW_SAMPLES ((size_t)60 * GV_STOI_RATE)

typedef struct options {
    const char *ref;
    const char *deg;
    int json;
    long max_delay_ms;
    long piece_ms; /* 0: one alignment for the whole file */
    int utterances;
} options;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: gvoip-quality REF.wav DEGRADED.wav [--json] [--max-delay-ms MS] [--piecewise MS]\n"
            "                     [--utterances]\n"
            "  Aligns DEGRADED to REF (delays up to +-MS, default %d, either sign),\n"
            "  trims both to their overlap and prints\n"
            "    delay_ms=D stoi=S estoi=E\n"
            "  where D > 0 means DEGRADED lags REF, S is STOI (Taal et al. 2011) and E\n"
            "  its extended form ESTOI (Jensen and Taal 2016), both about 0..1.\n"
            "  --piecewise MS: after that, aligns each MS-long piece of REF on its own\n"
            "  (within +-%d ms), for recordings whose delay changes as they go (a jitter\n"
            "  buffer's insertions and cuts), and adds piece_shift_ms=MIN..MAX.\n"
            "  --utterances: also cuts REF at its pauses (%d ms or more) and finds each\n"
            "  utterance in DEGRADED on its own (within +-%d ms of the whole file's\n"
            "  delay, else +-%d ms): adds utterances=N used=M delay_median_ms delay_p95_ms\n"
            "  delay_spread_ms (max - min) over the M found with a correlation of %.1f\n"
            "  or more, utterance_stoi and utterance_estoi (scored with each of them at\n"
            "  its own delay), then one line per utterance.\n"
            "  Exit status: 0 scored, 1 a file could not be read or scored, 2 usage.\n",
            DEFAULT_MAX_DELAY_MS, PIECE_SEARCH_MS, UTTER_MIN_PAUSE_MS, UTTER_NEAR_MS, UTTER_SEARCH_MS,
            UTTER_MIN_MATCH);
}

/* Returns 0, or -1 after printing what is wrong. */
static int parse(int argc, char **argv, options *o)
{
    int positional = 0;

    *o = (options){.max_delay_ms = DEFAULT_MAX_DELAY_MS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--utterances") == 0) {
            o->utterances = 1;
        } else if (strcmp(a, "--max-delay-ms") == 0) {
            char *end;
            if (i + 1 >= argc) {
                fprintf(stderr, "gvoip-quality: --max-delay-ms needs a value\n");
                return -1;
            }
            errno = 0;
            o->max_delay_ms = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || o->max_delay_ms < 0 ||
                o->max_delay_ms > MAX_MAX_DELAY_MS) {
                fprintf(stderr, "gvoip-quality: --max-delay-ms must be 0..%d\n",
                        MAX_MAX_DELAY_MS);
                return -1;
            }
        } else if (strcmp(a, "--piecewise") == 0) {
            char *end;
            if (i + 1 >= argc) {
                fprintf(stderr, "gvoip-quality: --piecewise needs a value\n");
                return -1;
            }
            errno = 0;
            o->piece_ms = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || o->piece_ms < 100 || o->piece_ms > 60000) {
                fprintf(stderr, "gvoip-quality: --piecewise must be 100..60000 (ms)\n");
                return -1;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "gvoip-quality: unknown option %s\n", a);
            return -1;
        } else if (positional == 0) {
            o->ref = a;
            positional++;
        } else if (positional == 1) {
            o->deg = a;
            positional++;
        } else {
            fprintf(stderr, "gvoip-quality: unexpected argument %s\n", a);
            return -1;
        }
    }
    if (positional != 2) {
        fprintf(stderr, "gvoip-quality: need REF and DEGRADED files\n");
        return -1;
    }
    return 0;
}

static int load(const char *path, float **x, size_t *n, int *rate)
{
    int rc = gv_wav_read(path, GV_STOI_RATE, x, n, rate);

    if (rc == GV_EIO && access(path, R_OK) != 0)
        fprintf(stderr, "gvoip-quality: cannot read %s: %s\n", path, strerror(errno));
    else if (rc == GV_EIO)
        fprintf(stderr,
                "gvoip-quality: cannot read %s: not a sound file libsndfile can read, "
                "or empty, or its rate is outside %d..%d Hz\n",
                path, GV_WAV_MIN_RATE, GV_WAV_MAX_RATE);
    else if (rc < 0)
        fprintf(stderr, "gvoip-quality: cannot read %s: %s\n", path, gv_strerror(rc));
    return rc;
}

/* --utterances: REF's utterances, each found in DEG around the whole
 * file's delay, the statistics of their delays, and STOI with each
 * utterance at its own delay (*scored 0 when too little was found). */
static int find_utterances(const float *ref, size_t ref_n, const float *deg, size_t deg_n,
                           double delay, gv_utterance **u, size_t *count, gv_utter_stats *st,
                           gv_stoi_result *score, int *scored)
{
    const size_t ms = GV_STOI_RATE / 1000;
    float *rebuilt = NULL;
    int rc = gv_utter_split(ref, ref_n, UTTER_FRAME_MS * ms, UTTER_MIN_PAUSE_MS * ms,
                            UTTER_MIN_LENGTH_MS * ms, u, count);
    *scored = 0;
    if (rc == GV_OK)
        rc = gv_utter_delays(ref, ref_n, deg, deg_n, delay, UTTER_NEAR_MS * ms, UTTER_SEARCH_MS * ms,
                             UTTER_MARGIN_MS * ms, UTTER_MIN_MATCH, *u, *count);
    if (rc == GV_OK)
        rc = gv_utter_stats_of(*u, *count, UTTER_MIN_MATCH, st);
    if (rc == GV_OK && st->used > 0) {
        rebuilt = malloc(ref_n * sizeof *rebuilt);
        rc = rebuilt ? gv_utter_rebuild(deg, deg_n, *u, *count, UTTER_MIN_MATCH, rebuilt, ref_n)
                     : GV_ENOMEM;
        /* Too little speech found to fill a segment is no score, not an
         * error: the delays still stand. */
        if (rc == GV_OK)
            *scored = gv_stoi_compute(ref, rebuilt, ref_n, score) == GV_OK;
    }
    free(rebuilt);
    if (rc < 0)
        fprintf(stderr, "gvoip-quality: finding the utterances failed: %s\n", gv_strerror(rc));
    return rc;
}

static double samples_ms(double samples)
{
    /* Rounded as printed, so that a hair below zero does not show as -0.00. */
    return round(samples * 100000.0 / GV_STOI_RATE) / 100.0 + 0.0;
}

static void print_utterances_json(const gv_utterance *u, size_t count, const gv_utter_stats *st,
                                  const gv_stoi_result *score, int scored)
{
    printf(",\"utterances\":[");
    for (size_t k = 0; k < count; k++) {
        printf("%s{\"start_ms\":%.1f,\"length_ms\":%.1f,", k ? "," : "",
               samples_ms((double)u[k].start), samples_ms((double)u[k].length));
        if (u[k].found)
            printf("\"delay_ms\":%.2f,\"match\":%.3f}", samples_ms(u[k].delay), u[k].match);
        else
            printf("\"delay_ms\":null,\"match\":null}");
    }
    printf("],\"utterances_used\":%zu", st->used);
    if (st->used)
        printf(",\"delay_median_ms\":%.2f,\"delay_p95_ms\":%.2f,\"delay_spread_ms\":%.2f",
               samples_ms(st->median), samples_ms(st->p95), samples_ms(st->spread));
    else
        printf(",\"delay_median_ms\":null,\"delay_p95_ms\":null,\"delay_spread_ms\":null");
    if (scored)
        printf(",\"utterance_stoi\":%.4f,\"utterance_estoi\":%.4f", score->stoi, score->estoi);
    else
        printf(",\"utterance_stoi\":null,\"utterance_estoi\":null");
}

static void print_utterance_lines(const gv_utterance *u, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        printf("utterance=%zu start_ms=%.1f length_ms=%.1f", k + 1, samples_ms((double)u[k].start),
               samples_ms((double)u[k].length));
        if (u[k].found)
            printf(" delay_ms=%.2f match=%.3f\n", samples_ms(u[k].delay), u[k].match);
        else
            printf(" delay_ms=n/a match=n/a\n");
    }
}

int main(int argc, char **argv)
{
    options o;
    float *ref = NULL, *deg = NULL;
    size_t ref_n = 0, deg_n = 0, n;
    int ref_rate = 0, deg_rate = 0;
    double delay = 0.0, delay_ms;
    long shift;
    const float *r, *d;
    float *pieced = NULL;
    long lo = 0, hi = 0;
    gv_utterance *utt = NULL;
    size_t utt_n = 0;
    gv_utter_stats ust = {0};
    gv_stoi_result res, ures = {0};
    int uscored = 0;
    int rc, status = 1;

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
    if (load(o.ref, &ref, &ref_n, &ref_rate) < 0 || load(o.deg, &deg, &deg_n, &deg_rate) < 0)
        goto out;

    rc = gv_align_delay(ref, ref_n < ALIGN_WINDOW_SAMPLES ? ref_n : ALIGN_WINDOW_SAMPLES, deg,
                        deg_n < ALIGN_WINDOW_SAMPLES ? deg_n : ALIGN_WINDOW_SAMPLES,
                        (size_t)(o.max_delay_ms * GV_STOI_RATE / 1000), &delay);
    if (rc < 0) {
        fprintf(stderr, "gvoip-quality: alignment failed: %s\n", gv_strerror(rc));
        goto out;
    }
    if (o.utterances &&
        find_utterances(ref, ref_n, deg, deg_n, delay, &utt, &utt_n, &ust, &ures, &uscored) < 0)
        goto out;
    shift = lround(delay);
    r = ref;
    d = deg;
    /* A delay as long as a file leaves no overlap: n becomes 0 and the
     * score call reports too little speech. */
    if (shift > 0) {
        size_t cut = (size_t)shift < deg_n ? (size_t)shift : deg_n;
        d += cut;
        deg_n -= cut;
    } else if (shift < 0) {
        size_t cut = (size_t)-shift < ref_n ? (size_t)-shift : ref_n;
        r += cut;
        ref_n -= cut;
    }
    n = ref_n < deg_n ? ref_n : deg_n;
    if (o.piece_ms > 0 && n > 0) {
        pieced = malloc(n * sizeof *pieced);
        if (!pieced) {
            fprintf(stderr, "gvoip-quality: out of memory\n");
            goto out;
        }
        rc = gv_align_piecewise(r, n, d, deg_n, (size_t)(o.piece_ms * GV_STOI_RATE / 1000),
                                (size_t)PIECE_SEARCH_MS * GV_STOI_RATE / 1000, pieced, &lo, &hi);
        if (rc < 0) {
            fprintf(stderr, "gvoip-quality: piecewise alignment failed: %s\n", gv_strerror(rc));
            goto out;
        }
        d = pieced;
    }
    rc = gv_stoi_compute(r, d, n, &res);
    if (rc == GV_EINVAL) {
        fprintf(stderr,
                "gvoip-quality: too little speech to score: STOI needs about 0.4 s of "
                "overlap within 40 dB of the loudest part of %s\n",
                o.ref);
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "gvoip-quality: scoring failed: %s\n", gv_strerror(rc));
        goto out;
    }
    delay_ms = samples_ms(delay);
    if (o.json) {
        printf("{\"delay_ms\":%.2f,\"stoi\":%.4f,\"estoi\":%.4f,\"seconds\":%.2f,"
               "\"speech_frames\":%zu,\"ref_rate\":%d,\"degraded_rate\":%d",
               delay_ms, res.stoi, res.estoi, (double)n / GV_STOI_RATE,
               res.frames, ref_rate, deg_rate);
        if (pieced)
            printf(",\"piece_shift_min_ms\":%.1f,\"piece_shift_max_ms\":%.1f",
                   lo * 1000.0 / GV_STOI_RATE, hi * 1000.0 / GV_STOI_RATE);
        if (o.utterances)
            print_utterances_json(utt, utt_n, &ust, &ures, uscored);
        printf("}\n");
    } else {
        printf("delay_ms=%.2f stoi=%.4f estoi=%.4f", delay_ms, res.stoi, res.estoi);
        if (pieced)
            printf(" piece_shift_ms=%.1f..%.1f", lo * 1000.0 / GV_STOI_RATE,
                   hi * 1000.0 / GV_STOI_RATE);
        if (o.utterances && ust.used)
            printf(" utterances=%zu used=%zu delay_median_ms=%.2f delay_p95_ms=%.2f "
                   "delay_spread_ms=%.2f",
                   utt_n, ust.used, samples_ms(ust.median), samples_ms(ust.p95),
                   samples_ms(ust.spread));
        else if (o.utterances)
            printf(" utterances=%zu used=0 delay_median_ms=n/a delay_p95_ms=n/a "
                   "delay_spread_ms=n/a",
                   utt_n);
        if (o.utterances && uscored)
            printf(" utterance_stoi=%.4f utterance_estoi=%.4f", ures.stoi, ures.estoi);
        else if (o.utterances)
            printf(" utterance_stoi=n/a utterance_estoi=n/a");
        printf("\n");
        if (o.utterances)
            print_utterance_lines(utt, utt_n);
    }
    status = 0;
out:
    free(ref);
    free(deg);
    free(pieced);
    free(utt);
    return status;
}
