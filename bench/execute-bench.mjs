// `npm run bench` (part 2): /v1/execute throughput and latency at concurrency 1 and 64, in one run:
// direct to the upstream, through KeyRunner (validation, policy, redaction, durable audit), and
// through a plain express + http-proxy-middleware proxy that only injects the header. Each server
// and the load generator run in their own processes; the proxies' CPU time comes from /proc.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../lib/compiler/build.js";

const root = join(import.meta.dirname, "..");
const KEY = "sk_test_bench_0123456789abcdef";
const N = { 1: Number(process.env.BENCH_N1 ?? 2000), 64: Number(process.env.BENCH_N64 ?? 20000) };
const children = [];

function start(args, env = {}) {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      const m = /listening (?:on http:\/\/[^:]+:)?(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code}`)));
  });
}

/** user+system CPU seconds of a process and its children (the sandboxed server runs as the launcher's child), from /proc. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const own = (Number(fields[11]) + Number(fields[12])) / 100;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean);
  return own + children.reduce((sum, child) => sum + cpuSeconds(Number(child)), 0);
}

function load(port, path, concurrency, total, body, headers = {}) {
  const result = spawnSync(process.execPath, [join(root, "bench", "load.mjs"), `http://127.0.0.1:${port}`, path, String(concurrency), String(total), body, JSON.stringify(headers)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout);
}

const upstream = await start([join(root, "bench", "upstream-server.mjs")]);
const dir = mkdtempSync(join(tmpdir(), "kr-bench-exec-"));
mkdirSync(join(dir, "tools"));
mkdirSync(join(dir, "policies"));
writeFileSync(join(dir, "tools", "refund_payment.yaml"), readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", `http://127.0.0.1:${upstream.port}`));
writeFileSync(join(dir, "policies", "support_refunds.yaml"), readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"));
await buildConfig({ dir }, join(dir, "dist"));
const bundlePath = join(dir, "dist", "keyrunner.mjs");

// Cold start: spawn to ready line, median of 5, under the permission model (a launcher and the
// sandboxed server: two Node starts) and without it.
async function coldStart(extra) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    const s = await start([bundlePath, "serve", "--port", "0", "--audit", join(dir, `cold-${extra.length}-${i}.jsonl`), ...extra], { STRIPE_API_KEY: KEY });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    s.child.kill("SIGTERM");
    await new Promise((r) => s.child.on("exit", r));
  }
  return times.sort((a, b) => a - b)[2];
}
const coldStartSandboxed = await coldStart([]);
const coldStartUnsandboxed = await coldStart(["--no-permission-model"]);
const coldStarts = [0, 0, coldStartSandboxed];

const keyrunner = await start([bundlePath, "serve", "--port", "0", "--audit", join(dir, "audit.jsonl")], { STRIPE_API_KEY: KEY });
const express = await start([join(root, "bench", "express-proxy.mjs"), `http://127.0.0.1:${upstream.port}`], { STRIPE_API_KEY: KEY });

const refund = JSON.stringify({ payment_intent: "pi_123", amount: 2500 });
const execute = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });
const results = {};
for (const c of [1, 64]) {
  const direct = load(upstream.port, "/v1/refunds", c, N[c], refund);
  let before = cpuSeconds(keyrunner.child.pid);
  const kr = load(keyrunner.port, "/v1/execute", c, N[c], execute);
  const krCpu = cpuSeconds(keyrunner.child.pid) - before;
  before = cpuSeconds(express.child.pid);
  const ex = load(express.port, "/v1/refunds", c, N[c], refund);
  const exCpu = cpuSeconds(express.child.pid) - before;
  results[c] = {
    direct,
    keyrunner: { ...kr, cpuMicrosPerRequest: (krCpu / (N[c] + c * 20)) * 1e6 },
    express_proxy: { ...ex, cpuMicrosPerRequest: (exCpu / (N[c] + c * 20)) * 1e6 },
    ratios: {
      keyrunnerOverExpressThroughput: kr.rps / ex.rps,
      keyrunnerOverDirectThroughput: kr.rps / direct.rps,
      addedMedianLatencyMs: kr.p50 - direct.p50,
    },
  };
}
for (const child of children) child.kill("SIGTERM");
const auditLines = readFileSync(join(dir, "audit.jsonl"), "utf8").split("\n").length - 1;

const report = {
  benchmark: "/v1/execute",
  node: process.version,
  cpus: cpus().length,
  coldStartMsMedian: coldStartSandboxed,
  coldStartMsMedianWithoutPermissionModel: coldStartUnsandboxed,
  auditRecordsWritten: auditLines,
  results,
  targets: { keyrunnerOverExpressAt64: 3, addedMedianLatencyMsAt1: 1, coldStartMs: 150 },
};
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "execute.json"), JSON.stringify(report, null, 2) + "\n");

const f = (n, d = 0) => n.toFixed(d);
const rows = [
  "| concurrency | direct req/s | KeyRunner req/s | express proxy req/s | KeyRunner ÷ express | KeyRunner p50 / p99 ms | direct p50 ms | KeyRunner CPU µs/req | express CPU µs/req |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...[1, 64].map((c) => {
    const r = results[c];
    return `| ${c} | ${f(r.direct.rps)} | ${f(r.keyrunner.rps)} | ${f(r.express_proxy.rps)} | ${f(r.ratios.keyrunnerOverExpressThroughput, 2)}× | ${f(r.keyrunner.p50, 2)} / ${f(r.keyrunner.p99, 2)} | ${f(r.direct.p50, 2)} | ${f(r.keyrunner.cpuMicrosPerRequest)} | ${f(r.express_proxy.cpuMicrosPerRequest)} |`;
  }),
];
const markdown = [
  `# /v1/execute benchmark (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} CPUs)`,
  "",
  ...rows,
  "",
  `Added median latency at concurrency 1: ${f(results[1].ratios.addedMedianLatencyMs, 3)} ms (target < 1 ms). ` +
    `Throughput at concurrency 64: ${f(results[64].ratios.keyrunnerOverExpressThroughput, 2)}× the express proxy (target ≥ 3×). ` +
    `Cold start to ready: ${f(coldStartSandboxed)} ms under the permission model (launcher + sandboxed server), ${f(coldStartUnsandboxed)} ms with --no-permission-model (median of 5; target < 150 ms). ` +
    `Audit records written durably: ${auditLines}.`,
  "",
].join("\n");
writeFileSync(join(root, "bench", "results", "execute.md"), markdown);
console.log(markdown);
process.exit(0);
