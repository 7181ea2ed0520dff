#!/usr/bin/env bash
# Makes a MariaDB server available to the tests (every DB test runs on SQLite and on MySQL/MariaDB,
# docs/architecture.md decision 8) and writes the connection settings the tests read.
#
#   1. KVMCRM_TEST_MYSQL_URL set (e.g. by CI, mysql://user:pw@host:port): nothing to do, the tests use it.
#   2. A server already answers on /run/mysqld/mysqld.sock or 127.0.0.1:3306: it is used as it is.
#      Otherwise `mariadb-server` is installed (apt-get update + install, only when missing) and mariadbd is
#      started with start-stop-daemon (no init system runs on the test machines): in the background, bound to
#      127.0.0.1:3306, pid file /run/mysqld/mysqld.pid, errors in /var/log/mysql/error.log.
#   3. A user `kvmcrm_test` (@localhost and @127.0.0.1) with a random password and every right on the databases
#      named `kvmcrm_test_%` only is created (or its password reset), through root's unix-socket login.
#   4. The settings go to $KVMCRM_TEST_MYSQL_CONFIG (default /var/lib/kvm-crm-test/mariadb.json, mode 0600):
#      {"host","port","username","password"}. The tests create `kvmcrm_test_<random>` databases and drop them.
#
# Idempotent; prints "ok: …" when nothing had to be done and "did: …" when it changed something. Run as root.
# Stop the server it started with:
#   start-stop-daemon --stop --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd --retry 30
set -euo pipefail

CONFIG_FILE="${KVMCRM_TEST_MYSQL_CONFIG:-/var/lib/kvm-crm-test/mariadb.json}"
TEST_USER=kvmcrm_test
RUN_DIR=/run/mysqld
SOCKET="$RUN_DIR/mysqld.sock"
PID_FILE="$RUN_DIR/mysqld.pid"
export DEBIAN_FRONTEND=noninteractive
started_at=$(date +%s.%N)

log() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$started_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

if [[ -n "${KVMCRM_TEST_MYSQL_URL:-}" ]]; then
  log "ok: KVMCRM_TEST_MYSQL_URL is set; the tests use that server"
  exit 0
fi
[[ "$(id -u)" -eq 0 ]] || die "setup-mariadb.sh must run as root (or set KVMCRM_TEST_MYSQL_URL to a MySQL/MariaDB the tests may use)"

tcp_open() { (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; }
socket_answers() { [[ -S "$SOCKET" ]] && command -v mariadb-admin >/dev/null && mariadb-admin --protocol=socket --socket="$SOCKET" -uroot ping >/dev/null 2>&1; }
reachable() { socket_answers || tcp_open; }

# --- 1. a running server -----------------------------------------------------------------------------------
if reachable; then
  log "ok: a MySQL/MariaDB server answers (socket $SOCKET or 127.0.0.1:3306)"
else
  if ! dpkg-query -W -f='${Status}' mariadb-server 2>/dev/null | grep -q 'install ok installed'; then
    log "did: installing mariadb-server (apt-get)"
    apt-get update -qq
    # policy-rc.d: the package's postinst must not try to start a server through an init system that is not there.
    policy_added=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && policy_added=1
    fi
    apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null
    if [[ $policy_added -eq 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
    log "    installed in $(elapsed) s"
  else
    log "ok: mariadb-server is installed"
  fi
  if [[ ! -d /var/lib/mysql/mysql ]]; then
    log "did: initialising /var/lib/mysql"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  fi
  install -d -o mysql -g mysql -m 0755 "$RUN_DIR"
  install -d -o mysql -g adm -m 2750 /var/log/mysql
  start-stop-daemon --start --quiet --background --pidfile "$PID_FILE" --exec /usr/sbin/mariadbd -- \
    --user=mysql --bind-address=127.0.0.1 --port=3306 --socket="$SOCKET" --pid-file="$PID_FILE" \
    --log-error=/var/log/mysql/error.log
  for _ in $(seq 1 300); do
    socket_answers && break
    sleep 0.1
  done
  socket_answers || die "mariadbd did not accept connections within 30 s; see /var/log/mysql/error.log"
  log "did: started mariadbd (pid $(cat "$PID_FILE" 2>/dev/null || echo '?'), 127.0.0.1:3306, $SOCKET) after $(elapsed) s"
fi

# --- 2. the test user and the settings file ------------------------------------------------------------------
root_sql() { mariadb --protocol=socket --socket="$SOCKET" -uroot --batch --skip-column-names -e "$1"; }
settings_work() {
  [[ -s "$CONFIG_FILE" ]] || return 1
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const a = ["-h", s.host, "-P", String(s.port), "-u", s.username, "-e", "SELECT 1"];
    const r = require("child_process").spawnSync("mariadb", a, { env: { ...process.env, MYSQL_PWD: s.password }, stdio: "ignore" });
    process.exit(r.status === 0 ? 0 : 1);
  ' "$CONFIG_FILE" 2>/dev/null
}

if settings_work; then
  log "ok: $CONFIG_FILE works (user $TEST_USER)"
else
  socket_answers || die "a server answers on 127.0.0.1:3306 but not as root on $SOCKET: cannot create the test user there; set KVMCRM_TEST_MYSQL_URL instead"
  password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
  for host in localhost 127.0.0.1; do
    root_sql "CREATE USER IF NOT EXISTS '$TEST_USER'@'$host' IDENTIFIED BY '$password';
              ALTER USER '$TEST_USER'@'$host' IDENTIFIED BY '$password';
              GRANT ALL PRIVILEGES ON \`kvmcrm\\_test\\_%\`.* TO '$TEST_USER'@'$host';"
  done
  install -d -m 0700 "$(dirname "$CONFIG_FILE")"
  umask 077
  printf '{"host":"127.0.0.1","port":3306,"username":"%s","password":"%s"}\n' "$TEST_USER" "$password" >"$CONFIG_FILE.tmp"
  chmod 0600 "$CONFIG_FILE.tmp"
  mv "$CONFIG_FILE.tmp" "$CONFIG_FILE"
  settings_work || die "the new settings in $CONFIG_FILE do not work"
  log "did: user $TEST_USER (rights on kvmcrm_test_% databases) written to $CONFIG_FILE"
fi
log "ok: MariaDB ready for the tests after $(elapsed) s"
