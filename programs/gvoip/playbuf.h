/* How long a playback buffer to ask the sound server for, as underruns
 * come and go: pure, time passed in (microseconds on any monotonic clock).
 *
 * An underrun makes the buffer half as long again, up to a ceiling. The
 * underruns of one stall count once: a stream restarted after running dry
 * holds one request's worth, so a stall that outlasts it runs it dry again
 * a few milliseconds later, before the longer buffer has been granted (two
 * underruns 9 ms apart, each lengthening it, took it 10 -> 15 -> 23 ms
 * where one step would have done). A buffer that has held for a while without
 * an underrun goes back one step, so that one stall early in a session does
 * not cost its delay for the rest of it (PulseAudio's ALSA sink lowers its
 * watermark the same way); when it underruns again at the length it went
 * back to, it waits twice as long before the next try, so a machine that
 * needs the longer buffer keeps it. Going back is smooth to the ear: the
 * server asks for less and the jitter buffer plays the difference out by
 * time-stretching. Never shorter than the length the session started with. */
#ifndef GVOIP_PLAYBUF_H
#define GVOIP_PLAYBUF_H

#include <stdint.h>

/* Underruns this soon after a lengthening belong to the same stall. */
#define PLAYBUF_SAME_STALL_US 250000u
/* How long a buffer holds without an underrun before it goes back a step;
 * it doubles, up to the ceiling, each time an underrun lengthens the buffer
 * back to where it last went back from. */
#define PLAYBUF_HOLD_US 20000000u
#define PLAYBUF_HOLD_MAX_US 320000000u

typedef struct playbuf {
    int base_ms, max_ms; /* the session's start and the ceiling */
    int ms;              /* what to ask for now */
    int shrunk_from_ms;  /* the length the last step back left; 0 none */
    uint64_t hold_us;    /* the current wait before a step back */
    uint64_t quiet_since_us; /* the last underrun or step back */
    uint64_t grown_at_us;    /* the last lengthening, when has_grown */
    int has_grown;
} playbuf;

/* Starts at base_ms (>= 1), growing up to max_ms (a ceiling below base_ms
 * means it never grows). */
void playbuf_init(playbuf *p, int base_ms, int max_ms);

/* An underrun at now_us. Returns 1 when p->ms changed (ask the server for
 * it), else 0. */
int playbuf_underrun(playbuf *p, uint64_t now_us);

/* When playbuf_settle could next go back a step: 0 when the buffer is at
 * its base and there is nothing to wait for. */
uint64_t playbuf_due_us(const playbuf *p);

/* At or after playbuf_due_us: goes back one step if no underrun came for
 * the hold. Returns 1 when p->ms changed, else 0. */
int playbuf_settle(playbuf *p, uint64_t now_us);

#endif
