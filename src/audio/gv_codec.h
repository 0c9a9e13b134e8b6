/* Opus voice codec wrapper: 48 kHz mono float frames in, packets out, and
 * back. Each handle is used by one thread at a time; separate handles are
 * independent. */
#ifndef GV_AUDIO_CODEC_H
#define GV_AUDIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define GV_CODEC_RATE 48000
/* The longest Opus packet is 120 ms; a decode buffer this long always fits. */
#define GV_CODEC_MAX_FRAME_SAMPLES 5760
/* Room for any packet the encoder can produce (the size libopus advises). */
#define GV_CODEC_MAX_PACKET 4000

#define GV_CODEC_MIN_BITRATE 6000
#define GV_CODEC_MAX_BITRATE 128000

typedef struct gv_encoder_config {
    /* Bits per second. Values outside 6000..128000 are clamped, not
     * rejected: below 6 kbit/s Opus is unintelligible and above 128 kbit/s
     * a mono voice stream gains nothing but traffic. Default 24000. */
    int bitrate;
    /* 10, 20, 40 or 60; anything else is GV_EINVAL. Default 20. */
    int frame_ms;
    /* Non-zero embeds a low-rate copy of the previous frame (in-band FEC)
     * so one lost packet can be rebuilt from the next. Default 1. */
    int fec;
    /* Packet loss the encoder plans for, clamped to 0..100. FEC costs bits
     * only when this is above 0, so the default is 0 and the sender raises
     * it from receiver reports. */
    int expected_loss_pct;
    /* 0..10, anything else is GV_EINVAL. Default 8: close to 10 in quality
     * at a clearly lower CPU cost. */
    int complexity;
    /* Non-zero lets the encoder send almost nothing during silence.
     * Default 0, because the jitter buffer would then see gaps as loss. */
    int dtx;
} gv_encoder_config;

typedef struct gv_encoder gv_encoder;
typedef struct gv_decoder gv_decoder;

/* The defaults described above. Thread-safe. */
void gv_encoder_config_default(gv_encoder_config *cfg);

/* Creates an encoder; *out is owned by the caller (gv_encoder_destroy).
 * Returns 0, GV_EINVAL, GV_ENOMEM or GV_ECODEC. Thread-safe. */
int gv_encoder_create(const gv_encoder_config *cfg, gv_encoder **out);

/* Frees the encoder; NULL is a no-op. Not concurrent with other calls on it. */
void gv_encoder_destroy(gv_encoder *enc);

/* Samples per frame at 48 kHz (48000 * frame_ms / 1000), or GV_EINVAL.
 * Safe to call concurrently with itself. */
int gv_encoder_frame_samples(const gv_encoder *enc);

/* Encodes exactly gv_encoder_frame_samples() samples from pcm (borrowed)
 * into out[0..cap); a small cap makes Opus spend fewer bits on the frame.
 * Returns the packet length, GV_EINVAL, GV_ETOOBIG (cap 0) or GV_ECODEC.
 * One thread at a time per encoder. */
int gv_encoder_encode(gv_encoder *enc, const float *pcm, uint8_t *out, size_t cap);

/* Changes the bitrate for the next frame, clamped to 6000..128000.
 * Returns the bitrate now in effect, or GV_EINVAL / GV_ECODEC. One thread
 * at a time per encoder. */
int gv_encoder_set_bitrate(gv_encoder *enc, int bps);

/* With dtx on, gv_encoder_encode returns at most this many bytes for a
 * frame of silence that need not be sent (Opus's discontinuous
 * transmission); every 400 ms of silence it returns a real comfort-noise
 * frame. */
#define GV_CODEC_DTX_BYTES 2

/* Forgets what the encoder learned from the audio so far (its settings
 * stay), so that the next packet needs no earlier one: for a stream that
 * starts afresh at its receivers. 0, GV_EINVAL or GV_ECODEC. */
int gv_encoder_reset(gv_encoder *enc);

/* Changes the loss the FEC plans for, clamped to 0..100. Returns the
 * percentage now in effect, or GV_EINVAL / GV_ECODEC. One thread at a time
 * per encoder. */
int gv_encoder_set_expected_loss(gv_encoder *enc, int pct);

/* Creates a 48 kHz mono decoder; *out is owned by the caller
 * (gv_decoder_destroy). Returns 0, GV_EINVAL, GV_ENOMEM or GV_ECODEC.
 * Thread-safe. */
int gv_decoder_create(gv_decoder **out);

/* Frees the decoder; NULL is a no-op. Not concurrent with other calls on it. */
void gv_decoder_destroy(gv_decoder *dec);

/* Decodes one packet (borrowed) into pcm[0..max_samples). Returns the
 * samples written, GV_EINVAL, GV_ETOOBIG (max_samples shorter than the
 * packet), GV_EMALFORMED or GV_ECODEC. One thread at a time per decoder. */
int gv_decoder_decode(gv_decoder *dec, const uint8_t *pkt, size_t len, float *pcm,
                      int max_samples);

/* Rebuilds the lost frame before next_pkt from next_pkt's in-band FEC into
 * pcm[0..samples), where samples is the lost duration (a multiple of 120,
 * at most 5760). libopus 1.3 cannot tell whether a packet carries FEC, so a
 * packet without it silently yields concealment instead. Call
 * gv_decoder_decode on next_pkt afterwards. Returns samples or a negative
 * code. One thread at a time per decoder. */
int gv_decoder_decode_fec(gv_decoder *dec, const uint8_t *next_pkt, size_t len, float *pcm,
                          int samples);

/* Packet loss concealment: synthesises samples (a multiple of 120, at most
 * 5760) that continue the previous audio. Returns samples or a negative
 * code. One thread at a time per decoder. */
int gv_decoder_conceal(gv_decoder *dec, float *pcm, int samples);

/* Duration of a packet in 48 kHz samples, or GV_EINVAL / GV_EMALFORMED.
 * Reads only pkt (borrowed); thread-safe. */
int gv_codec_packet_samples(const uint8_t *pkt, size_t len);

#endif
