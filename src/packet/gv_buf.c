#include "packet/gv_buf.h"

#include <string.h>

#include "gvoip/error.h"

void gv_reader_init(gv_reader *r, const uint8_t *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->err = 0;
}

const uint8_t *gv_read_bytes(gv_reader *r, size_t n)
{
    if (r->err || n > r->len - r->pos) {
        r->err = GV_EMALFORMED;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint8_t gv_read_u8(gv_reader *r)
{
    const uint8_t *p = gv_read_bytes(r, 1);
    return p ? p[0] : 0;
}

uint16_t gv_read_u16(gv_reader *r)
{
    const uint8_t *p = gv_read_bytes(r, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t gv_read_u32(gv_reader *r)
{
    const uint8_t *p = gv_read_bytes(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

size_t gv_reader_remaining(const gv_reader *r)
{
    return r->err ? 0 : r->len - r->pos;
}

void gv_writer_init(gv_writer *w, uint8_t *data, size_t cap)
{
    w->data = data;
    w->cap = data ? cap : 0;
    w->pos = 0;
    w->err = 0;
}

void gv_write_bytes(gv_writer *w, const void *src, size_t n)
{
    if (w->err || n > w->cap - w->pos) {
        w->err = GV_ETOOBIG;
        return;
    }
    if (n)
        memcpy(w->data + w->pos, src, n);
    w->pos += n;
}

void gv_write_u8(gv_writer *w, uint8_t v)
{
    gv_write_bytes(w, &v, 1);
}

void gv_write_u16(gv_writer *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    gv_write_bytes(w, b, 2);
}

void gv_write_u32(gv_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    gv_write_bytes(w, b, 4);
}
