/**
 * Atomic, durable replacement of a small file (certificates, keys, CRLs, indexes): readers see the old content or
 * the new one, never a partial file.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes `data` to `file` atomically: a temporary file in the same folder created with `mode` (0600 for keys, set
 * at creation so no byte is ever readable by others), written, fsync'ed, renamed over `file`, and the folder
 * fsync'ed. Readers see the old content or the new one, never a partial file. The temporary file is removed on
 * failure. @throws the underlying fs error (ENOENT for a missing folder, EACCES …).
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode: number): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
