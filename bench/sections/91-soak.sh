#!/usr/bin/env bash
# Soak with reconnects (issue 16): 16 players, all talking, for an hour
# through gvoip-netem, which cuts the path both ways for 4 s once a minute.
# The server gives up on a silent peer after 2 s (--peer-timeout-s 2), so
# each blackout makes it keep every player's place while the clients (the
# library's gv_link, inside gvoip-load) connect anew and resume it. Each
# minute gvoip-load reports loss, latency and resumes, with the server's
# memory and descriptors; the verdict compares the last minutes with the
# first ones after a warm-up.
#
# usage: bench/sections/91-soak.sh OUT.md [BUILD_DIR]
# Appends a Markdown section to OUT.md. BENCH_QUICK=1: 20 s, a report and
# a blackout every 10 s; it only checks that the soak runs.
set -euo pipefail
out=${1:?usage: $0 OUT.md [BUILD_DIR]}
build=$(cd "${2:-${GVOIP_BUILD_DIR:-build}}" && pwd)
gvoip="$build/gvoip"
netem="$build/tools/netem/gvoip-netem"
load="$build/tools/load/gvoip-load"
for b in "$gvoip" "$netem" "$load"; do
  [ -x "$b" ] || { echo "$0: build $b first" >&2; exit 2; }
done
players=16 seconds=3600 every=60 blackout=4 first=30 seed=1
[ "${BENCH_QUICK:-0}" = 1 ] && seconds=20 every=10 first=5
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export GVOIP_HOME="$tmp/home"
unset GVOIP_PASSWORD

wait_line() { # FILE REGEX SECONDS
  local deadline=$((SECONDS + $3))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "$0: no '$2' in $1" >&2; exit 1; }
    sleep 0.05
  done
}
port_in() { sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$1" | head -n 1; }
num() { grep -o "\"$2\":-\?[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }

server_args=(server --port 0 --max-talkers 0 --peer-timeout-s 2 --json --stats "$tmp/server.json")
netem_args=(--keep-client-address --blackout-every "$every" --blackout-s "$blackout" --blackout-first "$first")
load_args=(--players "$players" --speakers "$players" --continuous --source-addresses --duration "$seconds"
  --report-every "$every" --seed "$seed")

"$gvoip" "${server_args[@]}" --key "$tmp/server.key" >"$tmp/server.out" 2>"$tmp/server.err" &
srv=$!
pids+=("$srv")
wait_line "$tmp/server.out" '"listening"' 10
port=$(port_in "$tmp/server.out")
"$netem" --listen 0 --to "127.0.0.1:$port" "${netem_args[@]}" >"$tmp/netem.out" 2>"$tmp/netem.err" &
relay=$!
pids+=("$relay")
wait_line "$tmp/netem.out" '"listening"' 10
rport=$(port_in "$tmp/netem.out")
"$load" --server "127.0.0.1:$rport" "${load_args[@]}" --server-pid "$srv" --server-events "$tmp/server.out" \
  >"$tmp/load.out" 2>"$tmp/load.err" || { cat "$tmp/load.err" >&2; exit 1; }
kill -INT "$relay"
wait "$relay" || true
kill -INT "$srv"
wait "$srv" || true

# One row per interval: the fields of its {"event":"interval",...} line.
data="$tmp/intervals.dat"
awk 'function v(k,   m) { if (!match($0, "\"" k "\":-?[0-9.]+")) return "nan"
                          m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m }
     /"event":"interval"/ { print v("interval"), v("end_s"), v("sent"), v("expected"), v("received"), v("loss_pct"),
       v("outage_s"), v("loss_outside_pct"), v("p50"), v("p95"), v("p99"), v("max"), v("resumed"), v("fresh"),
       v("id_changed"), v("removed"), v("server_rss_kb"), v("server_fds"), v("server_players"), v("server_cpu_s") }' \
  "$tmp/load.out" >"$data"
n=$(wc -l <"$data")
[ "$n" -ge 2 ] || { echo "$0: only $n interval reports" >&2; exit 1; }
final="$tmp/final.json"
grep -v '"event":"interval"' "$tmp/load.out" | tail -n 1 >"$final"
resumed=$(num "$final" resumed)
blackouts=$(grep -c '"event":"blackout","on":false' "$tmp/netem.out" || true)
[ "$resumed" -gt 0 ] || { echo "$0: nobody resumed a session" >&2; exit 1; }

# The warm-up (a tenth of the run) is left out; then the first k
# intervals against the last k: loss pooled, the rest averaged. Columns of
# $data: 1 interval, 2 end_s, 3 sent, 4 expected, 5 received, 6 loss_pct,
# 7 outage_s, 8 loss_outside_pct, 9-12 latency p50 p95 p99 max, 13 resumed,
# 14 fresh, 15 id_changed, 16 removed, 17 rss_kb, 18 fds, 19 players,
# 20 server cpu_s (since it started).
k=1 warm=0
[ "$n" -ge 20 ] && k=5 warm=$((n / 10))
read -r loss0 out0 loss1 out1 p50_0 p50_1 p95_0 p95_1 outage0 outage1 cpu0 cpu1 rss0 rss1 fds0 fds1 < <(
  awk -v k="$k" -v w="$warm" '
    { for (j = 1; j <= NF; j++) f[NR - 1, j] = $j; n = NR }
    function window(from,   i, e, r, o, a, b, g, c) {
      e = r = o = a = b = g = c = 0
      for (i = from; i < from + k; i++) {
        e += f[i, 4]; r += f[i, 5]; o += f[i, 8]; a += f[i, 9]; b += f[i, 10]; g += f[i, 7]
        c += f[i, 20] - (i ? f[i - 1, 20] : 0)
      }
      printf "%.3f %.3f ", e ? 100 * (e - r) / e : 0, o / k
      lat = lat sprintf("%.3f %.3f ", a / k, b / k)
      rest = rest sprintf("%.2f %.2f ", g / k, c / k)
    }
    END {
      window(w); window(n - k)
      split(lat, l, " "); split(rest, x, " ")
      printf "%s %s %s %s %s %s %s %s %d %d %d %d\n", l[1], l[3], l[2], l[4], x[1], x[3], x[2], x[4],
        f[w, 17], f[n - 1, 17], f[w, 18], f[n - 1, 18]
    }' "$data")
rss_growth=$((rss1 - rss0))
rss_bound=$((rss0 / 10 > 2048 ? rss0 / 10 : 2048))
judge() { awk "BEGIN { exit !($1) }" && echo "$2" || echo "$3"; }
mem_ok=$(judge "$rss_growth < $rss_bound && $fds1 <= $fds0" flat "NOT flat")
delay_ok=$(judge "$p95_1 - $p95_0 <= ($p95_0 / 4 > 0.5 ? $p95_0 / 4 : 0.5)" flat "NOT flat")
loss_ok=$(judge "$out1 - $out0 <= 0.5 && $loss1 - $loss0 <= 1" flat "NOT flat")
expected_resumes=$((players * blackouts))
resume_ok=$(judge "$resumed == $expected_resumes && $(num "$final" fresh) == 0 && $(num "$final" id_changed) == 0 && \
$(num "$final" removed) == 0" "every blackout" "NOT every blackout")
per_min="$every s" length="$seconds s"
[ "$every" = 60 ] && per_min=minute
[ "$seconds" -ge 120 ] && length="$((seconds / 60)) minutes"
resumes_min=$(grep -o '"player_resumes":{[^}]*}' "$final" | grep -o '"min":[0-9]*' | cut -d: -f2)
resumes_max=$(grep -o '"player_resumes":{[^}]*}' "$final" | grep -o '"max":[0-9]*' | cut -d: -f2)
whole_p50=$(grep -o '"p50":[0-9.]*' "$final" | head -n 1 | cut -d: -f2)
whole_p99=$(grep -o '"p99":[0-9.]*' "$final" | head -n 1 | cut -d: -f2)
warm_text="intervals $warm to $((n - 1)) (the first $warm are warm-up)"
[ "$warm" = 0 ] && warm_text="all $n intervals"

{
  echo
  echo "## Soak: $players talkers for $length, reconnecting every $per_min"
  echo
  echo "Command: \`bench/sections/91-soak.sh OUT.md $build\`, which runs:"
  echo
  echo '```'
  echo "gvoip ${server_args[*]/#$tmp\//} --key server.key"
  echo "gvoip-netem --listen 0 --to 127.0.0.1:SERVER_PORT ${netem_args[*]}"
  echo "gvoip-load --server 127.0.0.1:NETEM_PORT ${load_args[*]} --server-pid SERVER_PID --server-events server.out"
  echo '```'
  echo
  echo "Machine: ${BENCH_MACHINE:-$(uname -srm), $(nproc) CPUs}; server, relay and load generator share it,"
  echo "and other work ran on it at times."
  echo
  echo "$players simulated players (\`gv_link\`, the library's client connection, each bound to a loopback"
  echo "address of its own) all talk continuously (20 ms packets of 60 bytes, loss reports on) through"
  echo "\`gvoip-netem\`, whose upstream sockets keep each client's address, so the server sees $players"
  echo "addresses; it relays every talker to every listener (\`--max-talkers 0\`). Every $every s (the first"
  echo "at $first s of the relay's clock) the relay drops everything both ways for $blackout s; the server,"
  echo "told to give up on a silent peer after 2 s, marks the players away"
  echo "and keeps their places (\`--resume-grace-s\`, 30 s by default), and the clients connect anew and"
  echo "resume them with the same ids. gvoip-load prints one line per $per_min of send time: its loss"
  echo "(every packet sent, times the players who should hear it), its outage (from a second before a"
  echo "player's connection was found interrupted until it was back, for any player; the loss outside it),"
  echo "the relay latency of what arrived, and the server's resident memory (VmRSS), open descriptors and"
  echo "CPU time from /proc."
  echo
  echo "| interval | end s | loss % | outage s | loss % outside | latency p50 / p95 / p99 / max ms | resumes so far | server RSS kB | fds | server CPU s |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk '{ printf "| %d | %.0f | %.2f | %.1f | %.3f | %.2f / %.2f / %.2f / %.2f | %d | %d | %d | %.2f |\n",
           $1, $2, $6, $7, $8, $9, $10, $11, $12, $13, $17, $18, $20 - prev; prev = $20 }' "$data"
  echo
  echo "Whole run: $(num "$final" sent) packets sent; loss $(num "$final" loss_pct)% with the outages,"
  echo "$(num "$final" loss_outside_pct)% outside them ($(num "$final" outage_s) s of outage, the longest"
  echo "$(num "$final" longest_outage_s) s); latency p50 $whole_p50 ms, p99 $whole_p99 ms. The relay blacked out"
  echo "$blackouts times; the clients resumed $resumed times (each player $resumes_min to $resumes_max times),"
  echo "joined afresh $(num "$final" fresh) times, changed id $(num "$final" id_changed) times, and $(num "$final" removed)"
  echo "players were lost. The server counted $(num "$tmp/server.json" resumed) resumes and"
  echo "$(num "$tmp/server.json" auth_failed) datagrams it could not authenticate (what the clients' old sessions"
  echo "sent after a blackout, before their new ones took over)."
  echo
  echo "Verdict over $warm_text, the first $k against the last $k:"
  echo
  echo "- memory: server RSS $rss0 kB at the end of interval $warm, $rss1 kB at the end ($rss_growth kB;"
  echo "  bound: less than $rss_bound kB, the larger of 2 MB and 10%); descriptors $fds0 then $fds1: **$mem_ok**."
  echo "- delay: latency p50 $p50_0 then $p50_1 ms, p95 $p95_0 then $p95_1 ms (bound: p95 up by at most a"
  echo "  quarter or 0.5 ms, whichever is larger): **$delay_ok**."
  echo "- loss: $loss0% then $loss1% with the outages ($outage0 then $outage1 s of outage an interval),"
  echo "  $out0% then $out1% outside them (bound: up by at most 1 and 0.5 points): **$loss_ok**."
  echo "- resumes: $resumed of $players x $blackouts blackouts, none afresh, no id changed: **$resume_ok**."
  echo "- server CPU: $cpu0 then $cpu1 s an interval."
} >>"$out"
