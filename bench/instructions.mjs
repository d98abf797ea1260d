// `npm run bench:instructions -- [--bundle FILE]... [--build TREE]... [--requests N] [--warmup N] [--repeats R] [--concurrency C] [--floor] [--node-flag FLAG]... [--agents]`
// Instructions per request of the serving process, counted by valgrind (callgrind) over a fixed number
// of requests — unlike time, robust to other load on the machine, so an A/B of two bundles can be made
// on a busy machine in one run. The server starts uninstrumented (valgrind --instr-atstart=no), is
// warmed up, then instrumentation is switched on for exactly N requests and the total dumped. User-space
// instructions only, every thread (main, libuv pool, V8 helpers); kernel work (syscalls, the durable
// write's journal commit) is not counted — bench:profile's per-thread system time shows that part.
// Without --bundle or --build, this tree's bundle is built and measured; --floor adds the floor proxy. Each --bundle is served with the sandbox flags given (`sandbox-flags serve`: the permission model on,
// one process); its tool must name upstream port 19999. `--build TREE` builds one with another checkout's
// compiler (e.g. `git worktree add /tmp/base HEAD~1 && (cd /tmp/base && npm ci && npm run build:ts)`).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildConfig } from "../lib/compiler/build.js";
import { runLoad, startServer } from "./bench-processes.mjs";

const root = join(import.meta.dirname, "..");
const KEY = "sk_test_bench_0123456789abcdef";
const args = process.argv.slice(2);
const all = (name) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []));
const option = (name, fallback) => all(name)[0] ?? fallback;
const requests = Number(option("--requests", 600));
const concurrency = Number(option("--concurrency", 16));
const repeats = Number(option("--repeats", 1));
// Uninstrumented requests first, so the JIT has settled before counting (too few make the count noisy).
const warmup = Number(option("--warmup", 2000));
// --node-flag FLAG (repeatable): Node flags for every measured server, e.g. --single-threaded, which puts
// GC and compilation on the main thread, where they are counted in a fixed order rather than raced.
const nodeFlags = all("--node-flag");
// --agents: as the pinned benchmark serves it, with an agents file; each request bears the agent's token.
const withAgents = args.includes("--agents");
const UPSTREAM_PORT = 19999;
const upstream = await startServer([join(root, "bench", "upstream-server.mjs"), String(UPSTREAM_PORT)]);
const dir = mkdtempSync(join(tmpdir(), "kr-instructions-"));

/**
 * Builds this tree's configuration into a bundle whose tool names the fixed upstream port, with this
 * tree's compiler or, given `tree` (another checkout, its `npm run build:ts` done), with that one's.
 */
async function buildBundle(out, tree) {
  mkdirSync(join(out, "tools"), { recursive: true });
  mkdirSync(join(out, "policies"), { recursive: true });
  writeFileSync(join(out, "tools", "refund_payment.yaml"), readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", `http://127.0.0.1:${UPSTREAM_PORT}`));
  writeFileSync(join(out, "policies", "support_refunds.yaml"), readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"));
  const build = tree === undefined ? buildConfig : (await import(pathToFileURL(join(tree, "lib", "compiler", "build.js")).href)).buildConfig;
  await build({ dir: out }, join(out, "dist"));
  return join(out, "dist", "keyrunner.mjs");
}

const bundles = all("--bundle");
// --build TREE (repeatable): a bundle built by another checkout's compiler and runtime (the base of an A/B).
for (const [i, tree] of all("--build").entries()) bundles.push(await buildBundle(join(dir, `tree-${i}`), tree));
if (bundles.length === 0) bundles.push(await buildBundle(join(dir, "this-tree")));
const execute = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });
const refund = JSON.stringify({ payment_intent: "pi_123", amount: 2500 });

/** Starts `node NODE_ARGS` under callgrind, uninstrumented until told; resolves once it is listening. */
async function underCallgrind(label, nodeArgs, out) {
  mkdirSync(out, { recursive: true });
  const child = spawn("valgrind", ["--tool=callgrind", "--instr-atstart=no", "--smc-check=all-non-file", `--callgrind-out-file=${join(out, "callgrind.out.%p")}`, process.execPath, ...nodeArgs], { env: { PATH: process.env.PATH, STRIPE_API_KEY: KEY }, cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const port = await new Promise((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (c) => {
      text += c;
      const m = /listening (?:on http:\/\/[^:]+:)?(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`${label} under valgrind exited ${code}: ${stderr.slice(-2000)}`)));
  });
  return { child, port, out };
}

const control = (pid, ...flags) => {
  const r = spawnSync("callgrind_control", [...flags, String(pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`callgrind_control ${flags.join(" ")}: ${r.stderr}${r.stdout}`);
};

async function measure(label, nodeArgs, path, body, headers = {}) {
  const out = join(dir, `cg-${label.replace(/\W+/g, "-")}-${Math.random().toString(36).slice(2, 8)}`);
  const server = await underCallgrind(label, nodeArgs, out);
  runLoad(server.port, path, concurrency, warmup, body, headers); // warm-up (uninstrumented)
  control(server.child.pid, "-i", "on");
  const run = runLoad(server.port, path, concurrency, requests, body, headers);
  control(server.child.pid, "-d");
  control(server.child.pid, "-i", "off");
  server.child.kill("SIGTERM");
  await new Promise((r) => server.child.on("exit", r));
  if (run.errors !== 0) throw new Error(`${label}: ${run.errors} answers were not 200: ${JSON.stringify(run.statuses)}`);
  // The load generator's warm-up sends 20 requests per connection inside the instrumented window too.
  const counted = requests + concurrency * 20;
  let total = 0;
  let compile = 0;
  let gc = 0;
  for (const file of readdirSync(out)) {
    const text = readFileSync(join(out, file), "utf8");
    const m = /^(?:totals|summary): (\d+)/m.exec(text);
    if (!m || !/\.\d+\.\d+$/.test(file)) continue; // dumps: callgrind.out.PID.N
    total += Number(m[1]);
    const parts = inclusiveCosts(join(out, file));
    compile += parts.compile;
    gc += parts.gc;
  }
  return { label, requests: counted, instructions: total, perRequest: total / counted, compilePerRequest: compile / counted, gcPerRequest: gc / counted };
}

/**
 * Two shares of a count that move from run to run with the same bundle, measured to be set aside: TurboFan's
 * background compilation (still 16-24 % of the window after 4,000 requests of warm-up: when a function
 * gets optimised or re-optimised varies) and garbage collection (the main thread's collections, the
 * concurrent marking and sweeping). Both are V8's own C++ and so have symbols, unlike JIT code.
 */
function inclusiveCosts(file) {
  const r = spawnSync("callgrind_annotate", ["--inclusive=yes", "--threshold=100", file], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  const cost = (pattern) => {
    const line = r.stdout.split("\n").find((l) => pattern.test(l));
    return line === undefined ? 0 : Number(line.trim().split(/\s+/)[0].replace(/,/g, ""));
  };
  return {
    compile: cost(/OptimizingCompileDispatcher::CompileTask::RunInternal\(/),
    gc: cost(/v8::internal::Heap::CollectGarbage\(/) + cost(/ConcurrentMarking::RunMajor\(/) + cost(/Sweeper::SweeperJob::Run\(/),
  };
}

const results = [];
for (let round = 0; round < repeats; round++) {
  if (args.includes("--floor")) results.push(await measure("floor", [...nodeFlags, join(root, "bench", "floor-proxy.mjs"), `http://127.0.0.1:${UPSTREAM_PORT}`], "/v1/refunds", refund));
  for (const bundle of bundles) {
    const audit = join(dir, `audit-${results.length}.jsonl`);
    const identity = [];
    let headers = {};
    if (withAgents) {
      const minted = spawnSync(process.execPath, [bundle, "token", "support-agent"], { encoding: "utf8" }).stdout;
      const agents = join(dir, `agents-${results.length}.yaml`);
      writeFileSync(agents, `agents:\n${minted.split("\n").find((l) => l.includes("token_sha256"))}\n`);
      identity.push("--agents", agents);
      headers = { authorization: `Bearer ${minted.split("\n")[0]}` };
    }
    const sandbox = spawnSync(process.execPath, [bundle, "sandbox-flags", "serve", "--audit", audit, ...identity], { encoding: "utf8" }).stdout.trim().split(" ");
    results.push(await measure(bundle, [...nodeFlags, ...sandbox, bundle, "serve", "--port", "0", "--audit", audit, ...identity], "/v1/execute", execute, headers));
  }
}
for (const r of results) {
  const steady = r.perRequest - r.compilePerRequest;
  console.log(
    `${r.label}: ${(r.perRequest / 1000).toFixed(1)} k instructions per request (${r.instructions} over ${r.requests} requests at concurrency ${concurrency}); ` +
      `without TurboFan's background compilation ${(steady / 1000).toFixed(1)} k, of which GC ${(r.gcPerRequest / 1000).toFixed(1)} k; without both ${((steady - r.gcPerRequest) / 1000).toFixed(1)} k`,
  );
}
upstream.child.kill("SIGTERM");
process.exit(0);
