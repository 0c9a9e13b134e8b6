#include "audio/gv_mailbox.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

#define LINE 64
#define LEN_BYTES 4

/* The indices run freely in bytes, as in gv_ring: head - tail is the fill
 * level across wraps. Each message is a 4-byte length and its bytes, split
 * at the end of the buffer where it has to be. */
struct gv_mailbox {
    size_t mask;
    char pad0[LINE];
    atomic_size_t head; /* producer stores */
    char pad1[LINE];
    atomic_size_t tail; /* consumer stores */
    char pad2[LINE];
    unsigned char buf[];
};

int gv_mailbox_create(size_t capacity, gv_mailbox **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (capacity < 2 * LEN_BYTES || capacity > ((size_t)1 << 30))
        return GV_EINVAL;
    size_t cap = 1;
    while (cap < capacity)
        cap <<= 1;
    gv_mailbox *mb = malloc(sizeof *mb + cap);
    if (!mb)
        return GV_ENOMEM;
    mb->mask = cap - 1;
    atomic_init(&mb->head, 0);
    atomic_init(&mb->tail, 0);
    *out = mb;
    return 0;
}

void gv_mailbox_destroy(gv_mailbox *mb)
{
    free(mb);
}

static void put(gv_mailbox *mb, size_t at, const void *src, size_t n)
{
    if (n == 0)
        return; /* src may be NULL then, which memcpy may not see */
    size_t cap = mb->mask + 1;
    at &= mb->mask;
    size_t first = cap - at < n ? cap - at : n;
    memcpy(mb->buf + at, src, first);
    memcpy(mb->buf, (const unsigned char *)src + first, n - first);
}

static void get(const gv_mailbox *mb, size_t at, void *dst, size_t n)
{
    if (n == 0)
        return;
    size_t cap = mb->mask + 1;
    at &= mb->mask;
    size_t first = cap - at < n ? cap - at : n;
    memcpy(dst, mb->buf + at, first);
    memcpy((unsigned char *)dst + first, mb->buf, n - first);
}

size_t gv_mailbox_room(const gv_mailbox *mb)
{
    if (!mb)
        return 0;
    size_t head = atomic_load_explicit(&mb->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&mb->tail, memory_order_acquire);
    size_t free_bytes = mb->mask + 1 - (head - tail);
    return free_bytes > LEN_BYTES ? free_bytes - LEN_BYTES : 0;
}

int gv_mailbox_post(gv_mailbox *mb, const void *head_part, size_t head_len, const void *body, size_t body_len)
{
    if (!mb || (!head_part && head_len) || (!body && body_len))
        return GV_EINVAL;
    size_t n = head_len + body_len;
    if (n == 0 || n > UINT32_MAX || n + LEN_BYTES > mb->mask + 1)
        return GV_ETOOBIG;
    if (n > gv_mailbox_room(mb))
        return GV_EFULL;
    size_t head = atomic_load_explicit(&mb->head, memory_order_relaxed);
    uint32_t len = (uint32_t)n;
    put(mb, head, &len, LEN_BYTES);
    put(mb, head + LEN_BYTES, head_part, head_len);
    put(mb, head + LEN_BYTES + head_len, body, body_len);
    /* Release: the message is in place before the consumer can see it. */
    atomic_store_explicit(&mb->head, head + LEN_BYTES + n, memory_order_release);
    return 0;
}

int gv_mailbox_take(gv_mailbox *mb, void *buf, size_t cap)
{
    if (!mb || (!buf && cap))
        return GV_EINVAL;
    size_t tail = atomic_load_explicit(&mb->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&mb->head, memory_order_acquire);
    if (head == tail)
        return 0;
    uint32_t len;
    get(mb, tail, &len, LEN_BYTES);
    int rc = (int)len;
    if (len > cap)
        rc = GV_ETOOBIG;
    else
        get(mb, tail + LEN_BYTES, buf, len);
    /* Release: done reading before the producer reuses the bytes. */
    atomic_store_explicit(&mb->tail, tail + LEN_BYTES + len, memory_order_release);
    return rc;
}
