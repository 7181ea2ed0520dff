/**
 * The one-time transfer ticket of an offline migration (docs/decisions/025-offline-migration.md): the manager issues
 * it and hands it, over its mutual-TLS channel (role `manager`), to the source agent and the target agent. It names
 * the VM, the two hosts, every file to copy with its size and SHA-256, and an expiry. The target agent accepts a
 * file only from the source host's certificate (role `agent`, CN = `source`), only under a ticket it got from the
 * manager, only a name and size the ticket lists, and keeps it only when its SHA-256 matches.
 *
 * Pure validation, shared by the manager (which builds tickets) and the agents (which check them).
 */
import { InputError } from './errors.js';
import { SERVER_NAME_PATTERN, TEMPLATE_NAME_PATTERN, UUID_PATTERN } from './validation.js';

/**
 * The files a migration may copy, as named inside a VM folder: the system disk, the data disks (vdb…vdq) and the
 * cloud-init seed. Nothing else can be named, so a name from the wire never climbs out of a folder.
 */
export const TRANSFER_FILE_PATTERN = /^(?:disk\.qcow2|data-vd[b-q]\.qcow2|seed\.iso)$/;

/** A ticket id: 32 random bytes, lower-case hex (64 characters). */
export const TRANSFER_TICKET_ID_PATTERN = /^[0-9a-f]{64}$/;

/** Lower-case hex SHA-256. */
const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** Largest file a ticket may name: 16 TiB, the agent's largest disk. */
export const MAX_TRANSFER_FILE_BYTES = 16 * 1024 ** 4;

/** Longest a ticket may live, in seconds (24 h); the manager issues shorter ones. */
export const MAX_TICKET_LIFETIME_SECONDS = 24 * 3600;

/** One file of a ticket. Size in bytes (the file's length on disk, not the image's virtual size). */
export interface TransferFile {
  name: string;
  sizeBytes: number;
  sha256: string;
}

/** A transfer ticket (see the file comment). */
export interface TransferTicket {
  /** {@link TRANSFER_TICKET_ID_PATTERN}. */
  id: string;
  /** The VM (lower-case UUID). */
  vmUuid: string;
  /** The source server's registered name (its agent certificate names it). */
  source: string;
  /** The target server's registered name. */
  target: string;
  /** The files, distinct names. */
  files: TransferFile[];
  /**
   * The template the system disk is an overlay of (resolved in the target's catalogue), or `''` when the disk
   * is standalone (flattened, `--flatten`).
   */
  template: string;
  /** ISO 8601; after it the ticket is refused. */
  expiresAt: string;
}

/**
 * Checks a ticket's shape (every field, pattern and bound) and that it has not expired at `now`; returns it typed.
 * @throws InputError naming the first field that is wrong, or saying the ticket expired.
 */
export function validateTransferTicket(value: unknown, now: Date = new Date()): TransferTicket {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InputError('transfer ticket: not a struct');
  const o = value as Record<string, unknown>;
  const str = (k: string, pattern: RegExp, what = k): string => {
    const v = o[k];
    if (typeof v !== 'string' || !pattern.test(v)) throw new InputError(`transfer ticket: invalid ${what}`);
    return v;
  };
  const id = str('id', TRANSFER_TICKET_ID_PATTERN);
  const vmUuid = str('vmUuid', UUID_PATTERN).toLowerCase();
  const source = str('source', SERVER_NAME_PATTERN);
  const target = str('target', SERVER_NAME_PATTERN);
  if (source === target) throw new InputError('transfer ticket: source and target are the same host');
  const template = o.template === '' ? '' : str('template', TEMPLATE_NAME_PATTERN);
  const expiresAt = typeof o.expiresAt === 'string' ? Date.parse(o.expiresAt) : NaN;
  if (Number.isNaN(expiresAt)) throw new InputError('transfer ticket: invalid expiresAt');
  if (expiresAt <= now.getTime()) throw new InputError(`transfer ticket ${id.slice(0, 8)}… expired at ${String(o.expiresAt)}`);
  if (expiresAt - now.getTime() > MAX_TICKET_LIFETIME_SECONDS * 1000) throw new InputError('transfer ticket: expiry too far ahead');
  if (!Array.isArray(o.files) || o.files.length === 0 || o.files.length > 20) throw new InputError('transfer ticket: files must list 1 to 20 files');
  const seen = new Set<string>();
  const files = o.files.map((f: unknown, i): TransferFile => {
    const x = f as Record<string, unknown> | null;
    if (!x || typeof x !== 'object') throw new InputError(`transfer ticket: file ${i} is not a struct`);
    if (typeof x.name !== 'string' || !TRANSFER_FILE_PATTERN.test(x.name)) throw new InputError(`transfer ticket: file ${i} has an invalid name ${JSON.stringify(String(x.name).slice(0, 80))}`);
    if (seen.has(x.name)) throw new InputError(`transfer ticket: file ${x.name} named twice`);
    seen.add(x.name);
    // XML-RPC's <int> holds 32 bits: on the wire sizes travel as decimal strings (see wireTicket).
    const size = typeof x.sizeBytes === 'string' && /^[0-9]{1,16}$/.test(x.sizeBytes) ? Number(x.sizeBytes) : x.sizeBytes;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > MAX_TRANSFER_FILE_BYTES) {
      throw new InputError(`transfer ticket: file ${x.name} has an invalid size`);
    }
    if (typeof x.sha256 !== 'string' || !SHA256_PATTERN.test(x.sha256)) throw new InputError(`transfer ticket: file ${x.name} has an invalid sha256`);
    return { name: x.name, sizeBytes: size, sha256: x.sha256 };
  });
  if (!seen.has('disk.qcow2')) throw new InputError('transfer ticket: the system disk disk.qcow2 is missing');
  return { id, vmUuid, source, target, files, template, expiresAt: new Date(expiresAt).toISOString() };
}

/**
 * The ticket as an XML-RPC struct: sizes as decimal strings, since XML-RPC's `<int>` holds only 32 bits (a disk
 * file passes 2 GiB easily). {@link validateTransferTicket} reads both forms.
 */
export function wireTicket(t: TransferTicket): Record<string, unknown> {
  return { ...t, files: t.files.map((f) => ({ name: f.name, sizeBytes: String(f.sizeBytes), sha256: f.sha256 })) };
}

/** A byte count that may arrive as a number or a decimal string (see {@link wireTicket}); NaN when neither. */
export function wireBytes(v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^[0-9]{1,16}$/.test(v)) return Number(v);
  return NaN;
}

/** Total bytes of a ticket's files. */
export function ticketBytes(ticket: Pick<TransferTicket, 'files'>): number {
  return ticket.files.reduce((s, f) => s + f.sizeBytes, 0);
}
