import fs from "node:fs";

/** CPU seconds used by this process and by the whole machine (all cores) since `start()`. */
export function cpuMeter() {
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
