// The console's sections as Overview tiles. A section without a page yet (href null) says so
// instead of linking nowhere; whoever adds the page sets its href here, as in
// components/shell/MainNav.tsx.

export interface Section {
  title: string;
  href: string | null;
  blurb: string;
}

export const SECTIONS: Section[] = [
  { title: "Transactions", href: "/transactions", blurb: "Every transaction, filtered and live" },
  { title: "In doubt", href: "/in-doubt", blurb: "Prepared branches waiting for an outcome" },
  { title: "Locks", href: "/locks", blurb: "Held locks, waiters and deadlocks" },
  { title: "Queues", href: "/queues", blurb: "Phase-2 delivery, outbox and dead letters" },
  { title: "Ring", href: "/ring", blurb: "Shard placement and rebalancing" },
];
