# A sound server that goes away mid-session (the daemon killed) or stops
# answering (SIGSTOP) is a device error: each backend says so with a
# device_error event and gvoip leaves cleanly with exit status 1 (stats
# written), never hanging.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"

start server server --port 0 --json
port=$(port_of server)
for backend in pulse sdl; do
  pulse_start "mic_$backend" "spk_$backend:2"
  pulse_player "mic_$backend" "spk_$backend"
  spawn "$backend" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name "$backend" --json \
    --audio-backend "$backend" --stats "$TMP/$backend.json"
  wait_for "$backend" '"event":"connected"'
  grep -q "\"backend\":\"$backend\"" "$TMP/$backend.json" 2>/dev/null && fail "stats written before the end"
  sleep 0.5
  kill -9 "${PULSE_PIDS[0]}"
  expect_exit "$backend" 1 10
  grep -q '"event":"device_error"' "$TMP/$backend.out" || fail "$backend: no device_error event"
  grep -q "\"backend\":\"$backend\"" "$TMP/$backend.json" || fail "$backend: no device figures in the stats"
  echo "$backend: $(grep '"device_error"' "$TMP/$backend.out")"
  pulse_stop
done
for backend in pulse sdl; do
  pulse_start "mic_$backend" "spk_$backend:2"
  pulse_player "mic_$backend" "spk_$backend"
  spawn "stop_$backend" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name "s$backend" --json \
    --audio-backend "$backend" --stats "$TMP/stop_$backend.json"
  wait_for "stop_$backend" '"event":"connected"'
  sleep 0.5
  kill -STOP "${PULSE_PIDS[0]}"
  expect_exit "stop_$backend" 1 10
  kill -CONT "${PULSE_PIDS[0]}"
  grep -q '"event":"device_error".*stopped calling back' "$TMP/stop_$backend.out" ||
    fail "$backend: no device_error event for a stopped sound server"
  grep -q "\"backend\":\"$backend\"" "$TMP/stop_$backend.json" || fail "$backend: no device figures in the stats"
  echo "$backend, server stopped: $(grep '"device_error"' "$TMP/stop_$backend.out")"
  pulse_stop
done
echo "PASS"
