// `node bench/profile-hot-path.mjs [keyrunner|floor] [--concurrency C] [--requests N] [--cpu-prof] [--gc] [--audit FILE]
//   [--audit-commit-delay MS] [--bundle FILE] [--pinned] [--agents] [--no-permission-model] [-- NODE_FLAGS...]`
// --gc adds V8's --trace-gc-nvp and sums its lines over the measured requests: scavenges and their
// pauses, bytes promoted out of the young generation per request (objects that outlive a request by
// two scavenges: what made KeyRunner's GC cost 6x the floor's, docs/performance.md), full collections.
// --pinned runs the proxy and the upstream on core 1 and the load generator on core 0 (taskset), as the
// pinned benchmark does (bench/pinned-bench.mjs); with --cpu-prof, the busy time is also attributed to
// the stages of a request (parse, validation, decision, request building, undici, redaction, audit, answer, GC).
// One proxy under load at one concurrency, its CPU per request read from /proc; with --cpu-prof, the
// proxy's V8 profile summarised by self time (by function and by package), so a change to the hot
// path can be judged on where the time goes, not on a throughput figure that moves with the machine.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../lib/compiler/build.js";
import { cpuSeconds, runLoad, startServer } from "./bench-processes.mjs";
import { cpuLayout } from "./bench-tools.mjs";

const root = join(import.meta.dirname, "..");
const KEY = "sk_test_bench_0123456789abcdef";
const argv = process.argv.slice(2);
const dashdash = argv.indexOf("--");
const nodeFlags = dashdash === -1 ? [] : argv.slice(dashdash + 1);
const args = dashdash === -1 ? argv : argv.slice(0, dashdash);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const target = args[0] && !args[0].startsWith("--") ? args[0] : "keyrunner";
const concurrency = Number(option("--concurrency", 64));
const requests = Number(option("--requests", 20000));
const profile = args.includes("--cpu-prof");
// --bundle FILE serves a bundle built elsewhere (a variant under study); its tool names upstream port 19999.
const prebuilt = option("--bundle", undefined);
const pinned = args.includes("--pinned") ? cpuLayout() : { pinned: false, server: [], generator: [] };
const onServerCore = { prefix: pinned.server };
const upstream = await startServer([join(root, "bench", "upstream-server.mjs"), prebuilt === undefined ? "0" : "19999"], {}, onServerCore);
const dir = mkdtempSync(join(tmpdir(), "kr-profile-"));
const profileDir = join(dir, "profile");
mkdirSync(profileDir);
const gcTrace = args.includes("--gc");
const profFlags = [...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), ...(gcTrace ? ["--trace-gc-nvp"] : [])];
let proxy;
const loadHeaders = {};
let path = "/v1/refunds";
let body = JSON.stringify({ payment_intent: "pi_123", amount: 2500 });
if (target === "floor") {
  proxy = await startServer([...nodeFlags, ...profFlags, join(root, "bench", "floor-proxy.mjs"), `http://127.0.0.1:${upstream.port}`], { STRIPE_API_KEY: KEY }, { stderr: "inherit", ...onServerCore });
} else {
  mkdirSync(join(dir, "tools"));
  mkdirSync(join(dir, "policies"));
  writeFileSync(join(dir, "tools", "refund_payment.yaml"), readFileSync(join(root, "tools", "refund_payment.yaml"), "utf8").replace("https://api.stripe.com", `http://127.0.0.1:${upstream.port}`));
  writeFileSync(join(dir, "policies", "support_refunds.yaml"), readFileSync(join(root, "policies", "support_refunds.yaml"), "utf8"));
  if (prebuilt === undefined) await buildConfig({ dir }, join(dir, "dist"));
  const bundle = prebuilt ?? join(dir, "dist", "keyrunner.mjs");
  const audit = option("--audit", join(dir, "audit.jsonl"));
  // A profile is written by the process itself at exit: the permission model would refuse it.
  // --no-permission-model alone serves without it too (give `-- --single-threaded-gc
  // --disallow-code-generation-from-strings` for the sandbox's other flags): the A/B of its cost.
  const sandbox = profile || args.includes("--no-permission-model") ? ["--no-permission-model"] : [];
  const delay = option("--audit-commit-delay", undefined);
  const serveFlags = delay === undefined ? [] : ["--audit-commit-delay", delay];
  // --agents: an agents file with one agent, whose bearer token each request carries (as bench:pinned serves it).
  if (args.includes("--agents")) {
    const minted = spawnSync(process.execPath, [bundle, "token", "support-agent"], { encoding: "utf8" }).stdout;
    writeFileSync(join(dir, "agents.yaml"), `agents:\n${minted.split("\n").find((l) => l.includes("token_sha256"))}\n`);
    serveFlags.push("--agents", join(dir, "agents.yaml"));
    loadHeaders.authorization = `Bearer ${minted.split("\n")[0]}`;
  }
  proxy = await startServer([...nodeFlags, ...profFlags, bundle, "serve", "--port", "0", "--audit", audit, ...sandbox, ...serveFlags], { STRIPE_API_KEY: KEY }, { stderr: "inherit", ...onServerCore });
  path = "/v1/execute";
  body = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_123", amount_cents: 2500 }, reason: "customer asked" });
}

const load = (n) => runLoad(proxy.port, path, concurrency, n, body, loadHeaders, pinned.generator);
/** The process that serves: the sandboxed child of a launcher, or the process itself. */
const serverPid = (pid) => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number)[0] ?? pid;
/** CPU seconds of each thread of the proxy's server process, by thread name (main, libuv workers, V8 helpers). */
function threadSeconds(pid) {
  const server = serverPid(pid);
  const out = new Map();
  for (const tid of readdirSync(`/proc/${server}/task`)) {
    const stat = readFileSync(`/proc/${server}/task/${tid}/stat`, "utf8");
    const name = Number(tid) === server ? "main" : `${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}#${Number(tid) - server}`;
    const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    const prev = out.get(name) ?? { user: 0, system: 0 };
    out.set(name, { user: prev.user + Number(f[11]) / 100, system: prev.system + Number(f[12]) / 100 });
  }
  return out;
}
/** Write-type system calls (write, writev, pwrite: sockets and files) the server process has made, all threads. */
function writeCalls(pid) {
  return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${serverPid(pid)}/io`, "utf8"))?.[1] ?? NaN);
}
load(2000); // warm the JIT before measuring
const writesBefore = writeCalls(proxy.child.pid);
const threadsBefore = threadSeconds(proxy.child.pid);
const before = cpuSeconds(proxy.child.pid);
const gcFrom = proxy.output().length;
const run = load(requests);
const after = cpuSeconds(proxy.child.pid);
const threadsAfter = threadSeconds(proxy.child.pid);
const writesAfter = writeCalls(proxy.child.pid);
const counted = requests + concurrency * 20;
// The trace is written by the server's main thread: give it a moment to reach the pipe.
if (gcTrace) await new Promise((r) => setTimeout(r, 200));
const gcLines = gcTrace ? proxy.output().slice(gcFrom).split("\n").filter((l) => / gc=/.test(l)) : [];
const perRequest = (s) => (s / counted) * 1e6;
console.log(
  `${target} at concurrency ${concurrency}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50.toFixed(2)} ms, ` +
    `CPU ${perRequest(after.user - before.user + after.system - before.system).toFixed(1)} µs/request ` +
    `(${perRequest(after.user - before.user).toFixed(1)} user + ${perRequest(after.system - before.system).toFixed(1)} system), ${((after.faults - before.faults) / counted).toFixed(2)} page faults/request, ` +
    `${((writesAfter - writesBefore) / counted).toFixed(2)} write system calls/request, errors ${run.errors}`,
);

console.log(
  "by thread, µs/request: " +
    [...threadsAfter]
      .map(([name, t]) => [name, t.user - (threadsBefore.get(name)?.user ?? 0), t.system - (threadsBefore.get(name)?.system ?? 0)])
      .filter(([, u, s]) => u + s > 0)
      .map(([name, u, s]) => `${name} ${perRequest(u).toFixed(1)} + ${perRequest(s).toFixed(1)}`)
      .join(", "),
);
if (gcTrace) {
  const field = (line, name) => Number(new RegExp(` ${name}=([0-9.]+)`).exec(line)?.[1] ?? 0);
  const young = gcLines.filter((l) => / gc=s /.test(l));
  const full = gcLines.filter((l) => !/ gc=s /.test(l));
  const sum = (lines, name) => lines.reduce((total, l) => total + field(l, name), 0);
  console.log(
    `GC over the measured requests: ${young.length} scavenges, ${sum(young, "pause").toFixed(1)} ms paused (${((sum(young, "pause") * 1000) / counted).toFixed(1)} µs/request), ` +
      `${(sum(young, "promoted") / counted).toFixed(0)} bytes/request promoted, ${(sum(young, "new_space_survived") / counted).toFixed(0)} bytes/request surviving a scavenge; ` +
      `${full.length} full collections, ${sum(full, "pause").toFixed(1)} ms paused`,
  );
}
if (profile) {
  proxy.child.kill("SIGTERM");
  await new Promise((r) => proxy.child.on("exit", r));
  const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
  const { nodes, samples, timeDeltas } = JSON.parse(readFileSync(join(profileDir, file), "utf8"));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  // The bundle is one file; esbuild marks where each source module starts with a `// path` comment.
  const bundleText = target === "floor" ? "" : readFileSync(prebuilt ?? join(dir, "dist", "keyrunner.mjs"), "utf8").split("\n");
  const starts = [];
  for (let i = 0; i < bundleText.length; i++) {
    const m = /^\/\/ ((?:node_modules|runtime-template|generated|dist)\S*)$/.exec(bundleText[i]);
    if (m) starts.push([i, m[1].replace(/^node_modules\//, "").replace(/\/(lib|dist)\/.*$/, "")]);
  }
  const moduleAt = (line) => {
    let found = "keyrunner.mjs";
    for (const [at, name] of starts) if (at <= line) found = name;
    else break;
    return found;
  };
  const self = new Map();
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  const byFunction = new Map();
  const byPackage = new Map();
  let total = 0;
  for (const [id, micros] of self) {
    const { callFrame: f } = byId.get(id);
    if (f.functionName === "(idle)") continue;
    total += micros;
    const where = f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\//, "");
    const key = `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    const pkg = f.url === "" ? f.functionName : f.url.startsWith("node:") ? f.url : f.url.endsWith("keyrunner.mjs") ? moduleAt(f.lineNumber) : where.split(/[/:]/)[0];
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros);
  }
  // Inclusive time of the runtime's own functions: self time of the node and everything it called.
  const children = new Map(nodes.map((n) => [n.id, n.children ?? []]));
  const inclusive = (id) => (self.get(id) ?? 0) + children.get(id).reduce((sum, c) => sum + inclusive(c), 0);
  const byInclusive = new Map();
  const visit = (id, seen) => {
    const { callFrame: f } = byId.get(id);
    const key = `${f.functionName || "(anonymous)"} ${f.url.endsWith("keyrunner.mjs") ? moduleAt(f.lineNumber) : f.url}`;
    if (f.url.endsWith("keyrunner.mjs") && !seen.has(key)) {
      byInclusive.set(key, (byInclusive.get(key) ?? 0) + inclusive(id));
      seen = new Set(seen).add(key);
    }
    for (const c of children.get(id)) visit(c, seen);
  };
  visit(nodes[0].id, new Set());
  // The stages of a request, by the module (or function) that spends the time.
  const stageOf = (f, pkg) => {
    const fn = f.functionName;
    if (fn === "(garbage collector)") return "GC";
    if (pkg === "runtime-template/http/respond.ts") return fn === "send" ? "answer (serialise, write)" : "parse (read the body, JSON)";
    if (/^generated:generated\/validators|contract\/(validator-runtime|prepare-input|canonical-format|validation-errors|dfa-match)/.test(pkg)) return "validation";
    if (/^generated:|contract\/policy-helpers|core\/(obligations|record-allowance)/.test(pkg)) return "decision (and the generated handler)";
    if (/egress\/request-encoding|core\/(run-tool|unencodable-input)/.test(pkg)) return "request building";
    if (pkg === "undici" || pkg === "wasm" || /egress\/(egress|ip-address)/.test(pkg) || fn === "writeBuffer") return "undici dispatch";
    if (/core\/(redact|upstream-body|output-filter)/.test(pkg)) return "redaction and the upstream body";
    if (/^runtime-template\/audit\//.test(pkg) || fn === "hash" || fn === "digest") return "audit records and their write";
    if (/core\/(outcome|metrics)|routes\/execute|node:_http_outgoing|node:_http_server/.test(pkg) || fn === "writev" || fn === "writevGeneric") return "answer (serialise, write)";
    if (/node:_http_incoming|node:_http_common|node:internal\/streams\/readable/.test(pkg) || fn === "parse") return "parse (read the body, JSON)";
    if (/^runtime-template\//.test(pkg)) return "the rest of the runtime (server, engine, identity)";
    return "Node and V8 (timers, events, promises, other)";
  };
  const byStage = new Map();
  const parentOf = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  // A native call is the stage of the code that made it: the audit's fs.write and a socket's single-buffer
  // write are both the native `writeBuffer` (earlier rounds counted all of it as undici's).
  const callerOf = (id) => {
    for (let up = parentOf.get(id); up !== undefined; up = parentOf.get(up)) {
      const frame = byId.get(up).callFrame;
      if (frame.url === "node:fs" || frame.url.startsWith("node:internal/fs")) return "audit records and their write";
      if (frame.url !== "" && !frame.url.startsWith("node:internal/util") && !frame.url.startsWith("node:internal/stream_base") && frame.url !== "node:net" && !frame.url.startsWith("node:internal/streams")) return frame;
    }
    return undefined;
  };
  for (const [id, micros] of self) {
    let { callFrame: f } = byId.get(id);
    if (f.functionName === "(idle)") continue;
    let forced;
    if (f.url === "" && /^write(Buffer|v|Utf8String|Latin1String|AsciiString)$/.test(f.functionName)) {
      const caller = callerOf(id);
      if (typeof caller === "string") forced = caller;
      else if (caller !== undefined) f = caller;
    }
    const where = f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\//, "");
    const pkg = f.url === "" ? f.functionName : f.url.startsWith("node:") ? f.url : f.url.endsWith("keyrunner.mjs") ? moduleAt(f.lineNumber) : where.split(/[/:]/)[0];
    const stage = forced ?? stageOf(f, pkg);
    byStage.set(stage, (byStage.get(stage) ?? 0) + micros);
  }
  const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
  const cpuPerRequest = perRequest(after.user - before.user + after.system - before.system);
  console.log(`\nby stage (main thread's busy time; µs per request scaled to the measured ${cpuPerRequest.toFixed(0)} µs of CPU, all threads):\n${[...byStage].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} %  ${((cpuPerRequest * v) / total).toFixed(1).padStart(6)} µs  ${k}`).join("\n")}`);
  console.log(`\nbusy main-thread samples: ${(total / 1000).toFixed(0)} ms\n\nby package or module:\n${top(byPackage, 15).join("\n")}\n\nby function:\n${top(byFunction, 40).join("\n")}\n\ninclusive, the bundle's functions:\n${top(byInclusive, 45).join("\n")}`);
  console.log(`\nthe whole profile (for Chrome DevTools or speedscope): ${join(profileDir, file)}`);
}
process.exit(0);
