#!/usr/bin/env bash
# Installs the npm dependencies (npm ci, when node_modules is missing or older than package-lock.json) and
# compiles every TypeScript project (tsc -b), then builds the web dashboard (Vite). Needs Node 20 with npm; better-sqlite3 compiles from source
# (~80 s, needs python3, make and g++: installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/apt-deps.sh
source scripts/lib/apt-deps.sh

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("Node >= 20.19 is required, found "+process.versions.node); process.exit(1) }'
ensure_apt_packages python3 make g++

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi
echo "==> tsc -b"
npx tsc -b
echo "==> dashboard (vite build into packages/dashboard/dist, served by the manager at /ui/)"
npm run build --silent -w @kvm-crm/dashboard
