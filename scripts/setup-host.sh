#!/usr/bin/env bash
# Prepares a Debian host to run oxad-agent: installs the packages the agent needs, starts virtlogd and libvirtd
# when no init system did, fixes /dev/kvm permissions and makes sure libvirt's "default" NAT network exists.
#
# Idempotent: every step checks first and only acts when something is missing. Run as root.
# Prints one line per step ("ok: …" when nothing had to be done, "did: …" when it changed something,
# "warn: …" when a step could not be completed; warnings do not make the script fail).
#
# Environment:
#   LIBVIRT_URI           libvirt connection to check (default qemu:///system)
#   SETUP_SKIP_NETWORK=1  do not touch libvirt's default network
set -euo pipefail

LIBVIRT_URI="${LIBVIRT_URI:-qemu:///system}"
export DEBIAN_FRONTEND=noninteractive

log() { printf '%s\n' "$*"; }

if [[ "$(id -u)" -ne 0 ]]; then
  log "error: setup-host.sh must run as root" >&2
  exit 1
fi

# --- 1. packages -------------------------------------------------------------------------------------------
# qemu-system-x86: the emulator; qemu-utils: qemu-img; libvirt-daemon-system + libvirt-clients: libvirtd, virsh;
# genisoimage: cloud-init seed ISOs; dnsmasq-base + iptables: DHCP/DNS and NAT of libvirt's default network;
# xmlsec1: the manager's GENI credential signature checks (docs/decisions/023) and the test credential minter.
# libxml2-utils (xmllint): the FELIX-RO test client validates RSpecs against the GENI XSDs (test/python/felix_ro_client.py).
# chromium: the dashboard's browser test (Playwright drives the system Chromium); prometheus: promtool checks
# deploy/'s alert rules; virtinst: virt-install, the peer in the performance benchmark; systemd: systemd-analyze
# verify of deploy/systemd units (no running init needed); rsync: scripts/install.sh copies the built tree with it
# (its test installs into a scratch root); python3-libvirt: the agent's held-open libvirt connection (decision 041).
PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients genisoimage dnsmasq-base iptables iproute2 xmlsec1 libxml2-utils
  chromium prometheus virtinst systemd rsync python3-libvirt)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  log "ok: packages already installed (${PACKAGES[*]})"
else
  log "did: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. /dev/kvm permissions ------------------------------------------------------------------------------
# Without group kvm + 0660 libvirt re-probes QEMU capabilities on every call: each `virsh define` takes ~52 s.
if [[ -e /dev/kvm ]]; then
  if getent group kvm >/dev/null; then
    grp="$(stat -c %G /dev/kvm)"
    mode="$(stat -c %a /dev/kvm)"
    if [[ "$grp" != kvm || "$mode" != 660 ]]; then
      chgrp kvm /dev/kvm
      chmod 0660 /dev/kvm
      log "did: /dev/kvm set to group kvm, mode 0660 (was $grp $mode)"
    else
      log "ok: /dev/kvm is group kvm, mode 0660"
    fi
  else
    log "warn: group kvm does not exist; /dev/kvm left as it is"
  fi
else
  log "ok: no /dev/kvm on this host (guests will use TCG)"
fi

# --- 3. daemons ---------------------------------------------------------------------------------------------
daemon_running() { # $1 = daemon name, $2 = pid file
  local pid
  [[ -r "$2" ]] || return 1
  pid="$(cat "$2" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/comm" ]] || return 1
  [[ "$(cat "/proc/$pid/comm")" == "$1" ]]
}

start_daemon() { # $1 = daemon name, $2 = pid file, $3 = socket to wait for
  if daemon_running "$1" "$2"; then
    log "ok: $1 running (pid $(cat "$2"))"
    return 0
  fi
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl start "$1"
    log "did: systemctl start $1"
  else
    "/usr/sbin/$1" -d
    log "did: started $1 -d"
  fi
  for _ in $(seq 1 100); do
    [[ -S "$3" ]] && return 0
    sleep 0.1
  done
  log "warn: $1 started but $3 did not appear within 10 s"
}

start_daemon virtlogd /run/virtlogd.pid /run/libvirt/virtlogd-sock
start_daemon libvirtd /run/libvirtd.pid /run/libvirt/libvirt-sock

if virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then
  log "ok: virsh -c $LIBVIRT_URI version works"
else
  log "error: virsh -c $LIBVIRT_URI version fails:" >&2
  virsh -c "$LIBVIRT_URI" version >&2 || true
  exit 1
fi

# --- 4. libvirt's default NAT network -------------------------------------------------------------------------
if [[ "${SETUP_SKIP_NETWORK:-0}" == 1 ]]; then
  log "ok: SETUP_SKIP_NETWORK=1, default network not checked"
  exit 0
fi
v() { virsh -q -c "$LIBVIRT_URI" "$@"; }

if ! v net-info default >/dev/null 2>&1; then
  if [[ -r /usr/share/libvirt/networks/default.xml ]]; then
    v net-define /usr/share/libvirt/networks/default.xml >/dev/null
    log "did: defined libvirt network default"
  else
    log "warn: libvirt network default is not defined and /usr/share/libvirt/networks/default.xml is missing"
    exit 0
  fi
fi
# (read net-info first: with pipefail, `v … | grep -q` fails when grep exits early and virsh gets SIGPIPE)
net_info() { v net-info default 2>/dev/null || true; }
if grep -Eq '^Active:\s+yes' <<<"$(net_info)"; then
  log "ok: libvirt network default active"
else
  if err="$(v net-start default 2>&1)"; then
    log "did: started libvirt network default"
  else
    log "warn: cannot start libvirt network default (NICs without a bridge will fail): $(echo "$err" | tr '\n' ' ')"
  fi
fi
if grep -Eq '^Autostart:\s+yes' <<<"$(net_info)"; then
  log "ok: libvirt network default autostarts"
else
  if v net-autostart default >/dev/null 2>&1; then
    log "did: set libvirt network default to autostart"
  else
    log "warn: cannot set libvirt network default to autostart"
  fi
fi
