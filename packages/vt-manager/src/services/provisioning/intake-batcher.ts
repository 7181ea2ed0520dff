/**
 * Group commit of `send`'s durable intake (decision 039): the rows of every `send` that arrives while a write is
 * under way (or within the same tick) are written together by the next write, one multi-row INSERT, and each `send`
 * is answered only after that write committed. A failed write rejects every `send` of its batch (one statement:
 * nothing of it is stored).
 *
 * Policy: one write at a time; a batch takes whole sends in arrival order up to {@link BatcherOptions.maxRows} rows
 * (a single send larger than that is written alone; the rows of one send are never split), so ids follow arrival.
 */

/** Options of {@link IntakeBatcher}. */
export interface BatcherOptions {
  /** Most rows per write (a larger single send is written alone). Default 256. */
  maxRows?: number;
}

/** Writes one batch of rows in one statement; resolves with their ids in order, or rejects with nothing stored. */
export type BatchWrite<R> = (rows: readonly R[]) => Promise<number[]>;

interface Pending<R> {
  rows: readonly R[];
  resolve: (ids: number[]) => void;
  reject: (err: unknown) => void;
}

/** Collects rows of concurrent callers into shared writes (see the file comment). */
export class IntakeBatcher<R> {
  private readonly maxRows: number;
  private readonly queue: Array<Pending<R>> = [];
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly write: BatchWrite<R>,
    options: BatcherOptions = {},
  ) {
    this.maxRows = Math.max(1, options.maxRows ?? 256);
  }

  /** True while a write is under way or rows wait for one. */
  get busy(): boolean {
    return this.writing || this.queue.length > 0;
  }

  /**
   * Queues `rows` (one caller's, kept together) for the next write. Resolves with their ids (in order) once the
   * write committed.
   * @throws (rejects with) the write's error, the same for every caller of that write.
   */
  add(rows: readonly R[]): Promise<number[]> {
    if (rows.length === 0) return Promise.resolve([]);
    return new Promise<number[]>((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.schedule();
    });
  }

  /** Starts a write on the next turn of the event loop unless one is under way (it starts the next itself). */
  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Writes one batch, then the next if more rows arrived meanwhile. */
  private async flush(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch: Array<Pending<R>> = [];
    let n = 0;
    while (this.queue.length > 0 && (batch.length === 0 || n + this.queue[0]!.rows.length <= this.maxRows)) {
      const p = this.queue.shift()!;
      batch.push(p);
      n += p.rows.length;
    }
    try {
      const ids = await this.write(batch.flatMap((p) => p.rows));
      if (ids.length !== n) throw new Error(`the intake write returned ${ids.length} ids for ${n} rows`);
      let at = 0;
      for (const p of batch) {
        p.resolve(ids.slice(at, at + p.rows.length));
        at += p.rows.length;
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.writing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
