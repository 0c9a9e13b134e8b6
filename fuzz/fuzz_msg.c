/* Every sealed-message parser: decode, and re-encode what decoded, which
 * must give back the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/gv_msg.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gv_msg m;
    if (gv_msg_decode(data, size, &m) != 0)
        return 0;
    if (m.type == GV_MSG_WELCOME) {
        gv_reader r;
        gv_reader_init(&r, m.u.welcome.players, m.u.welcome.players_len);
        uint16_t id;
        char name[GV_NAME_MAX + 1];
        for (uint16_t i = 0; i < m.u.welcome.count; i++)
            if (gv_msg_next_player(&r, &id, name) != 0)
                abort();
        return 0;
    }
    uint8_t out[GV_VOICE_RELAY_HEADER + GV_RAW_PAYLOAD];
    int n = gv_msg_encode(&m, out, sizeof out);
    if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
        abort();
    return 0;
}
