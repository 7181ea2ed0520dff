/**
 * The files of offline migrations on this host (decision record 025): `<storageRoot>/transfers/<ticket id>/`, one
 * folder per ticket, holding `ticket.json` (the ticket the manager gave us, and our role in it) and the files of
 * the transfer: on a target the files received (`<name>.part` while they arrive, `<name>` once their size and
 * SHA-256 matched), on a source the standalone image a `--flatten` made. This adapter is the only code that builds
 * these paths; ticket ids and file names are checked against their patterns before any path is built. Nothing in
 * here outlives an agent restart: {@link TransferStore.sweep} removes every folder at start.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared/errors';
import {
  TRANSFER_FILE_PATTERN,
  TRANSFER_TICKET_ID_PATTERN,
  validateTransferTicket,
  type TransferFile,
  type TransferTicket,
} from '@kvm-crm/shared/transfer-ticket';
import { assertPattern } from '@kvm-crm/shared/validation';
import { assertAbsolutePath } from './safe-path.js';

/** This agent's side of a ticket. */
export type TransferRole = 'source' | 'target';

/** What `ticket.json` holds. */
export interface StoredTicket {
  role: TransferRole;
  ticket: TransferTicket;
  /** Target only: set once the VM was defined from the received files. */
  importedAt?: string;
}

/** SHA-256 (lower-case hex) and length in bytes of a file, read as a stream (never loaded whole). */
export async function hashFile(file: string): Promise<{ sha256: string; sizeBytes: number }> {
  const h = createHash('sha256');
  let n = 0;
  await pipeline(createReadStream(assertAbsolutePath(file, 'file to hash')), async function* (src: AsyncIterable<Buffer>) {
    for await (const chunk of src) {
      h.update(chunk);
      n += chunk.length;
    }
    yield* [];
  });
  return { sha256: h.digest('hex'), sizeBytes: n };
}

/** The folders of the transfers of one agent (see the file comment). */
export class TransferStore {
  /** Absolute path of `<storageRoot>/transfers`. */
  readonly root: string;

  constructor(storageRoot: string) {
    this.root = path.resolve(storageRoot, 'transfers');
  }

  /** The folder of ticket `id`. @throws InputError when `id` is not a ticket id. */
  dirOf(id: string): string {
    return assertAbsolutePath(path.join(this.root, assertPattern(id, TRANSFER_TICKET_ID_PATTERN, 'transfer ticket id')), 'transfer folder');
  }

  /** The path of file `name` of ticket `id`. @throws InputError for a bad id or a name not in TRANSFER_FILE_PATTERN. */
  fileOf(id: string, name: string): string {
    return path.join(this.dirOf(id), assertPattern(name, TRANSFER_FILE_PATTERN, 'transfer file name'));
  }

  /** Removes every transfer folder (at agent start: no transfer survives a restart). Returns the ids removed. */
  async sweep(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    for (const n of names) await rm(path.join(this.root, n), { recursive: true, force: true });
    return names;
  }

  /**
   * Stores `ticket` with our role in a new folder. Storing the same ticket again is a no-op.
   * @throws ConflictError when a different ticket has that id.
   */
  async save(role: TransferRole, ticket: TransferTicket): Promise<void> {
    const dir = this.dirOf(ticket.id);
    const existing = await this.load(ticket.id).catch(() => undefined);
    if (existing) {
      if (existing.role === role && JSON.stringify(existing.ticket) === JSON.stringify(ticket)) return;
      throw new ConflictError(`transfer ticket ${ticket.id.slice(0, 8)}… already exists here with other contents`);
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(dir, 'ticket.json'), JSON.stringify({ role, ticket } satisfies StoredTicket) + '\n', { mode: 0o600 });
  }

  /**
   * The stored ticket `id` (its expiry not checked here).
   * @throws InputError for a bad id; NotFoundError when this agent holds no such ticket.
   */
  async load(id: string): Promise<StoredTicket> {
    let text: string;
    try {
      text = await readFile(path.join(this.dirOf(id), 'ticket.json'), 'utf8');
    } catch {
      throw new NotFoundError(`no transfer ticket ${id.slice(0, 8)}… on this host`);
    }
    const o = JSON.parse(text) as StoredTicket;
    // Re-validated with the expiry ignored (a far-past "now"): the file is ours, but a hand-edit must not become a path.
    const ticket = validateTransferTicket(o.ticket, new Date(Date.parse(o.ticket.expiresAt) - 1000));
    return { role: o.role === 'source' ? 'source' : 'target', ticket, ...(o.importedAt ? { importedAt: o.importedAt } : {}) };
  }

  /** Records that the VM of ticket `id` was defined here. */
  async markImported(id: string): Promise<void> {
    const s = await this.load(id);
    await writeFile(path.join(this.dirOf(id), 'ticket.json'), JSON.stringify({ ...s, importedAt: new Date().toISOString() }) + '\n', { mode: 0o600 });
  }

  /** True when file `name` of ticket `id` was received whole and verified. */
  async has(id: string, name: string): Promise<boolean> {
    return stat(this.fileOf(id, name)).then((s) => s.isFile(), () => false);
  }

  /**
   * Writes the stream `body` as file `expected.name` of ticket `id`: into `<name>.part` (created exclusively, so
   * two senders of one file cannot interleave), hashing as it goes, with backpressure (pipeline); more bytes than
   * `expected.sizeBytes` stop it at once. It is renamed to `<name>` only when its length and SHA-256 match the
   * ticket; otherwise, and on any error, the partial file is removed. `onBytes` is told each chunk's length.
   * @throws InputError for a size or checksum mismatch (the message names both values); ConflictError when the file
   *   is already there or arriving; the stream's or file system's error otherwise.
   */
  async receive(id: string, expected: TransferFile, body: Readable, onBytes: (n: number) => void = () => undefined): Promise<{ sha256: string; sizeBytes: number }> {
    const final = this.fileOf(id, expected.name);
    const part = `${final}.part`;
    if (await this.has(id, expected.name)) throw new ConflictError(`${expected.name} was already received`);
    const h = createHash('sha256');
    let n = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        n += chunk.length;
        if (n > expected.sizeBytes) return done(new InputError(`${expected.name}: more than the ${expected.sizeBytes} bytes the ticket names`));
        h.update(chunk);
        onBytes(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      // EEXIST: another upload of this file is under way; leave its .part alone.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ConflictError(`${expected.name} is already being received`);
      await rm(part, { force: true });
      throw err;
    }
    const sha256 = h.digest('hex');
    if (n !== expected.sizeBytes || sha256 !== expected.sha256) {
      await rm(part, { force: true });
      throw new InputError(n !== expected.sizeBytes
        ? `${expected.name}: received ${n} bytes, the ticket names ${expected.sizeBytes}`
        : `${expected.name}: checksum mismatch (received sha256 ${sha256}, the ticket names ${expected.sha256})`);
    }
    await rename(part, final);
    return { sha256, sizeBytes: n };
  }

  /** Removes the folder of ticket `id` and everything in it (nothing happens when it is gone). */
  async remove(id: string): Promise<void> {
    await rm(this.dirOf(id), { recursive: true, force: true });
  }

  /** Moves the received file `name` of ticket `id` to `dest` (an absolute path on the same file system). */
  async moveOut(id: string, name: string, dest: string): Promise<void> {
    await rename(this.fileOf(id, name), assertAbsolutePath(dest, 'destination'));
  }
}
