/**
 * The agent's in-progress journal: `<storageRoot>/journal/<action id>.json` exists while an action runs (written
 * before its ONGOING is queued, removed after its terminal status is queued). An entry found at start means the
 * agent died in the middle of that action; the StartupReconciler finishes or fails it. Files are 0600 (the
 * callback URL carries credentials), written with temp name + fsync + rename.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { ACTION_ID_PATTERN } from '@kvm-crm/shared/validation';
import { ensureDir, removeFileDurably, removeTemporaryFiles, TEMP_PREFIX, writeFileDurably } from './durable-file.js';

/** One action in progress. */
export interface JournalEntry {
  actionId: string;
  /** Action type as received (`create`, `start`, …). */
  type: string;
  /** The VM's UUID (lower case) when the action named a valid one. */
  vmUuid?: string;
  /** Where its statuses go. */
  callbackUrl: string;
  /** ISO time the action started. */
  started: string;
}

/** Records actions in progress; see the module comment. */
export class ActionJournal {
  constructor(
    /** The journal folder, e.g. `<storageRoot>/journal`. */
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** Creates the folder (0700) and removes half-written files. */
  async open(): Promise<void> {
    await ensureDir(this.dir, 0o700);
    await removeTemporaryFiles(this.dir);
  }

  /** Records `entry` durably. @throws the file-system error; InputError for an action id unfit for a file name. */
  async record(entry: JournalEntry): Promise<void> {
    await writeFileDurably(this.dir, this.fileName(entry.actionId), JSON.stringify(entry), 0o600);
  }

  /** Removes the entry of `actionId` (no error when it is absent). */
  async remove(actionId: string): Promise<void> {
    await removeFileDurably(this.dir, this.fileName(actionId));
  }

  /** Every entry on disk, oldest start first. Unreadable files are logged and skipped (left in place). */
  async list(): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(TEMP_PREFIX) || !name.endsWith('.json')) continue;
      try {
        const e = JSON.parse(await readFile(path.join(this.dir, name), 'utf8')) as Partial<JournalEntry>;
        if (typeof e.actionId !== 'string' || !ACTION_ID_PATTERN.test(e.actionId) || typeof e.callbackUrl !== 'string' || typeof e.type !== 'string') {
          throw new Error('not a journal entry');
        }
        out.push({ actionId: e.actionId, type: e.type, callbackUrl: e.callbackUrl, started: String(e.started ?? ''), ...(typeof e.vmUuid === 'string' ? { vmUuid: e.vmUuid } : {}) });
      } catch (err) {
        this.logger.error('action journal: unreadable entry skipped', { file: name, error: describeError(err) });
      }
    }
    return out.sort((a, b) => a.started.localeCompare(b.started));
  }

  private fileName(actionId: string): string {
    if (!ACTION_ID_PATTERN.test(actionId)) throw new Error(`action id unfit for a journal file name: ${JSON.stringify(actionId.slice(0, 80))}`);
    return `${actionId}.json`;
  }
}
