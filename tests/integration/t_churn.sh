# Churn and soak (issue 16), a minute's worth of bench/sections/90-churn.sh
# and 91-soak.sh; every talker is relayed to every listener (--max-talkers
# 0), so that what is not heard is lost. 1. 1,000 times a player of a lobby of 32 leaves and a
# newcomer joins from a fresh loopback address, 2 talking throughout: the
# server's memory after the warm-up grows by less than 1 MB, its
# descriptors not at all, and its lobby is back to 32. 2. 16 talkers
# through gvoip-netem, which blacks the path out both ways for 4 s every
# 15 s, with a server that gives up on a silent peer after 2 s: after each
# blackout every player has resumed its place (same id), loss outside the
# outages stays under 2%, and the relay latency of the last interval is
# less than a frame (20 ms) above the first's: a relay that queued what it
# could not send would grow by frames, while the machine's other work moves
# the median by a few milliseconds either way (under ASan, beside another
# test: 0.7, then 5.8, then 3.8 ms in one run).
source "$(dirname "$0")/lib.sh"

LOAD="${GVOIP_BUILD_DIR:?}/tools/load/gvoip-load"
[ -x "$LOAD" ] || fail "gvoip-load is not built ($LOAD)"
SEED=${GVOIP_CHURN_SEED:-16}
echo "seed $SEED (GVOIP_CHURN_SEED)"
# AddressSanitizer keeps freed memory in quarantine, so the server's
# resident memory grows under it whatever the code does.
sanitized=0
grep -q '^GVOIP_SANITIZE:BOOL=ON' "$GVOIP_BUILD_DIR/CMakeCache.txt" 2>/dev/null && sanitized=1

# num FILE KEY: the first KEY; sub FILE OBJECT KEY: KEY inside "OBJECT":{,
# before any object nested in it.
num() { grep -o "\"$2\":-\?[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }
sub() { grep -o "\"$2\":{[^{}]*" "$1" | head -n 1 | grep -o "\"$3\":-\?[0-9.]*" | head -n 1 | cut -d: -f2; }

# 1. Churn.
start server server --port 0 --max-players 64 --max-talkers 0 --json --stats "$TMP/server.json"
port=$(port_of server)
t0=$SECONDS
"$LOAD" --server "127.0.0.1:$port" --players 32 --speakers 2 --continuous --churn 1000 --sample-every 50 \
  --seed "$SEED" --server-pid "$(pid_of server)" --server-events "$TMP/server.out" \
  >"$TMP/churn.out" 2>"$TMP/churn.err" || fail "the churn run failed"
kill -INT "$(pid_of server)"
expect_exit server 0
c="$TMP/churn.out"
rss0=$(sub "$c" warm rss_kb) rss1=$(sub "$c" last rss_kb) fds0=$(sub "$c" warm fds) fds1=$(sub "$c" last fds)
echo "churn: $(sub "$c" churn done) cycles in $((SECONDS - t0)) s; server RSS $rss0 -> $rss1 kB after" \
  "$(sub "$c" churn warmup_cycles) cycles of warm-up, descriptors $fds0 -> $fds1; joins p95 $(sub "$c" joins p95_ms) ms," \
  "$(sub "$c" joins failures) failed"
[ "$(sub "$c" churn done)" = 1000 ] || fail "the churn did not finish"
[ "$(sub "$c" joins failures)" = 0 ] || fail "$(sub "$c" joins failures) join attempts failed"
[ "$fds1" -le "$fds0" ] || fail "the server's descriptors grew from $fds0 to $fds1"
[ "$sanitized" = 1 ] || [ $((rss1 - rss0)) -lt 1024 ] || fail "the server's memory grew from $rss0 to $rss1 kB"
[ "$(sub "$c" last server_players)" = 32 ] || fail "the server's lobby holds $(sub "$c" last server_players), not 32"
[ "$(num "$c" roster_ok)" = 32 ] || fail "only $(num "$c" roster_ok) of 32 rosters list everyone"
[ "$(num "$TMP/server.json" players)" = 0 ] || fail "players left in the lobby after everyone left"

# 2. Soak with blackouts.
start soak server --port 0 --max-talkers 0 --peer-timeout-s 2 --json --stats "$TMP/soak.json"
port=$(port_of soak)
start_netem relay --listen 0 --to "127.0.0.1:$port" --keep-client-address --blackout-every 15 --blackout-s 4 \
  --blackout-first 7.5
rport=$(port_of relay)
"$LOAD" --server "127.0.0.1:$rport" --players 16 --speakers 16 --continuous --source-addresses --duration 45 \
  --report-every 15 --seed "$SEED" --server-pid "$(pid_of soak)" --server-events "$TMP/soak.out" \
  >"$TMP/load.out" 2>"$TMP/load.err" || fail "the soak run failed"
kill -INT "$(pid_of relay)"
expect_exit relay 0
kill -INT "$(pid_of soak)"
expect_exit soak 0
grep '"event":"interval"' "$TMP/load.out" >"$TMP/intervals" || true
grep -v '"event":"interval"' "$TMP/load.out" | tail -n 1 >"$TMP/final.json"
f="$TMP/final.json"
cat "$TMP/intervals"
blackouts=$(grep -c '"event":"blackout","on":false' "$TMP/relay.out" || true)
[ "$blackouts" = 3 ] || fail "the relay blacked out $blackouts times, expected 3"
[ "$(wc -l <"$TMP/intervals")" = 3 ] || fail "expected 3 interval reports"
resumes="$(sub "$f" player_resumes min)..$(sub "$f" player_resumes max)"
echo "soak: $blackouts blackouts, each player resumed $resumes times, $(num "$f" fresh) afresh," \
  "$(num "$f" id_changed) ids changed; loss outside outages $(num "$f" loss_outside_pct)%"
[ "$resumes" = 3..3 ] || fail "each player should have resumed 3 times: $resumes"
[ "$(num "$f" fresh)" = 0 ] && [ "$(num "$f" id_changed)" = 0 ] || fail "a player lost its place"
[ "$(num "$f" removed)" = 0 ] && [ "$(num "$f" same_ids)" = 16 ] || fail "a player left or changed id"
[ "$(num "$TMP/soak.json" resumed)" = 48 ] || fail "the server honoured $(num "$TMP/soak.json" resumed) resumes, not 48"
awk '{ match($0, /"loss_outside_pct":[0-9.]+/); split(substr($0, RSTART, RLENGTH), a, ":")
       if (a[2] >= 2) exit 1 }' "$TMP/intervals" || fail "an interval lost 2% or more outside its outage"
awk '{ match($0, /"outage_s":[0-9.]+/); split(substr($0, RSTART, RLENGTH), a, ":")
       if (a[2] < 4 || a[2] > 10) exit 1 }' "$TMP/intervals" || fail "an interval's outage is not one blackout's"
first=$(head -n 1 "$TMP/intervals") last=$(tail -n 1 "$TMP/intervals")
p50() { grep -o '"p50":[0-9.]*' <<<"$1" | cut -d: -f2; }
field() { grep -o "\"$2\":-\?[0-9]*" <<<"$1" | cut -d: -f2; }
awk -v a="$(p50 "$first")" -v b="$(p50 "$last")" 'BEGIN { exit !(b < a + 20) }' ||
  fail "latency p50 grew from $(p50 "$first") to $(p50 "$last") ms"
rss0=$(field "$first" server_rss_kb) rss1=$(field "$last" server_rss_kb)
[ "$sanitized" = 1 ] || [ $((rss1 - rss0)) -lt 1024 ] || fail "the soak server's memory grew from $rss0 to $rss1 kB"
[ "$(field "$last" server_fds)" -le "$(field "$first" server_fds)" ] || fail "the soak server's descriptors grew"
echo "soak: latency p50 $(p50 "$first") -> $(p50 "$last") ms, server RSS $rss0 -> $rss1 kB"
echo "PASS"
