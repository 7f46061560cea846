#!/usr/bin/env bash
# Installs what the integration suite needs and this machine lacks, from
# Debian's packages: Node.js and npm (the Logto-compatible provider) and
# Chromium (the browser test, which never downloads a browser of its own).
# `make integration` runs it; it does nothing when all three are there.
set -euo pipefail

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

echo "integration: installing ${need[*]} with apt-get"
run=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "integration: apt-get install ${need[*]} needs root" >&2
    exit 1
  fi
  run=(sudo)
fi
"${run[@]}" apt-get update -qq
"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
