# Positional voice end to end (2D, as Godot's AudioStreamPlayer2D): a
# listener at the origin facing north hears speaker A on its left at
# distance 50 and speaker B on its right at distance 20. Each speaker runs
# in its own lobby (the same speech, one listener each) so that each
# recording holds one speaker alone; the recordings' left/right level
# ratios and their level difference must follow the model within 1 dB.
# ctest: run serial
source "$(dirname "$0")/lib.sh"

# 1 s of silence first: the speaker's position reaches everyone before its
# voice does. Quiet enough that the gains never reach the limiter.
espeak-ng -w "$TMP/raw.wav" "Where are you? I am over here, by the old stone bridge."
sox -n -r 22050 -c 1 "$TMP/lead.wav" trim 0 1.0
sox "$TMP/lead.wav" "$TMP/raw.wav" "$TMP/speech.wav" vol 0.3

# max distance 100, exponent 1, panning strength 1, equal-power pan:
#   gain = 1 - d/100; pan = x_right/d; theta = (pan+1)*pi/4
#   L = gain*sqrt2*cos(theta), R = gain*sqrt2*sin(theta)
spatial=(--spatial 2d --max-distance 100 --attenuation 1 --panning-strength 1)
spatial_lobby a -30,-40
spatial_lobby b 16,-12
end_lobbies a b

expect() { # X Y -> L R (gains)
  awk -v x="$1" -v y="$2" 'BEGIN { d = sqrt(x*x + y*y); g = 1 - d/100; p = x/d; t = (p+1)*atan2(1,1);
    printf "%.6f %.6f\n", g*sqrt(2)*cos(t), g*sqrt(2)*sin(t) }'
}

for spec in "a -30 -40" "b 16 -12"; do
  read -r n x y <<<"$spec"
  read -r gl gr < <(expect "$x" "$y")
  echo "speaker $n at ($x,$y)"
  check_pan "$n" "$gl" "$gr"
done
check_energies a b
echo "PASS"
