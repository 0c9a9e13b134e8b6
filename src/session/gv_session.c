#include "session/gv_session.h"

#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"

void gv_session_prologue(int version, uint8_t out[GV_SESSION_PROLOGUE])
{
    memcpy(out, "gvoip", 5);
    out[5] = (uint8_t)version;
}

int gv_session_initiate(int version, int offer_aes, gv_noise **noise, uint8_t msg[GV_SESSION_INIT_LEN])
{
    uint8_t pro[GV_SESSION_PROLOGUE];
    /* Every client of this version reads a fleet certificate: asking costs
     * nothing where the server has none. */
    uint8_t pad[GV_HANDSHAKE_PAD] = {(uint8_t)((offer_aes ? GV_CIPHER_OFFER_AES256GCM : 0) | GV_OFFER_FLEET_CERT)};
    gv_session_prologue(version, pro);
    int rc = gv_noise_initiator_create(pro, sizeof pro, noise);
    if (rc != 0)
        return rc;
    msg[0] = GV_HANDSHAKE_INIT;
    int n = gv_noise_write_message(*noise, pad, sizeof pad, msg + 1, GV_SESSION_INIT_LEN - 1);
    return n < 0 ? n : n + 1;
}

int gv_session_keys(gv_noise **noise, int cipher, gv_seal **out)
{
    gv_seal_keys keys;
    int rc = gv_noise_split(*noise, &keys);
    if (rc == 0) {
        keys.cipher = (gv_seal_cipher)cipher;
        rc = gv_seal_create(&keys, out);
    }
    sodium_memzero(&keys, sizeof keys);
    gv_noise_destroy(*noise);
    *noise = NULL;
    return rc;
}

int gv_session_send(gv_transport *t, int peer, gv_seal *seal, gv_session_buffers *b, uint8_t channel,
                    const uint8_t *plain, size_t len, int fragment)
{
    int n = gv_seal_encrypt(seal, channel, NULL, 0, plain, len, b->sealed, sizeof b->sealed);
    if (n < 0)
        return n;
    return gv_transport_send(t, peer, channel, b->sealed, (size_t)n, fragment);
}

int gv_session_send_msg(gv_transport *t, int peer, gv_seal *seal, gv_session_buffers *b, uint8_t channel,
                        const gv_msg *m)
{
    uint8_t buf[512];
    int n = gv_msg_encode(m, buf, sizeof buf);
    int rc = n < 0 ? n : gv_session_send(t, peer, seal, b, channel, buf, (size_t)n, 0);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int gv_session_open(gv_seal *seal, gv_session_buffers *b, uint8_t channel, const uint8_t *data, size_t len,
                    gv_msg *m)
{
    int n = gv_seal_decrypt(seal, channel, NULL, 0, data, len, b->plain, sizeof b->plain);
    if (n == GV_EREPLAY)
        return n;
    if (n < 0)
        return GV_EAUTH;
    int rc = gv_msg_decode(b->plain, (size_t)n, m);
    return rc == 0 || rc == GV_EUNKNOWN ? rc : GV_EMALFORMED;
}
