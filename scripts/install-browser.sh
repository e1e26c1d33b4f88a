#!/usr/bin/env bash
# Install the browser the page tests drive (tests/test_ui_browser.py): Debian's Chromium, used
# through Playwright's Python package with executable_path=/usr/bin/chromium. Idempotent: does
# nothing when /usr/bin/chromium exists. Never `playwright install`: its browser downloads are
# not reachable from these machines, and Debian's build is all the tests need.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

echo "install-browser: installing chromium (apt)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium >/dev/null
