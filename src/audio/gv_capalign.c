#include "audio/gv_capalign.h"

static void new_window(gv_capalign *a)
{
    a->seen = 0;
    a->anchor = -1;
    a->min_off = 0;
    a->max_off = 0;
}

void gv_capalign_init(gv_capalign *a, int rate, int unit, int frame)
{
    a->unit = unit > 0 ? unit : 1;
    a->frame = frame > 0 ? frame : 1;
    a->window = rate / 1000 * GV_CAPALIGN_WINDOW_MS;
    a->least = rate / 1000 * GV_CAPALIGN_MIN_MS;
    a->last_us = 0;
    a->delivering = 0;
    new_window(a);
    a->due = 0;
    a->aligned = 0;
    a->skip = 0;
}

/* x modulo the frame, in 0..frame-1. */
static int wrap(const gv_capalign *a, int x)
{
    int r = x % a->frame;
    return r < 0 ? r + a->frame : r;
}

/* A delivery of delivered samples ended with waiting samples waiting. */
static int delivered(gv_capalign *a, int delivered, int waiting, int inaudible)
{
    if (a->due > 0 && inaudible && waiting >= a->least + a->unit) {
        /* least stays waiting: pieces come a few samples long or short,
         * and a frame that ended a sample after its piece would wait for
         * the whole next one. Less waiting than due asks: the pieces'
         * phase moved down since. */
        int drop = (waiting - a->least < a->due ? waiting - a->least : a->due) / a->unit * a->unit;
        if (a->aligned)
            a->skip += drop;
        a->aligned = 1;
        a->due = 0;
        new_window(a);
        return drop;
    }
    if (a->anchor < 0)
        a->anchor = waiting;
    /* On the circle, within half a frame of the window's first wait. */
    int off = wrap(a, waiting - a->anchor + a->frame / 2) - a->frame / 2;
    if (off < a->min_off)
        a->min_off = off;
    if (off > a->max_off)
        a->max_off = off;
    a->seen += delivered;
    if (a->seen >= a->window) {
        /* Every delivery of the window left the frame's end least_wait or
         * more before its own: drop that much less least. Only when the
         * deliveries keep their phase within least (a device's pieces):
         * where it wanders further (audio pushed as a loop's wake-ups
         * come, a file paced by the clock), what waits is also what keeps
         * a frame from missing the next delivery's end and going out one
         * delivery late. A least_wait under least (the deliveries' ends on
         * the frames', a sample either way) asks for almost a frame,
         * which only a delivery that just missed its frame's end has
         * waiting. Measured again while a drop waits for silence: the
         * pieces' phase moves, either way. */
        int steady = a->max_off - a->min_off <= a->least;
        int least_wait = wrap(a, a->anchor + a->min_off);
        int due = wrap(a, least_wait - a->least);
        a->due = steady && due >= a->unit ? due : 0;
        new_window(a);
    }
    return 0;
}

int gv_capalign_push(gv_capalign *a, uint64_t now_us, int waiting, int inaudible)
{
    int drop = 0;
    if (waiting < 0)
        return 0;
    if (a->last_us != 0 && now_us - a->last_us >= GV_CAPALIGN_SAME_US && a->delivering > 0) {
        drop = delivered(a, a->delivering, waiting, inaudible);
        a->delivering = 0;
    }
    a->last_us = now_us ? now_us : 1;
    return drop;
}

void gv_capalign_pushed(gv_capalign *a, int samples)
{
    if (samples > 0)
        a->delivering += samples;
}

int gv_capalign_take_skip(gv_capalign *a)
{
    int skip = a->skip;
    a->skip = 0;
    return skip;
}
