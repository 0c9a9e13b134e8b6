/* Lines the encoder's frames up with the capture device's deliveries.
 *
 * A frame is encoded when its last sample arrives. A device delivers
 * audio in pieces of its own (PulseAudio: fragments of about a frame),
 * and where a frame's end falls inside a piece, the frame waits for the
 * rest of that piece: every frame of the session by the same amount, up
 * to a whole piece, set by chance when capture started (measured through
 * PulseAudio: 0 to 9 ms per session) and drifting as pieces come a few
 * samples long or short. Before each push of captured audio the caller
 * says how many samples of the frame being assembled are waiting; pushes
 * less than GV_CAPALIGN_SAME_US apart are one delivery (a piece handed
 * over in parts, read as it came), so what waits when the next delivery
 * begins is what waited after the last one. When every delivery over a
 * window left at least some waiting, and about as much each time (a
 * device's pieces, not audio pushed as a loop's wake-ups come), that many
 * are what each frame waits, and dropping them once (when they are
 * inaudible) moves the frames' ends onto the deliveries' from then on.
 * What waits is judged on the frame's circle: a delivery that left a
 * sample or two waiting and one that left a frame's end a sample or two
 * short of arriving are the same phase, a piece a sample longer or
 * shorter, and the worst one (the frame that missed its end waits for the
 * whole next delivery). Pieces that come so keep their phase, and the
 * drop that leaves least waiting is made at a delivery that left enough
 * waiting to take it from (one that just missed its frame's end).
 * Drops are whole units (the timestamps' tick). The first corrects the
 * phase capture started at, by chance: the timestamps stay as they were,
 * so no receiver sees a step and the frames are that much fresher at
 * once. Later ones follow the pieces' phase as it moves (a device's
 * delivery period a little off a frame): the timestamps go on over what
 * they drop (gv_capalign_take_skip), and stay the capture clock's; were
 * they to count only what was kept, a receiver would see a clock running
 * slow by every drop, and follow it in steps.
 *
 * Pure: no I/O, no clock reads (time is passed in), no allocation. */
#ifndef GV_AUDIO_CAPALIGN_H
#define GV_AUDIO_CAPALIGN_H

#include <stdint.h>

/* Deliveries are judged over windows of at least this much audio. */
#define GV_CAPALIGN_WINDOW_MS 200
/* What a drop leaves waiting at least (a piece a few samples short must
 * not miss its frame's end); a wait under this plus a unit is left alone. */
#define GV_CAPALIGN_MIN_MS 1
/* Pushes closer together than this are one delivery. */
#define GV_CAPALIGN_SAME_US 2000

typedef struct gv_capalign {
    int frame;        /* the encoder's frame, in samples */
    int window;       /* samples per window */
    int least;        /* what a drop leaves waiting, in samples */
    int unit;         /* drops are whole multiples of it */
    uint64_t last_us; /* when the last push came; 0 none yet */
    int delivering;   /* samples pushed since the current delivery began */
    int seen;         /* samples delivered in the current window */
    int anchor;       /* the window's first wait after a delivery; -1 none */
    int min_off;      /* smallest wait in the window, as an offset from anchor on the frame's circle */
    int max_off;      /* and the largest */
    int due;          /* samples to drop at the next inaudible chance; 0 none */
    int aligned;      /* the first drop was made */
    int skip;         /* dropped since gv_capalign_take_skip, but the first drop */
} gv_capalign;

/* Starts with nothing due, for a stream at rate assembled into frames of
 * frame samples, whose drops are whole multiples of unit samples (at
 * least 1). */
void gv_capalign_init(gv_capalign *a, int rate, int unit, int frame);

/* Before a push at now_us: waiting samples of the frame being assembled
 * wait; inaudible: they may be dropped unheard (too quiet to hear; only
 * looked at while a->due > 0). Returns how many of the
 * newest waiting samples to drop before the push (0 mostly). */
int gv_capalign_push(gv_capalign *a, uint64_t now_us, int waiting, int inaudible);

/* After the push: it brought samples. */
void gv_capalign_pushed(gv_capalign *a, int samples);
/* As a frame is completed: how far the next frame's timestamp lies past
 * this one's end (samples dropped from it; 0 mostly). */
int gv_capalign_take_skip(gv_capalign *a);

#endif
