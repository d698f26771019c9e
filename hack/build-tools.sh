#!/usr/bin/env bash
# build-tools.sh builds the real servers and tools stashflow's tests run against,
# from pinned modules on the Go module proxy, into ./bin. A tool whose stamp
# (bin/.stamp-<name>) matches its pinned version is not rebuilt.
#
#   hack/build-tools.sh [tool...]     # default: every tool
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
tools="$root/hack/tools"
mkdir -p "$bin"

# name | module dir under hack/tools (or "-") | package | version (the stamp)
# Versions here must match the go.mod files under hack/tools.
KUBE_VERSION=v1.34.3
ETCD_VERSION=v3.6.5
RESTIC_VERSION=v0.18.1
REST_SERVER_VERSION=v0.14.0
ARGO_VERSION=v3.7.3
CONTROLLER_GEN_VERSION=v0.18.0
GOLANGCI_LINT_VERSION=v2.5.0
# promtool (Prometheus v3's rule checker and rule unit tester; module versions
# v0.3xx.y are Prometheus 3.xx.y) checks the Helm chart's alerts and dashboard.
PROMTOOL_VERSION=v0.316.0
# MinIO (S3-compatible server for the restic S3 backend tests): release
# RELEASE.2025-09-07T16-13-09Z, commit 07c3a429bfed433e49018cb0f78a52145d4bedeb.
# Its tags are not semver, so the module is pinned by the release commit's
# pseudo-version. (The proxy refuses the later RELEASE.2025-10-15T17-29-55Z.)
MINIO_VERSION=v0.0.0-20250907161309-07c3a429bfed
MINIO_RELEASE=RELEASE.2025-09-07T16-13-09Z
MINIO_COMMIT=07c3a429bfed433e49018cb0f78a52145d4bedeb
# fake-gcs-server (a Google Cloud Storage emulator) for the restic GCS backend
# tests; Azurite (Azure Blob Storage's emulator, from npm) is installed by
# hack/install-azurite.sh.
FAKE_GCS_SERVER_VERSION=v1.56.1

uptodate() { [[ -x "$bin/$1" && -f "$bin/.stamp-$1" && "$(cat "$bin/.stamp-$1")" == "$2" ]]; }
stamp() { echo "$2" > "$bin/.stamp-$1"; }
log() { printf '[hack] %s\n' "$*" >&2; }

build_mod() { # name dir pkg version [ldflags]
  local name=$1 dir=$2 pkg=$3 version=$4 ldflags=${5:-}
  if uptodate "$name" "$version"; then return; fi
  log "building $name $version (cold builds take minutes)"
  local start=$SECONDS
  (cd "$tools/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$name" "$pkg")
  stamp "$name" "$version"
  log "built $name in $((SECONDS - start))s"
}

install_tool() { # name pkg@version
  local name=$1 pkgver=$2
  if uptodate "$name" "$pkgver"; then return; fi
  log "installing $pkgver"
  GOBIN="$bin" go install "$pkgver"
  stamp "$name" "$pkgver"
}

mv="-X github.com/minio/minio/cmd.Version=2025-09-07T16:13:09Z -X github.com/minio/minio/cmd.ReleaseTag=$MINIO_RELEASE -X github.com/minio/minio/cmd.CommitID=$MINIO_COMMIT -X github.com/minio/minio/cmd.ShortCommitID=${MINIO_COMMIT:0:12} -X github.com/minio/minio/cmd.CopyrightYear=2025"
kv="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34"

build_one() {
  case $1 in
    kube-apiserver) build_mod kube-apiserver kube-apiserver . "$KUBE_VERSION" "$kv" ;;
    etcd) build_mod etcd etcd . "$ETCD_VERSION" ;;
    restic) build_mod restic restic github.com/restic/restic/cmd/restic "$RESTIC_VERSION" ;;
    rest-server) build_mod rest-server rest-server github.com/restic/rest-server/cmd/rest-server "$REST_SERVER_VERSION" ;;
    minio) build_mod minio minio github.com/minio/minio "$MINIO_VERSION" "$mv" ;;
    fake-gcs-server) build_mod fake-gcs-server fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_SERVER_VERSION" ;;
    azurite) "$root/hack/install-azurite.sh" ;;
    workflow-controller) build_mod workflow-controller argo github.com/argoproj/argo-workflows/v3/cmd/workflow-controller "$ARGO_VERSION" ;;
    controller-gen) install_tool controller-gen "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION" ;;
    zincsearch) "$root/hack/build-zincsearch.sh" ;;
    helm|kustomize) "$root/hack/build-helm.sh" "$1" ;;
    promtool) install_tool promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" ;;
    golangci-lint) install_tool golangci-lint "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION" ;;
    *) echo "unknown tool $1" >&2; exit 2 ;;
  esac
}

if [[ $# -eq 0 ]]; then
  set -- controller-gen etcd kube-apiserver restic rest-server minio fake-gcs-server azurite workflow-controller zincsearch helm kustomize promtool golangci-lint
fi
for t in "$@"; do build_one "$t"; done
