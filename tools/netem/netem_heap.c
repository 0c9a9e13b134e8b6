#include "netem_heap.h"

#include <stdlib.h>

#include "gvoip/error.h"

typedef struct heap_item {
    uint64_t key;
    uint64_t seq;
    void *item;
} heap_item;

struct netem_heap {
    heap_item *items;
    size_t count, capacity;
    uint64_t next_seq;
};

int netem_heap_create(size_t capacity, netem_heap **out)
{
    if (!out || !capacity || capacity > SIZE_MAX / sizeof(heap_item))
        return GV_EINVAL;
    int rc = GV_ENOMEM;
    netem_heap *h = calloc(1, sizeof *h);
    if (!h)
        goto out;
    h->items = malloc(capacity * sizeof *h->items);
    if (!h->items)
        goto out;
    h->capacity = capacity;
    *out = h;
    h = NULL;
    rc = GV_OK;
out:
    netem_heap_destroy(h);
    return rc;
}

void netem_heap_destroy(netem_heap *h)
{
    if (!h)
        return;
    free(h->items);
    free(h);
}

static int before(const heap_item *a, const heap_item *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

int netem_heap_push(netem_heap *h, uint64_t key, void *item)
{
    if (!h)
        return GV_EINVAL;
    if (h->count == h->capacity)
        return GV_EFULL;
    heap_item it = {key, h->next_seq++, item};
    size_t i = h->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&it, &h->items[parent]))
            break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = it;
    return GV_OK;
}

int netem_heap_peek(const netem_heap *h, uint64_t *key)
{
    if (!h || !h->count)
        return 0;
    if (key)
        *key = h->items[0].key;
    return 1;
}

void *netem_heap_pop(netem_heap *h, uint64_t *key)
{
    if (!h || !h->count)
        return NULL;
    heap_item top = h->items[0];
    heap_item last = h->items[--h->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && before(&h->items[child + 1], &h->items[child]))
            child++;
        if (!before(&h->items[child], &last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->count)
        h->items[i] = last;
    if (key)
        *key = top.key;
    return top.item;
}

size_t netem_heap_count(const netem_heap *h)
{
    return h ? h->count : 0;
}
