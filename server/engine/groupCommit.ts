// Group commit for coordinator-log writes (Gray & Reuter, ch. 9): concurrent transactions
// that need the same kind of log write share one statement. While one batch is being
// written the next one fills up, so batches grow with load and cost nothing when idle.
// On this kind of machine a round trip costs more CPU than the SQL it carries, so this is
// what keeps the coordinator from dominating the cost of a transaction.

interface Pending<I, O> {
  item: I;
  resolve(out: O): void;
  reject(err: unknown): void;
}

/**
 * Errors that say nothing about the items: the connection or the server failed. Writing the
 * items one by one would only fail again, slower. (A batch cut off mid-statement is rolled
 * back whole; the callers treat any failed write as "maybe written" and re-read the log.)
 */
function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return true;
  // SQLSTATE classes 08 connection exception, 53 insufficient resources, 57 operator
  // intervention (shutdown, statement timeout, terminated), 58 system error.
  return /^(08|53|57|58)/.test(code) || /^E[A-Z]+$/.test(code);
}

function rejectAll<I, O>(batch: Pending<I, O>[], err: unknown): void {
  for (const p of batch) p.reject(err);
}

export class GroupCommit<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  private readonly opts: { maxBatch: number; maxInFlight: number; lingerMs: number };

  constructor(
    /** Writes a batch and returns one result per item, in order. */
    private readonly write: (items: I[]) => Promise<O[]>,
    /**
     * `lingerMs`: how long the first item of a batch waits for others. Zero (the default)
     * for writes someone waits for; records nobody waits for (the end record) linger, since
     * on this kind of machine a statement's fixed cost outweighs its rows several times over.
     */
    opts: { maxBatch?: number; maxInFlight?: number; lingerMs?: number } = {},
  ) {
    this.opts = { maxBatch: opts.maxBatch ?? 256, maxInFlight: opts.maxInFlight ?? 2, lingerMs: opts.lingerMs ?? 0 };
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) {
        this.flush();
        return;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        const go = () => {
          this.scheduled = false;
          this.flush();
        };
        // Let every callback of this event-loop turn add its item before the first flush.
        if (this.opts.lingerMs > 0) setTimeout(go, this.opts.lingerMs).unref();
        else setImmediate(go);
      }
    });
  }

  private flush(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      this.write(batch.map((p) => p.item))
        .then(
          (outs) => batch.forEach((p, i) => p.resolve(outs[i] as O)),
          (err: unknown) => (batch.length > 1 && !isConnectionFailure(err) ? this.writeAlone(batch) : rejectAll(batch, err)),
        )
        .finally(() => {
          this.inFlight--;
          this.flush();
        });
    }
  }

  /**
   * One bad item (a value the database refuses) must never fail the unrelated transactions
   * that happened to share its statement: after a data error, each is written on its own.
   */
  private async writeAlone(batch: Pending<I, O>[]): Promise<void> {
    await Promise.all(
      batch.map((p) =>
        this.write([p.item]).then(
          (outs) => p.resolve(outs[0] as O),
          (err: unknown) => p.reject(err),
        ),
      ),
    );
  }
}
