#!/usr/bin/env bash
# README command 2: installs and starts what the tests need (Debian packages, virtlogd + libvirtd, /dev/kvm
# permissions, a MariaDB server with a test user: every DB test runs on SQLite and on MariaDB), builds, then runs
# every test in one `node --test` run: unit tests of the three packages and the end-to-end tests on real libvirt
# (they build the test template on first use, then take it from .cache/), then the benchmarks in quick mode.
# With KVMCRM_TEST_MYSQL_URL=mysql://user:pw@host:port set, that server is used and no MariaDB is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
bash scripts/setup-mariadb.sh
export KVMCRM_TEST_REQUIRE_MYSQL=1   # MariaDB is up: a [mysql] test that cannot reach it fails instead of skipping
bash scripts/build.sh
echo "==> node --test"
node --test --test-concurrency=1 --test-timeout=900000 \
  packages/shared/dist-test/ packages/vt-manager/dist-test/ packages/oxad-agent/dist-test/ test/dist/ \
  bench/dist/results-history.test.js
# The benchmarks with small sizes (a few minutes), so their code cannot rot; writes test-output/bench-quick.md,
# never bench/RESULTS.md (`npm run bench` runs the full sizes, not in CI).
echo "==> node bench/dist/run-all.js --quick"
node bench/dist/run-all.js --quick
