// `node bench/perf-diff.mjs [--seconds S] [--frequency HZ] [--top N]` — where KeyRunner's CPU above the
// floor proxy's goes, in CPU time (not wall time, as `--cpu-prof` samples it). Each of the two serves under
// `bench/profile-hot-path.mjs --pinned --agents` (wrk-like load on core 0, the proxy and the upstream on
// core 1) with V8's `--perf-basic-prof`, and `perf record -g -C 1` samples the server core meanwhile.
// Each sample of the serving process is charged to its innermost JavaScript frame (that function's own
// time and every native call under it: a socket write's kernel path counts for the code that wrote);
// samples with no JavaScript frame are named by what they are (GC, the event loop's reads). The two
// profiles are scaled to each one's measured CPU per request, and the rows are sorted by the difference.
// Needs `perf` (Debian: linux-perf) and taskset; -g costs ~30 % more CPU per request, so read the shares
// and differences, not the totals.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const seconds = Number(option("--seconds", 6));
const frequency = Number(option("--frequency", 4000));
const top = Number(option("--top", 40));
if (spawnSync("perf", ["--version"]).status !== 0) {
  console.log("perf-diff: `perf` is not on this machine (Debian: apt-get install linux-perf); nothing measured");
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), "kr-perf-diff-"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One target under load with perf recording the server core; returns the perf script text and the CPU per request. */
async function record(target) {
  const data = join(dir, `${target}.data`);
  // Enough requests to outlast the recording at either proxy's rate.
  const load = spawn(process.execPath, [join(root, "bench", "profile-hot-path.mjs"), target, "--pinned", "--agents", "--requests", String(seconds * 20_000), "--", "--perf-basic-prof"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  load.stdout.on("data", (c) => (out += c));
  const done = new Promise((r) => load.on("exit", r));
  // profile-hot-path builds, starts, and warms up for 2,000 requests first.
  await sleep(target === "floor" ? 2500 : 5000);
  spawnSync("perf", ["record", "-e", "cpu-clock", "-F", String(frequency), "-g", "-C", "1", "-o", data, "--", "sleep", String(seconds)], { stdio: "ignore" });
  await done;
  const cpu = Number(/CPU ([0-9.]+) µs\/request/.exec(out)?.[1]);
  const script = spawnSync("perf", ["script", "-i", data, "-F", "pid,ip,sym"], { encoding: "utf8", maxBuffer: 1 << 30 }).stdout;
  console.log(out.split("\n")[0]);
  return { script, cpu };
}

/** µs per request by innermost JavaScript function, for the process with the most samples (the proxy). */
function profile({ script, cpu }) {
  const byPid = new Map();
  for (const block of script.split("\n\n")) {
    const lines = block.trim().split("\n");
    const pid = lines[0]?.trim();
    if (!pid || pid === "0") continue;
    if (!byPid.has(pid)) byPid.set(pid, []);
    byPid.get(pid).push(lines.slice(1).map((f) => f.trim().replace(/^[0-9a-f]+ /, "").replace(/ \(\/tmp\/perf-\d+\.map\)$/, "")));
  }
  const samples = [...byPid.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const rows = new Map();
  for (const frames of samples) {
    const js = frames.find((f) => f.startsWith("JS:"));
    let key;
    if (js !== undefined) {
      const [, name, where] = /^JS:[*~^]?(\S*) ?(.*)$/.exec(js) ?? [];
      const place = where.includes("lazy chunk undici") || where.includes("node_modules/undici") ? "undici" : where.startsWith("node:") ? where.replace(/:\d+:\d+$/, "") : where.includes("keyrunner.mjs") ? "keyrunner.mjs" : where.includes("floor-proxy") ? "floor-proxy.mjs" : where.replace(/:\d+:\d+$/, "");
      key = `${name || "(anonymous)"} ${place}`;
    } else {
      const stack = frames.join(" ");
      key = /Scaveng|MarkCompact|Sweep|IncrementalMarking|MinorGC/.test(stack) ? "(GC, outside JavaScript)" : /uv__io_poll/.test(stack) ? "(event loop: reads, polls, completions)" : `(native) ${frames[0] ?? "?"}`;
    }
    rows.set(key, (rows.get(key) ?? 0) + 1);
  }
  const scale = cpu / Math.max(1, samples.length);
  return new Map([...rows].map(([k, n]) => [k, n * scale]));
}

const keyrunner = profile(await record("keyrunner"));
const floor = profile(await record("floor"));
const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
const keys = new Set([...keyrunner.keys(), ...floor.keys()]);
const rows = [...keys].map((k) => [k, keyrunner.get(k) ?? 0, floor.get(k) ?? 0]).sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
console.log(`\nµs per request (scaled to each one's measured CPU, perf -g included): KeyRunner ${sum(keyrunner).toFixed(0)}, the floor ${sum(floor).toFixed(0)}`);
console.log(" KeyRunner    floor   excess  innermost JavaScript function (or what a sample without one was)");
for (const [k, a, b] of rows.slice(0, top)) console.log(`${a.toFixed(2).padStart(9)} ${b.toFixed(2).padStart(8)} ${(a - b).toFixed(2).padStart(8)}  ${k}`);
const group = (test) => rows.filter(([k]) => test(k)).reduce((t, [, a, b]) => [t[0] + a, t[1] + b], [0, 0]);
console.log("\nby group:");
for (const [name, test] of [
  ["KeyRunner's own functions", (k) => k.endsWith(" keyrunner.mjs")],
  ["undici", (k) => k.endsWith(" undici")],
  ["Node's library (http, streams, events, crypto, fs, timers)", (k) => / node:/.test(k)],
  ["GC outside JavaScript", (k) => k.startsWith("(GC")],
  ["the event loop's reads and completions", (k) => k.startsWith("(event loop")],
]) {
  const [a, b] = group(test);
  console.log(`${a.toFixed(1).padStart(9)} ${b.toFixed(1).padStart(8)} ${(a - b).toFixed(1).padStart(8)}  ${name}`);
}
