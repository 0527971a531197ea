// npm run bench -- [engine|recovery|console|locks|ring|queues …] [--json] [--seconds S]
import { loadConfig } from "../server/config";
import { benchUsage, parseBenchArgs, runCli } from "../scripts/cli";
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

runCli("bench", async () => {
  const args = parseBenchArgs(process.argv.slice(2), Object.keys(suites) as (keyof typeof suites)[]);
  if (args.help) return console.log(benchUsage(Object.keys(suites)));
  const say = (line: string) => {
    if (!args.json) console.error(line);
  };
  const config = loadConfig();
  for (const name of args.suites) {
    const result = await suites[name](config, { seconds: args.seconds, say });
    console.log(args.json ? JSON.stringify(result) : `${name}: ${JSON.stringify(result)}`);
  }
});
