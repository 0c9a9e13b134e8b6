# What the vector scripts share: a scratch directory removed at exit, and
# hex and base64url conversions with coreutils alone (od and bash's printf
# stand in for xxd).
set -euo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

hex_of() { od -An -v -tx1 | tr -d ' \n'; }
bytes_of() { printf '%b' "$(sed 's/../\\x&/g')"; }
b64url() { basenc --base64url -w0 | tr -d '='; }
