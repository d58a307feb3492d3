#!/usr/bin/env bash
# One-time set-up on a fresh machine with only Node.js: Debian packages (ffmpeg,
# espeak-ng, fonts), npm packages, model weights and sample images (SHA-256 checked).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/peers.sh run
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
GATEWAY_MIRROR=$(bash scripts/mirror.sh) node --import tsx gateway/cli.ts models fetch
echo "set-up done: now run  npm start"
