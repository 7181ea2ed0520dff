/**
 * Crash-safe small files for the agent's outbox and action journal: a file is written under a temporary name
 * (a leading dot, so loaders skip it), flushed (`fsync`), renamed over its final name, and the folder is flushed
 * too. After a power cut or a `kill -9` a reader sees either the whole new file or none (or the old one).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Prefix of temporary files; loaders skip them and {@link removeTemporaryFiles} deletes leftovers. */
export const TEMP_PREFIX = '.tmp-';

/**
 * Writes `content` to `dir/name` atomically and durably, with `mode` (e.g. 0o600).
 * @throws the file-system error (the temporary file is removed).
 */
export async function writeFileDurably(dir: string, name: string, content: string, mode: number): Promise<void> {
  const tmp = path.join(dir, `${TEMP_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(content, 'utf8');
      await fh.chmod(mode); // the umask may have narrowed or (never) widened it
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path.join(dir, name));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/** Removes `dir/name` and flushes the folder. @throws unless the file is already gone. */
export async function removeFileDurably(dir: string, name: string): Promise<void> {
  await rm(path.join(dir, name), { force: true });
  await syncDir(dir);
}

/** Creates `dir` (and parents) with `mode`; flushes nothing. */
export async function ensureDir(dir: string, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
}

/** Deletes temporary files left by a writer that died mid-write. Returns how many. */
export async function removeTemporaryFiles(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    await rm(path.join(dir, name), { force: true });
    n++;
  }
  return n;
}

/** `fsync` of a folder, so that a rename or unlink in it survives a power cut. Best effort. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (!fh) return; // best effort: a folder we cannot open cannot be flushed; the rename itself is done
  try {
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await fh.close();
  }
}
