# The terminal screen, driven in tmux: `gvoip host` in a terminal lists the
# players by id with their loss, ping and delay, and the keys, at any size down to
# 40x10; m mutes, the arrow keys move you on the map (2D
# mode: a step is a twentieth of the max distance), q quits with status 0.
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || fail "tmux is not installed (scripts/deps.sh)"

sock="gvoip-tui-$$"
tmx() { tmux -L "$sock" "$@"; }
cleanup_tmux() { tmx kill-server 2>/dev/null || true; }
trap 'rc=$?; cleanup_tmux; (exit $rc); cleanup' EXIT

screen() { tmx capture-pane -p -t tui; }
# wait_screen TEXT [SECONDS]: until the pane shows TEXT.
wait_screen() {
  local deadline=$((SECONDS + ${2:-10}))
  while [ $SECONDS -lt $deadline ]; do
    screen | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  screen >&2
  fail "the screen never showed '$1'"
}

tmx new-session -d -s tui -x 140 -y 40 \
  "GVOIP_HOME='$GVOIP_HOME' '$GVOIP' host --port 0 --name hostie --no-capture --no-playback --spatial 2d \
   --max-distance 100 --stats '$TMP/host.json'; echo \"exit=\$?\" > '$TMP/exit'; sleep 30"
wait_screen "players (0)"
wait_screen "m mute"
wait_screen "q quit"
wait_screen "arrows move"
wait_screen "position 0.0, 0.0, 0.0"
port=$(screen | sed -n 's/.*listening on UDP port \([0-9]*\).*/\1/p' | head -n 1)
[ -n "$port" ] || fail "no port on the screen"

start bob join "127.0.0.1:$port" --name bob --position 30,0 "${NOAUDIO[@]}"
wait_for bob '"event":"connected"'
wait_screen "players (1)"
wait_screen "bob"

tmx send-keys -t tui m
wait_screen "MUTED"
tmx send-keys -t tui Up
wait_screen "position 0.0, -5.0"
tmx send-keys -t tui Right Right
wait_screen "position 10.0, -5.0"
tmx send-keys -t tui x
wait_screen "vol 100% MUTED"
tmx send-keys -t tui -
wait_screen "vol  90% MUTED"

# Players by their id, as the events give them, with their figures; the
# header says who and where you are.
wait_screen "  2 bob"
wait_screen "hostie (id 1) on 127.0.0.1:$port"
tmx resize-window -t tui -x 160 -y 40
wait_screen "loss  0.0% ping"

# Smaller terminals: nothing wraps or is left behind, down to 40x10; below
# that the screen says so.
for size in 50x12 40x10; do
  tmx resize-window -t tui -x "${size%x*}" -y "${size#*x}"
  # Redrawn at the new size: the meter fits the width.
  deadline=$((SECONDS + 10))
  until screen | grep -Eq '^input \[#* *\] +-?[0-9.]+ dBFS$' && [ "$(screen | awk '{ print length }' | sort -n | tail -n 1)" -le "${size%x*}" ]; do
    [ $SECONDS -lt $deadline ] || { screen >&2; fail "the meter does not fit $size"; }
    sleep 0.1
  done
  wait_screen "players (1)"
  wait_screen "  2 bob"
  [ "$(screen | grep -c "players (")" -eq 1 ] || { screen >&2; fail "a stale line left at $size"; }
done
tmx resize-window -t tui -x 30 -y 8
wait_screen "40x10 at least"
tmx resize-window -t tui -x 140 -y 40
wait_screen "q quit"

tmx send-keys -t tui q
deadline=$((SECONDS + 10))
while [ ! -s "$TMP/exit" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
[ -s "$TMP/exit" ] || fail "gvoip did not quit on q"
grep -qx "exit=0" "$TMP/exit" || fail "gvoip quit with $(cat "$TMP/exit")"
wait_for bob '"event":"server_disconnected"'
# The moves were published: the lobby relayed the host's positions to bob.
relayed=$(grep -o '"positions_relayed":[0-9]*' "$TMP/host.json" | cut -d: -f2)
[ -n "$relayed" ] || fail "no stats written after q"
[ "$relayed" -ge 3 ] || fail "only $relayed positions relayed"
echo "PASS"
