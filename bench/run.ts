// npm run bench -- <engine|recovery|console|locks|ring|queues> [--json] [--seconds S]
import { parseArgs } from "node:util";
import { loadConfig } from "../server/config";
import { errorMessage } from "../server/errors";
import { benchConsole } from "./console";
import { benchEngine } from "./engine";
import { benchLocks } from "./locks";
import { benchQueues } from "./queues";
import { benchRecovery } from "./recovery";
import { benchRing } from "./ring";

const suites = {
  engine: benchEngine,
  recovery: benchRecovery,
  console: benchConsole,
  locks: benchLocks,
  ring: benchRing,
  queues: benchQueues,
} as const;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: "boolean", default: false }, seconds: { type: "string", default: "10" } },
});
const names = positionals.length ? positionals : Object.keys(suites);
const unknown = names.filter((n) => !(n in suites));
const seconds = Number(values.seconds);
if (unknown.length || !(seconds > 0)) {
  console.error(
    `usage: npm run bench -- [${Object.keys(suites).join("|")}] [--json] [--seconds S]${unknown.length ? `\nunknown suite: ${unknown.join(", ")}` : ""}`,
  );
  process.exit(2);
}
const say = (line: string) => {
  if (!values.json) console.error(line);
};
try {
  const config = loadConfig();
  for (const name of names) {
    const result = await suites[name as keyof typeof suites](config, { seconds, say });
    console.log(values.json ? JSON.stringify(result) : `${name}: ${JSON.stringify(result)}`);
  }
  process.exit(0);
} catch (err) {
  console.error(`bench: ${errorMessage(err)}`);
  process.exit(1);
}
