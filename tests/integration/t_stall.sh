# Stalls are not departures. A lobby of alice (talking, direct) and bob
# (listening through gvoip-netem with 100 ms of round trip): the server is
# stopped for 5 s, later bob for 8 s (a laptop lid, a debugger). Nobody is
# dropped: no leave or join events anywhere, the same ids, everyone exits 0
# at the end; the clients said the connection was interrupted and then
# restored; bob's counters add up (what he heard plus what he counted lost
# is what alice sent).
source "$(dirname "$0")/lib.sh"

num() { grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2 || true; }
alice() { grep -o '{"id":[0-9]*,"name":"alice"[^}]*}' "$1" | grep -o "\"$2\":[0-9.]*" | head -n 1 | cut -d: -f2 || true; }

sox -n -r 48000 -c 1 "$TMP/tone.wav" synth 20 sine 330 vol 0.3

start server server --port 0 --json --stats "$TMP/server.json"
port=$(port_of server)
start_netem relay --listen 0 --to "127.0.0.1:$port" --delay 50
rport=$(port_of relay)
# bob is there before alice speaks and stays after she stops, so that
# everything she sends is his to hear or to count lost.
start bob join "127.0.0.1:$rport" --name bob "${NOAUDIO[@]}" --stats "$TMP/bob.json" --duration 20
wait_for bob '"event":"connected"'
start alice join "127.0.0.1:$port" --name alice --no-playback --json --input-file "$TMP/tone.wav" \
  --stats "$TMP/alice.json" --duration 18
wait_for alice '"event":"connected"'
wait_for bob '"event":"player_connected","id":[0-9]+,"name":"alice"'

sleep 1
kill -STOP "$(pid_of server)"
sleep 5
kill -CONT "$(pid_of server)"
wait_for alice '"event":"connection_restored"' 5
wait_for bob '"event":"connection_restored"' 5
sleep 1
kill -STOP "$(pid_of bob)"
sleep 8
kill -CONT "$(pid_of bob)"
# What everyone said up to a second after the stalls, before anyone's
# --duration ends it (then they leave as usual).
sleep 1
for c in server alice bob; do cp "$TMP/$c.out" "$TMP/$c.mid"; done

expect_exit alice 0 15
expect_exit bob 0 15
kill -INT "$(pid_of server)"
expect_exit server 0

for c in alice bob; do
  grep -q '"event":"connection_interrupted"' "$TMP/$c.mid" || fail "$c never said the connection was interrupted"
  [ "$(count "$c" '"event":"connected"')" -eq 1 ] || fail "$c joined more than once"
  grep -q '"event":"\(server_disconnected\|player_disconnected\)"' "$TMP/$c.mid" &&
    fail "$c saw someone leave during the stalls"
done
grep -q '"event":"player_disconnected"' "$TMP/server.mid" && fail "the server dropped a player during a stall"
[ "$(count server '"event":"player_connected"')" -eq 2 ] || fail "the server saw more than two joins"

sent=$(num "$TMP/alice.json" voice_packets)
heard=$(alice "$TMP/bob.json" voice_packets)
lost=$(alice "$TMP/bob.json" lost)
echo "alice sent ${sent:-?} voice packets; bob heard ${heard:-?} and counted ${lost:-?} lost"
[ -n "$sent" ] && [ "$sent" -gt 500 ] || fail "alice sent ${sent:-no} voice packets"
[ "${heard:-0}" -gt $((sent / 2)) ] || fail "bob heard only ${heard:-0} of $sent"
late=$(alice "$TMP/bob.json" late)
# What never arrived (lost - late) is what alice sent and bob did not
# hear, within 2% (voice that overtook the news of alice's arrival is not
# bob's to count); the stale voice a stall leaves queued arrives late and
# never plays.
never=$((${lost:-0} - ${late:-0}))
echo "bob: ${late:-?} late, $never never arrived; $((sent - ${heard:-0})) sent and not heard"
within "$never" "$((sent - ${heard:-0}))" "$((sent / 50 + 5))" ||
  fail "bob counted $never packets that never arrived, against $((sent - ${heard:-0})) sent and not heard"
[ "${late:-0}" -gt 100 ] || fail "the stale voice after the stalls was not counted late (${late:-0})"
echo "PASS"
