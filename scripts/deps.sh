#!/usr/bin/env bash
# Installs the Debian packages gvoip needs to build, test and benchmark.
# As root (or with sudo) it runs apt-get; otherwise it prints the exact
# command and stops, so nothing half-installs behind the user's back.
set -eu

packages=(
  build-essential cmake pkg-config
  libenet-dev libopus-dev libsodium-dev libsdl2-dev libspeexdsp-dev
  libsndfile1-dev libcmocka-dev libncurses-dev libpulse-dev
  espeak-ng sox pulseaudio pulseaudio-utils
  libwebrtc-audio-processing-dev
  clang libclang-rt-14-dev
  tmux gnuplot-nox
  openssl
  redis-server libhiredis-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt_get=(sudo apt-get)
else
  echo "gvoip needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -q
"${apt_get[@]}" install -y -q --no-install-recommends "${missing[@]}"
