# A private sound server for device-path tests and benchmarks (sourced, not
# run; after lib.sh or bench/lib.sh, whose exit trap it extends). It needs
# no system daemon, session bus or sound card, and runs as root:
#
#   pulse_start mic_a spk_a:2 ...   one null sink per NAME[:CHANNELS] (48 kHz
#                                   float, mono unless told), each kept fed
#                                   with zeros; exports PULSE_SERVER
#   pulse_player MIC SPK            sets the array PULSE_PLAYER: `env` with
#                                   what makes a program (gvoip through SDL2
#                                   or libpulse) take MIC.monitor as its
#                                   microphone and SPK as its speaker; prefix
#                                   a command with it
#   pulse_loopback SOURCE SINK MS [DB [steady]]  the server's own
#                                   module-loopback, at DB (say -10) when
#                                   given; steady: at a fixed delay (see
#                                   the function)
#   pulse_add_sink NAME[:CHANNELS]  one more null sink, fed like the others
#   pulse_remove_sink NAME          unloads it (a device unplugged)
#   pulse_level SINK                the RMS of one second of what SINK plays
#   pulse_kill                      kills the server (-9) and what fed it
#   pulse_restart SPEC...           starts the server again on the same
#                                   socket, with these sinks (pulseaudio only)
#   pulse_stop                      ends everything pulse_start started
#
# GVOIP_SOUND_SERVER picks the server: pulseaudio (default) or pipewire
# (PipeWire with WirePlumber and its PulseAudio server, pipewire-pulse);
# clients speak the PulseAudio protocol to either. Everything started goes
# away on exit, also when the test fails; then the server's log is
# printed. GVOIP_TEST_KEEP=1 keeps its directory.

PULSE_PIDS=()
PULSE_DIR=""
PULSE_RATE=48000

# pulse_fail MESSAGE: fails; the exit trap prints the server's log.
pulse_fail() {
  echo "pulse: $*" >&2
  exit 1
}

pulse_start() {
  [ -z "$PULSE_DIR" ] || pulse_fail "pulse_start called twice"
  local server=${GVOIP_SOUND_SERVER:-pulseaudio}
  case "$server" in
    pulseaudio) _pulse_need pulseaudio pulseaudio ;;
    pipewire) _pulse_need pipewire pipewire && _pulse_need pipewire-pulse pipewire-pulse &&
      _pulse_need wireplumber wireplumber ;;
    *) pulse_fail "GVOIP_SOUND_SERVER is pulseaudio or pipewire, not \"$server\"" ;;
  esac
  _pulse_need pacat pulseaudio-utils
  _pulse_trap
  # Not under $TMP: a socket path must stay under 108 bytes.
  PULSE_DIR=$(mktemp -d /tmp/gvoip-pulse.XXXXXX)
  mkdir -p "$PULSE_DIR/runtime" "$PULSE_DIR/state" "$PULSE_DIR/home"
  chmod 700 "$PULSE_DIR/runtime"
  # Clients never start a server of their own, and keep their cookie here.
  printf 'autospawn = no\ncookie-file = %s/cookie\n' "$PULSE_DIR" >"$PULSE_DIR/client.conf"
  "_pulse_start_$server"
  # Clients keep their runtime files here too, not under ~/.config/pulse.
  export PULSE_CLIENTCONFIG="$PULSE_DIR/client.conf" PULSE_RUNTIME_PATH="$PULSE_DIR/runtime"
  _pulse_up "$@"
}

# The server just started answering, then its sinks fed and settled.
_pulse_up() {
  local deadline=$((SECONDS + 10)) pid spec
  until pactl info >/dev/null 2>&1; do
    for pid in "${PULSE_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || pulse_fail "the sound server exited at start"; done
    [ $SECONDS -lt $deadline ] || pulse_fail "the sound server did not answer within 10 s"
    sleep 0.05
  done
  for spec in "$@"; do _pulse_load "$spec"; done
  for spec in "$@"; do _pulse_feed "$spec"; done
  for spec in "$@"; do _pulse_running "${spec%%:*}" $deadline; done
  _pulse_settle $deadline
}

# _pulse_channels NAME[:CHANNELS]: its channels, 1 unless told.
_pulse_channels() {
  if [ "${1%%:*}" = "$1" ]; then echo 1; else echo "${1#*:}"; fi
}

_pulse_load() {
  local name=${1%%:*} ch map=mono
  ch=$(_pulse_channels "$1")
  [ "$ch" = 2 ] && map=front-left,front-right
  pactl load-module module-null-sink "sink_name=$name" rate=$PULSE_RATE format=float32le "channels=$ch" \
    "channel_map=$map" "sink_properties=device.description=$name" >/dev/null || pulse_fail "cannot create sink $name"
}

# A null sink's clock runs only while something plays into it: zeros.
_pulse_feed() {
  local name=${1%%:*} ch
  ch=$(_pulse_channels "$1")
  pacat --playback --device="$name" --raw --format=float32le --rate=$PULSE_RATE --channels="$ch" \
    --latency-msec=200 --client-name="zeros into $name" /dev/zero 2>>"$PULSE_DIR/feed.log" &
  PULSE_PIDS+=("$!")
}

# _pulse_running NAME DEADLINE
_pulse_running() {
  until pactl list short sinks | grep -Eq "^[0-9]+[[:space:]]+$1[[:space:]].*RUNNING"; do
    [ $SECONDS -lt "$2" ] || pulse_fail "sink $1 is not running ($(cat "$PULSE_DIR/feed.log"))"
    sleep 0.05
  done
}

# A new PulseAudio null sink renders up to 2 s ahead before any stream
# asks for less, and does not take it back: its monitor delivers nothing
# new until that has played out. The zeros' stream asks for 200 ms, which
# the sink runs at when nothing asks for less. (PipeWire reports 0.)
_pulse_settle() {
  until [ "$(pactl list sinks | awk '/^[[:space:]]*Latency:/ { if ($2 > m) m = $2 } END { print m + 0 }')" -lt 200000 ]; do
    [ $SECONDS -lt "$1" ] || pulse_fail "the sinks' latency did not settle: $(pactl list sinks | grep -E 'Name|Latency')"
    sleep 0.1
  done
}

pulse_add_sink() {
  local deadline=$((SECONDS + 10))
  _pulse_load "$1"
  _pulse_feed "$1"
  _pulse_running "${1%%:*}" $deadline
  _pulse_settle $deadline
}

pulse_remove_sink() {
  local module
  module=$(pactl list short modules | awk -v a="sink_name=$1" '$2 == "module-null-sink" && $3 == a { print $1 }')
  [ -n "$module" ] || pulse_fail "no null sink $1 to remove"
  pactl unload-module "$module" || pulse_fail "cannot unload sink $1"
}

pulse_level() {
  timeout 1 parec --device="$1.monitor" --raw --format=float32le --rate=$PULSE_RATE --channels=1 \
    --latency-msec=20 >"$PULSE_DIR/level.f32" 2>/dev/null || true
  sox -t raw -r $PULSE_RATE -e floating-point -b 32 -c 1 "$PULSE_DIR/level.f32" -n stat 2>&1 |
    awk '/^RMS +amplitude/ { print $3 }'
}

pulse_kill() {
  local pid
  for pid in "${PULSE_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PULSE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PULSE_PIDS=()
}

pulse_restart() {
  [ "${GVOIP_SOUND_SERVER:-pulseaudio}" = pulseaudio ] || pulse_fail "pulse_restart needs pulseaudio"
  _pulse_start_pulseaudio
  _pulse_up "$@"
}

_pulse_need() {
  command -v "$1" >/dev/null || pulse_fail "$1 is needed: apt-get install $2"
}

_pulse_start_pulseaudio() {
  # Anonymous clients: the socket lives in our private directory.
  echo "load-module module-native-protocol-unix socket=$PULSE_DIR/native auth-anonymous=1" >"$PULSE_DIR/default.pa"
  # The daemon's own settings, not the machine's or the user's.
  printf 'default-sample-format = float32le\ndefault-sample-rate = %s\nalternate-sample-rate = %s\n' \
    $PULSE_RATE $PULSE_RATE >"$PULSE_DIR/daemon.conf"
  # As root without a session: --system=no keeps it a per-user daemon;
  # runtime, state and home directories of its own keep it off /root and
  # /run; no pid file, no exit when idle or on a client's request.
  HOME="$PULSE_DIR/home" PULSE_RUNTIME_PATH="$PULSE_DIR/runtime" PULSE_STATE_PATH="$PULSE_DIR/state" \
    PULSE_CONFIG="$PULSE_DIR/daemon.conf" \
    pulseaudio -n -F "$PULSE_DIR/default.pa" --daemonize=no --system=no --exit-idle-time=-1 \
    --disallow-exit --use-pid-file=no --log-target=stderr --log-level=notice \
    >>"$PULSE_DIR/daemon.log" 2>&1 &
  PULSE_PIDS+=("$!")
  export PULSE_SERVER="unix:$PULSE_DIR/native"
}

# PipeWire as Debian 12 ships it (0.3.65, WirePlumber 0.4.13): pipewire,
# then its session manager (which links streams to sinks) and its
# PulseAudio server, all in our runtime directory. WirePlumber exits
# without a session bus unless its D-Bus parts are off: a copy of its
# configuration without Bluetooth, the Flatpak portal and ALSA device
# reservation (there is no sound card to reserve).
_pulse_start_pipewire() {
  local env=(env XDG_RUNTIME_DIR="$PULSE_DIR/runtime" HOME="$PULSE_DIR/home" XDG_CONFIG_HOME="$PULSE_DIR/home/.config"
    XDG_STATE_HOME="$PULSE_DIR/state" WIREPLUMBER_CONFIG_DIR="$PULSE_DIR/wireplumber" DBUS_SESSION_BUS_ADDRESS=disabled:)
  cp -r /usr/share/wireplumber "$PULSE_DIR/wireplumber"
  sed -i '/bluetooth.lua/d' "$PULSE_DIR/wireplumber/wireplumber.conf"
  sed -i 's/\["enable-flatpak-portal"\] = true/["enable-flatpak-portal"] = false/' \
    "$PULSE_DIR/wireplumber/main.lua.d/50-default-access-config.lua"
  sed -i 's/\["alsa.reserve"\] = true/["alsa.reserve"] = false/' "$PULSE_DIR/wireplumber/main.lua.d/50-alsa-config.lua"
  "${env[@]}" pipewire >>"$PULSE_DIR/daemon.log" 2>&1 &
  PULSE_PIDS+=("$!")
  local deadline=$((SECONDS + 10))
  until [ -S "$PULSE_DIR/runtime/pipewire-0" ]; do
    kill -0 "${PULSE_PIDS[0]}" 2>/dev/null || pulse_fail "pipewire exited at start"
    [ $SECONDS -lt $deadline ] || pulse_fail "pipewire did not start within 10 s"
    sleep 0.05
  done
  "${env[@]}" wireplumber >>"$PULSE_DIR/daemon.log" 2>&1 &
  PULSE_PIDS+=("$!")
  "${env[@]}" pipewire-pulse >>"$PULSE_DIR/daemon.log" 2>&1 &
  PULSE_PIDS+=("$!")
  export PULSE_SERVER="unix:$PULSE_DIR/runtime/pulse/native"
}

# In a sanitizer build, LeakSanitizer needs whole allocation stacks to
# tell SDL2's leaks in libpulse from ours (tests/lsan.supp): libpulse and
# SDL2 have no frame pointers, so the fast unwinder stops inside libpulse.
# Every program started on the sound server gets this.
PULSE_ASAN="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
pulse_player() {
  PULSE_PLAYER=(env "PULSE_SOURCE=$1.monitor" "PULSE_SINK=$2" SDL_AUDIODRIVER=pulseaudio "$PULSE_ASAN")
}

# PulseAudio's module-loopback resamples at a rate it adjusts every 10 s
# to hold its latency. Between two null sinks on one clock there is nothing
# to follow, and its adjustments made the delay drift by 40-170 ppm,
# faster and faster, within one 16 s run (the two monitors
# cross-correlated): an echo path no room has. steady turns the
# adjustment off (adjust_time=0) and the delay stays put to the sample.
# PipeWire's loopback takes no adjust_time and is left as it comes.
pulse_loopback() {
  local module input steady=()
  [ "${5:-}" != steady ] || [ "${GVOIP_SOUND_SERVER:-pulseaudio}" != pulseaudio ] || steady=(adjust_time=0)
  module=$(pactl load-module module-loopback source="$1" sink="$2" latency_msec="$3" "${steady[@]}" \
    source_dont_move=true sink_dont_move=true) || pulse_fail "cannot load module-loopback $1 -> $2"
  [ -n "${4:-}" ] && [ "$4" != 0 ] || return 0
  input=$(pactl list sink-inputs | awk -v m="$module" '/^Sink Input #/ { i = substr($3, 2) } $1 == "Owner" && $3 == m { print i }')
  [ -n "$input" ] || pulse_fail "module-loopback $module has no sink input"
  pactl set-sink-input-volume "$input" "$4dB" || pulse_fail "cannot set the loopback's volume to $4 dB"
}

pulse_stop() {
  local pid
  for pid in "${PULSE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PULSE_PIDS[@]}"; do
    # A server saves its state on TERM; one stuck for 3 s is killed.
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PULSE_PIDS=()
  if [ -n "$PULSE_DIR" ]; then
    if [ -n "${GVOIP_TEST_KEEP:-}" ]; then echo "kept $PULSE_DIR"; else rm -rf "$PULSE_DIR"; fi
  fi
  PULSE_DIR=""
  unset PULSE_SERVER PULSE_CLIENTCONFIG PULSE_RUNTIME_PATH
}

# Runs pulse_stop before the exit trap already set (lib.sh's cleanup, which
# prints the programs' output and exits with the test's status): that trap
# sees the test's own exit status. On a failure the server's log is printed.
_pulse_trap() {
  local old=""
  eval "set -- $(trap -p EXIT)"
  [ $# -ge 3 ] && old=$3
  trap "_pulse_rc=\$?; set +e; _pulse_exit \$_pulse_rc; (exit \$_pulse_rc); $old" EXIT
}
_pulse_exit() {
  if [ "$1" -ne 0 ] && [ -n "$PULSE_DIR" ] && [ -s "$PULSE_DIR/daemon.log" ]; then
    echo "--- sound server log" >&2
    tail -n 40 "$PULSE_DIR/daemon.log" >&2
  fi
  pulse_stop
}

# lobby_with_bob REPEATS: a server (its port in $port) and bob in it,
# talking (a sentence said REPEATS times over, no gaps to speak of) from a
# file, no devices of his own: the voice a player on the sound server hears.
lobby_with_bob() {
  espeak-ng -g 5 -w "$TMP/words.wav" "Bob here, talking all the time. The quick brown fox jumps over the lazy \
    dog, and the five boxing wizards jump quickly. How vexingly quick daft zebras jump."
  sox "$TMP/words.wav" "$TMP/talk.wav" repeat "$1"
  start server server --port 0 --json
  port=$(port_of server)
  start bob join "127.0.0.1:$port" --name bob --json --input-file "$TMP/talk.wav" --no-playback
  wait_for bob '"event":"connected"'
}

# For tests that time what the sound server does to a player:
# ms_since T0: milliseconds since T0 (date +%s%3N).
ms_since() { echo $(($(date +%s%3N) - $1)); }
# within_ms NAME REGEX T0 LIMIT_MS: waits for NAME's line, then fails if
# it came more than LIMIT_MS after T0; prints how long it took.
within_ms() {
  wait_for "$1" "$2" $((($4 + 999) / 1000 + 1))
  local took
  took=$(ms_since "$3")
  echo "  $2: after ${took} ms"
  [ "$took" -le "$4" ] || fail "$1: '$2' came after ${took} ms, more than $4"
}
# heard_on SINK [TRIES], silent_on SINK: a voice plays there (measured up
# to TRIES times, 1 by default, for a device still waking up), or nothing
# does.
heard_on() {
  local rms try
  for try in $(seq "${2:-1}"); do
    rms=$(pulse_level "$1")
    echo "  $1 plays at RMS ${rms:-none}"
    awk -v r="${rms:-0}" 'BEGIN { exit !(r > 0.01) }' && return 0
  done
  fail "no voice plays on $1 (RMS ${rms:-none})"
}
silent_on() {
  local rms
  rms=$(pulse_level "$1")
  awk -v r="${rms:-1}" 'BEGIN { exit !(r < 0.001) }' || fail "$1 plays at RMS ${rms:-none}, not silence"
}
