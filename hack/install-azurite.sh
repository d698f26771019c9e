#!/usr/bin/env bash
# install-azurite.sh installs Azurite, Azure Storage's emulator (an npm
# package), for the restic Azure backend tests: its blob service as
# ./bin/azurite-blob, a wrapper that runs the pinned install in
# ./bin/.azurite with node. Every package is pinned by
# hack/tools/azurite/package-lock.json (npm ci, no install scripts); skipped
# when bin/.stamp-azurite matches the version and the lock file, so a
# machine that has it needs no network.
#
#   hack/install-azurite.sh            # installs when missing or stale
#   FORCE=1 hack/install-azurite.sh    # reinstalls
set -euo pipefail

AZURITE_VERSION=3.37.0

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
src="$root/hack/tools/azurite"
dest="$bin/.azurite"
log() { printf '[hack] %s\n' "$*" >&2; }

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "install-azurite.sh: $tool is not on PATH (Azurite 3.37.0 asks for Node.js >= 22; its blob service runs on Node.js 20)" >&2
    exit 1
  fi
done
stamp="$AZURITE_VERSION $(sha256sum "$src/package-lock.json" | cut -c1-16)"
if [[ -z "${FORCE:-}" && -x "$bin/azurite-blob" && -f "$bin/.stamp-azurite" && "$(cat "$bin/.stamp-azurite")" == "$stamp" ]]; then
  exit 0
fi

start=$SECONDS
log "installing azurite $AZURITE_VERSION with npm ci (takes a few minutes)"
rm -rf "$dest"
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
# azurite's package.json asks for Node.js >= 22 (npm only warns); its blob
# service runs on Node.js 20, the one this was tested with.
(cd "$dest" && npm ci --ignore-scripts --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error >&2)
got=$(node -p 'require(process.argv[1]).version' "$dest/node_modules/azurite/package.json")
if [[ "$got" != "$AZURITE_VERSION" ]]; then
  echo "install-azurite.sh: installed azurite $got, want $AZURITE_VERSION" >&2
  exit 1
fi
cat > "$bin/azurite-blob" <<'WRAPPER'
#!/bin/sh
# Azurite's blob service, installed by hack/install-azurite.sh.
exec node "$(dirname "$0")/.azurite/node_modules/azurite/dist/src/blob/main.js" "$@"
WRAPPER
chmod +x "$bin/azurite-blob"
echo "$stamp" > "$bin/.stamp-azurite"
log "installed azurite in $((SECONDS - start))s"
