/**
 * The one error class of GENI credential checking (docs/geni-v3.md §9.3: every credential failure answers
 * FORBIDDEN, code 3). Thrown by the pure checks in `domain/geni/` and by the verifier service; re-exported from
 * `services/geni/credential-verifier.ts`, where the GENI API imports it from.
 */
import { NotAllowedError } from '@kvm-crm/shared';

/**
 * A credential failed a check, or no credential passed. `message` is the reason, safe to send to the caller: it
 * names URNs, ids and times, never the credential's text or a certificate.
 */
export class GeniCredentialError extends NotAllowedError {}
