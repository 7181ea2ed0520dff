/**
 * Sends status documents back to the manager: `sendAsync(xml)` on the callback URL given with each query
 * (docs/ocf-protocol.md §5.2), over HTTPS with our CA and our client certificate. `report` retries a few times with
 * backoff (monitoring answers); `sendOnce` is one attempt, for the durable StatusOutbox (services/status-outbox.ts)
 * that carries provisioning statuses and events and retries them until the manager accepts them.
 */
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import type { ClientTls } from '@kvm-crm/shared/tls';
import { XmlRpcClient } from '@kvm-crm/shared/xmlrpc';
import type { StatusReporter, StatusSender } from '../services/ports.js';

/** Options of {@link XmlRpcStatusReporter}. */
export interface StatusReporterOptions {
  tls: ClientTls;
  logger: Logger;
  /** Attempts per status. Default 6. */
  attempts?: number;
  /** First retry delay in seconds, doubled each time. Default 0.5. */
  retryDelaySeconds?: number;
}

/** Delivers status documents with `sendAsync` over XML-RPC/HTTPS (see the module comment). */
export class XmlRpcStatusReporter implements StatusReporter, StatusSender {
  constructor(private readonly options: StatusReporterOptions) {}

  /**
   * One `sendAsync` call. @throws XmlRpcFaultError when the manager refused the document; another error when the
   *   call did not complete (connection, TLS, HTTP status, timeout).
   */
  async sendOnce(callbackUrl: string, rspecXml: string): Promise<void> {
    await new XmlRpcClient({ url: callbackUrl, tls: this.options.tls, timeoutSeconds: 30 }).call('sendAsync', [rspecXml]);
  }

  /**
   * Delivers `rspecXml` to `callbackUrl` with up to `attempts` calls, waiting `retryDelaySeconds` (doubled each
   * time) between them. Resolves true once the manager accepted it, false when every attempt failed (each
   * failure logged: warn, error for the last). @throws nothing.
   */
  async report(callbackUrl: string, rspecXml: string): Promise<boolean> {
    const attempts = this.options.attempts ?? 6;
    let delay = (this.options.retryDelaySeconds ?? 0.5) * 1000;
    for (let i = 1; i <= attempts; i++) {
      try {
        await this.sendOnce(callbackUrl, rspecXml);
        return true;
      } catch (err) {
        this.options.logger.log(i === attempts ? 'error' : 'warn', 'status delivery failed', { attempt: i, error: describeError(err) });
        if (i < attempts) await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
    return false;
  }
}
