import fs from "node:fs";

export interface CpuUsage {
  /** CPU seconds of this process. */
  process_s: number;
  /** CPU seconds of the whole machine, all cores, this process included. */
  machine_s: number;
}

/** CPU seconds used by this process and by the whole machine (all cores) since `start()`. */
export function cpuMeter(): () => CpuUsage {
  const machine = () => {
    const parts = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (parts[3] ?? 0) + (parts[4] ?? 0);
    const total = parts.reduce((a, b) => a + b, 0);
    return (total - idle) / 100; // USER_HZ
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
