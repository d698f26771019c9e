#!/usr/bin/env bash
# install-databases.sh installs Debian's database servers that the tests of
# functions/postgres (and later MariaDB and Redis) start as throwaway
# instances: postgresql, mariadb-server, redis-server. It installs only what
# is missing and does nothing when all are there. The packages' own services
# are not started (the tests start their own instances on free ports). It
# needs root (or sudo).
#
#   hack/install-databases.sh
set -euo pipefail

log() { printf '[hack] %s\n' "$*" >&2; }

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || command -v postgres >/dev/null; }
have_mariadb() { [[ -x /usr/sbin/mariadbd ]] || command -v mariadbd >/dev/null; }
have_redis() { command -v redis-server >/dev/null; }

pkgs=()
have_postgres || pkgs+=(postgresql)
have_mariadb || pkgs+=(mariadb-server mariadb-client)
have_redis || pkgs+=(redis-server)

if [[ ${#pkgs[@]} -eq 0 ]]; then
  log "database servers are installed: postgresql, mariadb-server, redis-server"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    log "installing ${pkgs[*]} needs root: run this script as root, or install sudo"
    exit 1
  fi
  sudo=(sudo)
fi

# Keep the packages from starting their services (policy-rc.d exit 101:
# "action forbidden"); an existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 0755 "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
log "installing Debian's ${pkgs[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}"
log "installed ${pkgs[*]}"
