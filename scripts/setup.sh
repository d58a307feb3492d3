#!/usr/bin/env bash
# One-time set-up on a fresh machine with only Node.js: Debian packages (ffmpeg,
# espeak-ng, fonts, mosquitto-clients, and the build toolchain when a native module has to
# compile), npm packages, model weights and sample images (SHA-256 checked).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/peers.sh setup
if ! ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund; then
  echo "set-up failed: npm ci could not install the npm packages (see above); nothing else was changed" >&2
  exit 1
fi
GATEWAY_MIRROR=$(bash scripts/mirror.sh) node --import tsx gateway/cli.ts models fetch
echo "set-up done: now run  npm start"
