/**
 * The XML-RPC delivery that DbClientNotifier uses: `sendAsync(xml)` to a clearinghouse callback URL. Callback URLs
 * carry Basic credentials (docs/ocf-protocol.md §1.4); the client's errors show them redacted.
 */
import { XmlRpcClient, type ClientTls } from '@kvm-crm/shared';

/**
 * One `sendAsync(xml)` call to a clearinghouse callback, no retries (DbClientNotifier retries from its
 * table). @throws the client's error when the callback is unreachable or answers with a fault.
 */
export function xmlRpcDeliver(tls: ClientTls, timeoutSeconds = 30): (callbackUrl: string, rspecXml: string) => Promise<void> {
  return async (callbackUrl, rspecXml) => {
    await new XmlRpcClient({ url: callbackUrl, tls, timeoutSeconds }).call('sendAsync', [rspecXml]);
  };
}
