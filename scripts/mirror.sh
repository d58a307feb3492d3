#!/usr/bin/env bash
# Prints the asset mirror folder: $GATEWAY_MIRROR, else the development machines' usual
# place beside the checkout, if it exists. Prints nothing when there is none (the fetch
# then downloads from the pinned URLs).
root=$(cd "$(dirname "$0")/.." && pwd)
for d in "${GATEWAY_MIRROR:-}" "$root/../shared/mirror" /work/shared/mirror; do
  [ -n "$d" ] && [ -d "$d" ] && { (cd "$d" && pwd); exit 0; }
done
