// Preloaded with --import into a measured process: on exit, writes its peak RSS and CPU time as JSON
// to the file named by KEYRUNNER_BENCH_REPORT.
import { writeFileSync } from "node:fs";

const target = process.env.KEYRUNNER_BENCH_REPORT;
if (target) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    writeFileSync(target, JSON.stringify({ maxRssBytes: usage.maxRSS * 1024, userCpuMs: usage.userCPUTime / 1000, systemCpuMs: usage.systemCPUTime / 1000 }));
  });
}
