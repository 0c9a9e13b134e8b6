#include "gvoip/ring.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the producer's and the consumer's index on different cache lines,
 * so that each end writing its own index does not keep invalidating the
 * line the other end is writing. */
#define GV_RING_LINE 64

struct gv_ring {
    size_t mask; /* capacity - 1; capacity is a power of two */
    char pad0[GV_RING_LINE];
    /* Both indices run freely and wrap at SIZE_MAX + 1, which a power-of-two
     * capacity divides, so head - tail is the fill level even after a wrap
     * and a full ring (head - tail == capacity) is told from an empty one. */
    atomic_size_t head; /* next sample the producer writes; producer stores */
    char pad1[GV_RING_LINE];
    atomic_size_t tail; /* next sample the consumer reads; consumer stores */
    char pad2[GV_RING_LINE];
    float buf[];
};

int gv_ring_create(size_t capacity, gv_ring **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    /* The largest power of two that still leaves room for the header. */
    const size_t max_cap = ((size_t)1 << (sizeof(size_t) * 8 - 1)) / sizeof(float) / 2;
    if (capacity == 0 || capacity > max_cap)
        return GV_EINVAL;

    size_t cap = 1;
    while (cap < capacity)
        cap <<= 1;

    gv_ring *r = malloc(sizeof(*r) + cap * sizeof(float));
    if (!r)
        return GV_ENOMEM;
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    *out = r;
    return GV_OK;
}

void gv_ring_destroy(gv_ring *r)
{
    free(r);
}

/* The fill level, for either end: whichever index the calling thread owns
 * cannot move during the call, and the other only moves in the direction
 * that keeps the difference within 0..capacity. The acquire on the other
 * end's index makes the samples it published (or the slots it freed) visible
 * before we touch them. */
static size_t used(const gv_ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    return head - tail;
}

size_t gv_ring_readable(const gv_ring *r)
{
    return r ? used(r) : 0;
}

size_t gv_ring_writable(const gv_ring *r)
{
    return r ? r->mask + 1 - used(r) : 0;
}

size_t gv_ring_write(gv_ring *r, const float *src, size_t n)
{
    if (!r || !src)
        return 0;
    const size_t cap = r->mask + 1;
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t space = cap - (head - tail);
    if (n > space)
        n = space;
    if (n == 0)
        return 0;

    size_t at = head & r->mask;
    size_t first = cap - at < n ? cap - at : n;
    memcpy(r->buf + at, src, first * sizeof(float));
    memcpy(r->buf, src + first, (n - first) * sizeof(float));
    /* Release: the samples are in place before the consumer can see them. */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

size_t gv_ring_read(gv_ring *r, float *dst, size_t n)
{
    if (!r || !dst)
        return 0;
    const size_t cap = r->mask + 1;
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t avail = head - tail;
    if (n > avail)
        n = avail;
    if (n == 0)
        return 0;

    size_t at = tail & r->mask;
    size_t first = cap - at < n ? cap - at : n;
    memcpy(dst, r->buf + at, first * sizeof(float));
    memcpy(dst + first, r->buf, (n - first) * sizeof(float));
    /* Release: we are done reading the slots before the producer reuses
     * them. */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}
