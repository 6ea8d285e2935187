#!/usr/bin/env bash
# Install the interop tests' Node dependencies (tests/interop/node_modules) from the committed
# package-lock.json with `npm ci`: exact versions, integrity-checked, no install scripts.
#
# Idempotent and quick: a stamp in node_modules records the sha256 of package.json +
# package-lock.json and the Node major version it was installed with; when it matches and the
# pinned packages are present, nothing is run. Prints what it did on stderr.
#
#   bash tests/interop/install.sh           # install if needed
#   bash tests/interop/install.sh --force   # reinstall
set -euo pipefail

DIR="$(cd "$(dirname "$0")" && pwd)"
STAMP="$DIR/node_modules/.weft-install-stamp"

log() { echo "interop-install: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found (run scripts/setup.sh)"
command -v npm >/dev/null 2>&1 || die "npm not found (run scripts/setup.sh)"
[[ -f "$DIR/package-lock.json" ]] || die "$DIR/package-lock.json missing"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
want="$(cat "$DIR/package.json" "$DIR/package-lock.json" | sha256sum | cut -d' ' -f1) node$node_major"

installed_ok() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] || return 1
  # Every direct dependency must be installed at exactly the pinned version.
  (cd "$DIR" && node -e '
    const deps = require("./package.json").dependencies;
    for (const [name, version] of Object.entries(deps)) {
      let got;
      try { got = require(`./node_modules/${name}/package.json`).version; } catch (e) { process.exit(1); }
      if (got !== version) process.exit(1);
    }') || return 1
}

if [[ "${1:-}" != "--force" ]] && installed_ok; then
  log "node_modules up to date with package-lock.json"
  exit 0
fi

# Serialize concurrent runs on the same tree.
exec 9>"$DIR/.install.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [[ "${1:-}" != "--force" ]] && installed_ok; then
  log "node_modules up to date with package-lock.json"
  exit 0
fi

log "npm ci in $DIR"
npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error >&2 \
  || die "npm ci failed in $DIR"
installed_ok_versions="$(cd "$DIR" && node -p 'Object.keys(require("./package.json").dependencies).map(n => n + "@" + require(`./node_modules/${n}/package.json`).version).join(" ")')"
echo "$want" > "$STAMP"
installed_ok || die "installed packages do not match package.json after npm ci"
log "installed $installed_ok_versions"
