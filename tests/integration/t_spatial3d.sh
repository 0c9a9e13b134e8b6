# Positional voice end to end in 3D (Godot's AudioStreamPlayer3D, inverse
# distance model) with the interaural delay. The listener stands at the
# origin facing -Z. Speaker A is 20 units away, 45 degrees to the left and
# ahead; its listener renders with --itd, so A's voice must reach the right
# ear later than the left by Woodworth's delay for a 45-degree source. Speaker
# B is 40 units straight ahead; its listener renders without --itd: both
# ears at once and equally loud. Each speaker has its own lobby, so each
# recording holds one speaker alone. Levels must follow the model within
# 1 dB, the delays within 0.1 ms.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
quality="$GVOIP_BUILD_DIR/tools/quality/gvoip-quality"

espeak-ng -w "$TMP/raw.wav" "Where are you? I am over here, by the old stone bridge."
sox -n -r 22050 -c 1 "$TMP/lead.wav" trim 0 1.0
sox "$TMP/lead.wav" "$TMP/raw.wav" "$TMP/speech.wav" vol 0.3

# inverse model: gain = (unit / d) * max(0, 1 - d / max), panning strength
# 1, equal-power pan from the lateral offset.
spatial=(--spatial 3d --attenuation-model inverse --unit-size 10 --max-distance 100 --panning-strength 1)
spatial_lobby a -14.1421,0,-14.1421 --itd
spatial_lobby b 0,0,-40
end_lobbies a b

expect() { # X Z -> L R gains and the right ear's delay in ms (Woodworth, 0 without ITD)
  awk -v x="$1" -v z="$2" -v itd="$3" 'BEGIN { d = sqrt(x*x + z*z); g = (10 / d) * (1 - d/100);
    p = x/d; t = (p+1)*atan2(1,1); a = -atan2(x, -z); if (a < 0) a = -a;
    w = itd ? int(0.0875 / 343 * (a + sin(a)) * 48000 + 0.5) / 48 : 0;
    printf "%.6f %.6f %.4f\n", g*sqrt(2)*cos(t), g*sqrt(2)*sin(t), w }'
}
for spec in "a -14.1421 -14.1421 1" "b 0 -40 0"; do
  read -r n x z itd <<<"$spec"
  read -r gl gr wd < <(expect "$x" "$z" "$itd")
  echo "speaker $n at ($x,0,$z)"
  check_pan "$n" "$gl" "$gr"
  sox "$TMP/$n.hears.wav" "$TMP/$n.left.wav" remix 1
  sox "$TMP/$n.hears.wav" "$TMP/$n.right.wav" remix 2
  lag=$("$quality" "$TMP/$n.left.wav" "$TMP/$n.right.wav" --max-delay-ms 5 | sed -n 's/^delay_ms=\([-0-9.]*\) .*/\1/p')
  echo "speaker $n: right ear later by $lag ms, model $wd ms"
  within "$lag" "$wd" 0.1 || fail "speaker $n: the right ear lags by $lag ms, model says $wd ms"
done
check_energies a b
echo "PASS"
