#!/usr/bin/env bash
# Installs Debian's chromium (for the end-to-end test in tests/e2e/) when
# /usr/bin/chromium is missing. Playwright drives it; no browser is downloaded.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" chromium
