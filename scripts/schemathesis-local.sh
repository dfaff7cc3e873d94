#!/usr/bin/env bash
# Schemathesis (PyPI), the property-based API tester, in a virtualenv of its own, for the conformance
# test of the HTTP API against its OpenAPI document (test/conformance). No service is started: the test
# starts the server itself and runs `st` against it.
#
#   bash scripts/schemathesis-local.sh install   # create the virtualenv and install the pinned version (once)
#   bash scripts/schemathesis-local.sh path      # print the path of `st`, installing it first when missing
#
# Environment:
#   LLMO_SCHEMATHESIS_HOME   virtualenv cache (default: $HOME/.cache/llmo): schemathesis-<version>/
#   SCHEMATHESIS_VERSION     the version installed (default 4.32.5, the one the test was written against)
#   PYTHON                   the interpreter that makes the virtualenv (default python3)
#
# install and path print LLMO_SCHEMATHESIS=<path to st> as their last line on stdout; progress goes to stderr.
set -euo pipefail

VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
VENV="${LLMO_SCHEMATHESIS_HOME:-${HOME:-/tmp}/.cache/llmo}/schemathesis-$VERSION"
PY="${PYTHON:-python3}"
ST="$VENV/bin/st"

log() { printf 'schemathesis-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

install() {
  if [[ -x "$ST" ]] && "$ST" --version >/dev/null 2>&1; then
    log "schemathesis $VERSION already in $VENV"
    return 0
  fi
  command -v "$PY" >/dev/null || die "$PY not found: install Python 3.9 or later"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! "$PY" -m venv "$VENV" >&2; then
    # Debian's python3 keeps venv in a package of its own
    if command -v apt-get >/dev/null && [[ "$(id -u)" = 0 ]]; then
      log "installing python3-venv (Debian)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2; } \
        || die "python3-venv could not be installed"
      rm -rf "$VENV"
      "$PY" -m venv "$VENV" >&2 || die "$PY -m venv $VENV failed"
    else
      die "$PY -m venv $VENV failed (on Debian: apt-get install python3-venv)"
    fi
  fi
  log "installing schemathesis==$VERSION into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2 \
    || die "pip install schemathesis==$VERSION failed"
  "$ST" --version >&2 || die "$ST does not run"
}

case "${1:-}" in
  install|path)
    install
    echo "LLMO_SCHEMATHESIS=$ST"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
