# A sound server that goes away mid-session (the daemon killed, then
# started again on the same socket) or stops answering (SIGSTOP, then
# SIGCONT) costs the session nothing, with either backend: gvoip says
# device_lost for both directions, keeps its seat in the lobby without
# audio, and says device_changed once the server is back, when bob is
# heard again. Only a device that cannot be opened at the start ends
# gvoip (exit status 1).
# ctest: run serial
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"

lobby_with_bob 20

for backend in pulse sdl; do
  echo "$backend:"
  pulse_start "mic_$backend" "spk_$backend:2"
  pulse_player "mic_$backend" "spk_$backend"
  if [ "$backend" = pulse ]; then
    spawn missing "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name missing --json --audio-backend pulse \
      --output-device nosuch
    expect_exit missing 1
    grep -q 'no PulseAudio sink named \\"nosuch\\"' "$TMP/missing.out" || fail "no clear error for a missing sink"
  fi
  spawn "$backend" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name "$backend" --json \
    --audio-backend "$backend" --stats "$TMP/$backend.json"
  wait_for "$backend" '"event":"connected"'
  wait_for "$backend" '"event":"speaking","id":[0-9]+,"on":true,"name":"bob"'
  sleep 1
  heard_on "spk_$backend"

  echo " the sound server killed:"
  t0=$(date +%s%3N)
  pulse_kill
  within_ms "$backend" '"event":"device_lost","device":"playback"' "$t0" 1000
  within_ms "$backend" '"event":"device_lost","device":"capture"' "$t0" 1000
  sleep 1
  kill -0 "$(pid_of "$backend")" || fail "$backend: gvoip is gone without its sound server"
  echo " the sound server back:"
  pulse_restart "mic_$backend" "spk_$backend:2"
  t0=$(date +%s%3N)
  within_ms "$backend" '"event":"device_changed","device":"playback","name":"[^"]+","fallback":false' "$t0" 2500
  within_ms "$backend" '"event":"device_changed","device":"capture","name":"[^"]+","fallback":false' "$t0" 2500
  sleep 1
  heard_on "spk_$backend"

  echo " the sound server stopped:"
  t0=$(date +%s%3N)
  kill -STOP "${PULSE_PIDS[0]}"
  within_ms "$backend" '"event":"device_lost","device":"playback","name":"[^"]+","reason":"[^"]*stopped calling back' \
    "$t0" 3500
  within_ms "$backend" '"event":"device_lost","device":"capture","name":"[^"]+","reason":"[^"]*stopped calling back' \
    "$t0" 3500
  sleep 1
  [ "$(count "$backend" '"event":"device_changed","device":"playback"')" -eq 1 ] ||
    fail "$backend: playback came back while the sound server was stopped"
  t0=$(date +%s%3N)
  kill -CONT "${PULSE_PIDS[0]}"
  until [ "$(count "$backend" '"event":"device_changed","device":"playback"')" -eq 2 ]; do
    [ "$(($(date +%s%3N) - t0))" -le 2500 ] || fail "$backend: playback did not come back after SIGCONT"
    sleep 0.05
  done
  echo "  playback back after $(($(date +%s%3N) - t0)) ms"
  sleep 1
  heard_on "spk_$backend" 3 # SDL may take a moment to play again

  kill -0 "$(pid_of "$backend")" || fail "$backend: gvoip is gone"
  cp "$TMP/server.out" "$TMP/server.mid"
  kill -TERM "$(pid_of "$backend")"
  expect_exit "$backend" 0
  grep -Eq '"event":"(server_disconnected|connection_interrupted|reconnecting|error)"' "$TMP/$backend.out" &&
    fail "$backend: the session did not carry on"
  grep -q "\"event\":\"player_disconnected\",\"id\":[0-9]*,\"name\":\"$backend\"" "$TMP/server.mid" &&
    fail "$backend: the server saw gvoip leave"
  grep -q "\"backend\":\"$backend\"" "$TMP/$backend.json" || fail "$backend: no device figures in the stats"
  grep '"event":"device_' "$TMP/$backend.out" | sed 's/^/  /'
  pulse_stop
done
kill -TERM "$(pid_of bob)"
expect_exit bob 0
kill -TERM "$(pid_of server)"
expect_exit server 0
echo "PASS"
