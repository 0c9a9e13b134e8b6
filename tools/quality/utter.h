/* Utterances: a reference cut at its pauses, and each piece's own delay in
 * a degraded recording. One whole-file delay hides how a voice path's
 * delay moves from one talk spurt to the next (a jitter buffer that adapts
 * between them); the delays of the utterances show it. */
#ifndef GV_QUALITY_UTTER_H
#define GV_QUALITY_UTTER_H

#include <stddef.h>

typedef struct gv_utterance {
    size_t start;  /* first sample in the reference */
    size_t length; /* samples */
    int found;     /* 1 when a match was found within the search window */
    double delay;  /* samples, > 0: the degraded recording lags */
    double match;  /* normalised correlation at that delay (margins included), -1..1 */
} gv_utterance;

/* Cuts x (n samples, borrowed) into utterances: 10 ms frames (frame
 * samples) within 40 dB of the loudest frame are speech, runs of speech
 * separated by less than min_pause samples of quiet are one utterance, and
 * utterances shorter than min_length samples are dropped (a click is
 * nothing to align). *out is malloc'd and owned by the caller (free), NULL
 * when none; *count receives how many. Returns 0, GV_EINVAL or GV_ENOMEM.
 * Thread-safe. */
int gv_utter_split(const float *x, size_t n, size_t frame, size_t min_pause, size_t min_length,
                   gv_utterance **out, size_t *count);

/* Finds each of the count utterances of ref in deg (both borrowed, one
 * rate), in order and not overlapping, and fills its found, delay and
 * match: first within +-near samples of around (the whole recording's
 * delay), and only when that finds no match of min_match or more, within
 * +-search. Each is matched with up to margin samples of the quiet on
 * either side (never into a neighbour) by normalised cross-correlation:
 * the lag where deg's shape is most like that stretch, however loud, and
 * not one that puts another word where the reference pauses. An utterance
 * whose best lag is the window's edge is not found (its match lies
 * outside). Returns 0, GV_EINVAL (near 0, near > search, or search longer
 * than deg) or GV_ENOMEM. Thread-safe. */
int gv_utter_delays(const float *ref, size_t ref_n, const float *deg, size_t deg_n, double around,
                    size_t near, size_t search, size_t margin, double min_match, gv_utterance *u,
                    size_t count);

/* Rebuilds deg on ref's timeline utterance by utterance: out[0..n) (n
 * being ref's length) gets, over each utterance found with match >=
 * min_match and halfway into the pauses on either side of it, deg's
 * samples at that utterance's own delay, and zeros over the others (a lost
 * utterance scores as silence). Scoring out against ref then leaves out
 * the delay's moves between utterances, which a listener does not hear,
 * and keeps everything within one; a steady delay rebuilds the whole
 * aligned file. deg and u (in order) are borrowed. Returns 0 or
 * GV_EINVAL. Thread-safe. */
int gv_utter_rebuild(const float *deg, size_t deg_n, const gv_utterance *u, size_t count,
                     double min_match, float *out, size_t n);

typedef struct gv_utter_stats {
    size_t used;   /* utterances counted: found, with match >= min_match */
    double median; /* of their delays (mean of the middle two when even) */
    double p95;    /* nearest rank */
    double spread; /* largest minus smallest */
} gv_utter_stats;

/* The delays of the utterances found with match >= min_match. With none,
 * used is 0 and the figures are 0. Returns 0, GV_EINVAL or GV_ENOMEM.
 * Thread-safe. */
int gv_utter_stats_of(const gv_utterance *u, size_t count, double min_match,
                      gv_utter_stats *out);

#endif
