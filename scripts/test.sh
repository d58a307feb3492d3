#!/usr/bin/env bash
# The test command (`npm test`): brings in the real peers the tests use, fetches the
# models, type-checks, and runs every test. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/peers.sh test
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
GATEWAY_MIRROR=$(bash scripts/mirror.sh) node --import tsx gateway/cli.ts models fetch
npx tsc --noEmit -p .
npx vitest run "$@"
