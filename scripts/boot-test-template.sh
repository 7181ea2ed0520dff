#!/usr/bin/env bash
# boot-test-template.sh: smoke-test the kvm-crm test template (see build-test-template.sh) with plain QEMU.
#
#   scripts/boot-test-template.sh --catalogue DIR [--timeout SECONDS] [--no-poweroff] [--keep-log FILE]
#
# Boots DIR/kvm-crm-test/kvm-crm-test.qcow2 the way the agent's libvirt domains do (machine "pc", virtio
# disk and NICs, the NoCloud seed as an ISO9660 "cidata" CD-ROM on the IDE bus), under TCG, 96 MiB:
#   1. makes a qcow2 overlay on the template and a seed ISO (genisoimage -V cidata -J -r) with the agent's
#      exact meta-data / network-config layout, in a temporary folder;
#   2. starts qemu-system-x86_64 (user-mode NICs with restrict=on: the guest reaches nothing) and waits
#      for the guest's "kvm-crm-guest ready|error ..." line on the serial log;
#   3. checks the line is exactly the seeded hostname, IP and MAC;
#   4. unless --no-poweroff: presses the ACPI power button (QEMU monitor system_powerdown, what
#      `virsh shutdown` does) and checks that the guest powers itself off.
# Exits 0 on success, 1 on failure (the serial log is printed then). Kills its own QEMU by PID and removes
# every temporary file on exit. Prints the time to the ready line.

set -euo pipefail

NAME=kvm-crm-test
HOSTNAME_=kvm-crm-smoke
IP=10.0.0.16/24
MAC=02:00:0a:00:00:10
MAC2=02:00:0a:00:00:11

SCRIPT_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source-path=SCRIPTDIR source=lib/apt-deps.sh
. "$SCRIPT_DIR/lib/apt-deps.sh"

usage() {
  echo "usage: $0 --catalogue DIR [--timeout SECONDS] [--no-poweroff] [--keep-log FILE]" >&2
  exit 2
}
catalogue=
timeout=90
poweroff=1
keep_log=
while [ $# -gt 0 ]; do
  case $1 in
    --catalogue) [ $# -ge 2 ] || usage; catalogue=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage; timeout=$2; shift 2 ;;
    --no-poweroff) poweroff=0; shift ;;
    --keep-log) [ $# -ge 2 ] || usage; keep_log=$2; shift 2 ;;
    -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$catalogue" ] || usage
template=$(readlink -f "$catalogue/$NAME/$NAME.qcow2" || true)
[ -f "$template" ] || { echo "error: no template at $catalogue/$NAME/$NAME.qcow2 (run build-test-template.sh)" >&2; exit 1; }

ensure_apt_packages qemu-system-x86 qemu-utils genisoimage

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvm-crm-boot.XXXXXX")
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  exec 8>&- 2>/dev/null || true
  if [ -n "$keep_log" ] && [ -f "$tmp/serial.log" ]; then cp "$tmp/serial.log" "$keep_log"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
fail() {
  echo "FAIL: $*" >&2
  echo "---- serial log ----" >&2
  cat "$tmp/serial.log" >&2 2>/dev/null || true
  echo "--------------------" >&2
  exit 1
}

# The seed, in exactly the layout the agent writes.
mkdir "$tmp/seed"
cat > "$tmp/seed/meta-data" <<EOF
instance-id: c0ffee00-1234-4abc-8def-0123456789ab
local-hostname: $HOSTNAME_
EOF
cat > "$tmp/seed/user-data" <<'EOF'
#cloud-config
{}
EOF
cat > "$tmp/seed/network-config" <<EOF
version: 2
ethernets:
  eth0:
    match:
      macaddress: "$MAC"
    set-name: eth0
    addresses:
      - "$IP"
    routes:
      - to: default
        via: "10.0.0.1"
    nameservers:
      addresses:
        - "10.0.0.2"
        - "8.8.8.8"
  eth1:
    match:
      macaddress: "$MAC2"
    set-name: eth1
    dhcp4: false
EOF
genisoimage -quiet -V cidata -J -r -o "$tmp/seed.iso" "$tmp/seed"
qemu-img create -q -f qcow2 -b "$template" -F qcow2 "$tmp/overlay.qcow2"

# The monitor reads from a FIFO that we keep open (fd 8), so we can press the power button later.
mkfifo "$tmp/monitor"
exec 8<>"$tmp/monitor"
: > "$tmp/serial.log"
t0=$(date +%s%N)
qemu-system-x86_64 -accel tcg -machine pc -m 96 -nographic -no-reboot \
  -monitor stdio -serial "file:$tmp/serial.log" \
  -drive "file=$tmp/overlay.qcow2,if=virtio,format=qcow2" \
  -drive "file=$tmp/seed.iso,media=cdrom,if=ide,index=2,format=raw,readonly=on" \
  -netdev user,id=n0,restrict=on -device "virtio-net-pci,netdev=n0,mac=$MAC" \
  -netdev user,id=n1,restrict=on -device "virtio-net-pci,netdev=n1,mac=$MAC2" \
  <&8 >"$tmp/qemu.out" 2>&1 &
qemu_pid=$!
echo "==> booting $template under TCG (qemu pid $qemu_pid)"

line=
deadline=$(( $(date +%s) + timeout ))
while [ -z "$line" ]; do
  line=$(grep -a -m1 -o 'kvm-crm-guest \(ready\|error\).*' "$tmp/serial.log" | tr -d '\r' || true)
  [ -n "$line" ] && break
  kill -0 "$qemu_pid" 2>/dev/null || { cat "$tmp/qemu.out" >&2; fail "qemu exited before the guest was ready"; }
  [ "$(date +%s)" -lt "$deadline" ] || fail "no ready line within ${timeout}s"
  sleep 0.1
done
ready_ms=$(ms_since "$t0")
echo "    $line"
echo "    ready line after ${ready_ms} ms"
expected="kvm-crm-guest ready hostname=$HOSTNAME_ ip=$IP mac=$MAC"
[ "$line" = "$expected" ] || fail "expected '$expected'"

if [ "$poweroff" = 1 ]; then
  t1=$(date +%s%N)
  echo "system_powerdown" >&8
  deadline=$(( $(date +%s) + 30 ))
  while kill -0 "$qemu_pid" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "guest did not power off within 30 s of the ACPI power button"
    sleep 0.1
  done
  wait "$qemu_pid" || true
  qemu_pid=
  echo "    powered off $(ms_since "$t1") ms after the ACPI power button"
fi
echo "==> OK"
