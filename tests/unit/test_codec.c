#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audio/gv_codec.h"
#include "gvoip/error.h"

#define RATE GV_CODEC_RATE
#define SECONDS_1 RATE
#define PI 3.14159265358979323846

/* 440 Hz tone plus a 200 -> 3000 Hz linear chirp: a steady part and a part
 * that a codec cannot fake by repeating the previous frame. */
static void make_signal(float *buf, size_t n)
{
    double f0 = 200.0, f1 = 3000.0, dur = (double)n / RATE;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / RATE;
        double chirp_phase = 2.0 * PI * (f0 * t + (f1 - f0) * t * t / (2.0 * dur));
        buf[i] = (float)(0.3 * sin(2.0 * PI * 440.0 * t) + 0.3 * sin(chirp_phase));
    }
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double correlation(const float *a, const float *b, size_t n)
{
    double ab = dot(a, b, n), aa = dot(a, a, n), bb = dot(b, b, n);
    if (aa <= 0.0 || bb <= 0.0)
        return 0.0;
    return ab / sqrt(aa * bb);
}

/* The lag (0..max_lag) at which out[lag + i] best matches ref[i]. */
static size_t find_lag(const float *ref, const float *out, size_t n, size_t max_lag)
{
    size_t best = 0;
    double best_c = -2.0;
    for (size_t lag = 0; lag <= max_lag; lag++) {
        double c = correlation(ref, out + lag, n - max_lag);
        if (c > best_c) {
            best_c = c;
            best = lag;
        }
    }
    return best;
}

static gv_encoder *make_encoder(int fec, int loss)
{
    gv_encoder_config cfg;
    gv_encoder_config_default(&cfg);
    gv_encoder *enc = NULL;
    cfg.fec = fec;
    cfg.expected_loss_pct = loss;
    assert_int_equal(gv_encoder_create(&cfg, &enc), GV_OK);
    assert_non_null(enc);
    return enc;
}

static void test_defaults(void **state)
{
    (void)state;
    gv_encoder_config cfg;
    gv_encoder_config_default(&cfg);
    assert_int_equal(cfg.bitrate, 24000);
    assert_int_equal(cfg.frame_ms, 20);
    assert_int_equal(cfg.fec, 1);
    assert_int_equal(cfg.expected_loss_pct, 0);
    assert_int_equal(cfg.complexity, 8);
    assert_int_equal(cfg.dtx, 0);
}

static void test_frame_sizes(void **state)
{
    (void)state;
    static const struct {
        int ms;
        int rc;
        int samples;
    } cases[] = {
        {10, GV_OK, 480}, {20, GV_OK, 960},       {40, GV_OK, 1920}, {60, GV_OK, 2880},
        {0, GV_EINVAL, 0}, {5, GV_EINVAL, 0},     {15, GV_EINVAL, 0}, {30, GV_EINVAL, 0},
        {80, GV_EINVAL, 0}, {120, GV_EINVAL, 0}, {-20, GV_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gv_encoder_config cfg;
    gv_encoder_config_default(&cfg);
        gv_encoder *enc = (gv_encoder *)&cfg; /* must be reset to NULL on failure */
        cfg.frame_ms = cases[i].ms;
        int rc = gv_encoder_create(&cfg, &enc);
        if (rc != cases[i].rc)
            fail_msg("frame_ms %d: rc %d, want %d", cases[i].ms, rc, cases[i].rc);
        if (rc == GV_OK) {
            assert_int_equal(gv_encoder_frame_samples(enc), cases[i].samples);
            float pcm[2880] = {0};
            uint8_t pkt[GV_CODEC_MAX_PACKET];
            int n = gv_encoder_encode(enc, pcm, pkt, sizeof(pkt));
            assert_true(n > 0);
            assert_int_equal(gv_codec_packet_samples(pkt, (size_t)n), cases[i].samples);
        } else {
            assert_null(enc);
        }
        gv_encoder_destroy(enc);
    }
}

static void test_invalid_args(void **state)
{
    (void)state;
    gv_encoder_config cfg;
    gv_encoder_config_default(&cfg);
    gv_encoder *enc = NULL;
    gv_decoder *dec = NULL;
    float pcm[960] = {0};
    uint8_t pkt[GV_CODEC_MAX_PACKET];

    assert_int_equal(gv_encoder_create(NULL, &enc), GV_EINVAL);
    assert_int_equal(gv_encoder_create(&cfg, NULL), GV_EINVAL);
    cfg.complexity = 11;
    assert_int_equal(gv_encoder_create(&cfg, &enc), GV_EINVAL);
    cfg.complexity = -1;
    assert_int_equal(gv_encoder_create(&cfg, &enc), GV_EINVAL);
    assert_null(enc);
    assert_int_equal(gv_decoder_create(NULL), GV_EINVAL);

    gv_encoder_destroy(NULL);
    gv_decoder_destroy(NULL);
    assert_int_equal(gv_encoder_frame_samples(NULL), GV_EINVAL);
    assert_int_equal(gv_encoder_encode(NULL, pcm, pkt, sizeof(pkt)), GV_EINVAL);
    assert_int_equal(gv_encoder_set_bitrate(NULL, 24000), GV_EINVAL);
    assert_int_equal(gv_encoder_set_expected_loss(NULL, 5), GV_EINVAL);

    enc = make_encoder(1, 0);
    assert_int_equal(gv_encoder_encode(enc, NULL, pkt, sizeof(pkt)), GV_EINVAL);
    assert_int_equal(gv_encoder_encode(enc, pcm, NULL, sizeof(pkt)), GV_EINVAL);
    assert_int_equal(gv_encoder_encode(enc, pcm, pkt, 0), GV_ETOOBIG);
    for (size_t cap = 1; cap <= 12; cap++) {
        int small = gv_encoder_encode(enc, pcm, pkt, cap);
        assert_true(small > 0 && (size_t)small <= cap);
    }
    int n = gv_encoder_encode(enc, pcm, pkt, sizeof(pkt));
    assert_true(n > 0);

    assert_int_equal(gv_decoder_create(&dec), GV_OK);
    assert_int_equal(gv_decoder_decode(NULL, pkt, (size_t)n, pcm, 960), GV_EINVAL);
    assert_int_equal(gv_decoder_decode(dec, NULL, (size_t)n, pcm, 960), GV_EINVAL);
    assert_int_equal(gv_decoder_decode(dec, pkt, 0, pcm, 960), GV_EINVAL);
    assert_int_equal(gv_decoder_decode(dec, pkt, (size_t)n, NULL, 960), GV_EINVAL);
    assert_int_equal(gv_decoder_decode(dec, pkt, (size_t)n, pcm, 0), GV_EINVAL);
    assert_int_equal(gv_decoder_decode(dec, pkt, (size_t)n, pcm, 959), GV_ETOOBIG);
    assert_int_equal(gv_decoder_decode(dec, pkt, (size_t)n, pcm, 960), 960);

    assert_int_equal(gv_decoder_conceal(NULL, pcm, 960), GV_EINVAL);
    assert_int_equal(gv_decoder_conceal(dec, NULL, 960), GV_EINVAL);
    assert_int_equal(gv_decoder_conceal(dec, pcm, 0), GV_EINVAL);
    assert_int_equal(gv_decoder_conceal(dec, pcm, 100), GV_EINVAL);
    assert_int_equal(gv_decoder_conceal(dec, pcm, 5760 + 120), GV_EINVAL);
    assert_int_equal(gv_decoder_decode_fec(dec, pkt, (size_t)n, pcm, 961), GV_EINVAL);
    assert_int_equal(gv_decoder_decode_fec(dec, NULL, (size_t)n, pcm, 960), GV_EINVAL);
    assert_int_equal(gv_decoder_decode_fec(dec, pkt, 0, pcm, 960), GV_EINVAL);

    assert_int_equal(gv_codec_packet_samples(NULL, 3), GV_EINVAL);
    assert_int_equal(gv_codec_packet_samples(pkt, 0), GV_EINVAL);
    /* Code 3 (frame count byte follows) but the count byte is missing. */
    uint8_t trunc[1] = {0x03};
    assert_int_equal(gv_codec_packet_samples(trunc, 1), GV_EMALFORMED);
    assert_int_equal(gv_decoder_decode(dec, trunc, 1, pcm, 960), GV_EMALFORMED);
    /* Code 3 with 0 frames is illegal. */
    uint8_t zero_frames[2] = {0x03, 0x00};
    assert_int_equal(gv_codec_packet_samples(zero_frames, 2), GV_EMALFORMED);
    /* 60 ms frames x 3 = 180 ms exceeds the 120 ms limit. */
    uint8_t too_long[2] = {(uint8_t)((3u << 3) | 0x03), 0x03};
    assert_int_equal(gv_codec_packet_samples(too_long, 2), GV_EMALFORMED);

    gv_decoder_destroy(dec);
    gv_encoder_destroy(enc);
}

static void test_roundtrip_quality(void **state)
{
    (void)state;
    float *in = calloc(SECONDS_1, sizeof(float));
    float *out = calloc(SECONDS_1, sizeof(float));
    assert_non_null(in);
    assert_non_null(out);
    make_signal(in, SECONDS_1);

    gv_encoder *enc = make_encoder(1, 0);
    gv_decoder *dec = NULL;
    assert_int_equal(gv_decoder_create(&dec), GV_OK);
    int fs = gv_encoder_frame_samples(enc);
    size_t bytes = 0, frames = 0;
    for (size_t off = 0; off + (size_t)fs <= SECONDS_1; off += (size_t)fs) {
        uint8_t pkt[GV_CODEC_MAX_PACKET];
        int n = gv_encoder_encode(enc, in + off, pkt, sizeof(pkt));
        assert_true(n > 0);
        /* 24 kbit/s x 20 ms is 60 bytes; VBR spends more on tonal frames. */
        assert_true(n < 128);
        bytes += (size_t)n;
        frames++;
        assert_int_equal(gv_codec_packet_samples(pkt, (size_t)n), fs);
        assert_int_equal(gv_decoder_decode(dec, pkt, (size_t)n, out + off, fs), fs);
    }
    double avg = (double)bytes / (double)frames;
    assert_true(avg > 30.0 && avg < 100.0);

    const size_t max_lag = 1200, skip = 4800;
    size_t lag = find_lag(in + skip, out + skip, SECONDS_1 - skip, max_lag);
    size_t len = SECONDS_1 - skip - max_lag;
    double c = correlation(in + skip, out + skip + lag, len);
    double sig = dot(in + skip, in + skip, len), noise = 0.0;
    for (size_t i = 0; i < len; i++) {
        double d = (double)in[skip + i] - out[skip + lag + i];
        noise += d * d;
    }
    double snr = 10.0 * log10(sig / noise);
    print_message("roundtrip: lag %zu, corr %.4f, snr %.2f dB, %.1f bytes/pkt\n", lag, c, snr,
                  avg);
    assert_true(lag > 0 && lag < 1000); /* Opus' VoIP delay is a few ms */
    assert_true(c > 0.95);
    assert_true(snr > 10.0);

    gv_decoder_destroy(dec);
    gv_encoder_destroy(enc);
    free(in);
    free(out);
}

/* Decodes the stream with frame `lost` missing, filling it from `how`:
 * 0 = FEC from the next packet, 1 = concealment. Returns the correlation of
 * the rebuilt frame with the same frame decoded from an intact stream. */
static double rebuild_lost_frame(int how, int fec, int loss_pct)
{
    enum { FRAMES = 50, LOST = 30 };
    float *in = calloc(SECONDS_1, sizeof(float));
    float *ref = calloc(SECONDS_1, sizeof(float));
    float *got = calloc(SECONDS_1, sizeof(float));
    uint8_t (*pkts)[GV_CODEC_MAX_PACKET] = calloc(FRAMES, GV_CODEC_MAX_PACKET);
    int lens[FRAMES];
    assert_non_null(in);
    assert_non_null(ref);
    assert_non_null(got);
    assert_non_null(pkts);
    make_signal(in, SECONDS_1);

    gv_encoder *enc = make_encoder(fec, loss_pct);
    int fs = gv_encoder_frame_samples(enc);
    for (int i = 0; i < FRAMES; i++) {
        lens[i] = gv_encoder_encode(enc, in + (size_t)i * (size_t)fs, pkts[i], GV_CODEC_MAX_PACKET);
        assert_true(lens[i] > 0);
    }

    gv_decoder *a = NULL, *b = NULL;
    assert_int_equal(gv_decoder_create(&a), GV_OK);
    assert_int_equal(gv_decoder_create(&b), GV_OK);
    for (int i = 0; i < FRAMES; i++) {
        float *r = ref + (size_t)i * (size_t)fs, *g = got + (size_t)i * (size_t)fs;
        assert_int_equal(gv_decoder_decode(a, pkts[i], (size_t)lens[i], r, fs), fs);
        if (i != LOST) {
            assert_int_equal(gv_decoder_decode(b, pkts[i], (size_t)lens[i], g, fs), fs);
        } else if (how == 0) {
            assert_int_equal(
                gv_decoder_decode_fec(b, pkts[i + 1], (size_t)lens[i + 1], g, fs), fs);
        } else {
            assert_int_equal(gv_decoder_conceal(b, g, fs), fs);
        }
    }
    size_t off = (size_t)LOST * (size_t)fs;
    double c = correlation(ref + off, got + off, (size_t)fs);

    gv_decoder_destroy(a);
    gv_decoder_destroy(b);
    gv_encoder_destroy(enc);
    free(pkts);
    free(got);
    free(ref);
    free(in);
    return c;
}

static void test_fec_recovers_lost_frame(void **state)
{
    (void)state;
    double fec = rebuild_lost_frame(0, 1, 20);
    double plc = rebuild_lost_frame(1, 1, 20);
    double nofec = rebuild_lost_frame(0, 0, 20);
    print_message("lost frame correlation: fec %.3f, plc %.3f, fec-off %.3f\n", fec, plc, nofec);
    assert_true(fec > 0.8);
    /* The FEC copy must carry real information about the lost frame, which
     * concealment (and FEC on a stream that has none) cannot have. */
    assert_true(fec > plc + 0.1);
    assert_true(fec > nofec + 0.1);
}

static void test_conceal_counts(void **state)
{
    (void)state;
    gv_decoder *dec = NULL;
    float pcm[GV_CODEC_MAX_FRAME_SAMPLES];
    assert_int_equal(gv_decoder_create(&dec), GV_OK);
    static const int sizes[] = {120, 480, 960, 1920, 2880, 5760};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        assert_int_equal(gv_decoder_conceal(dec, pcm, sizes[i]), sizes[i]);
    gv_decoder_destroy(dec);
}

/* Encodes the test signal with a fresh encoder whose bitrate was set to
 * bps; returns the mean packet size and appends the stream to out. */
static double encode_at(int bps, int *applied, uint8_t *out, size_t cap, size_t *used)
{
    float *in = calloc(SECONDS_1, sizeof(float));
    assert_non_null(in);
    make_signal(in, SECONDS_1);
    gv_encoder *enc = make_encoder(0, 0);
    *applied = gv_encoder_set_bitrate(enc, bps);
    int fs = gv_encoder_frame_samples(enc);
    size_t frames = 0;
    *used = 0;
    for (size_t off = 0; off + (size_t)fs <= SECONDS_1; off += (size_t)fs) {
        int n = gv_encoder_encode(enc, in + off, out + *used, cap - *used);
        assert_true(n > 0);
        *used += (size_t)n;
        frames++;
    }
    gv_encoder_destroy(enc);
    free(in);
    return (double)*used / (double)frames;
}

static void test_bitrate_clamp(void **state)
{
    (void)state;
    static const struct {
        int requested;
        int applied;
    } cases[] = {
        {1000, GV_CODEC_MIN_BITRATE},  {-5, GV_CODEC_MIN_BITRATE},
        {0, GV_CODEC_MIN_BITRATE},     {10000000, GV_CODEC_MAX_BITRATE},
        {128001, GV_CODEC_MAX_BITRATE},
    };
    const size_t cap = 64 * GV_CODEC_MAX_PACKET;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got_a, got_b;
        size_t len_a, len_b;
        double mean = encode_at(cases[i].requested, &got_a, a, cap, &len_a);
        encode_at(cases[i].applied, &got_b, b, cap, &len_b);
        assert_int_equal(got_a, cases[i].applied);
        assert_int_equal(got_b, cases[i].applied);
        /* A clamped request must behave exactly like the limit itself. */
        assert_int_equal(len_a, len_b);
        assert_memory_equal(a, b, len_a);
        print_message("bitrate %d -> %d: %.1f bytes/pkt\n", cases[i].requested, got_a, mean);
        if (cases[i].applied == GV_CODEC_MIN_BITRATE)
            assert_true(mean < 40.0); /* 15 bytes per 20 ms nominal */
        else
            assert_true(mean > 200.0 && mean < 450.0); /* 320 nominal */
    }
    free(a);
    free(b);

    gv_encoder *enc = make_encoder(1, 0);
    assert_int_equal(gv_encoder_set_bitrate(enc, 32000), 32000);
    assert_int_equal(gv_encoder_set_expected_loss(enc, -3), 0);
    assert_int_equal(gv_encoder_set_expected_loss(enc, 250), 100);
    assert_int_equal(gv_encoder_set_expected_loss(enc, 20), 20);
    gv_encoder_destroy(enc);

    gv_encoder_config cfg;
    gv_encoder_config_default(&cfg);
    cfg.bitrate = 0;
    cfg.expected_loss_pct = 1000;
    assert_int_equal(gv_encoder_create(&cfg, &enc), GV_OK);
    gv_encoder_destroy(enc);
}

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Garbage must be answered with a code or a sane count, never a crash. */
static void test_garbage_packets(void **state)
{
    (void)state;
    uint32_t seed = 0x6f707573u, s = seed;
    gv_decoder *dec = NULL;
    float pcm[GV_CODEC_MAX_FRAME_SAMPLES];
    uint8_t pkt[1500];
    assert_int_equal(gv_decoder_create(&dec), GV_OK);
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = 1 + xorshift32(&s) % sizeof(pkt);
        for (size_t i = 0; i < len; i++)
            pkt[i] = (uint8_t)xorshift32(&s);
        int want = gv_codec_packet_samples(pkt, len);
        int n = gv_decoder_decode(dec, pkt, len, pcm, GV_CODEC_MAX_FRAME_SAMPLES);
        if (!(n < 0 || (n == want && n <= GV_CODEC_MAX_FRAME_SAMPLES)))
            fail_msg("seed 0x%08x iter %d: decode %d, packet_samples %d", seed, iter, n, want);
    }
    gv_decoder_destroy(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_frame_sizes),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_roundtrip_quality),
        cmocka_unit_test(test_fec_recovers_lost_frame),
        cmocka_unit_test(test_conceal_counts),
        cmocka_unit_test(test_bitrate_clamp),
        cmocka_unit_test(test_garbage_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
