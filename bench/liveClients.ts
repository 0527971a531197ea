// Child process of the console benchmark: N socket.io clients, as browsers would be, in a
// process of their own so that their decoding does not compete with the server's event loop.
// Reports per-event latencies (arrival − engine publish time) when told to stop.
import { io as connectClient, type Socket } from "socket.io-client";
import type { LiveTxEvent } from "../server/live/protocol";
import { percentile } from "./stats";

const [url, count] = [process.argv[2]!, Number(process.argv[3])];
const received = Array.from({ length: count }, () => new Set<string>());
const latencies: number[] = [];
const clients: Socket[] = [];
for (let i = 0; i < count; i++) {
  const socket = connectClient(url, { transports: ["websocket"], auth: { rooms: ["transactions"] } });
  socket.on("tx.updated", (events: LiveTxEvent[]) => {
    const now = Date.now();
    for (const e of events) {
      received[i]!.add(e.id);
      latencies.push(now - e.at);
    }
  });
  clients.push(socket);
}
await Promise.all(clients.map((c) => new Promise<void>((r) => (c.connected ? r() : c.once("connect", () => r())))));
process.send!({ type: "ready" });
process.on("message", (msg: { type: string; sent: string[] }) => {
  if (msg.type !== "report") return;
  const lost = received.reduce((sum, s) => sum + msg.sent.filter((id) => !s.has(id)).length, 0);
  latencies.sort((a, b) => a - b);
  const [p50, p95] = [percentile(latencies, 50), percentile(latencies, 95)];
  process.send!({ type: "report", p50, p95, deliveries: latencies.length, lost }, () => process.exit(0));
  for (const c of clients) c.disconnect();
});
