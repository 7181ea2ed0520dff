/**
 * The agent's on-disk outbox of status messages (docs/architecture.md decision 6): every provisioning status (ONGOING,
 * SUCCESS, FAILED) and every libvirt event is first written durably to `<storageRoot>/outbox/`, then delivered
 * (`sendAsync` on its callback URL) with exponential backoff until the manager accepts it. A manager that is down
 * for a minute, or an agent restart, loses no status.
 *
 * - One file per message, named `<17-digit stamp>.json`: the stamp is max(now in µs, last stamp + 1), also across
 *   restarts (the loader continues after the highest stamp on disk), so names sort in enqueue order. Content:
 *   `{ v: 1, callbackUrl, rspecXml, attempts, createdAt, label }`. Files and the folder are 0600/0700: callback
 *   URLs carry the manager's credentials. Written with temp name + fsync + rename (durable-file.ts).
 * - Delivery is in order per callback URL, one message at a time per URL (so a VM's ONGOING always reaches the
 *   manager before its SUCCESS, and a domain's events keep libvirt's order); different URLs do not wait for each
 *   other. A file is deleted only after the call succeeded (XML-RPC success), in the background and in delivery
 *   order (the next message does not wait for it; see `drain`). The call starts while the file is
 *   still being written (decision 038); `enqueue` resolves only once it is on disk, as before.
 * - One exception to the order (decision 038): a status of kind `result` (a create's or start's SUCCESS) does not wait behind
 *   libvirt events (kind `event`) queued after the status message queued before it (its own ONGOING, or a later
 *   status of another action): those events are what the action itself caused (`Defined`, `Resumed`, `Started`…),
 *   the manager ignores events about a VM while its action is in flight, and they follow right after. Events
 *   queued before that barrier, and every status, still go first. Events keep their order among themselves.
 * - Retries: delays `initialDelayMs`·2^(n-1), capped at `maxDelayMs` (default 0.5 s … 30 s), with no attempt limit
 *   for transport failures (manager down, timeout, TLS, HTTP errors). Exception, so that one message can never
 *   block a URL for ever: when the manager *answered* with an XML-RPC fault (it received the message and refused
 *   it, e.g. a status for a create it already failed and removed) `maxRefusals` times in a row, the file is moved
 *   to `outbox/rejected/` (kept for the operator, logged as an error) and the next message goes.
 * - Bound: at most `maxMessages` (default 10000) messages wait. Beyond, {@link StatusOutbox.enqueue} refuses the
 *   new message (OutboxFullError, logged): the oldest are kept, because dropping an old ONGOING or event would
 *   reorder what the manager sees, and the manager's job deadline fails an action whose status never comes.
 * - Files that do not parse are moved to `rejected/` at load. Temporary files of a writer killed mid-write are
 *   deleted at load.
 */
import { readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { redactCredentials } from '@kvm-crm/shared/redact';
import { XmlRpcFaultError } from '@kvm-crm/shared/xmlrpc';
import type { StatusKind, StatusReporter, StatusSender } from './ports.js';
import { ensureDir, removeFileDurably, removeTemporaryFiles, TEMP_PREFIX, writeFileDurably } from './durable-file.js';

/** Options of {@link StatusOutbox}. */
export interface StatusOutboxOptions {
  logger: Logger;
  /** First retry delay. Default 500 ms. */
  initialDelayMs?: number;
  /** Longest retry delay. Default 30 000 ms. */
  maxDelayMs?: number;
  /** Messages waiting at most; more are refused. Default 10 000. */
  maxMessages?: number;
  /** XML-RPC faults in a row after which a message is set aside in `rejected/`. Default 5. */
  maxRefusals?: number;
  /** Clock in ms (tests). Default Date.now. */
  now?: () => number;
}

/** {@link StatusOutbox.enqueue} refused a message because the outbox is full. */
export class OutboxFullError extends Error {}

/** What one outbox file holds. */
interface StoredMessage {
  v: 1;
  callbackUrl: string;
  rspecXml: string;
  attempts: number;
  createdAt: string;
  /** Free text for the logs (e.g. `action 42 SUCCESS`). */
  label?: string;
  /** Absent in files of earlier versions: `progress`. */
  kind?: StatusKind;
  /** `result` only: the file name of the status message queued to the same URL before it; events queued after it may be overtaken. */
  barrier?: string;
}

interface Entry {
  file: string;
  message: StoredMessage;
  /** Resolves once the file is on disk; rejects when it could not be written. */
  written: Promise<void>;
  refusals: number;
}

const FILE_PATTERN = /^\d{17}\.json$/;

/** The durable outbox of status documents (see the module comment); opened with {@link StatusOutbox.open}. */
export class StatusOutbox {
  private readonly entries = new Map<string, Entry>();
  /** File names per callback URL, in delivery order. */
  private readonly queues = new Map<string, string[]>();
  private readonly running = new Map<string, Promise<void>>();
  /** Per URL: wakes its idle delivery run (waiting for its deletions) when a message is added. */
  private readonly wakers = new Map<string, () => void>();
  /** Per URL: the file name of the last status (not event) message queued, the barrier of the next `result`. */
  private readonly lastStatus = new Map<string, string>();
  private readonly sleeping = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly log: Logger;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxMessages: number;
  private readonly maxRefusals: number;
  private readonly now: () => number;
  private lastStamp = 0;
  private closed = false;
  private delivered = 0;

  private constructor(
    /** The outbox folder. */
    readonly dir: string,
    private readonly sender: StatusSender,
    options: StatusOutboxOptions,
  ) {
    this.log = options.logger;
    this.initialDelayMs = options.initialDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.maxMessages = options.maxMessages ?? 10_000;
    this.maxRefusals = options.maxRefusals ?? 5;
    this.now = options.now ?? Date.now;
  }

  /**
   * Opens (creating it 0700) the outbox folder, loads the messages a previous run left and starts delivering them.
   * @throws when the folder cannot be created or read.
   */
  static async open(dir: string, sender: StatusSender, options: StatusOutboxOptions): Promise<StatusOutbox> {
    const outbox = new StatusOutbox(dir, sender, options);
    await outbox.load();
    return outbox;
  }

  /** Messages not yet delivered (or set aside). */
  get pending(): number {
    return this.entries.size;
  }

  /** Messages delivered since this instance opened. */
  get deliveredCount(): number {
    return this.delivered;
  }

  /**
   * Writes the message durably, queues it behind earlier messages to the same URL and returns once it is on disk
   * (delivery goes on in the background).
   * @throws OutboxFullError when `maxMessages` wait already; the file-system error when it cannot be written; an
   *   Error after {@link close}.
   */
  async enqueue(callbackUrl: string, rspecXml: string, label?: string, kind: StatusKind = 'progress'): Promise<void> {
    if (this.closed) throw new Error('the status outbox is closed');
    if (this.entries.size >= this.maxMessages) {
      const err = new OutboxFullError(`the status outbox is full (${this.maxMessages} messages wait): message refused`);
      this.log.error('status outbox full: message refused', { pending: this.entries.size, label, callbackUrl: redactCredentials(callbackUrl) });
      throw err;
    }
    const file = `${this.nextStamp()}.json`;
    const barrier = kind === 'result' ? this.lastStatus.get(callbackUrl) : undefined;
    const message: StoredMessage = {
      v: 1, callbackUrl, rspecXml, attempts: 0, createdAt: new Date(this.now()).toISOString(), ...(label ? { label } : {}),
      ...(kind !== 'progress' ? { kind } : {}), ...(barrier ? { barrier } : {}),
    };
    // Queued in memory at once (synchronously), so the order is the order of the calls; the delivery loop waits for
    // the file to be written before sending it.
    const written = writeFileDurably(this.dir, file, JSON.stringify(message), 0o600);
    const entry: Entry = { file, message, written, refusals: 0 };
    this.add(entry);
    try {
      await written;
    } catch (err) {
      this.remove(entry);
      throw err;
    }
  }

  /**
   * A {@link StatusReporter} whose `report` resolves true once the message is durably queued (not delivered); its
   * `kind` argument (default `progress`) sets the message's {@link StatusKind}.
   */
  asReporter(): StatusReporter {
    return {
      report: (callbackUrl, rspecXml, kind) =>
        this.enqueue(callbackUrl, rspecXml, undefined, kind).then(
          () => true,
          (err: unknown) => {
            this.log.error('status not queued', { error: describeError(err) });
            return false;
          },
        ),
    };
  }

  /** Resolves when every queued message has been delivered or set aside (tests). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Stops delivering (a call in progress finishes); undelivered messages stay on disk for the next start.
   * @throws nothing.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sleeping) {
      clearTimeout(s.timer);
      s.wake();
    }
    await Promise.allSettled([...this.running.values()]);
  }

  private nextStamp(): string {
    this.lastStamp = Math.max(this.now() * 1000, this.lastStamp + 1);
    return String(this.lastStamp).padStart(17, '0');
  }

  private async load(): Promise<void> {
    await ensureDir(this.dir, 0o700);
    const stale = await removeTemporaryFiles(this.dir);
    if (stale) this.log.warn('status outbox: removed half-written files of a previous run', { files: stale });
    const names = (await readdir(this.dir)).filter((n) => !n.startsWith(TEMP_PREFIX) && n.endsWith('.json')).sort();
    // Added together once all are read, so delivery (which starts at the first add) sees the whole queue: a result
    // goes before the events queued after its barrier (nextIndex) also when its file is read after theirs.
    const loaded: Entry[] = [];
    for (const file of names) {
      let message: StoredMessage | undefined;
      try {
        if (!FILE_PATTERN.test(file)) throw new Error('unexpected file name');
        const parsed = JSON.parse(await readFile(path.join(this.dir, file), 'utf8')) as Partial<StoredMessage>;
        if (parsed.v !== 1 || typeof parsed.callbackUrl !== 'string' || typeof parsed.rspecXml !== 'string') throw new Error('not an outbox message');
        const kind = parsed.kind === 'result' || parsed.kind === 'event' ? parsed.kind : undefined;
        message = {
          v: 1, callbackUrl: parsed.callbackUrl, rspecXml: parsed.rspecXml, attempts: Number(parsed.attempts) || 0, createdAt: String(parsed.createdAt ?? ''),
          ...(parsed.label ? { label: String(parsed.label) } : {}), ...(kind ? { kind } : {}),
          ...(kind === 'result' && typeof parsed.barrier === 'string' && FILE_PATTERN.test(parsed.barrier) ? { barrier: parsed.barrier } : {}),
        };
      } catch (err) {
        this.log.error('status outbox: unreadable file set aside', { file, error: describeError(err) });
        await this.setAside(file);
        continue;
      }
      this.lastStamp = Math.max(this.lastStamp, Number(file.slice(0, 17)));
      loaded.push({ file, message, written: Promise.resolve(), refusals: 0 });
    }
    for (const entry of loaded) this.add(entry);
    if (this.entries.size) this.log.info('status outbox: resuming delivery of messages left by a previous run', { messages: this.entries.size });
  }

  private add(entry: Entry): void {
    this.entries.set(entry.file, entry);
    const url = entry.message.callbackUrl;
    let queue = this.queues.get(url);
    if (!queue) this.queues.set(url, (queue = []));
    queue.push(entry.file);
    if (entry.message.kind !== 'event') this.lastStatus.set(url, entry.file);
    this.wakers.get(url)?.();
    if (!this.running.has(url)) {
      const run: Promise<void> = this.drain(url).finally(() => {
        if (this.running.get(url) === run) this.running.delete(url);
      });
      this.running.set(url, run);
    }
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.file);
    const queue = this.queues.get(entry.message.callbackUrl);
    const i = queue?.indexOf(entry.file) ?? -1;
    if (queue && i >= 0) queue.splice(i, 1);
  }

  /**
   * Delivers the messages of one URL in order until its queue is empty or the outbox closes, and returns once the
   * files of the delivered messages are deleted.
   */
  private async drain(url: string): Promise<void> {
    await Promise.resolve(); // let `add` register this run first
    const queue = this.queues.get(url);
    if (!queue) throw new Error(`outbox: no queue for ${redactCredentials(url)}`); // add() creates it before drain() runs
    // Delivered files are deleted in the background, one after the other in delivery order, so the next message is
    // sent at once instead of after an unlink and a folder fsync (issue #14 goal 3: a start's SUCCESS waited for the
    // deletion of the event delivered before it). A crash can then leave more than one delivered file, always the
    // latest ones in delivery order: sent again, in that order, after the restart (the manager ignores a repeated
    // status; replayed events end in the same state).
    let deleting: Promise<void> = Promise.resolve();
    for (;;) {
      ({ deleting } = await this.deliverQueue(url, queue, deleting));
      if (this.closed) {
        await deleting;
        break;
      }
      if (queue.length) continue;
      // The queue is empty: wait for the deletions to end, or for a message added meanwhile, which is then sent at
      // once (its deletion queued behind the others) instead of after them.
      const deleted = deleting.then(() => 'deleted' as const);
      const added = new Promise<'added'>((resolve) => this.wakers.set(url, () => resolve('added')));
      const why = await Promise.race([deleted, added]);
      this.wakers.delete(url);
      if (why === 'deleted' && !queue.length) break;
    }
    // Synchronously after the last check: a message added from now on starts a new run.
    if (!queue.length && this.queues.get(url) === queue) this.queues.delete(url);
    this.running.delete(url);
  }

  /** The delivery loop of {@link drain}; returns the chain of the deletions it queued behind `deleting`. */
  private async deliverQueue(url: string, queue: string[], deleting: Promise<void>): Promise<{ deleting: Promise<void> }> {
    while (!this.closed && queue.length) {
      const at = this.nextIndex(queue);
      const entry = this.entries.get(queue[at]!);
      if (!entry) {
        queue.splice(at, 1);
        continue;
      }
      // Sent while its file is still being written (decision 038): `enqueue` resolves only once it is on disk,
      // and the file is touched again (deleted, rewritten, set aside) only after that.
      const onDisk = entry.written.then(() => true, () => false);
      const log = this.log.child({ outboxFile: entry.file, ...(entry.message.label ? { label: entry.message.label } : {}) });
      try {
        await this.sender.sendOnce(url, entry.message.rspecXml);
      } catch (err) {
        if (!(await onDisk)) {
          this.remove(entry); // not written: enqueue reports the error
          continue;
        }
        if (this.closed) break;
        entry.message.attempts++;
        const refused = err instanceof XmlRpcFaultError;
        entry.refusals = refused ? entry.refusals + 1 : 0;
        if (refused && entry.refusals >= this.maxRefusals) {
          log.error('status refused by the manager; set aside in outbox/rejected', { attempts: entry.message.attempts, error: describeError(err) });
          await this.setAside(entry.file);
          this.remove(entry);
          continue;
        }
        const delay = Math.min(this.initialDelayMs * 2 ** Math.min(entry.message.attempts - 1, 30), this.maxDelayMs);
        log.log(entry.message.attempts === 1 ? 'warn' : entry.message.attempts % 10 === 0 ? 'error' : 'warn', 'status delivery failed; will retry', {
          attempt: entry.message.attempts, retryInMs: delay, error: describeError(err),
        });
        // The attempt count on disk is informative (logs after a restart); failing to update it changes nothing.
        await writeFileDurably(this.dir, entry.file, JSON.stringify(entry.message), 0o600).catch((e: unknown) =>
          log.warn('status outbox: attempt count not saved', { error: describeError(e) }),
        );
        await this.sleep(delay);
        continue;
      }
      this.delivered++;
      this.remove(entry);
      deleting = deleting.then(async () => {
        if (!(await onDisk)) return; // not written: nothing to delete (enqueue reports the error)
        await removeFileDurably(this.dir, entry.file).catch((err: unknown) =>
          // Delivered but still on disk: sent once more after a restart (the manager ignores a repeated status).
          log.error('status outbox: delivered message not deleted', { error: describeError(err) }),
        );
      });
      if (entry.message.attempts) log.info('status delivered after retries', { attempts: entry.message.attempts + 1 });
    }
    return { deleting };
  }

  /**
   * Which message of a URL's queue goes next: the head, unless the queue starts with events that were all queued
   * after the barrier of the first non-event message and that message is a `result` (module comment): then it.
   */
  private nextIndex(queue: string[]): number {
    const first = this.entries.get(queue[0]!)?.message;
    if (first?.kind !== 'event') return 0;
    const i = queue.findIndex((f) => this.entries.get(f)?.message.kind !== 'event');
    const m = i > 0 ? this.entries.get(queue[i]!)?.message : undefined;
    // File names sort in enqueue order (module comment); a head event queued after the barrier means all are.
    return m?.kind === 'result' && m.barrier !== undefined && queue[0]! > m.barrier ? i : 0;
  }

  private async setAside(file: string): Promise<void> {
    const rejected = path.join(this.dir, 'rejected');
    try {
      await ensureDir(rejected, 0o700);
      await rename(path.join(this.dir, file), path.join(rejected, file));
    } catch (err) {
      this.log.error('status outbox: could not move a file to rejected/', { file, error: describeError(err) });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const s = {
        timer: setTimeout(() => {
          this.sleeping.delete(s);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleeping.add(s);
    });
  }
}

/** A {@link StatusSender} over a {@link StatusReporter} (unit tests that record statuses in memory). */
export function senderFromReporter(reporter: StatusReporter): StatusSender {
  return {
    async sendOnce(callbackUrl, rspecXml) {
      if (!(await reporter.report(callbackUrl, rspecXml))) throw new Error('status not delivered');
    },
  };
}
