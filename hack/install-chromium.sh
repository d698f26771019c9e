#!/usr/bin/env bash
# install-chromium.sh installs Debian's chromium package, which the browser
# tests of ui/ drive headless (through chromedp) at /usr/bin/chromium. It does
# nothing when /usr/bin/chromium is already there. It needs root (or sudo).
#
#   hack/install-chromium.sh
set -euo pipefail

log() { printf '[hack] %s\n' "$*" >&2; }

if [[ -x /usr/bin/chromium ]]; then
  log "chromium is installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    log "installing chromium needs root: run this script as root, or install sudo"
    exit 1
  fi
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
log "installing Debian's chromium package"
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends chromium fonts-dejavu-core
log "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
