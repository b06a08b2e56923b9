#!/usr/bin/env bash
# PostgreSQL server binaries for the metadata store's conformance suite (tests/conftest.py starts a
# throwaway server from them). Runs on every `make test`: when initdb is already there it only says so.
# Installs Debian's `postgresql` package; `apt-get update` only when the install cannot go without it.
set -euo pipefail

find_initdb() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1
}

if initdb=$(find_initdb) && [ -n "$initdb" ]; then
    echo "install-postgres: PostgreSQL server found ($(dirname "$initdb")); nothing to install."
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "install-postgres: PostgreSQL is not installed, and installing it needs root or sudo." >&2
    echo "install-postgres: install Debian's 'postgresql' package, then run make test again." >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: no apt-get here: install a PostgreSQL server so that" \
        "/usr/lib/postgresql/<version>/bin/initdb exists, then run make test again." >&2
    exit 1
fi

apt_install() {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends postgresql
}

echo "install-postgres: PostgreSQL server not found; installing Debian's postgresql package."
if ! apt_install; then
    echo "install-postgres: the package lists look stale; running apt-get update and trying again."
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    apt_install
fi

if initdb=$(find_initdb) && [ -n "$initdb" ]; then
    echo "install-postgres: installed PostgreSQL ($(dirname "$initdb"))."
else
    echo "install-postgres: apt-get finished but no /usr/lib/postgresql/*/bin/initdb exists." >&2
    exit 1
fi
