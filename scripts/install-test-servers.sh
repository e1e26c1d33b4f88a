#!/usr/bin/env bash
# Install the non-Python servers the test suite starts (see tests/servers.py):
# PostgreSQL from Debian and Azurite from npm. Idempotent and quick on re-run: each step
# runs only when its binary is missing. Python packages come from the `test` extra instead.
set -euo pipefail

AZURITE_VERSION=3.35.0 # 3.37+ needs Node 22; the machines have Node 20 (Debian bookworm's own is 18).
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
servers_dir="$repo_root/.test-servers"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    echo "install-test-servers: installing PostgreSQL (apt)"
    apt_install postgresql
fi

if [ ! -x "$servers_dir/node_modules/.bin/azurite-blob" ]; then
    if ! command -v npm >/dev/null; then
        echo "install-test-servers: installing Node.js and npm (apt)"
        apt_install nodejs npm
    fi
    echo "install-test-servers: installing azurite@$AZURITE_VERSION into $servers_dir"
    mkdir -p "$servers_dir"
    npm install --prefix "$servers_dir" --no-audit --no-fund --loglevel=error \
        "azurite@$AZURITE_VERSION" >/dev/null
fi
