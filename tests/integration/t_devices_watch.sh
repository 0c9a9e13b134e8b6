# `gvoip devices --watch`: the devices present, then one line per device
# added or removed, until a signal ends it with exit status 0. With
# PulseAudio: null sinks (each with its monitor source) loaded and
# unloaded, and the server killed (its devices go with it) and started
# again (they come back); as text and as JSON. With SDL (its PulseAudio
# driver, which lists no monitors): a sink loaded and unloaded. And
# `gvoip devices --json` alone: the devices present.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"

pulse_start spk:2

start list devices --json --audio-backend pulse
expect_exit list 0
grep -q '^{"event":"device","device":"playback","name":"spk"}$' "$TMP/list.out" || fail "devices --json did not list spk"
grep -q '^{"event":"device","device":"capture","name":"spk.monitor"}$' "$TMP/list.out" ||
  fail "devices --json did not list spk.monitor"

start json devices --watch --json --audio-backend pulse
start text devices --watch --audio-backend pulse
spawn sdl env SDL_AUDIODRIVER=pulseaudio "$PULSE_ASAN" "$GVOIP" devices --watch --json --audio-backend sdl
wait_for json '^\{"event":"device","device":"capture","name":"spk.monitor"\}$'
wait_for text '^  playback "spk"$'
wait_for sdl '^\{"event":"device","device":"playback","name":"spk"\}$'

pulse_add_sink new:2
wait_for json '^\{"event":"device_added","device":"playback","name":"new"\}$' 2
wait_for json '^\{"event":"device_added","device":"capture","name":"new.monitor"\}$' 2
wait_for text '^\+ playback "new"$' 2
wait_for sdl '^\{"event":"device_added","device":"playback","name":"new"\}$' 2
pulse_remove_sink new
wait_for json '^\{"event":"device_removed","device":"playback","name":"new"\}$' 2
wait_for json '^\{"event":"device_removed","device":"capture","name":"new.monitor"\}$' 2
wait_for text '^- capture "new.monitor"$' 2
wait_for sdl '^\{"event":"device_removed","device":"playback","name":"new"\}$' 2
kill -HUP "$(pid_of sdl)"
expect_exit sdl 0

pulse_kill
wait_for json '^\{"event":"device_removed","device":"playback","name":"spk"\}$' 2
wait_for text '^- capture "spk.monitor"$' 2
pulse_restart spk:2
wait_for json '^\{"event":"device_added","device":"playback","name":"spk"\}$' 3
wait_for text '^\+ capture "spk.monitor"$' 3

kill -INT "$(pid_of json)"
kill -TERM "$(pid_of text)"
expect_exit json 0
expect_exit text 0
for w in json text sdl; do
  [ -s "$TMP/$w.err" ] && fail "$w: $(cat "$TMP/$w.err")"
  echo "$w:"
  sed 's/^/  /' "$TMP/$w.out"
done
[ "$(wc -l <"$TMP/json.out")" -eq 10 ] || fail "the JSON watch printed $(wc -l <"$TMP/json.out") lines, not 10"
echo "PASS"
