#!/usr/bin/env bash
# The fleet-certificate test vector of docs/protocol.md ("Fleet
# certificates"), computed with OpenSSL rather than libsodium, from the
# byte table alone: it checks that a certificate is plain Ed25519 over the
# documented bytes, as an issuer in another language would make it.
# Usage: fleetcert_vector.sh [EXPECTED_CERTIFICATE_TEXT]
# Prints the certificate's text on stdout (the fleet key and the
# certificate's hex on stderr); with an argument, exits 1 unless the text
# equals it.
# Only coreutils and OpenSSL.
source "$(dirname "$0")/lib.sh"

seed=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
# RFC 7748 section 6.1's Bob: the X25519 public key of the handshake vector.
node=de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f
not_before=1767225600 # 2026-01-01T00:00:00Z
not_after=1798761600  # 2027-01-01T00:00:00Z

# An Ed25519 private key in DER: the fixed PKCS#8 header (RFC 8410) and
# the 32-byte seed.
printf '302e020100300506032b657004220420%s' "$seed" | bytes_of >"$work/key.der"
openssl pkey -inform DER -in "$work/key.der" -pubout -outform DER -out "$work/pub.der"
fleet=$(tail -c 32 "$work/pub.der" | hex_of)

body=01                                   # version 1
body+=$fleet                              # the fleet's Ed25519 public key
body+=$node                               # the node's X25519 server key
body+=$(printf '%016x' "$not_before")     # valid from
body+=$(printf '%016x' "$not_after")      # refused from

{ printf 'gvoip-fleet-cert-v1'; printf '%s' "$body" | bytes_of; } >"$work/msg.bin"
openssl pkeyutl -sign -rawin -inkey "$work/key.der" -keyform DER -in "$work/msg.bin" -out "$work/sig.bin"
cert=$body$(hex_of <"$work/sig.bin")
text=$(printf '%s' "$cert" | bytes_of | b64url)

echo "fleet key (hex)    $fleet" >&2
echo "fleet fingerprint  SHA256:$(printf '%s' "$fleet" | bytes_of | openssl dgst -sha256 -binary | basenc --base64 -w0 | tr -d '=')" >&2
echo "certificate (hex)  $cert" >&2
echo "$text"
if [ $# -ge 1 ] && [ "$text" != "$1" ]; then
  echo "fleetcert_vector: the certificate differs from the expected one" >&2
  echo "  expected $1" >&2
  exit 1
fi
