#!/usr/bin/env bash
# Installs the Debian packages the gateway needs, only those missing.
#   bash scripts/peers.sh run    ffmpeg, espeak-ng and fonts: what the gateway itself runs
#   bash scripts/peers.sh test   plus the real peers the tests talk to (mosquitto,
#                                GStreamer RTSP server, SIPp, baresip, onvif-tools,
#                                systemd for systemd-notify and systemd-analyze)
set -euo pipefail
mode=${1:-run}

run_pkgs=(ffmpeg espeak-ng fonts-dejavu-core fonts-wqy-microhei)
test_pkgs=(mosquitto mosquitto-clients python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  sip-tester baresip-core onvif-tools iproute2 sqlite3 systemd)

case "$mode" in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "peers ($mode): all present"; exit 0; }

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
$sudo apt-get update -q >/dev/null
# Debian's mosquitto package starts a system broker on 1883 where an init system exists;
# policy-rc.d keeps package installs from starting services we do not want running.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "peers ($mode): done"
