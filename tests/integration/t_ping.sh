# Pings: the server tells everyone each player's round trip every 2 s.
# bob sits behind gvoip-netem with 50 ms each way, alice on loopback: both
# see bob at about 100 ms and alice near 0, and each knows its own.
source "$(dirname "$0")/lib.sh"

num() { grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2 || true; }
peer() { grep -o "{\"id\":[0-9]*,\"name\":\"$2\"[^}]*}" "$1" | grep -o "\"$3\":[0-9.]*" | head -n 1 | cut -d: -f2 || true; }
between() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

start server server --port 0 --json
port=$(port_of server)
start_netem relay --listen 0 --to "127.0.0.1:$port" --delay 50
rport=$(port_of relay)
start alice join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}" --stats "$TMP/alice.json" --duration 6
wait_for alice '"event":"connected"'
start bob join "127.0.0.1:$rport" --name bob "${NOAUDIO[@]}" --stats "$TMP/bob.json" --duration 6
expect_exit alice 0 15
expect_exit bob 0 15
kill -INT "$(pid_of server)"
expect_exit server 0

a_bob=$(peer "$TMP/alice.json" bob rtt_ms)
b_alice=$(peer "$TMP/bob.json" alice rtt_ms)
a_own=$(num "$TMP/alice.json" rtt_ms)
b_own=$(num "$TMP/bob.json" rtt_ms)
echo "alice sees bob at ${a_bob:-?} ms and herself at ${a_own:-?}; bob sees alice at ${b_alice:-?} and himself at ${b_own:-?}"
between "${a_bob:-0}" 80 250 || fail "alice sees bob's ping as ${a_bob:-nothing}, expected about 100 ms"
between "${b_own:-0}" 80 250 || fail "bob's own round trip is ${b_own:-nothing}, expected about 100 ms"
between "${b_alice:--1}" 0 40 || fail "bob sees alice's ping as ${b_alice:-nothing}, expected near 0"
between "${a_own:--1}" 0 40 || fail "alice's own round trip is ${a_own:-nothing}, expected near 0"
echo "PASS"
