# shellcheck shell=bash
# Sourced helper (not executable): make sure Debian packages are installed.
#
#   ensure_apt_packages PKG...
#
# Checks each package with `dpkg -s`; if any is missing it runs `apt-get update` once and then
# `apt-get install -y --no-install-recommends` for the missing ones only. Needs root when something is
# missing (tests and CI run the scripts on a fresh machine as root); otherwise it only reads dpkg's database.

ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "==> installing missing packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
