# Sourced first by the scripts the README names: they install packages and create network
# namespaces, so they need root. Root runs them as they are; another user goes through sudo
# when there is one, and otherwise gets told what to do (a fresh Debian 12 machine where
# the user is root often has no sudo at all).
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E bash "$PWD/scripts/$(basename "$0")" "$@"  # the caller has cd to the repository root
  fi
  echo "$(basename "$0"): needs root, and sudo is not installed: run it as root" >&2
  exit 1
fi
