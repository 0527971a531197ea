import { describe, expect, it } from "vitest";
import { named, sql } from "./sql";

describe("sql", () => {
  it("numbers parameters in order", () => {
    const q = sql`SELECT ${1}::int, ${"a"}::text WHERE x = ${null}`;
    expect(q.text).toBe("SELECT $1::int, $2::text WHERE x = $3");
    expect(q.values).toEqual([1, "a", null]);
  });

  it("embeds fragments with their parameters renumbered, however deep", () => {
    const inner = sql`b = ${"B"}`;
    const middle = sql`a = ${"A"} AND ${inner}`;
    const q = sql`SELECT ${0} WHERE ${middle} AND c = ${"C"} OR ${inner}`;
    expect(q.text).toBe("SELECT $1 WHERE a = $2 AND b = $3 AND c = $4 OR b = $5");
    expect(q.values).toEqual([0, "A", "B", "C", "B"]);
  });

  it("keeps arrays and objects as single parameters", () => {
    const q = sql`SELECT ${[1, 2]}::int[], ${{ text: "not a fragment", values: [] }}::jsonb`;
    expect(q.text).toBe("SELECT $1::int[], $2::jsonb");
    expect(q.values).toEqual([[1, 2], { text: "not a fragment", values: [] }]);
  });

  it("names a statement without changing it, and a named statement still embeds", () => {
    const q = named("s", sql`SELECT ${1}`);
    expect(q).toMatchObject({ name: "s", text: "SELECT $1", values: [1] });
    expect(sql`WITH x AS (${q}) SELECT ${2}`.text).toBe("WITH x AS (SELECT $1) SELECT $2");
  });
});
