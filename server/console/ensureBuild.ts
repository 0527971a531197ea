// `npm start` runs the production console, which needs a `next build`. Building takes a
// while, so it runs only when .next is missing or older than the console's sources: a fresh
// machine builds once, later starts are immediate.
//
//   npm run build    (always builds)
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
/** What the Next.js build reads. server/ holds more than the console, which costs a rebuild now and then. */
const SOURCE_DIRS = ["app", "components", "server"];
const SOURCE_FILES = ["next.config.js", "tsconfig.json", "package-lock.json"];
const IGNORED = /\.test\.tsx?$|(^|\/)node_modules(\/|$)/;

export interface EnsureBuildOptions {
  root?: string;
  force?: boolean;
  log?: (line: string) => void;
}

export type EnsureBuildResult = "up-to-date" | "built";

export async function ensureBuild(opts: EnsureBuildOptions = {}): Promise<EnsureBuildResult> {
  const root = opts.root ?? REPO_ROOT;
  const log = opts.log ?? ((line: string) => console.log(line));
  const reason = opts.force ? "rebuild requested" : await staleReason(root);
  if (!reason) {
    log("[build] .next is up to date");
    return "up-to-date";
  }
  log(`[build] running next build (${reason}); this takes a minute the first time…`);
  const started = Date.now();
  await runNextBuild(root);
  log(`[build] done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return "built";
}

/** Why a build is needed, or null when .next/BUILD_ID is newer than every source. */
async function staleReason(root: string): Promise<string | null> {
  const built = await mtime(path.join(root, ".next", "BUILD_ID"));
  if (built === null) return "no build yet";
  for (const file of SOURCE_FILES) {
    const changed = await mtime(path.join(root, file));
    if (changed !== null && changed > built) return `${file} changed`;
  }
  for (const dir of SOURCE_DIRS) {
    const newer = await findNewer(root, dir, built);
    if (newer) return `${newer} changed`;
  }
  return null;
}

async function findNewer(root: string, rel: string, than: number): Promise<string | null> {
  const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const child = path.posix.join(rel, entry.name);
    if (IGNORED.test(child)) continue;
    if (entry.isDirectory()) {
      const found = await findNewer(root, child, than);
      if (found) return found;
    } else if (entry.isFile()) {
      const changed = await mtime(path.join(root, child));
      if (changed !== null && changed > than) return child;
    }
  }
  return null;
}

async function mtime(file: string): Promise<number | null> {
  const stat = await fs.stat(file).catch(() => null);
  return stat ? stat.mtimeMs : null;
}

function runNextBuild(root: string): Promise<void> {
  const bin = path.join(root, "node_modules", ".bin", "next");
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["build"], {
      cwd: root,
      // Telemetry would try the network, which these machines do not have.
      env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
      stdio: "inherit",
    });
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`next build failed (${signal ?? `exit ${code}`})`)),
    );
  });
}
