# The terminal screen, driven in tmux: `gvoip host` in a terminal lists the
# players and the keys; m mutes, the arrow keys move you on the map (2D
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
