// Operator actions as the console runs them: the runtime's clients. The actions write their
// own audit trail (which also puts each action into the transaction's timeline).
import { getRuntime } from "../runtime";
import type { OpsDeps } from "./actions";

export function consoleOpsDeps(): OpsDeps {
  const runtime = getRuntime();
  return {
    prisma: runtime.prisma,
    pool: runtime.pool,
    shards: new Map(runtime.shards.map((s) => [s.name, s])),
    engine: runtime.engine,
  };
}
