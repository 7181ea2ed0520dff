#!/usr/bin/env bash
# README command 1: installs what is missing (Debian packages, npm packages), starts libvirtd, builds, then runs
# the demo (scripts/src/demo.ts): manager and agent as processes, host and pools registered with vtctl, a VM
# created, started, shown booted, stopped and deleted through the OCF API.
#   bash scripts/demo.sh           run it and leave nothing behind
#   bash scripts/demo.sh --keep    leave the manager, the agent and the running VM up
#   bash scripts/demo.sh --down    stop and remove what --keep left
#   bash scripts/demo.sh --hosts 3 [--keep]
#                                  three hosts, each an agent in its own network namespace with its own address,
#                                  against one manager; a VM created on each and shown booted (decision 018)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" != "--down" ]]; then
  echo "==> preparing the host (packages, libvirtd)"
  bash scripts/setup-host.sh
  bash scripts/build.sh
fi
exec node scripts/dist/demo.js "$@"
