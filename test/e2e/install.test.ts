/**
 * scripts/install.sh (issue #13 "Install on a real host", decision record 030) into a scratch root, for both
 * roles: every installed file is checked (modes, owners, no dev dependencies, the installed code loads and the
 * manager's migrations run from it), the unit passes `systemd-analyze verify` without a warning, the config
 * skeleton validates against the daemon's zod schema once its TODO values are filled, a second run leaves the tree
 * byte- and time-identical, and hostile arguments are refused without touching anything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { hashPassword } from '@kvm-crm/shared';
import { REPO_ROOT } from '@kvm-crm/harness';
import { loadManagerOptions, MANAGER_NODE_FLAGS } from '@kvm-crm/vt-manager';
import { AGENT_NODE_FLAGS } from '@kvm-crm/oxad-agent';
import { loadAgentOptions } from '@kvm-crm/oxad-agent';

const INSTALL = path.join(REPO_ROOT, 'scripts/install.sh');
const PREFIX = '/opt/kvm-crm';

interface Entry { type: string; mode: number; uid: number; gid: number; size: number; mtimeMs: number; sha256?: string; link?: string }

/** Every entry under `root`: type, mode, owner, size, mtime and content hash (or link target). */
function snapshot(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = lstatSync(p);
      const e: Entry = { type: st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs };
      if (st.isSymbolicLink()) e.link = readlinkSync(p);
      else if (st.isFile()) e.sha256 = createHash('sha256').update(readFileSync(p)).digest('hex');
      out.set(path.relative(root, p), e);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** Paths of the string values starting with "TODO" in a parsed JSON value (`users.0.passwordScrypt`). */
function todoPaths(v: unknown, at: string[] = []): string[] {
  if (typeof v === 'string') return v.startsWith('TODO') ? [at.join('.')] : [];
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => todoPaths(x, [...at, k]));
  return [];
}

/** Sets `value` at the dotted `key` of `obj`. */
function setAt(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = obj as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

const run = (args: string[]) => execa('bash', [INSTALL, ...args], { reject: false, timeout: 300_000, stdin: 'ignore' });

/** `systemd-analyze verify` of one unit file: must pass with nothing on stderr (unknown keys are only warnings). */
async function verifyUnit(file: string): Promise<void> {
  const r = await execa('systemd-analyze', ['verify', file], { reject: false, timeout: 60_000 });
  assert.equal(r.exitCode, 0, `systemd-analyze verify ${file}: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `systemd-analyze verify ${file} warned: ${r.stderr}`);
}

describe('scripts/install.sh into a scratch root', { skip: process.getuid?.() !== 0 ? 'needs root (chown to root, as CI)' : false }, () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'kvmcrm-install-test-'));
  });
  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('the units in deploy/systemd pass systemd-analyze verify without a warning', async () => {
    await verifyUnit(path.join(REPO_ROOT, 'deploy/systemd/kvm-crm-manager.service'));
    await verifyUnit(path.join(REPO_ROOT, 'deploy/systemd/kvm-crm-agent.service'));
    const agentExec = /^ExecStart=(.*)$/m.exec(readFileSync(path.join(REPO_ROOT, 'deploy/systemd/kvm-crm-agent.service'), 'utf8'))?.[1] ?? '';
    assert.equal(agentExec.split(' ').slice(1, 1 + AGENT_NODE_FLAGS.length).join(' '), AGENT_NODE_FLAGS.join(' '), 'the agent unit starts node with AGENT_NODE_FLAGS');
    const managerExec = /^ExecStart=(.*)$/m.exec(readFileSync(path.join(REPO_ROOT, 'deploy/systemd/kvm-crm-manager.service'), 'utf8'))?.[1] ?? '';
    assert.equal(managerExec.split(' ').slice(1, 1 + MANAGER_NODE_FLAGS.length).join(' '), MANAGER_NODE_FLAGS.join(' '), 'the manager unit starts node with MANAGER_NODE_FLAGS');
    // the check is real: a misspelt key and a missing program are reported
    const bad = path.join(scratch, 'bad.service');
    writeFileSync(bad, readFileSync(path.join(REPO_ROOT, 'deploy/systemd/kvm-crm-agent.service'), 'utf8').replace('ProtectHome=yes', 'ProtectHome=yes\nProtectHomes=yes'));
    await assert.rejects(verifyUnit(bad), /Unknown key 'ProtectHomes'/);
    writeFileSync(bad, readFileSync(path.join(REPO_ROOT, 'deploy/systemd/kvm-crm-agent.service'), 'utf8').replace('ExecStart=/usr/bin/node', 'ExecStart=/nonexistent/node'));
    await assert.rejects(verifyUnit(bad), /not executable/);
  });

  for (const role of ['manager', 'agent'] as const) {
    const pkg = role === 'manager' ? 'vt-manager' : 'oxad-agent';
    const other = role === 'manager' ? 'oxad-agent' : 'vt-manager';
    test(`${role}: every installed file, the unit, the config skeleton, and a second run that changes nothing`, async () => {
      const root = path.join(scratch, role);
      mkdirSync(root);
      const first = await run([role, '--root', root, '--prefix', PREFIX]);
      assert.equal(first.exitCode, 0, first.stderr + first.stdout);
      assert.match(first.stdout, /^skipped: Debian packages .*only when --root is \//m);
      assert.match(first.stdout, /^skipped: system user kvm-crm, ownership/m);
      assert.match(first.stdout, new RegExp(`systemctl enable --now kvm-crm-${role}\\.service`));
      assert.match(first.stdout, /vtctl server add/);
      if (role === 'manager') assert.match(first.stdout, /vtctl certs init --dir/);
      const dest = path.join(root, PREFIX);

      // the code: shared + the daemon, production dependencies only, nothing group/other writable, owned by root
      assert.ok(existsSync(path.join(dest, `packages/${pkg}/dist/main.js`)));
      assert.ok(existsSync(path.join(dest, 'packages/shared/dist/index.js')));
      assert.equal(existsSync(path.join(dest, 'packages/oxad-agent/libexec/libvirt-session.py')), role === 'agent', 'the libvirt connection helper (decision 041)');
      assert.ok(!existsSync(path.join(dest, `packages/${other}`)), `${other} is not installed with the ${role}`);
      assert.ok(!existsSync(path.join(dest, 'packages/harness')));
      assert.ok(!existsSync(path.join(dest, 'node_modules/typescript')), 'dev dependencies are left out');
      assert.ok(!existsSync(path.join(dest, 'node_modules/@kvm-crm/harness')));
      assert.equal(readlinkSync(path.join(dest, `node_modules/@kvm-crm/${pkg}`)), `../../packages/${pkg}`);
      assert.equal(existsSync(path.join(dest, 'node_modules/better-sqlite3')), role === 'manager');
      if (role === 'manager') assert.ok(!existsSync(path.join(dest, 'node_modules/better-sqlite3/deps')), 'better-sqlite3 without its C sources');
      const tree = snapshot(root);
      for (const [p, e] of tree) {
        if (!p.startsWith(PREFIX.slice(1))) continue;
        assert.equal(e.uid, 0, `${p} owned by root`);
        assert.equal(e.gid, 0, `${p} group root`);
        if (e.type !== 'l') assert.equal(e.mode & 0o022, 0, `${p} is not group/other writable (mode ${e.mode.toString(8)})`);
        if (p.includes('/packages/')) assert.ok(!p.endsWith('.d.ts'), `${p}: no declarations of ours installed`);
      }
      const load = await execa(process.execPath, ['-e', `await import(${JSON.stringify(path.join(dest, `packages/${pkg}/dist/index.js`))})`, '--input-type=module'], { reject: false });
      assert.equal(load.exitCode, 0, `the installed ${pkg} loads with its installed dependencies: ${load.stderr}`);

      // config skeletons: 0600, TODO values only where the site must decide
      const etc = path.join(root, 'etc/kvm-crm');
      const conf = role === 'manager' ? 'manager' : 'agent';
      assert.equal(tree.get(`etc/kvm-crm/${conf}.json`)!.mode, 0o600);
      assert.equal(tree.get(`etc/kvm-crm/${conf}.env`)!.mode, 0o600);
      assert.equal(tree.get('etc/kvm-crm/certs')!.type, 'd');
      const skeleton = JSON.parse(readFileSync(path.join(etc, `${conf}.json`), 'utf8')) as Record<string, unknown>;
      const todos = todoPaths(skeleton);
      const fill: Record<string, unknown> = role === 'manager'
        ? { publicUrl: 'https://vtam.example:8445', 'users.0.passwordScrypt': hashPassword('install-test-pw') }
        : { eventsUrl: 'https://agents:callback-password-1234@vtam.example:8445/xmlrpc/agent' };
      assert.deepEqual(todos.sort(), Object.keys(fill).sort(), 'the TODO values of the skeleton');
      // unfilled, the skeleton is refused (the TODO values are not valid), filled it validates
      // (written beside the scratch root, not into it: the second run's snapshot must not see them)
      const confDir = path.join(scratch, `${role}-conf`);
      mkdirSync(confDir);
      const unfilledFile = path.join(confDir, `unfilled-${conf}.json`);
      const filledFile = path.join(confDir, `filled-${conf}.json`);
      try {
        writeFileSync(unfilledFile, JSON.stringify(skeleton));
        assert.throws(() => (role === 'manager' ? loadManagerOptions(unfilledFile, {}) : loadAgentOptions(unfilledFile, {})), new RegExp(todos[0]!.split('.')[0]!));
        for (const [k, v] of Object.entries(fill)) setAt(skeleton, k, v);
        writeFileSync(filledFile, JSON.stringify(skeleton));
        if (role === 'manager') {
          const o = loadManagerOptions(filledFile, {});
          assert.equal(o.tls.certFile, path.join(confDir, 'certs/manager.crt'), 'relative to the config folder');
          assert.deepEqual(o.database, { type: 'sqlite', path: '/var/lib/kvm-crm-manager/manager.sqlite' });
          assert.match(o.agentCallback.password, /^[A-Za-z0-9]{32}$/);
          // the installed manager runs its migrations (better-sqlite3, typeorm from the install); the database path
          // comes from the environment, as an operator would set it
          const db = path.join(scratch, 'manager-install-test.sqlite');
          const m = await execa(process.execPath, [path.join(dest, 'packages/vt-manager/dist/main.js'), 'migrate', '--config', filledFile], {
            reject: false, timeout: 120_000, env: { KVMCRM_DATABASE__PATH: db },
          });
          assert.equal(m.exitCode, 0, m.stderr + m.stdout);
          assert.match(m.stdout, new RegExp(`database: sqlite ${db}`));
          assert.ok(existsSync(db));
        } else {
          const o = loadAgentOptions(filledFile, {});
          assert.equal(o.tls.keyFile, path.join(confDir, 'certs/agent.key'), 'relative to the config folder');
          assert.equal(o.storageRoot, '/var/lib/kvm-crm');
          assert.match(o.password, /^[A-Za-z0-9]{32}$/);
        }
      } finally {
        rmSync(unfilledFile, { force: true });
        rmSync(filledFile, { force: true });
      }

      // the unit: 0644, paths of this install, verified
      const unitFile = path.join(root, `etc/systemd/system/kvm-crm-${role}.service`);
      assert.equal(tree.get(`etc/systemd/system/kvm-crm-${role}.service`)!.mode, 0o644);
      const unit = readFileSync(unitFile, 'utf8');
      const flags = `${(role === 'agent' ? AGENT_NODE_FLAGS : MANAGER_NODE_FLAGS).join(' ')} `;
      assert.match(unit, new RegExp(`^ExecStart=\\S+/node ${flags}${PREFIX}/packages/${pkg}/dist/main\\.js --config /etc/kvm-crm/${conf}\\.json$`, 'm'));
      assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
      assert.match(unit, /^ProtectSystem=strict$/m);
      assert.match(unit, /^NoNewPrivileges=yes$/m);
      if (role === 'manager') assert.match(unit, /^User=kvm-crm$/m);
      await verifyUnit(unitFile);
      const snippet = role === 'manager' ? 'etc/sysusers.d/kvm-crm.conf' : 'etc/tmpfiles.d/kvm-crm-agent.conf';
      assert.equal(tree.get(snippet)!.mode, 0o644);
      if (role === 'manager') {
        assert.equal(tree.get('opt/kvm-crm/bin/vtctl')!.mode, 0o755);
        assert.match(readFileSync(path.join(dest, 'bin/vtctl'), 'utf8'), new RegExp(`^exec \\S+/node ${PREFIX}/packages/vt-manager/dist/vtctl\\.js "\\$@"$`, 'm'));
      } else {
        // the tmpfiles snippet is valid: systemd-tmpfiles makes the storage root in a throw-away root
        const t = path.join(scratch, 'tmpfiles-root');
        mkdirSync(t, { recursive: true });
        const r = await execa('systemd-tmpfiles', ['--root', t, '--create', path.join(root, snippet)], { reject: false });
        assert.equal(r.exitCode, 0, r.stderr);
        assert.equal(lstatSync(path.join(t, 'var/lib/kvm-crm')).mode & 0o7777, 0o755);
      }

      // idempotent: nothing changes, not even a time, and the digest line is the same
      const second = await run([role, '--root', root, '--prefix', PREFIX]);
      assert.equal(second.exitCode, 0, second.stderr + second.stdout);
      assert.doesNotMatch(second.stdout, /^did:/m, 'a second run does nothing');
      const digest = (s: string) => /^tree digest: .*$/m.exec(s)?.[0];
      assert.ok(digest(first.stdout));
      assert.equal(digest(second.stdout), digest(first.stdout));
      assert.deepEqual(snapshot(root), tree);
    });
  }

  test('hostile arguments are refused and leave the scratch root as it was', async () => {
    const root = path.join(scratch, 'hostile');
    mkdirSync(path.join(root, 'srv/data'), { recursive: true });
    writeFileSync(path.join(root, 'srv/data/keep.txt'), 'not ours');
    const before = snapshot(root);
    const cases: Array<[string[], RegExp]> = [
      [[], /usage:/],
      [['both', '--root', root], /role must be manager or agent/],
      [['manager', '--root', root, '--prefix', 'opt/kvm-crm'], /--prefix must be an absolute path/],
      [['manager', '--root', root, '--prefix', '/opt/kvm-crm/../../etc'], /must not hold \. or \.\. components/],
      [['manager', '--root', root, '--prefix', '/opt/kvm crm'], /may hold only letters/],
      [['manager', '--root', root, '--prefix', '/opt/$(id)'], /may hold only letters/],
      [['manager', '--root', root, '--prefix', '/opt/kvm-crm;rm'], /may hold only letters/],
      [['manager', '--root', root, '--prefix', '/usr'], /is a system folder/],
      [['manager', '--root', root, '--prefix', '/'], /is a system folder/],
      [['manager', '--root', root, '--prefix', '/srv/data'], /not empty and was not made by this installer/],
      [['manager', '--root', root, '--prefix', '/opt/kvm-crm/'], /must not end in \//],
      [['manager', '--root', 'relative/root'], /--root must be an absolute path/],
      [['manager', '--root', path.join(root, 'missing')], /is not an existing folder/],
      [['manager', '--root', root, '--node', '/nonexistent/node'], /no Node\.js at/],
      [['manager', '--root', root, '--node', '/bin/false'], /too old|needs >= 20\.19/],
      [['manager', '--root', root, '--force'], /unknown argument "--force"/],
      [['manager', '--root'], /--root needs a value/],
    ];
    for (const [args, expected] of cases) {
      const r = await run(args);
      assert.notEqual(r.exitCode, 0, `refused: ${args.join(' ')}`);
      assert.match(r.stderr, expected, `${args.join(' ')} → ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /^did:/m);
    }
    assert.deepEqual(snapshot(root), before, 'nothing was written');
  });

  test('a config skeleton path that is a dangling symbolic link is refused, nothing written where it points', async () => {
    const root = path.join(scratch, 'symlinked');
    mkdirSync(path.join(root, 'etc/kvm-crm'), { recursive: true });
    const target = path.join(scratch, 'elsewhere-agent.json');
    symlinkSync(target, path.join(root, 'etc/kvm-crm/agent.json'));
    const r = await run(['agent', '--root', root, '--prefix', PREFIX]);
    assert.equal(r.exitCode, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /refusing to write config skeleton .*agent\.json: it is a symbolic link/);
    assert.ok(!existsSync(target), 'no secret skeleton written through the link');
  });
});
