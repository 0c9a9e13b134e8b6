# Shared helpers for the integration tests: start real gvoip processes on
# loopback, wait for their JSON events, and clean up whatever happens.
set -euo pipefail

GVOIP=${GVOIP_BIN:?GVOIP_BIN must point at the gvoip program}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gvoip-test.XXXXXX")
export GVOIP_HOME="$TMP/home"
unset GVOIP_PASSWORD
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    for f in "$TMP"/*.out "$TMP"/*.err; do
      [ -s "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
    done
  fi
  if [ -n "${GVOIP_TEST_KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
  exit $rc
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# spawn NAME PROGRAM ARGS...: runs PROGRAM in the background, stdout to
# $TMP/NAME.out, stderr to $TMP/NAME.err; pid_of NAME gives its pid.
spawn() {
  local name=$1
  shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_$name=$pid"
}

# start NAME ARGS...: gvoip in the background.
start() {
  local name=$1
  shift
  spawn "$name" "$GVOIP" "$@"
}

pid_of() { eval "echo \$PID_$1"; }

# start_netem NAME ARGS...: like start, for the impairment relay.
NETEM=${GVOIP_BUILD_DIR:?GVOIP_BUILD_DIR must point at the build}/tools/netem/gvoip-netem
start_netem() {
  local name=$1
  shift
  [ -x "$NETEM" ] || fail "no gvoip-netem at $NETEM"
  spawn "$name" "$NETEM" "$@"
}

# wait_for NAME REGEX [SECONDS]: until NAME's stdout has a matching line.
# wait_for_text does the same for a fixed string (fingerprints hold + and /).
wait_for() { wait_match -E "$@"; }
wait_for_text() { wait_match -F "$@"; }
wait_match() {
  local how=$1 name=$2 pattern=$3 limit=${4:-10}
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt $deadline ]; do
    grep -q "$how" -- "$pattern" "$TMP/$name.out" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "$name did not print '$pattern' within ${limit}s"
}

# expect_exit NAME CODE [SECONDS]: waits for NAME to exit with CODE.
expect_exit() {
  local name=$1 want=$2 limit=${3:-10}
  local pid
  pid=$(pid_of "$name")
  local deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "$name still running after ${limit}s"
    sleep 0.05
  done
  local got=0
  wait "$pid" || got=$?
  [ "$got" -eq "$want" ] || fail "$name exited with $got, expected $want"
}

# port_of NAME: the port from NAME's listening event.
port_of() {
  wait_for "$1" '"event":"listening"'
  sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$TMP/$1.out" | head -n 1
}

count() { grep -Ec -- "$2" "$TMP/$1.out" || true; }

# rms FILE CHANNEL, len FILE: a recording's RMS level on one channel and its
# length in seconds (sox); within A B TOL: |A - B| <= TOL.
rms() { sox "$1" -n remix "$2" stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }'; }
len() { sox "$1" -n stat 2>&1 | awk '/^Length/ { print $3 }'; }
within() { awk -v a="$1" -v b="$2" -v tol="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= tol) }'; }

# Positional voice, one lobby per speaker so each recording holds one voice:
# spatial_lobby NAME X,Y[,Z] [LISTENER-OPTIONS...] starts a server with the
# options in the array "spatial", a listener at the origin facing 0 that
# records $TMP/NAME.hears.wav, and speaker NAME at X,Y[,Z] saying
# $TMP/speech.wav; end_lobbies NAME... waits for them and stops the servers.
spatial_lobby() {
  local name=$1 pos=$2 port
  shift 2
  start "srv_$name" server --port 0 --json "${spatial[@]}"
  port=$(port_of "srv_$name")
  start "lis_$name" join "127.0.0.1:$port" --name listener --position 0,0,0 --facing 0 --no-capture --no-playback \
    --record "$TMP/$name.hears.wav" --json --duration 7 "$@"
  wait_for "lis_$name" '"event":"connected"'
  start "spk_$name" join "127.0.0.1:$port" --name "$name" --position "$pos" --input-file "$TMP/speech.wav" \
    --no-playback --json --duration 6
}
end_lobbies() {
  local n
  for n in "$@"; do
    expect_exit "spk_$n" 0 20
    expect_exit "lis_$n" 0 20
    kill -TERM "$(pid_of "srv_$n")"
    expect_exit "srv_$n" 0
  done
}

# Positional voice: check_pan NAME GAIN_L GAIN_R compares the left/right
# level ratio of $TMP/NAME.hears.wav with the model's gains (within 1 dB)
# and keeps its energy; check_energies A B then compares A's level with
# B's, heard against modelled (within 1 dB).
declare -A heard_energy model_energy
check_pan() {
  local n=$1 gl=$2 gr=$3 l r got want
  l=$(rms "$TMP/$n.hears.wav" 1)
  r=$(rms "$TMP/$n.hears.wav" 2)
  awk -v l="$l" 'BEGIN { exit !(l > 0.001) }' || fail "$n: the listener heard nothing (left rms $l)"
  got=$(awk -v l="$l" -v r="$r" 'BEGIN { printf "%.2f", 20*log(l/r)/log(10) }')
  want=$(awk -v l="$gl" -v r="$gr" 'BEGIN { printf "%.2f", 20*log(l/r)/log(10) }')
  echo "speaker $n: left/right $got dB, model $want dB"
  within "$got" "$want" 1.0 || fail "speaker $n: left/right ratio $got dB, model says $want dB"
  heard_energy[$n]=$(awk -v l="$l" -v r="$r" -v s="$(len "$TMP/$n.hears.wav")" 'BEGIN { print (l*l + r*r) * s }')
  model_energy[$n]=$(awk -v l="$gl" -v r="$gr" 'BEGIN { print l*l + r*r }')
}
check_energies() {
  local got want
  got=$(awk -v a="${heard_energy[$1]}" -v b="${heard_energy[$2]}" 'BEGIN { printf "%.2f", 10*log(a/b)/log(10) }')
  want=$(awk -v a="${model_energy[$1]}" -v b="${model_energy[$2]}" 'BEGIN { printf "%.2f", 10*log(a/b)/log(10) }')
  echo "speaker $1 against speaker $2: $got dB, model $want dB"
  within "$got" "$want" 1.0 || fail "distance attenuation: $1 is $got dB against $2, model says $want dB"
}

# A lobby-only player: no audio devices needed.
NOAUDIO=(--no-capture --no-playback --json)
