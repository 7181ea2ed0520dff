/**
 * The XML-RPC delivery that DbClientNotifier uses: `sendAsync(xml)` to a clearinghouse callback URL (docs/ocf-protocol.md
 * §3.3). Callback URLs carry Basic credentials (§1.4); the client's errors show them redacted. Every delivery checks
 * the URL against the callback policy again and connects to the address it checked (decision 014): the name is
 * resolved once per delivery, so a DNS answer changed since `send` (rebinding) cannot point it elsewhere.
 */
import { pinCallbackTarget, pinnedLookup, XmlRpcClient, type CallbackPolicy, type ClientTls, type ResolveAll } from '@kvm-crm/shared';

/**
 * One `sendAsync(xml)` call to a clearinghouse callback, no retries (DbClientNotifier retries from its table);
 * the answer is read up to the client's default cap (64 KiB: a callback answers `""`).
 * `policy(principal)` gives the allowances a delivery may use: the policy of the principal recorded on the outbox row,
 * or (a row with no principal) the union of all principals' allowances (CallbackPolicyService).
 * @throws NotAllowedError / InputError when the URL or an address it resolves to is not allowed now; the client's
 *   error when the callback is unreachable, answers with a fault or answers too much.
 */
export function xmlRpcDeliver(
  tls: ClientTls,
  policy: (principal: string | null) => Promise<CallbackPolicy>,
  options: { timeoutSeconds?: number; resolve?: ResolveAll } = {},
): (callbackUrl: string, rspecXml: string, principal: string | null) => Promise<void> {
  return async (callbackUrl, rspecXml, principal) => {
    const target = await pinCallbackTarget(callbackUrl, await policy(principal), { resolve: options.resolve });
    const client = new XmlRpcClient({ url: callbackUrl, tls, timeoutSeconds: options.timeoutSeconds ?? 30, lookup: pinnedLookup(target) });
    await client.call('sendAsync', [rspecXml]);
  };
}
