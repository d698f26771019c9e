#!/usr/bin/env bash
# build-helm.sh builds helm and kustomize from the pinned tools module
# hack/tools/helm into ./bin, with stamps (bin/.stamp-<name>) like
# hack/build-tools.sh: a tool whose stamp matches its pinned version is not
# rebuilt. The packaging tests (packaging/) run these binaries.
#
#   hack/build-helm.sh [helm|kustomize...]     # default: both
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
mod="$root/hack/tools/helm"
mkdir -p "$bin"

# Versions here must match hack/tools/helm/go.mod.
HELM_VERSION=v3.18.6
KUSTOMIZE_VERSION=v5.6.0

# helm's default .Capabilities.KubeVersion, as helm's own Makefile sets it.
helm_kube=""
for p in pkg/chartutil pkg/lint/rules; do
  helm_kube+=" -X helm.sh/helm/v3/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/$p.k8sVersionMinor=33"
done

uptodate() { [[ -x "$bin/$1" && -f "$bin/.stamp-$1" && "$(cat "$bin/.stamp-$1")" == "$2" ]]; }
log() { printf '[hack] %s\n' "$*" >&2; }

build() { # name package version ldflags
  local name=$1 pkg=$2 version=$3 ldflags=$4
  if uptodate "$name" "$version"; then return; fi
  log "building $name $version (a cold build takes a few minutes)"
  local start=$SECONDS
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$name" "$pkg")
  echo "$version" > "$bin/.stamp-$name"
  log "built $name in $((SECONDS - start))s"
}

build_one() {
  case $1 in
    helm) build helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
      "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean $helm_kube" ;;
    kustomize) build kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" \
      "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$KUSTOMIZE_VERSION" ;;
    *) echo "unknown tool $1" >&2; exit 2 ;;
  esac
}

if [[ $# -eq 0 ]]; then set -- helm kustomize; fi
for t in "$@"; do build_one "$t"; done
