import { describe, expect, it } from "vitest";
import { loadConfig } from "./config";

describe("loadConfig", () => {
  it("gives the demo's defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: "localhost",
      COHORT_DATA_DIR: ".cohort",
      COHORT_SHARDS: 4,
      SIM_ENABLED: "1",
      COHORT_NAMESPACE: "cohort",
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it("parses shard lists", () => {
    expect(loadConfig({ SHARD_URLS: "a=postgres://h/a; b=postgresql://h/b" }).SHARD_URLS).toEqual([
      { name: "a", url: "postgres://h/a" },
      { name: "b", url: "postgresql://h/b" },
    ]);
  });

  it("reports every bad variable on one line, by name, without echoing URLs", () => {
    const bad = () => loadConfig({ PORT: "abc", DATABASE_URL: "mysql://u:secret@h/db", SIM_RATE: "-1" });
    expect(bad).toThrow(
      /^invalid environment: DATABASE_URL must be a postgres:\/\/ URL; PORT must be a whole number; SIM_RATE must be at least 0$/,
    );
    expect(bad).not.toThrow(/secret/);
    expect(() => loadConfig({ PORT: "70000" })).toThrow("invalid environment: PORT must be at most 65535");
    expect(() => loadConfig({ COHORT_QUEUE_RECLAIM_IDLE_MS: "5000" })).toThrow(
      "COHORT_QUEUE_RECLAIM_IDLE_MS must be at least 10001",
    );
  });

  it("takes a short deployment namespace and refuses what would break gids or keys", () => {
    expect(loadConfig({ COHORT_NAMESPACE: "blue-2" }).COHORT_NAMESPACE).toBe("blue-2");
    expect(loadConfig({ COHORT_NAMESPACE: "n".repeat(31) }).COHORT_NAMESPACE).toHaveLength(31);
    for (const bad of ["", "Blue", "a:b", "2a", "a b", "a%", "n".repeat(32)]) {
      expect(() => loadConfig({ COHORT_NAMESPACE: bad }), bad).toThrow(
        /^invalid environment: COHORT_NAMESPACE must be 1-31 characters/,
      );
    }
  });
});
