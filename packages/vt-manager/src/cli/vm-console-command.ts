/**
 * `vtctl vm console VM [--force]`: the VM's interactive serial console (decision record 027), a WebSocket to the
 * manager's `/console` (same host, port, login and CA as the admin RPC), relayed by the manager to the VM's agent.
 * Like `virsh console`: the local terminal is put in raw mode (restored on exit, errors and signals) and `Ctrl-]`
 * detaches. Status lines go to stderr, the console to stdout; with `--json` the status lines are JSON objects
 * (`{"event":"connected",…}`, `{"event":"closed",…}`). Exit 0 after a detach, 1 when the console was refused or
 * ended otherwise (taken over, idle, VM stopped, connection lost), with the reason.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { WebSocket } from 'ws';
import { CONSOLE_CLOSE, CONSOLE_MAX_FRAME_BYTES, MANAGER_CONSOLE_PATH, readRefusal } from '@kvm-crm/shared';

/** The detach key: Ctrl-] (GS, 0x1d), as in `virsh console` and telnet. */
export const DETACH_BYTE = 0x1d;

interface ConnectionOptions {
  url?: string;
  user?: string;
  passwordFile?: string;
  ca?: string;
}

/** The console URL for the admin URL `adminUrl`: same origin, path `/console`, `vm` and `force` in the query. */
export function consoleUrl(adminUrl: string, vm: string, force: boolean): URL {
  const url = new URL(adminUrl);
  if (url.protocol !== 'https:') throw new Error(`the admin URL must be https: ${url.protocol}`);
  url.protocol = 'wss:';
  url.pathname = MANAGER_CONSOLE_PATH;
  url.username = '';
  url.password = '';
  url.search = '';
  url.searchParams.set('vm', vm);
  if (force) url.searchParams.set('force', '1');
  return url;
}

/**
 * Splits what the operator typed at the detach key: the bytes before it, and whether it was there.
 */
export function splitAtDetach(data: Buffer): { send: Buffer; detach: boolean } {
  const i = data.indexOf(DETACH_BYTE);
  return i < 0 ? { send: data, detach: false } : { send: data.subarray(0, i), detach: true };
}

/** Adds `vm console` to the `vm` command group of `program` (added by addVmCommands before). */
export function addVmConsoleCommand(program: Command, json: () => boolean): void {
  const vm = program.commands.find((c) => c.name() === 'vm');
  if (!vm) throw new Error('addVmConsoleCommand: add the vm commands first');
  vm.command('console <vm>')
    .description("the VM's interactive serial console (name or uuid), through the manager and its agent; Ctrl-] detaches")
    .option('--force', 'take the console over from a session already open on it')
    .action(async function (this: Command, ref: string, o: { force?: boolean }) {
      const g = this.optsWithGlobals<ConnectionOptions>();
      const adminUrl = g.url ?? process.env.KVMCRM_ADMIN_URL ?? 'https://127.0.0.1:8445/xmlrpc/admin';
      const user = g.user ?? process.env.KVMCRM_ADMIN_USER ?? 'admin';
      const password = g.passwordFile ? readFileSync(g.passwordFile, 'utf8').trim() : process.env.KVMCRM_ADMIN_PASSWORD;
      if (!password) throw new Error('admin password: give --password-file or set KVMCRM_ADMIN_PASSWORD');
      const ca = readFileSync(g.ca ?? process.env.KVMCRM_CA_FILE ?? 'certs/ca.crt', 'utf8');
      const code = await runConsole(consoleUrl(adminUrl, ref, o.force === true), { user, password, ca, ref, json: json() });
      // stdin (a TTY) would keep the process alive; stdout and stderr are synchronous on Linux, nothing is lost.
      process.exit(code);
    });
}

interface SessionSettings {
  user: string;
  password: string;
  ca: string;
  ref: string;
  json: boolean;
}

/** Runs one console session; resolves with the exit code. @throws Error with the reason when it is refused. */
async function runConsole(url: URL, s: SessionSettings): Promise<number> {
  const status = (event: Record<string, unknown>, text: string) =>
    process.stderr.write(s.json ? `${JSON.stringify(event)}\n` : text);
  const ws = new WebSocket(url, {
    ca: s.ca,
    headers: { authorization: `Basic ${Buffer.from(`${s.user}:${s.password}`).toString('base64')}` },
    handshakeTimeout: 30_000, maxPayload: CONSOLE_MAX_FRAME_BYTES, perMessageDeflate: false,
  });
  let vmInfo = { uuid: s.ref, name: s.ref, server: '' };
  await new Promise<void>((resolve, reject) => {
    ws.once('upgrade', (res) => {
      const [uuid, name, server] = String(res.headers['x-kvmcrm-vm'] ?? '').split(' ');
      if (uuid && name) vmInfo = { uuid, name, server: server ?? '' };
    });
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      void readRefusal(res).then((text) => {
        ws.terminate();
        reject(new Error(`console of ${s.ref} refused: ${text || 'no reason given'} (HTTP ${res.statusCode})`));
      });
    });
    ws.once('error', (err) => reject(new Error(`console of ${s.ref}: ${err.message}`)));
  });
  ws.on('error', () => undefined); // 'close' follows and reports

  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  const restore = () => {
    if (tty && stdin.isRaw) stdin.setRawMode(false);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    restore();
    ws.terminate();
    process.exit(128 + ({ SIGINT: 2, SIGHUP: 1, SIGTERM: 15 } as Record<string, number>)[signal]!);
  };
  process.on('exit', restore);
  for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.once(sig, onSignal);
  const started = Date.now();
  let bytesIn = 0;
  let bytesOut = 0;
  let detached = false;
  status(
    { event: 'connected', vm: vmInfo.uuid, name: vmInfo.name, server: vmInfo.server },
    `Connected to ${vmInfo.name} (${vmInfo.uuid})${vmInfo.server ? ` on ${vmInfo.server}` : ''}\r\nEscape character is ^] (Ctrl + ])\r\n`,
  );
  try {
    if (tty) stdin.setRawMode(true);
    const detach = () => {
      if (detached) return;
      detached = true;
      ws.close(CONSOLE_CLOSE.detached, 'detached');
    };
    stdin.on('data', (chunk: Buffer) => {
      if (detached) return;
      const { send, detach: stop } = splitAtDetach(chunk);
      if (send.length && ws.readyState === ws.OPEN) {
        ws.send(send, { binary: true });
        bytesIn += send.length;
      }
      if (stop) detach();
    });
    stdin.once('end', detach); // a script's input ran out: detach as if Ctrl-] was typed
    stdin.resume();
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return;
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      bytesOut += b.length;
      process.stdout.write(b);
    });
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const reason = detached ? 'detached' : closed.reason || (closed.code === 1006 ? 'connection to the manager lost' : `closed (code ${closed.code})`);
    restore();
    status(
      { event: 'closed', vm: vmInfo.uuid, name: vmInfo.name, detached, code: closed.code, reason, bytesIn, bytesOut, seconds },
      `\r\n${detached ? 'Detached from' : 'Console closed:'} ${vmInfo.name}${detached ? '' : `: ${reason}`}\r\n`,
    );
    return detached ? 0 : 1;
  } finally {
    restore();
    stdin.pause();
    stdin.removeAllListeners('data');
    process.off('exit', restore);
    for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.off(sig, onSignal);
  }
}
