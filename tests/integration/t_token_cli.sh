# Access tokens from the command line: token-key writes a key pair with the
# right modes (whatever the umask) and never over a file; token prints one
# base64url line, refuses a signing key others can read and options out of
# range; tokens and key files are taken from files or the environment,
# never the command line. (Servers enforcing tokens: other tests.)
source "$(dirname "$0")/lib.sh"

umask 077
start key token-key --out "$TMP/k"
expect_exit key 0
[ "$(stat -c %a "$TMP/k")" = 600 ] || fail "secret key mode $(stat -c %a "$TMP/k"), expected 600"
[ "$(stat -c %a "$TMP/k.pub")" = 644 ] || fail "public key mode $(stat -c %a "$TMP/k.pub"), expected 644"
[ "$(wc -l <"$TMP/key.out")" -eq 1 ] || fail "token-key printed more than the public key"
cmp -s "$TMP/key.out" "$TMP/k.pub" || fail "token-key printed another key than k.pub holds"
grep -Eqx '[A-Za-z0-9_-]{43}' "$TMP/k.pub" || fail "the public key is not 43 base64url characters"
cmp -s "$TMP/k" "$TMP/k.pub" && fail "the secret key is the public key"

# Never over an existing file, the secret's or the public key's.
cp "$TMP/k" "$TMP/k.before"
start again token-key --out "$TMP/k"
expect_exit again 1
grep -q "exists; gvoip never writes over a key" "$TMP/again.err" || fail "no reason for refusing to overwrite"
cmp -s "$TMP/k" "$TMP/k.before" || fail "the secret key was overwritten"
echo something >"$TMP/p.pub"
start pubthere token-key --out "$TMP/p"
expect_exit pubthere 1
[ -e "$TMP/p" ] && fail "a secret key was left without its public key"
grep -qx something "$TMP/p.pub" || fail "p.pub was overwritten"

start keyjson token-key --out "$TMP/j" --json
expect_exit keyjson 0
grep -qx "{\"public_key\":\"$(cat "$TMP/j.pub")\"}" "$TMP/keyjson.out" || fail "token-key --json: $(cat "$TMP/keyjson.out")"

# A token: one line of base64url, nothing else on stdout.
start tok token --key "$TMP/k" --lobby red --name alice
expect_exit tok 0
[ "$(wc -l <"$TMP/tok.out")" -eq 1 ] || fail "token printed $(wc -l <"$TMP/tok.out") lines"
grep -Eqx '[A-Za-z0-9_-]+' "$TMP/tok.out" || fail "the token is not base64url: $(cat "$TMP/tok.out")"
start tok2 token --key "$TMP/k" --lobby "match #7" --name bob --ttl 31536000 --listen-only --moderator --id 7 \
  --lobby-spatial 3d --lobby-max-distance 50 --lobby-max-players 4
expect_exit tok2 0
grep -Eqx '[A-Za-z0-9_-]+' "$TMP/tok2.out" || fail "the second token is not base64url"
[ "$(wc -c <"$TMP/tok2.out")" -gt "$(wc -c <"$TMP/tok.out")" ] || fail "the claims did not make the token longer"

# The signing key is nobody else's to read, like a server key.
chmod 644 "$TMP/k"
start open644 token --key "$TMP/k" --lobby red --name alice
expect_exit open644 2
grep -qF "key file $TMP/k is readable by group or others (mode 0644); run chmod 600 $TMP/k" "$TMP/open644.err" ||
  fail "no reason for the readable signing key"
[ -s "$TMP/open644.out" ] && fail "a token was printed with an unsafe key"
chmod 600 "$TMP/k"
start nokey token --key "$TMP/none" --lobby red --name alice
expect_exit nokey 1
grep -qF "cannot read key file $TMP/none: No such file or directory" "$TMP/nokey.err" || fail "no reason for the missing key"
echo "not a key" >"$TMP/junk" && chmod 600 "$TMP/junk"
start junk token --key "$TMP/junk" --lobby red --name alice
expect_exit junk 2
grep -q "is not a token signing key" "$TMP/junk.err" || fail "no reason for the malformed key"

usage() {
  local name=$1 want=$2
  shift 2
  start "$name" "$@"
  expect_exit "$name" 2
  grep -qF -- "$want" "$TMP/$name.err" || fail "$name: no reason '$want'"
}
usage ttl0 "--ttl takes 1..31536000: '0'" token --key "$TMP/k" --lobby red --name alice --ttl 0
usage ttlbig "--ttl takes 1..31536000: '31536001'" token --key "$TMP/k" --lobby red --name alice --ttl 31536001
usage id1 "--id takes 2..65535: '1'" token --key "$TMP/k" --lobby red --name alice --id 1
usage players0 "--lobby-max-players takes 1..256: '0'" token --key "$TMP/k" --lobby red --name alice \
  --lobby-max-players 0
usage spatial4d "--lobby-spatial takes off, 2d or 3d: '4d'" token --key "$TMP/k" --lobby red --name alice \
  --lobby-spatial 4d
usage nolobby "token needs --key FILE (the secret key), --lobby LOBBY and --name NAME" token --key "$TMP/k" \
  --name alice
usage noname "token needs --key FILE" token --key "$TMP/k" --lobby red
usage badname "bad --name: name contains '#'" token --key "$TMP/k" --lobby red --name 'a#1'
usage badlobby "bad --lobby" token --key "$TMP/k" --lobby "$(printf 'a\tb')" --name alice
usage noout "token-key needs --out FILE" token-key
usage cmdline "tokens are never taken on the command line" join 127.0.0.1:9 --token "$(cat "$TMP/tok.out")"
usage cmdline_host "tokens are never taken on the command line" host --token x
usage notokenfile "cannot read token file $TMP/none" join 127.0.0.1:9 --token-file "$TMP/none" "${NOAUDIO[@]}"
usage nokeysfile "cannot read token key file $TMP/none" server --port 0 --token-key "$TMP/none"

# What is not a token is refused before anything is sent, as a server would.
GVOIP_TOKEN=not-a-token start badtoken join 127.0.0.1:9 "${NOAUDIO[@]}"
expect_exit badtoken 3
grep -q '"event":"connection_failed","reason":"GVOIP_TOKEN is not an access token"' "$TMP/badtoken.out" ||
  fail "no reason for the malformed GVOIP_TOKEN"

# A server takes its public keys from a file, comments and all.
{ echo "# the game's backend"; cat "$TMP/k.pub"; } >"$TMP/keys"
start server server --port 0 --token-key "$TMP/keys" --json --duration 1
port_of server >/dev/null
expect_exit server 0
start badkeys server --port 0 --token-key "$TMP/junk" --json
expect_exit badkeys 2

start help token --help
expect_exit help 0
grep -q "^usage: gvoip token --key FILE --lobby LOBBY --name NAME" "$TMP/help.out" || fail "no token usage"
grep -q -- "--ttl SECONDS" "$TMP/help.out" || fail "token's help misses --ttl"
grep -Eq -- "^  --max-players " "$TMP/help.out" && fail "token's help lists a server option"
echo "PASS"
