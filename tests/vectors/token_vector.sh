#!/usr/bin/env bash
# The access-token test vector of docs/protocol.md ("Access tokens"),
# computed with OpenSSL rather than libsodium, from the byte table alone:
# it checks that gvoip's tokens are plain Ed25519 over the documented
# bytes, as a backend in another language would make them.
# Usage: token_vector.sh [EXPECTED_TOKEN_TEXT]
# Prints the token's text on stdout (the public key and the token's hex on
# stderr); with an argument, exits 1 unless the text equals it.
# Only coreutils and OpenSSL.
source "$(dirname "$0")/lib.sh"

seed=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
nonce=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
expires=1893456000 # 2030-01-01T00:00:00Z
lobby='match#42'
name='alice'

# An Ed25519 private key in DER: the fixed PKCS#8 header (RFC 8410) and
# the 32-byte seed.
printf '302e020100300506032b657004220420%s' "$seed" | bytes_of >"$work/key.der"
openssl pkey -inform DER -in "$work/key.der" -pubout -outform DER -out "$work/pub.der"
pk=$(tail -c 32 "$work/pub.der" | hex_of)
key_id=$(printf '%s' "$pk" | bytes_of | openssl dgst -sha256 -binary | head -c 4 | hex_of)

body=01                                            # version 1
body+=02                                           # permissions: moderator
body+=$key_id                                      # first 4 bytes of SHA-256(public key)
body+=$(printf '%016x' "$expires")                 # expires
body+=$nonce                                       # nonce
body+=$(printf '%04x' 7)                           # fixed id 7
body+=03                                           # spatial mode 3D (GV_SPATIAL_MODE_3D + 1)
body+=42200000                                     # max distance 40.0f: 1.25 * 2^5 = 0 10000100 0100...
body+=$(printf '%04x' 8)                           # max players 8
body+=$(printf '%02x' "${#lobby}")$(printf '%s' "$lobby" | hex_of)
body+=$(printf '%02x' "${#name}")$(printf '%s' "$name" | hex_of)

{ printf 'gvoip-token-v1'; printf '%s' "$body" | bytes_of; } >"$work/msg.bin"
openssl pkeyutl -sign -rawin -inkey "$work/key.der" -keyform DER -in "$work/msg.bin" -out "$work/sig.bin"
token=$body$(hex_of <"$work/sig.bin")
text=$(printf '%s' "$token" | bytes_of | b64url)

echo "public key (hex)  $pk" >&2
echo "public key (text) $(printf '%s' "$pk" | bytes_of | b64url)" >&2
echo "token (hex)       $token" >&2
echo "$text"
if [ $# -ge 1 ] && [ "$text" != "$1" ]; then
  echo "token_vector: the token differs from the expected one" >&2
  echo "  expected $1" >&2
  exit 1
fi
