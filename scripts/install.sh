#!/usr/bin/env bash
# Installs one kvm-crm daemon on a Debian 12 host as a systemd service (issue #13, decision record 030):
#
#   scripts/install.sh manager|agent [--prefix /opt/kvm-crm] [--root DIR] [--node /usr/bin/node]
#
# From a built work tree (bash scripts/build.sh), it installs
#   - the Debian packages the daemon needs (only when --root is /);
#   - the built daemon under <root><prefix>: packages/<pkg>/{package.json,dist} for shared and the daemon (and
#     packages/dashboard/dist for the manager when it was built), the production node_modules only, and for the
#     manager <prefix>/bin/vtctl;
#   - config skeletons in <root>/etc/kvm-crm/ (mode 0600, never overwritten): <daemon>.json with TODO values to fill,
#     <daemon>.env for KVMCRM_… variables (secrets), an empty certs/ folder;
#   - the unit into <root>/etc/systemd/system/ (with the node and prefix paths rewritten), the sysusers.d (manager)
#     or tmpfiles.d (agent) snippet into <root>/etc/;
#   - the system user kvm-crm (manager; skipped with a message when --root is not /),
# then prints the next steps. Idempotent: a second run changes nothing and prints the same tree digest.
#
# Node.js: the daemons need Node >= 20.19 and Debian 12's nodejs is 18, so nothing is installed from Debian: the
# node given by --node (default: the one on PATH) must be >= 20.19 and is what the unit runs. better-sqlite3 is
# compiled for the node of the build machine: use the same major version on the host. See README "Install on a host".
#
# Output: one line per step, "ok: …" (nothing to do), "did: …" (changed something), "skipped: …", "error: …".
set -euo pipefail
export LC_ALL=C

REPO="$(cd "$(dirname "$0")/.." && pwd)"
log() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }
usage() { printf 'usage: %s manager|agent [--prefix /opt/kvm-crm] [--root DIR] [--node PATH]\n' "$0" >&2; exit 2; }

# --- arguments ----------------------------------------------------------------------------------------------
ROLE="${1:-}"
[[ "$ROLE" == manager || "$ROLE" == agent ]] || { [[ -n "$ROLE" ]] && printf 'error: role must be manager or agent, not "%s"\n' "$ROLE" >&2; usage; }
shift
PREFIX=/opt/kvm-crm
ROOT=/
NODE="$(command -v node || true)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix|--root|--node)
      [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"
      case "$1" in --prefix) PREFIX="$2" ;; --root) ROOT="$2" ;; --node) NODE="$2" ;; esac
      shift 2 ;;
    -h|--help) usage ;;
    *) die "unknown argument \"$1\"" ;;
  esac
done

# A path we write to or delete in: absolute, only [A-Za-z0-9._/-], no empty, "." or ".." component, no trailing /.
check_path() { # $1 = option name, $2 = value
  local v="$2"
  [[ "$v" == /* ]] || die "$1 must be an absolute path: \"$v\""
  [[ "$v" =~ ^[A-Za-z0-9._/-]+$ ]] || die "$1 may hold only letters, digits and . _ / -: \"$v\""
  [[ "$v" == / ]] && return 0
  [[ "$v" != */ && "$v" != *//* ]] || die "$1 must not end in / or hold //: \"$v\""
  [[ "/$v/" != */./* && "/$v/" != */../* ]] || die "$1 must not hold . or .. components: \"$v\""
}
check_path --prefix "$PREFIX"
check_path --root "$ROOT"
[[ -n "$NODE" ]] || die "no node on PATH: install Node >= 20.19 (Debian 12's nodejs is 18; see README \"Install on a host\") or pass --node PATH"
check_path --node "$NODE"
case "$PREFIX" in
  /|/bin|/boot|/dev|/etc|/home|/lib|/lib32|/lib64|/media|/mnt|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/*bin|/usr/lib*|/usr/local|/usr/share|/var|/var/lib)
    die "--prefix $PREFIX is a system folder: give a folder of its own, e.g. /opt/kvm-crm" ;;
esac
[[ -d "$ROOT" ]] || die "--root $ROOT is not an existing folder"
if [[ "$ROOT" == / && "$(id -u)" -ne 0 ]]; then die "installing into / needs root"; fi
[[ -x "$NODE" ]] || die "no Node.js at \"$NODE\": install Node >= 20.19 (Debian 12's nodejs is 18; see README \"Install on a host\") or pass --node PATH"
[[ "$NODE" != /root/* && "$NODE" != /home/* ]] || die "--node $NODE is under a home folder, which the units hide (ProtectHome=yes): install Node system-wide, e.g. /usr/local/bin/node"
if ! "$NODE" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  die "Node $("$NODE" --version) at $NODE is too old: kvm-crm needs >= 20.19 (Debian 12's nodejs is 18; see README \"Install on a host\")"
fi

R="${ROOT%/}"                 # "" for /
DEST="$R$PREFIX"
ETC="$R/etc/kvm-crm"
if [[ "$ROLE" == manager ]]; then PKG=vt-manager; CONF=manager; else PKG=oxad-agent; CONF=agent; fi
UNIT="kvm-crm-$ROLE.service"
for p in shared "$PKG"; do
  [[ -f "$REPO/packages/$p/dist/index.js" ]] || die "packages/$p/dist is missing: build first (bash scripts/build.sh)"
done
# never sync into a folder we did not make: it must be new, empty, or carry our marker
MARKER=.kvm-crm-install
if [[ -e "$DEST" && ! -e "$DEST/$MARKER" ]] && [[ -n "$(ls -A "$DEST" 2>/dev/null)" ]]; then
  die "$DEST exists, is not empty and was not made by this installer (no $MARKER): refusing to write into it"
fi

# shellcheck source=lib/apt-deps.sh
source "$REPO/scripts/lib/apt-deps.sh"

# --- 1. system packages -----------------------------------------------------------------------------------------
# manager: xmlsec1 (GENI credential signatures, decision 023); agent: qemu, qemu-img, libvirt and virsh, genisoimage
# (cloud-init seeds), dnsmasq-base (libvirt's default network), python3-libvirt (the agent's held-open libvirt
# connection, decision 041); both: rsync (this installer's copy).
if [[ "$ROLE" == manager ]]; then APT=(xmlsec1 ca-certificates); else APT=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients genisoimage dnsmasq-base iproute2 python3-libvirt); fi
if [[ -z "$R" ]]; then
  ensure_apt_packages rsync
else
  command -v rsync >/dev/null || die "rsync is needed for the copy; install it (apt-get install rsync): with --root other than / this installer installs no packages"
fi
if [[ -z "$R" ]]; then
  missing=()
  for p in "${APT[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [[ ${#missing[@]} -eq 0 ]]; then log "ok: packages installed (${APT[*]})"; else ensure_apt_packages "${APT[@]}"; log "did: installed ${missing[*]}"; fi
else
  log "skipped: Debian packages (${APT[*]}): installed only when --root is /"
fi

# --- 2. the daemon under <root><prefix> ----------------------------------------------------------------------------
STAGE="$(mktemp -d /tmp/kvmcrm-install.XXXXXX)"
trap 'rm -rf -- "$STAGE"' EXIT
PKGS=(shared "$PKG")
[[ "$ROLE" == manager && -d "$REPO/packages/dashboard/dist" ]] && PKGS+=(dashboard)
mkdir -p "$STAGE/packages" "$STAGE/node_modules/@kvm-crm"
for p in "${PKGS[@]}"; do
  mkdir -p "$STAGE/packages/$p"
  cp -p "$REPO/packages/$p/package.json" "$STAGE/packages/$p/"
  cp -a "$REPO/packages/$p/dist" "$STAGE/packages/$p/"
  # the agent's libvirt connection helper (decision 041), beside dist/
  [[ -d "$REPO/packages/$p/libexec" ]] && cp -a "$REPO/packages/$p/libexec" "$STAGE/packages/$p/"
  ln -s "../../packages/$p" "$STAGE/node_modules/@kvm-crm/$p"
done
# production dependencies of the installed workspaces, as npm resolved them in the build tree (each top-level
# package folder once, nested node_modules included)
ws=(); for p in "${PKGS[@]}"; do [[ "$p" == dashboard ]] || ws+=(-w "packages/$p"); done
deps="$(cd "$REPO" && npm ls --all --parseable --omit=dev "${ws[@]}" 2>/dev/null | sed -n "s#^$REPO/##p" \
  | awk -F/ '$1=="node_modules" { if ($2 ~ /^@/) print $1"/"$2"/"$3; else print $1"/"$2 }
             $1=="packages" && $3=="node_modules" { if ($4 ~ /^@/) print $1"/"$2"/"$3"/"$4"/"$5; else print $1"/"$2"/"$3"/"$4 }' \
  | grep -v '^node_modules/@kvm-crm/' | sort -u)"
[[ -n "$deps" ]] || die "npm ls listed no production dependencies: is node_modules installed (npm ci)?"
while IFS= read -r d; do
  [[ -d "$REPO/$d" ]] || die "dependency folder $d is missing in the build tree"
  mkdir -p "$STAGE/$(dirname "$d")"
  cp -a "$REPO/$d" "$STAGE/$d"
done <<<"$deps"
# declarations and build info are not needed at run time
find "$STAGE/packages" \( -name '*.d.ts' -o -name '*.d.ts.map' -o -name '.tsbuildinfo' \) -delete
rm -rf "$STAGE/node_modules/.bin"
# better-sqlite3 ships its C sources and build intermediates (~26 MiB): only lib/ and the compiled addon are used
bs="$STAGE/node_modules/better-sqlite3"
if [[ -f "$bs/build/Release/better_sqlite3.node" ]]; then
  mv "$bs/build/Release/better_sqlite3.node" "$STAGE/better_sqlite3.node"
  rm -rf "$bs/build" "$bs/deps" "$bs/src"
  mkdir -p "$bs/build/Release"
  mv "$STAGE/better_sqlite3.node" "$bs/build/Release/"
fi

# -O -J: folder and link times are not compared (the staging folders are new at each run)
RSYNC=(rsync -a -O -J --delete --itemize-changes --chmod=D755,Fgo-w)
[[ "$(id -u)" -eq 0 ]] && RSYNC+=(--chown=0:0)
if [[ ! -d "$DEST" ]]; then install -d -m 0755 "$DEST"; log "did: created $DEST"; fi
[[ -e "$DEST/$MARKER" ]] || { printf 'installed by kvm-crm scripts/install.sh; the installer replaces packages/, node_modules/ and bin/ here\n' >"$DEST/$MARKER"; chmod 0644 "$DEST/$MARKER"; }
changed=0
for sub in packages node_modules; do
  n="$("${RSYNC[@]}" "$STAGE/$sub/" "$DEST/$sub/" | wc -l)"
  changed=$((changed + n))
done
if [[ "$ROLE" == manager ]]; then
  mkdir -p "$STAGE/bin"
  printf '#!/bin/sh\n# vtctl, the kvm-crm admin CLI (installed by scripts/install.sh)\nexec %s %s/packages/vt-manager/dist/vtctl.js "$@"\n' "$NODE" "$PREFIX" >"$STAGE/bin/vtctl"
  chmod 0755 "$STAGE/bin/vtctl"
  touch -r "$REPO/packages/vt-manager/package.json" "$STAGE/bin/vtctl"   # a stable time: unchanged at the next run
  n="$("${RSYNC[@]}" "$STAGE/bin/" "$DEST/bin/" | wc -l)"
  changed=$((changed + n))
fi
if [[ "$changed" -eq 0 ]]; then log "ok: $DEST up to date (${PKGS[*]} and their production node_modules)"; else log "did: $changed changes under $DEST (${PKGS[*]} and their production node_modules)"; fi

# --- 3. config skeletons (never overwritten) ------------------------------------------------------------------------
put_file() { # $1 = target, $2 = mode, $3 = description; content on stdin; kept when present; never through a symlink
  if [[ -L "$1" ]]; then cat >/dev/null; die "refusing to write $3 $1: it is a symbolic link (secrets are written only to a new regular file; remove the link or replace it by the file)"; fi
  if [[ -e "$1" ]]; then cat >/dev/null; log "ok: kept existing $1"; return 0; fi
  (umask 077; set -o noclobber; cat >"$1") # noclobber: O_EXCL, so a link or file appearing meanwhile is not followed
  chmod "$2" "$1"
  log "did: wrote $3 $1 (mode $2)"
}
random_secret() { head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=' | head -c 32; }
[[ -d "$ETC" ]] || { install -d -m 0755 "$ETC"; log "did: created $ETC"; }
[[ -d "$ETC/certs" ]] || { install -d -m 0755 "$ETC/certs"; log "did: created $ETC/certs"; }
if [[ "$ROLE" == manager ]]; then
  put_file "$ETC/manager.json" 0600 "config skeleton" <<EOF
{
  "listen": { "host": "0.0.0.0", "port": 8445 },
  "publicUrl": "TODO https://<this host's DNS name, in the manager certificate>:8445",
  "tls": { "caFile": "certs/ca.crt", "certFile": "certs/manager.crt", "keyFile": "certs/manager.key", "crlFile": "certs/crl.pem" },
  "database": { "type": "sqlite", "path": "/var/lib/kvm-crm-manager/manager.sqlite" },
  "secretsKeyFile": "/var/lib/kvm-crm-manager/secrets.key",
  "users": [{ "name": "admin", "passwordScrypt": "TODO the output of: echo -n <password> | $PREFIX/bin/vtctl hash-password", "roles": ["admin"] }],
  "agentCallback": { "user": "agents", "password": "$(random_secret)" },
  "logFormat": "json"
}
EOF
else
  put_file "$ETC/agent.json" 0600 "config skeleton" <<EOF
{
  "listen": { "host": "0.0.0.0", "port": 9229 },
  "tls": { "caFile": "certs/ca.crt", "certFile": "certs/agent.crt", "keyFile": "certs/agent.key", "crlFile": "certs/crl.pem" },
  "password": "$(random_secret)",
  "storageRoot": "/var/lib/kvm-crm",
  "eventsUrl": "TODO https://agents:<agentCallback.password of manager.json>@<manager host>:8445/xmlrpc/agent",
  "logFormat": "json"
}
EOF
fi
put_file "$ETC/$CONF.env" 0600 "environment skeleton" <<EOF
# KVMCRM_… variables for $UNIT (EnvironmentFile=), laid over $CONF.json; names in docs/configuration.md.
# Keep secrets here rather than in the JSON file, e.g.:
# KVMCRM_DATABASE__PASSWORD=…   (manager, with database.type mysql)
# KVMCRM_PASSWORD=…             (agent: the OCF agent password)
EOF

# --- 4. unit, sysusers.d / tmpfiles.d snippets ---------------------------------------------------------------------------
put_managed() { # $1 = source, $2 = target; rewritten paths; replaced only when different
  local tmp="$STAGE/managed"
  sed -e "s#/opt/kvm-crm/#$PREFIX/#g" -e "s#^ExecStart=/usr/bin/node #ExecStart=$NODE #" "$1" >"$tmp"
  if [[ -f "$2" ]] && cmp -s "$tmp" "$2"; then log "ok: $2 up to date"; return 0; fi
  install -D -m 0644 "$tmp" "$2"
  log "did: installed $2"
}
put_managed "$REPO/deploy/systemd/$UNIT" "$R/etc/systemd/system/$UNIT"
if [[ "$ROLE" == manager ]]; then
  put_managed "$REPO/deploy/systemd/kvm-crm.sysusers.conf" "$R/etc/sysusers.d/kvm-crm.conf"
else
  put_managed "$REPO/deploy/systemd/kvm-crm-agent.tmpfiles.conf" "$R/etc/tmpfiles.d/kvm-crm-agent.conf"
fi

# --- 5. user, ownership, folders ----------------------------------------------------------------------------------------
if [[ -n "$R" ]]; then
  log "skipped: system user kvm-crm, ownership and systemd-tmpfiles: only when --root is / (here $ROOT)"
elif [[ "$ROLE" == manager ]]; then
  if getent passwd kvm-crm >/dev/null; then log "ok: user kvm-crm exists"; else systemd-sysusers /etc/sysusers.d/kvm-crm.conf; log "did: created system user kvm-crm"; fi
  for f in "$ETC/manager.json" "$ETC/manager.env"; do
    if [[ "$(stat -c %U "$f")" == kvm-crm ]]; then log "ok: $f owned by kvm-crm"; else chown kvm-crm:kvm-crm "$f"; log "did: $f owned by kvm-crm"; fi
  done
  if [[ -d /var/lib/kvm-crm-manager ]]; then log "ok: /var/lib/kvm-crm-manager exists"; else install -d -m 0750 -o kvm-crm -g kvm-crm /var/lib/kvm-crm-manager; log "did: created /var/lib/kvm-crm-manager"; fi
else
  if [[ -d /var/lib/kvm-crm ]]; then log "ok: /var/lib/kvm-crm exists"; else systemd-tmpfiles --create /etc/tmpfiles.d/kvm-crm-agent.conf; log "did: created /var/lib/kvm-crm"; fi
fi
if [[ -z "$R" ]] && [[ -d /run/systemd/system ]]; then systemctl daemon-reload; log "did: systemctl daemon-reload"; fi

# --- 6. digest and next steps ------------------------------------------------------------------------------------------------
digest="$(cd "$R/" && find "${DEST#"$R"/}" "etc/kvm-crm" "etc/systemd/system/$UNIT" -printf '%p %y %m %U %G %s %l\n' 2>/dev/null | sort | sha256sum | cut -c1-16)"
content="$(cd "$R/" && find "${DEST#"$R"/}" "etc/systemd/system/$UNIT" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
log "tree digest: $digest (metadata) $content (contents)"
log ""
log "next steps ($ROLE):"
if [[ "$ROLE" == manager ]]; then
  cat <<EOF
  1. certificates (keep the CA folder off the host or root-only):
       $PREFIX/bin/vtctl certs init --dir /root/kvm-crm-ca --manager-dns <this host's DNS name> --agent kvm1=<agent IP>
       install -o kvm-crm -g kvm-crm -m 0600 /root/kvm-crm-ca/{ca.crt,crl.pem,manager.crt,manager.key} /etc/kvm-crm/certs/
  2. fill the TODO values of /etc/kvm-crm/manager.json (secrets may go to /etc/kvm-crm/manager.env, docs/configuration.md)
  3. systemctl enable --now $UNIT;  journalctl -u $UNIT
  4. register each agent host:
       KVMCRM_ADMIN_URL=https://<host>:8445/xmlrpc/admin KVMCRM_ADMIN_USER=admin KVMCRM_CA_FILE=/etc/kvm-crm/certs/ca.crt \\
       $PREFIX/bin/vtctl server add kvm1 --agent-url https://<agent IP>:9229/ --agent-password-file <file with its agent.json password> --bridge br-mgmt
EOF
else
  cat <<EOF
  1. certificates from the manager's CA folder (vtctl certs init|issue --agent <name>=<IP>):
       install -m 0600 ca.crt crl.pem /etc/kvm-crm/certs/; install -m 0600 agent-<name>.crt /etc/kvm-crm/certs/agent.crt
       install -m 0600 agent-<name>.key /etc/kvm-crm/certs/agent.key
  2. fill the TODO values of /etc/kvm-crm/agent.json (eventsUrl: the manager's agentCallback credentials)
  3. systemctl enable --now $UNIT;  journalctl -u $UNIT
  4. on the manager: vtctl server add <name> --agent-url https://<this host>:9229/ --agent-password-file <file with agent.json's password> --bridge <bridge>
EOF
fi
