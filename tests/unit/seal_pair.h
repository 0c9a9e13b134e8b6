/* Two ends of one sealed session for the unit tests (test_seal,
 * test_datagram): a is the client, its send key k1 = bytes 0x01..0x20; b
 * the server, its send key k2 = bytes 0xa0..0xbf; a's send key is b's
 * receive key and the reverse. The documents' test vectors use these
 * keys. Include after cmocka.h. */
#ifndef SEAL_PAIR_H
#define SEAL_PAIR_H

#include <string.h>

#include "gvoip/error.h"
#include "session/gv_seal.h"

typedef struct pair {
    gv_seal_keys ka, kb;
    gv_seal *a, *b;
} pair;

static void pair_open_with(pair *p, gv_seal_cipher cipher)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 32; i++) {
        p->ka.send[i] = (uint8_t)(i + 1);
        p->ka.recv[i] = (uint8_t)(0xa0 + i);
        p->ka.handshake_hash[i] = 0x11;
    }
    memcpy(p->kb.send, p->ka.recv, 32);
    memcpy(p->kb.recv, p->ka.send, 32);
    memcpy(p->kb.handshake_hash, p->ka.handshake_hash, 32);
    p->ka.cipher = p->kb.cipher = cipher;
    assert_int_equal(gv_seal_create(&p->ka, &p->a), GV_OK);
    assert_int_equal(gv_seal_create(&p->kb, &p->b), GV_OK);
}

static void pair_close(pair *p)
{
    gv_seal_destroy(p->a);
    gv_seal_destroy(p->b);
}

#endif
