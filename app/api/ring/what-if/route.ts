// GET /api/ring/what-if?op=add|remove|reweight&shard=…&weight=…: what the change would
// move, computed on the current ring and the stored accounts. Changes nothing (viewer).
import { api } from "@/server/http/api";
import { consoleRingView } from "@/server/ring/consoleRing";
import { ringChangeSchema } from "@/server/ring/ringChange";
import { ringWhatIf } from "@/server/ring/ringView";

export const GET = api({ role: "viewer", query: ringChangeSchema }, async ({ query }) =>
  ringWhatIf(await consoleRingView(), query),
);
