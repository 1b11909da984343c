#!/usr/bin/env bash
# Installs one package from Debian's packages, quietly, as root or through sudo.
# The install-*.sh scripts call it once they have found their program missing.
set -euo pipefail
package="$1"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing $package from Debian's packages"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
