#!/usr/bin/env bash
# Check the system libraries WeasyPrint needs; install them when run as root.
# The barcode tests also read PDFs back with pdftoppm (poppler-utils) and
# zbarimg (zbar-tools), the ZPL labels are read back with tesseract
# (tesseract-ocr, with its German data), and the browser journeys use
# Debian's chromium: installed as root too, otherwise those tests skip (CI
# makes them required).
set -euo pipefail
missing=()
for lib in libpango-1.0.so.0:libpango-1.0-0 libpangoft2-1.0.so.0:libpangoft2-1.0-0 \
           libharfbuzz-subset.so.0:libharfbuzz-subset0; do
  so=${lib%%:*}; pkg=${lib##*:}
  ldconfig -p 2>/dev/null | grep -q "$so" || missing+=("$pkg")
done
fc-list 2>/dev/null | grep -qi . || missing+=(fonts-dejavu-core)
# Labels print addresses in any script: DejaVu covers Latin, Cyrillic and
# Arabic; Chinese, Japanese and Korean need a CJK font.
fc-list :lang=ja 2>/dev/null | grep -qi . || missing+=(fonts-noto-cjk)
optional=()
command -v pdftoppm >/dev/null || optional+=(poppler-utils)
command -v zbarimg >/dev/null || optional+=(zbar-tools)
command -v tesseract >/dev/null || optional+=(tesseract-ocr)
tesseract --list-langs 2>/dev/null | grep -qx deu || optional+=(tesseract-ocr-deu)
# The browser journeys (tests/e2e) drive Debian's Chromium with Playwright.
command -v chromium >/dev/null || optional+=(chromium)
# The ZPL labels render to images with zpl-renderer-js (npm, pinned in
# tests/support/zpl_render), on this machine: no label service is called.
zpl_render="$(dirname "$0")/../tests/support/zpl_render"
if [ ! -d "$zpl_render/node_modules/zpl-renderer-js" ] && command -v npm >/dev/null; then
  (cd "$zpl_render" && npm ci --no-audit --no-fund --silent) \
    || echo "Could not install zpl-renderer-js: the ZPL read-back test will skip."
fi
if [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then exit 0; fi
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; }
}
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  [ ${#missing[@]} -eq 0 ] || echo "WeasyPrint (PDF documents) needs these Debian packages: ${missing[*]}"
  [ ${#optional[@]} -eq 0 ] || echo "The barcode, OCR and browser tests use these Debian packages: ${optional[*]}"
  echo "Installing them with apt-get (running as root)..."
  if ! install "${missing[@]}" "${optional[@]}"; then
    [ ${#missing[@]} -eq 0 ] || exit 1
    echo "Could not install ${optional[*]}: the barcode and label read-back and browser tests will skip."
  fi
elif [ ${#missing[@]} -ne 0 ]; then
  echo "WeasyPrint (PDF documents) needs these Debian packages: ${missing[*]}"
  echo "Install them with: sudo apt-get install ${missing[*]} ${optional[*]}"
  exit 1
else
  echo "Optional: sudo apt-get install ${optional[*]} (the barcode read-back and browser tests skip without them)."
fi
