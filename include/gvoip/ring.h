/* A lock-free single-producer single-consumer ring of float samples, for
 * moving audio between a device callback and the thread that drives
 * gvoip. All memory is allocated by gv_ring_create; after that no call
 * allocates, locks, blocks or makes a system call, so either end may run
 * inside a real-time audio callback.
 *
 * Exactly one thread writes and exactly one thread reads at any time (they
 * may be the same thread). Handing an end to another thread needs the
 * caller's own synchronisation (for example starting the audio device
 * after creating the ring). */
#ifndef GVOIP_RING_H
#define GVOIP_RING_H

#include <stddef.h>

#include "gvoip/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gv_ring gv_ring;

/* Creates an empty ring holding at least `capacity` samples (rounded up to
 * a power of two; all of it is usable). Returns 0 with *out the caller's
 * (free it with gv_ring_destroy), or GV_EINVAL (NULL out, capacity 0 or
 * above SIZE_MAX / 16 + 1) or GV_ENOMEM, with *out NULL when out is not
 * NULL. Thread-safe. */
GV_API int gv_ring_create(size_t capacity, gv_ring **out);

/* Frees the ring; neither end may be in use. NULL is a no-op. */
GV_API void gv_ring_destroy(gv_ring *r);

/* Copies up to n samples from src (borrowed) into the ring and returns how
 * many fitted (0 when full, or when r or src is NULL). Producer thread
 * only. */
GV_API size_t gv_ring_write(gv_ring *r, const float *src, size_t n);

/* Moves up to n samples out of the ring into dst (borrowed), oldest first,
 * and returns how many (0 when empty, or when r or dst is NULL). Consumer
 * thread only. */
GV_API size_t gv_ring_read(gv_ring *r, float *dst, size_t n);

/* Samples waiting to be read. From the consumer it is a lower bound (the
 * producer may add more); from the producer an upper bound. Producer or
 * consumer thread; 0 for NULL. */
GV_API size_t gv_ring_readable(const gv_ring *r);

/* Samples that can be written. From the producer it is a lower bound (the
 * consumer may free more); from the consumer an upper bound. Producer or
 * consumer thread; 0 for NULL. */
GV_API size_t gv_ring_writable(const gv_ring *r);

#ifdef __cplusplus
}
#endif
#endif
