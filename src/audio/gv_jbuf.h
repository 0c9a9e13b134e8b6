/* Per-remote-player jitter buffer for opaque Opus payloads.
 *
 * Pure logic: no I/O, no clock reads. Time is passed in as now_us
 * (microseconds, monotonic, the receiver's clock); sender timestamps and
 * frame sizes are in 48 kHz samples. The buffer reorders, drops duplicates,
 * chooses in-band FEC or concealment for missing packets, and schedules
 * playout against a target delay: a high quantile of the recent arrival
 * delays (exponential fit of their tail), measured against the sender's
 * timestamps.
 *
 * Each talk spurt starts at the current target, so the delay falls while
 * the speaker is silent; with a margin, where the last one played instead
 * while the estimate stays within the margin of that, either way (the
 * estimate moves by a few ms with every few packets a few ms late, and a
 * listener hears each such move). Inside a talk spurt no frame is inserted or
 * dropped: the delay moves by playing frames longer or shorter (skip; the
 * splice repeats or takes out whole pitch periods: gv_splice_stretch).
 * Frames are lengthened as soon as the delay is below target (the target
 * rose). A packet late now and then (one or two within a few seconds: a
 * thread held up somewhere on a busy machine) is concealed, not waited
 * for, and stays out of the target (OUTLIERS): the delay does not move for
 * it. An underrun waits for the missing packet once lateness repeats (a
 * packet of the same underrun came late, or two within 3 s), so that the
 * delay rises with a path that got slower. Once the delay has stayed 4 ms
 * or more above target for two seconds (less the more it is), frames are
 * played shortened, up to half a frame every 100 ms while there is that
 * much; a caller that asks for a device's block at its start makes frames
 * look early by up to a block, which a stretch reveals, and that much more
 * excess is then left alone (cutting it moves the delay unseen until a
 * block boundary is crossed). Clock drift of up to 3% either way is
 * followed by a stretch of 5 to 10 ms every so often (every 0.25 to 0.5 s
 * at 2%): the sender's is measured on the minimum delays and taken out of
 * the estimate, and an audio device pulling fast or slow shows in what it
 * takes to keep the delay at target. When the last second's delays sit
 * below the window's lower quartile the path got faster (a handover back):
 * the older delays are moved down by the step, and the excess goes within
 * a second or two. When loss is frequent it waits one frame more so the
 * packet carrying FEC is there. A caller that stops asking for a while
 * (playback paused) finds what should have played meanwhile gone: overdue
 * frames after an outage, and a talk spurt overdue when a later one is due
 * too, are skipped, never played late, and counted as unheard. */
#ifndef GV_JBUF_H
#define GV_JBUF_H

#include <stddef.h>
#include <stdint.h>

#define GV_JBUF_MAX_PAYLOAD 1275 /* the largest Opus packet */
#define GV_JBUF_RATE 48000       /* timestamps and frame sizes are in these units */

typedef struct gv_jbuf gv_jbuf;

typedef struct gv_jbuf_config {
    int min_delay_ms;      /* floor of the target delay; default 0 (the estimate decides) */
    int max_delay_ms;      /* hard cap on buffered audio and on the target; default 300 */
    int initial_delay_ms;  /* target until a few packets have been seen; default 10
                            * (low: the first late packets raise it at once) */
    int capacity_packets;  /* packet slots; default 64 */
    int window_ms;         /* how far back the delay estimate looks; default 10000 */
    int half_life_ms;      /* age at which a delay counts half in the estimate;
                            * 0 = all of the window counts alike; default 3000 */
    int quantile_permille; /* share of recent packets the target covers; default 993 */
    int margin_ms;         /* added above that quantile, and how far the quantile may
                            * move either way before the delay follows it; default 0 */
    int fec_wait_loss_permille; /* from this recent loss rate on, wait one frame more
                                 * so the next packet (with FEC) is there; 0 = never;
                                 * default 10 */
    int conceal_max_ms;    /* longest concealment when the buffer runs dry, before the
                            * speaker is taken to be silent; default 40 */
} gv_jbuf_config;

typedef enum {
    GV_JBUF_SILENCE, /* play out->samples of silence */
    GV_JBUF_PACKET,  /* decode payload */
    GV_JBUF_FEC,     /* payload is the next packet: decode its in-band FEC */
    GV_JBUF_LOST,    /* conceal out->samples (decoder PLC) */
} gv_jbuf_kind;

typedef struct gv_jbuf_frame {
    gv_jbuf_kind kind;
    const uint8_t *payload; /* PACKET and FEC only; valid until the next put/get/destroy */
    size_t len;
    int samples; /* always > 0, a multiple of 48 (1 ms); PACKET/FEC/LOST: a multiple of 120 */
    int skip;    /* PACKET only, 0 otherwise: decode all samples, then play about
                  * samples - skip: skip > 0 leaves skip/2..skip out, skip < 0
                  * repeats |skip|/2..|skip| (pitch periods) so the frame
                  * plays longer. |skip| is a multiple of 24, at most
                  * samples/2, and 0 for frames under 5 ms. Decode into room
                  * for samples + samples/2 and call gv_splice_stretch(pcm,
                  * samples, -skip, samples + samples/2) for the new length. */
} gv_jbuf_frame;

typedef struct gv_jbuf_stats {
    uint64_t received;         /* distinct packets that arrived (late ones included) */
    uint64_t lost;             /* packets not there when their turn came (late ones included; not
                                * the sequence numbers skipped before a spurt's first packet) */
    uint64_t late;             /* packets that arrived after their playout time */
    uint64_t duplicates;       /* copies of packets already held or played */
    uint64_t fec_recovered;    /* FEC frames returned */
    uint64_t concealed_frames; /* LOST frames returned, except talk-spurt tails */
    double jitter_ms;          /* RFC 3550 interarrival jitter */
    double target_delay_ms;    /* current target above the fastest recent packet */
    double playout_delay_ms;   /* arrival to playout of played packets, smoothed */
    uint64_t dropped_for_drift;  /* whole frames skipped to bring the delay down: 0, since
                                  * frames are shortened instead (kept for readers) */
    uint64_t shortened_frames;   /* frames played shortened (skip > 0) to bring it down */
    double shortened_ms;         /* audio those were asked to leave out */
    uint64_t inserted_for_drift; /* concealed frames inserted to raise the delay: 0, since
                                  * frames are lengthened instead (kept for readers) */
    uint64_t lengthened_frames;  /* frames played lengthened (skip < 0) to raise the delay */
    double lengthened_ms;        /* audio those were asked to add */
    uint64_t dropped_for_cap;    /* packets dropped to respect max_delay_ms / capacity */
    uint64_t tail_frames;        /* LOST frames that turned out to follow the end of a
                                  * talk spurt (the buffer cannot know in advance) */
    uint64_t resyncs;            /* sender restarts followed */
    uint64_t path_shifts;        /* times the path got faster and older delays moved down by the step */
    uint64_t redundant_used;     /* packets that only their redundant copy brought */
    uint64_t unheard;            /* packets that came in time but whose turn passed while
                                  * the caller was not asking (playback paused): skipped */
    double buffered_ms;          /* audio held right now */
} gv_jbuf_stats;

/* Fills *cfg with the defaults. Thread-safe. */
void gv_jbuf_config_default(gv_jbuf_config *cfg);

/* Creates a jitter buffer (cfg NULL = defaults; the config is copied).
 * The caller owns *out and frees it with gv_jbuf_destroy. Thread-safe. */
int gv_jbuf_create(const gv_jbuf_config *cfg, gv_jbuf **out);

/* Frees jb and every payload it holds; NULL is a no-op. Not thread-safe
 * against other calls on the same jb. */
void gv_jbuf_destroy(gv_jbuf *jb);

/* Stores one packet (payload copied). Returns 0 when stored; GV_EREPLAY for
 * a duplicate or a packet whose playout time has passed (both counted) and
 * for one that does not fit the stream (a sender restart without a marker
 * is followed after a few such packets); GV_EINVAL / GV_ETOOBIG for bad
 * arguments. samples: 120..5760, a multiple of 120. flags: GV_JBUF_MARKER
 * on the first packet of a talk spurt; GV_JBUF_PREROLL on audio captured
 * before the sender's voice detector fired, which arrives late by design
 * and so must not raise the delay estimate; GV_JBUF_REDUNDANT on a copy of
 * an earlier packet carried by a later one: it fills the gap if the packet
 * itself went missing and its turn has not passed, and is otherwise dropped
 * without being counted as a duplicate or late. One thread at a time per
 * jb (callers serialise put/get). */
int gv_jbuf_put(gv_jbuf *jb, uint16_t seq, uint32_t ts, int samples, int flags,
                const uint8_t *payload, size_t len, uint64_t now_us);

enum gv_jbuf_put_flags {
    GV_JBUF_MARKER = 0x01,
    GV_JBUF_PREROLL = 0x02,
    GV_JBUF_REDUNDANT = 0x04,
};

/* Returns the next piece of audio to play at now_us and advances playout by
 * out->samples (less out->skip). now_us is best the time the piece's first
 * sample will be heard: the caller's clock plus what is queued ahead of it
 * (e.g. the render call's time plus the audio already mixed in that call
 * and left in the stream's FIFO). A time that stands still over a device's
 * block makes the later pieces in it look early; the buffer measures that
 * jitter and keeps it in hand, at the cost of that much more delay.
 * Payload pointers refer to memory owned by jb. Returns 0 or GV_EINVAL.
 * One thread at a time per jb. */
int gv_jbuf_get(gv_jbuf *jb, uint64_t now_us, gv_jbuf_frame *out);

/* Copies the counters and current estimates into *out. Not thread-safe
 * against put/get on the same jb. */
void gv_jbuf_get_stats(const gv_jbuf *jb, gv_jbuf_stats *out);

#endif
