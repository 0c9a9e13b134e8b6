# The session's AEAD: AES-256-GCM when both ends offer it (--cipher auto on
# a CPU with AES-NI), ChaCha20-Poly1305 when either end asks for it, and a
# relay between the two kinds of session: the server opens one speaker's
# AES-256-GCM and seals for a ChaCha20-Poly1305 listener, and the other way.
source "$(dirname "$0")/lib.sh"

aes=aes-256-gcm
grep -qw aes /proc/cpuinfo && grep -qw pclmulqdq /proc/cpuinfo || aes=chacha20-poly1305

cipher_of() { grep -o '"cipher":"[a-z0-9-]*"' "$TMP/$1.json" | cut -d'"' -f4; }
packets_from() { # NAME: voice packets NAME's only peer sent it
  grep -o '"peers":\[{.*' "$TMP/$1.json" | grep -o '"voice_packets":[0-9]*' | head -n 1 | cut -d: -f2
}

sox -n -r 48000 -c 1 "$TMP/tone.wav" synth 3 sine 440 vol 0.3

start server server --port 0 --json
port=$(port_of server)
start chacha join "127.0.0.1:$port" --name chacha --cipher chacha20-poly1305 --no-playback --json \
  --input-file "$TMP/tone.wav" --stats "$TMP/chacha.json" --duration 4
start auto join "127.0.0.1:$port" --name auto --no-playback --json \
  --input-file "$TMP/tone.wav" --stats "$TMP/auto.json" --duration 4
expect_exit chacha 0 15
expect_exit auto 0 15
[ "$(cipher_of chacha)" = chacha20-poly1305 ] || fail "--cipher chacha20-poly1305 got $(cipher_of chacha)"
[ "$(cipher_of auto)" = "$aes" ] || fail "both ends auto got $(cipher_of auto), expected $aes"
for who in chacha auto; do
  n=$(packets_from "$who")
  echo "$who ($(cipher_of "$who")): $n voice packets from the other"
  [ "${n:-0}" -ge 100 ] || fail "$who heard ${n:-0} voice packets across the two ciphers"
done
kill -TERM "$(pid_of server)"
expect_exit server 0

start strict server --port 0 --json --cipher chacha20-poly1305 --key "$TMP/strict.key"
sport=$(port_of strict)
start client join "127.0.0.1:$sport" --name client "${NOAUDIO[@]}" --stats "$TMP/client.json" --duration 1
expect_exit client 0 10
[ "$(cipher_of client)" = chacha20-poly1305 ] || fail "a chacha20-poly1305 server agreed to $(cipher_of client)"

start bad join "127.0.0.1:$sport" --name bad --cipher aes
expect_exit bad 2
grep -q -- "--cipher takes auto or chacha20-poly1305" "$TMP/bad.err" || fail "no usage message for a bad --cipher"
kill -TERM "$(pid_of strict)"
expect_exit strict 0
echo "PASS"
