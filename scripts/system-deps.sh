#!/usr/bin/env bash
# Install the system programs the project uses, when they are missing:
#   graphviz  - the `dot` renderer (pictures)
#   chromium  - a headless browser (the HTML player's browser test)
set -euo pipefail
need_apt() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: '$1' is missing and apt-get is not available." >&2
    echo "Install it with your system's package manager: $2" >&2
    exit 1
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  if [ ! -f /tmp/.autograph-apt-updated ]; then
    $sudo apt-get update -qq && touch /tmp/.autograph-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}
for what in "$@"; do
  case "$what" in
    graphviz) command -v dot >/dev/null 2>&1 || need_apt graphviz "graphviz (brew install graphviz, dnf install graphviz, or https://graphviz.org/download/)";;
    chromium) command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_apt chromium "chromium (any Chromium or Chrome; the browser test skips without one)";;
    *) echo "unknown dependency: $what" >&2; exit 2;;
  esac
done
