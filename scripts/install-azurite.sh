#!/usr/bin/env bash
# Azurite, Microsoft's Azure Storage emulator, for the datastore tests (tests/servers.py starts its blob
# service on 127.0.0.1). Runs on every `make test`: when it is already installed it only says so.
# Installs the npm package azurite@3 into <repo>/.tools/azurite (git-ignored); needs Node.js and npm.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
prefix="$root/.tools/azurite"
bin="$prefix/node_modules/.bin/azurite-blob"

if [ -x "$bin" ]; then
    echo "install-azurite: Azurite found ($bin); nothing to install."
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install-azurite: npm is not installed; the datastore tests need it to install Azurite." >&2
    echo "install-azurite: install Node.js 18 or later with npm (Debian: apt-get install nodejs npm)," \
        "then run make test again." >&2
    exit 1
fi

echo "install-azurite: installing azurite@3 from the npm registry into $prefix."
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error azurite@3
if [ -x "$bin" ]; then
    echo "install-azurite: installed $("$bin" --version 2>/dev/null || echo azurite) at $bin."
else
    echo "install-azurite: npm finished but $bin does not exist." >&2
    exit 1
fi
