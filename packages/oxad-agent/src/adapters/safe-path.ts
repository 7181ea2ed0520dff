/**
 * Checks for file-system paths that are about to become an argv element, a qemu option value or a domain XML
 * attribute. Paths are built by the agent from IDs inside its storage root; this is the last line of defence.
 */
import path from 'node:path';
import { InputError } from '@kvm-crm/shared/errors';

/** Characters never allowed in a path we pass on: ASCII control characters (incl. NUL, newline) and DEL. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Returns `p` when it is an absolute, normalised POSIX path (no `.`/`..` segments, no `//`, no trailing slash,
 * no control characters, at most 4096 bytes); throws {@link InputError} naming `what` otherwise.
 * An absolute path can never be mistaken for a command-line option (it starts with `/`) nor for a qemu
 * protocol prefix (`nbd:`, `http:`…), which qemu only recognises before the first `/`.
 */
export function assertAbsolutePath(p: string, what: string): string {
  const ok =
    typeof p === 'string' &&
    p.length > 1 &&
    Buffer.byteLength(p) <= 4096 &&
    p.startsWith('/') &&
    !CONTROL_CHARS.test(p) &&
    path.posix.normalize(p) === p &&
    !p.endsWith('/');
  if (!ok) throw new InputError(`invalid ${what}: ${JSON.stringify(String(p).slice(0, 120))} (need an absolute, normalised path)`);
  return p;
}
