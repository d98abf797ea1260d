// `npm run bench` (workers): `serve --workers 1` and `--workers 2` on this machine, wrk unpinned (the
// load generator, the upstream and the workers share every core), state on a real redis-server (more
// than one worker needs it), each worker writing its own audit file. Writes bench/results/workers.json.
// Knobs: KR_BENCH_SECONDS (5), KR_BENCH_ROUNDS (3), KR_BENCH_WORKERS_CONCURRENCY (64).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../lib/compiler/build.js";
import { cpuSeconds, freePort, startServer, stopServers } from "./bench-processes.mjs";
import { ensurePrograms } from "./bench-tools.mjs";

const root = join(import.meta.dirname, "..");
const KEY = "sk_test_bench_0123456789abcdef";
const SECONDS = Number(process.env.KR_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.KR_BENCH_ROUNDS ?? 3);
const C = Number(process.env.KR_BENCH_WORKERS_CONCURRENCY ?? 64);
const missing = ensurePrograms({ wrk: "wrk", "redis-server": "redis-server" });
if (missing.length > 0) process.exit(1);

const dir = mkdtempSync(join(tmpdir(), "kr-bench-workers-"));
const redisPort = await freePort();
const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
process.on("exit", () => redis.kill("SIGKILL"));
await new Promise((r) => setTimeout(r, 300));
const upstream = await startServer([join(root, "bench", "upstream-server.mjs")]);
mkdirSync(join(dir, "tools"));
mkdirSync(join(dir, "policies"));
writeFileSync(join(dir, "tools", "refund_payment.yaml"), readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", `http://127.0.0.1:${upstream.port}`));
writeFileSync(join(dir, "policies", "support_refunds.yaml"), readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"));
await buildConfig({ dir }, join(dir, "dist"));
const bundle = join(dir, "dist", "keyrunner.mjs");
const execute = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });

const pools = {};
for (const workers of [1, 2]) {
  mkdirSync(join(dir, `w${workers}`));
  pools[workers] = await startServer([bundle, "serve", "--port", "0", "--workers", String(workers), "--state", `redis://127.0.0.1:${redisPort}`, "--audit", join(dir, `w${workers}`, "audit.jsonl")], { STRIPE_API_KEY: KEY });
}

function wrk(workers, seconds) {
  const pool = pools[workers];
  const before = cpuSeconds(pool.child.pid);
  const run = spawnSync("wrk", ["-t2", `-c${C}`, `-d${seconds}s`, "--timeout", "5s", "-s", join(root, "bench", "wrk-post.lua"), `http://127.0.0.1:${pool.port}/v1/execute`], { encoding: "utf8", env: { ...process.env, KR_WRK_BODY: execute, KR_WRK_AUTH: "" } });
  const after = cpuSeconds(pool.child.pid);
  const line = run.stdout.split("\n").find((l) => l.startsWith("KRJSON "));
  if (line === undefined) throw new Error(`wrk failed: ${run.stderr}${run.stdout}`);
  const w = JSON.parse(line.slice(7));
  const errors = w.status_errors + w.connect_errors + w.read_errors + w.write_errors + w.timeouts;
  if (errors > 0) throw new Error(`--workers ${workers}: ${errors} errors ${line}`);
  return { rps: w.requests / (w.duration_us / 1e6), p50: w.p50_us / 1000, p99: w.p99_us / 1000, cpuMicrosPerRequest: ((after.user - before.user + after.system - before.system) / w.requests) * 1e6 };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const workers of [1, 2]) wrk(workers, Math.min(2, SECONDS));
const rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  const measured = { 1: wrk(1, SECONDS), 2: wrk(2, SECONDS) };
  rounds.push(measured);
  console.error(`bench: workers round ${round + 1}: 1 worker ${measured[1].rps.toFixed(0)}/s, 2 workers ${measured[2].rps.toFixed(0)}/s`);
}
stopServers();
await new Promise((r) => setTimeout(r, 500));
const records = (workers) =>
  readdirSync(join(dir, `w${workers}`))
    .filter((f) => f.endsWith(".jsonl"))
    .reduce((n, f) => n + readFileSync(join(dir, `w${workers}`, f), "utf8").split("\n").length - 1, 0);
const results = [1, 2].map((workers) => ({
  workers,
  ...Object.fromEntries(["rps", "p50", "p99", "cpuMicrosPerRequest"].map((k) => [k, median(rounds.map((r) => r[workers][k]))])),
  auditRecords: records(workers),
}));
const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverageAtEnd: loadavg() },
  generator: `wrk -t2 -c${C}, ${SECONDS} s per measurement, unpinned`,
  redis: spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout.trim().split(" ").slice(0, 3).join(" "),
  rounds: ROUNDS,
  results,
  scaling: median(rounds.map((r) => r[2].rps / r[1].rps)),
  note:
    `On ${cpus().length} cores shared by wrk, the upstream, Redis and the workers, a second worker can gain at most what the other processes leave free; ` +
    "verifying scaling needs a machine with more cores than workers + load generator + upstream: pin wrk and the upstream to their own cores (taskset), give N workers N further cores, and check that req/s grows close to N× while the CPU per request stays flat.",
};
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "workers.json"), JSON.stringify(report, null, 2) + "\n");
console.error(`bench: wrote bench/results/workers.json (2 workers ÷ 1: ${report.scaling.toFixed(2)}×)`);
process.exit(0);
