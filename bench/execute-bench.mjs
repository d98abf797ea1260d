// `npm run bench` (part 2): /v1/execute throughput and latency at concurrency 1, 16 and 64, in one run:
// direct to the upstream, through KeyRunner (validation, policy, redaction, durable audit), through a
// plain express + http-proxy-middleware proxy that only injects the header, and through the floor
// proxy (node:http + undici doing nothing but the header: what any Node proxy costs here). Each server
// and the load generator run in their own processes; the proxies' CPU time comes from /proc.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../lib/compiler/build.js";
import { cpuSeconds, runLoad as load, startServer as start, stopServers } from "./bench-processes.mjs";

const root = join(import.meta.dirname, "..");
const KEY = "sk_test_bench_0123456789abcdef";
const CONCURRENCIES = [1, 16, 64];
const N = { 1: Number(process.env.BENCH_N1 ?? 1500), 16: Number(process.env.BENCH_N16 ?? 8000), 64: Number(process.env.BENCH_N64 ?? 10000) };
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const upstream = await start([join(root, "bench", "upstream-server.mjs")]);
const dir = mkdtempSync(join(tmpdir(), "kr-bench-exec-"));
mkdirSync(join(dir, "tools"));
mkdirSync(join(dir, "policies"));
writeFileSync(join(dir, "tools", "refund_payment.yaml"), readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", `http://127.0.0.1:${upstream.port}`));
writeFileSync(join(dir, "policies", "support_refunds.yaml"), readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"));
await buildConfig({ dir }, join(dir, "dist"));
const bundlePath = join(dir, "dist", "keyrunner.mjs");

// Cold start: spawn to ready line, median of 5, in three ways: sandboxed with the flags given on the
// command line (`sandbox-flags`: one Node start, how a deployment runs it), sandboxed by the bundle
// relaunching itself (a launcher and the sandboxed server: two Node starts), and unsandboxed.
async function coldStart(mode, flagsFor, extra) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const audit = join(dir, "cold", `audit-${mode}-${i}.jsonl`);
    const nodeFlags = flagsFor(audit);
    const t = process.hrtime.bigint();
    const s = await start([...nodeFlags, bundlePath, "serve", "--port", "0", "--audit", audit, ...extra], { STRIPE_API_KEY: KEY });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    s.child.kill("SIGTERM");
    await new Promise((r) => s.child.on("exit", r));
  }
  return times.sort((a, b) => a - b)[2];
}
const sandboxFlags = (audit) => spawnSync(process.execPath, [bundlePath, "sandbox-flags", "serve", "--audit", audit], { encoding: "utf8" }).stdout.trim().split(" ");
mkdirSync(join(dir, "cold"));
const coldStartDirect = await coldStart("flags", sandboxFlags, []);
const coldStartRelaunch = await coldStart("relaunch", () => [], []);
const coldStartUnsandboxed = await coldStart("open", () => [], ["--no-permission-model"]);

const keyrunner = await start([bundlePath, "serve", "--port", "0", "--audit", join(dir, "audit.jsonl")], { STRIPE_API_KEY: KEY });
// The same bundle with a 2 ms audit commit delay: durable writes wait for other in-flight requests'
// records (fewer journal commits, more latency per request) — the trade the flag offers, measured.
const keyrunnerGrouped = await start([bundlePath, "serve", "--port", "0", "--audit", join(dir, "audit-grouped.jsonl"), "--state", join(dir, "state-grouped"), "--audit-commit-delay", "2"], { STRIPE_API_KEY: KEY });
const express = await start([join(root, "bench", "express-proxy.mjs"), `http://127.0.0.1:${upstream.port}`], { STRIPE_API_KEY: KEY });
const floor = await start([join(root, "bench", "floor-proxy.mjs"), `http://127.0.0.1:${upstream.port}`], { STRIPE_API_KEY: KEY });

const refund = JSON.stringify({ payment_intent: "pi_123", amount: 2500 });
const execute = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });
const targets = {
  direct: { port: upstream.port, path: "/v1/refunds", body: refund },
  keyrunner: { port: keyrunner.port, path: "/v1/execute", body: execute, pid: keyrunner.child.pid },
  keyrunner_commit_delay_2ms: { port: keyrunnerGrouped.port, path: "/v1/execute", body: execute, pid: keyrunnerGrouped.child.pid },
  floor_proxy: { port: floor.port, path: "/v1/refunds", body: refund, pid: floor.child.pid },
  express_proxy: { port: express.port, path: "/v1/refunds", body: refund, pid: express.child.pid },
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Each concurrency runs ROUNDS rounds; in a round every target is measured back to back, so the ratios
// of one round share the machine's state. Reported: each measure's median over the rounds.
const results = {};
for (const c of CONCURRENCIES) {
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const measured = {};
    for (const [name, t] of Object.entries(targets)) {
      const before = t.pid === undefined ? undefined : cpuSeconds(t.pid);
      const run = load(t.port, t.path, c, N[c], t.body);
      if (run.errors !== 0) throw new Error(`${name} at concurrency ${c}: ${run.errors} answers were not 200: ${JSON.stringify(run.statuses)}`);
      if (before !== undefined) {
        // The load generator also sends 20 warm-up requests per connection.
        const after = cpuSeconds(t.pid);
        const perRequest = (seconds) => (seconds / (N[c] + c * 20)) * 1e6;
        run.userMicrosPerRequest = perRequest(after.user - before.user);
        run.systemMicrosPerRequest = perRequest(after.system - before.system);
        run.cpuMicrosPerRequest = run.userMicrosPerRequest + run.systemMicrosPerRequest;
      }
      measured[name] = run;
    }
    rounds.push(measured);
  }
  const summary = {};
  for (const name of Object.keys(targets)) {
    summary[name] = {};
    for (const key of ["rps", "p50", "p90", "p99", "cpuMicrosPerRequest", "userMicrosPerRequest", "systemMicrosPerRequest"]) {
      if (rounds[0][name][key] !== undefined) summary[name][key] = median(rounds.map((r) => r[name][key]));
    }
  }
  results[c] = {
    ...summary,
    ratios: {
      keyrunnerOverExpressThroughput: median(rounds.map((r) => r.keyrunner.rps / r.express_proxy.rps)),
      keyrunnerOverFloorThroughput: median(rounds.map((r) => r.keyrunner.rps / r.floor_proxy.rps)),
      keyrunnerCpuAboveFloorMicros: median(rounds.map((r) => r.keyrunner.cpuMicrosPerRequest - r.floor_proxy.cpuMicrosPerRequest)),
      commitDelayOverExpressThroughput: median(rounds.map((r) => r.keyrunner_commit_delay_2ms.rps / r.express_proxy.rps)),
      keyrunnerOverDirectThroughput: median(rounds.map((r) => r.keyrunner.rps / r.direct.rps)),
      addedMedianLatencyMs: median(rounds.map((r) => r.keyrunner.p50 - r.direct.p50)),
    },
    rounds,
  };
}
stopServers();
const auditLines = readFileSync(join(dir, "audit.jsonl"), "utf8").split("\n").length - 1;

const report = {
  benchmark: "/v1/execute",
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  requestsPerRound: N,
  rounds: ROUNDS,
  coldStartMs: { sandboxedFlagsGiven: coldStartDirect, sandboxedSelfRelaunch: coldStartRelaunch, withoutPermissionModel: coldStartUnsandboxed },
  auditRecordsWritten: auditLines,
  results,
  targets: { keyrunnerOverExpressAt64: [3, 3.5], keyrunnerCpuMicrosPerRequestAt64: 80, addedMedianLatencyMsAt1: 1, coldStartMs: 150 },
};
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "execute.json"), JSON.stringify(report, null, 2) + "\n");

const f = (n, d = 0) => n.toFixed(d);
const rows = [
  "| concurrency | direct req/s | KeyRunner req/s | floor proxy req/s | express proxy req/s | KeyRunner ÷ express | KeyRunner ÷ floor | KeyRunner p50 / p90 / p99 ms | direct p50 ms | CPU µs/req: KeyRunner / floor / express |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...CONCURRENCIES.map((c) => {
    const r = results[c];
    return `| ${c} | ${f(r.direct.rps)} | ${f(r.keyrunner.rps)} | ${f(r.floor_proxy.rps)} | ${f(r.express_proxy.rps)} | ${f(r.ratios.keyrunnerOverExpressThroughput, 2)}× | ${f(r.ratios.keyrunnerOverFloorThroughput, 2)}× | ${f(r.keyrunner.p50, 2)} / ${f(r.keyrunner.p90, 2)} / ${f(r.keyrunner.p99, 2)} | ${f(r.direct.p50, 2)} | ${f(r.keyrunner.cpuMicrosPerRequest)} / ${f(r.floor_proxy.cpuMicrosPerRequest)} / ${f(r.express_proxy.cpuMicrosPerRequest)} |`;
  }),
];
const delayRows = [
  "| concurrency | KeyRunner req/s | with --audit-commit-delay 2 | ÷ express | p50 ms: without / with | CPU µs/req: without / with |",
  "| ---: | ---: | ---: | ---: | ---: | ---: |",
  ...CONCURRENCIES.map((c) => {
    const r = results[c];
    const d = r.keyrunner_commit_delay_2ms;
    return `| ${c} | ${f(r.keyrunner.rps)} | ${f(d.rps)} | ${f(r.ratios.commitDelayOverExpressThroughput, 2)}× | ${f(r.keyrunner.p50, 2)} / ${f(d.p50, 2)} | ${f(r.keyrunner.cpuMicrosPerRequest)} / ${f(d.cpuMicrosPerRequest)} |`;
  }),
];
const at64 = results[64];
const markdown = [
  `# /v1/execute benchmark (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "CPU"})`,
  "",
  `Median of ${ROUNDS} rounds per concurrency (${CONCURRENCIES.map((c) => `${N[c]} requests at ${c}`).join(", ")}); each round measures every target back to back.`,
  "",
  ...rows,
  "",
  `Added median latency at concurrency 1: ${f(results[1].ratios.addedMedianLatencyMs, 3)} ms (target < 1 ms). ` +
    `Throughput at concurrency 64: ${f(at64.ratios.keyrunnerOverExpressThroughput, 2)}× the express proxy (targets ≥ 3× and ≥ 3.5×), ${f(at64.ratios.keyrunnerOverFloorThroughput, 2)}× the floor proxy. ` +
    `KeyRunner CPU per request at concurrency 64: ${f(at64.keyrunner.cpuMicrosPerRequest)} µs, ${f(at64.keyrunner.userMicrosPerRequest)} user + ${f(at64.keyrunner.systemMicrosPerRequest)} system (target < 80 µs; the floor proxy, which does none of the work, ${f(at64.floor_proxy.cpuMicrosPerRequest)} µs, ${f(at64.floor_proxy.userMicrosPerRequest)} + ${f(at64.floor_proxy.systemMicrosPerRequest)}; KeyRunner's own work above the floor ${f(at64.ratios.keyrunnerCpuAboveFloorMicros)} µs). ` +
    `Cold start to ready (median of 5; target < 150 ms): ${f(coldStartDirect)} ms sandboxed with the flags given (\`sandbox-flags\`, one Node start), ${f(coldStartRelaunch)} ms sandboxed by self-relaunch (two Node starts), ${f(coldStartUnsandboxed)} ms with --no-permission-model. ` +
    `Audit records written durably: ${auditLines}.`,
  "",
  "The audit commit delay (`serve --audit-commit-delay MS`, default 0): the same bundle, measured in the same rounds.",
  "",
  ...delayRows,
  "",
].join("\n");
writeFileSync(join(root, "bench", "results", "execute.md"), markdown);
console.log(markdown);
process.exit(0);
