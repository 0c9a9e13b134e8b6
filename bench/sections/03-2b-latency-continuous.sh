#!/usr/bin/env bash
# Issue 3's latency measurement again with the speaker transmitting
# continuously: the figure without voice activation's pre-roll.
BENCH_LATENCY_TRANSMIT=continuous exec bash "$(dirname "$0")/03-2-latency.sh" "$@"
