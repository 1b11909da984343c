#!/usr/bin/env bash
# Installs PostgreSQL (the storage under the local FerretDB) from Debian's packages
# when it is missing. Only the binaries are used: the project runs its own private
# cluster under the local data folder, never Debian's default one.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" postgresql
