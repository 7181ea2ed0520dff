#!/usr/bin/env bash
# build-test-template.sh: build the tiny bootable guest template used by kvm-crm's tests, and install it
# into a template catalogue folder.
#
#   scripts/build-test-template.sh --catalogue DIR
#
# Writes DIR/kvm-crm-test/kvm-crm-test.qcow2 and DIR/kvm-crm-test/template.json.
#
# The guest, built only from Debian packages and without any loop mount (the build hosts have no vfat or
# iso9660 in their kernel):
#   * kernel: Debian's cloud kernel (linux-image-<ver>-cloud-amd64), fetched with `apt-get download` and
#     unpacked with `dpkg-deb -x`; it is never installed on the host. Under TCG it boots ~2x faster than the
#     standard kernel and needs only ~80 MiB of RAM.
#   * initramfs: static busybox, the /init below, and the modules it needs (virtio-pci/-net/-blk, the IDE
#     CD-ROM stack for the cidata seed, isofs, ACPI button + evdev for the power button) plus their
#     dependencies, resolved from each module's .modinfo; modules built into the kernel are skipped. Packed
#     with `xz --check=crc32 --lzma2=preset=9,dict=1MiB` (the kernel runs out of memory unpacking `xz -9`).
#   * disk: an MBR-partitioned raw disk with syslinux's mbr.bin and one FAT16 partition (mkfs.vfat + mcopy,
#     `syslinux --install`), holding the kernel, the initramfs and syslinux.cfg (no menu, no delay, serial
#     console on ttyS0); converted to qcow2.
#
# The guest's /init mounts the NoCloud seed (ISO9660 labelled "cidata", normally the IDE CD-ROM /dev/sr0),
# sets the hostname, configures every NIC of network-config (matched by MAC), prints what tests check about
# disks and keys, then exactly one ready line on the serial console:
#   kvm-crm-guest disks vda=<MiB> vdb=<MiB> ...                     (every virtio disk, from /sys/block/vd*/size)
#   kvm-crm-guest key SHA256:<base64> <type> <comment|->            (one per distinct key in user-data, as
#                                                                     `ssh-keygen -lf` computes the fingerprint)
#   kvm-crm-guest ready hostname=<h> ip=<addr>/<len> mac=<mac>      (first interface that has an address)
#   kvm-crm-guest ready hostname=<h> ip=none mac=<first mac>          (no interface has an address)
#   kvm-crm-guest ready hostname=<h> ip=none mac=none seed=missing    (no seed after ~10 s)
#   kvm-crm-guest error <reason>                                      (anything else went wrong)
# The disks and key lines come before the ready line (none without a seed), so whoever waits for "ready" sees them.
# then stays up (busybox init, a shell on the console, acpid: the ACPI power button powers it off).
#
# Cache: the qcow2 is kept in $KVMCRM_CACHE_DIR (default <repo>/.cache/test-template/), keyed by a hash of
# this script and the versions of the Debian packages it is built from (kernel, busybox, syslinux). On a
# hit the script only copies it into the catalogue. An identical template already in the catalogue is left
# untouched (VM overlays may be using it as their backing file).
#
# Missing build tools are installed with apt (needs root then). Concurrent runs serialise on a lock in the
# cache folder. Takes ~5-6 s cold (download, unpack, xz), ~0.6 s cached (mostly one apt-cache call).

set -euo pipefail

NAME=kvm-crm-test
KERNEL_META_PKG=linux-image-cloud-amd64
DEPS=(qemu-utils syslinux syslinux-common mtools dosfstools busybox-static xz-utils cpio)
# Modules the guest needs; their dependencies are added automatically, built-in ones are skipped.
WANTED_MODULES=(virtio_pci virtio_blk virtio_net virtio_balloon ata_piix sr_mod cdrom isofs button evdev)
# no_timer_check: the kernel skips its boot-time test of the timer interrupt. Under TCG on an overloaded host (20
# guests booting at once on 2 cores, issue #14 goal 5) the test's few ticks do not arrive in time and the guest
# panics with "IO-APIC + timer doesn't work!"; the flag is what virtualised cloud kernels boot with for that reason.
KERNEL_CMDLINE="console=ttyS0 no_timer_check"

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
SCRIPT_DIR=$(dirname "$SCRIPT_PATH")
REPO_DIR=$(dirname "$SCRIPT_DIR")
# shellcheck source-path=SCRIPTDIR source=lib/apt-deps.sh
. "$SCRIPT_DIR/lib/apt-deps.sh"

usage() {
  echo "usage: $0 --catalogue DIR" >&2
  exit 2
}

catalogue=
while [ $# -gt 0 ]; do
  case $1 in
    --catalogue) [ $# -ge 2 ] || usage; catalogue=$2; shift 2 ;;
    --catalogue=*) catalogue=${1#*=}; shift ;;
    -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$SCRIPT_PATH"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$catalogue" ] || usage

die() { echo "error: $*" >&2; exit 1; }
now() { date +%s%N; }
T_START=$(now)
T_STEP=$T_START
elapsed() { echo "$(( ($(now) - $1) / 1000000 )) ms"; }
# step MESSAGE: close the previous step (print how long it took) and announce the next one.
STEP=
step() {
  [ -z "$STEP" ] || echo "    ($STEP: $(elapsed "$T_STEP"))"
  STEP=$1
  T_STEP=$(now)
  echo "==> $*"
}

step "checking build dependencies"
ensure_apt_packages "${DEPS[@]}"

# --- which kernel -------------------------------------------------------------------------------------
step "looking up the kernel package"
# One apt-cache call (each costs ~0.4 s): the meta-package pins the exact image package and version, e.g.
#   Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
find_kernel() {
  apt-cache show --no-all-versions "$KERNEL_META_PKG" 2>/dev/null |
    sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -n1
}
kernel=$(find_kernel || true)
if [ -z "$kernel" ] && [ "$(id -u)" -eq 0 ]; then
  echo "    $KERNEL_META_PKG unknown to apt-cache: running apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  kernel=$(find_kernel || true)
fi
[ -n "$kernel" ] || die "cannot find the kernel package behind $KERNEL_META_PKG (apt-get update?)"
kernel_pkg=${kernel% *}
kernel_pkg_ver=${kernel#* }
kernel_ver=${kernel_pkg#linux-image-}
pkg_ver() { dpkg-query -W -f='${Version}' "$1"; }
echo "    kernel $kernel_pkg $kernel_pkg_ver, busybox-static $(pkg_ver busybox-static), syslinux $(pkg_ver syslinux)"

# --- cache ----------------------------------------------------------------------------------------------
cache_dir=${KVMCRM_CACHE_DIR:-$REPO_DIR/.cache/test-template}
cache_key=$({
  cat "$SCRIPT_PATH"
  echo "$kernel_pkg $kernel_pkg_ver"
  echo "busybox-static $(pkg_ver busybox-static)"
  echo "syslinux $(pkg_ver syslinux) $(pkg_ver syslinux-common)"
} | sha256sum | cut -c1-16)
cache_entry=$cache_dir/$NAME-$cache_key
cached_qcow2=$cache_entry/$NAME.qcow2
mkdir -p "$cache_dir"
# Serialise concurrent runs (parallel test workers) on the cache.
exec 9>"$cache_dir/.lock"
if ! flock -n 9; then
  echo "    waiting for another build holding $cache_dir/.lock"
  flock 9
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvm-crm-template.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

build() {
  local root=$tmp/initramfs kdir=$tmp/kernel

  step "downloading $kernel_pkg"
  mkdir -p "$tmp/deb"
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
    # Let apt's sandbox user write the download (avoids the "unsandboxed as root" warning).
    chmod 0755 "$tmp"
    chown _apt "$tmp/deb"
  fi
  (cd "$tmp/deb" && apt-get download -q "$kernel_pkg=$kernel_pkg_ver" >/dev/null) ||
    die "apt-get download $kernel_pkg=$kernel_pkg_ver failed (stale apt lists? try apt-get update)"
  local deb
  deb=$(echo "$tmp"/deb/*.deb)
  [ -f "$deb" ] || die "apt-get download $kernel_pkg produced no .deb"

  step "unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$kdir"
  local vmlinuz=$kdir/boot/vmlinuz-$kernel_ver moddir=$kdir/lib/modules/$kernel_ver
  [ -f "$vmlinuz" ] || die "no $vmlinuz in $deb"
  [ -d "$moddir" ] || die "no $moddir in $deb"

  step "building the initramfs"
  mkdir -p "$root"/{bin,dev,proc,sys,mnt/seed,tmp,root,run,etc/acpi/PWRF,var/log,lib/modules}
  ln -s bin "$root/sbin"
  ln -s ../run "$root/var/run"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done

  # Resolve modules: index every module file by module name (dashes and underscores are equivalent).
  local -A modfile=() builtin=() seen=()
  local f n
  while IFS= read -r f; do
    n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
    modfile[$n]=$f
  done < <(find "$moddir/kernel" -name '*.ko*')
  if [ -f "$moddir/modules.builtin" ]; then
    while IFS= read -r f; do
      n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
      builtin[$n]=1
    done < "$moddir/modules.builtin"
  fi
  local order=() skipped=()
  # add_module NAME: copy NAME (uncompressed) into the initramfs after its dependencies.
  add_module() {
    local m=${1//-/_} src dst deps d
    [ -z "${seen[$m]:-}" ] || return 0
    seen[$m]=1
    if [ -n "${builtin[$m]:-}" ]; then
      skipped+=("$m"); return 0
    fi
    src=${modfile[$m]:-}
    [ -n "$src" ] || die "module $m is neither built in nor in $kernel_pkg"
    dst=$root/lib/modules/$m.ko
    case $src in
      *.ko) cp "$src" "$dst" ;;
      *.ko.xz) xz -dc "$src" > "$dst" ;;
      *.ko.gz) gzip -dc "$src" > "$dst" ;;
      *.ko.zst) zstd -qdc "$src" > "$dst" ;;
      *) die "unknown module format: $src" ;;
    esac
    deps=$(tr '\0' '\n' < "$dst" | sed -n 's/^depends=//p' | head -n1)
    for d in ${deps//,/ }; do add_module "$d"; done
    order+=("$m")
  }
  for n in "${WANTED_MODULES[@]}"; do add_module "$n"; done
  printf '%s\n' "${order[@]}" > "$root/etc/modules"
  echo "    modules (load order): ${order[*]}"
  [ "${#skipped[@]}" -eq 0 ] || echo "    built in, skipped: ${skipped[*]}"

  write_init > "$root/init"
  chmod 0755 "$root/init"
  cat > "$root/etc/inittab" <<'EOF'
# busybox init, exec'd by /init once the guest is configured: a shell on the console, clean power-off.
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/bin/poweroff
::shutdown:/bin/sync
EOF
  cat > "$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# busybox acpid runs this on the ACPI power button (virsh shutdown): a clean power-off through init.
echo "kvm-crm-guest poweroff (ACPI power button)" > /dev/console
exec /bin/poweroff
EOF
  chmod 0755 "$root/etc/acpi/PWRF/00000080"
  echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
  echo "root:x:0:" > "$root/etc/group"
  echo "$NAME" > "$root/etc/hostname"

  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
    xz --check=crc32 --lzma2=preset=9,dict=1MiB > "$tmp/initrd.xz"
  echo "    initrd.xz $(stat -c %s "$tmp/initrd.xz") bytes, vmlinuz $(stat -c %s "$vmlinuz") bytes"

  step "building the FAT boot partition"
  cat > "$tmp/syslinux.cfg" <<EOF
DEFAULT $NAME
PROMPT 0
TIMEOUT 0
NOESCAPE 1
LABEL $NAME
  LINUX /vmlinuz
  INITRD /initrd.xz
  APPEND $KERNEL_CMDLINE
EOF
  local mib=$((1024 * 1024)) payload part_mib part_sectors
  payload=$(( $(stat -c %s "$vmlinuz") + $(stat -c %s "$tmp/initrd.xz") ))
  part_mib=$(( (payload + mib - 1) / mib + 2 ))   # + room for FAT tables, ldlinux.*, syslinux.cfg
  part_sectors=$(( part_mib * mib / 512 ))
  truncate -s $((part_mib * mib)) "$tmp/part.img"
  mkfs.vfat -F 16 -n KVMCRMTEST -i 4b43524d "$tmp/part.img" >/dev/null
  export MTOOLS_SKIP_CHECK=1
  mcopy -i "$tmp/part.img" "$vmlinuz" ::vmlinuz
  mcopy -i "$tmp/part.img" "$tmp/initrd.xz" ::initrd.xz
  mcopy -i "$tmp/part.img" "$tmp/syslinux.cfg" ::syslinux.cfg
  syslinux --install "$tmp/part.img"

  step "assembling the MBR disk"
  # Layout: sector 0 = syslinux mbr.bin + one partition entry; partition 1 from 1 MiB (sector 2048).
  truncate -s $(( (1 + part_mib) * mib )) "$tmp/disk.raw"
  dd if=/usr/lib/syslinux/mbr/mbr.bin of="$tmp/disk.raw" bs=440 count=1 conv=notrunc status=none
  le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
  # Entry: active (0x80), CHS start "beyond 1024 cylinders" (LBA is used), type 0x0e (FAT16 LBA), CHS end
  # likewise, LBA start, sector count. Then the 0x55AA boot signature.
  # shellcheck disable=SC2059
  printf "\\x80\\xfe\\xff\\xff\\x0e\\xfe\\xff\\xff$(le32 2048)$(le32 "$part_sectors")" |
    dd of="$tmp/disk.raw" bs=1 seek=446 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$tmp/disk.raw" bs=1 seek=510 conv=notrunc status=none
  dd if="$tmp/part.img" of="$tmp/disk.raw" bs=1M seek=1 conv=notrunc status=none

  step "converting to qcow2"
  qemu-img convert -f raw -O qcow2 "$tmp/disk.raw" "$tmp/$NAME.qcow2"

  mkdir -p "$cache_entry.tmp"
  mv "$tmp/$NAME.qcow2" "$cache_entry.tmp/$NAME.qcow2"
  {
    echo "kernel: $kernel_pkg $kernel_pkg_ver"
    echo "busybox-static: $(pkg_ver busybox-static)"
    echo "syslinux: $(pkg_ver syslinux)"
    echo "modules: ${order[*]}"
    echo "cmdline: $KERNEL_CMDLINE"
  } > "$cache_entry.tmp/build-info.txt"
  rm -rf "$cache_entry"
  mv "$cache_entry.tmp" "$cache_entry"
  # Drop cache entries of older builds of this template.
  local old
  for old in "$cache_dir/$NAME"-*; do
    [ "$old" = "$cache_entry" ] || rm -rf "$old"
  done
}

# The guest's /init (busybox sh, PID 1). Kept here so the cache key (this script's hash) covers it.
write_init() {
  cat <<'INIT'
#!/bin/sh
# kvm-crm test guest /init (PID 1, busybox sh). Reads the NoCloud seed (ISO9660 "cidata"), sets hostname and
# addresses, prints ONE "kvm-crm-guest ready ..." (or "kvm-crm-guest error ...") line on the console, then
# hands over to busybox init (console shell; acpid turns the ACPI power button into a clean power-off).
export PATH=/bin
umask 022
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
hostname "$(cat /etc/hostname)"
ip link set lo up

log() { echo "kvm-crm-init: $*"; }

# Start acpid and become busybox init: the guest stays up until powered off.
stay_alive() {
  acpid -c /etc/acpi -l /var/log/acpid.log 2>/dev/null || log "acpid not started"
  exec /bin/init
}
fail() {
  dmesg -n 4
  echo "kvm-crm-guest error $*"
  stay_alive
}

while read -r m; do
  insmod "/lib/modules/$m.ko" || fail "insmod $m failed"
done < /etc/modules

# iso_label DEV: print the ISO9660 volume id of DEV; fail if DEV holds no ISO9660 file system.
iso_label() {
  [ "$(dd if="$1" bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ] || return 1
  dd if="$1" bs=1 skip=32808 count=32 2>/dev/null | sed 's/ *$//'
}

# uptime_s: whole seconds since boot, without forking (process creation is slow under TCG).
uptime_s() { read -r up _ < /proc/uptime; echo "${up%%.*}"; }

# Wait up to ~10 s for the seed: the IDE CD-ROM (sr0) or any block device whose ISO label is cidata.
seed=
deadline=$(( $(uptime_s) + 10 ))
while [ "$(uptime_s)" -lt "$deadline" ]; do
  for d in /dev/sr* /dev/vd* /dev/sd* /dev/hd*; do
    [ -b "$d" ] || continue
    case $(iso_label "$d") in
      cidata|CIDATA) seed=$d; break 2 ;;
    esac
  done
  usleep 200000
done

if [ -z "$seed" ]; then
  dmesg -n 4
  echo "kvm-crm-guest ready hostname=$(hostname) ip=none mac=none seed=missing"
  stay_alive
fi

S=/mnt/seed
mount -t iso9660 -o ro "$seed" "$S" || fail "cannot mount seed $seed"
[ -f "$S/meta-data" ] || fail "seed $seed has no meta-data"

# unquote: trim blanks and CRs, drop one pair of surrounding double or single quotes.
unquote() { sed -e 's/\r$//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"; }

h=$(sed -n 's/^local-hostname:[[:space:]]*//p' "$S/meta-data" | head -n1 | unquote)
if [ -n "$h" ]; then
  case $h in
    *[!A-Za-z0-9.-]*|-*) fail "invalid local-hostname '$h'" ;;
  esac
  hostname "$h" || fail "cannot set hostname '$h'"
  echo "$h" > /etc/hostname
  printf '127.0.0.1 localhost\n127.0.1.1 %s %s\n' "$h" "${h%%.*}" > /etc/hosts
fi

# Parse network-config (v2, the agent's exact layout; 2-space indentation) into lines:
#   iface NAME MAC SETNAME ADDR[,ADDR...] GATEWAY ROUTE[,ROUTE...]   (ROUTE = to@via; "-" when empty)
#   dns ADDR
# shellcheck disable=SC2016 # an awk program: no shell expansion wanted
NC_AWK='
function unq(s) {
  sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
  if (s ~ /^".*"$/ || s ~ /^\047.*\047$/) s = substr(s, 2, length(s) - 2)
  return s
}
function kv(s) { key = s; sub(/:.*$/, "", key); key = unq(key); val = s; if (!sub(/^[^:]*:/, "", val)) val = ""; val = unq(val) }
function list(s, dst,   n, a, i) {   # flow list [a, b] -> comma-separated
  gsub(/^\[|\]$/, "", s); n = split(s, a, ","); for (i = 1; i <= n; i++) if (unq(a[i]) != "") dst = dst (dst == "" ? "" : ",") unq(a[i])
  return dst
}
function endroute() {
  if (rvia != "") {
    if (rto == "default" || rto == "0.0.0.0/0" || rto == "::/0") { if (gw == "") gw = rvia }
    else routes = routes (routes == "" ? "" : ",") rto "@" rvia
  }
  rto = ""; rvia = ""
}
function flush() {
  endroute()
  if (name != "") print "iface", name, (mac == "" ? "-" : mac), (setname == "" ? "-" : setname), (addrs == "" ? "-" : addrs), (gw == "" ? "-" : gw), (routes == "" ? "-" : routes)
  name = ""; mac = ""; setname = ""; addrs = ""; gw = ""; routes = ""; sect = ""; sub6 = ""
}
{ sub(/\r$/, "") }
/^[ \t]*(#.*)?$/ { next }
{ match($0, /^ */); ind = RLENGTH; line = substr($0, ind + 1) }
ind == 0 { flush(); top = line; sub(/:.*$/, "", top); next }
top != "ethernets" { next }
ind == 2 { flush(); kv(line); name = key; next }
ind == 4 {
  endroute(); kv(line); sect = key; sub6 = ""
  if (key == "set-name") setname = val
  else if (key == "gateway4" || key == "gateway6") { if (gw == "") gw = val }
  else if (key == "addresses" && val != "") addrs = list(val, addrs)
  next
}
ind == 6 && sect == "match" { kv(line); if (key == "macaddress") mac = tolower(val); next }
ind == 6 && sect == "addresses" && line ~ /^-/ { a = unq(substr(line, 2)); if (a != "") addrs = addrs (addrs == "" ? "" : ",") a; next }
ind == 6 && sect == "routes" && line ~ /^-/ { endroute(); line = substr(line, 2) }
(ind == 6 || ind == 8) && sect == "routes" { kv(line); if (key == "to") rto = val; else if (key == "via") rvia = val; next }
ind == 6 && sect == "nameservers" { kv(line); sub6 = key; if (key == "addresses" && val != "") { n = split(list(val, ""), d, ","); for (i = 1; i <= n; i++) print "dns", d[i] }; next }
ind == 8 && sect == "nameservers" && sub6 == "addresses" && line ~ /^-/ { print "dns", unq(substr(line, 2)); next }
END { flush() }
'

NC=$S/network-config
parsed=
[ -f "$NC" ] && { parsed=$(awk "$NC_AWK" "$NC") || fail "cannot parse network-config"; }

# dev_by_mac MAC: print the kernel name of the NIC with that MAC (waits up to ~5 s for it to appear).
dev_by_mac() {
  limit=$(( $(uptime_s) + 5 ))
  while :; do
    for n in /sys/class/net/*; do
      read -r addr < "$n/address" 2>/dev/null || continue
      [ "$addr" = "$1" ] && { echo "${n##*/}"; return 0; }
    done
    [ "$(uptime_s)" -lt "$limit" ] || return 1
    usleep 200000
  done
}

# Pass 1: find every interface's NIC and give it a temporary name (so set-name swaps cannot collide).
plan=
k=0
while read -r kind name mac setname addrs gw routes; do
  [ "$kind" = iface ] || continue
  if [ "$mac" != - ]; then
    dev=$(dev_by_mac "$mac") || fail "no NIC with MAC $mac (interface $name)"
  elif [ -e "/sys/class/net/$name" ]; then
    dev=$name
  else
    fail "interface $name has no macaddress and no NIC is named so"
  fi
  [ "$setname" = - ] && setname=$name
  if [ "$dev" != "$setname" ]; then
    ip link set dev "$dev" name "kcrm$k" || fail "cannot rename $dev"
    dev=kcrm$k
  fi
  plan="$plan$dev $setname $mac $addrs $gw $routes
"
  k=$((k + 1))
done <<EOF
$parsed
EOF

# Pass 2: final names, addresses, routes.
ready_ip=
ready_mac=
default_gw=
first_mac=
while read -r dev setname mac addrs gw routes; do
  [ -n "$dev" ] || continue
  if [ "$dev" != "$setname" ]; then
    ip link set dev "$dev" name "$setname" || fail "cannot rename $dev to $setname"
  fi
  dev=$setname
  [ "$mac" = - ] && mac=$(cat "/sys/class/net/$dev/address")
  [ -n "$first_mac" ] || first_mac=$mac
  ip link set dev "$dev" up || fail "cannot bring up $dev"
  if [ "$addrs" != - ]; then
    for a in $(echo "$addrs" | tr , ' '); do
      case $a in
        */*) ;;
        *:*) a=$a/128 ;;
        *) a=$a/32 ;;
      esac
      ip addr add "$a" dev "$dev" || fail "cannot add address $a to $dev"
      if [ -z "$ready_ip" ]; then ready_ip=$a; ready_mac=$mac; fi
    done
  fi
  if [ "$gw" != - ] && [ -z "$default_gw" ]; then
    ip route add default via "$gw" dev "$dev" || fail "cannot add default route via $gw on $dev"
    default_gw=$gw
  fi
  if [ "$routes" != - ]; then
    for r in $(echo "$routes" | tr , ' '); do
      ip route add "${r%@*}" via "${r#*@}" dev "$dev" || fail "cannot add route $r on $dev"
    done
  fi
done <<EOF
$plan
EOF

echo "$parsed" | sed -n 's/^dns /nameserver /p' > /etc/resolv.conf

# SSH keys of user-data (the agent writes each as one double-quoted list item, `- "<type> <base64> [comment]"`):
# one line per distinct key with its fingerprint, SHA256: + unpadded base64 of the SHA-256 of the key blob.
key_lines=
if [ -f "$S/user-data" ]; then
  key_lines=$(sed -nE 's/^[[:space:]]*- "((ssh-|ecdsa-|sk-)[^"]*)"[[:space:]]*$/\1/p' "$S/user-data" | awk '!seen[$0]++' |
    while read -r ktype kb64 kcomment; do
      fp=$(echo "$kb64" | base64 -d 2>/dev/null | sha256sum | cut -c1-64 | xxd -r -p | base64 | tr -d '=')
      echo "kvm-crm-guest key SHA256:$fp $ktype ${kcomment:--}"
    done)
fi

if [ -z "$first_mac" ]; then
  for n in /sys/class/net/*; do
    [ "${n##*/}" = lo ] && continue
    first_mac=$(cat "$n/address"); break
  done
fi
umount "$S" 2>/dev/null

# Keep later kernel messages (info level) from interleaving with the ready line on the serial console.
dmesg -n 4
disks=
for b in /sys/block/vd*; do
  [ -f "$b/size" ] || continue
  read -r sectors < "$b/size"
  disks="$disks ${b##*/}=$((sectors / 2048))"
done
echo "kvm-crm-guest disks${disks:- none}"
[ -z "$key_lines" ] || echo "$key_lines"
if [ -n "$ready_ip" ]; then
  echo "kvm-crm-guest ready hostname=$(hostname) ip=$ready_ip mac=$ready_mac"
else
  echo "kvm-crm-guest ready hostname=$(hostname) ip=none mac=${first_mac:-none}"
fi
stay_alive
INIT
}

# --- build (or reuse) --------------------------------------------------------------------------------------
if [ -f "$cached_qcow2" ]; then
  step "cache hit: $cached_qcow2"
else
  step "cache miss: building into $cache_entry"
  build
fi

# --- install into the catalogue ----------------------------------------------------------------------------
step "installing into $catalogue/$NAME"
dest=$catalogue/$NAME
mkdir -p "$dest"
if cmp -s "$cached_qcow2" "$dest/$NAME.qcow2"; then
  echo "    $dest/$NAME.qcow2 is already up to date"
else
  [ ! -e "$dest/$NAME.qcow2" ] || echo "    replacing $dest/$NAME.qcow2 (VM overlays based on the old one will break)"
  cp "$cached_qcow2" "$dest/.$NAME.qcow2.tmp"
  mv -f "$dest/.$NAME.qcow2.tmp" "$dest/$NAME.qcow2"
fi
cat > "$dest/.template.json.tmp" <<EOF
{"name":"$NAME","disk":"$NAME.qcow2","format":"qcow2","operatingSystemType":"GNU/Linux","operatingSystemDistribution":"Debian","operatingSystemVersion":"12","minMemoryMiB":96,"description":"kvm-crm test guest: Debian cloud kernel + busybox initramfs; reads the cidata seed and prints a ready line on ttyS0"}
EOF
mv -f "$dest/.template.json.tmp" "$dest/template.json"

step "done"
echo "    total $(elapsed "$T_START"): $dest/$NAME.qcow2 ($(stat -c %s "$dest/$NAME.qcow2") bytes), $dest/template.json"
