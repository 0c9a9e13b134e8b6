# A server on two worker threads (--threads 2): two lobbies of simulated
# players (gvoip-load --lobby), each lobby placed on a worker of its own
# (the second one's joins redirected to its port), every speaker heard by
# every other player of its lobby and nobody of another; real players
# (gvoip join) in two more lobbies, a tone in one recorded by a listener
# of it and not by the one in the other; a join to the default lobby without
# --lobby; the --stats file's workers; and SIGTERM ending the workers with
# exit 0. Then the option's usage errors.
source "$(dirname "$0")/lib.sh"
LOAD=$GVOIP_BUILD_DIR/tools/load/gvoip-load

sox -n -r 48000 -c 1 "$TMP/tone.wav" synth 5 sine 440

start server server --threads 2 --port 0 --max-talkers 0 --json --stats "$TMP/server.json"
port=$(port_of server)
ports=$(sed -n 's/.*"ports":\[\([0-9]*,[0-9]*\)\].*/\1/p' "$TMP/server.out" | head -n 1)
[ -n "$ports" ] && [ "${ports%,*}" = "$port" ] || fail "listening names ports '$ports', first not $port"
other=${ports#*,}
echo "workers on ports $port and $other"

# Red's first join places red on worker 0 (both idle: the lowest); blue's
# then goes to worker 1, the one without players, and its joins there.
spawn red "$LOAD" --server "127.0.0.1:$port" --lobby red --players 6 --speakers 2 --duration 4 --continuous
wait_for server '"event":"player_connected","id":2,"name":"[^"]*","lobby":"red"'
spawn blue "$LOAD" --server "127.0.0.1:$port" --lobby blue --players 6 --speakers 2 --duration 4 --continuous

# Real players (the simulated ones send noise): a tone and its listener
# in one lobby, a listener alone in another.
start ltone join "127.0.0.1:$port" --name ltone --lobby tone --no-capture --no-playback --json \
  --record "$TMP/ltone.wav" --duration 6
start lquiet join "127.0.0.1:$port" --name lquiet --lobby quiet --no-capture --no-playback --json \
  --record "$TMP/lquiet.wav" --duration 6
wait_for ltone '"event":"connected"'
wait_for lquiet '"event":"connected"'
start talker join "127.0.0.1:$port" --name talker --lobby tone --input-file "$TMP/tone.wav" --no-playback --json \
  --duration 5
wait_for talker '"event":"connected"'
# Without --lobby: the default lobby, placed on a worker too.
start plain join "127.0.0.1:$port" --name plain "${NOAUDIO[@]}" --duration 2
wait_for plain '"event":"connected","id":2,"name":"plain"'

for l in red blue; do
  wait "$(pid_of $l)" || fail "gvoip-load in $l failed"
  res=$(tail -n 1 "$TMP/$l.out")
  echo "$l: $res"
  grep -q '"joined":6,' <<<"$res" || fail "$l: not every simulated player joined"
  grep -Eq '"received":([0-9]+),"expected":\1,' <<<"$res" || fail "$l: a speaker was not heard by every other player"
  grep -q '"roster_ok":6,' <<<"$res" || fail "$l: a player's roster holds players of another lobby"
done
for p in talker ltone lquiet plain; do expect_exit $p 0 15; done
[ "$(count lquiet '"event":"player_connected"')" -eq 0 ] || fail "lquiet met players of other lobbies"
heard=$(rms "$TMP/ltone.wav" 1)
leaked=$(rms "$TMP/lquiet.wav" 1)
echo "the tone: heard in its lobby at rms $heard, in another at $leaked"
awk -v r="$heard" 'BEGIN { exit !(r > 0.01) }' || fail "the tone's listener did not hear it"
awk -v r="$leaked" 'BEGIN { exit !(r < 0.001) }' || fail "a listener of another lobby heard the tone"

kill -TERM "$(pid_of server)"
expect_exit server 0
st=$(cat "$TMP/server.json")
echo "$st"
workers=$(grep -o '"workers":\[[^]]*\]' <<<"$st")
[ "$(grep -o '"lobbies":[1-9]' <<<"$workers" | wc -l)" -eq 2 ] || fail "not both workers held a lobby: $workers"
grep -Eq "\"port\":$port,.*\"port\":$other," <<<"$workers" || fail "the workers' ports are not $port and $other"
grep -Eq '"cpu_s":[0-9.]+' <<<"$workers" || fail "no cpu_s per worker"
grep -Eq '"redirects":([7-9]|[1-9][0-9]+),' <<<"$st" || fail "blue's joins were not redirected"
grep -Eq '"lobbies_opened":5,' <<<"$st" || fail "red, blue, tone, quiet and the default lobby: five opened"
for name in red blue; do
  grep -Eq "\"name\":\"$name\",\"players\":0,\"away\":0,\"max_players\":32,\"relayed_packets\":[1-9]" <<<"$st" ||
    fail "the stats do not list $name with what it relayed"
done

# The option's usage errors, and a host is one thread.
usage() {
  start "$1" "${@:2}"
  expect_exit "$1" 2
}
usage zero server --threads 0
usage many server --threads 65
usage hostthreads host --threads 2 "${NOAUDIO[@]}"
start toohigh server --threads 2 --port 65535 --json
expect_exit toohigh 2
wait_for toohigh 'needs UDP ports 65535..65536'
