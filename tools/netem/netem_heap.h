/* A bounded min-heap of pending datagrams keyed by release time. Equal
 * times leave in insertion order, so FIFO holds even at one-microsecond
 * resolution. */
#ifndef NETEM_HEAP_H
#define NETEM_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct netem_heap netem_heap;

/* Creates a heap holding at most capacity items; *out is the caller's.
 * Returns GV_EINVAL (capacity 0) or GV_ENOMEM. */
int netem_heap_create(size_t capacity, netem_heap **out);

/* Frees h but not the items it still holds; NULL is a no-op. */
void netem_heap_destroy(netem_heap *h);

/* Adds item (borrowed until popped) due at key. Returns GV_EFULL when the
 * heap is at capacity, GV_EINVAL for NULL. Not thread-safe. */
int netem_heap_push(netem_heap *h, uint64_t key, void *item);

/* 1 and the earliest key in *key if the heap holds anything, else 0.
 * Not thread-safe. */
int netem_heap_peek(const netem_heap *h, uint64_t *key);

/* Removes and returns the earliest item (its key in *key if key is not
 * NULL), or NULL when empty. Ownership of the item returns to the caller.
 * Not thread-safe. */
void *netem_heap_pop(netem_heap *h, uint64_t *key);

/* The number of items held. Not thread-safe. */
size_t netem_heap_count(const netem_heap *h);

#endif
