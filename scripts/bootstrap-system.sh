#!/usr/bin/env bash
# Installs the Debian packages reportgen needs, only those that are missing (idempotent).
#   make demo (no flag): what weasyprint needs: Pango, HarfBuzz subsetting, a font;
#   make test (--test):  also poppler-utils (pdftotext/pdfinfo in the tests, pdftoppm for the
#   README picture), Chromium, which the tests use to check the HTML report, and a C/C++
#   compiler when there is none (the dev extra builds llama-cpp-python from source).
# Not root: prints the exact apt command and stops.
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
if [ "${1:-}" = "--test" ]; then
  packages+=(poppler-utils chromium)
  command -v g++ >/dev/null 2>&1 || packages+=(build-essential)
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "reportgen needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root, then run make again:" >&2
  echo "  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
DEBIAN_FRONTEND=noninteractive sh -c "$cmd"
