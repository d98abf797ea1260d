// `npm run bench:check`: `keyrunner check` as a real process on a generated config of 1,000 tools and
// 5,000 rules; prints and records wall time, CPU time and peak memory. Targets: < 5 s, < 500 MB.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { check } from "../lib/compiler/index.js";
import { generateConfig } from "./generate-config.mjs";

const TOOLS = Number(process.env.BENCH_TOOLS ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const root = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "kr-bench-check-"));
const { rules } = generateConfig(dir, TOOLS);

const samples = [];
for (let run = 0; run < RUNS; run++) {
  const report = join(dir, `resources-${run}.json`);
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, ["--import", join(root, "bench", "report-resources.mjs"), join(root, "bin", "keyrunner.js"), "check", dir], {
    env: { ...process.env, KEYRUNNER_BENCH_REPORT: report },
    encoding: "utf8",
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) {
    console.error(child.stdout, child.stderr);
    throw new Error(`keyrunner check exited ${child.status} on the generated config`);
  }
  samples.push({ wallMs, ...JSON.parse(readFileSync(report, "utf8")), summary: child.stdout.trim().split("\n").at(-1) });
}
// Pair count from the library, to show the analysis compares rules within a tool only.
const analysis = check({ dir }).analysis;
rmSync(dir, { recursive: true, force: true });

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const result = {
  benchmark: "keyrunner check",
  tools: TOOLS,
  rules,
  pairsCompared: analysis.pairsCompared,
  pairsIfQuadraticAcrossTools: (rules * (rules - 1)) / 2,
  runs: RUNS,
  wallMsMedian: Math.round(median(samples.map((s) => s.wallMs))),
  cpuMsMedian: Math.round(median(samples.map((s) => s.userCpuMs + s.systemCpuMs))),
  peakRssMiBMax: Math.round(Math.max(...samples.map((s) => s.maxRssBytes)) / 2 ** 20),
  targets: { wallMs: 5000, peakRssMiB: 500 },
  node: process.version,
  cpus: (await import("node:os")).cpus().length,
  summary: samples[0].summary,
};
result.meetsTargets = result.wallMsMedian < result.targets.wallMs && result.peakRssMiBMax < result.targets.peakRssMiB;

mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "check.json"), JSON.stringify(result, null, 2) + "\n");
console.log(`keyrunner check: ${TOOLS} tools, ${rules} rules, ${result.pairsCompared} rule pairs compared (of ${result.pairsIfQuadraticAcrossTools} if every pair were)`);
console.log(`  wall ${result.wallMsMedian} ms (median of ${RUNS}), cpu ${result.cpuMsMedian} ms, peak RSS ${result.peakRssMiBMax} MiB`);
console.log(`  targets: < ${result.targets.wallMs} ms, < ${result.targets.peakRssMiB} MiB — ${result.meetsTargets ? "met" : "NOT MET"}`);
console.log(`  ${result.summary}`);
