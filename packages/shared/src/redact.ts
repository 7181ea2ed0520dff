/**
 * Credential redaction for logs, fault strings and stored text.
 *
 * OCF callback URLs carry `user:password@` in clear (docs/ocf-protocol.md §1.4, §9 item 17). Every log line and every
 * error message that may contain a URL goes through {@link redactCredentials}.
 */

/**
 * `scheme://`, then the userinfo: everything up to the LAST `@` before the authority ends (`/`, `?`, `#` or
 * whitespace), so a password holding `@` (`https://u:p@ss@host/`) is hidden whole (docs/ocf-protocol.md §1.4).
 */
const URL_USERINFO = /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/?#]*@/g;

/**
 * Replaces the userinfo of every URL inside `text` with `***@`.
 * `https://expedient:s3cret@10.0.0.5/x` → `https://***@10.0.0.5/x`; `https://u:p@ss@host/` → `https://***@host/`.
 * Text without URLs is returned unchanged.
 * Note: the pattern stops at `/`, so a password containing `/` (which breaks OCF URLs anyway, §1.4) is cut there.
 */
export function redactCredentials(text: string): string {
  return text.replace(URL_USERINFO, '$1***@');
}
