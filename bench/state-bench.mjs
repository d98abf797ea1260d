// `npm run bench:state`: what one state change costs the event loop in the local state store, with
// 10,000 pending approvals (1 KB inputs) and with 120 pending approvals of 1 MB inputs (the issue's
// 126 MB case). Each change is timed twice: its synchronous part (what it costs the event loop: the call
// until it returns its promise) and until it resolves (durable on disk, written off the event loop); the
// event loop's longest stall is sampled meanwhile (snapshots included), and
// the former design's cost — serialising and rewriting the whole state on every change — is measured on
// the same data for comparison. Target: a change costs at most a few milliseconds. Writes
// bench/results/state.json and state.md.
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { LocalStateStore } from "../lib/runtime-template/state/local-state-store.js";

const root = join(import.meta.dirname, "..");
const CHANGES = Number(process.env.BENCH_STATE_CHANGES ?? 500);
const DSYNC = constants.O_DSYNC ?? 0;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1000) / 1000;
  return { n: sorted.length, p50_ms: round(quantile(sorted, 0.5)), p99_ms: round(quantile(sorted, 0.99)), max_ms: round(sorted.at(-1)) };
};

function approval(i, inputBytes) {
  const now = Date.now();
  return { id: `apr_${String(i).padStart(32, "0")}`, agent: `agent-${i % 200}`, tool: "refund_payment", rule: "policies/p.yaml#allow[0]", binding: "b".repeat(64), input: { payment_id: `pi_${i}`, note: "n".repeat(inputBytes) }, reason: "asked", status: "pending", createdAt: now, expiresAt: now + 3_600_000 };
}

/** The former design: the whole state serialised and rewritten (temp file, durable write, rename) per change. */
function rewriteWhole(dir, state) {
  const started = performance.now();
  const temp = join(dir, "state.json.tmp");
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | DSYNC, 0o640);
  writeSync(fd, JSON.stringify(state));
  closeSync(fd);
  renameSync(temp, join(dir, "state.json"));
  return performance.now() - started;
}

async function scenario(name, pending, inputBytes) {
  const dir = mkdtempSync(join(tmpdir(), "kr-bench-state-"));
  const store = await LocalStateStore.open(join(dir, "state"), { maxPendingApprovals: 1_000_000 });
  const fillStarted = performance.now();
  for (let i = 0; i < pending; i++) await store.createApproval(approval(i, inputBytes));
  const fillMs = performance.now() - fillStarted;

  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const timings = { create: [], transition: [], reserve: [] };
  const durable = [];
  for (let i = 0; i < CHANGES; i++) {
    const kind = ["create", "transition", "reserve"][i % 3];
    const input = kind === "create" ? approval(pending + i, inputBytes) : undefined;
    const started = performance.now();
    const done =
      kind === "create"
        ? store.createApproval(input)
        : kind === "transition"
          ? store.transitionApproval(approval(i).id, ["pending"], "approved", { decidedBy: "alice", decidedAt: Date.now() })
          : store.reserve([{ key: `rate:r:agent-${i % 200}`, amount: 1, max: 1e9, windowSeconds: 3600 }], Date.now());
    // The event loop's share: the synchronous part, until the call returns its promise.
    timings[kind].push(performance.now() - started);
    await done;
    durable.push(performance.now() - started);
    // Let a snapshot in progress run between changes, as it would between requests.
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  loop.disable();
  await store.close();

  // The former design's cost per change, on the same state.
  const whole = { counters: {}, approvals: Object.fromEntries(Array.from({ length: pending }, (_, i) => [approval(i).id, approval(i, inputBytes)])) };
  const former = [];
  for (let i = 0; i < Math.min(20, CHANGES); i++) former.push(rewriteWhole(dir, whole));
  rmSync(dir, { recursive: true, force: true });

  const all = [...timings.create, ...timings.transition, ...timings.reserve];
  return {
    name,
    pending,
    input_bytes: inputBytes,
    fill_ms: Math.round(fillMs),
    change: summary(all),
    until_durable: summary(durable),
    create: summary(timings.create),
    transition: summary(timings.transition),
    reserve: summary(timings.reserve),
    event_loop_max_stall_ms: Math.round((loop.max / 1e6) * 1000) / 1000,
    former_whole_rewrite: summary(former),
  };
}

const results = [await scenario("10,000 pending approvals, 1 KB inputs", 10_000, 1024), await scenario("120 pending approvals, 1 MB inputs", 120, 1024 * 1024)];
const report = { node: process.version, changes: CHANGES, results };
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "state.json"), `${JSON.stringify(report, null, 2)}\n`);
const rows = results.map(
  (r) =>
    `| ${r.name} | ${r.change.p50_ms} | ${r.change.p99_ms} | ${r.change.max_ms} | ${r.until_durable.p50_ms} | ${r.until_durable.p99_ms} | ${r.event_loop_max_stall_ms} | ${r.former_whole_rewrite.p50_ms} | ${r.former_whole_rewrite.max_ms} |`,
);
const md = `# Local state store: cost of one change (Node ${process.version}, ${CHANGES} changes per scenario)

Create, transition and reserve in turn. "Event loop" columns: milliseconds of the change's synchronous
part (what it costs the event loop). "Durable": from the call until it resolves (the write runs off the
event loop). "Longest stall": the event loop's longest delay over the run, snapshots included. "Former":
the previous design on the same data (the whole state serialised and rewritten on every change, all of
it on the event loop).

| scenario | event loop p50 | event loop p99 | event loop max | durable p50 | durable p99 | longest stall | former p50 | former max |
|---|---|---|---|---|---|---|---|---|
${rows.join("\n")}
`;
writeFileSync(join(root, "bench", "results", "state.md"), md);
process.stdout.write(md);
