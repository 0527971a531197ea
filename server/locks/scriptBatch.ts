// Coalesces the calls of one batch-native lock script made in the same event-loop turn
// into a single EVALSHA (the group commit of the lock service). Each caller still gets
// its answer in one round trip; the fixed cost of a command (on the client: building,
// writing and parsing it; in Redis: EVALSHA, TIME, the script's helpers) is paid once
// per batch instead of once per lock. With 64 transactions taking locks at once that is
// most of the cost of a lock.
//
// Unlike the coordinator log's GroupCommit, a batch does not wait for the previous one:
// ioredis pipelines commands on the connection already, so waiting would only add a
// round trip of latency.

interface Pending<I, O> {
  item: I;
  resolve(out: O): void;
  reject(err: unknown): void;
}

export class ScriptBatch<I, O> {
  private queue: Pending<I, O>[] = [];

  constructor(
    /** Runs one script call for the items and returns one result per item, in order. */
    private readonly run: (items: I[]) => Promise<O[]>,
    /** 1 on Redis Cluster: one script's keys must share a slot, and two locks' keys need not. */
    private readonly maxBatch: number,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // After this turn's promise callbacks: every transaction woken by the same reply
      // batch gets its call into the same script call.
      if (this.queue.length === 1) process.nextTick(() => this.flush());
    });
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let work: Promise<O[]>;
      try {
        work = this.run(batch.map((p) => p.item));
      } catch (err) {
        work = Promise.reject(err);
      }
      work.then(
        (outs) => batch.forEach((p, i) => p.resolve(outs[i] as O)),
        (err: unknown) => batch.forEach((p) => p.reject(err)),
      );
    }
  }
}
