/* Where a PulseAudio stream's first sample sits on the wall clock, from
 * the server's timing reports, and how several streams that started at
 * different moments are cut to one timeline. Pure: no libpulse, no clock;
 * the session feeds it the numbers PulseAudio reported. */
#ifndef DEVREC_ORIGIN_H
#define DEVREC_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

/* One timing report of a stream, as pa_timing_info gives it. */
typedef struct devrec_timing {
    int record;             /* 1 record stream, 0 playback stream */
    int64_t timestamp_usec; /* wall clock when the report was current */
    int64_t index_bytes;    /* record: write_index; playback: read_index */
    uint64_t source_usec;   /* record only: source latency */
    uint64_t sink_usec;     /* playback, or the sink of a monitor source */
    double bytes_per_usec;  /* the stream's byte rate */
} devrec_timing;

/* The wall-clock time (usec) at which the stream's byte 0 was captured
 * (record) or played (playback), from one report: the sample at the
 * stream's index was captured source_usec before the report (a monitor
 * source hands over what its sink has rendered sink_usec ahead of playing
 * it), and a playback stream's read index is sink_usec ahead of what is
 * heard. 0 when t is NULL. Thread-safe. */
double devrec_origin_of(const devrec_timing *t);

/* The estimates of one stream's origin. Zero-initialised is empty. */
typedef struct devrec_origin {
    double *usec;
    size_t n, cap;
} devrec_origin;

/* Adds one estimate. Returns 0, GV_EINVAL (o NULL) or GV_ENOMEM. Not
 * thread-safe. */
int devrec_origin_add(devrec_origin *o, double usec);

/* The median of the estimates in *median and their interquartile range in
 * *iqr (may be NULL): single reports are off by what the server had not
 * yet queued when it answered, so the middle of many is the origin.
 * Reorders o's estimates. Returns 0, or GV_EINVAL when o holds none. Not
 * thread-safe. */
int devrec_origin_median(devrec_origin *o, double *median, double *iqr);

/* Frees the estimates and empties o; NULL is a no-op. */
void devrec_origin_clear(devrec_origin *o);

/* For k streams whose byte 0 sits at origin_usec[i], the frames cut[i] to
 * drop from the front of stream i so that every stream's next frame is at
 * *start_usec, the latest origin (may be NULL): frame j after the cut is
 * then the same instant in every stream, within half a frame. rate is the
 * streams' common frame rate. Returns 0 or GV_EINVAL. Thread-safe. */
int devrec_origin_cuts(const double *origin_usec, size_t k, int rate, size_t *cut,
                       double *start_usec);

#endif
