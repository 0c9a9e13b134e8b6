# The embedding examples work against a real server: the voice bot hears a
# player and the player hears its beeps; the device example, on SDL's
# dummy driver (real audio callbacks on SDL's thread, no sound card),
# renders the player's voice from its playback callback.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
bot="$GVOIP_BUILD_DIR/voice_bot"
chat="$GVOIP_BUILD_DIR/device_chat"

espeak-ng -w "$TMP/carol.wav" "This is Carol, talking to the voice bot for a few seconds. Hello bot, hello."
start server server --port 0 --json
port=$(port_of server)
spawn bot "$bot" 127.0.0.1 "$port" 6
bot_pid=$(pid_of bot)
SDL_AUDIODRIVER=dummy spawn chat "$chat" 127.0.0.1 "$port" 6
chat_pid=$(pid_of chat)
wait_for bot "joined as voice_bot"
wait_for chat "joined as device_chat"
start carol join "127.0.0.1:$port" --name carol --json --input-file "$TMP/carol.wav" --no-playback \
  --record "$TMP/carol.hears.wav" --duration 5
expect_exit carol 0 15
wait $bot_pid || fail "voice_bot failed"
wait $chat_pid || fail "device_chat failed"
grep -q "carol is here" "$TMP/chat.out" || fail "the device example did not see carol"
periods=$(sed -n 's/heard sound in \([0-9]*\) periods/\1/p' "$TMP/chat.out")
echo "device example: sound in $periods playback periods of 10 ms"
[ "${periods:-0}" -gt 50 ] || fail "the device example's speaker played no voice"
grep -q "carol is here" "$TMP/bot.out" || fail "the bot did not see carol"
loudest=$(sed -n 's/heard level \([-0-9.]*\) dBFS/\1/p' "$TMP/bot.out" | sort -g | tail -n 1)
echo "loudest second the bot heard: $loudest dBFS"
awk -v l="$loudest" 'BEGIN { exit !(l > -40) }' || fail "the bot heard nothing"
rms=$(sox "$TMP/carol.hears.wav" -n stat 2>&1 | sed -n 's/RMS *amplitude: *//p')
echo "carol's recording RMS: $rms"
awk -v r="$rms" 'BEGIN { exit !(r > 0.01) }' || fail "carol did not hear the bot's beeps"

# The server restarts under the bot (same port, same key): the library
# brings it back by itself and the bot carries on to its end.
start server_k server --port 0 --json --key "$TMP/k.key"
port=$(port_of server_k)
spawn bot2 "$bot" 127.0.0.1 "$port" 7
wait_for bot2 "joined as voice_bot"
kill -9 "$(pid_of server_k)"
sleep 1
start server_k2 server --port "$port" --json --key "$TMP/k.key"
wait_for bot2 "reconnected as voice_bot" 6
expect_exit bot2 0 10
kill -INT "$(pid_of server_k2)"
expect_exit server_k2 0
echo "PASS"
