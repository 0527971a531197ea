import fs from "node:fs";
import type { Redis } from "ioredis";
import type pg from "pg";

export interface CpuUsage {
  /** CPU seconds of this process. */
  process_s: number;
  /** CPU seconds of the whole machine, all cores, this process included. */
  machine_s: number;
}

const USER_HZ = 100;

/** CPU seconds used by this process and by the whole machine (all cores) since `start()`. */
export function cpuMeter(): () => CpuUsage {
  const machine = () => {
    const parts = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (parts[3] ?? 0) + (parts[4] ?? 0);
    const total = parts.reduce((a, b) => a + b, 0);
    return (total - idle) / USER_HZ;
  };
  const p0 = process.cpuUsage();
  const m0 = machine();
  return () => {
    const p = process.cpuUsage(p0);
    return { process_s: (p.user + p.system) / 1e6, machine_s: machine() - m0 };
  };
}

/** Where the time goes: CPU per unit of work in this process and in the rest of the machine (PostgreSQL, Redis). */
export function cpuPer(count: number, cpu: CpuUsage, unit: string, digits = 0): string {
  const us = (s: number) => Number(((s * 1e6) / Math.max(1, count)).toFixed(digits));
  return `CPU per ${unit}: node ${us(cpu.process_s)} µs, rest of machine ${us(cpu.machine_s - cpu.process_s)} µs`;
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function processCpu(pid: number): number {
  try {
    // Fields after the command (which may hold spaces and parentheses): utime is the 14th field, stime the 15th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return 0;
  }
}

export interface CpuRoles {
  /** The PostgreSQL databases whose backends count as `coordinator` (the log). */
  coordinatorDb: string;
  /** Any connection to the PostgreSQL server, superuser: reads pg_stat_activity. */
  pool: pg.Pool;
  redis: Redis;
}

/**
 * CPU seconds by role since the call: this node process, the coordinator database's
 * backends, the shard databases' backends, PostgreSQL's own processes (WAL writer,
 * checkpointer, autovacuum), redis-server, and whatever else ran on the machine. Only
 * meaningful on a machine where PostgreSQL and Redis run locally (the benchmarks' default).
 */
export async function cpuByRole(roles: CpuRoles): Promise<() => Promise<Record<string, number>>> {
  const listPids = async (): Promise<Map<number, string>> => {
    const { rows } = await roles.pool.query<{ pid: number; datname: string | null; backend_type: string }>(
      "SELECT pid, datname, backend_type FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    );
    const out = new Map<number, string>();
    for (const r of rows) {
      const role =
        r.backend_type !== "client backend" ? "pg_other" : r.datname === roles.coordinatorDb ? "pg_coordinator" : "pg_shards";
      out.set(r.pid, role);
    }
    const info = await roles.redis.info("server");
    const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0);
    if (redisPid) out.set(redisPid, "redis");
    return out;
  };
  const before = await listPids();
  const start = new Map([...before.keys()].map((pid) => [pid, processCpu(pid)]));
  const machine = cpuMeter();
  return async () => {
    const usage = machine();
    const now = await listPids();
    const byRole: Record<string, number> = { node: usage.process_s, pg_coordinator: 0, pg_shards: 0, pg_other: 0, redis: 0 };
    for (const [pid, role] of new Map([...before, ...now])) {
      byRole[role] = (byRole[role] ?? 0) + Math.max(0, processCpu(pid) - (start.get(pid) ?? 0));
    }
    const counted = Object.values(byRole).reduce((a, b) => a + b, 0);
    byRole.other = Math.max(0, usage.machine_s - counted);
    return byRole;
  };
}

/** µs of CPU per unit of work, by role, for a line of output. */
export function cpuRolesPer(count: number, byRole: Record<string, number>, unit: string): string {
  const parts = Object.entries(byRole).map(([role, s]) => `${role} ${Math.round((s * 1e6) / Math.max(1, count))}`);
  return `CPU µs per ${unit}: ${parts.join(", ")}`;
}
