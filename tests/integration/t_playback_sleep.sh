# Playback sleeps (the PulseAudio stream corked, so that neither the
# sound server nor gvoip wakes for silence) after 3 s alone in a lobby
# with nobody heard, and after 20 s with others in it (a pause in a
# conversation must not cost the next word the 8 ms of waking up), and
# wakes as soon as someone speaks.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"

pulse_start mic_l spk_l:2
# Bob says one sentence, then stays in the lobby silent.
espeak-ng -g 5 -w "$TMP/words.wav" "Bob here, saying one thing and then nothing."
sox "$TMP/words.wav" "$TMP/bob.wav" pad 0 40

# corked: "yes" or "no" for gvoip's playback stream on the daemon (bob
# opens none).
corked() {
  pactl list sink-inputs | awk '/^Sink Input/ { c = "" } /Corked:/ { c = $2 }
    /application.name = "gvoip"/ { print c; exit }'
}
# until_corked WANT LIMIT_MS T0: waits for the stream's state; prints the
# milliseconds since T0 it took, fails after LIMIT_MS.
until_corked() {
  until [ "$(corked)" = "$1" ]; do
    [ "$(ms_since "$3")" -le "$2" ] || fail "playback not corked=$1 after $2 ms (it is '$(corked)')"
    sleep 0.05
  done
  ms_since "$3"
}

start server server --port 0 --json
port=$(port_of server)
pulse_player mic_l spk_l
t0=$(date +%s%3N)
spawn lone "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name lone --json --audio-backend pulse \
  --stats "$TMP/lone.json"
wait_for lone '"event":"connected"'
[ "$(corked)" = no ] || fail "playback is corked ('$(corked)') right after joining"

echo "alone, nobody heard:"
ms=$(until_corked yes 6000 "$t0")
echo "  asleep $ms ms after starting"
[ "$ms" -ge 2500 ] || fail "playback slept $ms ms after starting, before 3 s alone"

echo "bob joins and speaks:"
start bob join "127.0.0.1:$port" --name bob --json --input-file "$TMP/bob.wav" --no-playback
wait_for lone '"event":"speaking","id":[0-9]+,"on":true,"name":"bob"'
t1=$(date +%s%3N)
ms=$(until_corked no 1000 "$t1")
echo "  awake $ms ms after bob's first word was seen"
heard_on spk_l
wait_for lone '"event":"speaking","id":[0-9]+,"on":false,"name":"bob"'
t2=$(date +%s%3N)

echo "together, nobody heard:"
sleep 8
[ "$(corked)" = no ] || fail "playback slept within 8 s of bob's last word, with bob in the lobby"
ms=$(until_corked yes 23000 "$t2")
echo "  asleep $ms ms after bob's last word"
[ "$ms" -ge 18000 ] || fail "playback slept $ms ms after bob's last word, before 20 s"

kill -TERM "$(pid_of lone)" "$(pid_of bob)"
expect_exit lone 0
expect_exit bob 0
echo "lone's playback: $(grep -o '"playback":{[^}]*}' "$TMP/lone.json")"
kill -TERM "$(pid_of server)"
expect_exit server 0
echo "PASS"
