// Loads the lock scripts (scripts/<name>-<numKeys>.lua) and defines each once per ioredis
// client with defineCommand: ioredis then sends EVALSHA, and EVAL only when the server
// answers NOSCRIPT (first use on a connection, or after a Redis restart).
//
// <numKeys> is the number of keys per lock. acquire and release take any number of locks
// per call (groups of keys), so every command is defined with a dynamic key count and the
// caller passes it; the file name is still checked against the keys given. The scripts
// that issue fencing tokens (acquire, forceRelease) take the fence hash first, before the
// groups.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster, Redis } from "ioredis";

export type LockRedis = Redis | Cluster;

type Arg = string | number;
type ScriptFn = (...args: Arg[]) => Promise<unknown>;
export type ScriptCall = (keys: readonly string[], args: readonly Arg[]) => Promise<unknown>;

const SCRIPT_NAMES = ["acquire", "release", "renew", "leave", "markVictim", "forceRelease", "inspect", "lease", "epoch"] as const;

/** Keys before the per-lock groups: the fence hash, for the scripts that issue tokens. */
const LEADING_KEYS: Partial<Record<string, number>> = { acquire: 1, forceRelease: 1 };
type ScriptName = (typeof SCRIPT_NAMES)[number];

export type LockScripts = Record<ScriptName, ScriptCall>;

interface ScriptSource {
  name: ScriptName;
  keysPerLock: number;
  lua: string;
}

let sources: ScriptSource[] | null = null;

/** The scripts directory next to this module; from the repository root when bundled elsewhere. */
function scriptsDir(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), "scripts");
  if (fs.existsSync(here)) return here;
  return path.resolve(process.cwd(), "server/locks/scripts");
}

/**
 * Reads every script once per process. `--- @include "name"` lines are replaced by
 * scripts/includes/name.lua (BullMQ's convention), so the scripts share one definition
 * of how holders and waiters are read, pruned and woken.
 */
export function lockScriptSources(): ScriptSource[] {
  if (sources) return sources;
  const dir = scriptsDir();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".lua"));
  sources = SCRIPT_NAMES.map((name) => {
    const file = files.find((f) => f.startsWith(`${name}-`));
    const match = file?.match(/^(.+)-(\d+)\.lua$/);
    if (!file || !match) throw new Error(`lock script ${name}-<numKeys>.lua is missing from ${dir}`);
    const lua = fs
      .readFileSync(path.join(dir, file), "utf8")
      .replace(/^--- @include "([\w-]+)"$/gm, (_, inc: string) =>
        fs.readFileSync(path.join(dir, "includes", `${inc}.lua`), "utf8"),
      );
    return { name, keysPerLock: Number(match[2]), lua };
  });
  return sources;
}

const defined = new WeakSet<object>();

/** Defines the scripts on `redis` (once per client) and returns typed callers. */
export function lockScripts(redis: LockRedis): LockScripts {
  const all = lockScriptSources();
  const commandName = (name: ScriptName) => `cohortLock_${name}`; // never shadows a Redis command
  if (!defined.has(redis)) {
    for (const s of all) redis.defineCommand(commandName(s.name), { lua: s.lua });
    defined.add(redis);
  }
  const calls = {} as LockScripts;
  for (const s of all) {
    const fn = (redis as unknown as Record<string, ScriptFn>)[commandName(s.name)]!;
    const leading = LEADING_KEYS[s.name] ?? 0;
    calls[s.name] = (keys, args) => {
      if (keys.length <= leading || (keys.length - leading) % s.keysPerLock !== 0)
        throw new Error(`${s.name}: keys come in groups of ${s.keysPerLock} after ${leading} leading key(s)`);
      return fn.call(redis, keys.length, ...keys, ...args);
    };
  }
  return calls;
}
