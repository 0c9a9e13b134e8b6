/* Bounds-checked big-endian reader and writer over caller-owned bytes.
 * A failed read or write latches `err`, so a parser checks once at the end
 * instead of after every field and can never read past `len`. */
#ifndef GV_BUF_H
#define GV_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct gv_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int err;
} gv_reader;

typedef struct gv_writer {
    uint8_t *data;
    size_t cap;
    size_t pos;
    int err;
} gv_writer;

void gv_reader_init(gv_reader *r, const uint8_t *data, size_t len);
uint8_t gv_read_u8(gv_reader *r);
uint16_t gv_read_u16(gv_reader *r);
uint32_t gv_read_u32(gv_reader *r);
/* Returns a pointer into the reader's data, or NULL (and latches err) if
 * fewer than n bytes remain. */
const uint8_t *gv_read_bytes(gv_reader *r, size_t n);
size_t gv_reader_remaining(const gv_reader *r);

void gv_writer_init(gv_writer *w, uint8_t *data, size_t cap);
void gv_write_u8(gv_writer *w, uint8_t v);
void gv_write_u16(gv_writer *w, uint16_t v);
void gv_write_u32(gv_writer *w, uint32_t v);
void gv_write_bytes(gv_writer *w, const void *src, size_t n);

#endif
