#!/usr/bin/env bash
# Installs or upgrades the gateway as a systemd service on a Debian box, from a checkout:
#   sudo bash deploy/install.sh              install, or upgrade in place
#   bash deploy/install.sh --render-unit     print the unit as it would be installed here
# Code goes to $PREFIX (default /opt/township-gateway) and is replaced whole on an upgrade.
# Settings (/etc/township-gateway/settings.yaml) and data (/var/lib/township-gateway:
# database, evidence, audio cache) are never touched by an upgrade.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/township-gateway}
NODE=$(command -v node || true)
[ -n "$NODE" ] || { echo "node (Node.js 20 or 22) is not on PATH" >&2; exit 1; }

render() { sed -e "s|/usr/bin/node|$NODE|g" -e "s|/opt/township-gateway|$PREFIX|g" "$SRC/deploy/township-gateway.service"; }
if [ "${1:-}" = --render-unit ]; then render; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "run as root: sudo bash deploy/install.sh" >&2; exit 1; }

bash "$SRC/scripts/peers.sh" run
command -v systemd-notify >/dev/null || apt-get install -y -q --no-install-recommends systemd
id township-gateway >/dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/township-gateway --shell /usr/sbin/nologin township-gateway

# New code beside the old, then swapped: a failed copy or npm ci leaves the running one alone.
rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new"
tar -C "$SRC" --exclude=./node_modules --exclude=./.git --exclude=./data --exclude=./models/files -cf - . | tar -C "$PREFIX.new" -xf -
# Model weights already fetched are kept (they are verified by SHA-256 on use).
[ -d "$PREFIX/models/files" ] && cp -a "$PREFIX/models/files" "$PREFIX.new/models/"
(cd "$PREFIX.new" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund)
(cd "$PREFIX.new" && node bin/gateway.mjs models fetch)
rm -rf "$PREFIX.old"
[ -d "$PREFIX" ] && mv "$PREFIX" "$PREFIX.old"
mv "$PREFIX.new" "$PREFIX"

install -d -m 0750 -o root -g township-gateway /etc/township-gateway
if [ ! -e /etc/township-gateway/settings.yaml ]; then
  # data_dir must be the service's StateDirectory: everything else is read-only to it.
  sed 's|^\(  data_dir:\).*|\1 /var/lib/township-gateway|' "$SRC/config/example.yaml" >/etc/township-gateway/settings.yaml
  chgrp township-gateway /etc/township-gateway/settings.yaml
  chmod 0640 /etc/township-gateway/settings.yaml
  echo "wrote /etc/township-gateway/settings.yaml from config/example.yaml: edit it, then: systemctl restart township-gateway"
fi
render >/etc/systemd/system/township-gateway.service
systemctl daemon-reload
systemctl enable township-gateway
systemctl restart township-gateway
echo "installed: systemctl status township-gateway; journalctl -u township-gateway -f"
