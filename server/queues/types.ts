// Shapes shared by the queue workers, the figures collector, the operator actions and the
// console's Queues page. Times are milliseconds; ids are Redis stream ids ("ms-seq").

/** One consumer of a stream's group (XINFO CONSUMERS). */
export interface ConsumerFigures {
  name: string;
  pending: number;
  /** Since the consumer last read or claimed anything. */
  idleMs: number;
  /** Since its last successful read (Redis ≥ 7.2 reports it; null before). */
  inactiveMs: number | null;
}

/** One consumer group of a stream (XINFO GROUPS, XPENDING). */
export interface GroupFigures {
  name: string;
  /** Entries added to the stream that this group has not read yet; null when Redis cannot tell (after deletions). */
  lag: number | null;
  /** Read but not acknowledged. */
  pending: number;
  /** Entries this group ever read (XINFO GROUPS entries-read): with `pending`, the "out" counter for rates. */
  entriesRead: number | null;
  /** Idle time of the longest-waiting pending entry (among the first 100 pending), or null with none pending. */
  oldestPendingIdleMs: number | null;
  /** Highest delivery count among the pending entries looked at. */
  maxDeliveries: number;
  /** Pending entries by delivery count: {"1": 12, "2": 3, ...}. */
  deliveryHistogram: Record<string, number>;
  consumers: ConsumerFigures[];
  lastDeliveredId: string;
}

/** A Redis stream Cohort uses, with its groups and dead-letter stream. */
export interface StreamFigures {
  source: "redis";
  /** Full key, e.g. "cohort:q:phase2". */
  stream: string;
  /** What it carries, for people: "phase-2 delivery", "outbox", … */
  kind: "phase2" | "outbox" | "other";
  length: number;
  /** XINFO STREAM entries-added: total ever added (the "in" counter for rates). */
  entriesAdded: number;
  lastId: string;
  groups: GroupFigures[];
  /** Length of `<stream>:dead`. */
  deadLetters: number;
}

/** A RabbitMQ queue watched beside the streams (server/queues/rabbit.ts). */
export interface RabbitQueueFigures {
  source: "rabbitmq";
  name: string;
  vhost: string;
  /** Messages ready for delivery (AMQP queue.declare-ok message_count). */
  ready: number | null;
  /** Delivered, not yet acknowledged: only the management API reports it; null without one. */
  unacknowledged: number | null;
  consumers: number | null;
  /** Why the figures are missing (broker unreachable, queue not found); null when fine. */
  error: string | null;
}

/** One point of a stream's time series (server/queues/sampler.ts), kept in Redis. */
export interface QueueSample {
  at: number;
  length: number;
  /** Sum of the groups' lag (null lags count as 0). */
  lag: number;
  pending: number;
  deadLetters: number;
  /** Entries added per second since the previous sample. */
  inPerS: number;
  /** Entries acknowledged per second since the previous sample (read − pending growth), summed over groups. */
  outPerS: number;
}

/** A pending entry of one group, as the Queues page lists it. */
export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
  /** The entry's fields; null when the entry was deleted from the stream while pending. */
  fields: Record<string, string> | null;
  /** The error of its last failed delivery, if any. */
  lastError: string | null;
}

/** An entry of `<stream>:dead`. */
export interface DeadLetter {
  id: string;
  /** The original entry's fields (metadata removed). */
  fields: Record<string, string>;
  originalId: string;
  group: string;
  deliveries: number;
  error: string;
  /** Who moved it there: "queue" after the delivery limit, or "operator:<name>". */
  by: string;
  at: number;
}
