/**
 * A private MariaDB server for one test (the readiness test stops and starts it): its own data directory under the
 * run's folder, its own socket and TCP port on 127.0.0.1, `mariadb-install-db` then `mariadbd` as a child process,
 * stopped by its PID. The shared test server of scripts/setup-mariadb.sh is never touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import mysql from 'mysql2/promise';
import { freePort } from './free-port.js';

/** A running (or stopped) private server. */
export interface PrivateMariadb {
  port: number;
  socket: string;
  /** The `database` section of a manager configuration for its database `kvmcrm`. */
  config: { type: 'mysql'; host: '127.0.0.1'; port: number; username: string; password: string; database: string };
  /** The server's PID while it runs. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM to its PID, SIGKILL after 30 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same data directory, socket and port (no-op while it runs); resolves once it accepts connections. */
  start(): Promise<void>;
}

const BINARIES = { install: 'mariadb-install-db', server: 'mariadbd' };

/**
 * Creates a data directory in `dir`, starts `mariadbd` on a free port and makes the database `kvmcrm` and a user
 * for it. Running as root, the server runs as root (`--user=root`): it is a throwaway of this test.
 * @throws when the programs are missing or the server does not accept connections within 60 s.
 */
export async function startPrivateMariadb(dir: string): Promise<PrivateMariadb> {
  const datadir = path.join(dir, 'data');
  await mkdir(datadir, { recursive: true, mode: 0o700 });
  const socket = path.join(dir, 'mysqld.sock');
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  await execa(BINARIES.install, ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=socket', '--skip-test-db', ...user], { timeout: 120_000 });
  let child: ResultPromise | undefined;
  const start = async () => {
    if (child && child.exitCode === null) return; // running already: a second mariadbd would wait on the data directory's lock
    child = execa(BINARIES.server, [
      '--no-defaults', `--datadir=${datadir}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1', `--pid-file=${path.join(dir, 'mysqld.pid')}`,
      '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--skip-name-resolve', `--log-error=${path.join(dir, 'error.log')}`, ...user,
    ], { reject: false, stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const c = await mysql.createConnection({ socketPath: socket, user: 'root', connectTimeout: 2000 });
        await c.end();
        return;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`mariadbd did not start (see ${path.join(dir, 'error.log')}): ${String(err)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c?.pid || c.exitCode !== null) return;
    process.kill(c.pid, 'SIGTERM');
    const timer = setTimeout(() => c.pid && process.kill(c.pid, 'SIGKILL'), 30_000);
    await c;
    clearTimeout(timer);
  };
  await start();
  const password = randomBytes(12).toString('hex');
  const admin = await mysql.createConnection({ socketPath: socket, user: 'root' });
  try {
    await admin.query('CREATE DATABASE kvmcrm CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
    await admin.query(`CREATE USER 'kvmcrm'@'127.0.0.1' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT ALL PRIVILEGES ON kvmcrm.* TO 'kvmcrm'@'127.0.0.1'`);
  } catch (err) {
    await admin.end().catch(() => undefined);
    await stop();
    throw err;
  }
  await admin.end();
  return {
    port, socket,
    config: { type: 'mysql', host: '127.0.0.1', port, username: 'kvmcrm', password, database: 'kvmcrm' },
    get pid() {
      return child?.pid;
    },
    stop, start,
  };
}
