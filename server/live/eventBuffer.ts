// The engine's side of live updates: transaction state changes are buffered for a few
// milliseconds and appended in one pipeline, keeping only the latest state of each
// transaction. Browsers coalesce per frame anyway (DESIGN.md §6), so a state that lasts
// less than the window (PREPARING for 3 ms) costs a Redis write that nobody would see.
import type { Redis } from "ioredis";
import { EVENTS_MAXLEN, encodeEvent, eventsStream, type CohortEvent } from "./events";

type TxEvent = Extract<CohortEvent, { type: "tx.updated" }>;

export class TxEventBuffer {
  private pending = new Map<string, TxEvent>();
  private timer: NodeJS.Timeout | null = null;

  private readonly stream: string;

  constructor(
    private readonly redis: Redis,
    namespace: string,
    private readonly windowMs = 20,
  ) {
    this.stream = eventsStream(namespace);
  }

  push(event: TxEvent): void {
    this.pending.delete(event.id); // re-insert so the order is that of the latest change
    this.pending.set(event.id, event);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.windowMs);
      this.timer.unref();
    }
  }

  /** Appends what is buffered. Losing events must never fail a transaction, so errors are dropped. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    const pipeline = this.redis.pipeline();
    for (const event of batch) pipeline.xadd(this.stream, "MAXLEN", "~", String(EVENTS_MAXLEN), "*", "e", encodeEvent(event));
    await pipeline.exec().catch(() => undefined);
  }
}
