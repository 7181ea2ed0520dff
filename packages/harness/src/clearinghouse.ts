/**
 * A test clearinghouse: serves `sendAsync(xml)` on its own HTTPS callback endpoint with Basic auth (as the
 * Expedient VT plugin does, docs/ocf-protocol.md §3.3) and records every status it receives. Real XML-RPC over real
 * HTTPS; it stands in for Expedient, it is not a fake of any kvm-crm part.
 */
import express from 'express';
import { closeServer, createHttpsServer, createLogger, createXmlRpcHandler, listen, parseRspec, readBasicCredentials, stringParam } from '@kvm-crm/shared';
import type { PemPair } from '@kvm-crm/shared';

/** One status as the clearinghouse saw it. */
export interface ReceivedStatus {
  actionId: string;
  type?: string;
  status: string;
  description?: string;
  at: number;
}

/** The test clearinghouse's HTTPS callback server (see the top of this file); `start()` before use, `stop()` after. */
export class TestClearinghouse {
  readonly received: ReceivedStatus[] = [];
  /** Raw documents, in arrival order. */
  readonly documents: string[] = [];
  private waiters: Array<() => void> = [];
  private server?: ReturnType<typeof createHttpsServer>;
  port = 0;

  constructor(
    private readonly tls: PemPair,
    readonly user = 'expedient',
    readonly password = 's3cret-callback',
  ) {}

  /** The callback URL to give the manager (credentials inside, as Expedient does, §3.2). */
  get callbackUrl(): string {
    return `https://${this.user}:${this.password}@127.0.0.1:${this.port}/vt_plugin/xmlrpc/vt_am/`;
  }

  /** Listens on a free port of 127.0.0.1 (then `port` and `callbackUrl` are set). */
  async start(): Promise<void> {
    const app = express();
    app.post(
      '/vt_plugin/xmlrpc/vt_am/',
      createXmlRpcHandler({
        logger: createLogger({ component: 'test-clearinghouse', silent: true }),
        authenticate: async (req) => {
          const c = readBasicCredentials(req);
          return c?.user === this.user && c.pass === this.password ? { name: c.user, roles: [] } : undefined;
        },
        methods: {
          sendAsync: (p) => {
            const xml = stringParam(p, 0, 'xml');
            this.documents.push(xml);
            const doc = parseRspec(xml);
            for (const a of doc.response?.provisioning?.actions ?? []) {
              this.received.push({ actionId: a.id ?? '', type: a.type, status: a.status ?? '', description: a.description, at: Date.now() });
            }
            for (const w of this.waiters.splice(0)) w();
            return '';
          },
        },
      }),
    );
    this.server = createHttpsServer(app, { cert: this.tls.certPem, key: this.tls.keyPem, requestCert: false });
    this.port = await listen(this.server, 0, '127.0.0.1');
  }

  /** Closes the server (when it was started). */
  async stop(): Promise<void> {
    if (this.server) await closeServer(this.server);
  }

  /** Statuses received for one action, in arrival order. */
  statuses(actionId: string): ReceivedStatus[] {
    return this.received.filter((r) => r.actionId === actionId);
  }

  /**
   * Waits until `actionId` received a terminal status (SUCCESS or FAILED) and returns all its statuses.
   * `settleMs` then waits a little longer so that a duplicate terminal status would show up too (tests assert
   * "exactly one"); benchmarks pass 0.
   * @throws after `timeoutMs` with what was received so far.
   */
  async waitForTerminal(actionId: string, timeoutMs = 120_000, settleMs = 300): Promise<ReceivedStatus[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = this.statuses(actionId);
      if (list.some((s) => s.status === 'SUCCESS' || s.status === 'FAILED')) {
        if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
        return this.statuses(actionId);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no terminal status for ${actionId} within ${timeoutMs} ms; got ${JSON.stringify(list)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
