# Trust across a fleet (docs/security.md, "Fleets"): two nodes on one
# private redis-server with DIFFERENT server keys, each certified by one
# fleet key (gvoip fleet-key, fleet-sign, server --fleet-cert). A player
# pinning the fleet key (--fleet-key) joins the node that does not host its
# lobby and is redirected to the one that does: accepted. Without the pin,
# the fleet key is trusted on first use (an @fleet entry in the
# known-servers file), and a node at that address certified by another
# fleet key is then refused. A third node, certified by another fleet key,
# is refused (exit 3, the reason names the fleet key), whether joined
# directly or reached by a redirect. Reconnecting, a restarted server may
# show a new key of the fleet, not another fleet's (exit 4). A node whose
# certificate expired is refused. --server-key still pins a node without a
# certificate.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis.sh"

redis_start

# Keys: the fleet's, another fleet's, and a server key per node.
"$GVOIP" fleet-key --out "$TMP/fleet.key" >"$TMP/fleet.fp" || fail "fleet-key failed"
"$GVOIP" fleet-key --out "$TMP/rogue.key" --json >"$TMP/rogue.json" || fail "fleet-key --json failed"
fleet=$(cat "$TMP/fleet.fp")
rogue=$(sed -n 's/^{"fingerprint":"\(SHA256:[^"]*\)"}$/\1/p' "$TMP/rogue.json")
[ "${#fleet}" = 50 ] && [ "${#rogue}" = 50 ] || fail "fleet-key printed '$fleet' and '$(cat "$TMP/rogue.json")'"
[ "$(stat -c %a "$TMP/fleet.key")" = 600 ] && [ "$(stat -c %a "$TMP/fleet.key.pub")" = 644 ] ||
  fail "fleet key files have modes $(stat -c %a "$TMP/fleet.key") and $(stat -c %a "$TMP/fleet.key.pub")"
for n in n1 n2 n3 old plain solo1 solo2; do
  "$GVOIP" server --port 0 --threads 1 --key "$TMP/$n.node" --duration 0.1 >/dev/null 2>&1 || true
  [ -s "$TMP/$n.node" ] || fail "no server key for $n"
done

# Certificates: n1, n2 by the fleet; n3 by the rogue; old expired two days ago.
sign() {
  local node=$1 key=$2
  shift 2
  "$GVOIP" fleet-sign --key "$TMP/$key.key" --server-key "$TMP/$node.node" --out "$TMP/$node.cert" "$@" \
    >"$TMP/$node.sign.out" 2>"$TMP/$node.sign.err" || fail "fleet-sign $node: $(cat "$TMP/$node.sign.err")"
}
sign n1 fleet --days 1
sign n2 fleet --json
grep -q "\"fleet\":\"$fleet\"" "$TMP/n2.sign.out" || fail "fleet-sign --json said $(cat "$TMP/n2.sign.out")"
sign n3 rogue
sign solo1 fleet
sign solo2 fleet
sign old fleet --not-before $(($(date +%s) - 3 * 86400)) --days 1
grep -q "EXPIRED" "$TMP/old.sign.out" || fail "an expired certificate was not called so: $(cat "$TMP/old.sign.out")"
# The fleet's secret key is refused when others may read it.
chmod 644 "$TMP/fleet.key"
if "$GVOIP" fleet-sign --key "$TMP/fleet.key" --server-key "$TMP/n1.node" --out "$TMP/x.cert" 2>"$TMP/open.err"; then
  fail "fleet-sign took a secret key readable by others"
fi
grep -q "chmod 600" "$TMP/open.err" || fail "no advice for the readable fleet key: $(cat "$TMP/open.err")"
chmod 600 "$TMP/fleet.key"
# A node refuses a certificate for another node's key (exit 2).
start wrong_cert server --port 0 --threads 1 --key "$TMP/n2.node" --fleet-cert "$TMP/n1.cert" --json
expect_exit wrong_cert 2
grep -q "fleet certificate is for the server key" "$TMP/wrong_cert.err" ||
  fail "a certificate for another key: $(cat "$TMP/wrong_cert.err")"

# node NAME MAX_LOBBIES [OPTIONS...]: a node of the fleet on a free port.
node() {
  local name=$1 lobbies=$2
  shift 2
  start "$name" server --port 0 --threads 1 --max-lobbies "$lobbies" --key "$TMP/$name.node" \
    --fleet-cert "$TMP/$name.cert" --redis "$REDIS_URL" --advertise 127.0.0.1:0 --json "$@"
  wait_for "$name" '"event":"fleet","state":"registered"'
  eval "port_$name=$(port_of "$name")"
}
node n1 20
node n2 20
wait_for_text n1 "\"event\":\"fleet_cert\",\"fleet\":\"$fleet\""
fp_n1=$(sed -n 's/.*"event":"listening".*"fingerprint":"\([^"]*\)".*/\1/p' "$TMP/n1.out" | head -n 1)
fp_n2=$(sed -n 's/.*"event":"listening".*"fingerprint":"\([^"]*\)".*/\1/p' "$TMP/n2.out" | head -n 1)
[ -n "$fp_n1" ] && [ "$fp_n1" != "$fp_n2" ] || fail "the nodes' keys are '$fp_n1' and '$fp_n2'"

# allocate LOBBY: HOST:PORT SHA256:..., the node that hosts it.
read -r host_addr host_fp < <("$GVOIP" allocate --redis "$REDIS_URL" --lobby L)
host_port=${host_addr##*:}
if [ "$host_port" = "$port_n1" ]; then
  host=n1 away=$port_n2 away_fp=$fp_n2
else
  host=n2 away=$port_n1 away_fp=$fp_n1
fi
[ "$host_fp" != "$away_fp" ] || fail "the lobby's node and the other have one key"

# Pinned fleet key: joined at the node without L, redirected to the other
# node (another key), accepted.
start pinned join "127.0.0.1:$away" --lobby L --name pinned --fleet-key "$fleet" --duration 1 "${NOAUDIO[@]}"
wait_for pinned '"event":"connected"'
expect_exit pinned 0
wait_for_text pinned "\"event\":\"server_key\",\"fingerprint\":\"$away_fp\",\"fleet_key\":\"$fleet\""
wait_for "$host" '"event":"player_connected".*"name":"pinned"'
[ -e "$GVOIP_HOME/known_servers" ] && fail "a pinned join wrote the known-servers file"
echo "--fleet-key: a join at 127.0.0.1:$away went on to $host_addr, another server key, accepted"

# Trust on first use of the fleet key, remembered as its own entry.
known=$GVOIP_HOME/known_servers
start tofu join "127.0.0.1:$away" --lobby L --name tofu --duration 1 "${NOAUDIO[@]}"
wait_for tofu '"event":"connected"'
expect_exit tofu 0
wait_for_text tofu "\"fleet_key\":\"$fleet\",\"first_use\":true"
grep -qxF "@fleet 127.0.0.1:$away $fleet" "$known" || fail "no @fleet entry in $known: $(cat "$known")"
grep -qxF "127.0.0.1:$away $away_fp" "$known" || fail "no server entry in $known: $(cat "$known")"
start again join "127.0.0.1:$away" --lobby L --name again --duration 1 "${NOAUDIO[@]}"
expect_exit again 0
wait_for_text again "\"fleet_key\":\"$fleet\",\"first_use\":false"
echo "first use: the fleet key was remembered for 127.0.0.1:$away, and the next join found it"

# A third node, certified by another fleet, in the same Redis with the
# most room: the next lobby goes there.
node n3 200
wait_for_text n3 "\"event\":\"fleet_cert\",\"fleet\":\"$rogue\""
read -r rogue_addr _ < <("$GVOIP" allocate --redis "$REDIS_URL" --lobby R)
[ "${rogue_addr##*:}" = "$port_n3" ] || fail "lobby R went to $rogue_addr, not the third node"
start direct join "127.0.0.1:$port_n3" --lobby R --name direct --fleet-key "$fleet" "${NOAUDIO[@]}"
expect_exit direct 3
wait_for_text direct "certificate is signed by the fleet key $rogue, --fleet-key is $fleet"
start redirected join "127.0.0.1:$away" --lobby R --name redirected --fleet-key "$fleet" "${NOAUDIO[@]}"
expect_exit redirected 3
wait_for_text redirected "FLEET KEY CHANGED for 127.0.0.1:$port_n3 after a redirect: the fleet's key was $fleet"
wait_for_text redirected "signed by $rogue"
# Without a pin, once the fleet is known at that address.
echo "@fleet 127.0.0.1:$port_n3 $fleet" >>"$known"
start changed join "127.0.0.1:$port_n3" --lobby R --name changed "${NOAUDIO[@]}"
expect_exit changed 3
wait_for_text changed "FLEET KEY CHANGED for 127.0.0.1:$port_n3: known $fleet, now $rogue"
echo "another fleet's node: refused joined directly, after a redirect, and against the remembered fleet key"

# Reconnecting, what must match is the fleet key: a server restarted on
# its port with a new key certified by the fleet is taken back; one
# certified by another fleet ends reconnecting (exit 4).
start solo server --port 0 --threads 1 --key "$TMP/solo1.node" --fleet-cert "$TMP/solo1.cert" --json
port_solo=$(port_of solo)
start roamer join "127.0.0.1:$port_solo" --name roamer --fleet-key "$fleet" --reconnect-s 30 "${NOAUDIO[@]}"
wait_for roamer '"event":"connected"'
kill -TERM "$(pid_of solo)"
expect_exit solo 0
start solo2 server --port "$port_solo" --threads 1 --key "$TMP/solo2.node" --fleet-cert "$TMP/solo2.cert" --json
wait_for roamer '"event":"reconnected"' 15
kill -TERM "$(pid_of solo2)"
expect_exit solo2 0
start solo3 server --port "$port_solo" --threads 1 --key "$TMP/n3.node" --fleet-cert "$TMP/n3.cert" --json
expect_exit roamer 4 20
wait_for_text roamer "FLEET KEY CHANGED for 127.0.0.1:$port_solo while reconnecting: the fleet's key was $fleet"
echo "reconnecting: a new server key of the fleet taken back, another fleet's refused"

# An expired certificate: its node runs, and players refuse it.
start old server --port 0 --threads 1 --key "$TMP/old.node" --fleet-cert "$TMP/old.cert" --json
port_old=$(port_of old)
wait_for old '"event":"fleet_cert",.*"valid_now":false'
for how in pinned tofu; do
  pin=()
  [ "$how" = pinned ] && pin=(--fleet-key "$fleet")
  start "expired_$how" join "127.0.0.1:$port_old" --name expired "${pin[@]}" "${NOAUDIO[@]}"
  expect_exit "expired_$how" 3
  wait_for_text "expired_$how" "showed a fleet certificate that is not valid: fleet certificate expired at"
  wait_for_text "expired_$how" "; it is signed by the fleet key $fleet"
done
echo "an expired certificate: refused, pinned or not"

# A node without a certificate: --server-key pins it as before; a fleet
# pin alone does not take it.
start plain server --port 0 --threads 1 --key "$TMP/plain.node" --json
port_plain=$(port_of plain)
fp_plain=$(sed -n 's/.*"event":"listening".*"fingerprint":"\([^"]*\)".*/\1/p' "$TMP/plain.out" | head -n 1)
start plain_pinned join "127.0.0.1:$port_plain" --name p --server-key "$fp_plain" --duration 1 "${NOAUDIO[@]}"
wait_for plain_pinned '"event":"connected"'
expect_exit plain_pinned 0
start plain_fleet join "127.0.0.1:$port_plain" --name f --fleet-key "$fleet" "${NOAUDIO[@]}"
expect_exit plain_fleet 3
wait_for_text plain_fleet "shows no fleet certificate, and --fleet-key $fleet asks for one"
start plain_both join "127.0.0.1:$port_plain" --name b --fleet-key "$fleet" --server-key "$fp_plain" --duration 1 \
  "${NOAUDIO[@]}"
expect_exit plain_both 0
echo "--server-key still pins a node without a certificate"

for n in n1 n2 n3 solo3 old plain; do
  kill -TERM "$(pid_of "$n")"
  expect_exit "$n" 0 15
done
echo "PASS"
