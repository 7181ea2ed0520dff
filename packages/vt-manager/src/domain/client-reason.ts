/**
 * What a client is told when an action fails (docs/ocf-protocol.md §6.6, the FAILED `description`): a reason it can
 * act on, never the manager's internals. Agent endpoints (URLs with ports), host paths and the transport's error
 * codes stay in the manager's log (docs/security.md "Refusals do not leak"). Pure: no I/O.
 */
import { AuthenticationError, describeError, KvmCrmError, NotAllowedError, UpstreamError, XmlRpcFaultError } from '@kvm-crm/shared';

/** Longest FAILED reason sent to a client, in characters (the original manager sent ≤ 199, §6.6). */
export const CLIENT_REASON_MAX = 199;

/** What the client is told when the server's agent could not be reached (timeouts, TLS, refused connections). */
export const AGENT_UNREACHABLE_REASON = 'the server hosting the VM could not be reached; the action was not carried out, try again later';
/** What the client is told when the agent refused the manager's credentials or certificate. */
export const AGENT_REFUSED_REASON = 'the server hosting the VM refused the request; the action was not carried out, ask the operator';
/** What the client is told for an error the manager does not describe (a bug, the database). */
export const INTERNAL_REASON = 'internal error of the manager; the action was not carried out, ask the operator';

const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;
const PATH_PATTERN = /(^|[\s'"(=:])\/(?:[^\s'"()<>:]+\/)*[^\s'"()<>:]*/g;

/**
 * `text` with URLs replaced by `<internal address>` and absolute paths by `<path>`, clipped to
 * {@link CLIENT_REASON_MAX} characters, printable ASCII only.
 */
export function scrubReason(text: string): string {
  const scrubbed = text
    .replace(URL_PATTERN, '<internal address>')
    .replace(PATH_PATTERN, (_m, lead: string) => `${lead}<path>`)
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  return scrubbed.length > CLIENT_REASON_MAX ? `${scrubbed.slice(0, CLIENT_REASON_MAX - 3)}...` : scrubbed;
}

/**
 * The client's FAILED reason for an error thrown while the manager stored or handed over an action. The manager's
 * own refusals (InputError, NotFoundError, ConflictError, NotAllowedError from our services) are written for the
 * client about its own input and pass as they are; an agent's fault passes as "the server refused the action: <its text, scrubbed>";
 * transport failures, credential refusals by the agent and unexpected errors become fixed sentences.
 */
export function clientReason(err: unknown): string {
  if (err instanceof XmlRpcFaultError) return scrubReason(`the server refused the action: ${err.faultString}`);
  if (err instanceof UpstreamError) return AGENT_UNREACHABLE_REASON;
  if (err instanceof AuthenticationError) return AGENT_REFUSED_REASON;
  if (err instanceof NotAllowedError && /HTTP 403/.test(err.message)) return AGENT_REFUSED_REASON;
  if (err instanceof KvmCrmError) return describeError(err);
  return INTERNAL_REASON;
}
