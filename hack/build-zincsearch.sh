#!/usr/bin/env bash
# build-zincsearch.sh builds ZincSearch (an independent search server with an
# Elasticsearch-compatible API under /es) into ./bin/zincsearch, for the
# elasticsearch Functions' tests. Pinned; skipped when bin/.stamp-zincsearch
# matches the version.
#
# `go install github.com/zincsearch/zincsearch/cmd/zincsearch@v0.4.10` does not
# work here (the proxy refuses the module's version list, and the module zip
# cannot build as it is), so this script:
#   1. downloads the module zip from the Go module proxy (`go mod download -json`);
#   2. copies its source into a writable temporary directory;
#   3. adds web/dist/index.html (the zip lacks the UI build that `go:embed web/dist`
#      needs; the UI is not used by the tests);
#   4. removes the continuous-profiling hook from cmd/zincsearch/main.go: its
#      dependency (github.com/grafana/pyroscope-go/godeltaprof v0.1.2, via
#      pyroscope-io/client) does not compile with Go >= 1.21;
#   5. builds cmd/zincsearch there (-mod=mod: only the temporary copy's go.sum may change).
#
#   hack/build-zincsearch.sh            # builds when missing or stale
#   FORCE=1 hack/build-zincsearch.sh    # rebuilds
set -euo pipefail

ZINC_MODULE=github.com/zincsearch/zincsearch
ZINC_VERSION=v0.4.10

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
mkdir -p "$bin"
log() { printf '[hack] %s\n' "$*" >&2; }

if [[ -z "${FORCE:-}" && -x "$bin/zincsearch" && -f "$bin/.stamp-zincsearch" && "$(cat "$bin/.stamp-zincsearch")" == "$ZINC_VERSION" ]]; then
  exit 0
fi

start=$SECONDS
log "building zincsearch $ZINC_VERSION (a cold build takes a few minutes)"
src=$(go mod download -json "$ZINC_MODULE@$ZINC_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [[ -z "$src" || ! -d "$src" ]]; then
  echo "go mod download $ZINC_MODULE@$ZINC_VERSION gave no source directory" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/zincsearch-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src/." "$work/"
chmod -R u+w "$work"
cd "$work"

# 3. The embedded UI.
mkdir -p web/dist
cp "$root/hack/tools/zincsearch/index.html" web/dist/index.html

# 4. The profiler hook (import, call and function).
main=cmd/zincsearch/main.go
sed -i \
  -e '\#"github.com/pyroscope-io/client/pyroscope"#d' \
  -e '/^[[:space:]]*profiling()$/d' \
  -e '/^func profiling() {$/,/^}$/d' \
  "$main"
# The hook was the only user of package strings there.
if ! grep -q 'strings\.' "$main"; then sed -i '/^[[:space:]]*"strings"$/d' "$main"; fi
if grep -q pyroscope "$main"; then
  echo "could not remove the profiler hook from $main" >&2
  exit 1
fi

# 5. Build (the go directive says 1.20; the local toolchain builds it).
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $ZINC_MODULE/pkg/meta.Version=$ZINC_VERSION" \
  -o "$bin/zincsearch" ./cmd/zincsearch
echo "$ZINC_VERSION" > "$bin/.stamp-zincsearch"
log "built zincsearch in $((SECONDS - start))s"
