# Named lobbies from the command line: players in red and blue, a third
# lobby refused while two are open (--max-lobbies 2) and let in once one
# has closed (--lobby-linger-s 1), bad lobby names refused (exit 3), the
# server's events and --stats naming the lobbies, a host's own player in
# its --lobby, and the options' usage errors (exit 2).
source "$(dirname "$0")/lib.sh"

sox -n -r 48000 -c 1 "$TMP/tone.wav" synth 6 sine 440

start server server --port 0 --max-lobbies 2 --lobby-linger-s 1 --json --stats "$TMP/server.json"
port=$(port_of server)

start a join "127.0.0.1:$port" --name a --lobby red --input-file "$TMP/tone.wav" --no-playback --json
wait_for a '"event":"connected","id":2,"name":"a"'
start r join "127.0.0.1:$port" --name r --lobby red "${NOAUDIO[@]}"
wait_for r '"event":"connected","id":3,"name":"r"'
wait_for r '"event":"player_connected","id":2,"name":"a"'
# Lobbies are apart: blue's first player is id 2 again and meets nobody.
start b join "127.0.0.1:$port" --name b --lobby blue "${NOAUDIO[@]}" --duration 2
wait_for b '"event":"connected","id":2,"name":"b"'

start green join "127.0.0.1:$port" --name g --lobby green "${NOAUDIO[@]}"
expect_exit green 3
wait_for green '"event":"connection_failed","reason":"this server has its most lobbies open \(2\)'

# The server judges a lobby's name; one too long for the handshake is
# refused before it is sent, in the same words.
bad_lobby() {
  start "$1" join "127.0.0.1:$port" --name x --lobby "$2" "${NOAUDIO[@]}"
  expect_exit "$1" 3
  wait_for "$1" "\"event\":\"connection_failed\",\"reason\":\"bad lobby name: $3\""
}
bad_lobby long "$(printf 'x%.0s' {1..65})" "name is longer than 64 bytes"
bad_lobby control "$(printf 'bad\tlobby')" "name contains a control character"
bad_lobby blank " " "name is only white space"

expect_exit b 0
[ "$(count a '"event":"player_connected"')" -eq 1 ] || fail "a saw players of another lobby"
wait_for server '"event":"player_disconnected","id":2,"name":"b","lobby":"blue"'
wait_for server '"event":"lobby_closed","lobby":"blue"' 5
# One lobby open again: green may open.
start green2 join "127.0.0.1:$port" --name g --lobby green "${NOAUDIO[@]}" --duration 1
wait_for green2 '"event":"connected","id":2,"name":"g"'
expect_exit green2 0

wait_for server '"event":"lobby_opened","lobby":"red"'
wait_for server '"event":"player_connected","id":2,"name":"a","lobby":"red"'
wait_for server '"event":"player_connected","id":3,"name":"r","lobby":"red"'
wait_for server '"event":"lobby_opened","lobby":"green"'
[ "$(count server '"event":"lobby_opened"')" -eq 3 ] || fail "the server opened $(count server lobby_opened) lobbies"

# The statistics, with red still open: its players, what it relayed.
kill -TERM "$(pid_of server)"
expect_exit server 0
st=$(cat "$TMP/server.json")
echo "$st"
grep -q '"lobbies_opened":3,"lobbies_closed":[12],' <<<"$st" || fail "lobbies_opened/closed wrong in the stats"
grep -Eq '"lobbies":\[\{"name":"red","players":2,"away":[0-9]+,"max_players":32,"relayed_packets":[1-9][0-9]*,' <<<"$st" ||
  fail "the stats do not list red with its players and relayed packets"
grep -q '"joined":2,"open_ms":[0-9]' <<<"$st" || fail "red's joined and open_ms missing"
grep -q '"name":"blue"' <<<"$st" && fail "closed lobby blue is still listed"
for p in a r; do
  kill -TERM "$(pid_of $p)"
  expect_exit $p 0
done

# A host's own player is in its --lobby: with one lobby allowed, a join
# to the default lobby is the one too many.
start host host --port 0 --name h --lobby red --max-lobbies 1 "${NOAUDIO[@]}"
hport=$(port_of host)
wait_for host '"event":"connected","id":1,"name":"h"'
start nolobby join "127.0.0.1:$hport" --name n "${NOAUDIO[@]}"
expect_exit nolobby 3
wait_for nolobby '"reason":"this server has its most lobbies open \(1\)'
start inred join "127.0.0.1:$hport" --name n --lobby red "${NOAUDIO[@]}" --duration 1
wait_for inred '"event":"player_connected","id":1,"name":"h"'
expect_exit inred 0
kill -TERM "$(pid_of host)"
expect_exit host 0

usage() {
  local name=$1 want=$2
  shift 2
  start "$name" "$@"
  expect_exit "$name" 2
  grep -qF -- "$want" "$TMP/$name.err" || fail "$name: no reason '$want'"
}
usage lobbies0 "--max-lobbies takes 1..4000: '0'" server --max-lobbies 0
usage lobbies_big "--max-lobbies takes 1..4000: '4001'" host --max-lobbies 4001
usage linger_neg "--lobby-linger-s takes 0 to 86400 seconds: '-1'" server --lobby-linger-s -1
usage linger_big "--lobby-linger-s takes 0 to 86400 seconds: '86401'" server --lobby-linger-s 86401
usage linger_none "option needs a value: '--lobby-linger-s'" server --lobby-linger-s
echo "PASS"
