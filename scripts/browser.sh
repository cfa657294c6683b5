#!/usr/bin/env bash
# The headless browser the report-page test draws the reports in (tests/unit/plugins/filter/test_report_page.py):
# Debian's chromium, installed from Debian's packages when it is missing. Prints the browser's path.
set -euo pipefail
for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; exit 0; fi
done
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
{
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
} >&2
command -v chromium
