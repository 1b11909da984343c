#!/usr/bin/env bash
# Installs redis-server from Debian's packages when it is missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" redis-server
