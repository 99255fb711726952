#!/bin/sh
# System packages the annexes need beyond Python: headless Chromium (PDF printing and the
# browser tests) and a font with every Vietnamese glyph (DejaVu Sans), from Debian; for the
# official Word documents' PDF, LibreOffice Writer without GUI and Liberation Serif (metric-
# compatible with Times New Roman), and poppler-utils (pdftotext, pdftoppm) for their tests.
#
# Idempotent and quiet: when everything is present it prints nothing and changes nothing.
# Needs root (or sudo) only when something is missing. Set SIPAS_SKIP_SYSTEM=1 to skip
# (the run then says why there are no PDFs and still writes HTML and Excel).
set -eu

[ "${SIPAS_SKIP_SYSTEM:-0}" = "1" ] && exit 0

PACKAGES="chromium fonts-dejavu-core fontconfig libreoffice-writer-nogui fonts-liberation poppler-utils"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: cannot install$missing (no apt-get on this machine); PDFs will be skipped" >&2
    echo "setup-system: (without libreoffice-writer-nogui the official Word documents are written, their PDF is not)" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "setup-system: missing system packages:$missing" >&2
        echo "setup-system: run 'sudo scripts/setup-system.sh' once; until then PDFs are skipped" >&2
        echo "setup-system: (without libreoffice-writer-nogui the official Word documents are written, their PDF is not)" >&2
        exit 0
    fi
fi

echo "setup-system: installing$missing (Debian packages, one-off)" >&2
export DEBIAN_FRONTEND=noninteractive
# a fresh machine has no package lists yet; refresh them once when a package is unknown
for p in $missing; do
    if ! apt-cache show "$p" >/dev/null 2>&1; then
        $SUDO apt-get update -qq >/dev/null
        break
    fi
done
log=$(mktemp)
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "setup-system: installing$missing failed; PDFs will be skipped" >&2
    exit 0
fi
rm -f "$log"
$SUDO fc-cache -f >/dev/null 2>&1 || true
