#!/usr/bin/env bash
# Installs PostgreSQL (the storage under the local FerretDB) from Debian's packages
# when it is missing. Only the binaries are used: the project runs its own private
# cluster under the local data folder, never Debian's default one.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing postgresql from Debian's packages"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
