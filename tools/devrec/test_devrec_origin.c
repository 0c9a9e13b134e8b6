/* The timeline arithmetic of gvoip-devrec: a stream's origin from a timing
 * report, the median of many, and the cuts that put streams started at
 * different moments on one timeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "devrec_origin.h"
#include "gvoip/error.h"

/* 48 kHz mono float: 192 bytes per millisecond. */
#define BYTES_PER_USEC 0.192

static void test_origin_of_record_and_playback(void **state)
{
    (void)state;
    /* 1 s of audio queued, the source holds 5 ms more: byte 0 was
     * captured 1.005 s before the report. */
    devrec_timing rec = {.record = 1, .timestamp_usec = 10000000, .index_bytes = 192000,
                         .source_usec = 5000, .bytes_per_usec = BYTES_PER_USEC};
    assert_true(fabs(devrec_origin_of(&rec) - 8995000.0) < 1e-6);
    /* A monitor source delivers what its sink rendered 8 ms ahead of
     * playing it: that audio is heard 8 ms later. */
    rec.source_usec = 0;
    rec.sink_usec = 8000;
    assert_true(fabs(devrec_origin_of(&rec) - 9008000.0) < 1e-6);
    /* Playback: 1 s read by the sink, 20 ms of it not heard yet. */
    devrec_timing play = {.record = 0, .timestamp_usec = 10000000, .index_bytes = 192000,
                          .sink_usec = 20000, .bytes_per_usec = BYTES_PER_USEC};
    assert_true(fabs(devrec_origin_of(&play) - 9020000.0) < 1e-6);
    assert_true(devrec_origin_of(NULL) == 0.0);
}

static void test_median_ignores_late_reports(void **state)
{
    (void)state;
    devrec_origin o = {0};
    double median = 0, iqr = -1;
    assert_int_equal(devrec_origin_median(&o, &median, &iqr), GV_EINVAL);
    /* 600 reports at the origin, 1 in 4 answered before the newest
     * fragment was queued (origin 5 ms late): the median stays put. */
    for (int i = 0; i < 600; i++)
        assert_int_equal(devrec_origin_add(&o, i % 4 == 3 ? 1005000.0 : 1000000.0), GV_OK);
    assert_int_equal(devrec_origin_median(&o, &median, &iqr), GV_OK);
    assert_true(median == 1000000.0);
    assert_true(iqr >= 0.0 && iqr <= 5000.0);
    devrec_origin_clear(&o);
    assert_null(o.usec);
    assert_int_equal((int)o.n, 0);
    devrec_origin_clear(NULL);
    assert_int_equal(devrec_origin_add(NULL, 1.0), GV_EINVAL);
}

static void test_median_of_even_count(void **state)
{
    (void)state;
    devrec_origin o = {0};
    double median = 0;
    const double v[] = {4.0, 1.0, 3.0, 2.0};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(devrec_origin_add(&o, v[i]), GV_OK);
    assert_int_equal(devrec_origin_median(&o, &median, NULL), GV_OK);
    assert_true(fabs(median - 2.5) < 1e-12);
    devrec_origin_clear(&o);
}

static void test_cuts_align_to_latest_start(void **state)
{
    (void)state;
    /* Three streams started 0, 137.02 and 20.01 ms after the first. */
    const double origin[] = {5e6, 5e6 + 137020.0, 5e6 + 20010.0};
    size_t cut[3];
    double start = 0;
    assert_int_equal(devrec_origin_cuts(origin, 3, 48000, cut, &start), GV_OK);
    assert_true(start == origin[1]);
    /* 137.02 ms = 6576.96 frames, 117.01 ms = 5616.48 frames: nearest. */
    assert_int_equal((int)cut[0], 6577);
    assert_int_equal((int)cut[1], 0);
    assert_int_equal((int)cut[2], 5616);
    for (int i = 0; i < 3; i++) {
        /* What is left of each stream starts within half a frame of start. */
        double first = origin[i] + cut[i] * 1e6 / 48000.0;
        assert_true(fabs(first - start) <= 0.5e6 / 48000.0);
    }
    assert_int_equal(devrec_origin_cuts(origin, 0, 48000, cut, NULL), GV_EINVAL);
    assert_int_equal(devrec_origin_cuts(origin, 3, 0, cut, NULL), GV_EINVAL);
    assert_int_equal(devrec_origin_cuts(NULL, 3, 48000, cut, NULL), GV_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_of_record_and_playback),
        cmocka_unit_test(test_median_ignores_late_reports),
        cmocka_unit_test(test_median_of_even_count),
        cmocka_unit_test(test_cuts_align_to_latest_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
