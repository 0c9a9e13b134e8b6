#!/usr/bin/env bash
# Handshake cost per join and seal + open cost per packet
# (tools/bench/gvoip-bench-crypto), and the bytes encryption adds to each
# datagram, measured on a relay capture.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

bsecs=2 lsecs=3
[ "$BENCH_QUICK" = 1 ] && bsecs=0.1 lsecs=1
"$BENCH_BUILD/tools/bench/gvoip-bench-crypto" --seconds "$bsecs" >sealed.json
"$BENCH_PLAIN_BUILD/tools/bench/gvoip-bench-crypto" --seconds "$bsecs" >plain.json

# capture BUILD_DIR PAYLOAD NAME: one speaker and one listener of gvoip-load
# through gvoip-netem --capture; prints the most common size of a
# client-to-server datagram and of a server-to-client one.
capture() {
  local bin=$1 pl=$2 d="$BENCH_WORK/$3" port np srv nm
  mkdir -p "$d"
  bg "$d/srv.out" "$d/srv.err" "$bin/gvoip" server --port 0 --json --stats "$d/srv.json"
  srv=$BG_PID
  port=$(wait_port "$d/srv.out")
  bg "$d/netem.out" "$d/netem.err" "$NETEM" --listen 0 --to "127.0.0.1:$port" --capture "$d/cap.bin"
  nm=$BG_PID
  np=$(wait_port "$d/netem.out")
  "$bin/tools/load/gvoip-load" --server "127.0.0.1:$np" --players 2 --speakers 1 --duration "$lsecs" \
    --continuous --no-loss-reports --payload-bytes "$pl" >"$d/load.json" 2>"$d/load.err"
  kill -TERM "$nm" "$srv"
  wait "$nm" "$srv"
  # Records: direction byte 'u' (117) or 'd' (100), 16-bit big-endian
  # length, payload. One line per record: direction, length, payload bytes.
  od -An -v -tu1 "$d/cap.bin" | tr -s ' ' '\n' | awk 'NF { b[n++] = $1 }
    END { i = 0
      while (i + 3 <= n) { len = b[i + 1] * 256 + b[i + 2]; line = b[i] " " len
        for (j = 0; j < len; j++) line = line " " b[i + 3 + j]
        print line; i += 3 + len } }' >"$d/records.txt"
}

# mode DIR NAME: the most common datagram size in direction DIR (117 up, 100 down).
mode() { awk -v d="$1" '$1 == d { c[$2]++ } END { for (k in c) if (c[k] > best) { best = c[k]; m = k } print m }' "$BENCH_WORK/$2/records.txt"; }
# first_byte DIR NAME: the first byte of the first datagram of the most
# common size in direction DIR (the voice datagram's kind and flags), and
# how many of its last 16 bytes are zero (the no-AEAD build's blank tag).
first_byte() {
  local m
  m=$(mode "$1" "$2")
  awk -v d="$1" -v m="$m" '$1 == d && $2 == m { z = 0
    for (j = $2 - 16; j < $2; j++) if ($(3 + j) == 0) z++
    print $3, z; exit }' "$BENCH_WORK/$2/records.txt"
}

capture "$BENCH_BUILD" 60 sealed-60
capture "$BENCH_BUILD" 200 sealed-200
capture "$BENCH_PLAIN_BUILD" 60 plain-60
s60u=$(mode 117 sealed-60) s60d=$(mode 100 sealed-60)
s200u=$(mode 117 sealed-200) s200d=$(mode 100 sealed-200)
p60u=$(mode 117 plain-60) p60d=$(mode 100 plain-60)
read -r kind_u _ < <(first_byte 117 sealed-60)
read -r kind_d _ < <(first_byte 100 sealed-60)
read -r _ pzeros < <(first_byte 117 plain-60)

hs() { jnum "$1" "$2"; }
# seal FILE KEY FIELD: a field of one seal measurement (KEY seal_N or aes_seal_N)
seal() { grep -o "\"$2\":{[^}]*}" "$1" | grep -o "\"$3\":[0-9.]*" | cut -d: -f2; }
{
  echo "## Handshake cost per join, seal and open per packet"
  echo
  echo "\`tools/bench/gvoip-bench-crypto --seconds $bsecs\` (C, links \`gvoip_static\`, calls \`src/session/gv_noise.h\`"
  echo "and \`gv_seal.h\` directly; CPU time of its thread from \`CLOCK_THREAD_CPUTIME_ID\`). A join is one full"
  echo "Noise_NX_25519_ChaChaPoly_SHA256 handshake: the client creates its state and writes message 1, the"
  echo "server reads it and writes message 2 and splits, the client reads message 2, takes the server's"
  echo "static key and splits (both sides' keys are checked to pair up). Seal + open is one"
  echo "\`gv_seal_encrypt\` and one \`gv_seal_decrypt\` (voice datagrams use the same AEAD with their own nonces), timed over batches of 256."
  echo
  echo "| | sealed build | no-AEAD build |"
  echo "|---|---:|---:|"
  echo "| handshakes per second (both sides on one core) | $(hs sealed.json handshakes_per_s) | $(hs plain.json handshakes_per_s) |"
  echo "| us per handshake, both sides | $(hs sealed.json handshake_us) | $(hs plain.json handshake_us) |"
  echo "| us per handshake, server side (read 1, write 2, split) | $(hs sealed.json handshake_server_us) | $(hs plain.json handshake_server_us) |"
  echo "| us per handshake, client side | $(hs sealed.json handshake_client_us) | $(hs plain.json handshake_client_us) |"
  echo "| us per access-token check (\`gv_token_open\`: Ed25519 verify, one key) | $(hs sealed.json token_verify_us) | $(hs plain.json token_verify_us) |"
  echo "| the same among 16 keys (the most \`--token-key\` takes) | $(hs sealed.json token_verify_16_keys_us) | $(hs plain.json token_verify_16_keys_us) |"
  echo "| **us per join on a server with \`--token-key\`** (server side of the handshake + token check) | **$(awk -v a="$(hs sealed.json handshake_server_us)" -v b="$(hs sealed.json token_verify_us)" 'BEGIN { printf "%.1f", a + b }')** | $(awk -v a="$(hs plain.json handshake_server_us)" -v b="$(hs plain.json token_verify_us)" 'BEGIN { printf "%.1f", a + b }') |"
  for n in 60 1275; do
    echo "| ${n}-byte message, ChaCha20-Poly1305: seal / open us | $(seal sealed.json seal_$n seal_us) / $(seal sealed.json seal_$n open_us) | $(seal plain.json seal_$n seal_us) / $(seal plain.json seal_$n open_us) |"
    echo "| ${n}-byte message, ChaCha20-Poly1305: seal + open us | **$(seal sealed.json seal_$n seal_open_us)** | $(seal plain.json seal_$n seal_open_us) |"
    if grep -q "\"aes_seal_$n\"" sealed.json; then
      echo "| ${n}-byte message, AES-256-GCM: seal / open us | $(seal sealed.json "aes_seal_$n" seal_us) / $(seal sealed.json "aes_seal_$n" open_us) | $(seal plain.json "aes_seal_$n" seal_us) / $(seal plain.json "aes_seal_$n" open_us) |"
      echo "| ${n}-byte message, AES-256-GCM: seal + open us | **$(seal sealed.json "aes_seal_$n" seal_open_us)** | $(seal plain.json "aes_seal_$n" seal_open_us) |"
    fi
  done
  echo
  echo "The handshake is not touched by the no-AEAD switch (it has its own ChaChaPoly inside Noise): the"
  echo "column shows the run-to-run spread. 60 bytes is a 24 kbit/s, 20 ms Opus packet; 1275 the largest."
  echo "A relayed packet costs the server one open and, per recipient, one seal. Sessions use AES-256-GCM"
  echo "when both ends' CPUs have AES-NI (this one $(grep -qw aes /proc/cpuinfo && echo does || echo "does not")), else ChaCha20-Poly1305."
  echo
  echo "## Bytes encryption adds per packet"
  echo
  echo "\`gvoip-load --players 2 --speakers 1 --continuous --no-loss-reports --payload-bytes N\` through"
  echo "\`gvoip-netem --capture FILE\` (every datagram as forwarded); the most common datagram size in each"
  echo "direction is the voice datagram:"
  echo
  echo "| build, Opus payload | client to server (voice datagram) | server to client (voice datagram) |"
  echo "|---|---:|---:|"
  echo "| sealed, 60 bytes | $s60u | $s60d |"
  echo "| sealed, 200 bytes | $s200u | $s200d |"
  echo "| no AEAD, 60 bytes | $p60u | $p60d |"
  echo
  echo "The 60-byte rows are voice datagrams (\`docs/protocol.md\`, voice datagrams; first bytes"
  echo "$(printf '0x%02x' "$kind_u") up and $(printf '0x%02x' "$kind_d") down): **$((s60u - 60)) bytes** of framing up (kind, receiver index,"
  echo "sequence number, timestamp, the level byte, the tag) and **$((s60d - 60))** down (kind, slot, sequence"
  echo "number, timestamp, level, tag). Of those, encryption adds the 16-byte tag (\`GV_SEAL_TAG\`): the"
  echo "counter is the 16-bit sequence number the jitter buffer needs anyway, and the no-AEAD build's"
  echo "datagrams have the same sizes with ${pzeros} of the last 16 bytes zero (its blank tag), so the CPU"
  echo "comparison above compares identical traffic. 140 more payload bytes make the datagram"
  echo "$((s200u - s60u)) bytes larger. At 50 packets a second the tag costs 16 x 8 x 50 = 6.4 kbit/s per"
  echo "speaker on the wire."
  echo
} >>"$BENCH_OUT"
