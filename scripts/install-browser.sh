#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian packages) for the browser tests.
# Idempotent: returns at once when both binaries are already present.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
PACKAGES=(chromium chromium-driver)

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; then
    echo "install-browser: chromium and chromedriver already installed"
    exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-browser: must run as root (or with sudo available)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
APT_INSTALL=("${SUDO[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}")

# Try without refreshing the package lists first; update once only if that fails
# (fresh machines and containers usually have empty or stale lists).
if ! "${APT_INSTALL[@]}"; then
    echo "install-browser: running apt-get update once"
    "${SUDO[@]}" apt-get update
    "${APT_INSTALL[@]}"
fi

"$CHROMIUM" --version
"$CHROMEDRIVER" --version
