#!/usr/bin/env bash
# Installs the Debian packages the gateway needs, only those missing.
#   bash scripts/peers.sh run    ffmpeg, espeak-ng and fonts: what the gateway itself runs
#   bash scripts/peers.sh setup  what `npm run setup` needs: the run list, mosquitto_sub
#                                (the README and the demo tell people to run it), and the
#                                build toolchain when a native module would have to compile
#   bash scripts/peers.sh test   plus the real peers the tests talk to (mosquitto,
#                                GStreamer RTSP server, SIPp, baresip, onvif-tools,
#                                chromium for the console's browser tests, systemd for
#                                systemd-notify and systemd-analyze)
# --dry-run (or PEERS_DRY_RUN=1): print what would be installed, install nothing.
set -euo pipefail
mode=${1:-run}
dry=${PEERS_DRY_RUN:-}
[ "${2:-}" = "--dry-run" ] && dry=1
cd "$(dirname "$0")/.."

run_pkgs=(ffmpeg espeak-ng fonts-dejavu-core fonts-wqy-microhei)
test_pkgs=(mosquitto mosquitto-clients python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  sip-tester baresip-core onvif-tools iproute2 sqlite3 chromium systemd)

# better-sqlite3 has no prebuilt binary it can download on every machine; npm then builds
# it with node-gyp, which needs python3, make and a C++ compiler.
build_pkgs=(build-essential python3)
needs_toolchain() {
  [ -e node_modules/better-sqlite3/build/Release/better_sqlite3.node ] && return 1
  local t
  for t in python3 make g++; do command -v "$t" >/dev/null 2>&1 || return 0; done
  return 1
}

case "$mode" in
  run) want=("${run_pkgs[@]}") ;;
  setup)
    want=("${run_pkgs[@]}" mosquitto-clients)
    if needs_toolchain; then
      echo "peers (setup): no python3/make/g++ to compile better-sqlite3; installing the build toolchain (${build_pkgs[*]})"
      want+=("${build_pkgs[@]}")
    fi
    ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|setup|test [--dry-run]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "peers ($mode): all present"; exit 0; }
if [ -n "$dry" ]; then
  echo "peers ($mode): would install ${missing[*]}"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "missing: ${missing[*]} - this is not a Debian-based system; install them with your package manager" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "missing: ${missing[*]} - run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
echo "peers ($mode): installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null || { echo "peers ($mode): apt-get update failed: cannot install ${missing[*]}; check the network and apt sources" >&2; exit 1; }
# Debian's mosquitto package starts a system broker on 1883 where an init system exists;
# policy-rc.d keeps package installs from starting services we do not want running.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "peers ($mode): could not install ${missing[*]} with apt-get (see the messages above)" >&2
  exit 1
fi
echo "peers ($mode): done"
