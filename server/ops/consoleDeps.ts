// Operator actions as the console runs them: the runtime's clients plus the audit trail
// (which also writes each action into the transaction's own timeline).
import { recordAudit } from "../audit/audit";
import { getRuntime } from "../runtime";
import type { OpsDeps } from "./actions";

export function consoleOpsDeps(): OpsDeps {
  const runtime = getRuntime();
  return {
    prisma: runtime.prisma,
    pool: runtime.pool,
    shards: new Map(runtime.shards.map((s) => [s.name, s])),
    engine: runtime.engine,
    audit: async (record) => {
      await recordAudit(runtime.prisma, record);
    },
  };
}
