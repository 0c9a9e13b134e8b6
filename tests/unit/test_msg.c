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

/* A resumption secret, 32 bytes. */
#define SECRET                                                                                                         \
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, \
        0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f

/* 65 bytes of 'l': one more than a lobby's name may have. */
#define LOBBY16 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l', 'l'
#define LOBBY65 LOBBY16, LOBBY16, LOBBY16, LOBBY16, 'l'

static const decode_case decode_cases[] = {
    /* HELLO: name, password, host token, resumption secret, lobby, access token. */
    CASE("hello alice, no password", 0, 0x20, 5, 'a', 'l', 'i', 'c', 'e', 0, 0, 0, 0, 0),
    CASE("hello with password", 0, 0x20, 1, 'a', 2, 'p', 'w', 0, 0, 0, 0),
    CASE("hello with an unchecked bad name", 0, 0x20, 1, 0x07, 0, 0, 0, 0, 0),
    CASE("hello resuming", 0, 0x20, 1, 'a', 0, 0, 32, SECRET, 0, 0),
    CASE("hello to a lobby with a token", 0, 0x20, 1, 'a', 0, 0, 0, 2, 'm', '1', 3, 1, 2, 3),
    CASE("hello truncated in name", GV_EMALFORMED, 0x20, 5, 'a', 'l'),
    CASE("hello missing token length", GV_EMALFORMED, 0x20, 1, 'a', 0),
    CASE("hello with a short token", GV_EMALFORMED, 0x20, 1, 'a', 0, 3, 1, 2, 3, 0, 0, 0),
    CASE("hello in the version 4 layout", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 0),
    CASE("hello with a 5-byte resumption secret", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 5, 1, 2, 3, 4, 5, 0, 0),
    CASE("hello with a resumption secret cut short", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 32, 0, 1, 2, 3, 4, 5, 6, 7, 8,
         9, 10, 11, 12, 13, 14, 15),
    CASE("hello with a 33-byte resumption secret", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 33, SECRET, 0x20, 0, 0),
    CASE("hello with a 65-byte lobby name", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 0, 65, LOBBY65, 0),
    CASE("hello with a token cut short", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 0, 0, 3, 1, 2),
    CASE("mute for all", 0, 0x2a, 0x00, 0x07, 0x01),
    CASE("unmute for all", 0, 0x2a, 0x00, 0x07, 0x00),
    CASE("mute for all: on is 0 or 1", GV_EMALFORMED, 0x2a, 0x00, 0x07, 0x02),
    CASE("mute for all: nobody is id 0", GV_EMALFORMED, 0x2a, 0x00, 0x00, 0x01),
    CASE("mute for all, cut short", GV_EMALFORMED, 0x2a, 0x00, 0x07),
    CASE("mute for all, with a moderator", GV_EMALFORMED, 0x2a, 0x00, 0x07, 0x01, 0x00, 0x02),
    CASE("player muted by 2", 0, 0x2b, 0x00, 0x07, 0x01, 0x00, 0x02),
    CASE("player muted by nobody", GV_EMALFORMED, 0x2b, 0x00, 0x07, 0x01, 0x00, 0x00),
    CASE("player muted, no moderator", GV_EMALFORMED, 0x2b, 0x00, 0x07, 0x01),
    /* REDIRECT: the port of the worker that serves the lobby. */
    CASE("redirect to port 7001", 0, 0x2c, 0x1b, 0x59),
    CASE("redirect to port 65535", 0, 0x2c, 0xff, 0xff),
    CASE("redirect to port 0", GV_EMALFORMED, 0x2c, 0x00, 0x00),
    CASE("redirect cut short", GV_EMALFORMED, 0x2c, 0x1b),
    CASE("redirect with an empty host", GV_EMALFORMED, 0x2c, 0x1b, 0x59, 0x00),
    /* ... or the host and port of another node of the fleet. */
    CASE("redirect to node 10.0.0.2", 0, 0x2c, 0x1b, 0x58, 8, '1', '0', '.', '0', '.', '0', '.', '2'),
    CASE("redirect to node fd00::2", 0, 0x2c, 0x1b, 0x58, 7, 'f', 'd', '0', '0', ':', ':', '2'),
    CASE("redirect to a host with a space", GV_EMALFORMED, 0x2c, 0x1b, 0x58, 3, 'a', ' ', 'b'),
    CASE("redirect to a host cut short", GV_EMALFORMED, 0x2c, 0x1b, 0x58, 4, 'a', 'b'),
    CASE("redirect with bytes after the host", GV_EMALFORMED, 0x2c, 0x1b, 0x58, 1, 'a', 0),
    CASE("hello with trailing bytes", GV_EMALFORMED, 0x20, 1, 'a', 0, 0, 0, 0, 0, 0xff),
    /* WELCOME: id, name, index, slot, epoch, flags, secret, count, then per
     * player id, name, slot, epoch and the 48-bit counter of their next
     * packet. */
    CASE("welcome empty list", 0, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde, 0xad, 0xbe, 0xef, 0x00,
         SECRET, 0x00, 0x00),
    CASE("welcome resumed", 0, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde, 0xad, 0xbe, 0xef, 0x01,
         SECRET, 0x00, 0x00),
    CASE("welcome one player", 0, 0x21, 0x00, 0x03, 1, 'c', 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, SECRET,
         0x00, 0x01, 0x00, 0x01, 1, 'h', 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00),
    CASE("welcome, a counter at 2^48 - 1", 0, 0x21, 0x00, 0x03, 1, 'c', 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
         0x00, SECRET, 0x00, 0x01, 0x00, 0x01, 1, 'h', 0x01, 0x12, 0x34, 0x56, 0x78, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff),
    CASE("welcome, an unknown flag", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde, 0xad,
         0xbe, 0xef, 0x02, SECRET, 0x00, 0x00),
    CASE("welcome, every flag", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde, 0xad,
         0xbe, 0xef, 0xff, SECRET, 0x00, 0x00),
    CASE("welcome count larger than list", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0x01, 0x02, 0x00, 0x00, 0x00,
         0x00, 0x01, 0x00, SECRET, 0x00, 0x02, 0x00, 0x01, 1, 'h', 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00,
         0x00, 0x01, 0x00),
    CASE("welcome count over the maximum", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0x00, 0x05, 0x03, 0, 0, 0, 1, 0x00,
         SECRET, 0xff, 0xff),
    CASE("welcome with an invalid name", GV_EMALFORMED, 0x21, 0x00, 0x02, 1, 0x01, 0x00, 0x05, 0x03, 0, 0, 0, 1, 0x00,
         SECRET, 0x00, 0x00),
    CASE("welcome with an empty name", GV_EMALFORMED, 0x21, 0x00, 0x02, 0, 0x00, 0x05, 0x03, 0, 0, 0, 1, 0x00, SECRET,
         0x00, 0x00),
    CASE("welcome, a player with an invalid name", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0x01, 0x02, 0x00, 0, 0,
         0, 1, 0x00, SECRET, 0x00, 0x01, 0x00, 0x01, 1, 0x7f, 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00,
         0x01, 0x00),
    CASE("welcome in the version 2 layout", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0x00, 0x01, 0x00, 0x01, 1, 'h'),
    CASE("welcome in the version 3 layout", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde,
         0xad, 0xbe, 0xef, 0x00, 0x00),
    CASE("welcome cut in its index", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00),
    CASE("welcome cut in its epoch", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde, 0xad),
    CASE("welcome cut in its secret", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde, 0xad,
         0xbe, 0xef, 0x00, 0x00, 0x01, 0x02, 0x03),
    CASE("welcome without its count", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde,
         0xad, 0xbe, 0xef, 0x00, SECRET),
    CASE("welcome, a player without slot or epoch", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0x01, 0x02, 0x00, 0x00,
         0x00, 0x00, 0x01, 0x00, SECRET, 0x00, 0x01, 0x00, 0x01, 1, 'h'),
    CASE("welcome, a player's counter cut short", GV_EMALFORMED, 0x21, 0x00, 0x03, 1, 'c', 0x01, 0x02, 0x00, 0x00,
         0x00, 0x00, 0x01, 0x00, SECRET, 0x00, 0x01, 0x00, 0x01, 1, 'h', 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00,
         0x00, 0x00, 0x01),
    CASE("welcome with trailing bytes", GV_EMALFORMED, 0x21, 0x00, 0x02, 3, 'b', 'o', 'b', 0x00, 0x05, 0x03, 0xde,
         0xad, 0xbe, 0xef, 0x00, SECRET, 0x00, 0x00, 0x00),
    /* PLAYER_JOINED: id, name, slot, epoch. */
    CASE("player joined", 0, 0x22, 0x00, 0x05, 2, 'e', 'd', 0x07, 0xca, 0xfe, 0xba, 0xbe),
    CASE("player joined, name with bad UTF-8", GV_EMALFORMED, 0x22, 0x00, 0x05, 2, 0xc3, 0x28, 0x07, 0xca, 0xfe,
         0xba, 0xbe),
    CASE("player joined in the version 2 layout", GV_EMALFORMED, 0x22, 0x00, 0x05, 2, 'e', 'd'),
    CASE("player joined cut in its epoch", GV_EMALFORMED, 0x22, 0x00, 0x05, 2, 'e', 'd', 0x07, 0xca, 0xfe, 0xba),
    CASE("player joined with a trailing byte", GV_EMALFORMED, 0x22, 0x00, 0x05, 2, 'e', 'd', 0x07, 0xca, 0xfe, 0xba,
         0xbe, 0x00),
    CASE("player left", 0, 0x23, 0x00, 0x05),
    CASE("player left truncated", GV_EMALFORMED, 0x23, 0x00),
    /* PLAYER_AWAY: id. PLAYER_BACK: id, slot, the new epoch. */
    CASE("player away", 0, 0x28, 0x00, 0x05),
    CASE("player away truncated", GV_EMALFORMED, 0x28, 0x00),
    CASE("player away with a trailing byte", GV_EMALFORMED, 0x28, 0x00, 0x05, 0x00),
    CASE("player back", 0, 0x29, 0x00, 0x05, 0x02, 0x00, 0x00, 0x00, 0x0a),
    CASE("player back without slot or epoch", GV_EMALFORMED, 0x29, 0x00, 0x05),
    CASE("player back cut in its epoch", GV_EMALFORMED, 0x29, 0x00, 0x05, 0x02, 0x00, 0x00, 0x00),
    CASE("player back with a trailing byte", GV_EMALFORMED, 0x29, 0x00, 0x05, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x00),
    CASE("refuse", 0, 0x24, 0x02, 4, 'f', 'u', 'l', 'l'),
    CASE("refuse text cut short", GV_EMALFORMED, 0x24, 0x02, 4, 'f'),
    CASE("refuse text over the maximum", GV_EMALFORMED, 0x24, 0x02, 0xff),
    CASE("loss report", 0, 0x25, 0x00, 0x02, 0x00, 0x32),
    CASE("loss report over 1000 permille", GV_EMALFORMED, 0x25, 0x00, 0x02, 0x03, 0xe9),
    /* Over ENet, voice is only the raw baseline: Opus travels in voice
     * datagrams (gv_datagram). The payload here is one stereo frame. */
    CASE("raw voice", 0, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x10, 0x3f, 0x80, 0, 0, 0xbf, 0x80, 0, 0),
    CASE("raw voice, marker and echo", 0, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x13, 0x3f, 0x80, 0, 0, 0xbf,
         0x80, 0, 0),
    CASE("raw voice of one byte", 0, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x10, 0x00),
    CASE("opus voice", GV_EMALFORMED, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x01, 0xf8, 0xff, 0xfe),
    CASE("voice with no flags", GV_EMALFORMED, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x00, 0xf8, 0xff, 0xfe),
    CASE("raw voice with no payload", GV_EMALFORMED, 0x30, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x10),
    CASE("voice header cut short", GV_EMALFORMED, 0x30, 0x00, 0x01, 0x00),
    CASE("opus voice with a redundant copy", GV_EMALFORMED, 0x30, 0x00, 0x02, 0x00, 0x00, 0x07, 0x80, 0x08, 0xf8, 0xff,
         0xf8, 0xfe, 0x02),
    CASE("redundant raw audio", GV_EMALFORMED, 0x30, 0x00, 0x02, 0x00, 0x00, 0x03, 0xc0, 0x18, 0xf8, 0xff, 0xf8,
         0xfe, 0x02),
    CASE("raw voice relay", 0, 0x31, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x10, 0x3f, 0x80, 0, 0, 0xbf,
         0x80, 0, 0),
    CASE("opus voice relay", GV_EMALFORMED, 0x31, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0, 0x00, 0xf8),
    CASE("raw voice relay with no payload", GV_EMALFORMED, 0x31, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x03, 0xc0,
         0x10),
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
         * so there only a cut into the header is a truncation; a REDIRECT's
         * host is optional, so its first 3 bytes are a whole one. */
        size_t header = c->bytes[0] == GV_MSG_VOICE          ? GV_VOICE_HEADER + 1
                        : c->bytes[0] == GV_MSG_VOICE_RELAY ? GV_VOICE_RELAY_HEADER + 1
                                                            : len;
        if (c->want == 0)
            for (size_t cut = 0; cut < header; cut++)
                if (!(c->bytes[0] == GV_MSG_REDIRECT && cut == 3))
                    if (gv_msg_decode(c->bytes, cut, &m) == 0)
                        fail_msg("case '%s': prefix of %zu bytes accepted", c->what, cut);
    }
}

/* The raw baseline, the only voice ENet carries now, both ways and with
 * the sender or without, at the limits of its length: ENet fragments
 * what exceeds the MTU. */
static void test_voice_roundtrip(void **state)
{
    (void)state;
    static uint8_t payload[GV_RAW_PAYLOAD + 1];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    static uint8_t buf[GV_VOICE_RELAY_HEADER + GV_RAW_PAYLOAD + 1], quiet[sizeof buf];
    static const uint16_t lens[] = {1, 8, GV_MTU, GV_RAW_PAYLOAD};
    static const uint8_t types[] = {GV_MSG_VOICE, GV_MSG_VOICE_RELAY};
    for (size_t t = 0; t < sizeof types; t++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            int relay = types[t] == GV_MSG_VOICE_RELAY;
            gv_msg m = {.type = types[t]};
            m.u.voice.sender = 4242;
            m.u.voice.seq = 65535;
            m.u.voice.ts = 0xfffffff0u;
            m.u.voice.flags = GV_VOICE_RAW | GV_VOICE_MARKER;
            m.u.voice.level = 30;
            m.u.voice.len = lens[i];
            m.u.voice.payload = payload;
            int n = gv_msg_encode(&m, buf, sizeof buf);
            assert_int_equal(n, (relay ? GV_VOICE_RELAY_HEADER : GV_VOICE_HEADER) + lens[i]);
            /* The level is not on the ENet wire. */
            m.u.voice.level = 127;
            assert_int_equal(gv_msg_encode(&m, quiet, sizeof quiet), n);
            assert_memory_equal(quiet, buf, (size_t)n);
            gv_msg d;
            assert_int_equal(gv_msg_decode(buf, (size_t)n, &d), 0);
            assert_int_equal(d.type, types[t]);
            assert_int_equal(d.u.voice.sender, relay ? 4242 : 0);
            assert_int_equal(d.u.voice.seq, 65535);
            assert_int_equal(d.u.voice.ts, 0xfffffff0u);
            assert_int_equal(d.u.voice.flags, GV_VOICE_RAW | GV_VOICE_MARKER);
            assert_int_equal(d.u.voice.len, lens[i]);
            assert_memory_equal(d.u.voice.payload, payload, lens[i]);
            /* One byte short of room is too big, not a cut message. */
            assert_int_equal(gv_msg_encode(&m, buf, (size_t)n - 1), GV_ETOOBIG);
        }
    }
    /* What the encoder refuses: Opus (it travels in voice datagrams), an
     * empty or missing payload, and more than one raw frame. */
    static const struct {
        uint8_t flags;
        uint16_t len;
        int null_payload;
    } refused[] = {
        {GV_VOICE_MARKER, 60, 0}, {0, 1, 0}, {GV_VOICE_REDUNDANT, 5, 0},
        {GV_VOICE_RAW, 0, 0},     {GV_VOICE_RAW, GV_RAW_PAYLOAD + 1, 0}, {GV_VOICE_RAW, 8, 1},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        for (size_t t = 0; t < sizeof types; t++) {
            gv_msg bad = {.type = types[t]};
            bad.u.voice.flags = refused[i].flags;
            bad.u.voice.len = refused[i].len;
            bad.u.voice.payload = refused[i].null_payload ? NULL : payload;
            int got = gv_msg_encode(&bad, buf, sizeof buf);
            if (got != GV_EINVAL)
                fail_msg("refused case %zu, type 0x%02x: got %d, want GV_EINVAL", i, types[t], got);
        }
    }
    /* The parser draws the same line: a whole raw frame, and not a byte more. */
    gv_msg d;
    memset(buf, 0, sizeof buf);
    buf[0] = GV_MSG_VOICE;
    buf[GV_VOICE_HEADER - 1] = GV_VOICE_RAW;
    assert_int_equal(gv_msg_decode(buf, GV_VOICE_HEADER + GV_RAW_PAYLOAD, &d), 0);
    assert_int_equal(d.u.voice.len, GV_RAW_PAYLOAD);
    assert_int_equal(gv_msg_decode(buf, GV_VOICE_HEADER + GV_RAW_PAYLOAD + 1, &d), GV_EMALFORMED);
    /* An Opus packet of a valid size is still not ENet's to carry. */
    buf[GV_VOICE_HEADER - 1] = GV_VOICE_MARKER;
    assert_int_equal(gv_msg_decode(buf, GV_VOICE_HEADER + 60, &d), GV_EMALFORMED);
}

typedef struct split_case {
    const char *what;
    uint8_t flags;
    const uint8_t *payload;
    size_t len;
    int want; /* 0 or an error code */
    size_t primary, copy_len; /* when want is 0 */
} split_case;

#define SPLIT(what, flags, want, primary, copy_len, ...)                                                              \
    {what, flags, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), want, primary, copy_len}

/* gv_voice_split on its own: the redundancy layout no longer crosses
 * ENet (voice datagrams carry it), but the layout itself is unchanged. */
static const split_case split_cases[] = {
    SPLIT("a redundant copy", GV_VOICE_REDUNDANT, 0, 2, 2, 0xf8, 0xff, 0xf8, 0xfe, 0x02),
    SPLIT("a redundant copy after a marker", GV_VOICE_REDUNDANT | GV_VOICE_MARKER, 0, 2, 2, 0xf8, 0xff, 0xf8, 0xfe,
          0x02),
    SPLIT("the shortest packet and copy", GV_VOICE_REDUNDANT, 0, 1, 1, 0xf8, 0xfe, 0x01),
    SPLIT("no flag: all of it is the packet", 0, 0, 3, 0, 0xf8, 0xff, 0x03),
    SPLIT("raw audio: all of it is the packet", GV_VOICE_RAW, 0, 3, 0, 0xf8, 0xff, 0x03),
    SPLIT("redundant copy longer than the payload", GV_VOICE_REDUNDANT, GV_EMALFORMED, 0, 0, 0xf8, 0xff, 0x03),
    SPLIT("redundant copy leaving no packet", GV_VOICE_REDUNDANT, GV_EMALFORMED, 0, 0, 0xf8, 0xfe, 0x02),
    SPLIT("redundant copy of no bytes", GV_VOICE_REDUNDANT, GV_EMALFORMED, 0, 0, 0xf8, 0x00),
    SPLIT("a lone length byte", GV_VOICE_REDUNDANT, GV_EMALFORMED, 0, 0, 0x01),
    SPLIT("redundant raw audio", GV_VOICE_REDUNDANT | GV_VOICE_RAW, GV_EMALFORMED, 0, 0, 0xf8, 0xff, 0xf8, 0xfe,
          0x02),
};

static void test_voice_split_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
        const split_case *c = &split_cases[i];
        size_t primary = 99, copy_len = 99;
        const uint8_t *copy = c->payload;
        int got = gv_voice_split(c->payload, c->len, c->flags, &primary, &copy, &copy_len);
        if (got != c->want)
            fail_msg("case '%s': got %d (%s), want %d", c->what, got, gv_strerror(got), c->want);
        if (got != 0)
            continue;
        if (primary != c->primary || copy_len != c->copy_len)
            fail_msg("case '%s': split %zu + %zu, want %zu + %zu", c->what, primary, copy_len, c->primary,
                     c->copy_len);
        if (copy != (c->copy_len ? c->payload + c->primary : NULL))
            fail_msg("case '%s': the copy is not where it should be", c->what);
    }
    /* Nothing, or nowhere to say where it lies, is malformed too. */
    size_t primary, copy_len;
    const uint8_t *copy;
    static const uint8_t one[] = {0xf8};
    assert_int_equal(gv_voice_split(one, 0, 0, &primary, &copy, &copy_len), GV_EMALFORMED);
    assert_int_equal(gv_voice_split(NULL, 1, 0, &primary, &copy, &copy_len), GV_EMALFORMED);
    assert_int_equal(gv_voice_split(one, 1, 0, NULL, &copy, &copy_len), GV_EMALFORMED);
}

/* Packet || copy || copy length, joined and split apart again at the
 * limits of both lengths; and refused over ENet, whose voice is raw. */
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
        size_t primary = 0, got_copy_len = 0;
        const uint8_t *got_copy = NULL;
        assert_int_equal(gv_voice_split(joined, (size_t)n, GV_VOICE_REDUNDANT, &primary, &got_copy, &got_copy_len),
                         0);
        assert_int_equal(primary, cases[c].len);
        assert_int_equal(got_copy_len, cases[c].copy_len);
        assert_memory_equal(joined, packet, primary);
        assert_memory_equal(got_copy, copy, got_copy_len);
        assert_int_equal(joined[n - 1], cases[c].copy_len);
        /* ENet carries raw audio only: neither end lets Opus through. */
        gv_msg m = {.type = GV_MSG_VOICE};
        m.u.voice.seq = 9;
        m.u.voice.flags = GV_VOICE_REDUNDANT;
        m.u.voice.len = (uint16_t)n;
        m.u.voice.payload = joined;
        assert_int_equal(gv_msg_encode(&m, wire, sizeof wire), GV_EINVAL);
        memset(wire, 0, GV_VOICE_HEADER);
        wire[0] = GV_MSG_VOICE;
        wire[GV_VOICE_HEADER - 1] = GV_VOICE_REDUNDANT;
        memcpy(wire + GV_VOICE_HEADER, joined, (size_t)n);
        gv_msg d;
        assert_int_equal(gv_msg_decode(wire, GV_VOICE_HEADER + (size_t)n, &d), GV_EMALFORMED);
    }
    /* join refuses a lack of room and missing buffers. */
    assert_int_equal(gv_voice_join(joined, 5, packet, 3, copy, 2), GV_ETOOBIG);
    assert_int_equal(gv_voice_join(joined, 6, packet, 3, copy, 2), 6);
    assert_int_equal(gv_voice_join(NULL, 6, packet, 3, copy, 2), GV_EINVAL);
    assert_int_equal(gv_voice_join(joined, 6, NULL, 3, copy, 2), GV_EINVAL);
    assert_int_equal(gv_voice_join(joined, 6, packet, 3, NULL, 2), GV_EINVAL);
}

static void test_welcome_roundtrip(void **state)
{
    (void)state;
    const gv_msg_player player = {.id = 7, .slot = 4, .epoch = 0xdeadbeefu, .next = 12345, .name = "carol"};
    const gv_msg_player players[] = {
        {.id = 1, .slot = 0, .epoch = 1, .next = 0, .name = "host"},
        {.id = 2, .slot = 255, .epoch = 0xffffffffu, .next = GV_VOICE_COUNTER_LIMIT - 1, .name = "alice"},
        {.id = 300, .slot = 17, .epoch = 0x01020304u, .next = 0x123456789abcull, .name = "bj\xc3\xb6rn"},
    };
    enum { COUNT = sizeof players / sizeof players[0] };
    uint8_t secret[GV_RESUME_SECRET_LEN];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(0xa0 + i);
    gv_msg_welcome_self self = {.player = &player, .index = 0xbeef, .flags = GV_WELCOME_RESUMED, .resume = secret};
    /* type, id, name, index, slot, epoch, flags, secret, count; per player
     * id, name, slot, epoch, next. */
    size_t want = 1 + 2 + 1 + strlen(player.name) + 2 + 1 + 4 + 1 + GV_RESUME_SECRET_LEN + 2;
    for (size_t i = 0; i < COUNT; i++)
        want += 2 + 1 + strlen(players[i].name) + 1 + 4 + 6;
    uint8_t buf[512];
    int n = gv_msg_encode_welcome(&self, COUNT, players, buf, sizeof buf);
    assert_int_equal(n, want);
    gv_msg m;
    assert_int_equal(gv_msg_decode(buf, (size_t)n, &m), 0);
    assert_int_equal(m.type, GV_MSG_WELCOME);
    assert_int_equal(m.u.welcome.id, 7);
    assert_int_equal(m.u.welcome.name.len, 5);
    assert_memory_equal(m.u.welcome.name.bytes, "carol", 5);
    assert_int_equal(m.u.welcome.index, 0xbeef);
    assert_int_equal(m.u.welcome.slot, 4);
    assert_int_equal(m.u.welcome.epoch, 0xdeadbeefu);
    assert_int_equal(m.u.welcome.flags, GV_WELCOME_RESUMED);
    assert_memory_equal(m.u.welcome.resume, secret, sizeof secret);
    assert_int_equal(m.u.welcome.count, COUNT);
    gv_reader r;
    gv_reader_init(&r, m.u.welcome.players, m.u.welcome.players_len);
    for (size_t i = 0; i < COUNT; i++) {
        gv_msg_player p;
        memset(&p, 0xa5, sizeof p);
        assert_int_equal(gv_msg_next_player(&r, &p), 0);
        assert_int_equal(p.id, players[i].id);
        assert_string_equal(p.name, players[i].name);
        assert_int_equal(p.slot, players[i].slot);
        assert_int_equal(p.epoch, players[i].epoch);
        assert_true(p.next == players[i].next);
    }
    assert_int_equal(gv_reader_remaining(&r), 0);
    gv_msg_player past;
    assert_int_equal(gv_msg_next_player(&r, &past), GV_EMALFORMED);

    /* Our own counter is not sent. */
    gv_msg_player other_next = player;
    other_next.next = 0;
    gv_msg_welcome_self again_self = self;
    again_self.player = &other_next;
    uint8_t again[512];
    assert_int_equal(gv_msg_encode_welcome(&again_self, COUNT, players, again, sizeof again), n);
    assert_memory_equal(again, buf, (size_t)n);

    /* The bytes of the decode table's "welcome one player". */
    static const uint8_t doc[] = {0x21, 0x00, 0x03, 1,    'c',  0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                                  SECRET, 0x00, 0x01, 0x00, 0x01, 1,    'h',  0x01, 0x12, 0x34, 0x56, 0x78,
                                  0x00, 0x00, 0x00, 0x00, 0x01, 0x00};
    static const uint8_t doc_secret[] = {SECRET};
    const gv_msg_player c = {.id = 3, .slot = 0, .epoch = 1, .name = "c"};
    const gv_msg_player h = {.id = 1, .slot = 1, .epoch = 0x12345678u, .next = 0x100, .name = "h"};
    gv_msg_welcome_self cs = {.player = &c, .index = 0x0102, .flags = 0, .resume = doc_secret};
    assert_int_equal(gv_msg_encode_welcome(&cs, 1, &h, buf, sizeof buf), sizeof doc);
    assert_memory_equal(buf, doc, sizeof doc);
    /* An empty lobby: no list to give. */
    const size_t alone = 1 + 2 + 1 + 1 + 2 + 1 + 4 + 1 + GV_RESUME_SECRET_LEN + 2;
    assert_int_equal(gv_msg_encode_welcome(&cs, 0, NULL, buf, sizeof buf), alone);
    assert_int_equal(gv_msg_decode(buf, alone, &m), 0);
    assert_int_equal(m.u.welcome.flags, 0);
    assert_int_equal(m.u.welcome.count, 0);
    assert_int_equal(m.u.welcome.players_len, 0);

    /* Too little room, to the byte. */
    assert_int_equal(gv_msg_encode_welcome(&self, COUNT, players, buf, 10), GV_ETOOBIG);
    assert_int_equal(gv_msg_encode_welcome(&self, COUNT, players, buf, (size_t)n - 1), GV_ETOOBIG);
    /* A counter beyond 48 bits cannot be said. */
    gv_msg_player wide[COUNT];
    memcpy(wide, players, sizeof wide);
    wide[2].next = GV_VOICE_COUNTER_LIMIT;
    assert_int_equal(gv_msg_encode_welcome(&self, COUNT, wide, buf, sizeof buf), GV_EINVAL);
    wide[2].next = UINT64_MAX;
    assert_int_equal(gv_msg_encode_welcome(&self, COUNT, wide, buf, sizeof buf), GV_EINVAL);
    /* Nor a lobby larger than the maximum, or a list that is not there. */
    assert_int_equal(gv_msg_encode_welcome(NULL, COUNT, players, buf, sizeof buf), GV_EINVAL);
    assert_int_equal(gv_msg_encode_welcome(&self, COUNT, NULL, buf, sizeof buf), GV_EINVAL);
    assert_int_equal(gv_msg_encode_welcome(&self, GV_MAX_PLAYERS + 1, players, buf, sizeof buf), GV_EINVAL);
    /* Nor a flag this version does not know, or no player or secret. */
    static const uint8_t bad_flags[] = {0x02, 0x80, 0xff};
    for (size_t i = 0; i < sizeof bad_flags; i++) {
        gv_msg_welcome_self bad = self;
        bad.flags = bad_flags[i];
        assert_int_equal(gv_msg_encode_welcome(&bad, COUNT, players, buf, sizeof buf), GV_EINVAL);
    }
    gv_msg_welcome_self no_player = self, no_secret = self;
    no_player.player = NULL;
    no_secret.resume = NULL;
    assert_int_equal(gv_msg_encode_welcome(&no_player, COUNT, players, buf, sizeof buf), GV_EINVAL);
    assert_int_equal(gv_msg_encode_welcome(&no_secret, COUNT, players, buf, sizeof buf), GV_EINVAL);
}

/* PLAYER_RTT: every entry back as written, the bytes as documented, and
 * what does not add up refused. */
static void test_rtt_roundtrip(void **state)
{
    (void)state;
    const uint16_t ids[] = {1, 3}, rtts[] = {12, 110};
    const uint8_t doc[] = {0x27, 0x00, 0x02, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x03, 0x00, 0x6e};
    uint8_t buf[64];
    int n = gv_msg_encode_rtt(2, ids, rtts, buf, sizeof buf);
    assert_int_equal(n, sizeof doc);
    assert_memory_equal(buf, doc, sizeof doc);
    gv_msg m;
    assert_int_equal(gv_msg_decode(buf, (size_t)n, &m), 0);
    assert_int_equal(m.type, GV_MSG_PLAYER_RTT);
    assert_int_equal(m.u.rtt.count, 2);
    gv_reader r;
    gv_reader_init(&r, m.u.rtt.entries, (size_t)m.u.rtt.count * 4);
    for (int i = 0; i < 2; i++) {
        uint16_t id, rtt;
        assert_int_equal(gv_msg_next_rtt(&r, &id, &rtt), 0);
        assert_int_equal(id, ids[i]);
        assert_int_equal(rtt, rtts[i]);
    }
    uint16_t id, rtt;
    assert_int_equal(gv_msg_next_rtt(&r, &id, &rtt), GV_EMALFORMED);
    /* Cut short, a byte too many, a count over the limit. */
    assert_int_equal(gv_msg_decode(buf, (size_t)n - 1, &m), GV_EMALFORMED);
    buf[n] = 0;
    assert_int_equal(gv_msg_decode(buf, (size_t)n + 1, &m), GV_EMALFORMED);
    const uint8_t over[] = {0x27, 0x01, 0x01};
    assert_int_equal(gv_msg_decode(over, sizeof over, &m), GV_EMALFORMED);
    assert_int_equal(gv_msg_encode_rtt(2, ids, rtts, buf, 10), GV_ETOOBIG);
    assert_int_equal(gv_msg_encode_rtt(GV_MAX_PLAYERS + 1, ids, rtts, buf, sizeof buf), GV_EINVAL);
    assert_int_equal(gv_msg_encode_rtt(2, NULL, rtts, buf, sizeof buf), GV_EINVAL);
}

static void test_control_roundtrip(void **state)
{
    (void)state;
    enum { N = 8 };
    uint8_t buf[256];
    gv_msg in[N] = {{.type = GV_MSG_HELLO},       {.type = GV_MSG_HELLO},       {.type = GV_MSG_PLAYER_JOINED},
                    {.type = GV_MSG_PLAYER_LEFT}, {.type = GV_MSG_PLAYER_AWAY}, {.type = GV_MSG_PLAYER_BACK},
                    {.type = GV_MSG_REFUSE},      {.type = GV_MSG_LOSS_REPORT}};
    static const int lens[N] = {1 + 1 + 5 + 1 + 7 + 1 + GV_HOST_TOKEN_LEN + 1 + 1 + 8 + 1 + 3,
                                1 + 1 + 3 + 1 + 1 + 1 + GV_RESUME_SECRET_LEN + 1 + 1,
                                1 + 2 + 1 + 3 + 1 + 4,
                                1 + 2,
                                1 + 2,
                                1 + 2 + 1 + 4,
                                1 + 1 + 1 + 14,
                                1 + 2 + 2};
    uint8_t token[GV_HOST_TOKEN_LEN] = {9};
    static const uint8_t secret[GV_RESUME_SECRET_LEN] = {SECRET};
    in[0].u.hello.name = (gv_msg_name){5, "alice"};
    in[0].u.hello.password = (const uint8_t *)"hunter2";
    in[0].u.hello.password_len = 7;
    in[0].u.hello.host_token = token;
    in[0].u.hello.host_token_len = GV_HOST_TOKEN_LEN;
    static const uint8_t access[] = {1, 2, 3};
    in[0].u.hello.lobby = (gv_msg_name){8, "match#42"};
    in[0].u.hello.access = access;
    in[0].u.hello.access_len = sizeof access;
    /* A resume to the default lobby: no password, no token. */
    in[1].u.hello.name = (gv_msg_name){3, "bob"};
    in[1].u.hello.resume = secret;
    in[1].u.hello.resume_len = GV_RESUME_SECRET_LEN;
    in[2].u.player.id = 9;
    in[2].u.player.name = (gv_msg_name){3, "bob"};
    in[2].u.player.slot = 200;
    in[2].u.player.epoch = 0x89abcdefu;
    /* PLAYER_LEFT and PLAYER_AWAY say only who: slot and epoch stay home. */
    for (int i = 3; i <= 4; i++) {
        in[i].u.player.id = 9;
        in[i].u.player.slot = 200;
        in[i].u.player.epoch = 0x89abcdefu;
    }
    in[5].u.player.id = 9;
    in[5].u.player.name = (gv_msg_name){3, "bob"}; /* not sent: the name is the one they had */
    in[5].u.player.slot = 200;
    in[5].u.player.epoch = 0x89abcdefu;
    in[6].u.refuse.code = GV_REFUSE_PASSWORD;
    in[6].u.refuse.text = "wrong password";
    in[6].u.refuse.len = 14;
    in[7].u.loss.id = 3;
    in[7].u.loss.loss_permille = 1000;
    for (int i = 0; i < N; i++) {
        int n = gv_msg_encode(&in[i], buf, sizeof buf);
        if (n != lens[i])
            fail_msg("message %d (0x%02x): encoded %d bytes, want %d", i, in[i].type, n, lens[i]);
        gv_msg out;
        assert_int_equal(gv_msg_decode(buf, (size_t)n, &out), 0);
        assert_int_equal(out.type, in[i].type);
        uint8_t again[256];
        assert_int_equal(gv_msg_encode(&out, again, sizeof again), n);
        assert_memory_equal(again, buf, (size_t)n);
        switch (out.type) {
        case GV_MSG_HELLO:
            assert_int_equal(out.u.hello.resume_len, in[i].u.hello.resume_len);
            if (out.u.hello.resume_len)
                assert_memory_equal(out.u.hello.resume, secret, sizeof secret);
            assert_int_equal(out.u.hello.host_token_len, in[i].u.hello.host_token_len);
            assert_int_equal(out.u.hello.lobby.len, in[i].u.hello.lobby.len);
            assert_memory_equal(out.u.hello.lobby.bytes, in[i].u.hello.lobby.bytes, out.u.hello.lobby.len);
            assert_int_equal(out.u.hello.access_len, in[i].u.hello.access_len);
            assert_memory_equal(out.u.hello.access, in[i].u.hello.access, out.u.hello.access_len);
            break;
        case GV_MSG_PLAYER_JOINED:
        case GV_MSG_PLAYER_BACK: {
            assert_int_equal(out.u.player.id, 9);
            assert_int_equal(out.u.player.slot, 200);
            assert_int_equal(out.u.player.epoch, 0x89abcdefu);
            /* slot then epoch, big-endian, last. */
            static const uint8_t tail[] = {200, 0x89, 0xab, 0xcd, 0xef};
            assert_memory_equal(buf + n - sizeof tail, tail, sizeof tail);
            if (out.type == GV_MSG_PLAYER_JOINED) {
                assert_int_equal(out.u.player.name.len, 3);
                assert_memory_equal(out.u.player.name.bytes, "bob", 3);
            }
            break;
        }
        case GV_MSG_PLAYER_LEFT:
        case GV_MSG_PLAYER_AWAY:
            assert_int_equal(out.u.player.id, 9);
            break;
        default:
            break;
        }
    }
    /* A secret of any other length cannot be said. */
    gv_msg bad = in[1];
    static const uint8_t bad_lens[] = {5, GV_RESUME_SECRET_LEN - 1, GV_RESUME_SECRET_LEN + 1, 0xff};
    for (size_t i = 0; i < sizeof bad_lens; i++) {
        bad.u.hello.resume_len = bad_lens[i];
        assert_int_equal(gv_msg_encode(&bad, buf, sizeof buf), GV_EINVAL);
    }
    /* A lobby's name is at most 64 bytes, both ways. */
    char lobby[GV_LOBBY_NAME_MAX + 1];
    memset(lobby, 'l', sizeof lobby);
    bad = in[1];
    bad.u.hello.lobby = (gv_msg_name){GV_LOBBY_NAME_MAX + 1, lobby};
    assert_int_equal(gv_msg_encode(&bad, buf, sizeof buf), GV_EINVAL);
    bad.u.hello.lobby.len = GV_LOBBY_NAME_MAX;
    int n = gv_msg_encode(&bad, buf, sizeof buf);
    assert_true(n > 0);
    gv_msg out;
    assert_int_equal(gv_msg_decode(buf, (size_t)n, &out), 0);
    buf[n - 2 - GV_LOBBY_NAME_MAX] = GV_LOBBY_NAME_MAX + 1; /* the length byte, one too many */
    buf[n] = 0;
    assert_int_equal(gv_msg_decode(buf, (size_t)n + 1, &out), GV_EMALFORMED);
}

/* The lobby examples of docs/protocol.md, byte for byte. */
static void test_protocol_doc_examples(void **state)
{
    (void)state;
    uint8_t buf[256];
    uint8_t secret[GV_RESUME_SECRET_LEN];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(0xa0 + i);

    gv_msg hello = {.type = GV_MSG_HELLO};
    hello.u.hello.name = (gv_msg_name){5, "alice"};
    static const uint8_t fresh[] = {0x20, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(gv_msg_encode(&hello, buf, sizeof buf), sizeof fresh);
    assert_memory_equal(buf, fresh, sizeof fresh);
    hello.u.hello.lobby = (gv_msg_name){3, "red"};
    static const uint8_t red[] = {0x20, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x00, 0x00,
                                  0x00, 0x03, 0x72, 0x65, 0x64, 0x00};
    assert_int_equal(gv_msg_encode(&hello, buf, sizeof buf), sizeof red);
    assert_memory_equal(buf, red, sizeof red);
    hello.u.hello.lobby = (gv_msg_name){0, NULL};
    hello.u.hello.resume = secret;
    hello.u.hello.resume_len = GV_RESUME_SECRET_LEN;
    static const uint8_t resume[] = {0x20, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x00, 0x00, 0x20, 0xa0, 0xa1, 0xa2,
                                     0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
                                     0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc,
                                     0xbd, 0xbe, 0xbf, 0x00, 0x00};
    assert_int_equal(gv_msg_encode(&hello, buf, sizeof buf), sizeof resume);
    assert_memory_equal(buf, resume, sizeof resume);

    /* carol, id 3, index 5, slot 1, epoch 7, resumed; host (id 1, slot 0,
     * epoch 1) has sent 300 voice packets. */
    const gv_msg_player carol = {.id = 3, .slot = 1, .epoch = 7, .name = "carol"};
    const gv_msg_player host = {.id = 1, .slot = 0, .epoch = 1, .next = 300, .name = "host"};
    gv_msg_welcome_self self = {.player = &carol, .index = 5, .flags = GV_WELCOME_RESUMED, .resume = secret};
    static const uint8_t welcome[] = {
        0x21, 0x00, 0x03, 0x05, 0x63, 0x61, 0x72, 0x6f, 0x6c, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01,
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0,
        0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0x00, 0x01,
        0x00, 0x01, 0x04, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x2c};
    assert_int_equal(gv_msg_encode_welcome(&self, 1, &host, buf, sizeof buf), sizeof welcome);
    assert_memory_equal(buf, welcome, sizeof welcome);

    gv_msg away = {.type = GV_MSG_PLAYER_AWAY}, back = {.type = GV_MSG_PLAYER_BACK};
    away.u.player.id = 5;
    back.u.player.id = 5;
    back.u.player.slot = 2;
    back.u.player.epoch = 10;
    static const uint8_t away_doc[] = {0x28, 0x00, 0x05};
    static const uint8_t back_doc[] = {0x29, 0x00, 0x05, 0x02, 0x00, 0x00, 0x00, 0x0a};
    assert_int_equal(gv_msg_encode(&away, buf, sizeof buf), sizeof away_doc);
    assert_memory_equal(buf, away_doc, sizeof away_doc);
    assert_int_equal(gv_msg_encode(&back, buf, sizeof buf), sizeof back_doc);
    assert_memory_equal(buf, back_doc, sizeof back_doc);

    /* The lobby is served on port 7001: encoded, decoded, and port 0
     * cannot be said. */
    gv_msg redirect = {.type = GV_MSG_REDIRECT};
    redirect.u.redirect.port = 7001;
    static const uint8_t redirect_doc[] = {0x2c, 0x1b, 0x59};
    assert_int_equal(gv_msg_encode(&redirect, buf, sizeof buf), sizeof redirect_doc);
    assert_memory_equal(buf, redirect_doc, sizeof redirect_doc);
    gv_msg out;
    assert_int_equal(gv_msg_decode(redirect_doc, sizeof redirect_doc, &out), 0);
    assert_int_equal(out.type, GV_MSG_REDIRECT);
    assert_int_equal(out.u.redirect.port, 7001);
    redirect.u.redirect.port = 0;
    assert_int_equal(gv_msg_encode(&redirect, buf, sizeof buf), GV_EINVAL);

    /* To another node of the fleet, as docs/protocol.md shows it. */
    redirect.u.redirect.port = 7000;
    redirect.u.redirect.host = "10.0.0.2";
    redirect.u.redirect.host_len = 8;
    static const uint8_t node_doc[] = {0x2c, 0x1b, 0x58, 0x08, '1', '0', '.', '0', '.', '0', '.', '2'};
    assert_int_equal(gv_msg_encode(&redirect, buf, sizeof buf), sizeof node_doc);
    assert_memory_equal(buf, node_doc, sizeof node_doc);
    assert_int_equal(gv_msg_decode(node_doc, sizeof node_doc, &out), 0);
    assert_int_equal(out.u.redirect.port, 7000);
    assert_int_equal(out.u.redirect.host_len, 8);
    assert_memory_equal(out.u.redirect.host, "10.0.0.2", 8);
    redirect.u.redirect.host = "a b";
    redirect.u.redirect.host_len = 3;
    assert_int_equal(gv_msg_encode(&redirect, buf, sizeof buf), GV_EINVAL);
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
        cmocka_unit_test(test_voice_split_table), cmocka_unit_test(test_voice_redundancy),
        cmocka_unit_test(test_welcome_roundtrip), cmocka_unit_test(test_control_roundtrip),
        cmocka_unit_test(test_protocol_doc_examples), cmocka_unit_test(test_rtt_roundtrip),
        cmocka_unit_test(test_position_roundtrip),
        cmocka_unit_test(test_names),          cmocka_unit_test(test_name_suffix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
