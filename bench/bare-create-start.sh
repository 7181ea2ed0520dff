#!/usr/bin/env bash
# The bare baseline of the create+start benchmark: the same work the agent does, by hand, with no manager, no
# agent and no protocol. Arguments: TEMPLATE_QCOW2 VM_DIR (holding seed/ with the seed files and domain.xml)
# [SIZE_MIB] (the overlay's virtual size, as the agent makes it from hd-size-mb; default: the template's).
# Prints "started <ms>" when `virsh start` has returned, measured from the script's own start.
set -euo pipefail
t0=$(date +%s%N)
template=$1 dir=$2 size=${3:-}
qemu-img create -q -f qcow2 -b "$template" -F qcow2 "$dir/disk.qcow2" ${size:+"${size}M"}
genisoimage -quiet -output "$dir/seed.iso" -volid cidata -joliet -rock "$dir/seed"
virsh -q -c qemu:///system define "$dir/domain.xml" >/dev/null
name=$(sed -n 's:.*<name>\(.*\)</name>.*:\1:p' "$dir/domain.xml" | head -1)
virsh -q -c qemu:///system start "$name" >/dev/null
echo "started $(( ($(date +%s%N) - t0) / 1000000 ))"
