// An ioredis client without an "error" listener prints "Unhandled error event" on every
// reconnect attempt (115 lines in one Redis outage, issue 10). Every client the console
// makes gets this listener instead: the first error of an outage is logged with its cause,
// the retries are not, and the recovery is logged once.
import type { Redis } from "ioredis";
import { errorMessage } from "../errors";

export function logRedisErrors(client: Redis, label: string, log: (line: string) => void): void {
  let down = false;
  client.on("error", (err: unknown) => {
    if (down) return;
    down = true;
    log(`[redis] ${label}: connection lost (${errorMessage(err).split("\n")[0]!.slice(0, 200)}); retrying quietly`);
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    log(`[redis] ${label}: connected again`);
  });
}
