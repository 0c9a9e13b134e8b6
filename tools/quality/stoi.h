/* Short-Time Objective Intelligibility (Taal, Hendriks, Heusdens, Jensen,
 * IEEE TASLP 2011) and its extended form ESTOI (Jensen, Taal, IEEE TASLP
 * 2016), for time-aligned signals at 10 kHz. Pure computation: no I/O, no
 * state between calls. */
#ifndef GV_QUALITY_STOI_H
#define GV_QUALITY_STOI_H

#include <stddef.h>

/* The rate both signals must be at. */
#define GV_STOI_RATE 10000
/* Analysis frames of 256 samples (25.6 ms) every 128. */
#define GV_STOI_FRAME 256
#define GV_STOI_HOP 128
/* Frames per correlation segment (384 ms). A score needs one whole segment
 * of speech, about 0.4 s. */
#define GV_STOI_SEGMENT_FRAMES 30

typedef struct gv_stoi_result {
    double stoi;     /* mean clipped band correlation, about 0..1 */
    double estoi;    /* mean spectro-temporal correlation, about 0..1 */
    size_t frames;   /* frames kept after removing the reference's silence */
    size_t segments; /* 384 ms segments averaged */
} gv_stoi_result;

/* Scores deg against ref (both borrowed, n samples at GV_STOI_RATE, already
 * aligned). Frames more than 40 dB below the reference's loudest are
 * dropped from both first. Returns 0, GV_EINVAL (NULL, a silent reference,
 * or fewer than GV_STOI_SEGMENT_FRAMES frames of speech) or GV_ENOMEM.
 * Thread-safe. */
int gv_stoi_compute(const float *ref, const float *deg, size_t n, gv_stoi_result *out);

#endif
