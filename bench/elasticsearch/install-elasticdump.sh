#!/usr/bin/env bash
# install-elasticdump.sh installs elasticdump, pinned, into ./bin/node_modules for
# the Elasticsearch benchmark (bench/elasticsearch). Needs node and npm; the npm
# registry is the only source. Skipped when the stamp matches.
#
#   bench/elasticsearch/install-elasticdump.sh
set -euo pipefail

ELASTICDUMP_VERSION=6.125.1

root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/bin"
stamp="$bin/.stamp-elasticdump"
mkdir -p "$bin"
if [[ -x "$bin/node_modules/.bin/elasticdump" && -f "$stamp" && "$(cat "$stamp")" == "$ELASTICDUMP_VERSION" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed (apt-get install nodejs npm)" >&2; exit 1; }
echo "[bench] installing elasticdump $ELASTICDUMP_VERSION into $bin/node_modules" >&2
npm install --prefix "$bin" --no-save --no-audit --no-fund --loglevel=error "elasticdump@$ELASTICDUMP_VERSION"
echo "$ELASTICDUMP_VERSION" > "$stamp"
