#!/usr/bin/env bash
# Check the system libraries WeasyPrint needs; install them when run as root.
set -euo pipefail
missing=()
for lib in libpango-1.0.so.0:libpango-1.0-0 libpangoft2-1.0.so.0:libpangoft2-1.0-0 \
           libharfbuzz-subset.so.0:libharfbuzz-subset0; do
  so=${lib%%:*}; pkg=${lib##*:}
  ldconfig -p 2>/dev/null | grep -q "$so" || missing+=("$pkg")
done
fc-list 2>/dev/null | grep -qi . || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "WeasyPrint (PDF documents) needs these Debian packages: ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing them with apt-get (running as root)..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
else
  echo "Install them with: sudo apt-get install ${missing[*]}"
  exit 1
fi
