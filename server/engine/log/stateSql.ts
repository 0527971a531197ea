// The state sets of states.ts as SQL, for the statements that enforce them. The states are
// written in as literals, not parameters: a named statement's text stays fixed, and the
// planner sees the values as it did when they were spelled out by hand.
import { sql, type SqlQuery } from "../../db/sql";
import { DELIVERING_STATES, IN_DOUBT_STATES, UNDECIDED_STATES, UNRESOLVED_BRANCH_STATES } from "./states";

const COLUMN = /^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;
const STATE = /^[A-Z_]+$/;

/** `<column> IN ('A', 'B')`. `column` may carry a table alias (`t.status`). */
export function statusIn(column: string, states: readonly string[]): SqlQuery {
  if (!COLUMN.test(column) || states.length === 0 || !states.every((s) => STATE.test(s)))
    throw new Error(`statusIn: not a column and a set of states: ${column}, ${states.join(", ")}`);
  return sql([`${column} IN (${states.map((s) => `'${s}'`).join(", ")})`]);
}

const column = (alias: string | undefined, name: string) => (alias ? `${alias}.${name}` : name);

/** The abort rule (states.ts `mayAbort`) as the compare-and-set of every ABORT decision checks it. */
export function mayAbortSql(alias?: string): SqlQuery {
  return sql`${statusIn(column(alias, "status"), UNDECIDED_STATES)} AND ${sql([column(alias, "decision")])} IS NULL AND NOT ${sql([column(alias, "one_phase")])}`;
}

/** A transaction whose logged decision phase two is delivering. */
export const deliveringSql = (alias?: string): SqlQuery => statusIn(column(alias, "status"), DELIVERING_STATES);

/** A transaction that may have prepared branches waiting for an outcome (states.ts IN_DOUBT_STATES). */
export const inDoubtStateSql = (alias?: string): SqlQuery => statusIn(column(alias, "status"), IN_DOUBT_STATES);

/** A branch with no outcome yet. */
export const unresolvedBranchSql = (alias?: string): SqlQuery => statusIn(column(alias, "status"), UNRESOLVED_BRANCH_STATES);
