#!/usr/bin/env bash
# 20-latency's measurement again with the speaker transmitting
# continuously: the figure without voice activation's pre-roll.
BENCH_LATENCY_TRANSMIT=continuous exec bash "$(dirname "$0")/20-latency.sh" "$@"
