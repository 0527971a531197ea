import fs from "node:fs/promises";

/** True while a process with this pid exists (one of another user's counts: EPERM). */
export function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The command line of a process, or null where /proc cannot tell (gone, or not Linux). */
export async function commandLineOf(pid: number): Promise<string | null> {
  const raw = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => null);
  return raw === null ? null : raw.replaceAll("\0", " ").trim();
}
