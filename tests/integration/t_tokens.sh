# A server that admits players by access token, end to end with gvoip
# processes: two backends' keys at once (a rotation), a token naming the
# lobby and the player, refusals for a token from an unlisted key, one for
# another lobby, one expired and one in use (each exit 3 with its reason,
# counted by reason in --stats), and a listen-only player whose voice
# stops at the server. (Every refusal reason in detail, and a moderator
# muting a player for everyone, against the library: unit/test_access.)
source "$(dirname "$0")/lib.sh"

sox -n -r 48000 -c 1 "$TMP/tone.wav" synth 30 sine 440

for k in old new stranger; do
  start "key_$k" token-key --out "$TMP/$k.key"
  expect_exit "key_$k" 0
done
{ echo "# the backend's keys: the old one until its tokens expire"; cat "$TMP/old.key.pub" "$TMP/new.key.pub"; } \
  >"$TMP/keys"
mint() {
  local file=$1 key=$2
  shift 2
  "$GVOIP_BIN" token --key "$TMP/$key.key" "$@" >"$TMP/$file" || fail "cannot mint $file"
}
mint alice.tok old --lobby arena --name alice --moderator --id 10
mint bob.tok new --lobby arena --name bob
mint quiet.tok new --lobby arena --name quiet --listen-only
mint eve.tok stranger --lobby arena --name eve
mint short.tok new --lobby arena --name late --ttl 1

start server server --port 0 --token-key "$TMP/keys" --max-talkers 0 --json --stats "$TMP/server.json"
port=$(port_of server)

# The token names the lobby and the player: no --lobby, --name ignored.
start alice join "127.0.0.1:$port" --name ignored --token-file "$TMP/alice.tok" "${NOAUDIO[@]}"
wait_for alice '"event":"connected","id":10,"name":"alice"'
GVOIP_TOKEN=$(cat "$TMP/bob.tok") start bob join "127.0.0.1:$port" --lobby arena --input-file "$TMP/tone.wav" \
  --no-playback --json
wait_for bob '"event":"connected","id":2,"name":"bob"'
start quiet join "127.0.0.1:$port" --token-file "$TMP/quiet.tok" --input-file "$TMP/tone.wav" --no-playback --json
wait_for quiet '"event":"connected","id":3,"name":"quiet"'

refused() {
  local name=$1 reason=$2
  shift 2
  start "$name" join "127.0.0.1:$port" "$@" "${NOAUDIO[@]}"
  expect_exit "$name" 3
  wait_for_text "$name" "\"event\":\"connection_failed\",\"reason\":\"$reason"
}
refused eve "token signed by an unknown key" --token-file "$TMP/eve.tok"
refused wrong "token is for another lobby" --token-file "$TMP/bob.tok" --lobby lounge
refused twice "token in use by a connected player" --token-file "$TMP/bob.tok"
refused none "this server admits players with an access token only" --lobby arena
sleep 1.2
refused expired "token expired" --token-file "$TMP/short.tok"
grep -qF "$(cat "$TMP/bob.tok")" "$TMP/server.out" "$TMP/server.err" && fail "the server printed a token"

sleep 1
wait_for server '"event":"player_connected","id":3,"name":"quiet","lobby":"arena"'
kill -TERM "$(pid_of quiet)" "$(pid_of bob)" "$(pid_of alice)"
expect_exit quiet 0
expect_exit bob 0
expect_exit alice 0
kill -TERM "$(pid_of server)"
expect_exit server 0

# quiet spoke for a while: all of it stopped at the server, and what bob
# said was relayed.
num() { grep -o "\"$1\":[0-9]*" "$TMP/server.json" | head -1 | cut -d: -f2; }
[ "$(num listen_only_dropped)" -gt 50 ] || fail "listen-only voice not dropped: $(num listen_only_dropped)"
[ "$(num relayed_packets)" -gt 50 ] || fail "bob's voice was not relayed: $(num relayed_packets)"
for r in unknown_key wrong_lobby in_use missing expired; do
  [ "$(num "token_$r")" = 1 ] || fail "token_$r is $(num "token_$r"), expected 1"
done
[ "$(num token_bad_signature)" = 0 ] || fail "token_bad_signature counted"
echo "PASS"
