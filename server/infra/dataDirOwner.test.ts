import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claimDataDir } from "./dataDirOwner";
import { isAlive } from "./processes";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "cohort-owner-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const ownerFile = () => path.join(dir, "owner.json");
/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

describe("claimDataDir", () => {
  it("refuses a data dir whose owner is alive, naming it", async () => {
    await fs.writeFile(ownerFile(), JSON.stringify({ pid: process.ppid }));
    await expect(claimDataDir(dir)).rejects.toThrow(`Cohort is already running from ${dir}/ (process ${process.ppid})`);
  });

  it("takes over from a dead owner, and release() gives the dir back", async () => {
    await fs.writeFile(ownerFile(), JSON.stringify({ pid: deadPid() }));
    const claim = await claimDataDir(dir);
    expect(JSON.parse(await fs.readFile(ownerFile(), "utf8"))).toEqual({ pid: process.pid });
    await claim.recordRedis(12345);
    expect(JSON.parse(await fs.readFile(ownerFile(), "utf8"))).toEqual({ pid: process.pid, redisPid: 12345 });
    await claim.release();
    await expect(fs.stat(ownerFile())).rejects.toThrow();
  });

  it("takes over from a corrupt record", async () => {
    await fs.writeFile(ownerFile(), "{");
    const claim = await claimDataDir(dir);
    await claim.release();
  });

  it("never kills a live process that is not a redis-server, whatever the stale record says", async () => {
    const bystander = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await fs.writeFile(ownerFile(), JSON.stringify({ pid: deadPid(), redisPid: bystander.pid }));
      const claim = await claimDataDir(dir);
      expect(isAlive(bystander.pid!)).toBe(true);
      await claim.release();
    } finally {
      bystander.kill();
    }
  });
});
