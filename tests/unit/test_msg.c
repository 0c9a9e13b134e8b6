/* Encoding and decoding of every lobby and voice message, and the
 * malformed inputs each parser must refuse. Table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "gvoip/error.h"
#include "packet/gv_msg.h"
#include "packet/gv_name.h"

typedef struct decode_case {
    const char *what;
    const uint8_t *bytes;
    size_t len;
    int want; /* 0 or an error code */
} decode_case;

#define CASE(what, want, ...)                                                                                          \
    {what, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), want}

static const decode_case decode_cases[] = {
    CASE("hello alice, no password", 0, 0x20, 5, 'a', 'l', 'i', 'c', 'e', 0, 0),
    CASE("hello with password", 0, 0x20, 1, 'a', 2, 'p', 'w', 0),
    CASE("hello with an unchecked bad name", 0, 0x20, 1, 0x07, 0, 0),
    CASE("hello truncated in name", GV_EMALFORMED, 0x20, 5, 'a', 'l'),
    CASE("hello missing token length", GV_EMALFORMED, 0x20, 1, 'a', 0),
    CASE("hello with a short token", GV_EMALFORMED, 0x20, 1, 'a', 0, 3, 1, 2, 3),
    CASE("hello with trailing bytes", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 0xff),
    CASE("welcome empty list", 0, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x00),
    CASE("welcome one player", 0, 0x21, 0x00, 0x03, 1, 'c', 0x00, 0x01, 0x00, 0x01, 1, 'h'),
    CASE("welcome count larger than list", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0x00, 0x02, 0x00, 0x01, 1, 'h'),
    CASE("welcome count over the maximum", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0xff, 0xff),
    CASE("welcome with an invalid name", GV_EMALFORMED, 0x21, 0x00, 0x02, 1, 0x01, 0x00, 0x00),
    CASE("welcome with an empty name", GV_EMALFORMED, 0x21, 0x00, 0x02, 0, 0x00, 0x00),
    CASE("player joined", 0, 0x22, 0x00, 0x05, 2, 'e', 'd'),
    CASE("player joined, name with bad UTF-8", GV_EMALFORMED, 0x22, 0x00, 0x05, 2, 0xc3, 0x28),
    CASE("player left", 0, 0x23, 0x00, 0x05),
    CASE("player left truncated", GV_EMALFORMED, 0x23, 0x00),
    CASE("refuse", 0, 0x24, 0x02, 4, 'f', 'u', 'l', 'l'),
    CASE("refuse text cut short", GV_EMALFORMED, 0x24, 0x02, 4, 'f'),
    CASE("refuse text over the maximum", GV_EMALFORMED, 0x24, 0x02, 0xff),
    CASE("loss report", 0, 0x25, 0x00, 0x02, 0x00, 0x32),
    CASE("loss report over 1000 permille", GV_EMALFORMED, 0x25, 0x00, 0x02, 0x03, 0xe9),
    CASE("voice", 0, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x01, 0xf8, 0xff, 0xfe),
    CASE("voice with no payload", GV_EMALFORMED, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x01),
    CASE("voice header cut short", GV_EMALFORMED, 0x30, 0x00, 0x01, 0x00),
    CASE("voice with a redundant copy", 0, 0x30, 0x00, 0x02, 0x00, 0x00, 0x07, 0x80, 0x08, 0xf8, 0xff, 0xf8, 0xfe, 0x02),
    CASE("redundant copy longer than the payload", GV_EMALFORMED, 0x30, 0x00, 0x02, 0x00, 0x00, 0x03, 0xc0, 0x08,
         0xf8, 0xff, 0x03),
    CASE("redundant copy leaving no packet", GV_EMALFORMED, 0x30, 0x00, 0x02, 0x00, 0x00, 0x03, 0xc0, 0x08, 0xf8,
         0xfe, 0x02),
    CASE("redundant copy of no bytes", GV_EMALFORMED, 0x30, 0x00, 0x02, 0x00, 0x00, 0x03, 0xc0, 0x08, 0xf8, 0x00),
    CASE("redundant raw audio", GV_EMALFORMED, 0x30, 0x00, 0x02, 0x00, 0x00, 0x03, 0xc0, 0x18, 0xf8, 0xff, 0xf8,
         0xfe, 0x02),
    CASE("voice relay", 0, 0x31, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x00, 0xf8),
    CASE("position", 0, 0x32, 0x00, 0x07, 0xc1, 0x20, 0, 0, 0, 0, 0, 0, 0x40, 0x20, 0, 0, 0, 0, 0, 0, 0xbf, 0x80, 0, 0,
         0, 0, 0, 0),
    CASE("position with trailing byte", GV_EMALFORMED, 0x32, 0x00, 0x07, 0xc1, 0x20, 0, 0, 0, 0, 0, 0, 0x40, 0x20, 0,
         0, 0, 0, 0, 0, 0xbf, 0x80, 0, 0, 0, 0, 0, 0, 0),
    CASE("position with a NaN", GV_EMALFORMED, 0x32, 0x00, 0x07, 0x7f, 0xc0, 0, 0, 0, 0, 0, 0, 0x40, 0x20, 0, 0, 0, 0,
         0, 0, 0xbf, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("position with an infinite facing", GV_EMALFORMED, 0x32, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         0, 0, 0, 0x7f, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("position beyond 1e7", GV_EMALFORMED, 0x32, 0x00, 0x07, 0x4c, 0xbe, 0xbc, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    CASE("position relay", 0, 0x33, 0x00, 0x05, 0x00, 0x07, 0xc1, 0x20, 0, 0, 0, 0, 0, 0, 0x40, 0x20, 0, 0, 0, 0, 0,
         0, 0xbf, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("spatial config 2d", 0, 0x26, 0x01, 0x00, 0x00, 0x41, 0x20, 0, 0, 0x42, 0x48, 0, 0, 0, 0, 0, 0, 0x40, 0x40,
         0, 0, 0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("spatial config, unknown mode", GV_EMALFORMED, 0x26, 0x03, 0x00, 0x00, 0x41, 0x20, 0, 0, 0x42, 0x48, 0, 0,
         0, 0, 0, 0, 0x40, 0x40, 0, 0, 0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("spatial config, unknown model", GV_EMALFORMED, 0x26, 0x02, 0x04, 0x00, 0x41, 0x20, 0, 0, 0x42, 0x48, 0, 0,
         0, 0, 0, 0, 0x40, 0x40, 0, 0, 0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("spatial config, unknown flag", GV_EMALFORMED, 0x26, 0x01, 0x00, 0x02, 0x41, 0x20, 0, 0, 0x42, 0x48, 0, 0,
         0, 0, 0, 0, 0x40, 0x40, 0, 0, 0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("spatial config, infinite max distance", GV_EMALFORMED, 0x26, 0x01, 0x00, 0x00, 0x41, 0x20, 0, 0, 0x7f,
         0x80, 0, 0, 0, 0, 0, 0, 0x40, 0x40, 0, 0, 0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0, 0, 0, 0, 0),
    CASE("unknown type", GV_EUNKNOWN, 0x7f, 1, 2, 3),
    CASE("handshake type is not a sealed message", GV_EUNKNOWN, 0x01),
    CASE("empty", GV_EMALFORMED, 0x00),
};

static void test_decode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
        const decode_case *c = &decode_cases[i];
        gv_msg m;
        size_t len = strcmp(c->what, "empty") == 0 ? 0 : c->len;
        int got = gv_msg_decode(c->bytes, len, &m);
        if (got != c->want)
            fail_msg("case '%s': got %d (%s), want %d", c->what, got, gv_strerror(got), c->want);
        /* Every strict prefix of a valid message is malformed: no parser
         * may accept a truncated message. A voice payload runs to the end,
         * so there only a cut into the header is a truncation. */
        size_t header = c->bytes[0] == GV_MSG_VOICE          ? GV_VOICE_HEADER + 1
                        : c->bytes[0] == GV_MSG_VOICE_RELAY ? GV_VOICE_RELAY_HEADER + 1
                                                            : len;
        if (c->want == 0)
            for (size_t cut = 0; cut < header; cut++)
                if (gv_msg_decode(c->bytes, cut, &m) == 0)
                    fail_msg("case '%s': prefix of %zu bytes accepted", c->what, cut);
    }
}

static void test_voice_roundtrip(void **state)
{
    (void)state;
    uint8_t payload[GV_VOICE_PAYLOAD_MAX];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    uint8_t buf[GV_MTU];
    static const uint16_t lens[] = {1, 60, 1275};
    for (size_t i = 0; i < 3; i++) {
        gv_msg m = {.type = GV_MSG_VOICE_RELAY};
        m.u.voice.sender = 4242;
        m.u.voice.seq = 65535;
        m.u.voice.ts = 0xfffffff0u;
        m.u.voice.flags = GV_VOICE_MARKER;
        m.u.voice.len = lens[i];
        m.u.voice.payload = payload;
        int n = gv_msg_encode(&m, buf, sizeof buf);
        assert_int_equal(n, GV_VOICE_RELAY_HEADER + lens[i]);
        gv_msg d;
        assert_int_equal(gv_msg_decode(buf, (size_t)n, &d), 0);
        assert_int_equal(d.type, GV_MSG_VOICE_RELAY);
        assert_int_equal(d.u.voice.sender, 4242);
        assert_int_equal(d.u.voice.seq, 65535);
        assert_int_equal(d.u.voice.ts, 0xfffffff0u);
        assert_int_equal(d.u.voice.flags, GV_VOICE_MARKER);
        assert_int_equal(d.u.voice.len, lens[i]);
        assert_memory_equal(d.u.voice.payload, payload, lens[i]);
    }
    gv_msg big = {.type = GV_MSG_VOICE};
    big.u.voice.len = GV_VOICE_PAYLOAD_MAX + 1;
    big.u.voice.payload = payload;
    assert_int_equal(gv_msg_encode(&big, buf, sizeof buf), GV_EINVAL);
    /* A voice message too long for Opus is refused by the parser too. */
    memset(buf, 0, sizeof buf);
    buf[0] = GV_MSG_VOICE;
    assert_int_equal(gv_msg_decode(buf, GV_VOICE_HEADER + GV_VOICE_PAYLOAD_MAX + 1, &big), GV_EMALFORMED);
}

/* Packet || copy || copy length, through the encoder and parser and back
 * apart, at the limits of both lengths. */
static void test_voice_redundancy(void **state)
{
    (void)state;
    static const struct {
        size_t len, copy_len;
        int want;
    } cases[] = {
        {1, 1, 3},
        {60, 58, 119},
        {1019, GV_VOICE_REDUNDANT_MAX, GV_VOICE_PAYLOAD_MAX},
        {1020, GV_VOICE_REDUNDANT_MAX, GV_ETOOBIG},
        {10, GV_VOICE_REDUNDANT_MAX + 1, GV_EINVAL},
        {0, 10, GV_EINVAL},
        {10, 0, GV_EINVAL},
    };
    uint8_t packet[GV_VOICE_PAYLOAD_MAX], copy[GV_VOICE_REDUNDANT_MAX + 1], joined[GV_VOICE_PAYLOAD_MAX + 8];
    uint8_t wire[GV_MTU + 64];
    for (size_t i = 0; i < sizeof packet; i++)
        packet[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof copy; i++)
        copy[i] = (uint8_t)(i * 13 + 5);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = gv_voice_join(joined, sizeof joined, packet, cases[c].len, copy, cases[c].copy_len);
        if (n != cases[c].want)
            fail_msg("case %zu: join gave %d, want %d", c, n, cases[c].want);
        if (n < 0)
            continue;
        gv_msg m = {.type = GV_MSG_VOICE};
        m.u.voice.seq = 9;
        m.u.voice.flags = GV_VOICE_REDUNDANT;
        m.u.voice.len = (uint16_t)n;
        m.u.voice.payload = joined;
        int w = gv_msg_encode(&m, wire, sizeof wire);
        assert_int_equal(w, GV_VOICE_HEADER + n);
        gv_msg d;
        assert_int_equal(gv_msg_decode(wire, (size_t)w, &d), 0);
        size_t primary = 0, got_copy_len = 0;
        const uint8_t *got_copy = NULL;
        assert_int_equal(gv_voice_split(d.u.voice.payload, d.u.voice.len, d.u.voice.flags, &primary, &got_copy,
                                        &got_copy_len),
                         0);
        assert_int_equal(primary, cases[c].len);
        assert_int_equal(got_copy_len, cases[c].copy_len);
        assert_memory_equal(d.u.voice.payload, packet, primary);
        assert_memory_equal(got_copy, copy, got_copy_len);
    }
    /* Without the flag the whole payload is the packet. */
    size_t primary = 0, copy_len = 1;
    const uint8_t *cp = packet;
    assert_int_equal(gv_voice_split(packet, 40, 0, &primary, &cp, &copy_len), 0);
    assert_int_equal(primary, 40);
    assert_null(cp);
    assert_int_equal(copy_len, 0);
    /* The encoder refuses a flagged payload whose lengths do not add up. */
    gv_msg bad = {.type = GV_MSG_VOICE};
    uint8_t odd[3] = {0xf8, 0xff, 0x05};
    bad.u.voice.flags = GV_VOICE_REDUNDANT;
    bad.u.voice.len = sizeof odd;
    bad.u.voice.payload = odd;
    assert_int_equal(gv_msg_encode(&bad, wire, sizeof wire), GV_EINVAL);
}

static void test_welcome_roundtrip(void **state)
{
    (void)state;
    uint16_t ids[] = {1, 2, 300};
    const char *names[] = {"host", "alice", "bj\xc3\xb6rn"};
    uint8_t buf[512];
    int n = gv_msg_encode_welcome(7, "carol", 3, ids, names, buf, sizeof buf);
    assert_true(n > 0);
    gv_msg m;
    assert_int_equal(gv_msg_decode(buf, (size_t)n, &m), 0);
    assert_int_equal(m.u.welcome.id, 7);
    assert_int_equal(m.u.welcome.count, 3);
    gv_reader r;
    gv_reader_init(&r, m.u.welcome.players, m.u.welcome.players_len);
    for (int i = 0; i < 3; i++) {
        uint16_t id;
        char name[GV_NAME_MAX + 1];
        assert_int_equal(gv_msg_next_player(&r, &id, name), 0);
        assert_int_equal(id, ids[i]);
        assert_string_equal(name, names[i]);
    }
    assert_int_equal(gv_reader_remaining(&r), 0);
    assert_int_equal(gv_msg_encode_welcome(7, "carol", 3, ids, names, buf, 10), GV_ETOOBIG);
}

static void test_control_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[256];
    gv_msg in[4] = {{.type = GV_MSG_HELLO}, {.type = GV_MSG_PLAYER_JOINED}, {.type = GV_MSG_REFUSE},
                    {.type = GV_MSG_LOSS_REPORT}};
    uint8_t token[GV_HOST_TOKEN_LEN] = {9};
    in[0].u.hello.name = (gv_msg_name){5, "alice"};
    in[0].u.hello.password = (const uint8_t *)"hunter2";
    in[0].u.hello.password_len = 7;
    in[0].u.hello.token = token;
    in[0].u.hello.token_len = GV_HOST_TOKEN_LEN;
    in[1].u.player.id = 9;
    in[1].u.player.name = (gv_msg_name){3, "bob"};
    in[2].u.refuse.code = GV_REFUSE_PASSWORD;
    in[2].u.refuse.text = "wrong password";
    in[2].u.refuse.len = 14;
    in[3].u.loss.id = 3;
    in[3].u.loss.loss_permille = 1000;
    for (int i = 0; i < 4; i++) {
        int n = gv_msg_encode(&in[i], buf, sizeof buf);
        assert_true(n > 0);
        gv_msg out;
        assert_int_equal(gv_msg_decode(buf, (size_t)n, &out), 0);
        assert_int_equal(out.type, in[i].type);
        uint8_t again[256];
        assert_int_equal(gv_msg_encode(&out, again, sizeof again), n);
        assert_memory_equal(again, buf, (size_t)n);
    }
}

static void test_position_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[64];
    gv_msg m = {.type = GV_MSG_POSITION_RELAY};
    m.u.position.sender = 513;
    m.u.position.seq = 65535;
    const gv_player_pose pose = {-10.0f, 0.0f, 2.5f, 0.0f, -1.0f, 1e-30f};
    m.u.position.pose = pose;
    int n = gv_msg_encode(&m, buf, sizeof buf);
    assert_int_equal(n, GV_POSITION_RELAY_LEN);
    gv_msg d;
    assert_int_equal(gv_msg_decode(buf, (size_t)n, &d), 0);
    assert_int_equal(d.u.position.sender, 513);
    assert_int_equal(d.u.position.seq, 65535);
    assert_memory_equal(&d.u.position.pose, &pose, sizeof pose);
    /* The documented example bytes. */
    m.type = GV_MSG_POSITION;
    m.u.position.seq = 7;
    m.u.position.pose.fz = 0.0f;
    static const uint8_t doc[] = {0x32, 0x00, 0x07, 0xc1, 0x20, 0, 0, 0, 0, 0, 0, 0x40, 0x20, 0, 0,
                                  0,    0,    0,    0,    0xbf, 0x80, 0, 0, 0, 0, 0, 0};
    assert_int_equal(gv_msg_encode(&m, buf, sizeof buf), GV_POSITION_LEN);
    assert_memory_equal(buf, doc, sizeof doc);
    m.u.position.pose.y = 2e7f;
    assert_int_equal(gv_msg_encode(&m, buf, sizeof buf), GV_EINVAL);
    m.u.position.pose.y = 0.0f;
    m.u.position.pose.fx = NAN;
    assert_int_equal(gv_msg_encode(&m, buf, sizeof buf), GV_EINVAL);

    gv_msg sp = {.type = GV_MSG_SPATIAL_CONFIG};
    sp.u.spatial.mode = 1;
    sp.u.spatial.unit_size = 10.0f;
    sp.u.spatial.max_distance = 50.0f;
    sp.u.spatial.max_db = 3.0f;
    sp.u.spatial.attenuation = 1.0f;
    sp.u.spatial.panning_strength = 1.0f;
    static const uint8_t sdoc[] = {0x26, 0x01, 0x00, 0x00, 0x41, 0x20, 0, 0, 0x42, 0x48, 0, 0, 0, 0, 0, 0,
                                   0x40, 0x40, 0,    0,    0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0, 0, 0, 0, 0};
    assert_int_equal(gv_msg_encode(&sp, buf, sizeof buf), GV_SPATIAL_CONFIG_LEN);
    assert_memory_equal(buf, sdoc, sizeof sdoc);
    assert_int_equal(gv_msg_decode(buf, GV_SPATIAL_CONFIG_LEN, &d), 0);
    assert_true(d.u.spatial.max_distance == 50.0f && d.u.spatial.unit_size == 10.0f);
    assert_memory_equal(&d.u.spatial, &sp.u.spatial, sizeof sp.u.spatial);
    /* godot_pan is the flag byte's one bit. */
    sp.u.spatial.godot_pan = 1;
    assert_int_equal(gv_msg_encode(&sp, buf, sizeof buf), GV_SPATIAL_CONFIG_LEN);
    assert_int_equal(buf[3], GV_SPATIAL_FLAG_GODOT_PAN);
    assert_int_equal(gv_msg_decode(buf, GV_SPATIAL_CONFIG_LEN, &d), 0);
    assert_int_equal(d.u.spatial.godot_pan, 1);
    /* What a byte or the flag cannot say is refused, not truncated. */
    sp.u.spatial.godot_pan = 2;
    assert_int_equal(gv_msg_encode(&sp, buf, sizeof buf), GV_EINVAL);
    sp.u.spatial.godot_pan = 0;
    sp.u.spatial.mode = 3;
    assert_int_equal(gv_msg_encode(&sp, buf, sizeof buf), GV_EINVAL);
    sp.u.spatial.mode = 1;
    sp.u.spatial.model = -1;
    assert_int_equal(gv_msg_encode(&sp, buf, sizeof buf), GV_EINVAL);
}

typedef struct name_case {
    const char *name;
    int ok;
} name_case;

static void test_names(void **state)
{
    (void)state;
    static const name_case cases[] = {
        {"alice", 1},
        {"a", 1},
        {"abcdefghijklmnopqrstuvwxyz012345", 1},
        {"abcdefghijklmnopqrstuvwxyz0123456", 0},
        {"", 0},
        {"tab\there", 0},
        {"del\x7f", 0},
        {"c1\xc2\x85", 0},     /* U+0085, a C1 control */
        {"\xc3\xa9t\xc3\xa9", 1}, /* été */
        {"\xe2\x82\xac", 1},   /* € */
        {"\xf0\x9f\x8e\xae", 1}, /* 🎮 */
        {"\xc0\xaf", 0},       /* overlong '/' */
        {"\xed\xa0\x80", 0},   /* a surrogate */
        {"\xf4\x90\x80\x80", 0}, /* beyond U+10FFFF */
        {"\xe2\x82", 0},       /* cut short */
        {"\x80", 0},           /* lone continuation */
        {" ", 0},              /* only white space */
        {" \xc2\xa0\xe3\x80\x80 ", 0}, /* no-break and ideographic spaces */
        {"bob smith", 1},
        {"\xe2\x80\xae" "ecila", 0}, /* right-to-left override: shows as "alice" */
        {"al\xe2\x80\x8bice", 0},  /* zero-width space */
        {"\xef\xbb\xbf" "bob", 0},    /* byte-order mark */
        {"bob\xe2\x81\xa6", 0},    /* left-to-right isolate */
        {"\xc2\xad", 0},            /* soft hyphen */
        {"tag\xf3\xa0\x80\x81", 0}, /* a language tag */
        {"bob#2", 0},          /* '#' marks the server's duplicates */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        int rc = gv_name_check(cases[i].name, strlen(cases[i].name), &why);
        if ((rc == 0) != cases[i].ok)
            fail_msg("name case %zu: got %d", i, rc);
        if (!cases[i].ok)
            assert_non_null(why);
    }
    /* What the server assigns may carry its suffix; nothing else is looser. */
    assert_int_equal(gv_name_check_assigned("bob#2", 5, NULL), 0);
    assert_int_equal(gv_name_check_assigned(" ", 1, NULL), GV_ENAME);
    assert_int_equal(gv_name_check_assigned("al\xe2\x80\x8bice", 8, NULL), GV_ENAME);
}

static void test_name_suffix(void **state)
{
    (void)state;
    char out[GV_NAME_MAX + 1];
    gv_name_with_suffix("alice", 1, out);
    assert_string_equal(out, "alice");
    gv_name_with_suffix("alice", 2, out);
    assert_string_equal(out, "alice#2");
    gv_name_with_suffix("abcdefghijklmnopqrstuvwxyz012345", 12, out);
    assert_string_equal(out, "abcdefghijklmnopqrstuvwxyz012#12");
    /* 15 two-byte characters and a one-byte tail: the suffix must not split a character. */
    gv_name_with_suffix("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                        3, out);
    assert_int_equal(gv_name_check_assigned(out, strlen(out), NULL), 0);
    assert_true(strlen(out) <= GV_NAME_MAX);
    assert_int_equal(out[strlen(out) - 1], '3');
    assert_int_equal(out[strlen(out) - 2], '#');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),   cmocka_unit_test(test_voice_roundtrip),
        cmocka_unit_test(test_voice_redundancy),
        cmocka_unit_test(test_welcome_roundtrip), cmocka_unit_test(test_control_roundtrip),
        cmocka_unit_test(test_position_roundtrip),
        cmocka_unit_test(test_names),          cmocka_unit_test(test_name_suffix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
