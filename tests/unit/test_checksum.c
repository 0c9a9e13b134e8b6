/* gvoip's datagram checksum must be ENet's to the bit: peers (and any
 * other ENet build with the CRC-32 hook) check it on every datagram. It
 * is compared with enet_crc32 on seeded random buffer lists of every
 * shape ENet sends: empty lists, empty buffers, odd lengths and offsets
 * that break the eight-byte steps, up to a whole datagram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <enet/enet.h>

#include "session/gv_transport.h"
#include "test_rng.h"

#define SEED 0x63726333u
#define ROUNDS 20000
#define MAX_BUFFERS 6

static void test_matches_enet(void **state)
{
    static uint8_t bytes[MAX_BUFFERS][1500];
    (void)state;
    test_rng_seed(SEED);
    for (int round = 0; round < ROUNDS; round++) {
        ENetBuffer list[MAX_BUFFERS];
        struct iovec same[MAX_BUFFERS];
        size_t count = test_rng_next() % (MAX_BUFFERS + 1);
        for (size_t i = 0; i < count; i++) {
            size_t off = test_rng_next() % 8, len = test_rng_next() % 5 == 0 ? test_rng_next() % 8
                                                                             : test_rng_next() % (1400 - 8);
            for (size_t k = 0; k < off + len; k++)
                bytes[i][k] = (uint8_t)test_rng_next();
            list[i].data = bytes[i] + off;
            list[i].dataLength = len;
            same[i] = (struct iovec){.iov_base = list[i].data, .iov_len = len};
        }
        enet_uint32 want = enet_crc32(list, count), got = gv_transport_crc32(same, count);
        if (got != want)
            fail_msg("seed 0x%x, round %d (%zu buffers): 0x%08x, ENet says 0x%08x", SEED, round, count,
                     (unsigned)got, (unsigned)want);
    }
}

/* The standard check value, so both cannot be wrong the same way: CRC-32
 * of "123456789" is 0xCBF43926 (sent in network byte order). */
static void test_check_value(void **state)
{
    (void)state;
    struct iovec b = {.iov_base = (void *)"123456789", .iov_len = 9};
    assert_int_equal(ENET_NET_TO_HOST_32(gv_transport_crc32(&b, 1)), 0xCBF43926u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_enet),
        cmocka_unit_test(test_check_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
