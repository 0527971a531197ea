// GET /api/ring: the current ring, shares of the circle and of the stored accounts,
// imbalance, sample keys and the rebalance runs (viewer).
import { api } from "@/server/http/api";
import { consoleRingView } from "@/server/ring/consoleRing";
import { ringOverview } from "@/server/ring/ringView";

export const GET = api({ role: "viewer" }, async () => ringOverview(await consoleRingView()));
