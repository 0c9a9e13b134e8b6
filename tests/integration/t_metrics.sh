# gvoip server --metrics: the Prometheus endpoint and /healthz, with one
# server (--threads 1) and with two workers (--threads 2). Its port is in
# the listening event; /healthz answers ok; a malformed request is 400, an
# unknown path 404, a POST 405 and a request head over 4 KiB 431; a fifth
# connection while four are open is closed at once. Simulated players in
# two lobbies and a real one in a third, whose name needs escaping: the
# scrape follows the text format (HELP and TYPE before a family's
# samples, label values escaped, histogram buckets cumulative up to +Inf,
# which equals _count), counts every player and lobby, and voice keeps
# being relayed while a client holds a connection open and sends nothing,
# which the server drops after 2 s. The last scrape before SIGTERM agrees
# with the --stats file written at exit; with the relay's hold on (the
# one server), the latency histogram sees the packets wait. Then the
# option's errors.
source "$(dirname "$0")/lib.sh"
LOAD=$GVOIP_BUILD_DIR/tools/load/gvoip-load
[ -x "$LOAD" ] || fail "gvoip-load is not built ($LOAD)"
command -v curl >/dev/null || fail "the test needs curl"

ODD_LOBBY='say "hi" \o/'
ODD_LABEL='lobby="say \"hi\" \\o/"'

metrics_port_of() {
  wait_for "$1" '"event":"listening".*"metrics_port":[0-9]+'
  sed -n 's/.*"event":"listening".*"metrics_port":\([0-9]*\).*/\1/p' "$TMP/$1.out" | head -n 1
}

# http PATH [CURL-OPTIONS...]: the status code; the body in $TMP/body.
http() {
  local path=$1
  shift
  curl -sS --max-time 5 -o "$TMP/body" -w '%{http_code}' "$@" "http://127.0.0.1:$mport$path"
}

# raw TEXT: sends TEXT on a connection of its own and prints the status
# line of the answer.
raw() {
  timeout 5 bash -c 'exec 9<>"/dev/tcp/127.0.0.1/$1"; printf "%b" "$2" >&9; head -n 1 <&9 | tr -d "\r"' _ "$mport" "$1"
}

# scrape FILE: /metrics into FILE, checked against the text format.
scrape() {
  [ "$(http /metrics -D "$TMP/headers")" = 200 ] || fail "GET /metrics: not 200"
  mv "$TMP/body" "$1"
  grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/headers" || fail "/metrics: $(grep -i content-type "$TMP/headers")"
  check_exposition "$1"
}

# sample FILE NAME: the value of the unlabelled sample NAME.
sample() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }

# num FILE KEY: the first number after "KEY": in a JSON file.
num() { grep -o "\"$2\":-\?[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }

# The text exposition format 0.0.4: every line a comment or a sample
# `name{label="value",...} value`; per family one HELP, then one TYPE,
# then its samples; a histogram's buckets in rising order of le, each
# counting at least what the one before did, the last le="+Inf" and equal
# to _count.
check_exposition() {
  awk '
    function bad(msg) { print "line " NR " of the exposition: " msg ": " $0 > "/dev/stderr"; failed = 1; exit 1 }
    BEGIN {
      label = "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
      line = "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{" label "(," label ")*\\})? [-+]?([0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|Inf|NaN)$"
    }
    /^# HELP / { if ($3 in help) bad("a second HELP"); help[$3] = 1; next }
    /^# TYPE / {
      if (!($3 in help)) bad("TYPE without HELP before it")
      if ($3 in type) bad("a second TYPE")
      if ($3 in sampled) bad("TYPE after samples")
      type[$3] = $4
      next
    }
    /^#/ { next }
    {
      if ($0 !~ line) bad("not a sample")
      name = $0
      sub(/[{ ].*/, "", name)
      family = name
      if (!(family in type)) {
        sub(/_(bucket|sum|count)$/, "", family)
        if (type[family] != "histogram") bad("a sample before its TYPE")
      }
      if (family != current && (family in sampled)) bad("a family whose samples are not together")
      current = family
      sampled[family] = 1
      if (type[family] == "counter" && $NF + 0 < 0) bad("a negative counter")
      if (name ~ /_bucket$/) {
        le = $0
        sub(/.*le="/, "", le)
        sub(/".*/, "", le)
        if (le == "+Inf") inf[family] = $NF
        else if (family in inf || (family in lastle && le + 0 <= lastle[family])) bad("buckets out of order")
        lastle[family] = le + 0
        if ($NF + 0 < below[family]) bad("a bucket below the one before")
        below[family] = $NF + 0
      }
      if (name ~ /_count$/ && type[family] == "histogram") {
        if (!(family in inf)) bad("_count before the +Inf bucket")
        if ($NF + 0 != inf[family] + 0) bad("_count is not the +Inf bucket (" inf[family] ")")
        counted[family] = 1
      }
    }
    END {
      if (failed) exit 1
      for (f in type) if (type[f] == "histogram" && !(f in counted)) { print "histogram " f " has no _count" > "/dev/stderr"; exit 1 }
    }' "$1" || fail "$1 is not the text exposition format"
}

# run THREADS [SERVER-OPTIONS...]
run() {
  local t=$1 srv=srv$1
  start $srv server --port 0 --threads "$t" --metrics 127.0.0.1:0 --max-talkers 0 --json --stats "$TMP/$srv.json" \
    "${@:2}"
  port=$(port_of $srv)
  mport=$(metrics_port_of $srv)
  echo "--threads $t: UDP port $port, metrics on TCP port $mport"

  [ "$(http /healthz)" = 200 ] && [ "$(cat "$TMP/body")" = ok ] || fail "/healthz is not 200 ok"
  [ "$(http /nowhere)" = 404 ] || fail "GET /nowhere is not 404"
  [ "$(http /metrics -X POST)" = 405 ] || fail "POST /metrics is not 405"
  [ "$(http /metrics -I)" = 200 ] || fail "HEAD /metrics is not 200"
  [ "$(raw 'garbage\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || fail "a malformed request is not 400"
  [ "$(raw 'GET /metrics HTTP/9.9\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || fail "HTTP/9.9 is not 400"
  [ "$(raw 'GET /healthz HTTP/1.0\r\n\r\n')" = "HTTP/1.1 200 OK" ] || fail "an HTTP/1.0 request is not answered"
  big=$(head -c 5000 /dev/zero | tr '\0' a)
  [ "$(http /metrics -H "X-Big: $big")" = 431 ] || fail "a request head over 4 KiB is not 431"
  # Another server cannot have the port: exit 1, saying so.
  start busy$t server --port 0 --threads "$t" --metrics "127.0.0.1:$mport" --json
  expect_exit busy$t 1
  grep -q "cannot listen for --metrics on TCP 127.0.0.1:$mport" "$TMP/busy$t.err" || fail "busy$t: $(cat "$TMP/busy$t.err")"

  spawn load$t "$LOAD" --server "127.0.0.1:$port" --lobbies 2 --players 6 --speakers 2 --continuous --duration 60
  start odd$t join "127.0.0.1:$port" --name odd --lobby "$ODD_LOBBY" "${NOAUDIO[@]}" --duration 60
  wait_for odd$t '"event":"connected"'
  local deadline=$((SECONDS + 20))
  until scrape "$TMP/m$t.steady" && [ "$(sample "$TMP/m$t.steady" gvoip_players)" = 7 ] &&
    [ "$(sample "$TMP/m$t.steady" gvoip_relayed_packets_total)" -gt 0 ]; do
    [ $SECONDS -lt $deadline ] || fail "the scrape never counted 7 players relaying: $(grep '^gvoip_players ' "$TMP/m$t.steady")"
    sleep 0.2
  done
  m=$TMP/m$t.steady
  [ "$(sample "$m" gvoip_lobbies)" = 3 ] || fail "gvoip_lobbies $(sample "$m" gvoip_lobbies), expected 3"
  [ "$(sample "$m" gvoip_workers)" = "$t" ] || fail "gvoip_workers $(sample "$m" gvoip_workers), expected $t"
  grep -qF "gvoip_lobby_players{$ODD_LABEL,worker=\"" "$m" || fail "no escaped gvoip_lobby_players for '$ODD_LOBBY'"
  for l in load-0 load-1; do
    grep -Eq "^gvoip_lobby_players\{lobby=\"$l\",worker=\"[0-9]+\"\} 3$" "$m" || fail "$l does not hold 3 players"
  done
  grep -Eq '^gvoip_drops_total\{reason="culled"\} [0-9]+$' "$m" || fail "no gvoip_drops_total{reason=\"culled\"}"
  grep -Eq '^gvoip_token_refused_total\{reason="expired"\} 0$' "$m" || fail "no gvoip_token_refused_total{reason=\"expired\"}"
  grep -Eq '^process_cpu_seconds_total [0-9.]+$' "$m" || fail "no process_cpu_seconds_total"

  # Four connections that send nothing fill the endpoint: a fifth is
  # closed at once, not kept waiting. Three go; the fourth stays, and the
  # voice goes on while it does. (First, the server sees the last scrape's
  # connection closed.)
  sleep 0.3
  exec 3<>"/dev/tcp/127.0.0.1/$mport" 4<>"/dev/tcp/127.0.0.1/$mport" 5<>"/dev/tcp/127.0.0.1/$mport" \
    6<>"/dev/tcp/127.0.0.1/$mport"
  local idle_since=$SECONDS rc=0
  curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$mport/metrics" 2>/dev/null || rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 28 ] || fail "a fifth connection was not closed at once (curl exit $rc)"
  exec 4>&- 5>&- 6>&-
  sleep 0.2
  scrape "$TMP/m$t.a"
  sleep 1
  scrape "$TMP/m$t.b"
  a=$(sample "$TMP/m$t.a" gvoip_relayed_packets_total) b=$(sample "$TMP/m$t.b" gvoip_relayed_packets_total)
  echo "relayed $((b - a)) packets in a second with a silent client connected"
  # Two speakers, each heard by the two others of its lobby, 50 packets a
  # second: 200 a second.
  [ $((b - a)) -ge 100 ] || fail "the relay slowed with a silent client connected: $((b - a)) packets in 1 s"
  rc=0
  read -r -t 5 -u 3 _ || rc=$?
  [ $rc -eq 1 ] || fail "the silent connection was not dropped (read exit $rc)"
  echo "the silent connection was dropped after about $((SECONDS - idle_since)) s"
  exec 3<&-

  # The last scrape against the file written at exit, the players still in.
  scrape "$TMP/m$t.last"
  kill -TERM "$(pid_of $srv)"
  expect_exit $srv 0
  m=$TMP/m$t.last s=$TMP/$srv.json
  scraped=$(sample "$m" gvoip_relayed_packets_total) stopped=$(num "$s" relayed_packets)
  echo "relayed: $scraped scraped before SIGTERM, $stopped in --stats at exit"
  [ "$scraped" -le "$stopped" ] && [ $((stopped - scraped)) -le 300 ] ||
    fail "the scrape's $scraped relayed packets are not just under the file's $stopped"
  [ "$(sample "$m" gvoip_players)" = "$(num "$s" players)" ] || fail "players: scraped $(sample "$m" gvoip_players), file $(num "$s" players)"
  [ "$(grep -o '{"name":' "$s" | wc -l)" = "$(sample "$m" gvoip_lobbies)" ] || fail "lobbies: scraped $(sample "$m" gvoip_lobbies), file lists others"
  count=$(sample "$m" gvoip_relay_latency_seconds_count)
  filed=$(grep -o '"relay_latency":{[^}]*}' "$s" | sed 's/.*"packets":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | awk '{ n += $1 } END { print n + 0 }')
  echo "relay latency: $count packets scraped, $filed in --stats; up to 0.1, 1 and 2.5 ms:" \
    $(grep -E '^gvoip_relay_latency_seconds_bucket\{le="0\.(0001|001|0025)"\}' "$m" | awk '{ print $NF }')
  [ "$count" -gt 0 ] && [ "$count" -le "$scraped" ] || fail "the latency histogram counts $count of $scraped relayed"
  [ "$count" -le "$filed" ] || fail "the scrape's latency count $count is over the file's $filed"
  if [ "$t" = 1 ]; then
    # Held for another packet (--relay-hold-us 2000, on from 1 packet a
    # second): a packet waits 2 ms unless the other lobby's speaker sends
    # within them, and only the one that ends a wait goes sooner.
    quick=$(grep '^gvoip_relay_latency_seconds_bucket{le="0.001"}' "$m" | awk '{ print $NF }')
    [ $((quick * 2)) -le "$count" ] || fail "with the hold on, $quick of $count packets took under 1 ms"
  fi
  curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$mport/healthz" && fail "the endpoint outlived the server"
  # The players, whose server is gone, leave on SIGTERM whatever they
  # make of it.
  for p in load$t odd$t; do
    kill -TERM "$(pid_of $p)" 2>/dev/null || true
    timeout 10 tail --pid="$(pid_of $p)" -f /dev/null || fail "$p did not leave on SIGTERM"
    wait "$(pid_of $p)" || true
  done
}

run 1 --relay-hold-rate 1
run 2

usage() {
  start "$1" "${@:2}"
  expect_exit "$1" 2
}
usage noport server --metrics 127.0.0.1 --json
usage badport server --metrics 127.0.0.1:65536 --json
usage ipv6 server --metrics ::1:9100 --json
usage hostmetrics host --metrics 127.0.0.1:0 "${NOAUDIO[@]}"
usage joinmetrics join 127.0.0.1:7000 --metrics 127.0.0.1:0 "${NOAUDIO[@]}"
grep -q 'metrics is for gvoip server' "$TMP/hostmetrics.err" || fail "host --metrics: $(cat "$TMP/hostmetrics.err")"
echo "PASS"
