#!/usr/bin/env bash
# Fetch the Envoy API protos Weft builds against.
#
# They come from the npm package @grpc/grpc-js-xds (pinned below), whose deps/ folder holds
# envoy-api, xds (cncf/xds, incl. udpa), googleapis and protoc-gen-validate. The tarball is
# checked against a hard-coded sha512 (npm's "integrity" for that version) before anything is
# extracted. Result, outside any build tree:
#
#   ${WEFT_CACHE:-$HOME/.cache/weft}/grpc-js-xds-1.14.1/{envoy-api,xds,googleapis,protoc-gen-validate}
#
# Idempotent: when the stamp file says this exact tarball was verified, extracted and patched,
# it does nothing. Prints the extracted directory on stdout (last line); logs go to stderr.
set -euo pipefail

PKG_NAME="@grpc/grpc-js-xds"
PKG_VERSION="1.14.1"
# From `npm view @grpc/grpc-js-xds@1.14.1 dist.integrity`.
PKG_INTEGRITY="sha512-F2mVXwEeMWw1znPUrp+8ykjsIOVnf7Rv+EyIvXOfz73w5tNolCnzokpLkE/d2Ehx30PJmZXqCQdMpx8DcBJohA=="
TARBALL_NAME="grpc-grpc-js-xds-${PKG_VERSION}.tgz"
# Bump when the local patches below change, so existing caches are re-extracted.
PATCH_LEVEL="1"

HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE="${WEFT_CACHE:-$HOME/.cache/weft}"
DEST="$CACHE/grpc-js-xds-$PKG_VERSION"
STAMP="$DEST/.weft-stamp"
STAMP_CONTENT="$PKG_NAME@$PKG_VERSION $PKG_INTEGRITY patch=$PATCH_LEVEL"

log() { echo "fetch-envoy-api: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_CONTENT" ]]; then
  echo "$DEST"
  exit 0
fi

mkdir -p "$CACHE"
# Serialize concurrent runs (two configures at once) on the same cache.
exec 9>"$CACHE/.grpc-js-xds-$PKG_VERSION.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_CONTENT" ]]; then
  echo "$DEST"
  exit 0
fi

sri_sha512() {  # prints "sha512-<base64>" of file $1
  echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
}

TARBALL="$CACHE/$TARBALL_NAME"
if [[ -f "$TARBALL" && "$(sri_sha512 "$TARBALL")" != "$PKG_INTEGRITY" ]]; then
  log "cached $TARBALL does not match the pinned sha512; fetching it again"
  rm -f "$TARBALL"
fi
if [[ ! -f "$TARBALL" ]]; then
  command -v npm >/dev/null 2>&1 || die "npm not found (run scripts/setup.sh)"
  tmp_pack="$(mktemp -d "$CACHE/.pack.XXXXXX")"
  log "npm pack $PKG_NAME@$PKG_VERSION"
  (cd "$tmp_pack" && npm pack "$PKG_NAME@$PKG_VERSION" --silent >/dev/null) \
    || { rm -rf "$tmp_pack"; die "npm pack $PKG_NAME@$PKG_VERSION failed"; }
  [[ -f "$tmp_pack/$TARBALL_NAME" ]] || { rm -rf "$tmp_pack"; die "npm pack did not produce $TARBALL_NAME"; }
  mv "$tmp_pack/$TARBALL_NAME" "$TARBALL.part"
  rm -rf "$tmp_pack"
  got="$(sri_sha512 "$TARBALL.part")"
  if [[ "$got" != "$PKG_INTEGRITY" ]]; then
    mv -f "$TARBALL.part" "$TARBALL.rejected"
    die "integrity mismatch for $PKG_NAME@$PKG_VERSION: expected $PKG_INTEGRITY, got $got (kept as $TARBALL.rejected)"
  fi
  mv -f "$TARBALL.part" "$TARBALL"
fi
# Verify again right before extracting what we verified.
got="$(sri_sha512 "$TARBALL")"
[[ "$got" == "$PKG_INTEGRITY" ]] || die "integrity mismatch for $TARBALL: expected $PKG_INTEGRITY, got $got"
log "verified $TARBALL_NAME ($PKG_INTEGRITY)"

# Extract package/deps/* into a temp dir next to DEST, patch, then swap it in.
tmp_x="$(mktemp -d "$CACHE/.extract.XXXXXX")"
trap 'rm -rf "$tmp_x"' EXIT
tar -xzf "$TARBALL" -C "$tmp_x" --strip-components=2 package/deps
for d in envoy-api xds googleapis protoc-gen-validate; do
  [[ -d "$tmp_x/$d" ]] || die "$TARBALL_NAME has no deps/$d"
done

# Patch 1: the bundled protoc-gen-validate predates StringRules.ignore_empty (field 26 upstream),
# which the Envoy protos use in (validate.rules).string options; protoc rejects them without it.
VALIDATE="$tmp_x/protoc-gen-validate/validate/validate.proto"
if ! grep -q 'ignore_empty *= *26' "$VALIDATE"; then
  # The file has CRLF line endings; match with or without the CR and keep the file's style.
  awk '
    { line = $0; cr = ""; if (sub(/\r$/, "", line)) cr = "\r"; print }
    line == "  optional bool strict = 25 [default = true];" {
      n++
      print cr
      print "  // Added by Weft (scripts/fetch-envoy-api.sh): upstream protoc-gen-validate field," cr
      print "  // used by the Envoy API protos." cr
      print "  optional bool ignore_empty = 26;" cr
    }
    END { if (n != 1) exit 1 }' "$VALIDATE" > "$VALIDATE.new" \
    || die "cannot patch $VALIDATE: StringRules.strict (field 25) line not found exactly once"
  mv "$VALIDATE.new" "$VALIDATE"
  grep -q 'ignore_empty = 26' "$VALIDATE" || die "patching $VALIDATE failed"
fi

echo "$STAMP_CONTENT" > "$tmp_x/.weft-stamp"
rm -rf "$DEST"
mv "$tmp_x" "$DEST"
trap - EXIT
chmod -R a+rX "$DEST"
log "extracted to $DEST"
echo "$DEST"
