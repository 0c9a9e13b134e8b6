/* A lock-free single-producer single-consumer queue of variable-length
 * messages, for handing work from the thread that drives the network to
 * the thread that renders audio (a device callback). All memory comes from
 * gv_mailbox_create; after that no call allocates, locks, blocks or makes a
 * system call, so either end may run inside a real-time callback.
 *
 * Exactly one thread posts and one thread takes at any time. Messages are
 * taken whole, in the order they were posted. */
#ifndef GV_AUDIO_MAILBOX_H
#define GV_AUDIO_MAILBOX_H

#include <stddef.h>

typedef struct gv_mailbox gv_mailbox;

/* Creates an empty mailbox of at least capacity bytes (rounded up to a
 * power of two; each message also takes 4 bytes of length). Returns 0,
 * GV_EINVAL or GV_ENOMEM. The caller owns *out. */
int gv_mailbox_create(size_t capacity, gv_mailbox **out);

/* NULL is a no-op. Neither end may be in use. */
void gv_mailbox_destroy(gv_mailbox *mb);

/* Posts one message made of head then body (body may be NULL when
 * body_len is 0; both borrowed, copied). Returns 0, or GV_EFULL when it
 * does not fit now (nothing is posted), GV_ETOOBIG when it never could.
 * Producer only. */
int gv_mailbox_post(gv_mailbox *mb, const void *head, size_t head_len, const void *body, size_t body_len);

/* Bytes free for one more message's head and body, right now. Producer
 * only (a lower bound). */
size_t gv_mailbox_room(const gv_mailbox *mb);

/* Moves the oldest message into buf and returns its length; 0 when empty.
 * A message longer than cap is dropped and GV_ETOOBIG returned. Consumer
 * only. */
int gv_mailbox_take(gv_mailbox *mb, void *buf, size_t cap);

#endif
