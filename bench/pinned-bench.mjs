// `npm run bench` (the pinned part): /v1/execute measured as its peers are — wrk, a C load generator, on
// one core; every server (the upstream included) on the other — against direct, nginx proxying with the
// header injected, express + http-proxy-middleware, the floor proxy (node:http + undici doing nothing)
// and KeyRunner (durable audit, permission model, an agents file with a token), at concurrency 1, 16 and
// 64; medians of 3 rounds, each round measuring every target back to back. Writes bench/results/pinned.json.
//
// Knobs: KR_BENCH_SECONDS (per measurement, default 5), KR_BENCH_ROUNDS (3), KR_BENCH_CONCURRENCIES
// ("1,16,64"), KR_BENCH_NO_PIN=1, KR_BENCH_GENERATOR_CORE / KR_BENCH_SERVER_CORE (0 / 1),
// KR_BENCH_NO_INSTALL=1 (never apt-get).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../lib/compiler/build.js";
import { cpuSeconds, freePort, startProgram, startServer, stopServers } from "./bench-processes.mjs";
import { cpuLayout, ensurePrograms } from "./bench-tools.mjs";

const root = join(import.meta.dirname, "..");
const KEY = "sk_test_bench_0123456789abcdef";
const SECONDS = Number(process.env.KR_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.KR_BENCH_ROUNDS ?? 3);
const CONCURRENCIES = (process.env.KR_BENCH_CONCURRENCIES ?? "1,16,64").split(",").map(Number);
const missing = ensurePrograms();
if (missing.includes("wrk")) process.exit(1);
const layout = cpuLayout();
const onServerCore = { prefix: layout.server };

const dir = mkdtempSync(join(tmpdir(), "kr-bench-pinned-"));
const upstream = await startServer([join(root, "bench", "upstream-server.mjs")], {}, onServerCore);
mkdirSync(join(dir, "tools"));
mkdirSync(join(dir, "policies"));
writeFileSync(join(dir, "tools", "refund_payment.yaml"), readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", `http://127.0.0.1:${upstream.port}`));
writeFileSync(join(dir, "policies", "support_refunds.yaml"), readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"));
await buildConfig({ dir }, join(dir, "dist"));
const bundle = join(dir, "dist", "keyrunner.mjs");

// The agents file: one agent, its token's sha256 (the token is what wrk sends).
const minted = spawnSync(process.execPath, [bundle, "token", "support-agent"], { encoding: "utf8" }).stdout;
const token = minted.split("\n")[0];
writeFileSync(join(dir, "agents.yaml"), `agents:\n${minted.split("\n").find((l) => l.includes("token_sha256"))}\n`);
const serveArgs = (audit) => ["serve", "--port", "0", "--audit", audit, "--agents", join(dir, "agents.yaml")];

// Cold start, spawn to the ready line, median of 5, sandboxed with the flags given on the command line
// (`sandbox-flags`: one Node start, how a deployment runs it) and by the bundle relaunching itself. Beside
// them Node alone: an empty node:http server started with the same permission and code-generation flags,
// what any sandboxed Node server costs here before its own code. The environment is PATH only (startServer):
// a NODE_EXTRA_CA_CERTS with the system's bundle, as this machine's shell has, adds ~80 ms to every Node start.
async function coldStart(mode, argvFor) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const audit = join(dir, "cold", `audit-${mode}-${i}.jsonl`);
    // The command line first: `sandbox-flags` is a Node start of its own, not part of the server's.
    const argv = argvFor(audit);
    const t = process.hrtime.bigint();
    const s = await startServer(argv, { STRIPE_API_KEY: KEY }, onServerCore);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    s.child.kill("SIGTERM");
    await new Promise((r) => s.child.on("exit", r));
  }
  return times.sort((a, b) => a - b)[2];
}
const sandboxFlags = (audit) => spawnSync(process.execPath, [bundle, "sandbox-flags", ...serveArgs(audit)], { encoding: "utf8" }).stdout.trim().split(" ");
const NODE_ALONE = "require('node:http').createServer().listen(0, '127.0.0.1', function () { console.log('listening ' + this.address().port); })";
mkdirSync(join(dir, "cold"));
const coldStartMs = {
  sandboxedFlagsGiven: await coldStart("flags", (audit) => [...sandboxFlags(audit), bundle, ...serveArgs(audit)]),
  sandboxedSelfRelaunch: await coldStart("relaunch", (audit) => [bundle, ...serveArgs(audit)]),
  nodeAloneSameFlags: await coldStart("node", () => ["--experimental-permission", "--disallow-code-generation-from-strings", "--disable-warning=ExperimentalWarning", "-e", NODE_ALONE]),
};

const keyrunner = await startServer([bundle, ...serveArgs(join(dir, "audit.jsonl"))], { STRIPE_API_KEY: KEY }, onServerCore);
const express = await startServer([join(root, "bench", "express-proxy.mjs"), `http://127.0.0.1:${upstream.port}`], { STRIPE_API_KEY: KEY }, onServerCore);
const floor = await startServer([join(root, "bench", "floor-proxy.mjs"), `http://127.0.0.1:${upstream.port}`], { STRIPE_API_KEY: KEY }, onServerCore);
let nginx;
if (!missing.includes("nginx")) {
  const port = await freePort();
  mkdirSync(join(dir, "nginx"));
  // One process (no master), keep-alive to the upstream, the header injected: nginx as a proxy is set up.
  writeFileSync(
    join(dir, "nginx", "nginx.conf"),
    `daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log ${join(dir, "nginx", "error.log")} warn;\npid ${join(dir, "nginx", "nginx.pid")};\n` +
      `events { worker_connections 1024; }\nhttp {\n  access_log off;\n` +
      ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${join(dir, "nginx", t)};\n`).join("") +
      `  upstream api { server 127.0.0.1:${upstream.port}; keepalive 128; }\n` +
      `  server {\n    listen 127.0.0.1:${port};\n    location / {\n      proxy_pass http://api;\n      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n      proxy_set_header Authorization "Bearer ${KEY}";\n    }\n  }\n}\n`,
  );
  nginx = await startProgram(["nginx", "-p", join(dir, "nginx"), "-c", join(dir, "nginx", "nginx.conf")], port, onServerCore);
}

const refund = JSON.stringify({ payment_intent: "pi_123", amount: 2500 });
const execute = JSON.stringify({ tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });
const targets = {
  direct: { port: upstream.port, path: "/v1/refunds", body: refund, pid: upstream.child.pid },
  ...(nginx ? { nginx: { port: nginx.port, path: "/v1/refunds", body: refund, pid: nginx.child.pid } } : {}),
  express_proxy: { port: express.port, path: "/v1/refunds", body: refund, pid: express.child.pid },
  floor_proxy: { port: floor.port, path: "/v1/refunds", body: refund, pid: floor.child.pid },
  keyrunner: { port: keyrunner.port, path: "/v1/execute", body: execute, pid: keyrunner.child.pid, auth: `Bearer ${token}` },
};

/** wrk against a target for `seconds` at concurrency c, with the target's CPU (its process and children) over the run. */
function wrk(t, c, seconds) {
  const before = cpuSeconds(t.pid);
  const upstreamBefore = t.pid === upstream.child.pid ? undefined : cpuSeconds(upstream.child.pid);
  const [program, ...args] = [...layout.generator, "wrk", "-t1", `-c${c}`, `-d${seconds}s`, "--timeout", "5s", "-s", join(root, "bench", "wrk-post.lua"), `http://127.0.0.1:${t.port}${t.path}`];
  const run = spawnSync(program, args, { encoding: "utf8", env: { ...process.env, KR_WRK_BODY: t.body, KR_WRK_AUTH: t.auth ?? "" } });
  const after = cpuSeconds(t.pid);
  const line = run.stdout.split("\n").find((l) => l.startsWith("KRJSON "));
  if (line === undefined) throw new Error(`wrk failed: ${run.stderr}${run.stdout}`);
  const w = JSON.parse(line.slice(7));
  const errors = w.status_errors + w.connect_errors + w.read_errors + w.write_errors + w.timeouts;
  if (errors > 0) throw new Error(`${t.path} on ${t.port} at concurrency ${c}: ${errors} errors ${line}`);
  const perRequest = (s) => (s / w.requests) * 1e6;
  const result = {
    requests: w.requests,
    rps: w.requests / (w.duration_us / 1e6),
    p50: w.p50_us / 1000,
    p90: w.p90_us / 1000,
    p99: w.p99_us / 1000,
    userMicrosPerRequest: perRequest(after.user - before.user),
    systemMicrosPerRequest: perRequest(after.system - before.system),
  };
  result.cpuMicrosPerRequest = result.userMicrosPerRequest + result.systemMicrosPerRequest;
  if (upstreamBefore !== undefined) {
    const u = cpuSeconds(upstream.child.pid);
    result.upstreamCpuMicrosPerRequest = perRequest(u.user - upstreamBefore.user + u.system - upstreamBefore.system);
  }
  return result;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const t of Object.values(targets)) wrk(t, 16, Math.min(2, SECONDS)); // warm the JITs and the pools
const results = {};
for (const c of CONCURRENCIES) {
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const measured = {};
    for (const [name, t] of Object.entries(targets)) measured[name] = wrk(t, c, SECONDS);
    rounds.push(measured);
    console.error(`bench: concurrency ${c} round ${round + 1}: ${Object.entries(measured).map(([n, m]) => `${n} ${m.rps.toFixed(0)}/s`).join(", ")}`);
  }
  const summary = {};
  for (const name of Object.keys(targets)) {
    summary[name] = {};
    for (const key of Object.keys(rounds[0][name])) summary[name][key] = median(rounds.map((r) => r[name][key]));
  }
  const ratio = (f) => median(rounds.map(f));
  results[c] = {
    ...summary,
    ratios: {
      keyrunnerOverFloor: ratio((r) => r.keyrunner.rps / r.floor_proxy.rps),
      keyrunnerOverExpress: ratio((r) => r.keyrunner.rps / r.express_proxy.rps),
      ...(nginx ? { keyrunnerOverNginx: ratio((r) => r.keyrunner.rps / r.nginx.rps) } : {}),
      keyrunnerOverDirect: ratio((r) => r.keyrunner.rps / r.direct.rps),
      keyrunnerCpuOverFloorCpu: ratio((r) => r.keyrunner.cpuMicrosPerRequest / r.floor_proxy.cpuMicrosPerRequest),
      keyrunnerCpuAboveFloorMicros: ratio((r) => r.keyrunner.cpuMicrosPerRequest - r.floor_proxy.cpuMicrosPerRequest),
      addedMedianLatencyMs: ratio((r) => r.keyrunner.p50 - r.direct.p50),
    },
    rounds,
  };
}
stopServers();
await new Promise((r) => setTimeout(r, 300));
const auditRecords = readFileSync(join(dir, "audit.jsonl"), "utf8").split("\n").length - 1;

const report = {
  benchmark: "/v1/execute, pinned",
  date: new Date().toISOString(),
  machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, kernel: release(), loadAverageAtEnd: loadavg() },
  layout,
  generator: `wrk -t1, ${SECONDS} s per measurement`,
  nginx: nginx ? spawnSync("nginx", ["-v"], { encoding: "utf8" }).stderr.trim() : "missing: not measured",
  rounds: ROUNDS,
  secondsPerMeasurement: SECONDS,
  concurrencies: CONCURRENCIES,
  keyrunnerSetup: "node dist/keyrunner.mjs serve --agents FILE (one agent, bearer token) --audit FILE: permission model by self-relaunch, durable audit (O_DSYNC group commit), local state store",
  coldStartMs,
  auditRecords,
  results,
  targets: { keyrunnerOverFloorAt64: 0.8, keyrunnerOverExpressAt64: 3, keyrunnerCpuOverFloorCpuAt64: 1.4, addedMedianLatencyMsAt1: 0.6, coldStartMs: 150 },
};
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "pinned.json"), JSON.stringify(report, null, 2) + "\n");
console.error("bench: wrote bench/results/pinned.json");
process.exit(0);
