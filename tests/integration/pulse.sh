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
#   pulse_loopback SOURCE SINK MS [DB]  the server's own module-loopback,
#                                   at DB (say -10) when given
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
  local deadline=$((SECONDS + 10)) pid
  until pactl info >/dev/null 2>&1; do
    for pid in "${PULSE_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || pulse_fail "$server exited at start"; done
    [ $SECONDS -lt $deadline ] || pulse_fail "$server did not answer within 10 s"
    sleep 0.05
  done
  local spec name ch map
  for spec in "$@"; do
    name=${spec%%:*}
    ch=1
    [ "$name" = "$spec" ] || ch=${spec#*:}
    map=mono
    [ "$ch" = 2 ] && map=front-left,front-right
    pactl load-module module-null-sink "sink_name=$name" rate=$PULSE_RATE format=float32le "channels=$ch" \
      "channel_map=$map" "sink_properties=device.description=$name" >/dev/null || pulse_fail "cannot create sink $name"
  done
  # A null sink's clock runs only while something plays into it: zeros.
  for spec in "$@"; do
    name=${spec%%:*}
    ch=1
    [ "$name" = "$spec" ] || ch=${spec#*:}
    pacat --playback --device="$name" --raw --format=float32le --rate=$PULSE_RATE --channels="$ch" \
      --latency-msec=200 --client-name="zeros into $name" /dev/zero 2>>"$PULSE_DIR/feed.log" &
    PULSE_PIDS+=("$!")
  done
  for spec in "$@"; do
    name=${spec%%:*}
    until pactl list short sinks | grep -Eq "^[0-9]+[[:space:]]+$name[[:space:]].*RUNNING"; do
      [ $SECONDS -lt $deadline ] || pulse_fail "sink $name is not running ($(cat "$PULSE_DIR/feed.log"))"
      sleep 0.05
    done
  done
  # A new PulseAudio null sink renders up to 2 s ahead before any stream
  # asks for less, and does not take it back: its monitor delivers nothing
  # new until that has played out. The zeros' stream asks for 200 ms, which
  # the sink runs at when nothing asks for less. (PipeWire reports 0.)
  until [ "$(pactl list sinks | awk '/^[[:space:]]*Latency:/ { if ($2 > m) m = $2 } END { print m + 0 }')" -lt 200000 ]; do
    [ $SECONDS -lt $deadline ] || pulse_fail "the sinks' latency did not settle: $(pactl list sinks | grep -E 'Name|Latency')"
    sleep 0.1
  done
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
    >"$PULSE_DIR/daemon.log" 2>&1 &
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
pulse_player() {
  PULSE_PLAYER=(env "PULSE_SOURCE=$1.monitor" "PULSE_SINK=$2" SDL_AUDIODRIVER=pulseaudio
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0")
}

pulse_loopback() {
  local module input
  module=$(pactl load-module module-loopback source="$1" sink="$2" latency_msec="$3" \
    source_dont_move=true sink_dont_move=true) || pulse_fail "cannot load module-loopback $1 -> $2"
  [ -n "${4:-}" ] || return 0
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
