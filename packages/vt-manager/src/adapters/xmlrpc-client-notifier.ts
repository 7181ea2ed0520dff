/**
 * {@link ClientNotifier} over XML-RPC: `sendAsync(xml)` to clearinghouse callback URLs, in order per URL, with
 * retries. Callback URLs carry Basic credentials (ocf-protocol.md §1.4); logs show them redacted.
 */
import { describeError, redactCredentials, XmlRpcClient, type ClientTls, type Logger } from '@kvm-crm/shared';
import type { ClientNotifier } from '../services/ports.js';

/** Options of {@link XmlRpcClientNotifier}. */
export interface NotifierOptions {
  tls: ClientTls;
  logger: Logger;
  /** Delivery attempts per message. Default 4. */
  attempts?: number;
  /** First retry delay in seconds, doubled each retry. Default 1. */
  retryDelaySeconds?: number;
  /** Per-call timeout in seconds. Default 30. */
  timeoutSeconds?: number;
}

export class XmlRpcClientNotifier implements ClientNotifier {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly options: NotifierOptions) {}

  sendAsync(callbackUrl: string, rspecXml: string): void {
    const previous = this.queues.get(callbackUrl) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(callbackUrl, rspecXml));
    this.queues.set(callbackUrl, next);
    void next.then(() => {
      if (this.queues.get(callbackUrl) === next) this.queues.delete(callbackUrl);
    });
  }

  async drain(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  private async deliver(callbackUrl: string, xml: string): Promise<void> {
    const attempts = this.options.attempts ?? 4;
    let delay = (this.options.retryDelaySeconds ?? 1) * 1000;
    for (let i = 1; i <= attempts; i++) {
      try {
        const client = new XmlRpcClient({ url: callbackUrl, tls: this.options.tls, timeoutSeconds: this.options.timeoutSeconds ?? 30 });
        await client.call('sendAsync', [xml]);
        return;
      } catch (err) {
        const log = i === attempts ? 'error' : 'warn';
        this.options.logger.log(log, 'callback delivery failed', { callback: redactCredentials(callbackUrl), attempt: i, error: describeError(err) });
        if (i < attempts) await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }
}

/**
 * One `sendAsync(xml)` call to a clearinghouse callback, no retries (DbClientNotifier retries from its
 * table). @throws the client's error when the callback is unreachable or answers with a fault.
 */
export function xmlRpcDeliver(tls: ClientTls, timeoutSeconds = 30): (callbackUrl: string, rspecXml: string) => Promise<void> {
  return async (callbackUrl, rspecXml) => {
    await new XmlRpcClient({ url: callbackUrl, tls, timeoutSeconds }).call('sendAsync', [rspecXml]);
  };
}
