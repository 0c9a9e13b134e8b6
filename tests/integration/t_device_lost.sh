# ctest: run serial
# A device that goes away mid-session (a headset unplugged: its null sink
# unloaded) costs the session nothing, with either backend. The player
# plays into spk (chosen with --output-device) and, with PulseAudio's own
# API, listens to spk.monitor (--input-device); the system's defaults are
# other and other.monitor. Bob talks from a file. Unloading spk:
# device_lost, device_changed to the default (fallback true) within a
# second, and bob is heard on other; loading spk again: device_changed
# back to it (fallback false) and bob is heard on spk. Nobody leaves,
# nobody reconnects, the player exits 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"

pulse_start spk:2 other:2
lobby_with_bob 12

# SDL's PulseAudio driver lists no monitor sources: its player keeps the
# default microphone, and calls the default device "default".
for backend in pulse sdl; do
  echo "$backend:"
  if [ "$backend" = pulse ]; then
    input=(--input-device spk.monitor)
    fallback=other
    lost=2
  else
    input=()
    fallback=default
    lost=1
  fi
  spawn "$backend" env PULSE_SINK=other PULSE_SOURCE=other.monitor SDL_AUDIODRIVER=pulseaudio "$PULSE_ASAN" "$GVOIP" join \
    "127.0.0.1:$port" --name "$backend" --json --audio-backend "$backend" --output-device spk "${input[@]}" \
    --stats "$TMP/$backend.json"
  wait_for "$backend" '"event":"connected"'
  wait_for "$backend" '"event":"speaking","id":[0-9]+,"on":true,"name":"bob"'
  sleep 1
  heard_on spk
  silent_on other

  echo " spk unloaded:"
  t0=$(date +%s%3N)
  pulse_remove_sink spk
  within_ms "$backend" '"event":"device_lost","device":"playback","name":"spk"' "$t0" 1000
  within_ms "$backend" "\"event\":\"device_changed\",\"device\":\"playback\",\"name\":\"$fallback\",\"fallback\":true" \
    "$t0" 1000
  if [ "$backend" = pulse ]; then
    within_ms "$backend" '"event":"device_lost","device":"capture","name":"spk.monitor"' "$t0" 1000
    within_ms "$backend" '"event":"device_changed","device":"capture","name":"other.monitor","fallback":true' "$t0" 1000
  fi
  sleep 1
  heard_on other

  echo " spk back:"
  t0=$(date +%s%3N)
  pulse_add_sink spk:2
  within_ms "$backend" '"event":"device_changed","device":"playback","name":"spk","fallback":false' "$t0" 3000
  [ "$backend" = sdl ] ||
    within_ms "$backend" '"event":"device_changed","device":"capture","name":"spk.monitor","fallback":false' "$t0" 3000
  sleep 1
  heard_on spk
  silent_on other
  kill -0 "$(pid_of "$backend")" || fail "$backend: gvoip is gone"
  cp "$TMP/server.out" "$TMP/server.mid"

  kill -TERM "$(pid_of "$backend")"
  expect_exit "$backend" 0
  [ "$(count "$backend" '"event":"device_lost"')" -eq $lost ] ||
    fail "$backend: lost a device $(count "$backend" '"event":"device_lost"') times, not $lost"
  [ "$(count "$backend" '"event":"device_changed"')" -eq $((2 * lost)) ] ||
    fail "$backend: changed devices $(count "$backend" '"event":"device_changed"') times, not $((2 * lost))"
  grep -Eq '"event":"(server_disconnected|connection_interrupted|reconnecting|error)"' "$TMP/$backend.out" &&
    fail "$backend: the session did not carry on"
  grep -q "\"event\":\"player_disconnected\",\"id\":[0-9]*,\"name\":\"$backend\"" "$TMP/server.mid" &&
    fail "$backend: the server saw gvoip leave"
  grep -q "\"backend\":\"$backend\"" "$TMP/$backend.json" || fail "$backend: no device figures in the stats"
done
kill -TERM "$(pid_of bob)"
expect_exit bob 0
kill -TERM "$(pid_of server)"
expect_exit server 0
echo "PASS"
