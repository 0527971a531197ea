import { getSourceHealthMonitor } from "@/server/console/sourceHealth";
import { api } from "@/server/http/api";
import type { LiveSourceHealth } from "@/server/live/protocol";

/**
 * GET /api/sources — which sources the console can reach (the same figures the socket pushes
 * as "sources.health"). Without a monitor in this process (a console started without
 * startConsole) nothing is known: an empty list. While the coordinator database is down the
 * session check itself answers 503 SOURCE_UNAVAILABLE naming it, which says the same.
 */
export const GET = api({ role: "viewer" }, async (): Promise<LiveSourceHealth> => {
  const monitor = getSourceHealthMonitor();
  return monitor ? monitor.current() : { sources: [], checkedAt: new Date().toISOString() };
});
