#!/usr/bin/env bash
# gvoip-quality on generated speech: espeak-ng says a few sentences,
# gvoip-degrade passes them through gvoip's Opus wrapper with seeded loss,
# and the scores must rank the conditions the way a listener would. The
# alignment must find inserted delays, and other sample rates must score
# the same. No audio is committed: everything is made here.
source "$(dirname "$0")/lib.sh"

BIN="$GVOIP_BUILD_DIR/tools/quality"
Q="$BIN/gvoip-quality"
D="$BIN/gvoip-degrade"
[ -x "$Q" ] && [ -x "$D" ] || fail "build gvoip-quality and gvoip-degrade first ($BIN)"
command -v espeak-ng >/dev/null || fail "espeak-ng is needed (scripts/deps.sh installs it)"

REF="$TMP/ref.wav"
espeak-ng -w "$REF" "Please call Stella. Ask her to bring six spoons of fresh snow peas from \
the store." || fail "espeak-ng could not write $REF"

# field NAME LINE: the value of NAME=... in LINE.
field() { sed -n "s/.*\<$1=\([-0-9.]*\).*/\1/p" <<<"$2"; }

# check DESCRIPTION AWK-CONDITION: fails the test unless the condition holds.
check() {
  if awk "BEGIN { exit !($2) }"; then
    echo "ok   $1"
  else
    fail "$1 ($2)"
  fi
}

# check_near DESCRIPTION VALUE WANT TOLERANCE
check_near() { check "$1" "$2 - ($3) <= $4 && ($3) - $2 <= $4"; }

# degrade NAME ARGS...: $TMP/NAME.wav from REF; its summary in $TMP/NAME.log.
degrade() {
  local name=$1
  shift
  "$D" "$REF" "$TMP/$name.wav" "$@" >"$TMP/$name.log" || fail "gvoip-degrade $name $*"
}

# quality A B: prints "delay_ms=... stoi=... estoi=...".
quality() { "$Q" "$1" "$2" || fail "gvoip-quality $1 $2"; }

stoi_of() { field stoi "$(quality "$REF" "$TMP/$1.wav")"; }

# Command line errors are 2, unreadable input is 1, with a reason.
rc=0; "$Q" >/dev/null 2>&1 || rc=$?; check "no arguments exit 2" "$rc == 2"
rc=0; "$Q" "$REF" >/dev/null 2>&1 || rc=$?; check "one file exit 2" "$rc == 2"
rc=0; "$Q" "$REF" "$REF" --bogus >/dev/null 2>&1 || rc=$?; check "unknown option exit 2" "$rc == 2"
rc=0; "$D" "$REF" >/dev/null 2>&1 || rc=$?; check "degrade without OUT exit 2" "$rc == 2"
rc=0; "$Q" "$TMP/missing.wav" "$REF" >/dev/null 2>"$TMP/missing.err" || rc=$?
check "missing file exit 1" "$rc == 1"
grep -q "cannot read $TMP/missing.wav" "$TMP/missing.err" || fail "no reason for a missing file"
echo "not audio" >"$TMP/text.wav"
rc=0; "$Q" "$REF" "$TMP/text.wav" >/dev/null 2>"$TMP/text.err" || rc=$?
check "not a sound file exit 1" "$rc == 1"
grep -q "cannot read $TMP/text.wav" "$TMP/text.err" || fail "no reason for a non-audio file"

# Identical files: no delay, perfect score.
same=$(quality "$REF" "$REF")
check "identical: delay 0 ($same)" "$(field delay_ms "$same") == 0"
check "identical: stoi ~1" "$(field stoi "$same") >= 0.999 && $(field estoi "$same") >= 0.999"

# Known delays, without the codec, both signs, up to the 2 s search range.
degrade delay137 --no-codec --delay-ms 137
degrade delay1900 --no-codec --delay-ms 1900
late=$(quality "$REF" "$TMP/delay137.wav")
early=$(quality "$TMP/delay137.wav" "$REF")
far=$(quality "$REF" "$TMP/delay1900.wav")
check_near "137 ms found ($late)" "$(field delay_ms "$late")" 137 1
check_near "-137 ms found ($early)" "$(field delay_ms "$early")" -137 1
check_near "1900 ms found ($far)" "$(field delay_ms "$far")" 1900 1
check "delayed copy scores ~1" "$(field stoi "$late") >= 0.999 && $(field stoi "$far") >= 0.999"

# Through Opus, the inserted 137 ms adds to the codec's own delay.
degrade clean --bitrate 24000 --seed 1
degrade clean137 --bitrate 24000 --seed 1 --delay-ms 137
clean=$(quality "$REF" "$TMP/clean.wav")
clean137=$(quality "$REF" "$TMP/clean137.wav")
check_near "opus + 137 ms found ($clean / $clean137)" \
  "$(field delay_ms "$clean137") - $(field delay_ms "$clean")" 137 1
s_clean=$(field stoi "$clean")

# Loss: clean > 5% > 20%, each the mean over three loss patterns.
mean_stoi() {
  local name=$1 sum=0 s
  shift
  for seed in 1 2 3; do
    degrade "$name$seed" --seed "$seed" "$@"
    s=$(stoi_of "$name$seed")
    sum=$(awk "BEGIN { print $sum + $s }")
  done
  awk "BEGIN { printf \"%.4f\", $sum / 3 }"
}
s_loss5=$(mean_stoi loss5_ --bitrate 24000 --loss 5)
s_loss20=$(mean_stoi loss20_ --bitrate 24000 --loss 20)
check "clean $s_clean > 5% loss $s_loss5" "$s_clean > $s_loss5 + 0.005"
check "5% loss $s_loss5 > 20% loss $s_loss20" "$s_loss5 > $s_loss20 + 0.005"

# Bit rate: 32 > 12 > 6 kbit/s.
degrade b32 --bitrate 32000
degrade b12 --bitrate 12000
degrade b6 --bitrate 6000
s32=$(stoi_of b32)
s12=$(stoi_of b12)
s6=$(stoi_of b6)
check "32 kbit/s $s32 > 12 kbit/s $s12" "$s32 > $s12 + 0.005"
check "12 kbit/s $s12 > 6 kbit/s $s6" "$s12 > $s6 + 0.005"

# FEC at 10% loss, same loss patterns on and off.
s_fec=$(mean_stoi fec_ --bitrate 24000 --loss 10 --fec)
s_plc=$(mean_stoi plc_ --bitrate 24000 --loss 10 --no-fec)
grep -q "recovered=[1-9]" "$TMP/fec_1.log" || fail "FEC recovered nothing: $(cat "$TMP/fec_1.log")"
check "10% loss: FEC $s_fec > concealment $s_plc" "$s_fec > $s_plc + 0.01"

# Other rates: a 16 kHz reference and a 48 kHz degraded file score like
# the 22.05 kHz originals, and a resampled copy is not delayed.
"$D" "$REF" "$TMP/ref16.wav" --no-codec --rate 16000 >/dev/null || fail "16 kHz copy"
degrade clean48 --bitrate 24000 --seed 1 --rate 48000
r16=$(quality "$TMP/ref16.wav" "$REF")
check_near "16 kHz copy: not delayed ($r16)" "$(field delay_ms "$r16")" 0 0.2
check "16 kHz copy: stoi ~1" "$(field stoi "$r16") >= 0.99"
s16=$(field stoi "$(quality "$TMP/ref16.wav" "$TMP/clean.wav")")
s48=$(stoi_of clean48)
check_near "16 kHz reference scores like 22.05 kHz ($s16 vs $s_clean)" "$s16" "$s_clean" 0.01
check_near "48 kHz degraded scores like 22.05 kHz ($s48 vs $s_clean)" "$s48" "$s_clean" 0.01

json=$("$Q" "$REF" "$TMP/clean.wav" --json)
grep -Eq '^\{"delay_ms":[-0-9.]+,"stoi":[0-9.]+,"estoi":[0-9.]+,.*\}$' <<<"$json" ||
  fail "bad JSON: $json"

echo "summary: clean24k=$s_clean loss5=$s_loss5 loss20=$s_loss20 b32=$s32 b12=$s12 b6=$s6" \
  "fec10=$s_fec plc10=$s_plc ref16=$s16 deg48=$s48"
