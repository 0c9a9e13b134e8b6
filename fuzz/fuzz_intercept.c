/* The raw-datagram screen of gv_transport.c, reached the way ENet reaches
 * it: real hosts on 127.0.0.1, the fuzzed datagram handed to the screen
 * through gv_transport_screen as if it had just been received. Nothing is
 * serviced, so ENet itself never parses the input.
 * Input: [control][datagram...]. Control bit 3 picks the side:
 *   listener (bit 3 clear): bits 0-1 the admit policy (none, pass, drop,
 *     decided by the CONNECT data word), bit 2 turns the checksum off; a
 *     cookie answer is read back from the socket and checked byte for byte;
 *   connector (bit 3 set): the datagram arrives at a client whose CONNECT
 *     is pending; bit 4 makes it come from another address, bit 5 copies
 *     the pending connectID into bytes 8-11 (which the fuzzer cannot
 *     guess), bits 6-7 preset the retries already spent. An accepted
 *     cookie must produce a new CONNECT carrying it, read back from the
 *     listener's socket.
 * Results and counters must match a model of the ENet 1.3 header and of
 * the cookie datagram in docs/protocol.md. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <enet/enet.h>

#include "session/gv_transport.h"
#include "fuzz_common.h"

/* ENet 1.3 protocol: big-endian peer id word with two flag bits, optional
 * sent time, optional checksum, then the first command, whose low four
 * bits say what it is. CONNECT is 48 bytes, connectID and data last. */
#define FLAG_COMPRESSED 0x4000u
#define FLAG_SENT_TIME 0x8000u
#define COMMAND_CONNECT 2
#define CONNECT_LEN 48
#define CONNECT_ID_AT 40
#define CONNECT_DATA_AT 44
_Static_assert(sizeof(ENetProtocolConnect) == CONNECT_LEN, "ENet CONNECT layout changed");

#define VERSION_BYTE 0x02
#define COOKIE_MASK 0xffffffu

enum policy { POLICY_NONE, POLICY_PASS, POLICY_DROP, POLICY_BY_DATA };

typedef struct admit_log {
    enum policy policy;
    int calls;
    uint32_t data;
    gv_addr addr;
    int verdict;
    uint32_t cookie;
} admit_log;

static gv_transport *listener, *connector;
static gv_addr listener_addr;
static admit_log log_;

/* The by-data policy also answers with a verdict outside the enum, which
 * must count as a drop. */
static int admit(void *ctx, const gv_addr *addr, uint32_t connect_data, uint32_t *cookie)
{
    static const int verdicts[4] = {GV_ADMIT_DROP, GV_ADMIT_PASS, GV_ADMIT_COOKIE, -1};
    admit_log *l = ctx;
    l->calls++;
    l->data = connect_data;
    l->addr = *addr;
    l->cookie = (connect_data * 2654435761u) & COOKIE_MASK;
    if (l->policy == POLICY_PASS)
        l->verdict = GV_ADMIT_PASS;
    else if (l->policy == POLICY_DROP)
        l->verdict = GV_ADMIT_DROP;
    else
        l->verdict = verdicts[(connect_data >> 8) % 4];
    *cookie = l->cookie;
    return l->verdict;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(gv_transport_init() == 0);
    CHECK(gv_transport_listen("127.0.0.1", 0, 4, &listener) == 0);
    CHECK(inet_pton(AF_INET, "127.0.0.1", &listener_addr.host) == 1);
    listener_addr.port = gv_transport_port(listener);
    CHECK(listener_addr.port != 0);
    /* Its CONNECT stays queued: the host is flushed only after a cookie. */
    CHECK(gv_transport_connect(NULL, "127.0.0.1", listener_addr.port, VERSION_BYTE, &connector) == 0);
    return 0;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One datagram waiting on the listener's socket, or 0; loopback delivers
 * before sendto returns, so nothing is in flight. */
static size_t receive(uint8_t *buf, size_t cap)
{
    ssize_t n = recv(gv_transport_fd(listener), buf, cap, MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

typedef struct model_result {
    int screened;   /* intercept returns 1 */
    int compressed; /* the datagram took the cookie branch */
    int connect;    /* a CONNECT the admit callback must see */
    uint32_t data;
    const uint8_t *connect_id;
} model_result;

static model_result model(const uint8_t *d, size_t len, int checksum)
{
    model_result m = {0, 0, 0, 0, NULL};
    if (len < 2) {
        m.screened = 1;
        return m;
    }
    unsigned word = (unsigned)d[0] << 8 | d[1];
    if (word & FLAG_COMPRESSED) {
        m.screened = m.compressed = 1;
        return m;
    }
    size_t at = ((word & FLAG_SENT_TIME) ? 4 : 2) + (checksum ? 4 : 0);
    if (len < at + CONNECT_LEN || (d[at] & 0x0f) != COMMAND_CONNECT)
        return m;
    m.connect = 1;
    m.data = get_be32(d + at + CONNECT_DATA_AT);
    m.connect_id = d + at + CONNECT_ID_AT;
    return m;
}

static void check_common(const gv_transport_stats *before, const gv_transport_stats *now,
                         size_t len, int rc)
{
    CHECK(rc == 0 || rc == 1);
    CHECK(now->datagrams_in == before->datagrams_in + 1);
    CHECK(now->bytes_in == before->bytes_in + len);
    CHECK(now->max_datagram_in ==
          (len > before->max_datagram_in ? len : before->max_datagram_in));
    CHECK(now->screened == before->screened + (uint64_t)rc);
}

static void as_listener(uint8_t control, uint8_t *d, size_t len)
{
    enum policy policy = (enum policy)(control & 3);
    int checksum = !(control & 4), admitted;
    memset(&log_, 0, sizeof log_);
    log_.policy = policy;
    gv_transport_set_admit(listener, policy == POLICY_NONE ? NULL : admit, &log_);
    gv_transport_stats before = *gv_transport_get_stats(listener);

    /* From itself: a cookie answer lands on its own socket, where it is
     * checked, instead of on some other process's port. */
    int rc = gv_transport_screen(listener, &listener_addr, d, len, checksum, -1, &admitted);
    const gv_transport_stats *now = gv_transport_get_stats(listener);
    check_common(&before, now, len, rc);
    CHECK(now->cookies_received == before.cookies_received);

    model_result m = model(d, len, checksum);
    int asked = m.connect && policy != POLICY_NONE;
    CHECK(log_.calls == asked);
    int verdict = asked ? log_.verdict : GV_ADMIT_PASS;
    if (asked) {
        CHECK(log_.data == m.data);
        CHECK(log_.addr.host == listener_addr.host && log_.addr.port == listener_addr.port);
    }
    CHECK(rc == (m.screened || verdict != GV_ADMIT_PASS));
    CHECK(admitted == (asked && verdict == GV_ADMIT_PASS));
    int cookie = asked && verdict == GV_ADMIT_COOKIE;
    int refused = asked && verdict != GV_ADMIT_PASS && !cookie;
    CHECK(now->connects_refused == before.connects_refused + (uint64_t)refused);
    CHECK(now->cookies_sent == before.cookies_sent + (uint64_t)cookie);
    CHECK(now->datagrams_out == before.datagrams_out + (uint64_t)cookie);
    CHECK(now->bytes_out == before.bytes_out + (cookie ? GV_COOKIE_DATAGRAM : 0u));

    uint8_t got[64];
    size_t n = receive(got, sizeof got);
    if (cookie) {
        CHECK(n == GV_COOKIE_DATAGRAM);
        CHECK(memcmp(got, "GVCK", 4) == 0 && got[4] == 1);
        CHECK(((uint32_t)got[5] << 16 | (uint32_t)got[6] << 8 | got[7]) == log_.cookie);
        CHECK(memcmp(got + 8, m.connect_id, 4) == 0);
        CHECK(receive(got, sizeof got) == 0);
    } else {
        CHECK(n == 0);
    }
    gv_transport_set_admit(listener, NULL, NULL);
}

static void as_connector(uint8_t control, uint8_t *d, size_t len)
{
    int elsewhere = control & 0x10, admitted;
    uint8_t old_id[4], new_id[4];
    CHECK(gv_transport_connect_pending(connector, old_id));
    if ((control & 0x20) && len >= GV_COOKIE_DATAGRAM)
        memcpy(d + 8, old_id, 4);
    int retries = control >> 6;
    gv_addr from = listener_addr;
    if (elsewhere)
        from.port ^= 1;
    gv_transport_stats before = *gv_transport_get_stats(connector);

    int rc = gv_transport_screen(connector, &from, d, len, 1, retries, &admitted);
    const gv_transport_stats *now = gv_transport_get_stats(connector);
    check_common(&before, now, len, rc);
    CHECK(!admitted);

    /* A connector takes no connections: every CONNECT is screened. */
    model_result m = model(d, len, 1);
    CHECK(rc == (m.screened || m.connect));
    CHECK(now->connects_refused == before.connects_refused + (uint64_t)m.connect);
    int taken = m.compressed && len == GV_COOKIE_DATAGRAM && memcmp(d, "GVCK", 4) == 0 &&
                d[4] == 1 && !elsewhere && memcmp(d + 8, old_id, 4) == 0 &&
                retries < GV_COOKIE_RETRIES;
    CHECK(now->cookies_received == before.cookies_received + (uint64_t)taken);
    CHECK(gv_transport_cookie_retries(connector) == retries + taken);
    CHECK(gv_transport_connect_pending(connector, new_id));
    if (!taken) {
        CHECK(memcmp(new_id, old_id, 4) == 0);
        return;
    }

    /* The retry: one CONNECT to the listener with the cookie above the
     * version byte, under the new connectID. */
    uint32_t cookie = (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
    uint8_t got[256];
    gv_transport_flush(connector);
    size_t n = receive(got, sizeof got);
    model_result sent = model(got, n, 1);
    CHECK(sent.connect && !sent.screened);
    CHECK(sent.data == (VERSION_BYTE | cookie << 8));
    CHECK(memcmp(sent.connect_id, new_id, 4) == 0 && memcmp(new_id, old_id, 4) != 0);
    CHECK(receive(got, sizeof got) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    /* An exactly sized copy: ENet's buffer is writable, libFuzzer's is not. */
    uint8_t *datagram = malloc(len > 0 ? len : 1);
    CHECK(datagram != NULL);
    memcpy(datagram, data + 1, len);
    if (data[0] & 0x08)
        as_connector(data[0], datagram, len);
    else
        as_listener(data[0], datagram, len);
    free(datagram);
    return 0;
}
